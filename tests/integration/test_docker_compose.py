"""docker-compose.yml is valid for users with Docker: Debian's docker-compose parses it without an engine."""

from __future__ import annotations

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
    assert {"kafka", "clickhouse", "setup", "worker", "projector", "connectors-inbound"} <= services.keys()
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    mounts = [str(volume) for volume in services["clickhouse"]["volumes"]]
    assert any("crossroads-roles.xml" in mount and "/etc/clickhouse-server/users.d/" in mount for mount in mounts)
    build = services["setup"]["build"]
    assert (Path(build["context"]) / build["dockerfile"]).is_file()


def test_docker_compose_check_is_real_a_broken_file_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE.read_text().replace("    image: apache/kafka", "    imagee: apache/kafka", 1))

    result = _config(broken)

    assert result.returncode != 0
    assert "imagee" in result.stderr
