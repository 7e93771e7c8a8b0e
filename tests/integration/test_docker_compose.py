"""docker-compose.yml is valid for users with Docker: Debian's docker-compose parses it without an engine."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from streams.settings import PROJECT_ROOT

pytestmark = pytest.mark.integration

COMPOSE = PROJECT_ROOT / "docker-compose.yml"


def _config(path: Path) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("docker-compose")
    assert binary, "docker-compose is installed by `make tools` (part of `make test`)"
    return subprocess.run(
        [binary, "-f", str(path), "config"], capture_output=True, text=True, check=False, cwd=path.parent
    )


def test_docker_compose_accepts_the_file_with_the_stack_and_the_workers() -> None:
    result = _config(COMPOSE)

    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    assert {"kafka-secrets", "kafka", "clickhouse", "setup", "worker", "projector", "connectors-inbound"} <= (
        services.keys()
    )
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    mounts = [str(volume) for volume in services["clickhouse"]["volumes"]]
    assert any("crossroads-roles.xml" in mount and "/etc/clickhouse-server/users.d/" in mount for mount in mounts)
    build = services["kafka-secrets"]["build"]
    assert (Path(build["context"]) / build["dockerfile"]).is_file()


def test_docker_compose_runs_the_broker_on_the_trust_boundary() -> None:
    services = yaml.safe_load(_config(COMPOSE).stdout)["services"]
    kafka = services["kafka"]
    env = {key: str(value) for key, value in kafka["environment"].items()}

    protocols = dict(pair.split(":") for pair in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    listeners = [listener.split(":")[0] for listener in env["KAFKA_LISTENERS"].split(",")]
    assert protocols == {"INTERNAL": "SASL_SSL", "EXTERNAL": "SASL_SSL", "CONTROLLER": "SSL"}
    assert set(listeners) == set(protocols)  # no listener left in plaintext
    assert env["KAFKA_SASL_ENABLED_MECHANISMS"] == env["KAFKA_SASL_MECHANISM_INTER_BROKER_PROTOCOL"] == "SCRAM-SHA-512"
    assert env["KAFKA_LISTENER_NAME_CONTROLLER_SSL_CLIENT_AUTH"] == "required"  # mutual TLS, CN=broker
    assert env["KAFKA_SSL_KEYSTORE_TYPE"] == env["KAFKA_SSL_TRUSTSTORE_TYPE"] == "PEM"
    assert env["KAFKA_AUTHORIZER_CLASS_NAME"] == "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    assert env["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
    assert env["KAFKA_SUPER_USERS"] == "User:broker;User:operator"
    # the super users' SCRAM credentials are made when the storage is formatted, from the one-shot's files
    script = kafka["command"][0]
    assert "--add-scram" in script and "name=broker" in script and "name=operator" in script
    assert "--command-config /etc/crossroads/kafka/operator.properties" in kafka["healthcheck"]["test"][1]
    assert kafka["depends_on"]["kafka-secrets"]["condition"] == "service_completed_successfully"


def test_docker_compose_gives_every_crossroads_service_the_ca_and_the_one_secret() -> None:
    services = yaml.safe_load(_config(COMPOSE).stdout)["services"]
    secrets = " ".join(services["kafka-secrets"]["command"])
    assert "crossroads stack certificates" in secrets and "--host kafka --host localhost" in secrets
    assert "crossroads stack credentials" in secrets
    assert "crossroads topics apply && crossroads access apply && crossroads warehouse migrate" in " ".join(
        services["setup"]["entrypoint"]
    )
    assert services["setup"]["environment"]["CROSSROADS_KAFKA_PRINCIPAL"] == "operator"
    for name in ("kafka-secrets", "setup", "worker", "projector", "connectors-inbound"):
        assert services[name]["environment"]["CROSSROADS_KAFKA_CA_FILE"] == "/etc/crossroads/ca/ca.crt", name
        assert "CROSSROADS_ACCESS_SECRET" in services[name]["environment"], name
        if name != "kafka-secrets":  # the broker's key and the super users' passwords stay with the broker
            assert all(volume.startswith("kafka-ca:") for volume in services[name]["volumes"] if "kafka" in volume)
    # the secret comes from the user's environment (else the settings' public default), never from the file
    assert yaml.safe_load(COMPOSE.read_text())["x-crossroads-env"]["CROSSROADS_ACCESS_SECRET"] is None


def test_docker_compose_check_is_real_a_broken_file_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE.read_text().replace("    image: apache/kafka", "    imagee: apache/kafka", 1))

    result = _config(broken)

    assert result.returncode != 0
    assert "imagee" in result.stderr


def test_docker_compose_scrapes_every_platform_service_and_its_dashboard_asks_for_real_metrics() -> None:
    import json

    from prometheus_client import CollectorRegistry

    from streams.observability.metrics import PlatformMetrics

    services = yaml.safe_load(_config(COMPOSE).stdout)["services"]
    assert {"prometheus", "grafana"} <= services.keys()
    scrape = yaml.safe_load((COMPOSE.parent / "deploy" / "prometheus" / "prometheus.yml").read_text())
    targets = {
        target
        for job in scrape["scrape_configs"]
        if job["job_name"] == "crossroads"
        for group in job["static_configs"]
        for target in group["targets"]
    }
    ports = {"worker": "WORKER", "projector": "PROJECTOR", "connectors-inbound": "CONNECTOR"}
    for service, role in ports.items():
        env = services[service]["environment"]
        assert env["CROSSROADS_METRICS_HOST"] == "0.0.0.0"
        assert f"{service}:{env[f'CROSSROADS_METRICS_{role}_PORT']}" in targets
    registry = CollectorRegistry()
    PlatformMetrics.on(registry)
    known = {family.name for family in registry.collect()}
    dashboard = json.loads((COMPOSE.parent / "deploy" / "grafana" / "dashboards" / "crossroads.json").read_text())
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    assert expressions
    for expression in expressions:
        named = set(re.findall(r"crossroads_[a-z_]+", expression))
        bare = {re.sub(r"_(total|bucket|count|sum)$", "", name) for name in named}
        assert bare <= known, f"{expression} asks for {bare - known}"
