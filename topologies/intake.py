"""Intake: decode with our codec, decide with `streams.domain.admission`, route the outcome.

received = admitted (facts topic) + refused (rejections topic) + undecodable (dead-letter topic).
"""

from __future__ import annotations

import faust
from faust.types import EventT

from streams.codecs import CodecError
from streams.dead_letters import DeadLetter, dead_letter
from streams.domain.admission import REJECTION_SCHEMA, Admitted, admit, rejection
from topologies.deps import Deps

FAMILIES = ("dimona", "dmfa", "civil", "integrations")


def register(app: faust.App, deps: Deps) -> None:
    for family in FAMILIES:
        _register_family(app, deps, family)


def _register_family(app: faust.App, deps: Deps, family: str) -> None:
    source = app.topic(deps.topic("intake", family), key_type=bytes, value_type=bytes)
    facts = deps.topic("facts", family)
    rejections = deps.topic("outcomes", "rejections")
    dead_letters = deps.topic("outcomes", "dead-letters")
    codec, publisher = deps.codec, deps.publisher_for(app)

    async def intake(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            try:
                decoded = codec.decode(event.value)
            except CodecError as exc:
                letter = _dead_letter(event, exc, deps)
                await publisher.publish(dead_letters, event.key, codec.encode(letter.schema, letter.value))
                continue
            decision = admit(decoded.schema_name, decoded.record, ticket=deps.new_ticket(), received_at=deps.clock())
            key = decision.key.encode() if decision.key else event.key
            if isinstance(decision, Admitted):
                await publisher.publish(facts, key, codec.encode(decoded.schema_name, decision.record))
            else:
                refusal = rejection(decoded.schema_name, decoded.record, decision, raw=event.value)
                await publisher.publish(rejections, key, codec.encode(REJECTION_SCHEMA, refusal))

    app.agent(source, name=f"intake-{family}")(intake)


def _dead_letter(event: EventT[bytes], error: CodecError, deps: Deps) -> DeadLetter:
    message = event.message
    return dead_letter(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        timestamp_ms=int(message.timestamp * 1000) if message.timestamp else None,
        key=message.key,
        headers=message.headers,
        raw=message.value,
        reason=str(error),
        error_type=type(error).__name__,
        at=deps.clock(),
    )
