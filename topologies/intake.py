"""Intake: decode with our codec, decide with `streams.domain.admission`, route the outcome.

received = admitted (facts topic) + refused (rejections topic) + undecodable or unsealed (dead-letter topic).

Who sent a record is proven, not read from its envelope: the intake verifies the record's seal
(`streams.domain.seal`) and judges the envelope against the proven producer and the senders register
(`streams.domain.senders`).  A declaration refused for its sender is acknowledged to the proven producer (the
envelope's sender may be someone else's name), and a REFUSAL entry goes to the audit trail (pending topic);
one whose producer nobody proves has nobody to tell: it goes whole to the dead letters.
Senders get an acknowledgement in their mailbox: here for rejections and for families whose intake decision is
final (civil, DmfA); from the directory for DIMONA and integrations, which it may still refuse.

Civil and DmfA facts also concern the directories of other persons (a birth: the parents'; a DmfA: each
worker's). The intake writes one lookup per concerned person to the lookups topic, keyed by that person, so the
directory finds the file in its own partition. (This was a separate router flow reading the facts back: one
more consume, decode and commit per fact for nothing the intake did not already have in hand.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import faust
from faust.types import EventT

from streams.domain.admission import (
    ACKNOWLEDGEMENT_SCHEMA,
    FINAL_AT_INTAKE,
    REJECTION_SCHEMA,
    Admitted,
    Refused,
    acknowledged_to,
    acknowledgement,
    admit,
    refusal_audit,
    rejection,
)
from streams.domain.audit import AUDIT_SCHEMA
from streams.domain.credentials import derived_seal_key
from streams.domain.fanout import Lookup, route
from streams.domain.normalise import enterprise_numbers
from streams.domain.quoting import quoted
from streams.domain.seal import proven_producer
from streams.domain.senders import sender_violations
from topologies.batches import handle_then_release
from topologies.deps import Deps
from topologies.edges import decode_or_dead_letter, mailbox_route, message_dead_letter

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
    # every actor's seal key derives from the platform secret: computed once per actor, never stored
    keys: dict[str, bytes] = {}
    secret = deps.settings.access_secret.get_secret_value()

    def seal_key(actor: str) -> bytes:
        key = keys.get(actor)
        if key is None:
            key = keys[actor] = derived_seal_key(secret, actor)
        return key

    for family, target in FAMILIES.items():
        _register_family(app, deps, family, deps.topic(*target), seal_key)


def _register_family(app: faust.App, deps: Deps, family: str, target: str, seal_key: Callable[[str], bytes]) -> None:
    source = app.topic(deps.topic("intake", family), key_type=bytes, value_type=bytes)
    rejections, lookups = deps.topic("outcomes", "rejections"), deps.topic("directory", "lookups")
    dead_letters, pending_audit = deps.topic("outcomes", "dead-letters"), deps.topic("audit", "pending")
    codec, publisher, settings, network = deps.codec, deps.publisher_for(app), deps.settings, deps.network()
    final, routed = family in FINAL_AT_INTAKE, family in ROUTED

    async def handle(event: EventT[bytes]) -> None:
        decoded = await decode_or_dead_letter(event, deps, publisher)
        if decoded is None:
            return
        schema = decoded.schema_name
        # one form per enterprise number (a legacy 9-digit one gets its 0) before anything judges or stores it
        record, _ = enterprise_numbers(schema, decoded.record)
        message = event.message
        ticket = deps.ticket_for(message.topic, message.partition, message.offset)
        received_at = deps.clock()
        producer = proven_producer(message.headers, message.topic, event.value, seal_key)
        senders = sender_violations(schema, record, proven=producer, network=network, on=received_at.date())
        decision = admit(schema, record, ticket=ticket, received_at=received_at, senders=senders, producer=producer)
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
            if decision.sender_refused:
                # audited: who tried to declare what about whom (the directory chains it into the trail)
                audit_key = quoted(decision.key).encode() if decision.key else None
                await publisher.publish(
                    pending_audit, audit_key, codec.encode(AUDIT_SCHEMA, refusal_audit(schema, decision))
                )
            recipient = acknowledged_to(record, decision)
            if decision.sender_refused and recipient is None:
                await _unproven(event, decision)  # nobody to tell: kept whole for the operators
                return
            refusal = rejection(schema, record, decision, raw=event.value)
            await publisher.publish(rejections, key, codec.encode(REJECTION_SCHEMA, refusal))
            ack = acknowledgement(
                schema, record, decision.ticket, deps.clock(), decision.violations, recipient=recipient
            )
            await _to(recipient, key, codec.encode(ACKNOWLEDGEMENT_SCHEMA, ack))

    async def _to_sender(record: dict[str, object], key: bytes | None, value: bytes) -> None:
        envelope = record.get("envelope")
        sender = envelope.get("sender") if isinstance(envelope, dict) else None
        await _to(sender if isinstance(sender, str) else None, key, value)

    async def _to(actor: str | None, key: bytes | None, value: bytes) -> None:
        if actor is not None and actor.isdigit():  # a sender we cannot name has no mailbox
            await publisher.publish(*mailbox_route(deps, actor, key), value)

    async def _unproven(event: EventT[bytes], refused: Refused) -> None:
        letter = message_dead_letter(
            event,
            reason="; ".join(f"{v.code}: {v.message}" for v in refused.violations),
            error_type="SenderNotAuthenticated",
            at=refused.received_at,
        )
        await publisher.publish(dead_letters, event.key, codec.encode(letter.schema, letter.value))

    async def intake(stream: faust.StreamT[bytes]) -> None:
        await handle_then_release(
            stream, handle, publisher.flush, settings.batch_max_events, settings.batch_within_ms / 1000
        )

    app.agent(source, name=f"intake-{family}")(intake)
