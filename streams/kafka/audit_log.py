"""Reading a topic partition directly (no consumer group, nothing committed): the audit topic's chain head for
the auditor, whole partitions and ranges of them (from a seal on) for ``crossroads audit``.

Reads are ``read_committed``: under exactly-once a record of an aborted transaction never happened, so a
chain must neither link to it nor be checked against it.  For the same reason the last record is *searched*
backwards from the high watermark instead of read at ``high - 1``: that offset may hold a transaction marker.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from streams.kafka import KafkaAdapterError
from streams.kafka.security import client_config
from streams.settings import Settings

__all__ = [
    "LogRecord",
    "TopicMissingError",
    "last_record",
    "partition_count",
    "read_partition",
    "read_range",
    "watermarks",
]

TIMEOUT_S = 10.0


class TopicMissingError(KafkaAdapterError):
    """The broker answered: it has no such topic (as opposed to not answering at all)."""


@dataclass(frozen=True, slots=True)
class LogRecord:
    partition: int
    offset: int
    key: bytes | None
    value: bytes


def _consumer(settings: Settings, extra: Mapping[str, str] | None = None) -> Consumer:
    return Consumer(
        {
            **client_config(settings),
            # required by the client, never used: partitions are assigned, offsets never committed
            # under the app id: the worker's grants cover its readers' groups (streams.access)
            "group.id": f"{settings.app_id}-reader-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "isolation.level": "read_committed",
            "log_level": 4,
            **(extra or {}),
        }
    )


def partition_count(settings: Settings, topic: str) -> int:
    consumer = _consumer(settings)
    try:
        metadata = consumer.list_topics(topic, timeout=TIMEOUT_S).topics.get(topic)
    except KafkaException as exc:
        raise KafkaAdapterError(f"cannot describe {topic} at {settings.kafka_bootstrap}: {exc}") from exc
    finally:
        consumer.close()
    if metadata is None or (metadata.error is None and not metadata.partitions):
        raise TopicMissingError(f"topic {topic} does not exist at {settings.kafka_bootstrap}")
    if metadata.error is not None:
        if metadata.error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
            raise TopicMissingError(f"topic {topic} does not exist at {settings.kafka_bootstrap}")
        raise KafkaAdapterError(f"cannot describe {topic} at {settings.kafka_bootstrap}: {metadata.error}")
    return len(metadata.partitions)


def _scan(consumer: Consumer, topic: str, partition: int, start: int, end: int) -> Iterator[LogRecord]:
    """Records of [start, end) in order; stops at the end of the partition too."""
    consumer.assign([TopicPartition(topic, partition, start)])
    while True:
        message = consumer.poll(TIMEOUT_S)
        if message is None:
            raise KafkaAdapterError(f"no answer reading {topic}[{partition}] from offset {start} in {TIMEOUT_S}s")
        error = message.error()
        if error is not None:
            if error.code() == KafkaError._PARTITION_EOF:
                return
            raise KafkaAdapterError(f"reading {topic}[{partition}]: {error}")
        offset = message.offset()
        if offset is None or offset >= end:
            return
        yield LogRecord(partition, offset, message.key(), message.value() or b"")
        if offset + 1 >= end:
            return


def _watermarks(consumer: Consumer, topic: str, partition: int) -> tuple[int, int]:
    try:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=TIMEOUT_S)
    except KafkaException as exc:
        raise KafkaAdapterError(f"cannot read the watermarks of {topic}[{partition}]: {exc}") from exc
    return int(low), int(high)


def watermarks(settings: Settings, topic: str, partition: int) -> tuple[int, int]:
    """``(low, high)``: the oldest offset the partition keeps and the next offset it will write."""
    consumer = _consumer(settings)
    try:
        return _watermarks(consumer, topic, partition)
    finally:
        consumer.close()


def read_range(settings: Settings, topic: str, partition: int, start: int, end: int) -> Iterator[LogRecord]:
    """The records of offsets [start, end), in order (none for offsets that hold transaction markers or
    aborted records).  ``start`` below the oldest kept offset raises instead of silently skipping: records
    removed while we read must not look like an empty range."""
    if end <= start:
        return
    consumer = _consumer(settings, {"auto.offset.reset": "error"})
    try:
        yield from _scan(consumer, topic, partition, start, end)
    finally:
        consumer.close()


def read_partition(settings: Settings, topic: str, partition: int) -> Iterator[LogRecord]:
    """Every record of one partition, from the oldest kept to the high watermark as it was when called."""
    consumer = _consumer(settings)
    try:
        low, high = _watermarks(consumer, topic, partition)
        if high > low:
            yield from _scan(consumer, topic, partition, low, high)
    finally:
        consumer.close()


def last_record(settings: Settings, topic: str, partition: int) -> LogRecord | None:
    """The last (committed) record of a partition, or None when it has none."""
    consumer = _consumer(settings)
    try:
        low, high = _watermarks(consumer, topic, partition)
        window = 1
        while high > low:
            start = max(low, high - window)
            found = None
            for found in _scan(consumer, topic, partition, start, high):  # noqa: B007 - we want the last one
                pass
            if found is not None:
                return found
            if start == low:
                return None
            window *= 8  # only markers (or aborted records) at the end: look further back
        return None
    finally:
        consumer.close()
