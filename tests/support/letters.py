"""Dead letters as the platform writes them (`streams.dead_letters.dead_letter`), read back as a `Letter`."""

from __future__ import annotations

from datetime import UTC, datetime

from streams.dead_letters import dead_letter
from streams.domain.replay import Letter, letter_of

LETTER_AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def letter(
    *,
    at: tuple[int, int] = (0, 7),
    topic: str = "crossroads.intake.civil.v1",
    partition: int = 2,
    offset: int = 17,
    key: bytes | None = b"85073100123",
    headers: list[tuple[str, bytes | None]] | None = None,
    raw: bytes = b"\xc3\x01not-a-known-fingerprint",
    reason: str = "unknown schema fingerprint 0011223344556677",
    error_type: str = "UnknownSchemaError",
    dead_lettered_at: datetime = LETTER_AT,
) -> Letter:
    """The letter at ``at`` (partition, offset) of the dead-letter topic, about a message of ``topic``."""
    record = dead_letter(
        topic=topic,
        partition=partition,
        offset=offset,
        timestamp_ms=int(dead_lettered_at.timestamp() * 1000) - 5,
        key=key,
        headers=headers or [],
        raw=raw,
        reason=reason,
        error_type=error_type,
        at=dead_lettered_at,
    )
    return letter_of(*at, record.value)
