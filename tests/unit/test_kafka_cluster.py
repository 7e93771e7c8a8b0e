"""A Kafka cluster of the local stack, without starting it: settings, ports, configuration, quorum reading."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from streams.settings import Settings
from streams.stack.errors import StartError
from streams.stack.kafka import (
    QUORUM_STATE,
    KafkaCluster,
    check_ports,
    found_brokers,
    initial_heap,
    plan_nodes,
    quorum_leader_of,
    running_brokers,
)


def _config(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))
    return {key: value for key, value in pairs}


# -- settings: the broker count is the one source of truth --------------------------------------------------


def test_one_broker_is_the_stack_as_it_always_was() -> None:
    settings = Settings()
    assert settings.kafka_brokers == 1
    assert settings.kafka_bootstrap == "127.0.0.1:9092"
    assert settings.replication_factor == 1
    assert settings.kafka_min_insync_replicas == 1


def test_three_brokers_derive_the_bootstrap_list_and_the_replication() -> None:
    settings = Settings(kafka_brokers=3)
    assert settings.kafka_bootstrap == "127.0.0.1:9092,127.0.0.1:9094,127.0.0.1:9096"
    assert settings.kafka_host_port == ("127.0.0.1", 9092)
    assert settings.replication_factor == 3
    assert settings.kafka_min_insync_replicas == 2
    # the replication factor stops at 3, the bootstrap list does not
    five = Settings(kafka_brokers=5, kafka_bootstrap="127.0.0.1:19092")
    assert five.replication_factor == 3
    assert five.kafka_addresses[-1] == ("127.0.0.1", 19100)


def test_the_environment_sets_the_broker_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CROSSROADS_KAFKA_BROKERS", "3")
    monkeypatch.setenv("CROSSROADS_KAFKA_BOOTSTRAP", "127.0.0.1:19092")
    settings = Settings()
    assert settings.kafka_bootstrap == "127.0.0.1:19092,127.0.0.1:19094,127.0.0.1:19096"
    assert settings.replication_factor == 3


def test_a_child_process_gets_the_same_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    parent = Settings(kafka_brokers=3, kafka_bootstrap="127.0.0.1:19092")
    for name, value in parent.as_env().items():
        monkeypatch.setenv(name, value)
    child = Settings()
    assert (child.kafka_brokers, child.kafka_bootstrap, child.replication_factor) == (
        3,
        parent.kafka_bootstrap,
        3,
    )


def test_given_values_are_kept_when_they_agree() -> None:
    listed = Settings(kafka_brokers=3, kafka_bootstrap="10.0.0.1:9092,10.0.0.2:9092,10.0.0.3:9092")
    assert listed.kafka_addresses == [("10.0.0.1", 9092), ("10.0.0.2", 9092), ("10.0.0.3", 9092)]
    # a list of brokers alone says how many there are
    counted = Settings(kafka_bootstrap="10.0.0.1:9092,10.0.0.2:9092,10.0.0.3:9092")
    assert (counted.kafka_brokers, counted.replication_factor) == (3, 3)
    assert Settings(kafka_brokers=3, replication_factor=2).replication_factor == 2


@pytest.mark.parametrize(
    "given",
    [
        {"kafka_brokers": 3, "kafka_bootstrap": "127.0.0.1:9092,127.0.0.1:9094"},  # a broker left out
        {"kafka_brokers": 1, "kafka_bootstrap": "127.0.0.1:9092,127.0.0.1:9094"},  # two listed, one broker
        {"replication_factor": 3},  # more replicas than brokers
        {"kafka_brokers": 0},
    ],
)
def test_values_that_contradict_the_broker_count_are_refused(given: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Settings(**given)  # type: ignore[arg-type]


# -- ports and layout ---------------------------------------------------------------------------------------


def test_nodes_take_consecutive_pairs_of_ports(tmp_path: Path) -> None:
    nodes = plan_nodes(Settings(state_dir=tmp_path, kafka_brokers=3))
    assert [(n.node_id, n.port, n.controller_port) for n in nodes] == [
        (1, 9092, 9093),
        (2, 9094, 9095),
        (3, 9096, 9097),
    ]
    assert [n.home for n in nodes] == [tmp_path / "kafka" / f"node-{i}" for i in (1, 2, 3)]
    assert nodes[1].process.pid_file == tmp_path / "kafka" / "node-2" / "kafka.pid"
    assert nodes[1].process.log_file == tmp_path / "kafka" / "node-2" / "server.log"
    check_ports(nodes)


def test_a_single_node_keeps_the_historical_layout(tmp_path: Path) -> None:
    (node,) = plan_nodes(Settings(state_dir=tmp_path))
    assert node.home == tmp_path / "kafka"
    assert node.process.pid_file == tmp_path / "kafka" / "kafka.pid"
    assert node.data_dir == tmp_path / "kafka" / "data"


def test_listed_addresses_are_the_nodes_listeners(tmp_path: Path) -> None:
    settings = Settings(
        state_dir=tmp_path,
        kafka_brokers=2,
        kafka_bootstrap="127.0.0.1:20000,127.0.0.1:21000",
        kafka_controller_port=22000,
    )
    assert [(n.port, n.controller_port) for n in plan_nodes(settings)] == [(20000, 22000), (21000, 22002)]


def test_overlapping_ports_are_refused_before_anything_starts(tmp_path: Path) -> None:
    # controllers from 9094 on would take the second and third brokers' ports
    settings = Settings(state_dir=tmp_path, kafka_brokers=3, kafka_controller_port=9094)
    with pytest.raises(StartError, match="9094"):
        check_ports(plan_nodes(settings))
    with pytest.raises(StartError):
        KafkaCluster(settings).up()


# -- configuration ------------------------------------------------------------------------------------------


def test_each_node_of_three_is_a_voter_with_replication_3_and_min_isr_2(tmp_path: Path) -> None:
    settings = Settings(
        state_dir=tmp_path, kafka_brokers=3, kafka_bootstrap="127.0.0.1:19092", kafka_controller_port=19093
    )
    cluster = KafkaCluster(settings)
    cluster.configure()
    voters = "1@127.0.0.1:19093,2@127.0.0.1:19095,3@127.0.0.1:19097"
    for node in cluster.nodes:
        config = _config(node.config)
        assert config["node.id"] == str(node.node_id)
        assert config["process.roles"] == "broker,controller"
        assert config["controller.quorum.voters"] == voters
        assert config["listeners"] == f"CLIENT://127.0.0.1:{node.port},CONTROLLER://127.0.0.1:{node.controller_port}"
        assert config["advertised.listeners"] == f"CLIENT://127.0.0.1:{node.port}"
        # the secured stack by default: SASL_SSL for clients, mutual TLS to the controllers, the authorizer
        assert config["listener.security.protocol.map"] == "CLIENT:SASL_SSL,CONTROLLER:SSL"
        assert config["listener.name.controller.ssl.client.auth"] == "required"
        assert config["allow.everyone.if.no.acl.found"] == "false"
        assert config["super.users"] == "User:broker;User:operator"
        assert config["log.dirs"] == str(tmp_path / "kafka" / f"node-{node.node_id}" / "data")
        for key in (
            "default.replication.factor",
            "offsets.topic.replication.factor",
            "transaction.state.log.replication.factor",
            "share.coordinator.state.topic.replication.factor",
        ):
            assert config[key] == "3", key
        for key in ("min.insync.replicas", "transaction.state.log.min.isr", "share.coordinator.state.topic.min.isr"):
            assert config[key] == "2", key
        assert config["unclean.leader.election.enable"] == "false"
        assert config["auto.create.topics.enable"] == "false"


def test_the_single_node_config_keeps_replication_1(tmp_path: Path) -> None:
    cluster = KafkaCluster(Settings(state_dir=tmp_path))
    config = _config(cluster.configure())
    assert config["node.id"] == "1"
    assert config["controller.quorum.voters"] == "1@127.0.0.1:9093"
    for key in ("default.replication.factor", "offsets.topic.replication.factor", "min.insync.replicas"):
        assert config[key] == "1", key
    assert config["transaction.state.log.min.isr"] == "1"


@pytest.mark.parametrize(("heap", "xms"), [("1g", "256m"), ("384m", "256m"), ("200m", "200m"), ("1.5g", None)])
def test_the_initial_heap_never_exceeds_the_maximum(heap: str, xms: str | None) -> None:
    assert initial_heap(heap) == xms


# -- readiness: the controller quorum's leader, from the election state each voter persisted -----------------


def test_the_quorum_leader_is_the_newest_epochs_if_a_majority_follows_it() -> None:
    assert quorum_leader_of({1: (3, 1), 2: (3, 1), 3: (3, 1)}, voters=3) == 3
    # node 3 was killed: 1 and 2 elected 1 in epoch 2 (3's own stale file is not read, it is not alive)
    assert quorum_leader_of({1: (1, 2), 2: (1, 2)}, voters=3) == 1
    # node 3 is stopped (SIGSTOP), alive but still showing the old epoch
    assert quorum_leader_of({1: (1, 2), 2: (1, 2), 3: (3, 1)}, voters=3) == 1
    # an election under way, a leader that does not claim the epoch, too few voters
    assert quorum_leader_of({1: (-1, 2), 2: (3, 1)}, voters=3) is None
    assert quorum_leader_of({1: (3, 2), 2: (3, 2)}, voters=3) is None
    assert quorum_leader_of({1: (1, 2)}, voters=3) is None
    assert quorum_leader_of({}, voters=3) is None


def test_quorum_leader_reads_only_live_nodes_files(tmp_path: Path) -> None:
    cluster = KafkaCluster(Settings(state_dir=tmp_path, kafka_brokers=3))
    for node, (leader, epoch) in zip(cluster.nodes, [(2, 4), (2, 4), (3, 3)], strict=True):
        (node.data_dir / QUORUM_STATE).parent.mkdir(parents=True)
        (node.data_dir / QUORUM_STATE).write_text(json.dumps({"leaderId": leader, "leaderEpoch": epoch}))
    assert cluster.quorum_leader() is None  # no node of ours runs
    for node in cluster.nodes[:2]:
        node.process.pid_file.write_text(f"{os.getpid()}\n")  # a live pid stands for a running node
    assert cluster.quorum_leader() == 2


# -- recognising what runs -----------------------------------------------------------------------------------


def test_status_and_down_recognise_a_cluster_whatever_the_settings_say(tmp_path: Path) -> None:
    assert running_brokers(tmp_path) is None
    cluster = KafkaCluster(Settings(state_dir=tmp_path, kafka_brokers=3))
    cluster.configure()
    (tmp_path / "kafka" / "cluster.nodes").write_text("3\n")
    assert found_brokers(tmp_path) == 3  # not running, but its data is the only one there
    cluster.nodes[2].process.pid_file.write_text(f"{os.getpid()}\n")
    assert running_brokers(tmp_path) == 3
    # a single-node stack started from the same state directory is refused while the cluster runs
    with pytest.raises(StartError, match="3-node Kafka"):
        KafkaCluster(Settings(state_dir=tmp_path)).up()
    cluster.nodes[2].process.pid_file.unlink()


def test_a_cluster_cannot_silently_change_size(tmp_path: Path) -> None:
    (tmp_path / "kafka").mkdir()
    (tmp_path / "kafka" / "cluster.nodes").write_text("3\n")
    settings = Settings(
        state_dir=tmp_path, kafka_brokers=5, kafka_bootstrap="127.0.0.1:39092", kafka_controller_port=39093
    )
    with pytest.raises(StartError, match="3-node cluster"):
        KafkaCluster(settings).up()
