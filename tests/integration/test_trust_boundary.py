"""The trust boundary on the real, secured broker: no login, no data; an institution reaches its own mailbox and
the intake, nothing else (docs/security.md)."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient

from streams.catalog import platform_topics
from streams.kafka.admin import TopicAdmin
from streams.kafka.security import client_config
from streams.network_files import load_network
from streams.settings import Settings
from streams.stack.workers import crossroads_argv
from tests.integration.harness import drop_topics, own_run

pytestmark = pytest.mark.integration

A, B = "0206731645", "0915943977"  # two mutualities of the sample network


@pytest.fixture(scope="module")
def trust(topics: Settings) -> Iterator[Settings]:
    """A run of its own (what these tests write to the intake is garbage no worker should read), with the
    deployment's grants (own_run applies them) and its topics."""
    settings = own_run(topics, "trust")
    TopicAdmin(settings).apply(platform_topics(load_network(settings.network_dir).institutions))
    yield settings
    drop_topics(settings)


def _client_config_of(settings: Settings, actor: str) -> dict[str, str]:
    """What `crossroads access client-config ACTOR` prints, as a user would copy it."""
    result = subprocess.run(
        [*crossroads_argv(), "access", "client-config", actor],
        env={**os.environ, **settings.as_env()},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def _mailbox(settings: Settings, actor: str) -> str:
    return f"{settings.topic_prefix}.mailbox.{actor}.v1"


def _errors_consuming(config: dict[str, Any], topic: str, group: str, *, want: int = 0) -> tuple[list[Any], int]:
    """Consume `topic` as `group` for a while: the errors the client reports, and how many records it read."""
    consumer = Consumer({**config, "group.id": group, "auto.offset.reset": "earliest", "log_level": 0})
    errors: list[Any] = []
    read = 0
    try:
        consumer.subscribe([topic])
        for _ in range(40):
            for message in consumer.consume(num_messages=100, timeout=0.5):
                if message.error() is not None:
                    errors.append(message.error().code())
                else:
                    read += 1
            if errors or (want and read >= want):
                break
    except KafkaException as exc:
        errors.append(exc.args[0].code())
    finally:
        consumer.close()
    return errors, read


def _delivery_error(config: dict[str, Any], topic: str) -> Any:
    outcome: list[Any] = []
    producer = Producer({**config, "log_level": 0, "message.timeout.ms": 20_000})
    producer.produce(topic, value=b"forged", on_delivery=lambda error, _: outcome.append(error))
    producer.flush(30)
    assert outcome, "the produce request was never answered"
    return outcome[0].code() if outcome[0] is not None else None


def test_a_client_without_credentials_cannot_list_topics(trust: Settings) -> None:
    anonymous = AdminClient({"bootstrap.servers": trust.kafka_bootstrap, "log_level": 0})  # no login, on purpose
    with pytest.raises(KafkaException):
        anonymous.list_topics(timeout=5)
    wrong = AdminClient(client_config(trust.as_principal(A, password="not-the-password"), log_level=0))
    with pytest.raises(KafkaException):
        wrong.list_topics(timeout=5)
    # the same broker answers the operator: the refusals above are the boundary, not a broker that is down
    assert _mailbox(trust, A) in AdminClient(client_config(trust)).list_topics(timeout=30).topics


def test_an_institution_reads_its_own_mailbox_with_its_client_config(trust: Settings) -> None:
    assert A in load_network(trust.network_dir).institutions
    marker = uuid.uuid4().hex.encode()
    producer = Producer(client_config(trust))  # the operator stands in for the platform's worker
    producer.produce(_mailbox(trust, A), key=b"93051822361", value=marker)
    assert producer.flush(30) == 0

    config = _client_config_of(trust, A)
    assert config["security.protocol"] == "SASL_SSL" and config["sasl.username"] == A
    errors, read = _errors_consuming(config, _mailbox(trust, A), f"{trust.topic_prefix}.{A}.reader", want=1)

    assert errors == []
    assert read >= 1


def test_an_institution_cannot_read_another_mailbox_or_join_its_group(trust: Settings) -> None:
    config = _client_config_of(trust, A)

    errors, read = _errors_consuming(config, _mailbox(trust, B), f"{trust.topic_prefix}.{A}.snooper")
    assert KafkaError.TOPIC_AUTHORIZATION_FAILED in errors and read == 0

    errors, read = _errors_consuming(config, _mailbox(trust, A), f"{trust.topic_prefix}.{B}.reader")
    assert KafkaError.GROUP_AUTHORIZATION_FAILED in errors and read == 0


@pytest.mark.parametrize("area", ["facts.civil", "audit.exchanges", "audit.pending", "directory.entries"])
def test_an_institution_cannot_write_the_platforms_own_topics(trust: Settings, area: str) -> None:
    config = _client_config_of(trust, A)

    assert _delivery_error(config, f"{trust.topic_prefix}.{area}.v1") == KafkaError.TOPIC_AUTHORIZATION_FAILED
    # while the intake is open to it (what it sends is judged there: docs/security.md)
    assert _delivery_error(config, f"{trust.topic_prefix}.intake.integrations.v1") is None


def test_a_service_is_no_super_user(trust: Settings) -> None:
    projector = client_config(trust.as_principal("projector"))
    assert _delivery_error(projector, f"{trust.topic_prefix}.facts.civil.v1") == KafkaError.TOPIC_AUTHORIZATION_FAILED
    errors, _ = _errors_consuming(projector, _mailbox(trust, A), f"{trust.app_id}-projector-snoop")
    assert KafkaError.TOPIC_AUTHORIZATION_FAILED in errors


def test_the_national_register_writes_civil_declarations_and_a_secretariat_reads_no_mailbox(trust: Settings) -> None:
    register = _client_config_of(trust, "0367302178")
    assert _delivery_error(register, f"{trust.topic_prefix}.intake.civil.v1") is None
    assert _delivery_error(register, f"{trust.topic_prefix}.intake.dimona.v1") == KafkaError.TOPIC_AUTHORIZATION_FAILED

    secretariat = _client_config_of(trust, "0448123469")
    assert _delivery_error(secretariat, f"{trust.topic_prefix}.intake.dimona.v1") is None
    errors, read = _errors_consuming(
        secretariat, f"{trust.topic_prefix}.mailbox.employers.v1", f"{trust.topic_prefix}.0448123469.reader"
    )
    # it has no consumer group at all (refused first) and no read on any topic
    refused = {KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.GROUP_AUTHORIZATION_FAILED}
    assert refused & set(errors) and read == 0
