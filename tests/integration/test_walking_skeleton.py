"""A declaration travels for real: producer -> intake -> faust worker -> facts -> projector -> ClickHouse."""

from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka import Consumer, Producer

from connectors.clickhouse import connect
from streams.codecs import AvroCodec, SchemaRegistry
from streams.domain.samples import sample_dimona_in
from streams.kafka.sealing import intake_headers
from streams.kafka.security import client_config
from streams.settings import Settings
from tests.support import niss

pytestmark = pytest.mark.integration


def test_a_dimona_in_becomes_a_fact_then_a_warehouse_row(platform: Settings) -> None:
    settings = platform
    codec = AvroCodec(SchemaRegistry.from_directory(settings.schema_dir))
    # a worker of its own: the sample's worker may already hold this relation (a second IN is refused, no fact)
    record = {**sample_dimona_in(), "worker": niss()}
    reference = f"skeleton-{uuid.uuid4().hex[:10]}"
    record["envelope"]["sender_reference"] = reference
    facts_topic = f"{settings.topic_prefix}.facts.dimona.v1"
    consumer = Consumer(
        {
            **client_config(settings),
            "group.id": f"skeleton-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([facts_topic])

    producer = Producer({**client_config(settings)})
    intake = f"{settings.topic_prefix}.intake.dimona.v1"
    value = codec.encode("be.crossroads.dimona.DimonaIn", record)
    producer.produce(
        intake,
        key=record["worker"].encode(),
        value=value,
        headers=intake_headers(settings, record["envelope"]["sender"], intake, value),  # sealed by its employer
    )
    assert producer.flush(10) == 0

    fact = None
    deadline = time.monotonic() + 60
    while fact is None and time.monotonic() < deadline:
        for message in consumer.consume(num_messages=100, timeout=0.5):
            assert message.error() is None
            decoded = codec.decode(message.value())
            if decoded.record["envelope"]["sender_reference"] == reference:
                fact = (message, decoded)
    consumer.close()
    assert fact is not None, "no fact on the facts topic within 60 s"
    message, decoded = fact
    ticket = decoded.record["envelope"]["ticket"]
    assert uuid.UUID(ticket).version == 5  # derived from the intake position
    assert message.key() == record["worker"].encode()
    assert decoded.schema_name == "be.crossroads.dimona.DimonaIn"
    assert {k: v for k, v in decoded.record.items() if k != "envelope"} == {
        k: v for k, v in record.items() if k != "envelope"
    }

    client = connect(settings)
    rows: list[tuple[object, ...]] = []
    deadline = time.monotonic() + 60
    while not rows and time.monotonic() < deadline:
        rows = client.execute(
            f"SELECT kind, sender, facts_topic, facts_partition, facts_offset "
            f"FROM {settings.clickhouse.database}.journey FINAL WHERE ticket = %(ticket)s",
            {"ticket": ticket},
        )
        time.sleep(0.2)
    assert rows == [("dimona", record["envelope"]["sender"], facts_topic, message.partition(), message.offset())]


def test_undecodable_bytes_land_in_the_dead_letter_topic_whole(platform: Settings) -> None:
    settings = platform
    codec = AvroCodec(SchemaRegistry.from_directory(settings.schema_dir))
    garbage = b"\xc3\x01not-a-fingerprint-" + uuid.uuid4().bytes
    consumer = Consumer(
        {
            **client_config(settings),
            "group.id": f"dead-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([f"{settings.topic_prefix}.outcomes.dead-letters.v1"])
    producer = Producer({**client_config(settings)})
    intake = f"{settings.topic_prefix}.intake.dimona.v1"
    producer.produce(intake, key=b"some-key", value=garbage, headers=[("origin", b"test")])
    assert producer.flush(10) == 0

    letter = None
    deadline = time.monotonic() + 60
    while letter is None and time.monotonic() < deadline:
        for message in consumer.consume(num_messages=100, timeout=0.5):
            decoded = codec.decode(message.value())
            if decoded.record["raw"] == garbage:
                letter = decoded.record
    consumer.close()
    assert letter is not None, "the undecodable message never reached the dead-letter topic"
    assert letter["topic"] == intake
    assert letter["key"] == b"some-key"
    assert {"key": "origin", "value": b"test"} in letter["headers"]
    assert letter["reason"]
