"""The intake topology in memory: faust's test context, a recording publisher, the real codec and rules."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from streams.catalog import Area, by_key, mailbox
from streams.codecs import AvroCodec, SchemaRegistry
from streams.domain.replay import REPLAY_OF_HEADER, REPLAY_ORIGIN_HEADER
from streams.domain.samples import sample, sample_dimona_in
from streams.kafka.sealing import Headers, intake_headers
from streams.network_files import load_network
from streams.settings import Settings
from tests.component.fakes import COMPONENT_TRANSPORT, sealed
from topologies import intake
from topologies.alignment import EVENT_TIME_HEADER
from topologies.app import create_app
from topologies.deps import Deps
from topologies.publisher import RecordingPublisher

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
TICKET = uuid.UUID("00000000-0000-4000-8000-000000000001")


def _intake(
    ticket_for: Callable[[str, int, int], uuid.UUID] = lambda topic, partition, offset: TICKET,
) -> tuple[Any, RecordingPublisher, AvroCodec, Settings]:
    """The intake flows alone, in memory, with the real codec, rules and network; ``ticket_for``: the tickets."""
    settings = Settings(
        app_id=f"component-{uuid.uuid4().hex[:6]}", store="memory://", kafka_security=COMPONENT_TRANSPORT
    )
    codec = AvroCodec(SchemaRegistry.from_directory(settings.schema_dir))
    publisher = RecordingPublisher()
    deps = Deps(
        settings,
        codec,
        clock=lambda: NOW,
        ticket_for=ticket_for,
        publisher=publisher,
        loaded_network=load_network(settings.network_dir),
    )
    app = create_app(settings, flows=[intake], deps=deps)
    app.finalize()
    app.flow_control.resume()
    return app, publisher, codec, settings


@pytest.fixture
def harness() -> tuple[Any, RecordingPublisher, AvroCodec, Settings]:
    return _intake()


def _run(app: object, family: str, key: bytes, value: bytes, headers: Headers | None = None) -> None:
    """Hand one record to the family's intake agent, with ``headers`` (default: none, as garbage comes)."""
    agent = app.agents[f"intake-{family}"]  # type: ignore[attr-defined]

    async def go() -> None:
        async with agent.test_context() as running:
            await running.put(value=value, key=key, headers=headers or [])

    asyncio.run(go())


def _send(app: object, settings: Settings, codec: AvroCodec, family: str, key: bytes, value: bytes) -> None:
    """As a platform producer sends: sealed by the sender the envelope names."""
    _run(app, family, key, value, sealed(settings, codec, family, value))


def test_a_valid_dimona_becomes_a_ticketed_fact_keyed_by_the_worker(harness) -> None:  # type: ignore[no-untyped-def]
    app, publisher, codec, settings = harness
    record = sample_dimona_in()

    _send(app, settings, codec, "dimona", b"whatever", codec.encode("be.crossroads.dimona.DimonaIn", record))

    facts = publisher.on(f"{settings.topic_prefix}.directory.declarations.v1")
    assert len(publisher.sent) == 1 and len(facts) == 1
    key, value = facts[0]
    assert key == record["worker"].encode()
    fact = codec.decode(value)
    assert fact.record["envelope"]["ticket"] == str(TICKET)
    assert {k: v for k, v in fact.record.items() if k != "envelope"} == {
        k: v for k, v in record.items() if k != "envelope"
    }


def test_what_the_intake_forwards_carries_the_event_time_of_the_declaration(harness) -> None:  # type: ignore[no-untyped-def]
    app, publisher, codec, settings = harness
    value = codec.encode("be.crossroads.dimona.DimonaIn", sample_dimona_in())
    agent = app.agents["intake-dimona"]

    async def go() -> None:
        async with agent.test_context() as running:
            await running.put(
                value=value, key=b"k", headers=sealed(settings, codec, "dimona", value), timestamp=1_764_000_000.25
            )

    asyncio.run(go())

    assert [t for t, _, _ in publisher.sent] == [f"{settings.topic_prefix}.directory.declarations.v1"]
    assert publisher.headers == [[(EVENT_TIME_HEADER, b"1764000000250 dimona")]]


def test_an_invalid_dimona_is_rejected_with_every_violation_and_its_bytes(harness) -> None:  # type: ignore[no-untyped-def]
    app, publisher, codec, settings = harness
    record = sample_dimona_in()
    record["worker"] = "93051822362"  # check digits wrong
    record["employer"] = "0403170702"  # check digits wrong
    raw = codec.encode("be.crossroads.dimona.DimonaIn", record)

    _send(app, settings, codec, "dimona", b"k", raw)

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


