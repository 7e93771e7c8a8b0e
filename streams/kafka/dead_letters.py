"""The dead-letter topic read back, and replays written (docs/operations.md, "Dead letters").

Reads go straight to partitions (``streams.kafka.audit_log``): nothing is committed, no consumer group moves.
A replay is audited *before* it is sent: its audit entry (``streams.domain.audit.replay_entry``) goes to the
audit pending topic, and only once the broker holds it is the message produced -- a replay that fails leaves an
audited attempt, never an unaudited replay (the audit trail fails closed, docs/directory.md).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from streams.catalog import Area, by_key
from streams.codecs import AvroCodec, CodecError
from streams.dead_letters import DEAD_LETTER_SCHEMA
from streams.domain.audit import AUDIT_SCHEMA
from streams.domain.replay import Letter, letter_id, letter_of
from streams.kafka import KafkaAdapterError
from streams.kafka.audit_log import partition_count, read_partition, read_range
from streams.kafka.producer import producer_config
from streams.settings import Settings

__all__ = ["LetterNotFoundError", "Placed", "Unreadable", "dead_letter_topic", "read_letter", "read_letters", "send"]

TIMEOUT_S = 30.0


class LetterNotFoundError(KafkaAdapterError):
    """No dead letter at that id (no such partition, or an offset the topic does not hold)."""


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A record of the dead-letter topic that is no DeadLetter: named, not raised (nothing hides the others)."""

    id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Placed:
    topic: str
    partition: int
    offset: int


def dead_letter_topic(settings: Settings) -> str:
    return by_key(Area.OUTCOMES, "dead-letters").topic(settings.topic_prefix)


def _letter(codec: AvroCodec, partition: int, offset: int, value: bytes) -> Letter | Unreadable:
    try:
        return letter_of(partition, offset, codec.decode_as(DEAD_LETTER_SCHEMA, value))
    except CodecError as exc:
        return Unreadable(letter_id(partition, offset), str(exc))


def read_letters(settings: Settings, codec: AvroCodec) -> Iterator[Letter | Unreadable]:
    """Every record of the dead-letter topic, partition by partition, up to its end as of now."""
    topic = dead_letter_topic(settings)
    for partition in range(partition_count(settings, topic)):
        for record in read_partition(settings, topic, partition):
            yield _letter(codec, record.partition, record.offset, record.value)


def read_letter(settings: Settings, codec: AvroCodec, partition: int, offset: int) -> Letter | Unreadable:
    """The dead letter at ``partition:offset``; `LetterNotFoundError` when the topic holds none there."""
    topic = dead_letter_topic(settings)
    if partition >= partition_count(settings, topic):
        name = letter_id(partition, offset)
        raise LetterNotFoundError(f"no dead letter {name}: {topic} has no partition {partition}")
    for record in read_range(settings, topic, partition, offset, offset + 1):
        return _letter(codec, record.partition, record.offset, record.value)
    raise LetterNotFoundError(f"no dead letter {letter_id(partition, offset)} in {topic}")


def send(
    settings: Settings,
    codec: AvroCodec,
    *,
    audit: dict[str, Any],
    audit_key: bytes | None,
    topic: str,
    partition: int,
    key: bytes | None,
    value: bytes,
    headers: Sequence[tuple[str, bytes | None]],
) -> Placed:
    """Write the replay's audit entry, wait for it, then the replayed message; where the message landed."""
    producer = Producer(producer_config(settings))
    pending = by_key(Area.AUDIT, "pending").topic(settings.topic_prefix)
    _produce(producer, pending, None, audit_key, codec.encode(AUDIT_SCHEMA, audit), [])
    return _produce(producer, topic, partition, key, value, headers)


def _produce(
    producer: Producer,
    topic: str,
    partition: int | None,
    key: bytes | None,
    value: bytes,
    headers: Sequence[tuple[str, bytes | None]],
) -> Placed:
    outcome: list[Message | KafkaError] = []

    def delivered(error: KafkaError | None, message: Message) -> None:
        outcome.append(error if error is not None else message)

    extra: dict[str, Any] = {} if partition is None else {"partition": partition}
    try:
        producer.produce(topic, key=key, value=value, headers=list(headers), on_delivery=delivered, **extra)
        remaining = producer.flush(TIMEOUT_S)
    except (KafkaException, BufferError) as exc:  # the client's errors stop at this boundary
        raise KafkaAdapterError(f"not written to {topic}: {exc}") from exc
    if remaining or not outcome:
        raise KafkaAdapterError(f"not written to {topic}: undelivered after {TIMEOUT_S:.0f}s")
    result = outcome[0]
    if isinstance(result, KafkaError):
        raise KafkaAdapterError(f"not written to {topic}: {result}")
    return Placed(topic, result.partition() or 0, result.offset() or 0)
