"""The local broker's configuration, without starting it."""

from __future__ import annotations

from pathlib import Path

from streams.settings import Settings
from streams.stack.kafka import KafkaService


def test_the_cluster_id_is_kept_and_never_reads_as_a_command_line_option(tmp_path: Path) -> None:
    ids = set()
    for n in range(300):
        service = KafkaService(Settings(state_dir=tmp_path / str(n)))
        service.home.mkdir(parents=True)
        first = service.cluster_id()
        assert first == service.cluster_id()  # chosen once, then kept
        assert not first.startswith("-") and len(first) == 22
        ids.add(first)
    assert len(ids) == 300


def test_single_node_config_lets_transactions_and_groups_work(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, kafka_bootstrap="127.0.0.1:19092", kafka_controller_port=19093)
    config = KafkaService(settings).configure().read_text()
    assert "listeners=PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093" in config
    for line in (
        "offsets.topic.replication.factor=1",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "auto.create.topics.enable=false",
    ):
        assert line in config.splitlines()
    assert f"log.dirs={tmp_path / 'kafka' / 'data'}" in config
