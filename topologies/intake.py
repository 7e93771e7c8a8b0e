"""Intake: decode with our codec, decide with `streams.domain.admission`, route the outcome.

received = admitted (facts topic) + refused (rejections topic) + undecodable (dead-letter topic).
Senders get an acknowledgement in their mailbox: here for rejections and for families whose intake decision is
final (civil, DmfA); from the directory for DIMONA and integrations, which it may still refuse.
"""

from __future__ import annotations

import faust

from streams.domain.admission import (
    ACKNOWLEDGEMENT_SCHEMA,
    FINAL_AT_INTAKE,
    REJECTION_SCHEMA,
    Admitted,
    acknowledgement,
    admit,
    rejection,
)
from topologies.deps import Deps
from topologies.edges import decode_or_dead_letter, mailbox_route

# intake topic name -> where its admitted facts go (area, name)
FAMILIES = {
    "dimona": ("facts", "dimona"),
    "dmfa": ("facts", "dmfa"),
    "civil": ("facts", "civil"),
    "integrations": ("facts", "integrations"),
    "consultations": ("consultations", "accepted"),
}


def register(app: faust.App, deps: Deps) -> None:
    for family, target in FAMILIES.items():
        _register_family(app, deps, family, deps.topic(*target))


def _register_family(app: faust.App, deps: Deps, family: str, target: str) -> None:
    source = app.topic(deps.topic("intake", family), key_type=bytes, value_type=bytes)
    rejections = deps.topic("outcomes", "rejections")
    codec, publisher = deps.codec, deps.publisher_for(app)
    final = family in FINAL_AT_INTAKE

    async def intake(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            decoded = await decode_or_dead_letter(event, deps, publisher)
            if decoded is None:
                continue
            schema, record = decoded.schema_name, decoded.record
            message = event.message
            ticket = deps.ticket_for(message.topic, message.partition, message.offset)
            decision = admit(schema, record, ticket=ticket, received_at=deps.clock())
            key = decision.key.encode() if decision.key else event.key
            if isinstance(decision, Admitted):
                for fact in decision.facts:
                    fact_key = fact.key.encode() if fact.key else key
                    await publisher.publish(target, fact_key, codec.encode(fact.schema_name, fact.record))
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

    app.agent(source, name=f"intake-{family}")(intake)
