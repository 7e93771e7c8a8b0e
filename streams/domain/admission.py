"""Intake's decision for one decoded declaration: admitted as ticketed fact(s), or refused with every violation.

Pure: the ticket and the time are given, so the same input always yields the same decision. A DIMONA batch
(seed 4.13: up to 20 declarations in one message) is admitted or refused as a whole, and admitted as one fact
per declaration, each with a ticket derived from the batch's.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from streams.domain.audit import refusal_entry
from streams.domain.quoting import quoted
from streams.domain.senders import NOT_AUTHENTIC_SOURCE, NOT_AUTHENTICATED, NOT_MANDATED
from streams.domain.validation import Violation, validate

Record = Mapping[str, Any]

DIMONA_BATCH = "be.crossroads.dimona.DimonaBatch"
REJECTION_SCHEMA = "be.crossroads.outputs.Rejection"
ACKNOWLEDGEMENT_SCHEMA = "be.crossroads.outputs.Acknowledgement"

# Families whose intake decision is final: their acknowledgement is sent at intake. DIMONA and integrations
# are acknowledged by the directory, which may still refuse them (seed 4.14, a DIMONA OUT without IN).
FINAL_AT_INTAKE = frozenset({"civil", "dmfa"})

SENDER_CODES = frozenset({NOT_AUTHENTICATED, NOT_AUTHENTIC_SOURCE, NOT_MANDATED})


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
    # who is told and audited: the producer the seal proves (not the envelope's sender, which may be forged)
    producer: str | None = None

    @property
    def sender_refused(self) -> bool:
        """Refused for who sent it (an audited refusal), not only for what it says."""
        return any(v.code in SENDER_CODES for v in self.violations)


Admission = Admitted | Refused


def subject_key(schema_name: str, record: Record) -> str | None:
    return SUBJECT_KEY.get(schema_name, _field("person"))(record)


def admit(
    schema_name: str,
    record: Record,
    *,
    ticket: uuid.UUID,
    received_at: datetime,
    senders: Sequence[Violation] = (),
    producer: str | None = None,
) -> Admission:
    """Validate with the contracts' rules (all violations, after the sender rules' ``senders``, see
    `streams.domain.senders`) and stamp the platform ticket on success.  ``producer`` is the proven producer."""
    key = subject_key(schema_name, record)
    violations = [*senders, *validate(schema_name, dict(record))]
    if violations:
        return Refused(ticket, key, tuple(violations), received_at, producer)
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


def acknowledged_to(record: Record, refused: Refused) -> str | None:
    """Who a refusal is acknowledged to: the proven producer when the sender rules refused it (the envelope's
    sender may be a forged name), else the envelope's sender; None: nobody we can name."""
    if refused.sender_refused:
        return refused.producer
    sender = (record.get("envelope") or {}).get("sender")
    return sender if isinstance(sender, str) else None


def rejection(schema_name: str, record: Record, refused: Refused, *, raw: bytes) -> dict[str, Any]:
    """The rejection event: the sender (the proven producer of a sender refusal), every violation, and the
    declaration's own bytes (nothing is lost)."""
    envelope = record.get("envelope") or {}
    sender = acknowledged_to(record, refused) if refused.sender_refused else None
    return {
        "ticket": str(refused.ticket),
        "sender_reference": _quoted_field(envelope, "sender_reference"),
        "sender": quoted(sender) if sender is not None else _quoted_field(envelope, "sender"),
        "declaration_type": schema_name,
        "stage": "intake",
        "person": None if refused.key is None else quoted(refused.key),
        "violations": [v.as_dict() for v in refused.violations],
        "declaration": raw,
        "rejected_at": refused.received_at,
    }


def acknowledgement(
    schema_name: str,
    record: Record,
    ticket: uuid.UUID | str,
    at: datetime,
    violations: tuple[Violation, ...] = (),
    *,
    recipient: str | None = None,
) -> dict[str, Any]:
    """What the sender finds in its mailbox: accepted with the ticket, or rejected with every violation.
    ``recipient``: who is told, when it is not the envelope's sender (the proven producer of a forged one)."""
    envelope = record.get("envelope") or {}
    return {
        "ticket": str(ticket),
        "sender_reference": _quoted_field(envelope, "sender_reference"),
        "recipient": quoted(recipient) if recipient is not None else _quoted_field(envelope, "sender"),
        "declaration_type": schema_name,
        "status": "REJECTED" if violations else "ACCEPTED",
        "violations": [v.as_dict() for v in violations],
        "acknowledged_at": at,
    }


def refusal_audit(schema_name: str, refused: Refused) -> dict[str, Any]:
    """The (unchained) audit REFUSAL entry of a declaration refused for its sender: the proven producer (empty
    when nobody is proven), the person it was about (its key), and the sender codes with their messages."""
    reason = "; ".join(f"{v.code}: {v.message}" for v in refused.violations if v.code in SENDER_CODES)
    return refusal_entry(
        ticket=str(refused.ticket),
        actor=refused.producer or "",
        person=quoted(refused.key) if refused.key is not None else "",
        data_type=schema_name,
        reason=quoted(reason),
        at=refused.received_at,
    )
