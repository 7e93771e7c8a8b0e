"""SIGKILL the worker in the middle of 100,000 declarations, restart it: no acknowledgement and no notification is
lost, and every duplicate carries its original's ticket.

The worker runs at-least-once: what makes redelivery harmless is that every ticket is derived — a fact's from
its intake position, a notification's from (fact ticket, recipient), an audit record's from (ticket, actor,
kind). The test decides on evidence, not on a quiet window: it waits until the worker's group has committed
the end offset of every topic the worker consumes, then until this test's own reader has read every output
topic to its end, and only then compares what came out with what went in.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections import Counter, defaultdict
from collections.abc import Iterator

import pytest

from streams.catalog import platform_topics
from streams.domain.audit import AuditKind, audit_id
from streams.domain.fanout import notification_ticket
from streams.kafka.admin import TopicAdmin, wait_drained, wait_for_group
from streams.network_files import load_network
from streams.settings import Settings
from streams.stack.workers import PlatformWorkers
from tests.integration.harness import Platform, drop_topics, own_run, sigkill_worker
from tests.support import address_change, integration, niss
from topologies.app import create_app, source_topics

pytestmark = pytest.mark.integration

DECLARATIONS = int(os.environ.get("CROSSROADS_CRASH_DECLARATIONS", "100000"))
PEOPLE = 2_000
MUTUALITY = "0206731645"


@pytest.fixture
def crash_settings(topics: Settings) -> Iterator[Settings]:
    settings = own_run(topics, "crash", web_port=topics.web_port + 1)
    TopicAdmin(settings).apply(platform_topics(load_network(settings.network_dir).institutions))
    yield settings
    if not os.environ.get("CROSSROADS_KEEP_TEST_DATA"):
        drop_topics(settings)  # under their own prefix: the session's cleanup would not see them


@pytest.mark.timeout(1800)
def test_sigkill_mid_run_loses_no_notification(crash_settings: Settings) -> None:
    settings = crash_settings
    sources = source_topics(create_app(settings))
    workers = PlatformWorkers(settings, commands=("worker",))
    workers.start()
    p = Platform(settings, watched=r"mailbox\..*|audit\.exchanges")
    try:
        wait_for_group(settings, settings.app_id, timeout=120, check=workers.check)
        people = [niss() for _ in range(PEOPLE)]
        p.send_many([integration(MUTUALITY, "MUTUALITY", "TITULAR", person, dt.date(2020, 1, 1)) for person in people])
        assert p.wait_count("Acknowledgement", PEOPLE, timeout=300) == PEOPLE
        assert all(a.record["status"] == "ACCEPTED" for a in p.seen(lambda s: s.schema.endswith("Acknowledgement")))

        declarations = [
            address_change(people[i % PEOPLE], dt.date(2025, 1, 1) + dt.timedelta(days=i // PEOPLE))
            for i in range(DECLARATIONS)
        ]
        references = {record["envelope"]["sender_reference"] for _, record in declarations}
        p.send_many(declarations)

        # kill it hard once about a third of the notifications are out
        p.wait_count("Notification", DECLARATIONS // 3, timeout=600)
        sigkill_worker(workers)
        killed_at = p.counts["Notification"]
        time.sleep(1)
        workers.start()

        wait_drained(settings, settings.app_id, sources, timeout=900, check=workers.check)
        p.wait_caught_up(timeout=120)
        workers.check()
        notes = p.seen(lambda s: s.schema.endswith("Notification"))
        audits = p.seen(lambda s: s.schema.endswith("AuditRecord"))
        fact_acks = p.seen(
            lambda s: s.schema.endswith("Acknowledgement") and s.record["sender_reference"] in references
        )
    finally:
        workers.stop()
        p.close()

    assert 0 < killed_at < DECLARATIONS, "the kill did not happen mid-run"
    tickets_by_reference: dict[str, set[str]] = defaultdict(set)
    for ack in fact_acks:
        tickets_by_reference[ack.record["sender_reference"]].add(ack.record["ticket"])
    unacknowledged = references - set(tickets_by_reference)
    assert not unacknowledged, f"{len(unacknowledged)} declarations were never acknowledged"
    assert all(len(t) == 1 for t in tickets_by_reference.values()), "a redelivered declaration got a new ticket"
    source_tickets = {next(iter(t)) for t in tickets_by_reference.values()}

    per_source = Counter(n.record["source_ticket"] for n in notes)
    lost = source_tickets - set(per_source)
    assert not lost, f"{len(lost)} declarations never reached the mutuality's mailbox"
    assert set(per_source) == source_tickets, "a notification for a declaration that was never sent"
    assert all(n.record["recipient"] == MUTUALITY for n in notes)
    assert all(n.record["ticket"] == notification_ticket(n.record["source_ticket"], MUTUALITY) for n in notes)

    # every delivery has its audit record, under the id derived from the notification's ticket
    audited = {a.record["audit_id"] for a in audits if a.record["kind"] == AuditKind.DELIVERY}
    expected = {
        audit_id(str(notification_ticket(ticket, MUTUALITY)), MUTUALITY, AuditKind.DELIVERY)
        for ticket in source_tickets
    }
    unaudited = expected - audited
    assert not unaudited, f"{len(unaudited)} deliveries have no audit record"
    duplicates = sum(count - 1 for count in per_source.values())
    print(
        f"\nSIGKILL after {killed_at} notifications; {DECLARATIONS} declarations, {len(notes)} notifications, "
        f"{duplicates} duplicates (all with their original's ticket)"
    )
