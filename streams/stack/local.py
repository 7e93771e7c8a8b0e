"""The whole local stack, in start order: the Kafka broker (or cluster), the ClickHouse server, and with
`--with-monitoring` a Prometheus that scrapes the platform's processes."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from streams.settings import Settings
from streams.stack.clickhouse import ClickHouseService
from streams.stack.kafka import KafkaCluster
from streams.stack.prometheus import PrometheusService
from streams.stack.service import Service, ServiceStatus


@dataclass(frozen=True)
class Started:
    service: str
    started: bool
    seconds: float


class LocalStack:
    def __init__(self, settings: Settings, only: tuple[str, ...] = (), *, monitoring: bool = False) -> None:
        """`monitoring`: Prometheus too (`--with-monitoring`); a Prometheus of ours already running is always
        in the stack, so that `down` and `status` see it."""
        prometheus = PrometheusService(settings)
        services: list[Service] = [KafkaCluster(settings), ClickHouseService(settings)]
        if monitoring or prometheus.process.pid() is not None or "prometheus" in only:
            services.append(prometheus)
        self.services = [s for s in services if not only or s.name in only]

    def up(self, on_event: Callable[[str], None] = lambda _: None) -> list[Started]:
        """Idempotent: starts what is not running, waits until everything answers."""
        results = []
        for service in self.services:
            on_event(f"{service.name}: starting (or checking)")
            began = time.monotonic()
            started = service.up()
            results.append(Started(service.name, started, time.monotonic() - began))
            on_event(f"{service.name}: {'started' if started else 'already running'}")
        return results

    def down(self) -> list[str]:
        """Stops only the processes this project started (pid files), in reverse start order."""
        return [s.name for s in reversed(self.services) if s.down()]

    def status(self) -> list[ServiceStatus]:
        """One row per service; a Kafka cluster adds one row per node after its own."""
        rows: list[ServiceStatus] = []
        for service in self.services:
            rows.extend(service.statuses() if isinstance(service, KafkaCluster) else [service.status()])
        return rows
