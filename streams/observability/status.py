"""The status screen's judgement, pure: what is down, whether the service level holds, what the exit code is.

`crossroads status` (streams/cli/status.py) gathers the facts -- processes, lag, rates, the service level, dead
letters, the audit seals -- and this module decides what of it is a problem.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from streams.observability.metrics import SERVICE_LEVEL_SECONDS

OK, DOWN, SLO_MISSED = 0, 3, 4


@dataclass(frozen=True)
class ProcessState:
    role: str
    running: bool
    pid: int | None
    metrics: str | None  # the endpoint it announced
    last_error: str | None
    detail: str = ""


@dataclass(frozen=True)
class LagState:
    group: str
    lag: int
    partitions: int
    trend_per_s: float | None  # records per second, negative: catching up


@dataclass(frozen=True)
class ServiceLevel:
    within: float
    total: float
    target: float
    window: str  # "last hour" (Prometheus) or "since each process started" (its own counts)

    @property
    def share(self) -> float | None:
        return self.within / self.total if self.total else None

    @property
    def missed(self) -> bool:
        share = self.share
        return share is not None and share < self.target


@dataclass(frozen=True)
class AuditState:
    topic: str
    partition: int
    verified_offset: int | None
    end_offset: int
    verified_at: str | None

    @property
    def unverified(self) -> int:
        start = -1 if self.verified_offset is None else self.verified_offset
        return max(0, self.end_offset - 1 - start)


@dataclass(frozen=True)
class Report:
    stack: list[dict[str, Any]]
    processes: list[ProcessState]
    lags: list[LagState]
    rates: dict[str, float]  # per flow: records consumed per second
    rates_window: str
    service_level: ServiceLevel | None
    dead_letters_last_hour: int | None
    rejections_last_hour: int | None
    audit: list[AuditState]
    prometheus: str | None  # the server asked, if one answered
    notes: list[str] = field(default_factory=list)  # what could not be read

    def problems(self) -> list[str]:
        found = [f"{s['name']} is not running" for s in self.stack if not s["running"]]
        found += [f"{p.role} is down{': ' + p.detail if p.detail else ''}" for p in self.processes if not p.running]
        if self.service_level is not None and self.service_level.missed:
            share = self.service_level.share or 0.0
            found.append(
                f"service level missed: {share:.2%} within {SERVICE_LEVEL_SECONDS:g} s "
                f"({self.service_level.window}), target {self.service_level.target:.2%}"
            )
        return found

    def exit_code(self) -> int:
        if any(not s["running"] for s in self.stack) or any(not p.running for p in self.processes):
            return DOWN
        if self.service_level is not None and self.service_level.missed:
            return SLO_MISSED
        return OK

    def as_json(self) -> dict[str, Any]:
        body = asdict(self)
        sl = self.service_level
        body["service_level"] = None if sl is None else {**asdict(sl), "share": sl.share, "missed": sl.missed}
        body["audit"] = [{**asdict(a), "unverified": a.unverified} for a in self.audit]
        body["problems"] = self.problems()
        body["exit_code"] = self.exit_code()
        return body


@dataclass(frozen=True)
class Scrape:
    """The counters of one process's `/metrics` page that the status screen uses."""

    consumed: dict[str, float]  # per flow
    latency_within: float  # notifications within the service level, every type
    latency_total: float


def parse_scrape(text: str) -> Scrape:
    consumed: dict[str, float] = {}
    within = total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "crossroads_consumed_records_total":
                flow = sample.labels.get("flow", "")
                consumed[flow] = consumed.get(flow, 0.0) + sample.value
            elif sample.name == "crossroads_notification_latency_seconds_bucket":
                if float(sample.labels.get("le", "nan")) == SERVICE_LEVEL_SECONDS:
                    within += sample.value
            elif sample.name == "crossroads_notification_latency_seconds_count":
                total += sample.value
    return Scrape(consumed, within, total)


def rates_between(before: Iterable[Scrape], after: Iterable[Scrape], seconds: float) -> dict[str, float]:
    """Records consumed per second per flow, from two scrapes of the same processes `seconds` apart."""
    first, second = _summed(before), _summed(after)
    return {flow: max(0.0, second[flow] - first.get(flow, 0.0)) / seconds for flow in sorted(second)}


def _summed(scrapes: Iterable[Scrape]) -> dict[str, float]:
    total: dict[str, float] = {}
    for scrape in scrapes:
        for flow, value in scrape.consumed.items():
            total[flow] = total.get(flow, 0.0) + value
    return total


def lag_trend(before: Mapping[str, int], after: Mapping[str, int], seconds: float) -> dict[str, float]:
    return {group: (after[group] - before[group]) / seconds for group in after if group in before}
