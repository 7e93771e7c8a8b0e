"""Property: over 1,000 random histories of integrations and facts, the platform's notifications equal those of
a naive oracle computed from the same declarations — and no institution without an authorized active file
receives anything.

Hypothesis generates the histories (one fresh person each); they all run through the real worker at once, in
two phases — integrations, then facts — so that the outcome does not depend on how the broker interleaves
topics. The oracle below re-states the rules independently and naively (linear scans), on purpose.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.network_files import load_network
from streams.settings import Settings
from tests.integration.harness import Platform
from tests.support import address_change, death, dimona_in, integration, niss

pytestmark = pytest.mark.integration

HISTORIES = 1000

# (institution, sector, capacities) from the sample network: two institutions per sector where the
# anti-fraud rule can bite, and capacities both authorized and not for the civil facts.
HOLDERS = [
    ("0206731645", "MUTUALITY", ("TITULAR", "DEPENDANT", "INCAPACITY")),
    ("0915943977", "MUTUALITY", ("TITULAR", "DEPENDANT")),
    ("0924751082", "UNEMPLOYMENT", ("BENEFICIARY", "TEMPORARY", "CAREER_BREAK")),
    ("0246779579", "UNEMPLOYMENT", ("BENEFICIARY", "CAREER_BREAK")),
    ("0432837160", "CPAS", ("INTEGRATION_INCOME", "HEATING_ALLOWANCE")),
    ("0676660320", "TAX", ("TAXPAYER",)),
]
EMPLOYER = "0403170701"


def month(year: int, m: int) -> dt.date:
    return dt.date(year, m, 1)


@dataclass(frozen=True)
class Step:
    kind: str  # REGISTER | UNREGISTER
    institution: str
    sector: str
    capacity: str
    start: dt.date
    end: dt.date | None


@dataclass(frozen=True)
class Fact:
    kind: str  # address | death | dimona
    day: dt.date


dates = st.builds(month, st.integers(2018, 2026), st.integers(1, 12))


@st.composite
def steps(draw: st.DrawFn) -> Step:
    institution, sector, capacities = draw(st.sampled_from(HOLDERS))
    capacity = draw(st.sampled_from(capacities))
    start = draw(dates)
    end = draw(st.none() | dates.filter(lambda d: d >= start))
    kind = draw(st.sampled_from(["REGISTER", "REGISTER", "REGISTER", "UNREGISTER"]))
    return Step(kind, institution, sector, capacity, start, end)


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[Step], list[Fact]]:
    integrations = draw(st.lists(steps(), min_size=1, max_size=6))
    # an unregistration usually targets an earlier registration, so closing files is exercised too
    integrations = [
        Step("UNREGISTER", prior.institution, prior.sector, prior.capacity, prior.start, s.end or prior.start)
        if s.kind == "UNREGISTER"
        and (prior := next((p for p in integrations if p.kind == "REGISTER"), None))
        and draw(st.booleans())
        else s
        for s in integrations
    ]
    fact = st.builds(
        Fact, st.sampled_from(["address", "address", "dimona", "death"]), dates.map(lambda d: d + dt.timedelta(days=14))
    )
    # one DIMONA IN per employer and start date (each a one-day job, so none overlaps another): a second one, or
    # an overlapping one, is the directory's refusal, not a fan-out case
    facts = draw(st.lists(fact, min_size=1, max_size=3, unique_by=lambda f: (f.kind, f.day)))
    return integrations, facts


# -- the oracle ------------------------------------------------------------------------------------------------


def oracle_directory(history: list[Step]) -> list[tuple[str, str, str, dt.date, dt.date | None]]:
    """Replay the integrations with the rules as the seed states them, naively."""
    entries: list[tuple[str, str, str, dt.date, dt.date | None]] = []
    for s in history:
        if s.kind == "UNREGISTER":
            match = [e for e in entries if (e[0], e[2], e[3]) == (s.institution, s.capacity, s.start)]
            if s.end is None or not match or s.end < match[0][3]:
                continue
            e = match[0]
            entries[entries.index(e)] = (e[0], e[1], e[2], e[3], s.end if e[4] is None else min(e[4], s.end))
            continue
        clash = False
        replaced = None
        for e in entries:
            if (e[0], e[2], e[3]) == (s.institution, s.capacity, s.start):
                replaced = e
                continue
            overlapping = (s.end is None or e[3] <= s.end) and (e[4] is None or s.start <= e[4])
            if e[1] == s.sector and e[2] == s.capacity and overlapping:
                clash = True
        if clash:
            continue
        if replaced is not None:
            entries.remove(replaced)
        entries.append((s.institution, s.sector, s.capacity, s.start, s.end))
    return entries


def oracle_recipients(
    entries: list[Any], authorizations: list[Any], data_type: str, day: dt.date
) -> tuple[set[str], set[str]]:
    active = [e for e in entries if e[3] <= day and (e[4] is None or day <= e[4])]
    receive, refused = set(), set()
    for institution in {e[0] for e in active}:
        allowed = any(
            a.sector == e[1]
            and a.capacity == e[2]
            and data_type in a.data_types
            and a.valid_from <= day
            and (a.valid_to is None or day <= a.valid_to)
            for e in active
            if e[0] == institution
            for a in authorizations
        )
        (receive if allowed else refused).add(institution)
    return receive, refused


# -- the property ------------------------------------------------------------------------------------------------


def generated() -> list[tuple[list[Step], list[Fact]]]:
    found: list[tuple[list[Step], list[Fact]]] = []

    @settings(
        max_examples=HISTORIES, derandomize=True, database=None, suppress_health_check=list(HealthCheck), deadline=None
    )
    @given(histories())
    def collect(history: tuple[list[Step], list[Fact]]) -> None:
        found.append(history)

    collect()
    return found


def declarations(person: str, facts: list[Fact]) -> Iterator[tuple[str, dict[str, Any], Fact]]:
    for fact in facts:
        if fact.kind == "address":
            yield (*address_change(person, fact.day), fact)
        elif fact.kind == "death":
            yield (*death(person, fact.day), fact)
        else:
            # a one-day job: two INs of one employer must not overlap (dimona.relation_overlap)
            yield (*dimona_in(EMPLOYER, person, fact.day, fact.day), fact)


def test_notifications_equal_the_oracle_over_a_thousand_histories(platform: Settings) -> None:
    p = Platform(platform)
    try:
        run(p, generated())
    finally:
        p.close()


def run(p: Platform, cases: list[tuple[list[Step], list[Fact]]]) -> None:
    assert len(cases) >= HISTORIES
    authorizations = list(load_network(p.settings.network_dir).authorizations)
    people = [niss() for _ in cases]

    # phase 1: every integration, then wait for every acknowledgement
    first = [
        (person, integration(s.institution, s.sector, s.capacity, person, s.start, s.end, action=s.kind))
        for person, (steps_, _) in zip(people, cases, strict=True)
        for s in steps_
    ]
    p.send_many([decl for _, decl in first])
    references = {decl[1]["envelope"]["sender_reference"] for _, decl in first}
    acks = p.wait(
        lambda s: s.schema.endswith("Acknowledgement") and s.record["sender_reference"] in references,
        count=len(references),
        timeout=300,
    )
    assert len(acks) == len(references)

    # phase 2: the facts; expected recipients from the oracle
    expected: dict[str, tuple[set[str], set[str]]] = {}
    sent: list[tuple[str, dict[str, Any]]] = []
    for person, (steps_, facts) in zip(people, cases, strict=True):
        entries = oracle_directory(steps_)
        for schema, record, fact in declarations(person, facts):
            expected[record["envelope"]["sender_reference"]] = oracle_recipients(
                entries, authorizations, schema, fact.day
            )
            sent.append((schema, record))
    p.send_many(sent)
    fact_acks = p.wait(
        lambda s: s.schema.endswith("Acknowledgement") and s.record["sender_reference"] in expected,
        count=len(expected),
        timeout=300,
    )
    assert len(fact_acks) == len(expected)
    ticket_of = {a.record["sender_reference"]: a.record["ticket"] for a in fact_acks}
    assert all(a.record["status"] == "ACCEPTED" for a in fact_acks), [
        a.record for a in fact_acks if a.record["status"] != "ACCEPTED"
    ][:3]
    tickets = set(ticket_of.values())
    audits_expected = sum(len(r) + len(f) for r, f in expected.values())
    p.wait(
        lambda s: s.schema.endswith("AuditRecord") and s.record["source_ticket"] in tickets,
        count=audits_expected,
        timeout=300,
    )
    p.settle(quiet=3.0)

    delivered: dict[str, Counter[str]] = {}
    for s in p.seen(lambda s: s.schema.endswith("Notification") and s.record["source_ticket"] in tickets):
        delivered.setdefault(s.record["source_ticket"], Counter())[s.record["recipient"]] += 1
    refused: dict[str, set[str]] = {}
    for s in p.seen(
        lambda s: (
            s.schema.endswith("AuditRecord") and s.record["kind"] == "REFUSAL" and s.record["source_ticket"] in tickets
        )
    ):
        refused.setdefault(s.record["source_ticket"], set()).add(s.record["actor"])

    mismatches = []
    for reference, (receive, refuse) in expected.items():
        ticket = ticket_of[reference]
        got = delivered.get(ticket, Counter())
        if set(got) != receive or refused.get(ticket, set()) != refuse or any(n != 1 for n in got.values()):
            mismatches.append(
                (reference, sorted(receive), dict(got), sorted(refuse), sorted(refused.get(ticket, set())))
            )
    assert not mismatches, f"{len(mismatches)} of {len(expected)} facts differ from the oracle, e.g. {mismatches[:3]}"
    assert sum(len(r) for r, _ in expected.values()) > HISTORIES / 2, "the histories exercised too few deliveries"
    assert sum(len(f) for _, f in expected.values()) > 50, "the histories exercised too few refusals"
