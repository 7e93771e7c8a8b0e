"""The audit trail in memory, on the production path: the directory flow (topologies/directory.py) with faust's
test context, the shared fake audit topic behind its two ports (tests/component/fakes.py) and a recording
publisher.

The directory chains two kinds of entries into the same per-partition chains: the unchained AuditRecords that
other components publish to the pending topic, and the entries of the exchanges it decides itself. Most tests
feed pending entries (the chaining rules do not depend on where an entry comes from); the last ones feed
decisions, and show that a batch's mailbox messages wait for its audit records.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from faust.types import TP

from streams.catalog import Area, by_key
from streams.codecs import AvroCodec, SchemaRegistry
from streams.domain.admission import lookup_record
from streams.domain.audit import AUDIT_SCHEMA, GENESIS, delivery_entry, refusal_entry, verify_chain
from streams.domain.kinds import lookups as route
from streams.domain.network import Network
from streams.domain.outcomes import LOOKUP
from streams.network_files import load_network
from streams.settings import Settings
from tests.component.fakes import COMPONENT_TRANSPORT, FakeAuditTopic, Log, LoggingPublisher
from tests.support import address_change, integration
from topologies import audit_trail, directory
from topologies.app import create_app, source_topics
from topologies.audit_trail import AuditTrail, ChainHeads
from topologies.deps import Deps
from topologies.publisher import RecordingPublisher

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
ANNA, BRAM = "93051822361", "85073003328"
EXISTING_HEAD = "ab" * 32
MUTUALITY = "0206731645"


@cache
def _network() -> Network:
    return load_network(Settings().network_dir)


@dataclass
class Harness:
    app: Any
    fake: FakeAuditTopic
    letters: RecordingPublisher
    codec: AvroCodec
    settings: Settings


def _harness(
    tmp_path: Path,
    fake: FakeAuditTopic | None = None,
    letters: RecordingPublisher | None = None,
    **settings: Any,
) -> Harness:
    """A directory-only app whose audit trail writes to ``fake``; ``settings`` override the batching.

    The tests count releases by batch size: the test harness hands the agent one event at a time, so with
    `batch_release_when_caught_up` each would be a batch of its own."""
    settings.setdefault("batch_release_when_caught_up", False)
    config = Settings(
        app_id=f"component-{uuid.uuid4().hex[:6]}",
        store="memory://",
        state_dir=tmp_path,
        **settings,
        kafka_security=COMPONENT_TRANSPORT,
    )
    codec = AvroCodec(SchemaRegistry.from_directory(config.schema_dir))
    letters = letters if letters is not None else RecordingPublisher()
    if fake is None:
        fake = FakeAuditTopic({1: EXISTING_HEAD})
    fake.codec = codec
    deps = Deps(
        config,
        codec,
        clock=lambda: NOW,
        publisher=letters,
        loaded_network=_network(),
        audit_publisher=fake,
        audit_heads=fake,
    )
    app = create_app(config, flows=[directory], deps=deps)
    app.conf.tabledir = tmp_path / f"tables-{config.app_id}"
    app.finalize()
    app.flow_control.resume()
    return Harness(app, fake, letters, codec, config)


@pytest.fixture
def harness(tmp_path: Path) -> Harness:
    return _harness(tmp_path)


@pytest.fixture
def batches_of_6(tmp_path: Path) -> Harness:
    """A batch is released only when 6 events are in: the tests decide what one batch holds."""
    return _harness(tmp_path, batch_max_events=6, batch_within_ms=10_000)


def _entry(n: int, person: str = ANNA) -> dict[str, Any]:
    return delivery_entry(
        ticket=f"ticket-{n}",
        actor="0212344876",
        person=person,
        data_type="be.crossroads.dimona.DimonaIn",
        legal_basis="CSSS/11/042",
        at=NOW + timedelta(seconds=n),
    )


Step = Callable[[Any], Coroutine[Any, Any, None]]


def _run(app: Any, *steps: Step, until: Callable[[], bool] = lambda: True) -> None:
    """Feed the steps, then keep the agent running until ``until()`` holds: ``put`` returns before the
    directory releases the batch (the head read runs in a thread, a batch waits for its timer)."""
    agent = app.agents["directory"]

    async def go() -> None:
        async with agent.test_context() as running:
            for step in steps:
                await step(running)
            async with asyncio.timeout(5):
                while not until():
                    await asyncio.sleep(0.005)

    asyncio.run(go())


PENDING = by_key(Area.AUDIT, "pending").topic(Settings().topic_prefix)  # the harness's prefix


def on_pending(message: Any) -> Any:
    """The message as read from the pending topic (faust's test context names no topic of a multi-topic agent)."""
    message.topic, message.tp = PENDING, TP(PENDING, message.partition)
    return message


def put(codec: AvroCodec, entry: dict[str, Any], partition: int) -> Step:
    """An unchained entry as another component publishes it to the pending topic."""

    async def step(running: Any) -> None:
        value, key = codec.encode(AUDIT_SCHEMA, entry), entry["person"].encode()
        channel = running.stream().channel
        await channel.put(await channel.decode(on_pending(running.to_message(key, value, partition=partition))))
        async with running.new_value_processed:
            await running.new_value_processed.wait()

    return step


def tracked(messages: list[Any], key: bytes, value: bytes, partition: int = 0, *, pending: bool = False) -> Step:
    """Put a message the way the conductor hands it to the one stream reading its topic: with one reference
    on it, which the stream drops when it moves past the event. (A bare ``put`` holds none, so the message
    would look acked as soon as the stream moved on, whatever the flow does.)"""

    async def step(running: Any) -> None:
        message = running.to_message(key, value, partition=partition)
        if pending:
            on_pending(message)
        message.incref()
        messages.append(message)
        channel = running.stream().channel
        await channel.put(await channel.decode(message))

    return step


def crashed(running: Any) -> BaseException:
    return running._crash_reason  # type: ignore[no-any-return]


async def until_crashed(running: Any) -> None:
    async with asyncio.timeout(5):
        while crashed(running) is None:
            await asyncio.sleep(0.005)


# -- the chains ------------------------------------------------------------------------------------------------


def test_the_directory_consumes_the_pending_topic(harness: Harness) -> None:
    assert f"{harness.settings.topic_prefix}.audit.pending.v1" in source_topics(harness.app)


def test_entries_are_chained_per_partition_into_the_same_partition_number(harness: Harness) -> None:
    app, fake, letters, codec, settings = harness.app, harness.fake, harness.letters, harness.codec, harness.settings
    audit_topic = f"{settings.topic_prefix}.audit.exchanges.v1"

    _run(
        app,
        put(codec, _entry(1), 0),
        put(codec, _entry(2, BRAM), 1),
        put(codec, _entry(3), 0),
        put(codec, _entry(4, BRAM), 1),
        put(codec, _entry(5), 0),
        until=lambda: fake.record_count() == 5,
    )

    assert {t for t, _, _, _ in fake.written} == {audit_topic}
    # AuditBatch messages, one per partition and release, to the partition of their entries' events
    assert {p for _, p, _, _ in fake.written} == {0, 1} and len(fake.written) <= 5
    assert {k for _, _, k, _ in fake.written} == {None}
    zero, one = fake.records(0), fake.records(1)
    assert [r["ticket"] for r in zero] == ["ticket-1", "ticket-3", "ticket-5"]
    assert zero[0]["previous_hash"] == GENESIS
    assert one[0]["previous_hash"] == EXISTING_HEAD  # the head came from the topic, not from zero
    assert verify_chain(enumerate(zero)).ok
    assert verify_chain(enumerate(one), start=EXISTING_HEAD).ok
    assert sorted(fake.reads) == [0, 1], "the head is read once per partition, then kept in memory"
    assert letters.sent == []


def test_from_batch_to_batch_the_head_is_kept_in_memory(tmp_path: Path) -> None:
    h = _harness(tmp_path, batch_max_events=2, batch_within_ms=10_000)

    _run(h.app, *(put(h.codec, _entry(n), 0) for n in range(1, 7)), until=lambda: h.fake.record_count() == 6)

    assert len(h.fake.batches) == 3
    assert h.fake.reads == [0], "read once, then advanced by each batch written"
    assert verify_chain(enumerate(h.fake.records(0))).ok


def test_the_chained_record_is_the_entry_with_its_hashes(harness: Harness) -> None:
    app, fake, codec = harness.app, harness.fake, harness.codec
    entry = refusal_entry(ticket="t", actor="0999999999", person=ANNA, data_type="x", reason="not entitled", at=NOW)

    _run(app, put(codec, entry, 2), until=lambda: fake.record_count() == 1)

    (record,) = fake.records(2)
    assert {k: v for k, v in record.items() if k not in ("previous_hash", "hash")} == {
        k: v for k, v in entry.items() if k not in ("previous_hash", "hash")
    }
    assert len(record["hash"]) == 64 and record["previous_hash"] == GENESIS


def test_a_replayed_entry_links_to_what_is_in_the_topic(tmp_path: Path) -> None:
    first = _harness(tmp_path)
    fake, codec = first.fake, first.codec
    # a worker wrote ticket-1 and ticket-2, then crashed before committing: a new worker replays ticket-2
    _run(first.app, put(codec, _entry(1), 0), put(codec, _entry(2), 0), until=lambda: fake.record_count() == 2)
    restarted = _harness(tmp_path, fake)

    _run(restarted.app, put(codec, _entry(2), 0), put(codec, _entry(3), 0), until=lambda: fake.record_count() == 4)

    records = fake.records(0)
    assert [r["ticket"] for r in records] == ["ticket-1", "ticket-2", "ticket-2", "ticket-3"]
    assert records[1]["audit_id"] == records[2]["audit_id"]
    assert verify_chain(enumerate(records)).ok


def test_after_an_uncertain_send_the_head_is_read_again_from_the_topic(harness: Harness) -> None:
    app, fake, codec = harness.app, harness.fake, harness.codec

    async def failing(running: Any) -> None:
        fake.lose_acks = {0}
        await put(codec, _entry(2), 0)(running)
        await until_crashed(running)
        assert isinstance(crashed(running), TimeoutError)

    _run(app, put(codec, _entry(1), 0), until=lambda: fake.record_count() == 1)
    _run(app, failing)
    _run(app, put(codec, _entry(3), 0), until=lambda: fake.record_count() == 3)

    assert fake.reads == [0, 0]
    assert [r["ticket"] for r in fake.records(0)] == ["ticket-1", "ticket-2", "ticket-3"]
    assert verify_chain(enumerate(fake.records(0))).ok


def test_a_partitions_records_too_large_for_one_message_are_split_in_chain_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    codec = AvroCodec(SchemaRegistry.from_directory(Settings().schema_dir))
    fake = FakeAuditTopic()
    fake.codec = codec
    monkeypatch.setattr(audit_trail, "MESSAGE_BUDGET", 2_000)  # ~8 records of ~250 bytes
    trail = AuditTrail(fake, ChainHeads(fake, "audit"), codec, "audit")

    asyncio.run(trail.append([(0, None, _entry(n)) for n in range(20)]))

    sizes = [len(value) for _, _, _, value in fake.written]
    assert len(sizes) > 1 and max(sizes) <= 2_000, sizes
    records = fake.records(0)
    assert [r["ticket"] for r in records] == [f"ticket-{n}" for n in range(20)]
    assert records[0]["previous_hash"] == GENESIS and verify_chain(enumerate(records)).ok


def test_a_batch_spanning_partitions_chains_each_partition_from_its_own_head(batches_of_6: Harness) -> None:
    app, fake, codec = batches_of_6.app, batches_of_6.fake, batches_of_6.codec
    arrivals = [(1, 0), (2, 1), (3, 2), (4, 0), (5, 1), (6, 0)]  # (n, partition), interleaved

    _run(app, *(put(codec, _entry(n), p) for n, p in arrivals), until=lambda: fake.record_count() == 6)

    (batch,) = fake.batches  # one publish for the six: no round trip per record
    assert [o.partition for o in batch] == [0, 1, 2], "one message per partition, the partitions in arrival order"
    assert sorted(fake.reads) == [0, 1, 2], "each head read once, for the whole batch"
    zero, one, two = fake.records(0), fake.records(1), fake.records(2)
    assert [r["ticket"] for r in zero] == ["ticket-1", "ticket-4", "ticket-6"]
    assert [r["ticket"] for r in one] == ["ticket-2", "ticket-5"]
    assert [r["ticket"] for r in two] == ["ticket-3"]
    assert zero[0]["previous_hash"] == GENESIS and two[0]["previous_hash"] == GENESIS
    assert one[0]["previous_hash"] == EXISTING_HEAD
    assert verify_chain(enumerate(zero)).ok and verify_chain(enumerate(two)).ok
    assert verify_chain(enumerate(one), start=EXISTING_HEAD).ok


@pytest.mark.parametrize("failure", ["lost ack", "refused"])
def test_a_failed_delivery_in_a_batch_forgets_that_partitions_head_only(batches_of_6: Harness, failure: str) -> None:
    app, fake, codec = batches_of_6.app, batches_of_6.fake, batches_of_6.codec
    first = [(1, 0), (2, 1), (3, 0), (4, 1), (5, 0), (6, 1)]
    second = [(7, 0), (8, 1), (9, 0), (10, 1), (11, 0), (12, 1)]

    async def failing(running: Any) -> None:
        if failure == "lost ack":
            fake.lose_acks = {1}  # partition 1's records are written, their acks lost
        else:
            fake.refuse = {1}  # partition 1's records never make it
        for n, p in first:
            await put(codec, _entry(n), p)(running)
        await until_crashed(running)
        assert isinstance(crashed(running), TimeoutError if failure == "lost ack" else ConnectionError)

    _run(app, failing)
    _run(app, *(put(codec, _entry(n), p) for n, p in second), until=lambda: len(fake.batches) == 2)

    assert fake.reads == [0, 1, 1], "partition 0's head was kept; partition 1's was read again from the topic"
    zero, one = fake.records(0), fake.records(1)
    assert [r["ticket"] for r in zero] == [f"ticket-{n}" for n in (1, 3, 5, 7, 9, 11)]
    expected_one = (2, 4, 6, 8, 10, 12) if failure == "lost ack" else (8, 10, 12)
    assert [r["ticket"] for r in one] == [f"ticket-{n}" for n in expected_one]
    assert verify_chain(enumerate(zero)).ok
    assert verify_chain(enumerate(one), start=EXISTING_HEAD).ok  # relinked to what really is in the topic


def test_a_batch_is_acked_only_once_all_its_records_are_delivered(batches_of_6: Harness) -> None:
    """A failed batch keeps its offsets uncommitted even though the stream drops its own reference on each
    event as it moves past it: the directory holds one more until the batch is released."""
    app, fake, codec = batches_of_6.app, batches_of_6.fake, batches_of_6.codec
    messages: list[Any] = []

    def entry_message(n: int) -> Step:
        entry = _entry(n)
        return tracked(messages, entry["person"].encode(), codec.encode(AUDIT_SCHEMA, entry), pending=True)

    async def failing(running: Any) -> None:
        fake.lose_acks = {0}
        for n in range(7, 13):
            await entry_message(n)(running)
        await until_crashed(running)

    _run(app, *(entry_message(n) for n in range(1, 7)), until=lambda: len(fake.batches) == 1)
    _run(app, until=lambda: all(m.acked for m in messages))
    assert all(m.acked for m in messages), "a delivered batch is acked"

    _run(app, failing)
    assert len(fake.batches) == 2
    assert not any(m.acked for m in messages[6:]), "a failed batch is not acked: a restart replays it"


def test_a_rebalance_forgets_the_heads(harness: Harness) -> None:
    app, fake, codec = harness.app, harness.fake, harness.codec

    async def rebalance(running: Any) -> None:
        while not fake.written:  # the first entry is appended before the rebalance
            await asyncio.sleep(0.01)
        await app.on_partitions_revoked.send(set())
        await app.on_partitions_assigned.send(set())

    _run(app, put(codec, _entry(1), 0), rebalance, put(codec, _entry(2), 0), until=lambda: fake.record_count() == 2)

    assert fake.reads == [0, 0]
    assert verify_chain(enumerate(fake.records(0))).ok


def test_undecodable_or_foreign_entries_are_dead_lettered_and_not_chained(harness: Harness) -> None:
    """On the pending topic: bytes that are no record of ours, and a record of a type the directory does not
    handle (an intake declaration: the directory gets facts and lookups, never raw declarations)."""
    app, fake, letters, codec, settings = harness.app, harness.fake, harness.letters, harness.codec, harness.settings

    messages: list[Any] = []
    garbage = tracked(messages, b"k", b"\x00\x01 not avro", pending=True)
    not_audit = codec.encode(*address_change(ANNA, dt.date(2026, 3, 1)))
    foreign = tracked(messages, b"k", not_audit, pending=True)

    _run(app, garbage, foreign, put(codec, _entry(1), 0), until=lambda: fake.record_count() == 1)

    dead = letters.on(f"{settings.topic_prefix}.outcomes.dead-letters.v1")
    assert [codec.decode(v).record["raw"] for _, v in dead] == [b"\x00\x01 not avro", not_audit]
    assert [r["ticket"] for r in fake.records(0)] == ["ticket-1"]
    assert fake.records(0)[0]["previous_hash"] == GENESIS


# -- the directory's own entries, and the mailbox messages they record ----------------------------------------


def _lookup(codec: AvroCodec, person: str, day: int) -> bytes:
    """An address change as the intake routes it to the person's directory (a lookup: notify the holders)."""
    schema, record = address_change(person, dt.date(2026, 3, day), ticket=str(uuid.uuid4()))
    payload = codec.encode(schema, record)
    (lookup,) = route(schema, record, record["envelope"]["ticket"], payload, codec.encode)
    return codec.encode(LOOKUP, lookup_record(lookup))


def _one_batch_of_decisions(codec: AvroCodec, messages: list[Any]) -> list[Step]:
    """A registration then two address changes of the same person, in partition 0, one batch of 3."""
    key = ANNA.encode()
    # the mutuality registers the person's file (the directory acknowledges it; no audit record)
    registration = integration(MUTUALITY, "MUTUALITY", "TITULAR", ANNA, ticket=str(uuid.uuid4()))
    return [
        tracked(messages, key, codec.encode(*registration)),
        tracked(messages, key, _lookup(codec, ANNA, 1)),
        tracked(messages, key, _lookup(codec, ANNA, 2)),
    ]


def test_the_directorys_own_entries_and_the_pending_entries_share_one_chain(tmp_path: Path) -> None:
    h = _harness(tmp_path, batch_max_events=4, batch_within_ms=10_000)
    messages: list[Any] = []
    pending = _entry(1)

    _run(
        h.app,
        *_one_batch_of_decisions(h.codec, messages),
        tracked(messages, ANNA.encode(), h.codec.encode(AUDIT_SCHEMA, pending), pending=True),
        until=lambda: h.fake.record_count() == 3,
    )

    (batch,) = h.fake.batches
    records = h.fake.records(0)
    # in the partition of the events, in the order the directory met them: its two deliveries, then the entry
    # that came from the pending topic, one chain from the partition's head
    assert [(r["kind"], r["actor"]) for r in records] == [
        ("DELIVERY", MUTUALITY),
        ("DELIVERY", MUTUALITY),
        ("DELIVERY", pending["actor"]),
    ]
    assert records[2]["ticket"] == pending["ticket"]
    assert [o.partition for o in batch] == [0], "one message for the partition's three records"
    assert records[0]["previous_hash"] == GENESIS and verify_chain(enumerate(records)).ok


def test_a_batch_whose_audit_records_are_refused_sends_nothing_and_is_not_acked(tmp_path: Path) -> None:
    """Fail closed: no recipient may read a delivery whose audit record is not written."""
    h = _harness(tmp_path, batch_max_events=3, batch_within_ms=10_000)
    messages: list[Any] = []

    async def refused(running: Any) -> None:
        h.fake.refuse = {0}
        for step in _one_batch_of_decisions(h.codec, messages):
            await step(running)
        await until_crashed(running)
        assert isinstance(crashed(running), ConnectionError)

    _run(h.app, refused)

    (batch,) = h.fake.batches
    assert [o.partition for o in batch] == [0], "the two deliveries' records were sent, in one message"
    assert h.fake.written == []
    assert h.letters.sent == [], "no notification (nor acknowledgement) published before its audit record"
    assert h.letters.flushes == 0
    assert ANNA.encode() not in h.app.tables["directory"].data, "nor the person's file written"
    assert not any(m.acked for m in messages), "the batch is not acked: a restart replays it"


def test_every_notification_is_published_after_its_audit_record_was_written(tmp_path: Path) -> None:
    log: Log = []
    config = Settings()
    codec = AvroCodec(SchemaRegistry.from_directory(config.schema_dir))
    letters = LoggingPublisher(codec, log)
    h = _harness(tmp_path, FakeAuditTopic(log=log), letters, batch_max_events=3, batch_within_ms=10_000)
    messages: list[Any] = []
    letters.watched = messages
    mailbox = f"{h.settings.topic_prefix}.mailbox.{MUTUALITY}.v1"

    _run(h.app, *_one_batch_of_decisions(h.codec, messages), until=lambda: all(m.acked for m in messages))

    published = [(i, e) for i, e in enumerate(log) if e[0] == "publish"]
    notifications = [(i, e[2]) for i, e in published if e[1] == mailbox and e[3].endswith("Notification")]
    written = {entry[2]: i for i, entry in enumerate(log) if entry[0] == "audit"}
    assert len(notifications) == 2 and len(written) == 2
    for position, ticket in notifications:
        assert written[ticket] < position, f"notification {ticket} published before its audit record"
    # one flush after every send, a second one after the changed files' changelog records
    (flush, files_flush) = [i for i, entry in enumerate(log) if entry[0] == "flush"]
    assert all(i < flush for i, _ in published), "the outcomes flushed before any changelog record is queued"
    assert log[flush] == log[files_flush] == ("flush", False), "nothing acked before the batch is flushed"
    assert letters.states and letters.states_after_their_outcomes(), letters.journal
    assert ANNA.encode() in h.app.tables["directory"].data, "the registration's file is written"
    assert all(m.acked for m in messages), "then the batch is acked"
    # the accepted registration (now a fact) and its acknowledgement waited for the batch's audit records too
    kinds = [e[3].rpartition(".")[2] for _, e in published]
    assert kinds == ["Integration", "Acknowledgement", "Notification", "Notification"]
    assert max(written.values()) < min(i for i, _ in published)


def test_each_topic_carries_its_own_kind_of_record(harness: Harness) -> None:
    """A fact published to the pending topic is not applied, and an audit record arriving on a fact topic is not
    chained: both go to the dead letters, named with the topic they came on."""
    app, fake, letters, codec, settings = harness.app, harness.fake, harness.letters, harness.codec, harness.settings
    messages: list[Any] = []
    fact_on_pending = tracked(messages, ANNA.encode(), _lookup(codec, ANNA, 1), pending=True)
    audit_elsewhere = tracked(messages, ANNA.encode(), codec.encode(AUDIT_SCHEMA, _entry(9)))

    _run(app, fact_on_pending, audit_elsewhere, put(codec, _entry(1), 0), until=lambda: fake.record_count() == 1)

    dead = [codec.decode(v).record for _, v in letters.on(f"{settings.topic_prefix}.outcomes.dead-letters.v1")]
    assert [d["reason"].rsplit(" on ", 1)[0] for d in dead] == [
        f"the directory does not handle {LOOKUP}",
        f"the directory does not handle {AUDIT_SCHEMA}",
    ]
    assert [r["ticket"] for r in fake.records(0)] == ["ticket-1"], "only the pending topic's audit entry is chained"
    assert not letters.on(f"{settings.topic_prefix}.mailbox.{MUTUALITY}.v1"), "the fact was not applied"
