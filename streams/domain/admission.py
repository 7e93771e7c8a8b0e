"""Intake's decision for one decoded declaration: admitted as ticketed fact(s), or refused with every violation.

Pure: the ticket and the time are given, so the same input always yields the same decision. A DIMONA batch
(seed 4.13: up to 20 declarations in one message) is admitted or refused as a whole, and admitted as one fact
per declaration, each with a ticket derived from the batch's.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from streams.domain.quoting import quoted
from streams.domain.validation import Violation, validate

Record = Mapping[str, Any]

DIMONA_BATCH = "be.crossroads.dimona.DimonaBatch"
REJECTION_SCHEMA = "be.crossroads.outputs.Rejection"
ACKNOWLEDGEMENT_SCHEMA = "be.crossroads.outputs.Acknowledgement"

# Families whose intake decision is final: their acknowledgement is sent at intake. DIMONA and integrations
# are acknowledged by the directory, which may still refuse them (seed 4.14, a DIMONA OUT without IN).
FINAL_AT_INTAKE = frozenset({"civil", "dmfa"})


def _field(name: str) -> Callable[[Record], str | None]:
    def key(record: Record) -> str | None:
        value = record.get(name)
        return value if isinstance(value, str) else None

    return key


# Every fact is keyed by the person it is about, so all facts on one person stay ordered on one partition.
# A DmfA declaration covers many workers: it is keyed by its employer; the intake routes it to each worker's directory.
SUBJECT_KEY: dict[str, Callable[[Record], str | None]] = {
    "be.crossroads.dimona.DimonaIn": _field("worker"),
    "be.crossroads.dimona.DimonaOut": _field("worker"),
    "be.crossroads.dimona.DimonaUpdate": _field("worker"),
    "be.crossroads.dimona.DimonaCancel": _field("worker"),
    DIMONA_BATCH: lambda record: None,
    "be.crossroads.dmfa.DmfaDeclaration": _field("employer"),
    "be.crossroads.civil.Birth": _field("child"),
    "be.crossroads.civil.AddressChange": _field("person"),
    "be.crossroads.civil.Death": _field("person"),
    "be.crossroads.civil.CivilStatusChange": _field("person"),
    "be.crossroads.directory.Integration": _field("person"),
    "be.crossroads.consultation.ConsultationRequest": _field("person"),
}

BATCH_NAMESPACE = uuid.UUID("a7d4c0f2-5b8e-5f1a-9c3d-2e6b8f0a4d71")
INTAKE_NAMESPACE = uuid.UUID("3c9e6d1a-0f4b-5e27-8a61-9d2f7b4c5e03")


def intake_ticket(topic: str, partition: int, offset: int) -> uuid.UUID:
    """The platform ticket of the message at this position of an intake topic.

    Derived, not random: when the intake processes a message again after a crash (at-least-once), the fact,
    its acknowledgement and every notification it causes carry the same tickets as the first time, so a
    duplicate is recognisably a duplicate. (A topic deleted and re-created restarts its offsets: tickets are
    unique per intake topic's lifetime.)
    """
    return uuid.uuid5(INTAKE_NAMESPACE, f"{topic}/{partition}/{offset}")


@dataclass(frozen=True)
class AdmittedFact:
    schema_name: str
    key: str | None
    ticket: uuid.UUID
    record: dict[str, Any]


@dataclass(frozen=True)
class Admitted:
    ticket: uuid.UUID
    key: str | None
    facts: tuple[AdmittedFact, ...]


@dataclass(frozen=True)
class Refused:
    ticket: uuid.UUID
    key: str | None
    violations: tuple[Violation, ...]
    received_at: datetime


Admission = Admitted | Refused


def subject_key(schema_name: str, record: Record) -> str | None:
    return SUBJECT_KEY.get(schema_name, _field("person"))(record)


def admit(schema_name: str, record: Record, *, ticket: uuid.UUID, received_at: datetime) -> Admission:
    """Validate with the contracts' rules (all violations) and stamp the platform ticket on success."""
    key = subject_key(schema_name, record)
    violations = validate(schema_name, dict(record))
    if violations:
        return Refused(ticket, key, tuple(violations), received_at)
    if schema_name == DIMONA_BATCH:
        return Admitted(ticket, key, tuple(_split(record, ticket)))
    return Admitted(ticket, key, (AdmittedFact(schema_name, key, ticket, _ticketed(record, ticket)),))


def _split(batch: Record, ticket: uuid.UUID) -> list[AdmittedFact]:
    facts = []
    for index, (schema_name, item) in enumerate(batch["declarations"], start=1):
        item_ticket = uuid.uuid5(BATCH_NAMESPACE, f"{ticket}/{index}")
        facts.append(
            AdmittedFact(schema_name, subject_key(schema_name, item), item_ticket, _ticketed(item, item_ticket))
        )
    return facts


def _ticketed(record: Record, ticket: uuid.UUID) -> dict[str, Any]:
    return {**record, "envelope": {**record["envelope"], "ticket": str(ticket)}}


def _quoted_field(envelope: Record, name: str) -> str:
    value = envelope.get(name)
    return quoted(value) if isinstance(value, str) else ""


def rejection(schema_name: str, record: Record, refused: Refused, *, raw: bytes) -> dict[str, Any]:
    """The rejection event: the sender, every violation, and the declaration's own bytes (nothing is lost)."""
    envelope = record.get("envelope") or {}
    return {
        "ticket": str(refused.ticket),
        "sender_reference": _quoted_field(envelope, "sender_reference"),
        "sender": _quoted_field(envelope, "sender"),
        "declaration_type": schema_name,
        "stage": "intake",
        "person": None if refused.key is None else quoted(refused.key),
        "violations": [v.as_dict() for v in refused.violations],
        "declaration": raw,
        "rejected_at": refused.received_at,
    }


def acknowledgement(
    schema_name: str, record: Record, ticket: uuid.UUID | str, at: datetime, violations: tuple[Violation, ...] = ()
) -> dict[str, Any]:
    """What the sender finds in its mailbox: accepted with the ticket, or rejected with every violation."""
    envelope = record.get("envelope") or {}
    return {
        "ticket": str(ticket),
        "sender_reference": _quoted_field(envelope, "sender_reference"),
        "recipient": _quoted_field(envelope, "sender"),
        "declaration_type": schema_name,
        "status": "REJECTED" if violations else "ACCEPTED",
        "violations": [v.as_dict() for v in violations],
        "acknowledged_at": at,
    }
