"""Every metric the platform exports, in one place: names, help texts, labels and buckets.

Names follow Prometheus's conventions: `crossroads_` first, base units (`_seconds`, `_bytes`), `_total` for
counters. Each process builds its own `PlatformMetrics` on a registry (the default one in a process, a fresh
one in a test), so that two tests never see each other's counts.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

# the seed's service level is "98.68 % of the answers within 4 seconds": 4 must be a bucket bound
SERVICE_LEVEL_SECONDS = 4.0
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, SERVICE_LEVEL_SECONDS, 8.0, 16.0, 30.0, 60.0, 300.0)
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

# outcome kinds (the `kind` label of crossroads_outcomes_total)
ACCEPTED, REJECTED, DEAD_LETTERED, ANSWERED = "accepted", "rejected", "dead_lettered", "answered"
REPLAY_SKIPPED = "replay_skipped"  # a replayed dead letter whose origin was decided before


@dataclass(frozen=True)
class PlatformMetrics:
    registry: CollectorRegistry
    consumed: Counter
    produced: Counter
    outcomes: Counter
    notification_latency: Histogram
    consumer_lag: Gauge
    batch_release: Histogram
    projector_flush: Histogram
    projector_rows: Counter
    audit_verified_offset: Gauge
    audit_verified_at: Gauge
    connector_files: Gauge
    connector_records: Counter
    connector_processed: Counter
    up_since: Gauge

    @classmethod
    def on(cls, registry: CollectorRegistry | None = None) -> PlatformMetrics:
        r = REGISTRY if registry is None else registry
        return cls(
            registry=r,
            consumed=Counter(
                "crossroads_consumed_records",
                "Records a flow consumed, per flow and topic",
                ["flow", "topic"],
                registry=r,
            ),
            produced=Counter(
                "crossroads_produced_records",
                "Records a flow wrote, acknowledged by the broker, per flow and topic",
                ["flow", "topic"],
                registry=r,
            ),
            outcomes=Counter(
                "crossroads_outcomes",
                "Decisions by kind: accepted (a fact), answered (a consultation reply), rejected (by the first "
                "violation's code), dead_lettered (by error type), replay_skipped (a dead letter replayed again)",
                ["flow", "kind", "code"],
                registry=r,
            ),
            notification_latency=Histogram(
                "crossroads_notification_latency_seconds",
                "From the declaration's arrival on its intake topic (broker time) to a message it caused written "
                "to a mailbox, per declaration type and message (Notification, Acknowledgement, ConsultationReply)",
                ["declaration_type", "message"],
                buckets=LATENCY_BUCKETS,
                registry=r,
            ),
            consumer_lag=Gauge(
                "crossroads_consumer_lag_records",
                "Records not yet committed by a consumer group, per topic partition (end offset - committed)",
                ["group", "topic", "partition"],
                registry=r,
            ),
            batch_release=Histogram(
                "crossroads_batch_release_seconds",
                "How long a flow's batch release took: flush every output, then ack the batch's events",
                ["flow"],
                buckets=DURATION_BUCKETS,
                registry=r,
            ),
            projector_flush=Histogram(
                "crossroads_projector_flush_seconds",
                "How long the projector's flush took: every table's insert, then the offset commit",
                buckets=DURATION_BUCKETS,
                registry=r,
            ),
            projector_rows=Counter(
                "crossroads_projector_rows",
                "Rows the projector inserted into the warehouse, per table",
                ["table"],
                registry=r,
            ),
            audit_verified_offset=Gauge(
                "crossroads_audit_verified_offset",
                "The last audit record `crossroads audit verify` checked, per audit partition (from the seal "
                "file; -1: none yet)",
                ["topic", "partition"],
                registry=r,
            ),
            audit_verified_at=Gauge(
                "crossroads_audit_verified_timestamp_seconds",
                "When that audit partition was last verified (Unix time)",
                ["topic", "partition"],
                registry=r,
            ),
            connector_files=Gauge(
                "crossroads_connector_files",
                "Files a file-drop connector holds, by state",
                ["connector", "state"],
                registry=r,
            ),
            connector_records=Counter(
                "crossroads_connector_records",
                "Records a file-drop connector moved (inbound: to the intake; outbound: to files)",
                ["connector"],
                registry=r,
            ),
            connector_processed=Counter(
                "crossroads_connector_processed_files",
                "Files a file-drop connector finished, by outcome (ACCEPTED, REFUSED, FAILED, …; outbound: WRITTEN)",
                ["connector", "status"],
                registry=r,
            ),
            up_since=Gauge(
                "crossroads_process_start_time_seconds",
                "When this platform process started (Unix time), with its role",
                ["role"],
                registry=r,
            ),
        )
