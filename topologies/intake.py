"""Intake: decode with our codec, decide with `streams.domain.admission`, route the outcome.

received = admitted (facts topic) + refused (rejections topic) + undecodable (dead-letter topic).
Senders get an acknowledgement in their mailbox: here for rejections and for families whose intake decision is
final (civil, DmfA); from the directory for DIMONA and integrations, which it may still refuse.

Civil and DmfA facts also concern the directories of other persons (a birth: the parents'; a DmfA: each
worker's). The intake writes one lookup per concerned person to the lookups topic, keyed by that person, so the
directory finds the file in its own partition. (This was a separate router flow reading the facts back: one
more consume, decode and commit per fact for nothing the intake did not already have in hand.)
"""

from __future__ import annotations

from typing import Any

import faust
from faust.types import EventT

from streams.domain.admission import (
    ACKNOWLEDGEMENT_SCHEMA,
    FINAL_AT_INTAKE,
    REJECTION_SCHEMA,
    Admitted,
    acknowledgement,
    admit,
    rejection,
)
from streams.domain.fanout import Lookup, route
from streams.domain.quoting import quoted
from topologies.batches import handle_then_release
from topologies.deps import Deps
from topologies.edges import decode_or_dead_letter, mailbox_route

LOOKUP = "be.crossroads.internal.Lookup"

# intake topic name -> where its admitted facts go (area, name)
FAMILIES = {
    "dimona": ("facts", "dimona"),
    "dmfa": ("facts", "dmfa"),
    "civil": ("facts", "civil"),
    "integrations": ("facts", "integrations"),
    "consultations": ("consultations", "accepted"),
}
ROUTED = frozenset({"civil", "dmfa"})  # families whose facts are looked up in other persons' directories


def lookup_record(lookup: Lookup) -> dict[str, Any]:
    return {name: getattr(lookup, name) for name in Lookup.__slots__}


def register(app: faust.App, deps: Deps) -> None:
    for family, target in FAMILIES.items():
        _register_family(app, deps, family, deps.topic(*target))


def _register_family(app: faust.App, deps: Deps, family: str, target: str) -> None:
    source = app.topic(deps.topic("intake", family), key_type=bytes, value_type=bytes)
    rejections, lookups = deps.topic("outcomes", "rejections"), deps.topic("directory", "lookups")
    codec, publisher, settings = deps.codec, deps.publisher_for(app), deps.settings
    final, routed = family in FINAL_AT_INTAKE, family in ROUTED

    async def handle(event: EventT[bytes]) -> None:
        decoded = await decode_or_dead_letter(event, deps, publisher)
        if decoded is None:
            return
        schema, record = decoded.schema_name, decoded.record
        message = event.message
        ticket = deps.ticket_for(message.topic, message.partition, message.offset)
        decision = admit(schema, record, ticket=ticket, received_at=deps.clock())
        # quoted: a refused declaration's subject may be of any length (a valid one is 11 or 10 digits)
        key = quoted(decision.key).encode() if decision.key else event.key
        if isinstance(decision, Admitted):
            for fact in decision.facts:
                fact_key = fact.key.encode() if fact.key else key
                fact_bytes = codec.encode(fact.schema_name, fact.record)
                await publisher.publish(target, fact_key, fact_bytes)
                if routed:
                    fact_ticket = fact.record["envelope"]["ticket"]
                    for lookup in route(fact.schema_name, fact.record, fact_ticket, fact_bytes, codec.encode):
                        value = codec.encode(LOOKUP, lookup_record(lookup))
                        await publisher.publish(lookups, lookup.person.encode(), value)
            if final:
                ack = acknowledgement(schema, record, decision.ticket, deps.clock())
                await _to_sender(record, key, codec.encode(ACKNOWLEDGEMENT_SCHEMA, ack))
        else:
            refusal = rejection(schema, record, decision, raw=event.value)
            await publisher.publish(rejections, key, codec.encode(REJECTION_SCHEMA, refusal))
            ack = acknowledgement(schema, record, decision.ticket, deps.clock(), decision.violations)
            await _to_sender(record, key, codec.encode(ACKNOWLEDGEMENT_SCHEMA, ack))

    async def _to_sender(record: dict[str, object], key: bytes | None, value: bytes) -> None:
        envelope = record.get("envelope")
        sender = envelope.get("sender") if isinstance(envelope, dict) else None
        if isinstance(sender, str) and sender.isdigit():  # a sender we cannot name has no mailbox
            await publisher.publish(*mailbox_route(deps, sender, key), value)

    async def intake(stream: faust.StreamT[bytes]) -> None:
        await handle_then_release(
            stream, handle, publisher.flush, settings.batch_max_events, settings.batch_within_ms / 1000
        )

    app.agent(source, name=f"intake-{family}")(intake)
