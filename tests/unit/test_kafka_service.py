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
    assert "listeners=CLIENT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093" in config
    for line in (
        "offsets.topic.replication.factor=1",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "auto.create.topics.enable=false",
    ):
        assert line in config.splitlines()
    assert f"log.dirs={tmp_path / 'kafka' / 'data'}" in config


def test_plaintext_baseline_has_no_authorizer_and_no_sasl(tmp_path: Path) -> None:
    settings = Settings(
        state_dir=tmp_path, kafka_bootstrap="127.0.0.1:19092", kafka_controller_port=19093, kafka_security="plaintext"
    )
    config = KafkaService(settings).configure().read_text()
    assert "listener.security.protocol.map=CLIENT:PLAINTEXT,CONTROLLER:PLAINTEXT" in config
    assert "authorizer.class.name" not in config
    assert not (tmp_path / "tls").exists()


def test_secured_stack_makes_a_ca_and_a_broker_certificate_naming_its_hosts(tmp_path: Path) -> None:
    from cryptography import x509

    settings = Settings(state_dir=tmp_path, kafka_bootstrap="127.0.0.1:19092", kafka_controller_port=19093)
    config = KafkaService(settings).configure().read_text()
    assert f"ssl.truststore.location={tmp_path / 'tls' / 'ca.crt'}" in config
    pem = (tmp_path / "tls" / "broker.pem").read_bytes()
    assert (tmp_path / "tls" / "broker.pem").stat().st_mode & 0o077 == 0  # the key is the operator's only
    broker = x509.load_pem_x509_certificates(pem)[0]
    names = broker.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "127.0.0.1" in {str(ip) for ip in names.get_values_for_type(x509.IPAddress)}
    ca = x509.load_pem_x509_certificate((tmp_path / "tls" / "ca.crt").read_bytes())
    broker.verify_directly_issued_by(ca)