# -- senders proven at intake ------------------------------------------------------------------------------

MUTUALITY = "0206731645"  # an institution of the network: it has a mailbox topic of its own
DIMONA_IN = "be.crossroads.dimona.DimonaIn"


def _sealed_as(settings: Settings, actor: str, family: str, value: bytes) -> Headers:
    return intake_headers(settings, actor, by_key(Area.INTAKE, family).topic(settings.topic_prefix), value)


def test_a_declaration_forged_in_another_senders_name_is_refused_to_its_real_producer_and_audited(harness) -> None:  # type: ignore[no-untyped-def]
    app, publisher, codec, settings = harness
    record = sample_dimona_in()  # the employer's name in the envelope, produced (and sealed) by the mutuality
    raw = codec.encode(DIMONA_IN, record)

    _run(app, "dimona", b"k", raw, _sealed_as(settings, MUTUALITY, "dimona", raw))

    prefix = settings.topic_prefix
    assert publisher.on(f"{prefix}.directory.declarations.v1") == []
    assert publisher.on(f"{prefix}.mailbox.employers.v1") == []  # the named employer hears nothing of it
    [(_, ack_bytes)] = publisher.on(mailbox(MUTUALITY).topic(prefix))
    ack = codec.decode(ack_bytes).record
    assert (ack["status"], ack["recipient"]) == ("REJECTED", MUTUALITY)
    assert [v["code"] for v in ack["violations"]] == ["envelope.sender_not_authenticated"]
    [(_, rejection_bytes)] = publisher.on(f"{prefix}.outcomes.rejections.v1")
    rejection = codec.decode(rejection_bytes).record
    assert rejection["sender"] == MUTUALITY and rejection["declaration"] == raw
    [(audit_key, audit_bytes)] = publisher.on(f"{prefix}.audit.pending.v1")
    audit = codec.decode(audit_bytes).record
    assert audit_key == record["worker"].encode()
    assert (audit["kind"], audit["actor"], audit["person"], audit["ticket"]) == (
        "REFUSAL",
        MUTUALITY,
        record["worker"],
        str(TICKET),
    )
    assert audit["reason"].startswith("envelope.sender_not_authenticated")


def test_an_unsealed_declaration_has_nobody_to_tell_it_is_dead_lettered_whole_and_audited(harness) -> None:  # type: ignore[no-untyped-def]
    app, publisher, codec, settings = harness
    raw = codec.encode(DIMONA_IN, sample_dimona_in())

    _run(app, "dimona", b"k", raw)  # no headers at all

    prefix = settings.topic_prefix
    [(_, letter_bytes)] = publisher.on(f"{prefix}.outcomes.dead-letters.v1")
    letter = codec.decode(letter_bytes).record
    assert letter["raw"] == raw and letter["error_type"] == "SenderNotAuthenticated"
    assert letter["reason"].startswith("envelope.sender_not_authenticated")
    [(_, audit_bytes)] = publisher.on(f"{prefix}.audit.pending.v1")
    assert codec.decode(audit_bytes).record["actor"] == ""
    assert len(publisher.sent) == 2  # no rejection, no acknowledgement: nobody is proven


def test_a_death_declared_by_an_institution_is_not_from_the_authentic_source(harness) -> None:  # type: ignore[no-untyped-def]
    app, publisher, codec, settings = harness
    death = sample("be.crossroads.civil.Death")
    death["envelope"] = {**death["envelope"], "sender": MUTUALITY}
    raw = codec.encode("be.crossroads.civil.Death", death)

    _send(app, settings, codec, "civil", b"k", raw)  # sealed by the mutuality: authenticated, not authentic

    prefix = settings.topic_prefix
    assert publisher.on(f"{prefix}.facts.civil.v1") == [] and publisher.on(f"{prefix}.directory.lookups.v1") == []
    [(_, ack_bytes)] = publisher.on(mailbox(MUTUALITY).topic(prefix))
    assert [v["code"] for v in codec.decode(ack_bytes).record["violations"]] == ["envelope.not_authentic_source"]
    assert len(publisher.on(f"{prefix}.audit.pending.v1")) == 1


