"""Intake's decision for one decoded declaration: admitted as ticketed fact(s), or refused with every violation.

Pure: the ticket, the time and the encoder are given, so the same input always yields the same decision.
`admit` judges; `decide` turns the judgement into the outcomes the intake agent routes (`streams.domain.outcomes`):
where each admitted record goes and who is told is read from its `streams.domain.kinds.Kind`.  A DIMONA batch
(seed 4.13: up to 20 declarations in one message) is admitted or refused as a whole, and admitted as one fact
per declaration, each with a ticket derived from the batch's.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from streams.domain.audit import refusal_entry
from streams.domain.kinds import BATCH_NAMESPACE, KINDS, Encode, kind_of, routed, subject_key, validate
from streams.domain.outcomes import (
    ACKNOWLEDGEMENT,
    LOOKUP,
    Forward,
    Outcome,
    ToAudit,
    ToDeadLetters,
    ToMailbox,
    ToRejections,
)
from streams.domain.quoting import quoted
from streams.domain.references import Sent, SentReferences, duplicate_reference
from streams.domain.senders import NOT_AUTHENTIC_SOURCE, NOT_AUTHENTICATED, NOT_MANDATED
from streams.domain.validation import Violation

Record = Mapping[str, Any]

SENDER_CODES = frozenset({NOT_AUTHENTICATED, NOT_AUTHENTIC_SOURCE, NOT_MANDATED})
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
    if KINDS[schema_name].batch:
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
    warnings: tuple[Violation, ...] = (),
) -> dict[str, Any]:
    """What the sender finds in its mailbox: accepted with the ticket, or rejected with every violation.
    ``recipient``: who is told, when it is not the envelope's sender (the proven producer of a forged one);
    ``warnings``: rules broken that do not refuse it (an accepted declaration acknowledged again with them)."""
    envelope = record.get("envelope") or {}
    return {
        "ticket": str(ticket),
        "sender_reference": _quoted_field(envelope, "sender_reference"),
        "recipient": quoted(recipient) if recipient is not None else _quoted_field(envelope, "sender"),
        "declaration_type": schema_name,
        "status": "REJECTED" if violations else "ACCEPTED",
        "violations": [v.as_dict() for v in violations],
        "warnings": [w.as_dict() for w in warnings],
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


@dataclass(frozen=True, slots=True)
class IntakeDecision:
    ticket: uuid.UUID
    key: str | None  # the declaration's subject: what its outcomes are keyed by
    outcomes: tuple[Outcome, ...]
    references: SentReferences | None = None  # what its key's intake remembers now, when this changed it


def lookup_record(lookup: Any) -> dict[str, Any]:
    return {name: getattr(lookup, name) for name in lookup.__slots__}


def decide(
    schema_name: str,
    record: Record,
    *,
    ticket: uuid.UUID,
    received_at: datetime,
    raw: bytes,
    encode: Encode,
    senders: Sequence[Violation] = (),
    producer: str | None = None,
    references: SentReferences | None = None,
    window: timedelta = timedelta(0),
) -> IntakeDecision:
    """Everything the intake publishes for one decoded declaration, as outcomes (`streams.domain.outcomes`).

    Admitted: each fact goes where its family's admitted records go (facts when the intake's decision is final,
    else the step that decides it: the directory, or the DmfA step, which may still refuse it); a final fact
    looked up in other persons' directories (civil) gets one lookup per person concerned; a final decision is
    acknowledged to the sender here.
    Refused: the rejection with every violation and the declaration's bytes, and its acknowledgement; refused
    for its sender: audited, acknowledged to the proven producer, or kept whole as a dead letter when nobody is
    proven to have sent it.
    ``references``: what the intake remembers for the message's key (`streams.domain.references`): a sender
    reference it admitted in the last ``window`` refuses the declaration; an admitted one is remembered (the
    decision's ``references``). None: not checked (a message without key).
    """
    sent = _sent(record, ticket, received_at)
    first = None
    if references is not None and sent is not None:
        first = references.first_sending(sent.sender, sent.reference, sent.ticket, received_at, window)
    earlier = (*senders, duplicate_reference(first)) if first is not None else senders
    decision = admit(schema_name, record, ticket=ticket, received_at=received_at, senders=earlier, producer=producer)
    key = quoted(decision.key) if decision.key else None
    outcomes: list[Outcome] = []
    if isinstance(decision, Admitted):
        kind = kind_of(schema_name)
        for fact in decision.facts:
            fact_kind = kind_of(fact.schema_name)
            value = encode(fact.schema_name, fact.record)
            outcomes.append(Forward(*fact_kind.family.admitted_to, fact.key, value))
            # looked up once it is a fact: a kind decided later (DmfA) is routed by the step that decides it
            if fact_kind.route is not None and fact_kind.final_at_intake:
                # the subject's own directory reads the fact itself (same key, same partition): no lookup for it
                for lookup in routed(fact_kind, fact.record, str(fact.ticket), value, encode):
                    outcomes.append(
                        Forward("directory", "lookups", lookup.person, encode(LOOKUP, lookup_record(lookup)))
                    )
        if kind.final_at_intake:
            ack = acknowledgement(schema_name, record, decision.ticket, received_at)
            outcomes.extend(_to(_sender(record), ack))
        remembered = references.remembered(sent, window) if references is not None and sent is not None else None
        return IntakeDecision(decision.ticket, key, tuple(outcomes), remembered)
    if decision.sender_refused:
        # audited: who tried to declare what about whom (the directory chains it into the trail)
        outcomes.append(ToAudit(refusal_audit(schema_name, decision)))
    recipient = acknowledged_to(record, decision)
    if decision.sender_refused and recipient is None:
        reason = "; ".join(f"{v.code}: {v.message}" for v in decision.violations)
        outcomes.append(ToDeadLetters(reason, "SenderNotAuthenticated"))  # nobody to tell: kept for the operators
        return IntakeDecision(decision.ticket, key, tuple(outcomes))
    outcomes.append(ToRejections(rejection(schema_name, record, decision, raw=raw)))
    ack = acknowledgement(schema_name, record, decision.ticket, received_at, decision.violations, recipient=recipient)
    outcomes.extend(_to(recipient, ack))
    return IntakeDecision(decision.ticket, key, tuple(outcomes))


def _sent(record: Record, ticket: uuid.UUID, at: datetime) -> Sent | None:
    """The sender and reference a declaration names (None when either is missing: validation says so)."""
    envelope = record.get("envelope")
    if not isinstance(envelope, Mapping):
        return None
    sender, reference = envelope.get("sender"), envelope.get("sender_reference")
    if not isinstance(sender, str) or not isinstance(reference, str):
        return None
    return Sent(sender, reference, str(ticket), at)


def _sender(record: Record) -> str | None:
    envelope = record.get("envelope")
    sender = envelope.get("sender") if isinstance(envelope, Mapping) else None
    return sender if isinstance(sender, str) else None


def _to(actor: str | None, ack: dict[str, Any]) -> tuple[Outcome, ...]:
    """An acknowledgement to ``actor``'s mailbox; a sender we cannot name (not a number) has none."""
    return (ToMailbox(actor, ACKNOWLEDGEMENT, ack),) if actor is not None and actor.isdigit() else ()
