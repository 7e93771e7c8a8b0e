"""The faust application factory: no module-level app; each flow registers itself on the app it is given."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

import faust
from mode import CrashingSupervisor

from streams.settings import Settings
from topologies.deps import Deps
from topologies.transport import transport_class


class Flow(Protocol):
    """A module of topologies/ that adds its topics, tables and agents to an app."""

    def register(self, app: faust.App, deps: Deps) -> None: ...


def default_flows() -> list[Flow]:
    """The worker's flows. The auditor is not among them: the directory chains the audit entries itself (and
    those of the pending topic); `topologies.auditor` stays for a deployment that audits another flow."""
    import topologies.directory
    import topologies.intake

    return [topologies.intake, topologies.directory]


def create_app(settings: Settings, flows: Sequence[Flow] | None = None, deps: Deps | None = None) -> faust.App:
    app = faust.App(
        settings.app_id,
        broker=[f"kafka://{server}" for server in settings.kafka_bootstrap.split(",")],
        store=settings.store,
        # the faust web server is not used by the platform; when enabled it binds loopback only
        web_enabled=settings.web_enabled,
        web_port=settings.web_port,
        web_host="127.0.0.1",
        web_bind="127.0.0.1",
        topic_partitions=settings.default_partitions,
        topic_replication_factor=settings.replication_factor,
        processing_guarantee=settings.processing_guarantee,
        # our topics are declared by the catalog (`crossroads topics apply`); faust only creates its own
        # internal topics (changelogs, leader election)
        topic_allow_declare=True,
        # values are our own Avro bytes: faust must not try to (de)serialize them
        key_serializer="raw",
        value_serializer="raw",
        producer_acks=-1,
        # record batches of up to 1,000,000 bytes (under the broker's default message.max.bytes, 1,048,588)
        # instead of 16 KiB: a partition's share of an auditor batch (up to 2,000 audit records, < 1 MB) is
        # then one record batch, which the broker appends or rejects as a whole -- a chained record can never
        # be written after the record it links to was lost.  linger stays 0: no added latency
        producer_max_batch_size=1_000_000,
        consumer_auto_offset_reset="earliest",
        # an agent that raises takes the worker down (exit code != 0) instead of being restarted in place
        # every few seconds on the same poison event while the group stays "healthy": infrastructure
        # errors crash loudly, the process supervisor (docker compose, systemd) restarts it
        agent_supervisor=CrashingSupervisor,
    )
    app.transport = transport_class(settings.consumer_fetch_max_wait_ms)(app.conf.broker_consumer, app)
    deps = deps or Deps.from_settings(settings)
    for flow in flows if flows is not None else default_flows():
        flow.register(app, deps)
    return app


def run_worker(settings: Settings, loglevel: str = "info") -> None:
    app = create_app(settings)
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    app.main_worker = True  # type: ignore[attr-defined]
    from faust.worker import Worker

    Worker(app, loglevel=loglevel, quiet=True).execute_from_commandline()