def test_a_mandated_secretariats_dimona_is_admitted(harness) -> None:  # type: ignore[no-untyped-def]
    app, publisher, codec, settings = harness
    record = sample_dimona_in()
    record["envelope"] = {**record["envelope"], "sender": "0448123469"}  # SD Worx, mandated since 2020
    _send(app, settings, codec, "dimona", b"k", codec.encode(DIMONA_IN, record))

    assert len(publisher.on(f"{settings.topic_prefix}.directory.declarations.v1")) == 1 and len(publisher.sent) == 1


# -- a resend is refused, not processed twice ------------------------------------------------------------------


def test_a_resend_under_the_same_reference_is_refused_naming_the_first_ticket_and_a_replay_is_not() -> None:
    # the intake's tickets are its positions: the second message is the first one replayed (same position)
    positions = iter(uuid.UUID(int=n) for n in (1, 1, 2, 3))
    app, publisher, codec, settings = _intake(lambda topic, partition, offset: next(positions))
    record = sample_dimona_in()
    value = codec.encode(DIMONA_IN, record)
    key = record["worker"].encode()
    table = app.tables["references-dimona"]

    async def go() -> None:
        async with app.agents["intake-dimona"].test_context() as running:

            async def put(message_key: bytes | None = key) -> None:
                await running.put(value=value, key=message_key, headers=sealed(settings, codec, "dimona", value))

            await put()
            for _ in range(500):  # remembered once released: once its oldest event waited batch_within_ms
                if table.get(key):
                    break
                await asyncio.sleep(0.01)
            await put()  # the same message handled again (a replay after a crash): decided as the first time
            await put()  # the sender sends it again
            await put(message_key=None)  # without key: not checked (its resend may land on another partition)

    asyncio.run(go())

    admitted = [
        codec.decode(v).record["envelope"]["ticket"]
        for _, v in publisher.on(f"{settings.topic_prefix}.directory.declarations.v1")
    ]
    assert admitted == [str(uuid.UUID(int=1)), str(uuid.UUID(int=1)), str(uuid.UUID(int=3))]
    (rejection,) = [codec.decode(v).record for _, v in publisher.on(f"{settings.topic_prefix}.outcomes.rejections.v1")]
    assert rejection["ticket"] == str(uuid.UUID(int=2))
    (violation,) = rejection["violations"]
    assert violation["code"] == "envelope.duplicate_reference"
    assert violation["field"] == "envelope.sender_reference"
    assert str(uuid.UUID(int=1)) in violation["message"]


# -- a replayed dead letter is decided once -------------------------------------------------------------------


def test_replays_of_one_dead_letter_are_decided_once_and_one_dead_lettered_again_may_come_back() -> None:
    # the tickets are the positions: the third message is the second one handled again after a crash
    positions = iter(uuid.UUID(int=n) for n in (1, 2, 2, 3))
    app, publisher, codec, settings = _intake(lambda topic, partition, offset: next(positions))
    record = sample_dimona_in()
    value = codec.encode(DIMONA_IN, record)
    key = record["worker"].encode()
    origin = f"{settings.topic_prefix}.intake.dimona.v1/4/17"

    def replayed(letter: str, body: bytes) -> Headers:
        provenance = [(REPLAY_OF_HEADER, letter.encode()), (REPLAY_ORIGIN_HEADER, origin.encode())]
        return [*_sealed_as(settings, record["envelope"]["sender"], "dimona", body), *provenance]

    async def go() -> None:
        async with app.agents["intake-dimona"].test_context() as running:
            # replayed before its cause was fixed: dead-lettered again, not remembered
            await running.put(value=b"\xc3\x01garbage", key=key, headers=replayed("0:1", b"\xc3\x01garbage"))
            await running.put(value=value, key=key, headers=replayed("0:2", value))  # fixed: admitted
            await running.put(value=value, key=key, headers=replayed("0:2", value))  # the same, after a crash
            await running.put(value=value, key=key, headers=replayed("0:2", value))  # replayed again: skipped

    asyncio.run(go())

    admitted = [
        codec.decode(v).record["envelope"]["ticket"]
        for _, v in publisher.on(f"{settings.topic_prefix}.directory.declarations.v1")
    ]
    assert admitted == [str(uuid.UUID(int=2)), str(uuid.UUID(int=2))]
    assert publisher.on(f"{settings.topic_prefix}.outcomes.rejections.v1") == []
    (letter,) = [codec.decode(v).record for _, v in publisher.on(f"{settings.topic_prefix}.outcomes.dead-letters.v1")]
    assert dict((h["key"], h["value"]) for h in letter["headers"])[REPLAY_ORIGIN_HEADER] == origin.encode()
