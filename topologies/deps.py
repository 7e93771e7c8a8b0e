"""What the flows need from the outside world, built once from the settings and handed to `register()`."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import faust
from prometheus_client import CollectorRegistry

from streams.catalog import Area, by_key
from streams.codecs import AvroCodec
from streams.composition import codec_for, network_for, registry_for
from streams.domain.admission import intake_ticket
from streams.domain.network import Network
from streams.observability.metrics import PlatformMetrics
from streams.settings import Settings
from topologies.alignment import Progress
from topologies.meters import FlowMeter
from topologies.publisher import FaustPublisher, KafkaPublisher, Publisher


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Deps:
    settings: Settings
    codec: AvroCodec
    clock: Callable[[], datetime] = utc_now
    ticket_for: Callable[[str, int, int], uuid.UUID] = intake_ticket  # (topic, partition, offset) -> ticket
    publisher: Publisher | None = None  # None: publish through the app's own topics
    loaded_network: Network | None = None  # from_settings() loads settings.network_dir
    # the audit trail's ports (topologies.audit_trail.PartitionedPublisher / HeadReader); None: the real topic
    audit_publisher: Any = None
    audit_heads: Any = None
    # how far this worker's steps have got (topologies.alignment): one per app, shared by its flows
    progress: Progress = field(default_factory=Progress)
    # what the flows count (streams.observability); a registry of its own unless the worker gives the process's
    metrics: PlatformMetrics = field(default_factory=lambda: PlatformMetrics.on(CollectorRegistry()))
    # the partitions of a topic this worker holds and its partition count, None while they are not settled
    # (topologies.directory_purge); None: asked of the app's consumer
    held_partitions: Callable[[faust.App, str], tuple[set[int], int] | None] | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Deps:
        """Everything loaded and validated now, at start-up: a bad schema or network file stops the worker."""

        registry = registry_for(settings)
        return cls(
            settings=settings,
            codec=codec_for(settings, registry),
            loaded_network=network_for(settings),
        )

    def network(self) -> Network:
        if self.loaded_network is None:
            raise RuntimeError("this flow needs the network: build Deps with from_settings() or loaded_network=")
        return self.loaded_network

    def topic(self, area: str, name: str) -> str:
        return by_key(Area(area), name).topic(self.settings.topic_prefix)

    def meter(self, flow: str) -> FlowMeter:
        return FlowMeter(self.metrics, flow)

    def publisher_for(self, app: faust.App, meter: FlowMeter) -> Publisher:
        """One publisher per flow (each flushes its own batches). Under exactly_once the sends must go through
        faust's transactional producer; otherwise through librdkafka, several times cheaper per message."""
        if self.publisher is not None:
            return self.publisher
        progress = self.progress

        def written(topic: str, partition: int, offset: int) -> None:
            progress.written(topic, partition, offset)
            meter.written(topic, partition, offset)

        if self.settings.processing_guarantee == "exactly_once":
            return FaustPublisher(app, on_written=written)
        return KafkaPublisher(self.settings, on_written=written)
