"""What every agent does at its edges: decode (or dead-letter) what comes in, encode and publish what goes out."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any

from faust.types import EventT

from streams.catalog import EMPLOYERS_MAILBOX, mailbox
from streams.codecs import CodecError, Decoded
from streams.dead_letters import DeadLetter, dead_letter
from streams.domain.network import Network
from topologies.deps import Deps
from topologies.meters import FlowMeter
from topologies.publisher import Publisher


def dead_letter_of(event: EventT[bytes], error: CodecError, deps: Deps) -> DeadLetter:
    """The message whole (bytes, key, headers, origin) with why it could not be decoded."""
    return message_dead_letter(event, reason=str(error), error_type=type(error).__name__, at=deps.clock())


def message_dead_letter(event: EventT[bytes], *, reason: str, error_type: str, at: datetime) -> DeadLetter:
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
        reason=reason,
        error_type=error_type,
        at=at,
    )


async def decode_or_dead_letter(
    event: EventT[bytes], deps: Deps, publisher: Publisher, meter: FlowMeter
) -> Decoded | None:
    """The decoded message, or None after sending it whole to the dead letters."""
    try:
        return deps.codec.decode(event.value)
    except CodecError as exc:
        await send_to_dead_letters(event, exc, deps, publisher, meter)
        return None


async def send_to_dead_letters(
    event: EventT[bytes], error: CodecError, deps: Deps, publisher: Publisher, meter: FlowMeter
) -> None:
    """The message, whole, to the dead letters, with why; counted as the flow's dead-lettered outcome."""
    meter.dead_lettered(type(error).__name__)
    letter = dead_letter_of(event, error, deps)
    await publisher.publish(
        deps.topic("outcomes", "dead-letters"), event.key, deps.codec.encode(letter.schema, letter.value)
    )


@lru_cache(maxsize=256)
def _mailbox_topic(prefix: str, actor: str) -> str:
    return mailbox(actor).topic(prefix)


@lru_cache(maxsize=16)
def _employers_topic(prefix: str) -> str:
    return EMPLOYERS_MAILBOX.topic(prefix)


_institutions: tuple[Network, frozenset[str]] | None = None


def _institution_ids(network: Network) -> frozenset[str]:
    """The network's institution ids, computed once per network (by identity: hashing a Network per message
    would hash its authorizations)."""
    global _institutions
    cached = _institutions
    if cached is None or cached[0] is not network:
        cached = _institutions = (network, frozenset(network.institutions))
    return cached[1]


def mailbox_route(deps: Deps, actor: str, key: bytes | None) -> tuple[str, bytes | None]:
    """Where a message for `actor` goes: (topic, key).

    An institution of the network has its own mailbox topic and the message keeps its key (the person). Every
    other actor (employers) shares one topic, and the message is keyed by the actor's id, so that one
    employer's messages stay on one partition, in order; the person is inside each record. Readers find an
    actor's messages with `streams.catalog.mailbox_of`, the same rule."""
    prefix = deps.settings.topic_prefix
    if actor in _institution_ids(deps.network()):
        return _mailbox_topic(prefix, actor), key
    return _employers_topic(prefix), actor.encode()


def encode(deps: Deps, schema: str, record: dict[str, Any]) -> bytes:
    return deps.codec.encode(schema, record)
