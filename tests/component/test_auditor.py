"""The auditor in memory: faust's test context, a fake partitioned publisher and a fake head reader."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Coroutine
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
    """Both ports over one in-memory audit topic: what is published is what the head reader sees."""

    def __init__(self, heads: dict[int, str] | None = None) -> None:
        self.written: list[tuple[str, int, bytes | None, bytes]] = []
        self.initial = heads or {}
        self.reads: list[int] = []
        self.fail_next = False
        self.codec: AvroCodec | None = None

    async def publish(self, topic: str, partition: int, key: bytes | None, value: bytes) -> None:
        if self.fail_next:
            self.fail_next = False
            # the worst case: the broker got it, but we never heard back
            self.written.append((topic, partition, key, value))
            raise TimeoutError("delivery report lost")
        self.written.append((topic, partition, key, value))

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


@pytest.fixture
def harness() -> tuple[Any, FakeAuditTopic, RecordingPublisher, AvroCodec, Settings]:
    settings = Settings(app_id=f"component-{uuid.uuid4().hex[:6]}", store="memory://")
    codec = AvroCodec(SchemaRegistry.from_directory(settings.schema_dir))
    letters = RecordingPublisher()
    deps = Deps(settings, codec, clock=lambda: NOW, publisher=letters)
    fake = FakeAuditTopic({1: EXISTING_HEAD})
    fake.codec = codec
    app = create_app(settings, flows=[auditor.AuditorFlow(publisher=fake, heads=fake)], deps=deps)
    app.finalize()
    app.flow_control.resume()
    return app, fake, letters, codec, settings


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


def test_after_an_uncertain_send_the_head_is_read_again_from_the_topic(harness: Any) -> None:
    app, fake, _, codec, _ = harness

    async def failing(running: Any) -> None:
        fake.fail_next = True
        with pytest.raises(TimeoutError):
            await running.put(value=codec.encode(AUDIT_SCHEMA, _entry(2)), key=ANNA.encode(), partition=0)

    _run(app, put(codec, _entry(1), 0), until=lambda: len(fake.written) == 1)
    _run(app, failing)
    _run(app, put(codec, _entry(3), 0), until=lambda: len(fake.written) == 3)

    assert fake.reads == [0, 0]
    assert [r["ticket"] for r in fake.records(0)] == ["ticket-1", "ticket-2", "ticket-3"]
    assert verify_chain(enumerate(fake.records(0))).ok


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
