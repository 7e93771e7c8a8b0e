"""DmfA (seed 4.5) on the real pipeline: intake -> DmfA step -> facts, directory, mailboxes, warehouse.

Sent like an employer sends: one declaration per quarter, then corrections with the next version. Each test
declares for an employer of its own, so that its (employer, quarter) has no earlier versions.
"""

from __future__ import annotations

import datetime as dt
import itertools
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from connectors.clickhouse.statistics import in_force_lines_sql
from connectors.clickhouse.warehouse import settings_pseudonymizer
from streams.kafka.admin import wait_drained
from streams.settings import Settings
from tests import support
from tests.integration.harness import Platform, Seen, integration, niss, ticket_of
from tests.integration.test_scenarios import TAX, consultation, dimona_in, dimona_out, registered, reply_to
from topologies.app import create_app, source_topics

pytestmark = pytest.mark.integration

DMFA = "be.crossroads.dmfa.DmfaDeclaration"
WAGES = "be.crossroads.consultation.Wages"
QUARTER, QUARTER_END = "2026-Q1", dt.date(2026, 3, 31)
WATCHED = Platform.WATCHED + r"|facts\.dmfa"

_employers = itertools.count(4_000_001)


def new_employer() -> str:
    """A fresh, valid enterprise number: an employer no other test declares for."""
    base = next(_employers) * 7 % 10_000_000
    return f"{base:08d}{97 - base % 97:02d}"


def line(
    worker: str, wage: int, category: str = "WHITE_COLLAR", committee: str = "200", days: int = 60
) -> dict[str, Any]:
    return {
        "worker": worker,
        "worker_category": category,
        "joint_committee": committee,
        "days_worked": days,
        "gross_wage_cents": wage,
        "assimilated_days": [],
    }


