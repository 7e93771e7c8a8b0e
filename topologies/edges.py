"""What every agent does at its edges: decode (or dead-letter) what comes in, encode and publish what goes out."""

from __future__ import annotations

from typing import Any

from faust.types import EventT

from streams.catalog import mailbox
from streams.codecs import CodecError, Decoded
from streams.dead_letters import dead_letter
from topologies.deps import Deps
from topologies.publisher import Publisher


async def decode_or_dead_letter(event: EventT[bytes], deps: Deps, publisher: Publisher) -> Decoded | None:
    """The decoded message, or None after sending it whole (bytes, key, headers, origin) to the dead letters."""
    try:
        return deps.codec.decode(event.value)
    except CodecError as exc:
        message = event.message
        letter = dead_letter(
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            timestamp_ms=int(message.timestamp * 1000) if message.timestamp else None,
            key=message.key,
            headers=message.headers,
            raw=message.value,
            reason=str(exc),
            error_type=type(exc).__name__,
            at=deps.clock(),
        )
        await publisher.publish(
            deps.topic("outcomes", "dead-letters"), event.key, deps.codec.encode(letter.schema, letter.value)
        )
        return None


def mailbox_topic(deps: Deps, actor: str) -> str:
    return mailbox(actor).topic(deps.settings.topic_prefix)


def encode(deps: Deps, schema: str, record: dict[str, Any]) -> bytes:
    return deps.codec.encode(schema, record)
