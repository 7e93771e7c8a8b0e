"""The audit trail (seed 6.7): one record per delivery, consultation reply and refusal, hash-chained.

Pure: no Kafka, no faust.  The flows build *entries* (unchained: ``previous_hash`` and ``hash`` empty) with
:func:`delivery_entry`, :func:`refusal_entry` and :func:`consultation_entry`; the auditor chains them with
:func:`chain`; ``crossroads audit verify`` checks a chain with :func:`verify_chain`; ``crossroads audit
who-received`` answers the citizen with :func:`who_received`.

The hash
--------
``hash = SHA-256(previous_hash ‖ "\\n" ‖ canonical(record))`` in lowercase hex, where ``canonical`` is the
UTF-8 of a JSON object (keys sorted, no whitespace, non-ASCII kept as is) of every field of the record except
``hash`` and ``previous_hash`` (the latter is the explicit prefix instead), with values encoded as:

* ``str``, ``int``, ``bool``: as JSON;
* ``datetime``: ``"YYYY-MM-DDTHH:MM:SS.mmmZ"`` in UTC, *truncated* to the millisecond, because the record
  travels as Avro ``timestamp-millis``: the hash must be the same before encoding and after decoding.
  A naive datetime is taken to be UTC (fastavro's reading of it too);
* ``date``: ``"YYYY-MM-DD"``;
* ``bytes``: lowercase hex;
* ``None``: the field is **omitted**.  A field added to the schema later must have a default (schema
  evolution rule) and, being optional, a null default; old records decoded with the new schema then carry
  that field as ``None``, and omitting it keeps their hashes valid.  Nothing is lost: in Avro an absent
  optional field and a null one are the same value.

Any other value type is refused (``TypeError``) rather than hashed in some ad-hoc spelling.

What a chain can and cannot tell
--------------------------------
Editing any field of a record breaks that record's own hash; deleting, inserting or reordering records
breaks the link (``previous_hash``) of the first record after the change.  Removing records *at the end*
leaves a shorter, valid chain: only an anchor kept elsewhere (the last head seen, ``expected_head``) reveals
a truncation.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

__all__ = [
    "AUDIT_SCHEMA",
    "EDITED",
    "GENESIS",
    "RELINKED",
    "TRUNCATED",
    "AuditKind",
    "Failure",
    "Receipt",
    "VerificationResult",
    "audit_hash",
    "audit_id",
    "canonical",
    "chain",
    "consultation_entry",
    "delivery_entry",
    "refusal_entry",
    "verify_chain",
    "who_received",
]

AUDIT_SCHEMA = "be.crossroads.outputs.AuditRecord"
GENESIS = "0" * 64

EDITED = "hash does not match its content (edited)"
RELINKED = "previous_hash does not match the previous record (deleted, inserted or reordered)"
TRUNCATED = "the chain ends before the expected head (records removed at the end)"

# Fixed forever: changing it would change every audit_id already issued.
_AUDIT_NAMESPACE = uuid.UUID("6f0d2c1e-7b1a-5c3e-9a47-0c5e2a0d6a17")

P = TypeVar("P")


class AuditKind(StrEnum):
    DELIVERY = "DELIVERY"
    REFUSAL = "REFUSAL"
    CONSULTATION_GRANTED = "CONSULTATION_GRANTED"
    CONSULTATION_REFUSED = "CONSULTATION_REFUSED"


# -- hashing ---------------------------------------------------------------------------------------------------
def _canonical_value(value: Any) -> Any:
    # bool before int: bool is an int subclass, and JSON already spells it distinctly
    if isinstance(value, str | bool | int):
        return value
    if isinstance(value, datetime):
        utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"no canonical encoding for an audit value of type {type(value).__name__}")


def canonical(record: Mapping[str, Any]) -> bytes:
    """The bytes hashed for ``record`` (see the module doc): not ``hash``/``previous_hash``, no ``None``."""
    fields = {
        name: _canonical_value(value)
        for name, value in record.items()
        if name not in ("hash", "previous_hash") and value is not None
    }
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def audit_hash(previous_hash: str, record: Mapping[str, Any]) -> str:
    """The hash ``record`` must carry when it follows a record whose hash is ``previous_hash``."""
    digest = hashlib.sha256(previous_hash.encode())  # UTF-8: a tampered value need not be hex
    digest.update(b"\n")
    digest.update(canonical(record))
    return digest.hexdigest()


def chain(previous_hash: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """``record`` linked after ``previous_hash``: a copy with ``previous_hash`` and ``hash`` set."""
    linked = {**record, "previous_hash": previous_hash}
    linked["hash"] = audit_hash(previous_hash, linked)
    return linked


# -- verification ----------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Failure(Generic[P]):
    position: P | None  # None: past the last record (a truncation)
    reason: str
    audit_id: str | None


@dataclass(frozen=True, slots=True)
class VerificationResult(Generic[P]):
    checked: int  # records read, the bad one included
    head: str  # hash of the last good record (GENESIS for an empty chain)
    failure: Failure[P] | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None


def verify_chain(
    records: Iterable[tuple[P, Mapping[str, Any]]],
    *,
    start: str = GENESIS,
    expected_head: str | None = None,
) -> VerificationResult[P]:
    """Check a chain in order and stop at the first bad record.

    ``start`` is the hash the first record must link to; ``expected_head`` (optional) the hash the chain is
    known to have reached, which also reveals records removed at the end.  A record whose own hash is wrong
    is reported as edited even when its link is wrong too: the content check comes first, so that an edit
    is never mistaken for a move.
    """
    previous, checked = start, 0
    for position, record in records:
        checked += 1
        claimed_previous = str(record.get("previous_hash", ""))
        reason = None
        if record.get("hash") != audit_hash(claimed_previous, record):
            reason = EDITED
        elif claimed_previous != previous:
            reason = RELINKED
        if reason is not None:
            audit = record.get("audit_id")
            return VerificationResult(checked, previous, Failure(position, reason, str(audit) if audit else None))
        previous = str(record["hash"])
    if expected_head is not None and previous != expected_head:
        return VerificationResult(checked, previous, Failure(None, TRUNCATED, None))
    return VerificationResult(checked, previous)


# -- building entries ------------------------------------------------------------------------------------------
def audit_id(ticket: str, actor: str, kind: AuditKind) -> str:
    """Deterministic: a redelivery of the same exchange after a crash gets the same audit_id."""
    return str(uuid.uuid5(_AUDIT_NAMESPACE, f"{ticket}|{actor}|{kind}"))


def _to_millis(at: datetime) -> datetime:
    # what timestamp-millis will keep anyway; doing it here makes the entry equal to its decoded self
    utc = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return utc.replace(microsecond=utc.microsecond // 1000 * 1000)


def _entry(
    kind: AuditKind,
    *,
    ticket: str,
    source_ticket: str | None,
    actor: str,
    person: str,
    data_type: str,
    legal_basis: str | None,
    reason: str | None,
    at: datetime,
) -> dict[str, Any]:
    return {
        "audit_id": audit_id(ticket, actor, kind),
        "kind": str(kind),
        "ticket": ticket,
        "source_ticket": source_ticket,
        "actor": actor,
        "person": person,
        "data_type": data_type,
        "legal_basis": legal_basis,
        "reason": reason,
        "recorded_at": _to_millis(at),
        "previous_hash": "",
        "hash": "",
    }


def delivery_entry(
    *,
    ticket: str,
    actor: str,
    person: str,
    data_type: str,
    legal_basis: str,
    at: datetime,
    source_ticket: str | None = None,
) -> dict[str, Any]:
    """``actor`` received ``data_type`` about ``person`` in notification ``ticket``, under ``legal_basis``."""
    return _entry(
        AuditKind.DELIVERY,
        ticket=ticket,
        source_ticket=source_ticket,
        actor=actor,
        person=person,
        data_type=data_type,
        legal_basis=legal_basis,
        reason=None,
        at=at,
    )


def refusal_entry(
    *,
    ticket: str,
    actor: str,
    person: str,
    data_type: str,
    reason: str,
    at: datetime,
    source_ticket: str | None = None,
) -> dict[str, Any]:
    """``actor`` would have received ``data_type`` about ``person`` but was not entitled (``reason``)."""
    return _entry(
        AuditKind.REFUSAL,
        ticket=ticket,
        source_ticket=source_ticket,
        actor=actor,
        person=person,
        data_type=data_type,
        legal_basis=None,
        reason=reason,
        at=at,
    )


def consultation_entry(
    *,
    granted: bool,
    ticket: str,
    actor: str,
    person: str,
    data_type: str,
    at: datetime,
    legal_basis: str | None = None,
    reason: str | None = None,
    source_ticket: str | None = None,
) -> dict[str, Any]:
    """The reply ``ticket`` to ``actor``'s consultation of ``data_type`` about ``person``: granted under
    ``legal_basis``, or refused for ``reason``."""
    if granted and not legal_basis:
        raise ValueError("a granted consultation needs its legal basis")
    if not granted and not reason:
        raise ValueError("a refused consultation needs its reason")
    kind = AuditKind.CONSULTATION_GRANTED if granted else AuditKind.CONSULTATION_REFUSED
    return _entry(
        kind,
        ticket=ticket,
        source_ticket=source_ticket,
        actor=actor,
        person=person,
        data_type=data_type,
        legal_basis=legal_basis if granted else None,
        reason=None if granted else reason,
        at=at,
    )


# -- the citizen's question ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Receipt:
    """One institution received one kind of data about the person."""

    institution: str
    data_type: str
    at: datetime
    legal_basis: str | None
    ticket: str
    kind: AuditKind
    audit_id: str


_RECEIVED = frozenset({AuditKind.DELIVERY, AuditKind.CONSULTATION_GRANTED})


def who_received(records: Iterable[Mapping[str, Any]], person: str, *, since: datetime | None = None) -> list[Receipt]:
    """Which institutions received which data about ``person``, when and why: deliveries and granted
    consultations, once each (a record replayed after a crash has the same audit_id), oldest first."""
    seen: dict[str, Receipt] = {}
    for record in records:
        if record.get("person") != person or record.get("kind") not in _RECEIVED:
            continue
        at = record["recorded_at"]
        if since is not None and _to_millis(at) < _to_millis(since):
            continue
        identity = str(record["audit_id"])
        if identity not in seen:
            seen[identity] = Receipt(
                institution=str(record["actor"]),
                data_type=str(record["data_type"]),
                at=at,
                legal_basis=record.get("legal_basis"),
                ticket=str(record["ticket"]),
                kind=AuditKind(record["kind"]),
                audit_id=identity,
            )
    return sorted(seen.values(), key=lambda r: (r.at, r.audit_id))
