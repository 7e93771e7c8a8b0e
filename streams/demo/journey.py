"""One declaration's journey through the running platform: intake -> fact -> warehouse row, with timings."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition

from connectors.clickhouse.client import connect, execute
from streams.catalog import Area, by_key
from streams.codecs import AvroCodec
from streams.kafka.sealing import intake_headers
from streams.kafka.security import client_config
from streams.settings import Settings


@dataclass(frozen=True)
class Hop:
    what: str
    where: str
    seconds: float  # since the declaration was handed to the producer


@dataclass(frozen=True)
class Journey:
    sender_reference: str
    ticket: str
    hops: tuple[Hop, ...]
    row: dict[str, Any]


class JourneyTimeout(Exception):
    """A hop did not happen in time: names the hop, so an operator knows which process to look at."""


def trace(
    settings: Settings,
    codec: AvroCodec,
    record: dict[str, Any],
    timeout: float = 60.0,
    check: Callable[[], None] = lambda: None,
) -> Journey:
    """Send `record` (a DIMONA IN) to its intake topic and follow it until it is a row in ClickHouse. `check` is
    called while waiting, to stop at once when a process the journey goes through has died (it raises)."""
    schema = "be.crossroads.dimona.DimonaIn"
    reference = record["envelope"]["sender_reference"]
    intake = by_key(Area.INTAKE, "dimona").topic(settings.topic_prefix)
    facts = by_key(Area.FACTS, "dimona").topic(settings.topic_prefix)

    watcher = _watch_from_end(settings, facts)
    producer = Producer({**client_config(settings), "enable.idempotence": True})
    producer.list_topics(intake, timeout=10)  # connect first: the journey times the platform, not our bootstrap
    start = time.monotonic()
    value = codec.encode(schema, record)
    headers = intake_headers(settings, record["envelope"]["sender"], intake, value)
    producer.produce(intake, key=record["worker"].encode(), value=value, headers=headers)
    producer.flush(10)
    hops = [Hop("declaration produced", intake, time.monotonic() - start)]

    ticket, where = _await_fact(watcher, codec, reference, deadline=start + timeout, check=check)
    hops.append(Hop("accepted as a fact, ticket stamped", where, time.monotonic() - start))

    row = _await_row(settings, ticket, deadline=start + timeout, check=check)
    hops.append(
        Hop("projected into the warehouse", f"{settings.clickhouse.database}.journey", time.monotonic() - start)
    )
    return Journey(reference, ticket, tuple(hops), row)


def _watch_from_end(settings: Settings, topic: str) -> Consumer:
    """A consumer positioned at the current end of every partition, so it sees only what comes next."""
    consumer = Consumer(
        {
            **client_config(settings),
            "group.id": f"journey-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
        }
    )
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    assignment = []
    for p in partitions:
        _, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
        assignment.append(TopicPartition(topic, p, high))
    consumer.assign(assignment)
    return consumer


def _await_fact(
    consumer: Consumer, codec: AvroCodec, reference: str, deadline: float, check: Callable[[], None]
) -> tuple[str, str]:
    try:
        while time.monotonic() < deadline:
            check()
            for message in consumer.consume(num_messages=100, timeout=0.2):
                if message.error():
                    continue
                fact = codec.decode(message.value() or b"")
                envelope = fact.record["envelope"]
                if envelope["sender_reference"] == reference:
                    return envelope["ticket"], f"{message.topic()}[{message.partition()}]@{message.offset()}"
    finally:
        consumer.close()
    raise JourneyTimeout("the declaration never reached the facts topic: is `crossroads worker` running?")


def _await_row(settings: Settings, ticket: str, deadline: float, check: Callable[[], None]) -> dict[str, Any]:
    client = connect(settings)
    columns = (
        "ticket",
        "kind",
        "sender",
        "recorded_at",
        "accepted_at",
        "projected_at",
        "facts_topic",
        "facts_partition",
        "facts_offset",
    )
    query = f"SELECT {', '.join(columns)} FROM {settings.clickhouse.database}.journey FINAL WHERE ticket = %(ticket)s"
    try:
        while time.monotonic() < deadline:
            check()
            rows = execute(client, query, {"ticket": ticket})
            if rows:
                return dict(zip(columns, rows[0], strict=True))
            time.sleep(0.1)
    finally:
        client.disconnect()
    raise JourneyTimeout("the fact never reached ClickHouse: is `crossroads projector` running?")


def format_timestamp(value: datetime) -> str:
    return value.strftime("%H:%M:%S")
