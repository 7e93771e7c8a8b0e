"""The demo report's figures: one plain, JSON-ready dict computed from what was sent and what came out."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from typing import Any

from streams.demo.run import AGE_BANDS, Seen, Selection, Sent, answered
from streams.synthetic import Population

LATENCY_BUCKETS_MS = (250, 500, 1000, 2000, 5000, 10000, 30000, 60000)
NACE_SECTIONS = {  # NACE Rev. 2 sections, short titles
    "A": "agriculture",
    "B": "mining",
    "C": "manufacturing",
    "D": "energy",
    "E": "water, waste",
    "F": "construction",
    "G": "trade",
    "H": "transport",
    "I": "horeca",
    "J": "information, communication",
    "K": "finance, insurance",
    "L": "real estate",
    "M": "professional services",
    "N": "administrative services",
    "O": "public administration",
    "P": "education",
    "Q": "health, social work",
    "R": "arts, recreation",
    "S": "other services",
    "T": "households",
    "U": "extraterritorial",
}


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile of sorted ``values`` (0 for none)."""
    if not values:
        return 0.0
    rank = max(1, math.ceil(share * len(values)))
    return values[min(rank, len(values)) - 1]


REFUSALS = (
    ("holds no active file", "no active file in the stated capacity"),
    ("is not authorized for", "capacity not authorized for the data type"),
    ("is not an institution", "requester not in the network"),
    ("has no employment relation", "employer without a relation to the person"),
    ("an employer may consult", "data type not open to employers"),
)
REGIONS = {"02000": "Flemish Region", "03000": "Walloon Region", "04000": "Brussels-Capital Region"}


def refusal_reason(text: str) -> str:
    """A consultation refusal's reason, without the requester, capacity and date it names."""
    for needle, reason in REFUSALS:
        if needle in text:
            return reason
    return text or "unspecified"


def region_name(code: str) -> str:
    return REGIONS.get(code, code)


