"""`crossroads stack up | status | down` on a private stack (own ports, own data directory).

Runs the real commands as an operator would. The private stack never touches the session's shared one.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from clickhouse_driver import Client
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from streams.kafka.security import client_config
from streams.settings import Settings
from streams.stack.workers import crossroads_argv

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def private_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    shared = Settings()
    state = tmp_path_factory.mktemp("private-stack")
    # share the jar cache: resolving Kafka again would only test Maven
    (shared.state_dir / "cache").mkdir(parents=True, exist_ok=True)
    (state / "cache").symlink_to(shared.state_dir / "cache", target_is_directory=True)
    env = {
        **os.environ,
        "CROSSROADS_STATE_DIR": str(state),
        "CROSSROADS_KAFKA_BOOTSTRAP": "127.0.0.1:19092",
        "CROSSROADS_KAFKA_CONTROLLER_PORT": "19093",
        "CROSSROADS_KAFKA_HEAP": "512m",
        "CROSSROADS_CLICKHOUSE_URL": "clickhouse://default:@127.0.0.1:19000/crossroads",
        "CROSSROADS_CLICKHOUSE_HTTP_PORT": "18123",
        "COLUMNS": "250",
    }
    yield env
    _stack(env, "down")


def _stack(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*crossroads_argv(), "stack", *args], env=env, capture_output=True, text=True, timeout=600, check=False
    )


def test_up_is_idempotent_status_tells_all_down_stops_and_data_survives(private_stack: dict[str, str]) -> None:
    env = private_stack
    first = _stack(env, "up")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "kafka started" in first.stdout
    assert "clickhouse started" in first.stdout

    second = _stack(env, "up")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "kafka already running" in second.stdout
    assert "clickhouse already running" in second.stdout

    status = _stack(env, "status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert "4.4.0" in status.stdout  # the broker's version, from its jars
    assert "18.16" in status.stdout  # Debian's ClickHouse
    assert "19092" in status.stdout and "19000" in status.stdout
    assert env["CROSSROADS_STATE_DIR"] in status.stdout.replace("\n", "")

    # leave data in both services (as the private stack's operator, trusting its own CA)
    private = Settings(state_dir=Path(env["CROSSROADS_STATE_DIR"]), kafka_bootstrap="127.0.0.1:19092")
    topic = f"survivor-{uuid.uuid4().hex[:6]}"
    admin = AdminClient(client_config(private))
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(timeout=30)
    producer = Producer(client_config(private))
    producer.produce(topic, value=b"still here")
    assert producer.flush(10) == 0
    ch = Client(host="127.0.0.1", port=19000)
    ch.execute("CREATE TABLE IF NOT EXISTS default.survivor (x String) ENGINE = MergeTree ORDER BY x")
    ch.execute("INSERT INTO default.survivor (x) VALUES", [("still here",)])
    ch.disconnect()

    down = _stack(env, "down")
    assert down.returncode == 0
    assert "kafka" in down.stdout and "clickhouse" in down.stdout
    stopped = _stack(env, "status")
    assert stopped.returncode == 3  # status says "not running" with its exit code
    for pid_file in Path(env["CROSSROADS_STATE_DIR"]).rglob("*.pid"):
        raise AssertionError(f"{pid_file} left behind after down")

    again = _stack(env, "up")
    assert again.returncode == 0, again.stdout + again.stderr
    consumer = Consumer(client_config(private, **{"group.id": "survivor", "auto.offset.reset": "earliest"}))
    consumer.subscribe([topic])
    values = []
    for _ in range(30):
        values += [m.value() for m in consumer.consume(num_messages=10, timeout=1.0) if m.error() is None]
        if values:
            break
    consumer.close()
    assert values == [b"still here"]
    ch = Client(host="127.0.0.1", port=19000)
    assert ch.execute("SELECT x FROM default.survivor") == [("still here",)]
    ch.disconnect()


def test_down_never_stops_what_it_did_not_start(private_stack: dict[str, str], tmp_path: Path) -> None:
    assert _stack(private_stack, "up").returncode == 0
    env = {**private_stack, "CROSSROADS_STATE_DIR": str(tmp_path / "elsewhere")}
    result = _stack(env, "down")
    assert result.returncode == 0
    assert "nothing of ours was running" in result.stdout
    assert _stack(private_stack, "status").returncode == 0, "the other stack must still be running"
