"""The auditor in memory: faust's test context, a fake partitioned publisher and a fake head reader."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Coroutine, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from streams.codecs import AvroCodec, SchemaRegistry
from streams.domain.audit import AUDIT_SCHEMA, GENESIS, delivery_entry, refusal_entry, verify_chain
from streams.settings import Settings
from topologies import auditor
from topologies.app import create_app
from topologies.deps import Deps
from topologies.publisher import RecordingPublisher

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
ANNA, BRAM = "93051822361", "85073003328"
EXISTING_HEAD = "ab" * 32


class FakeAuditTopic:
    """Both ports over one in-memory audit topic: what is published is what the head reader sees.

    ``lose_acks``: partitions whose records reach the topic but whose deliveries are reported failed (the
    worst case: written, but we never heard back).  ``refuse``: partitions whose records never reach it."""

    def __init__(self, heads: dict[int, str] | None = None) -> None:
        self.written: list[tuple[str, int, bytes | None, bytes]] = []
        self.batches: list[list[auditor.Outgoing]] = []
        self.initial = heads or {}
        self.reads: list[int] = []
        self.lose_acks: set[int] = set()
        self.refuse: set[int] = set()
        self.codec: AvroCodec | None = None

    async def publish_batch(self, topic: str, records: Sequence[auditor.Outgoing]) -> Mapping[int, BaseException]:
        self.batches.append(list(records))
        failed: dict[int, BaseException] = {}
        for partition, key, value in records:
            if partition in self.refuse:
                failed.setdefault(partition, ConnectionError("broker gone"))
                continue
            self.written.append((topic, partition, key, value))
            if partition in self.lose_acks:
                failed.setdefault(partition, TimeoutError("delivery report lost"))
        self.lose_acks, self.refuse = set(), set()
        return failed

    def read_head(self, topic: str, partition: int) -> str:
        self.reads.append(partition)
        mine = [v for t, p, _, v in self.written if t == topic and p == partition]
        if mine:
            assert self.codec is not None
            return str(self.codec.decode(mine[-1]).record["hash"])
        return self.initial.get(partition, GENESIS)

    def records(self, partition: int) -> list[dict[str, Any]]:
        assert self.codec is not None
        return [self.codec.decode(v).record for _, p, _, v in self.written if p == partition]


def _harness(**batching: Any) -> tuple[Any, FakeAuditTopic, RecordingPublisher, AvroCodec, Settings]:
    settings = Settings(app_id=f"component-{uuid.uuid4().hex[:6]}", store="memory://")
    codec = AvroCodec(SchemaRegistry.from_directory(settings.schema_dir))
    letters = RecordingPublisher()
    deps = Deps(settings, codec, clock=lambda: NOW, publisher=letters)
    fake = FakeAuditTopic({1: EXISTING_HEAD})
    fake.codec = codec
    app = create_app(settings, flows=[auditor.AuditorFlow(publisher=fake, heads=fake, **batching)], deps=deps)
    app.finalize()
    app.flow_control.resume()
    return app, fake, letters, codec, settings


@pytest.fixture
def harness() -> tuple[Any, FakeAuditTopic, RecordingPublisher, AvroCodec, Settings]:
    return _harness()


@pytest.fixture
def batches_of_6() -> tuple[Any, FakeAuditTopic, RecordingPublisher, AvroCodec, Settings]:
    """A batch is cut only when 6 entries are in: the tests decide what one batch holds."""
    return _harness(batch_max=6, batch_within=10.0)


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
    """Feed the steps, then keep the agent running until ``until()`` holds: ``put`` can return before the
    agent is done with the event (the head read runs in a thread)."""
    agent = app.agents[auditor.AGENT_NAME]

    async def go() -> None:
        async with agent.test_context() as running:
            for step in steps:
                await step(running)
            async with asyncio.timeout(5):
                while not until():
                    await asyncio.sleep(0.005)

    asyncio.run(go())


def put(codec: AvroCodec, entry: dict[str, Any], partition: int) -> Step:
    async def step(running: Any) -> None:
        await running.put(value=codec.encode(AUDIT_SCHEMA, entry), key=entry["person"].encode(), partition=partition)

    return step


def test_entries_are_chained_per_partition_into_the_same_partition_number(harness: Any) -> None:
    app, fake, letters, codec, settings = harness
    audit_topic = f"{settings.topic_prefix}.audit.exchanges.v1"

    _run(
        app,
        put(codec, _entry(1), 0),
        put(codec, _entry(2, BRAM), 1),
        put(codec, _entry(3), 0),
        put(codec, _entry(4, BRAM), 1),
        put(codec, _entry(5), 0),
        until=lambda: len(fake.written) == 5,
    )

    assert {t for t, _, _, _ in fake.written} == {audit_topic}
    assert [(p, k) for _, p, k, _ in fake.written] == [
        (0, ANNA.encode()),
        (1, BRAM.encode()),
        (0, ANNA.encode()),
        (1, BRAM.encode()),
        (0, ANNA.encode()),
    ]
    zero, one = fake.records(0), fake.records(1)
    assert [r["ticket"] for r in zero] == ["ticket-1", "ticket-3", "ticket-5"]
    assert zero[0]["previous_hash"] == GENESIS
    assert one[0]["previous_hash"] == EXISTING_HEAD  # the head came from the topic, not from zero
    assert verify_chain(enumerate(zero)).ok
    assert verify_chain(enumerate(one), start=EXISTING_HEAD).ok
    assert sorted(fake.reads) == [0, 1], "the head is read once per partition, then kept in memory"
    assert letters.sent == []


def test_the_chained_record_is_the_entry_with_its_hashes(harness: Any) -> None:
    app, fake, _, codec, _ = harness
    entry = refusal_entry(ticket="t", actor="0999999999", person=ANNA, data_type="x", reason="not entitled", at=NOW)

    _run(app, put(codec, entry, 2), until=lambda: len(fake.written) == 1)

    (record,) = fake.records(2)
    assert {k: v for k, v in record.items() if k not in ("previous_hash", "hash")} == {
        k: v for k, v in entry.items() if k not in ("previous_hash", "hash")
    }
    assert len(record["hash"]) == 64 and record["previous_hash"] == GENESIS


def test_a_replayed_entry_links_to_what_is_in_the_topic(harness: Any) -> None:
    app, fake, _, codec, _ = harness
    # a worker wrote ticket-1 and ticket-2, then crashed before committing: a new worker replays ticket-2
    _run(app, put(codec, _entry(1), 0), put(codec, _entry(2), 0), until=lambda: len(fake.written) == 2)
    fresh = auditor.AuditorFlow(publisher=fake, heads=fake)
    settings = Settings(app_id=f"component-{uuid.uuid4().hex[:6]}", store="memory://")
    app2 = create_app(
        settings, flows=[fresh], deps=Deps(settings, codec, clock=lambda: NOW, publisher=RecordingPublisher())
    )
    app2.finalize()
    app2.flow_control.resume()

    _run(app2, put(codec, _entry(2), 0), put(codec, _entry(3), 0), until=lambda: len(fake.written) == 4)

    records = fake.records(0)
    assert [r["ticket"] for r in records] == ["ticket-1", "ticket-2", "ticket-2", "ticket-3"]
    assert records[1]["audit_id"] == records[2]["audit_id"]
    assert verify_chain(enumerate(records)).ok


def crashed(running: Any) -> BaseException:
    return running._crash_reason  # type: ignore[no-any-return]


async def until_crashed(running: Any) -> None:
    async with asyncio.timeout(5):
        while crashed(running) is None:
            await asyncio.sleep(0.005)


def test_after_an_uncertain_send_the_head_is_read_again_from_the_topic(harness: Any) -> None:
    app, fake, _, codec, _ = harness

    async def failing(running: Any) -> None:
        fake.lose_acks = {0}
        await put(codec, _entry(2), 0)(running)
        await until_crashed(running)
        assert isinstance(crashed(running), TimeoutError)

    _run(app, put(codec, _entry(1), 0), until=lambda: len(fake.written) == 1)
    _run(app, failing)
    _run(app, put(codec, _entry(3), 0), until=lambda: len(fake.written) == 3)

    assert fake.reads == [0, 0]
    assert [r["ticket"] for r in fake.records(0)] == ["ticket-1", "ticket-2", "ticket-3"]
    assert verify_chain(enumerate(fake.records(0))).ok


def test_a_batch_spanning_partitions_chains_each_partition_from_its_own_head(batches_of_6: Any) -> None:
    app, fake, _, codec, _ = batches_of_6
    arrivals = [(1, 0), (2, 1), (3, 2), (4, 0), (5, 1), (6, 0)]  # (n, partition), interleaved

    _run(app, *(put(codec, _entry(n), p) for n, p in arrivals), until=lambda: len(fake.written) == 6)

    (batch,) = fake.batches  # one publish for the six: no round trip per record
    assert [o.partition for o in batch] == [p for _, p in arrivals], "sent in arrival order"
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
def test_a_failed_delivery_in_a_batch_forgets_that_partitions_head_only(batches_of_6: Any, failure: str) -> None:
    app, fake, _, codec, _ = batches_of_6
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


def test_a_batch_is_acked_only_once_all_its_records_are_delivered(batches_of_6: Any) -> None:
    """Messages carry a reference per stream as the conductor gives them; a failed batch keeps its offsets
    uncommitted even though faust's take_events acks its events when the agent's generator is closed."""
    app, fake, _, codec, _ = batches_of_6
    messages: list[Any] = []

    def tracked(n: int) -> Step:
        async def step(running: Any) -> None:
            entry = _entry(n)
            message = running.to_message(entry["person"].encode(), codec.encode(AUDIT_SCHEMA, entry), partition=0)
            message.incref()  # what the conductor does for the one stream reading the topic
            messages.append(message)
            channel = running.stream().channel
            await channel.put(await channel.decode(message))

        return step

    async def failing(running: Any) -> None:
        fake.lose_acks = {0}
        for n in range(7, 13):
            await tracked(n)(running)
        await until_crashed(running)

    _run(app, *(tracked(n) for n in range(1, 7)), until=lambda: len(fake.batches) == 1)
    _run(app, until=lambda: all(m.acked for m in messages))
    assert all(m.acked for m in messages), "a delivered batch is acked"

    _run(app, failing)
    assert len(fake.batches) == 2
    assert not any(m.acked for m in messages[6:]), "a failed batch is not acked: a restart replays it"


def test_a_rebalance_forgets_the_heads(harness: Any) -> None:
    app, fake, _, codec, _ = harness

    async def rebalance(running: Any) -> None:
        while not fake.written:  # the first entry is appended before the rebalance
            await asyncio.sleep(0.01)
        await app.on_partitions_revoked.send(set())
        await app.on_partitions_assigned.send(set())

    _run(app, put(codec, _entry(1), 0), rebalance, put(codec, _entry(2), 0), until=lambda: len(fake.written) == 2)

    assert fake.reads == [0, 0]
    assert verify_chain(enumerate(fake.records(0))).ok


def test_undecodable_or_foreign_entries_are_dead_lettered_and_not_chained(harness: Any) -> None:
    app, fake, letters, codec, settings = harness
    from streams.domain.samples import sample_dimona_in

    async def garbage(running: Any) -> None:
        await running.put(value=b"\x00\x01 not avro", key=b"k", partition=0)

    not_audit = codec.encode("be.crossroads.dimona.DimonaIn", sample_dimona_in())

    async def foreign(running: Any) -> None:
        await running.put(value=not_audit, key=b"k", partition=0)

    _run(app, garbage, foreign, put(codec, _entry(1), 0), until=lambda: len(fake.written) == 1)

    dead = letters.on(f"{settings.topic_prefix}.outcomes.dead-letters.v1")
    assert [codec.decode(v).record["raw"] for _, v in dead] == [b"\x00\x01 not avro", not_audit]
    assert [r["ticket"] for r in fake.records(0)] == ["ticket-1"]
    assert fake.records(0)[0]["previous_hash"] == GENESIS


def test_the_pending_topic_name() -> None:
    assert auditor.pending_topic("crossroads") == "crossroads.audit.pending.v1"
