"""The dead-letter record: an undecodable message kept whole (raw bytes, key, headers) with where and why."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

DEAD_LETTER_SCHEMA = "be.crossroads.outputs.DeadLetter"


@dataclass(frozen=True)
class DeadLetter:
    schema: str
    value: dict[str, Any]


def dead_letter(
    *,
    topic: str,
    partition: int,
    offset: int,
    timestamp_ms: int | None,
    key: bytes | None,
    headers: Iterable[tuple[str, str | bytes | None]] | Mapping[str, str | bytes | None] | None,
    raw: bytes | None,
    reason: str,
    error_type: str,
    at: datetime,
) -> DeadLetter:
    """Everything needed to inspect and replay the message later; nothing of it is interpreted."""
    return DeadLetter(
        DEAD_LETTER_SCHEMA,
        {
            "topic": topic,
            "partition": partition,
            "offset": offset,
            "timestamp": None if timestamp_ms is None else datetime.fromtimestamp(timestamp_ms / 1000, at.tzinfo),
            "key": key,
            "headers": [{"key": k, "value": _bytes(v)} for k, v in _pairs(headers)],
            "raw": raw or b"",
            "reason": reason,
            "error_type": error_type,
            "dead_lettered_at": at,
        },
    )


def _pairs(
    headers: Iterable[tuple[str, str | bytes | None]] | Mapping[str, str | bytes | None] | None,
) -> Iterable[tuple[str, str | bytes | None]]:
    # Kafka clients hand headers over as a list of pairs (repeatable keys) or, some of them, as a mapping
    if headers is None:
        return ()
    return headers.items() if isinstance(headers, Mapping) else headers


def _bytes(value: str | bytes | None) -> bytes | None:
    return value.encode() if isinstance(value, str) else value
