"""The intake topology in memory: faust's test context, a recording publisher, the real codec and rules."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest

from streams.codecs import AvroCodec, SchemaRegistry
from streams.domain.samples import sample_dimona_in
from streams.network_files import load_network
from streams.settings import Settings
from topologies import intake
from topologies.app import create_app
from topologies.deps import Deps
from topologies.publisher import RecordingPublisher

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
TICKET = uuid.UUID("00000000-0000-4000-8000-000000000001")


@pytest.fixture
def harness() -> tuple[object, RecordingPublisher, AvroCodec, Settings]:
    settings = Settings(app_id=f"component-{uuid.uuid4().hex[:6]}", store="memory://")
    codec = AvroCodec(SchemaRegistry.from_directory(settings.schema_dir))
    publisher = RecordingPublisher()
    deps = Deps(
        settings,
        codec,
        clock=lambda: NOW,
        ticket_for=lambda topic, partition, offset: TICKET,
        publisher=publisher,
        loaded_network=load_network(settings.network_dir),
    )
    app = create_app(settings, flows=[intake], deps=deps)
    app.finalize()
    app.flow_control.resume()
    return app, publisher, codec, settings


def _run(app: object, family: str, key: bytes, value: bytes) -> None:
    agent = app.agents[f"intake-{family}"]  # type: ignore[attr-defined]

    async def go() -> None:
        async with agent.test_context() as running:
            await running.put(value=value, key=key)

    asyncio.run(go())


def test_a_valid_dimona_becomes_a_ticketed_fact_keyed_by_the_worker(harness) -> None:  # type: ignore[no-untyped-def]
    app, publisher, codec, settings = harness
    record = sample_dimona_in()

    _run(app, "dimona", b"whatever", codec.encode("be.crossroads.dimona.DimonaIn", record))

    facts = publisher.on(f"{settings.topic_prefix}.facts.dimona.v1")
    assert len(publisher.sent) == 1 and len(facts) == 1
    key, value = facts[0]
    assert key == record["worker"].encode()
    fact = codec.decode(value)
    assert fact.record["envelope"]["ticket"] == str(TICKET)
    assert {k: v for k, v in fact.record.items() if k != "envelope"} == {
        k: v for k, v in record.items() if k != "envelope"
    }


def test_an_invalid_dimona_is_rejected_with_every_violation_and_its_bytes(harness) -> None:  # type: ignore[no-untyped-def]
    app, publisher, codec, settings = harness
    record = sample_dimona_in()
    record["worker"] = "93051822362"  # check digits wrong
    record["employer"] = "0403170702"  # check digits wrong
    raw = codec.encode("be.crossroads.dimona.DimonaIn", record)

    _run(app, "dimona", b"k", raw)

    rejections = publisher.on(f"{settings.topic_prefix}.outcomes.rejections.v1")
    # the sender is an employer: its acknowledgements go to the employers' shared mailbox, keyed by the employer
    sender = record["envelope"]["sender"]
    acks = [(k, v) for k, v in publisher.on(f"{settings.topic_prefix}.mailbox.employers.v1") if k == sender.encode()]
    assert len(publisher.sent) == 2 and len(rejections) == 1 and len(acks) == 1
    ack = codec.decode(acks[0][1]).record
    assert ack["status"] == "REJECTED" and ack["ticket"] == str(TICKET)
    assert {v["field"] for v in ack["violations"]} >= {"worker", "employer"}
    rejection = codec.decode(rejections[0][1]).record
    assert {v["field"] for v in rejection["violations"]} >= {"worker", "employer"}
    assert rejection["declaration"] == raw
    assert rejection["ticket"] == str(TICKET)
    assert rejection["sender"] == record["envelope"]["sender"]
    assert rejection["rejected_at"] == NOW


def test_undecodable_bytes_are_dead_lettered_whole(harness) -> None:  # type: ignore[no-untyped-def]
    app, publisher, codec, settings = harness
    garbage = b"\x00\x01\x02 not avro"

    _run(app, "civil", b"key-1", garbage)

    letters = publisher.on(f"{settings.topic_prefix}.outcomes.dead-letters.v1")
    assert len(publisher.sent) == 1 and len(letters) == 1
    letter = codec.decode(letters[0][1]).record
    assert letter["raw"] == garbage
    assert letter["key"] == b"key-1"
    assert letter["reason"]
    assert letter["dead_lettered_at"] == NOW
