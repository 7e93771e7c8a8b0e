"""What the flows need from the outside world, built once from the settings and handed to `register()`."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import faust

from streams.catalog import Area, by_key
from streams.codecs import AvroCodec, SchemaRegistry
from streams.settings import Settings
from topologies.publisher import FaustPublisher, Publisher


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Deps:
    settings: Settings
    codec: AvroCodec
    clock: Callable[[], datetime] = utc_now
    new_ticket: Callable[[], uuid.UUID] = uuid.uuid4
    publisher: Publisher | None = None  # None: publish through the app's own topics

    @classmethod
    def from_settings(cls, settings: Settings) -> Deps:
        registry = SchemaRegistry.from_directory(settings.schema_dir)
        return cls(settings=settings, codec=AvroCodec(registry, settings.schema_registry_url))

    def topic(self, area: str, name: str) -> str:
        return by_key(Area(area), name).topic(self.settings.topic_prefix)

    def publisher_for(self, app: faust.App) -> Publisher:
        return self.publisher or FaustPublisher(app)
