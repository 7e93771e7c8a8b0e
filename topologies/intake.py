"""Intake: decode with our codec, decide with `streams.domain.admission`, route the outcomes.

received = admitted (facts, or the declarations topic of the step that decides them) + refused (rejections topic)
+ undecodable or unsealed (dead-letter topic).

Who sent a record is proven, not read from its envelope: the intake verifies the record's seal
(`streams.domain.seal`) and judges the envelope against the proven producer and the senders register
(`streams.domain.senders`).  Where an admitted record goes, and whether the intake acknowledges it, is its
kind's (`streams.domain.kinds`): civil decisions are final here (facts, acknowledged, looked up in the directory of
each person concerned); DIMONA and integrations go to the directory, and DmfA, keyed by employer, to the DmfA
step (`topologies.dmfa`), which may still refuse them and make the accepted ones facts; consultations go to the
directory to be answered.

A resend is refused, not processed twice (`streams.domain.references`): each family's intake keeps a faust table,
keyed as its topic (by subject), of the sender references it admitted within the window. Like the stateful steps
it writes that table when it releases a batch, after the batch's outputs are flushed, so a reference in the table
has its outcomes written; a replay after a crash finds its own ticket there and is decided again as the first time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import faust
from faust.types import EventT

from streams.codecs.references_state import decode_references, encode_references
from streams.domain import admission
from streams.domain.audit import AUDIT_SCHEMA
from streams.domain.credentials import derived_seal_key
from streams.domain.kinds import FAMILIES, Family
from streams.domain.normalise import enterprise_numbers
from streams.domain.references import SentReferences
from streams.domain.seal import proven_producer
from streams.domain.senders import sender_violations
from topologies.batches import BatchedTable, run_flow, write_batch
from topologies.deps import Deps
from topologies.edges import decode_or_dead_letter
from topologies.outcomes import publish_outcomes


def register(app: faust.App, deps: Deps) -> None:
    # every actor's seal key derives from the platform secret: computed once per actor, never stored
    keys: dict[str, bytes] = {}
    secret = deps.settings.access_secret.get_secret_value()

    def seal_key(actor: str) -> bytes:
        key = keys.get(actor)
        if key is None:
            key = keys[actor] = derived_seal_key(secret, actor)
        return key

    for family in FAMILIES:
        _register_family(app, deps, family, seal_key)


def _register_family(app: faust.App, deps: Deps, family: Family, seal_key: Callable[[str], bytes]) -> None:
    source = app.topic(deps.topic("intake", family.name), key_type=bytes, value_type=bytes)
    changelog = app.topic(deps.topic("references", family.name), key_type=bytes, value_type=bytes, compacting=True)
    table = app.Table(f"references-{family.name}", key_type=bytes, value_type=bytes, changelog_topic=changelog)
    pending_audit = deps.topic("audit", "pending")
    meter = deps.meter(f"intake-{family.name}")
    codec, publisher, settings, network = deps.codec, deps.publisher_for(app, meter), deps.settings, deps.network()
    window = timedelta(days=settings.duplicate_reference_days)
    remembered: BatchedTable[SentReferences] = BatchedTable(
        app,
        table,
        lambda key, value: decode_references(codec, key.decode(), value),
        lambda references: encode_references(codec, references),
    )

    async def to_pending(key: bytes | None, entry: dict[str, Any]) -> None:
        await publisher.publish(pending_audit, key, codec.encode(AUDIT_SCHEMA, entry))

    async def handle(event: EventT[bytes]) -> None:
        decoded = await decode_or_dead_letter(event, deps, publisher, meter)
        if decoded is None:
            return
        schema, message = decoded.schema_name, event.message
        # one form per enterprise number (a legacy 9-digit one gets its 0) before anything judges or stores it
        record, _ = enterprise_numbers(schema, decoded.record)
        received_at = deps.clock()
        producer = proven_producer(message.headers, message.topic, event.value, seal_key)
        # a message without key is not checked: its resend may land on another partition
        references = remembered.get(event.key, event) if event.key else None
        decision = admission.decide(
            schema,
            record,
            ticket=deps.ticket_for(message.topic, message.partition, message.offset),
            received_at=received_at,
            raw=event.value,
            encode=codec.encode,
            senders=sender_violations(schema, record, proven=producer, network=network, on=received_at.date()),
            producer=producer,
            references=references,
            window=window,
        )
        if decision.references is not None and event.key:
            remembered.put(event.key, decision.references, event)
        # quoted: a refused declaration's subject may be of any length (a valid one is 11 or 10 digits)
        key = decision.key.encode() if decision.key else event.key
        await publish_outcomes(
            decision.outcomes, event=event, key=key, deps=deps, publisher=publisher, meter=meter, audit=to_pending
        )

    async def release() -> None:
        # the outcomes, then the references: one remembered has its declaration's outcomes written
        await write_batch(publisher, remembered)

    async def intake(stream: faust.StreamT[bytes]) -> None:
        await run_flow(stream, handle, release, deps, meter)

    app.agent(source, name=f"intake-{family.name}")(intake)