def dmfa(employer: str, version: int, *lines: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return support.dmfa(employer, lines, QUARTER, version)


@pytest.fixture(scope="module")
def p(platform: Settings) -> Iterator[Platform]:
    client = Platform(platform, watched=WATCHED)
    yield client
    client.close()


def _drained(p: Platform) -> None:
    """Evidence, not a quiet window: the worker committed the end of every topic it reads (so everything it
    decided is written), and this watcher read every output to its end."""
    settings = p.settings
    wait_drained(settings, settings.app_id, source_topics(create_app(settings)), timeout=300)
    p.wait_caught_up()


def _notice(recipient: str, person: str) -> Callable[[Seen], bool]:
    """Whether a record is a DmfA notification to ``recipient`` about ``person``."""
    return lambda s: (
        s.schema.endswith("Notification")
        and s.record["recipient"] == recipient
        and s.record["person"] == person
        and s.record["data_type"] == DMFA
    )


def _dmfa_notifications(p: Platform, recipient: str, person: str) -> list[Seen]:
    return p.seen(_notice(recipient, person))


def _declared(p: Platform, notification: Seen) -> dict[str, Any]:
    return p.codec.decode(notification.record["payload"]).record


def _wages(p: Platform, reply: dict[str, Any]) -> list[int]:
    lines = [p.codec.decode(payload).record["worker_lines"] for payload in reply["payloads"]]
    return sorted(line["gross_wage_cents"] for declared in lines for line in declared)


def _acks(p: Platform, reference: str) -> list[dict[str, Any]]:
    return [
        s.record
        for s in p.seen(lambda s: s.schema.endswith("Acknowledgement") and s.record["sender_reference"] == reference)
    ]


def _facts_of(p: Platform, employer: str) -> list[dict[str, Any]]:
    return [s.record for s in p.seen(lambda s: ".facts.dmfa." in s.topic and s.record["employer"] == employer)]


def _in_force(settings: Settings, employer: str, ready: Any, timeout: float = 120.0) -> list[tuple[Any, ...]]:
    """The DmfA lines the statistics count for (employer, QUARTER): (worker pseudonym, days worked), once
    ``ready(rows)`` (the projector is asynchronous) or time ran out."""
    from clickhouse_driver import Client

    address = settings.clickhouse
    client = Client(
        host=address.host, port=address.port, user=address.user, password=address.password, database=address.database
    )
    lines = in_force_lines_sql(address.database, "employer = %(e)s AND quarter = %(q)s")
    query = f"SELECT worker, days_worked FROM ({lines}) ORDER BY worker"
    try:
        deadline = time.monotonic() + timeout
        while True:
            rows = [tuple(r) for r in client.execute(query, {"e": employer, "q": QUARTER})]
            if ready(rows) or time.monotonic() > deadline:
                return rows
            time.sleep(0.5)
    finally:
        client.disconnect()


# -- D2: two lines of one worker ------------------------------------------------------------------------------


def test_two_lines_of_one_worker_are_both_kept_and_each_is_notified_and_audited_under_its_own_ticket(
    p: Platform,
) -> None:
    employer, worker = new_employer(), niss()
    registered(p, integration(TAX, "TAX", "TAXPAYER", worker, dt.date(2020, 1, 1)))

    ticket = ticket_of(
        p.ack(p.send(*dmfa(employer, 1, line(worker, 900_000), line(worker, 300_000, "BLUE_COLLAR", "124"))))
    )

    notified = p.wait(_notice(TAX, worker), count=2)
    assert len(notified) == 2
    assert len({n.record["ticket"] for n in notified}) == 2, "each line is notified under its own ticket"
    assert len({n.record["source_ticket"] for n in notified}) == 2
    assert all(_declared(p, n)["envelope"]["ticket"] == ticket for n in notified)  # and says which declaration
    assert sorted(line["gross_wage_cents"] for n in notified for line in _declared(p, n)["worker_lines"]) == [
        300_000,
        900_000,
    ]
    _drained(p)
    deliveries = [
        s.record
        for s in p.seen(lambda s: s.schema.endswith("AuditRecord"))
        if s.record["person"] == worker and s.record["data_type"] == DMFA and s.record["kind"] == "DELIVERY"
    ]
    assert len({d["audit_id"] for d in deliveries}) == 2, "each line's delivery has its own audit record"
    assert {d["ticket"] for d in deliveries} == {n.record["ticket"] for n in notified}
    # both lines are in the worker's file
    reply = reply_to(p, consultation(TAX, "TAXPAYER", worker, WAGES, QUARTER_END))
    assert reply["status"] == "GRANTED"
    assert _wages(p, reply) == [300_000, 900_000]


# -- D3: a correction drops a worker --------------------------------------------------------------------------


def test_a_correction_that_drops_a_worker_withdraws_the_wages_tells_the_holders_and_the_warehouse_agrees(
    p: Platform,
) -> None:
    employer, kept, dropped = new_employer(), niss(), niss()
    registered(
        p,
        integration(TAX, "TAX", "TAXPAYER", kept, dt.date(2020, 1, 1)),
        integration(TAX, "TAX", "TAXPAYER", dropped, dt.date(2020, 1, 1)),
    )
    original = ticket_of(p.ack(p.send(*dmfa(employer, 1, line(kept, 900_000), line(dropped, 500_000)))))
    assert p.wait(_notice(TAX, dropped))

    correction = ticket_of(p.ack(p.send(*dmfa(employer, 2, line(kept, 950_000, days=61)))))

    # the dropped worker's holder is told: the correction, reduced to that worker, has no line for them
    told = p.wait(_notice(TAX, dropped), count=2)
    withdrawal = [_declared(p, n) for n in told if _declared(p, n)["envelope"]["ticket"] == correction]
    assert len(withdrawal) == 1, [_declared(p, n) for n in told]
    assert withdrawal[0]["version"] == 2 and withdrawal[0]["nature"] == "CORRECTION"
    assert withdrawal[0]["worker_lines"] == []
    # ... and its wages are gone from the worker's file; the kept worker has the corrected ones only
    gone = reply_to(p, consultation(TAX, "TAXPAYER", dropped, WAGES, QUARTER_END))
    assert gone["status"] == "NOT_FOUND", gone
    still = reply_to(p, consultation(TAX, "TAXPAYER", kept, WAGES, QUARTER_END))
    assert _wages(p, still) == [950_000]
    _drained(p)
    withdrawn = next(n for n in told if _declared(p, n)["envelope"]["ticket"] == correction)
    audits = [s.record for s in p.seen(lambda s: s.schema.endswith("AuditRecord"))]
    assert any(a["ticket"] == withdrawn.record["ticket"] and a["kind"] == "DELIVERY" for a in audits)
    # the warehouse counts the correction only: not the dropped worker's old wages
    pseudonym = settings_pseudonymizer(p.settings)
    rows = _in_force(p.settings, employer, lambda rows: rows == [(pseudonym(kept), 61)])
    assert rows == [(pseudonym(kept), 61)]
    assert original != correction


# -- the stateful rules ---------------------------------------------------------------------------------------


def test_a_correction_without_an_accepted_original_is_refused_and_is_no_fact(p: Platform) -> None:
    employer, worker = new_employer(), niss()

    reference = p.send(*dmfa(employer, 2, line(worker, 100_000)))

    ack = p.ack(reference)
    assert ack["status"] == "REJECTED"
    assert [v["code"] for v in ack["violations"]] == ["dmfa.correction_without_original"]
    rejection = p.wait(lambda s: s.schema.endswith("Rejection") and s.record["sender_reference"] == reference)
    assert rejection and rejection[0].record["stage"] == "dmfa"
    _drained(p)
    assert _facts_of(p, employer) == []


def test_a_version_that_is_not_the_next_is_refused_and_never_counted(p: Platform) -> None:
    employer, worker, other = new_employer(), niss(), niss()
    ticket_of(p.ack(p.send(*dmfa(employer, 1, line(worker, 100_000)))))

    skipped = p.ack(p.send(*dmfa(employer, 3, line(other, 200_000))))
    again = p.ack(p.send(*dmfa(employer, 1, line(other, 300_000))))  # version 1 again, other content

    assert [v["code"] for v in skipped["violations"]] == ["dmfa.version_not_next"]
    assert [v["code"] for v in again["violations"]] == ["dmfa.version_not_next"]
    _drained(p)
    assert [f["version"] for f in _facts_of(p, employer)] == [1]
    pseudonym = settings_pseudonymizer(p.settings)
    assert [r[0] for r in _in_force(p.settings, employer, bool)] == [pseudonym(worker)]


def test_an_identical_version_sent_again_is_acknowledged_again_with_its_ticket_and_is_no_new_fact(
    p: Platform,
) -> None:
    employer, worker = new_employer(), niss()
    registered(p, integration(TAX, "TAX", "TAXPAYER", worker, dt.date(2020, 1, 1)))
    first = ticket_of(p.ack(p.send(*dmfa(employer, 1, line(worker, 100_000)))))

    resent = p.ack(p.send(*dmfa(employer, 1, line(worker, 100_000))))  # its own reference, the same declaration

    assert resent["status"] == "ACCEPTED" and resent["ticket"] == first
    _drained(p)
    assert [f["envelope"]["ticket"] for f in _facts_of(p, employer)] == [first]
    assert len(_dmfa_notifications(p, TAX, worker)) == 1


def test_a_line_for_a_worker_without_dimona_that_quarter_is_accepted_with_a_warning(p: Platform) -> None:
    employer, hired, undeclared, left = new_employer(), niss(), niss(), niss()
    registered(p, integration(TAX, "TAX", "TAXPAYER", hired, dt.date(2020, 1, 1)))
    ticket_of(p.ack(p.send(*dimona_in(employer, hired, dt.date(2026, 2, 1)))))
    ticket_of(p.ack(p.send(*dimona_in(employer, left, dt.date(2025, 1, 6)))))
    ticket_of(p.ack(p.send(*dimona_out(employer, left, dt.date(2025, 1, 6), dt.date(2025, 12, 31)))))

    reference = p.send(*dmfa(employer, 1, line(hired, 100_000), line(undeclared, 200_000), line(left, 300_000)))

    ticket = ticket_of(p.ack(reference))
    warned = p.wait(
        lambda s: (
            s.schema.endswith("Acknowledgement")
            and s.record["sender_reference"] == reference
            and bool(s.record.get("warnings"))
        ),
        count=2,
    )
    _drained(p)
    acks = _acks(p, reference)
    assert all(a["status"] == "ACCEPTED" and a["ticket"] == ticket and a["violations"] == [] for a in acks)
    warnings = sorted((w["code"], w["field"]) for a in acks for w in a.get("warnings") or ())
    assert warnings == [
        ("dmfa.worker_without_dimona", "worker_lines[1].worker"),
        ("dmfa.worker_without_dimona", "worker_lines[2].worker"),
    ], warned
    assert [f["envelope"]["ticket"] for f in _facts_of(p, employer)] == [ticket]
    assert len(_dmfa_notifications(p, TAX, hired)) == 1