def population_figures(population: Population) -> dict[str, Any]:
    """The generated population (all of it, streamed or not): pyramid and employment by NACE section."""
    day = population.day
    men: Counter[int] = Counter()
    women: Counter[int] = Counter()
    for citizen in population.citizens:
        band = min(citizen.age_on(day) // 5, len(AGE_BANDS) - 1)
        (women if citizen.female else men)[band] += 1
    pyramid = [
        {"band": f"{low}-{low + 4}" if low < AGE_BANDS[-1] else f"{low}+", "men": men[i], "women": women[i]}
        for i, low in enumerate(AGE_BANDS)
    ]
    by_section: Counter[str] = Counter()
    for job in population.jobs:
        if job.start <= day:
            section = population.employers[job.employer].section
            by_section[f"{section} {NACE_SECTIONS.get(section, '')}".strip()] += 1
    return {
        "citizens": len(population.citizens),
        "employers": len(population.employers),
        "jobs": len(population.jobs),
        "pyramid": pyramid,
        "employment_by_section": dict(by_section.most_common()),
    }


def outcome_figures(population: Population, sent: Sent, seen: list[Seen]) -> dict[str, Any]:
    """Declarations' outcomes, notifications, consultations, audit records, latency and throughput."""
    ours = sent.references
    status: dict[str, str] = {}
    reasons: Counter[str] = Counter()
    ticket_of: dict[str, str] = {}
    ack_at: list[int] = []
    dead = 0
    for s in seen:
        if s.schema == "Acknowledgement" and s.record["sender_reference"] in ours:
            if s.record.get("warnings"):
                continue  # an accepted declaration acknowledged again, with a warning: not a second outcome
            reference = s.record["sender_reference"]
            ticket_of[s.record["ticket"]] = reference
            ack_at.append(s.timestamp_ms)
            if s.record["status"] == "REJECTED" and status.get(reference) != "REJECTED":
                status[reference] = "REJECTED"
                reasons.update({v["code"] for v in s.record["violations"]})
            else:
                status.setdefault(reference, str(s.record["status"]))
        elif s.schema == "DeadLetter" and s.timestamp_ms >= sent.began * 1000:
            dead += 1
    for request_ticket, reference in answered(sent, seen).items():
        ticket_of[request_ticket] = reference
        status.setdefault(reference, "ACCEPTED")  # answered (granted or refused): it passed intake
    accepted = sum(1 for v in status.values() if v == "ACCEPTED")
    rejected = sum(1 for v in status.values() if v == "REJECTED")

    sector_of = {i.enterprise_number: i.sector for i in population.network.institutions.values()}
    by_sector: Counter[str] = Counter()
    latencies: list[float] = []
    notified_at: list[int] = []
    consultations: Counter[str] = Counter()
    refusals: Counter[str] = Counter()
    audit: Counter[str] = Counter()
    # a DmfA line is delivered (and audited) under its own ticket: its notification's payload names the declaration
    origin_of = {s.record["source_ticket"]: s.origin for s in seen if s.schema == "Notification" and s.origin}
    for s in seen:
        source = s.record.get("source_ticket") or s.record.get("request_ticket")
        if source not in ticket_of:
            source = origin_of.get(source, source)
        if source not in ticket_of:
            continue
        if s.schema == "Notification":
            by_sector[sector_of.get(s.record["recipient"], "EMPLOYER")] += 1
            notified_at.append(s.timestamp_ms)
            latencies.append(s.timestamp_ms - ours[ticket_of[source]][1] * 1000)
        elif s.schema == "ConsultationReply":
            consultations[str(s.record["status"])] += 1
            if s.record["status"] == "REFUSED":
                refusals[refusal_reason(str(s.record["reason"] or ""))] += 1
        elif s.schema == "AuditRecord":
            audit[str(s.record["kind"])] += 1
    latencies.sort()
    sent_types = Counter(kind for kind, _ in ours.values())
    return {
        "outcomes": {
            "sent": len(ours),
            "sent_by_type": dict(sent_types.most_common()),
            "accepted": accepted,
            "rejected": rejected,
            "dead_lettered": dead,
            "without_outcome": len(ours) - accepted - rejected - dead,
            "without_outcome_examples": sorted(f"{ours[r][0]} {r}" for r in ours if r not in status)[:5],
            "rejected_by_reason": dict(reasons.most_common()),
            "expected_invalid": sent.expected_invalid,
        },
        "notifications": {"total": sum(by_sector.values()), "by_sector": dict(by_sector.most_common())},
        "consultations": {
            "requests": sent_types.get("ConsultationRequest", 0),
            "granted": consultations.get("GRANTED", 0),
            "refused": consultations.get("REFUSED", 0),
            "not_found": consultations.get("NOT_FOUND", 0),
            "refused_by_reason": dict(refusals.most_common()),
            "expected_refused": sent.expected_refused,
        },
        "audit": {"total": sum(audit.values()), "by_kind": dict(audit.most_common())},
        "latency_ms": {
            "what": "declaration sent -> notification written (its CreateTime)",
            "count": len(latencies),
            "p50": round(percentile(latencies, 0.50)),
            "p90": round(percentile(latencies, 0.90)),
            "p99": round(percentile(latencies, 0.99)),
            "max": round(latencies[-1]) if latencies else 0,
            "histogram": _histogram(latencies),
        },
        "throughput": _throughput(sent, ack_at, notified_at),
    }


def _histogram(latencies: list[float]) -> list[dict[str, Any]]:
    bounds = [0, *LATENCY_BUCKETS_MS, math.inf]
    rows = []
    for low, high in itertools.pairwise(bounds):
        label = f"≥{low / 1000:g}s" if high == math.inf else f"<{high / 1000:g}s"
        rows.append({"bucket": label, "count": sum(1 for v in latencies if low <= v < high)})
    return rows


def _throughput(sent: Sent, acked_ms: list[int], notified_ms: list[int]) -> dict[str, list[int]]:
    """Per second since the first send: declarations sent, acknowledged, notifications written."""
    origin = sent.began
    sent_at = [t for _, t in sent.references.values()]
    last = max([*(t for t in sent_at), *(t / 1000 for t in acked_ms), *(t / 1000 for t in notified_ms), origin])
    size = int(last - origin) + 1

    def per_second(times: list[float]) -> list[int]:
        counts = [0] * size
        for t in times:
            counts[min(size - 1, max(0, int(t - origin)))] += 1
        return counts

    return {
        "second": list(range(size)),
        "sent": per_second(sent_at),
        "acknowledged": per_second([t / 1000 for t in acked_ms]),
        "notified": per_second([t / 1000 for t in notified_ms]),
    }


def selection_figures(selection: Selection) -> dict[str, Any]:
    return {
        "sampled_citizens": selection.sampled_citizens,
        "population_records": selection.population_records,
        "population_skipped": selection.population_skipped,
        "day_records": selection.day_records,
        "day_skipped": selection.day_skipped,
        "employers": selection.employers,
    }
