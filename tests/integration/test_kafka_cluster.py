"""`crossroads stack up --brokers 3`: a 3-node KRaft cluster on a private state directory and private ports.

SIGKILL one node (the controller quorum's leader, the harder case) while producing with acks=all: nothing
acknowledged is lost, producing and consuming go on with two nodes, and the node restarted with its data
rejoins every partition's ISR. Never touches the session's shared stack.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from streams.kafka.security import client_config
from streams.settings import Settings
from streams.stack.kafka import KafkaCluster
from streams.stack.process import free_ports
from streams.stack.workers import crossroads_argv

pytestmark = pytest.mark.integration

NODES = 3
PARTITIONS = 6


def _free_port_base(width: int = 2 * NODES) -> int:
    """Brokers on base+0,2,4, controllers on +1,3,5: a range free below the ephemeral ports."""
    return free_ports(width)


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*crossroads_argv(), "stack", *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture(scope="module")
def cluster_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[KafkaCluster, dict[str, str]]]:
    state = tmp_path_factory.mktemp("kraft3")
    base = _free_port_base()
    settings = Settings(
        state_dir=state,
        kafka_brokers=NODES,
        kafka_bootstrap=f"127.0.0.1:{base}",
        kafka_controller_port=base + 1,
        kafka_heap="384m",  # three JVMs on a small machine
        replication_factor=3,
        default_partitions=PARTITIONS,
    )
    # share the jar cache read-only: resolving Kafka again would only test Maven
    jars = Settings().state_dir / "cache" / f"kafka-{settings.kafka_version}"
    (state / "cache").mkdir()
    if (jars / ".complete").exists():
        (state / "cache" / jars.name).symlink_to(jars, target_is_directory=True)
    # the CLI sees exactly these settings, whatever CROSSROADS_* the test session runs with
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("CROSSROADS_")}
    env.update(
        {
            "CROSSROADS_STATE_DIR": str(state),
            "CROSSROADS_KAFKA_BOOTSTRAP": f"127.0.0.1:{base}",  # the first node; the others follow it
            "CROSSROADS_KAFKA_CONTROLLER_PORT": str(base + 1),
            "CROSSROADS_KAFKA_HEAP": settings.kafka_heap,
            "CROSSROADS_KAFKA_VERSION": settings.kafka_version,
            "CROSSROADS_DEFAULT_PARTITIONS": str(PARTITIONS),
            "COLUMNS": "250",
        }
    )
    cluster = KafkaCluster(settings)
    try:
        started = _cli(env, "up", "--brokers", str(NODES), "--only", "kafka")
        assert started.returncode == 0, started.stdout + started.stderr
        yield cluster, env
    finally:
        cluster.down()  # by pid file, whatever the test left running


def _in_sync(admin: AdminClient, topic: str) -> bool:
    """Every partition of the topic has its 3 replicas in sync (as the broker asked knows it)."""
    partitions = admin.list_topics(topic=topic, timeout=10).topics[topic].partitions
    return len(partitions) == PARTITIONS and all(len(meta.isrs) == 3 for meta in partitions.values())


def _topic_config(admin: AdminClient, topic: str, timeout: float = 30.0) -> dict[str, str]:
    # each broker learns of a new topic from the metadata log on its own: the one asked may not know it yet
    deadline = time.monotonic() + timeout
    while True:
        try:
            future = next(iter(admin.describe_configs([ConfigResource("topic", topic)]).values()))
            return {name: entry.value for name, entry in future.result(timeout=10).items()}
        except KafkaException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _produce(settings: Settings, topic: str, values: list[bytes]) -> None:
    """Produce with acks=all and wait for every acknowledgement; fail on any delivery error."""
    errors: list[KafkaError] = []

    def delivered(error: KafkaError | None, _: Message) -> None:
        if error is not None:
            errors.append(error)

    producer = Producer(
        client_config(settings, **{"acks": "all", "enable.idempotence": True, "linger.ms": 5, "log_level": 3})
    )
    for value in values:
        producer.produce(topic, key=value, value=value, on_delivery=delivered)
        producer.poll(0)
    assert producer.flush(90) == 0, "records still unacknowledged after 90 s"
    assert not errors, errors[:5]


def _consume_all(settings: Settings, topic: str, expected: int, timeout: float = 60.0) -> list[bytes]:
    """Read the topic from the start with a new group, commit, return the values."""
    consumer = Consumer(
        {
            **client_config(settings),
            "group.id": f"chaos-{uuid.uuid4().hex[:6]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "log_level": 3,
        }
    )
    values: list[bytes] = []
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + timeout
        while len(values) < expected and time.monotonic() < deadline:
            for message in consumer.consume(num_messages=500, timeout=1.0):
                if message.error() is None:
                    values.append(message.value() or b"")
        consumer.commit(asynchronous=False)  # the offsets topic (RF 3, min ISR 2) takes commits too
    finally:
        consumer.close()
    return values


def _wait(condition: Callable[[], object], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} within {timeout:.0f}s"
        time.sleep(0.5)


def test_a_killed_node_loses_nothing_and_rejoins_with_its_data(
    cluster_env: tuple[KafkaCluster, dict[str, str]],
) -> None:
    cluster, env = cluster_env
    # every node's address, as the cluster's own settings list them (the CA and the operator's login with them)
    settings = cluster.settings
    admin = AdminClient(client_config(settings, log_level=3))
    assert cluster.registered() == {1, 2, 3}
    assert cluster.quorum_leader() in {1, 2, 3}

    topic = f"chaos-{uuid.uuid4().hex[:6]}"
    admin.create_topics([NewTopic(topic, num_partitions=PARTITIONS, replication_factor=3)])[topic].result(timeout=30)
    _wait(lambda: _in_sync(admin, topic), "every replica in sync", 30)
    assert _topic_config(admin, topic)["min.insync.replicas"] == "2"  # the cluster's default (broker config)

    before = [f"a-{i}".encode() for i in range(300)]
    _produce(settings, topic, before)

    victim = cluster.node(cluster.quorum_leader() or 0)
    kept = {p.name for p in victim.data_dir.glob(f"{topic}-*")}
    meta = (victim.data_dir / "meta.properties").read_text()
    assert kept, "the victim holds replicas of the topic"
    pid = victim.process.pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    _wait(lambda: victim.process.pid() is None, f"node {victim.node_id} gone", 10)

    # two nodes of three: acks=all still succeeds (min ISR 2), reads and group commits go on
    during = [f"b-{i}".encode() for i in range(300)]
    _produce(settings, topic, during)
    seen = _consume_all(settings, topic, expected=600)
    assert sorted(seen) == sorted(before + during), "a record acknowledged with acks=all was lost or doubled"
    _wait(lambda: cluster.quorum_leader() not in (None, victim.node_id), "a new controller leader", 30)
    _wait(lambda: cluster.registered() == {1, 2, 3} - {victim.node_id}, "the dead node fenced", 30)

    # back with the data it had: not formatted again, its replicas catch up and rejoin the ISR
    assert cluster.start_node(victim.node_id) is True
    assert cluster.start_node(victim.node_id) is False  # running: nothing to do
    assert (victim.data_dir / "meta.properties").read_text() == meta
    assert kept <= {p.name for p in victim.data_dir.glob(f"{topic}-*")}
    _wait(lambda: _in_sync(admin, topic), "the ISR back to 3", 60)
    assert cluster.registered() == {1, 2, 3}

    after = [f"c-{i}".encode() for i in range(100)]
    _produce(settings, topic, after)
    assert sorted(_consume_all(settings, topic, expected=700)) == sorted(before + during + after)

    # the CLI recognises the cluster without being told its size, lists each node, and stops them all
    status = _cli(env, "status", "--only", "kafka")
    assert status.returncode == 0, status.stdout + status.stderr
    assert "3/3 brokers" in status.stdout
    assert all(f"node {n.node_id}" in status.stdout for n in cluster.nodes)
    assert "quorum leader" in status.stdout
    again = _cli(env, "up", "--brokers", "3", "--only", "kafka")
    assert again.returncode == 0 and "kafka already running" in again.stdout, again.stdout + again.stderr
    down = _cli(env, "down", "--only", "kafka")
    assert down.returncode == 0 and "kafka" in down.stdout, down.stdout + down.stderr
    assert all(node.process.pid() is None for node in cluster.nodes)
    assert not list(Path(env["CROSSROADS_STATE_DIR"]).rglob("*.pid"))
