"""SIGKILL the worker in the middle of a stream of DmfA originals and their corrections, restart it: the DmfA step
recognises what it had decided before the kill, so a replay makes no second fact and a correction replayed is not
refused for want of its original; every line is delivered under its derived ticket, none is lost.

Decided on evidence like tests/integration/test_crash_recovery.py: the worker's group committed the end of every
topic it reads, this test's reader read every output to its end, then what came out is compared with what went
in.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections import defaultdict
from collections.abc import Iterator

import pytest

from streams.catalog import platform_topics
from streams.domain.fanout import notification_ticket
from streams.domain.kinds import dmfa_line_ticket
from streams.kafka.admin import TopicAdmin, wait_drained, wait_for_group
from streams.network_files import load_network
from streams.settings import Settings
from streams.stack.workers import PlatformWorkers
from tests.integration.harness import Platform, drop_topics, integration, niss, own_run, sigkill_worker
from tests.integration.test_dmfa import WATCHED, dmfa, line, new_employer
from tests.integration.test_scenarios import TAX
from topologies.app import create_app, source_topics

pytestmark = pytest.mark.integration

EMPLOYERS = int(os.environ.get("CROSSROADS_DMFA_CRASH_EMPLOYERS", "1500"))


@pytest.fixture
def crash_settings(topics: Settings) -> Iterator[Settings]:
    settings = own_run(topics, "dmfacrash", web_port=topics.web_port + 2)
    TopicAdmin(settings).apply(platform_topics(load_network(settings.network_dir).institutions))
    yield settings
    if not os.environ.get("CROSSROADS_KEEP_TEST_DATA"):
        drop_topics(settings)


@pytest.mark.timeout(1800)
def test_sigkill_mid_dmfa_run_loses_nothing_and_decides_nothing_twice(crash_settings: Settings) -> None:
    settings = crash_settings
    sources = source_topics(create_app(settings))
    workers = PlatformWorkers(settings, commands=("worker",))
    workers.start()
    p = Platform(settings, watched=WATCHED)
    try:
        wait_for_group(settings, settings.app_id, timeout=120, check=workers.check)
        employers, people = [new_employer() for _ in range(EMPLOYERS)], [niss() for _ in range(EMPLOYERS)]
        p.send_many([integration(TAX, "TAX", "TAXPAYER", person, dt.date(2020, 1, 1)) for person in people])
        assert p.wait_count("Acknowledgement", EMPLOYERS, timeout=300) == EMPLOYERS
        declarations = []
        for employer, person in zip(employers, people, strict=True):
            declarations.append(dmfa(employer, 1, line(person, 100_000), line(person, 5_000, "BLUE_COLLAR", "124")))
            declarations.append(dmfa(employer, 2, line(person, 110_000)))  # drops the second line
        references = {record["envelope"]["sender_reference"] for _, record in declarations}
        p.send_many(declarations)

        # kill it hard once about a third of the lines are delivered (3 per employer)
        p.wait_count("Notification", EMPLOYERS, timeout=600)
        sigkill_worker(workers)
        killed_at = p.counts["Notification"]
        time.sleep(1)
        workers.start()

        wait_drained(settings, settings.app_id, sources, timeout=900, check=workers.check)
        p.wait_caught_up(timeout=120)
        workers.check()
        acks = p.seen(lambda s: s.schema.endswith("Acknowledgement") and s.record["sender_reference"] in references)
        facts = p.seen(lambda s: ".facts.dmfa." in s.topic)
        rejections = p.seen(lambda s: s.schema.endswith("Rejection") and s.record["sender_reference"] in references)
        notes = p.seen(lambda s: s.schema.endswith("Notification") and s.record["recipient"] == TAX)
    finally:
        workers.stop()
        p.close()

    assert 0 < killed_at < 3 * EMPLOYERS, "the kill did not happen mid-run"
    assert rejections == [], [r.record["violations"] for r in rejections[:3]]
    receipts: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for ack in acks:
        if not ack.record.get("warnings"):
            receipts[ack.record["sender_reference"]].add((ack.record["status"], ack.record["ticket"]))
    assert set(receipts) == references, f"{len(references - set(receipts))} declarations were never acknowledged"
    assert all(r == {("ACCEPTED", next(iter(r))[1])} for r in receipts.values()), "a second outcome or ticket"
    # one fact per (employer, version), under the ticket its acknowledgement gave
    versions: dict[tuple[str, int], set[str]] = defaultdict(set)
    for fact in facts:
        versions[(fact.record["employer"], fact.record["version"])].add(fact.record["envelope"]["ticket"])
    assert set(versions) == {(e, v) for e in employers for v in (1, 2)}
    assert all(len(tickets) == 1 for tickets in versions.values()), "a replay made a second fact"
    # every line delivered to the worker's holder under its derived ticket, and nothing else
    expected = {
        dmfa_line_ticket(next(iter(versions[(f.record["employer"], f.record["version"])])), ln)
        for f in facts
        for ln in f.record["worker_lines"]
    }
    ours = set(people)
    delivered = {n.record["source_ticket"] for n in notes if n.record["person"] in ours}
    assert delivered == expected, f"{len(expected - delivered)} lines lost, {len(delivered - expected)} unexpected"
    assert all(n.record["ticket"] == notification_ticket(n.record["source_ticket"], TAX) for n in notes)
    print(f"\nSIGKILL after {killed_at} notifications; {len(references)} DmfA, {len(notes)} notifications")
