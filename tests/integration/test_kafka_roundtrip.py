"""The broker really works: a raw confluent-kafka round trip and the topic catalog applied for real."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from streams.catalog import CATALOG, Cleanup
from streams.kafka.admin import TopicAdmin
from streams.kafka.security import client_config
from streams.settings import Settings

pytestmark = pytest.mark.integration


def test_a_thousand_messages_make_the_round_trip_in_order_per_key(stack_settings: Settings) -> None:
    topic = f"{stack_settings.topic_prefix}.scratch.roundtrip-{uuid.uuid4().hex[:6]}.v1"
    admin = AdminClient({**client_config(stack_settings)})
    admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])[topic].result(timeout=30)

    producer = Producer({**client_config(stack_settings), "enable.idempotence": True})
    sent = [(f"key-{i % 17}".encode(), f"message-{i}".encode()) for i in range(1000)]
    for key, value in sent:
        producer.produce(topic, key=key, value=value)
    assert producer.flush(30) == 0

    consumer = Consumer(
        {
            **client_config(stack_settings),
            "group.id": f"roundtrip-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    received: list[tuple[bytes, bytes]] = []
    try:
        for _ in range(120):
            for message in consumer.consume(num_messages=500, timeout=1.0):
                assert message.error() is None, message.error()
                received.append((message.key(), message.value()))
            if len(received) >= len(sent):
                break
    finally:
        consumer.close()

    assert sorted(received) == sorted(sent)
    for key in {k for k, _ in sent}:  # Kafka orders per partition, hence per key
        assert [v for k, v in received if k == key] == [v for k, v in sent if k == key]


def test_topics_apply_creates_the_catalog_and_is_idempotent(stack_settings: Settings) -> None:
    settings = stack_settings.model_copy(update={"topic_prefix": f"apply{uuid.uuid4().hex[:6]}"})
    admin = TopicAdmin(settings)

    first = admin.apply()
    second = admin.apply()

    assert {c.action for c in first} == {"created"}
    assert len(first) == len(CATALOG)
    assert {c.action for c in second} == {"unchanged"}
    states = {s.topic: s for s in admin.states()}
    for spec in CATALOG:
        state = states[spec.topic(settings.topic_prefix)]
        assert state.actual_partitions == settings.default_partitions
        assert state.config["cleanup.policy"] == str(spec.cleanup)
        if spec.cleanup is Cleanup.DELETE:  # the period the settings give it (streams.catalog.Retention)
            assert state.config["retention.ms"] == str(spec.resolved(settings).retention_ms)


def test_topics_apply_repairs_drift(stack_settings: Settings) -> None:
    settings = stack_settings.model_copy(update={"topic_prefix": f"drift{uuid.uuid4().hex[:6]}"})
    spec = CATALOG[0]
    topic = spec.topic(settings.topic_prefix)
    admin = AdminClient({**client_config(settings)})
    admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1, config={"retention.ms": "1000"})])[
        topic
    ].result(timeout=30)

    changes = TopicAdmin(settings).apply([spec])

    assert {c.action for c in changes} == {"partitions", "config"}
    state = TopicAdmin(settings).states([spec])[0]
    assert state.actual_partitions == settings.default_partitions
    assert state.config["retention.ms"] == str(spec.retention_ms)
