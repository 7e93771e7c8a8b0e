"""The walking skeleton's projection: one `journey` row per fact, proving intake -> facts -> warehouse."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from connectors.clickhouse.projector import Origin
from connectors.clickhouse.warehouse import instant
from streams.codecs import Decoded


class JourneyProjection:
    table = "journey"
    columns = (
        "ticket",
        "kind",
        "sender",
        "recorded_at",
        "accepted_at",
        "projected_at",
        "facts_topic",
        "facts_partition",
        "facts_offset",
    )
    topics = ("facts.dimona", "facts.dmfa", "facts.civil", "facts.integrations")

    def rows(self, fact: Decoded, origin: Origin, now: float) -> list[tuple[Any, ...]]:
        envelope = fact.record["envelope"]
        return [
            (
                envelope["ticket"],
                fact.schema_name.rsplit(".", 2)[-2],  # be.crossroads.<kind>.<Record>
                envelope["sender"],
                instant(envelope["recorded_at"]),
                datetime.fromtimestamp(origin.timestamp_ms / 1000, UTC),
                datetime.fromtimestamp(now, UTC),
                origin.topic,
                origin.partition,
                origin.offset,
            )
        ]
