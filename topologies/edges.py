"""What every agent does at its edges: decode (or dead-letter) what comes in, encode and publish what goes out."""

from __future__ import annotations

from typing import Any

from faust.types import EventT

from streams.catalog import mailbox
from streams.codecs import CodecError, Decoded
from streams.dead_letters import DeadLetter, dead_letter
from topologies.deps import Deps
from topologies.publisher import Publisher


def dead_letter_of(event: EventT[bytes], error: CodecError, deps: Deps) -> DeadLetter:
    """The message whole (bytes, key, headers, origin) with why it could not be handled."""
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


async def decode_or_dead_letter(event: EventT[bytes], deps: Deps, publisher: Publisher) -> Decoded | None:
    """The decoded message, or None after sending it whole to the dead letters."""
    try:
        return deps.codec.decode(event.value)
    except CodecError as exc:
        letter = dead_letter_of(event, exc, deps)
        await publisher.publish(
            deps.topic("outcomes", "dead-letters"), event.key, deps.codec.encode(letter.schema, letter.value)
        )
        return None


def mailbox_topic(deps: Deps, actor: str) -> str:
    return mailbox(actor).topic(deps.settings.topic_prefix)


def mailbox_route(deps: Deps, actor: str, key: bytes | None) -> tuple[str, bytes | None]:
    """Where a message for `actor` goes: (topic, key)."""
    return mailbox_topic(deps, actor), key


def encode(deps: Deps, schema: str, record: dict[str, Any]) -> bytes:
    return deps.codec.encode(schema, record)
