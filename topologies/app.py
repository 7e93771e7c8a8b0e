"""The faust application factory: no module-level app; each flow registers itself on the app it is given."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

import faust
from mode import CrashingSupervisor

from streams.catalog import OUTCOME_REQUEST_MAX_BYTES
from streams.kafka.security import SCRAM_MECHANISM, ssl_context
from streams.settings import Settings
from topologies.deps import Deps
from topologies.faust_overrides import TableManager, transport_class


class Flow(Protocol):
    """A module of topologies/ that adds its topics, tables and agents to an app."""

    def register(self, app: faust.App, deps: Deps) -> None: ...


def default_flows() -> list[Flow]:
    """The worker's flows: intake, the DmfA step (keyed by employer) and the directory (keyed by person). The
    directory also keeps the audit trail (`topologies.audit_trail`): it chains its own audit entries and those
    published to the pending topic, so that it is the one writer of each partition."""
    import topologies.directory
    import topologies.dmfa
    import topologies.intake

    return [topologies.intake, topologies.dmfa, topologies.directory]


def create_app(settings: Settings, flows: Sequence[Flow] | None = None, deps: Deps | None = None) -> faust.App:
    app = faust.App(
        settings.app_id,
        broker=[f"kafka://{server}" for server in settings.kafka_bootstrap.split(",")],
        broker_credentials=broker_credentials(settings),
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
        # instead of 16 KiB: under exactly_once, where the audit trail writes through this producer, a
        # partition's share of a directory batch's audit records is then one record batch as long as it is
        # under 1 MB (~2,000 records of ~300-450 bytes), which the broker appends or rejects as a whole -- a
        # chained record is not written after the record it links to was lost.  linger stays 0: no added latency
        producer_max_batch_size=1_000_000,
        # a rejection or dead letter quotes a whole intake message (streams.catalog.QUOTING_MAX_MESSAGE_BYTES)
        producer_max_request_size=OUTCOME_REQUEST_MAX_BYTES,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=settings.consumer_session_timeout_s,
        # new topics and partitions are found within 30 s, not faust's 5 min (a safety net behind run_worker's
        # wait for the topics)
        consumer_metadata_max_age_ms=30_000,
        broker_heartbeat_interval=settings.consumer_session_timeout_s / 10,
        # an agent that raises takes the worker down (exit code != 0) instead of being restarted in place
        # every few seconds on the same poison event while the group stays "healthy": infrastructure
        # errors crash loudly, the process supervisor (docker compose, systemd) restarts it
        agent_supervisor=CrashingSupervisor,
        # recovery that seeks the stream partitions before resuming them (topologies/faust_overrides.py)
        TableManager=TableManager,
    )
    app.transport = transport_class(settings.consumer_fetch_max_wait_ms)(app.conf.broker_consumer, app)
    deps = deps or Deps.from_settings(settings)
    for flow in flows if flows is not None else default_flows():
        flow.register(app, deps)
    return app


def broker_credentials(settings: Settings) -> faust.SASLCredentials | None:
    """The worker's login on the secured stack: SASL_SSL with SCRAM-SHA-512 as its principal, over TLS
    verified against the stack's CA (the same settings every confluent-kafka client gets from
    streams.kafka.security)."""
    if settings.kafka_security == "plaintext":
        return None
    return faust.SASLCredentials(
        username=settings.kafka_principal,
        password=settings.kafka_secret,
        ssl_context=ssl_context(settings),
        mechanism=SCRAM_MECHANISM,
    )


def source_topics(app: faust.App) -> list[str]:
    """Every topic the app's agents consume (a drained worker has committed the end of each)."""
    names: dict[str, None] = {}
    for agent in app.agents.values():
        for topic in getattr(agent.channel, "topics", ()):
            names[topic] = None
    return list(names)


def run_worker(settings: Settings, loglevel: str = "info") -> None:
    import dataclasses

    from streams.kafka.admin import wait_for_topics
    from streams.observability.exporter import serve
    from streams.observability.metrics import PlatformMetrics
    from streams.observability.sampling import Sampler, lag_of

    metrics = PlatformMetrics.on()  # the process's registry: its metrics with prometheus-client's process ones
    app = create_app(settings, deps=dataclasses.replace(Deps.from_settings(settings), metrics=metrics))
    # before the topics are waited for: a worker waiting on a missing topic is up, and says so
    serve(settings, "worker", settings.metrics_worker_port, metrics)
    Sampler(settings, [lag_of(settings, metrics, settings.app_id, lambda: source_topics(app))]).start()
    # subscribe only once the broker lists every topic the agents read (see wait_for_topics)
    wait_for_topics(settings, source_topics(app), timeout=settings.startup_topics_wait_s)
    logging.getLogger("aiokafka").setLevel(logging.WARNING)

    async def install_diagnostics() -> None:
        from topologies import diagnostics, directory_purge

        diagnostics.install(app)
        directory_purge.install(app)  # SIGUSR2: the directory purges now

    app.task(install_diagnostics)
    app.main_worker = True  # type: ignore[attr-defined]
    from faust.worker import Worker

    Worker(app, loglevel=loglevel, quiet=True).execute_from_commandline()
