"""Intake's decision for one decoded declaration: admitted as a ticketed fact, or refused with every violation.

Pure: the ticket and the time are given, so the same input always yields the same decision.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from streams.domain.validation import Violation, validate

Record = Mapping[str, Any]


def _field(name: str) -> Callable[[Record], str | None]:
    def key(record: Record) -> str | None:
        value = record.get(name)
        return value if isinstance(value, str) else None

    return key


# Every fact is keyed by the person it is about, so all facts on one person stay ordered on one partition.
# A DmfA declaration covers many workers: it is keyed by its employer until it is split per worker line.
SUBJECT_KEY: dict[str, Callable[[Record], str | None]] = {
    "be.crossroads.dimona.DimonaIn": _field("worker"),
    "be.crossroads.dimona.DimonaOut": _field("worker"),
    "be.crossroads.dimona.DimonaUpdate": _field("worker"),
    "be.crossroads.dimona.DimonaCancel": _field("worker"),
    "be.crossroads.dmfa.DmfaDeclaration": _field("employer"),
    "be.crossroads.civil.Birth": _field("child"),
    "be.crossroads.civil.AddressChange": _field("person"),
    "be.crossroads.civil.Death": _field("person"),
    "be.crossroads.civil.CivilStatusChange": _field("person"),
    "be.crossroads.directory.Integration": _field("person"),
}


@dataclass(frozen=True)
class Admitted:
    ticket: uuid.UUID
    key: str | None
    record: dict[str, Any]


@dataclass(frozen=True)
class Refused:
    ticket: uuid.UUID
    key: str | None
    violations: tuple[Violation, ...]
    received_at: datetime


Admission = Admitted | Refused


def admit(schema_name: str, record: Record, *, ticket: uuid.UUID, received_at: datetime) -> Admission:
    """Validate with the contracts' rules (all violations) and stamp the platform ticket on success."""
    key = SUBJECT_KEY.get(schema_name, _field("person"))(record)
    violations = validate(schema_name, dict(record))
    if violations:
        return Refused(ticket, key, tuple(violations), received_at)
    envelope = {**record["envelope"], "ticket": str(ticket)}
    return Admitted(ticket, key, {**record, "envelope": envelope})


REJECTION_SCHEMA = "be.crossroads.outputs.Rejection"


def rejection(schema_name: str, record: Record, refused: Refused, *, raw: bytes) -> dict[str, Any]:
    """The rejection event: the sender, every violation, and the declaration's own bytes (nothing is lost)."""
    envelope = record.get("envelope") or {}
    return {
        "ticket": str(refused.ticket),
        "sender_reference": envelope.get("sender_reference", ""),
        "sender": envelope.get("sender", ""),
        "declaration_type": schema_name,
        "stage": "intake",
        "person": refused.key,
        "violations": [v.as_dict() for v in refused.violations],
        "declaration": raw,
        "rejected_at": refused.received_at,
    }
