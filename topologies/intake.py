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

A dead letter replayed by an operator (`crossroads dead-letters replay`, `streams.domain.replay`) names its root
origin in a header; the same table remembers, under a key no subject has, each origin it decided (admitted or
refused), and a later replay of that origin -- run again, or racing the first on the same partition -- is skipped:
no second fact, rejection or acknowledgement. The sender-reference rule alone would refuse it, with a second
rejection. A message without that header costs one pass over its headers.
"""

from __future__ import annotations

import logging
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
from streams.domain.outcomes import ToDeadLetters
from streams.domain.references import SentReferences
from streams.domain.replay import first_admission, remembered_admission, replay_key, replay_letter, replay_origin
from streams.domain.seal import proven_producer
from streams.domain.senders import sender_violations
from topologies.batches import BatchedTable, run_flow, state_table, write_batch
from topologies.deps import Deps
from topologies.edges import decode_or_dead_letter
from topologies.outcomes import publish_outcomes

log = logging.getLogger(__name__)


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
    table = state_table(app, f"references-{family.name}", deps.topic("references", family.name))
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
        message = event.message
        ticket = deps.ticket_for(message.topic, message.partition, message.offset)
        # a replayed dead letter names its origin (streams.domain.replay): an origin decided once is not again
        origin = replay_origin(message.headers)
        if origin is not None:
            earlier = first_admission(remembered.get(replay_key(origin), event), str(ticket))
            if earlier is not None:
                log.info("replay of %s at %s skipped: decided as ticket %s", origin, ticket, earlier.ticket)
                meter.replay_skipped()
                return
        decoded = await decode_or_dead_letter(event, deps, publisher, meter)
        if decoded is None:
            return
        schema = decoded.schema_name
        # one form per enterprise number (a legacy 9-digit one gets its 0) before anything judges or stores it
        record, _ = enterprise_numbers(schema, decoded.record)
        received_at = deps.clock()
        producer = proven_producer(message.headers, message.topic, event.value, seal_key)
        # a message without key is not checked: its resend may land on another partition
        references = remembered.get(event.key, event) if event.key else None
        decision = admission.decide(
            schema,
            record,
            ticket=ticket,
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
        if origin is not None and not any(isinstance(o, ToDeadLetters) for o in decision.outcomes):
            # decided (admitted or refused): a later replay is skipped; dead-lettered again, it may come back
            letter = replay_letter(message.headers) or ""
            state = remembered_admission(origin, letter=letter, ticket=str(ticket), at=received_at)
            remembered.put(replay_key(origin), state, event)
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
