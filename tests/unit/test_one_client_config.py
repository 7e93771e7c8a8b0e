"""Every Kafka client of the platform takes its connection from streams.kafka.security.client_config: a client
built from a bare bootstrap address connects without TLS or login, which the secured broker refuses (and which
once slipped into a test written before the broker was secured)."""

from __future__ import annotations

from streams.settings import PROJECT_ROOT

ONE_PLACE = PROJECT_ROOT / "streams" / "kafka" / "security.py"
ON_PURPOSE = "no login, on purpose"


def test_no_kafka_client_is_configured_outside_client_config() -> None:
    offenders = []
    for folder in ("streams", "topologies", "connectors", "bench", "tests"):
        for path in (PROJECT_ROOT / folder).rglob("*.py"):
            if path == ONE_PLACE or path == PROJECT_ROOT / "tests" / "unit" / "test_one_client_config.py":
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if '"bootstrap.servers"' in line and ON_PURPOSE not in line:
                    offenders.append(f"{path.relative_to(PROJECT_ROOT)}:{number}: {line.strip()}")
    assert not offenders, "use client_config(settings, ...):\n" + "\n".join(offenders)
