"""The audit trail (seed 6.7): one record per delivery, consultation reply and refusal, hash-chained.

Pure: no Kafka, no faust.  The flows build *entries* (unchained: ``previous_hash`` and ``hash`` empty) with
:func:`delivery_entry`, :func:`refusal_entry` and :func:`consultation_entry`; the auditor chains them with
:func:`chain`; :func:`verify_chain` checks a chain, and ``crossroads audit verify`` checks each partition
against its seal with :func:`verify_partition`; ``crossroads audit who-received`` answers the citizen with
:func:`who_received`.

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

Seals
-----
That anchor is a :class:`Seal` per partition: where the verified chain starts, the offset and hash of the last
verified record, how many records, when.  ``crossroads audit verify`` keeps them where the audit topic's writer
cannot write (docs/directory.md, "Audit trail") and :func:`verify_partition` compares what a partition holds now
with its seal: the sealed record must still be at its offset, unchanged, the chain must continue from it, and
nothing may be gone before the sealed start unless a retention explains it (the audit topic has none: it is
kept forever).  The verdict names one problem per partition, or the seal to record next.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

__all__ = [
    "AUDIT_BATCH_SCHEMA",
    "AUDIT_SCHEMA",
    "EDITED",
    "GENESIS",
    "GRANTED",
    "NOT_FOUND",
    "REFUSED",
    "RELINKED",
    "REPLAY_LEGAL_BASIS",
    "TRUNCATED",
    "AuditKind",
    "Failure",
    "PartitionVerdict",
    "Problem",
    "ProblemKind",
    "Receipt",
    "Seal",
    "Unreadable",
    "VerificationResult",
    "audit_hash",
    "audit_id",
    "audit_records",
    "canonical",
    "chain",
    "chain_all",
    "consultation_entry",
    "delivery_entry",
    "outputs_of",
    "partition_gone",
    "purge_entry",
    "read_from",
    "refusal_entry",
    "replay_entry",
    "verify_chain",
    "verify_partition",
    "who_received",
]

AUDIT_SCHEMA = "be.crossroads.outputs.AuditRecord"
AUDIT_BATCH_SCHEMA = "be.crossroads.outputs.AuditBatch"
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
    CONSULTATION_REFUSED = "CONSULTATION_REFUSED"  # nothing given: refused, or (status NOT_FOUND) found nothing


# The consultation reply's statuses (be.crossroads.consultation.ConsultationStatus), as AuditRecord v3 records
# them. A NOT_FOUND is no new AuditKind: a symbol added to the enum could not be read by a reader on
# AuditRecord v1/v2 (forward compatibility, docs/contracts.md "Evolution").
GRANTED, REFUSED, NOT_FOUND = "GRANTED", "REFUSED", "NOT_FOUND"


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A position that holds no audit record (undecodable, another schema): a bad record wherever it stands."""

    reason: str


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


def chain_all(previous_hash: str, records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``records`` linked one after the other, the first after ``previous_hash`` (the records of one message)."""
    linked = []
    for record in records:
        linked.append(chain(previous_hash, record))
        previous_hash = linked[-1]["hash"]
    return linked


# -- messages --------------------------------------------------------------------------------------------------
def audit_records(schema_name: str, value: Mapping[str, Any]) -> Sequence[Mapping[str, Any]] | Unreadable:
    """The audit records one message of the audit topic holds, in chain order: an AuditRecord (what was
    written before the audit trail was batched, and the unchained entries of the pending topic) is one;
    an AuditBatch holds a release's records of its partition."""
    if schema_name == AUDIT_SCHEMA:
        return [value]
    if schema_name == AUDIT_BATCH_SCHEMA:
        records: Sequence[Mapping[str, Any]] = value["records"]
        return records if records else Unreadable("an AuditBatch without records")
    return Unreadable(f"not an AuditRecord nor an AuditBatch: {schema_name}")


def outputs_of(schema_name: str, value: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """A message of an output topic as the outputs it carries, for readers that take them one by one: an
    AuditBatch's audit records each as an AuditRecord, any other message as itself."""
    if schema_name == AUDIT_BATCH_SCHEMA:
        return [(AUDIT_SCHEMA, record) for record in value["records"]]
    return [(schema_name, value)]


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
        reason = _fault(previous, record)
        if reason is not None:
            audit = record.get("audit_id")
            return VerificationResult(checked, previous, Failure(position, reason, str(audit) if audit else None))
        previous = str(record["hash"])
    if expected_head is not None and previous != expected_head:
        return VerificationResult(checked, previous, Failure(None, TRUNCATED, None))
    return VerificationResult(checked, previous)


def _fault(previous: str | None, record: Mapping[str, Any]) -> str | None:
    """Why ``record`` cannot follow a record whose hash is ``previous`` (None: its link is taken on trust)."""
    claimed_previous = str(record.get("previous_hash", ""))
    if record.get("hash") != audit_hash(claimed_previous, record):
        return EDITED
    if previous is not None and claimed_previous != previous:
        return RELINKED
    return None


# -- seals -----------------------------------------------------------------------------------------------------
class ProblemKind(StrEnum):
    """The first word(s) of a problem's line, for grep."""

    BAD_RECORD = "FIRST BAD RECORD"  # edited, relinked, or no AuditRecord at all
    TRUNCATED = "TRUNCATED"  # the partition ends before the sealed record
    REWRITTEN = "REWRITTEN"  # the sealed offset holds another record, or none
    DELETED_AT_START = "DELETED AT START"  # records of the sealed chain are gone from the start


@dataclass(frozen=True, slots=True)
class Seal:
    """What verification last established about one audit partition.

    ``start_offset`` is where the verified chain starts (0, a partition's first offset ever, unless a retention
    removed the start); ``offset`` is the last verified message's (None when there was none yet) and ``hash``
    the hash of its last audit record (GENESIS when none); ``records`` counts the chain's audit records from
    ``start_offset`` to ``offset`` (an AuditBatch holds several).
    """

    topic: str
    partition: int
    start_offset: int
    offset: int | None
    hash: str
    records: int
    verified_at: datetime


@dataclass(frozen=True, slots=True)
class Problem:
    kind: ProblemKind
    offset: int | None
    reason: str
    audit_id: str | None = None


@dataclass(frozen=True, slots=True)
class PartitionVerdict:
    read: int  # messages read this time, the bad one included
    problem: Problem | None = None
    seal: Seal | None = None  # what to record when there is no problem; None when there is one

    @property
    def ok(self) -> bool:
        return self.problem is None


def _when(at: datetime) -> str:
    return (at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_from(seal: Seal | None, *, low: int, full: bool) -> int:
    """The first offset to read from a partition whose oldest kept offset is ``low``: the sealed record itself
    (re-read to prove it is still there, unchanged), or the oldest record when ``full``, unsealed, or when the
    seal has no record yet."""
    if full or seal is None or seal.offset is None:
        return low
    return seal.offset


def partition_gone(seal: Seal) -> PartitionVerdict:
    """The verdict on a sealed partition that no longer exists (the topic deleted, or recreated smaller)."""
    if seal.offset is None:  # nothing had been verified there: nothing is lost
        return PartitionVerdict(0, seal=seal)
    reason = (
        f"truncated: the partition does not exist but offset {seal.offset} was verified on {_when(seal.verified_at)}"
    )
    return PartitionVerdict(0, Problem(ProblemKind.TRUNCATED, seal.offset, reason))


Message = Sequence[Mapping[str, Any]] | Unreadable  # one message's audit records (audit_records), or why none


def _is_sealed(message: Message, sealed_hash: str) -> bool:
    # the hash field alone could be copied onto other content: the content must hash to it too (and the
    # message's own records link up to it)
    return (
        not isinstance(message, Unreadable)
        and message[-1].get("hash") == sealed_hash
        and _first_fault(None, message) is None
    )


def _rewritten(seal: Seal, offset: int | None, message: Message | None) -> Problem:
    assert seal.offset is not None
    sealed = f"sealed with hash {seal.hash} on {_when(seal.verified_at)}"
    record = message[-1] if message is not None and not isinstance(message, Unreadable) else message
    if record is None or offset != seal.offset:
        follows = "nothing follows" if offset is None else f"the next record is at offset {offset}"
        detail = f"it is gone ({follows}); it was {sealed}"
    elif isinstance(record, Unreadable):
        detail = f"it is no AuditRecord now ({record.reason}); it was {sealed}"
    elif record.get("hash") == seal.hash:
        detail = f"its content no longer hashes to the hash it carries; it was {sealed}"
    else:
        detail = f"it now has hash {record.get('hash')}; it was {sealed}"
    audit = (
        None if record is None or isinstance(record, Unreadable) or offset != seal.offset else record.get("audit_id")
    )
    return Problem(
        ProblemKind.REWRITTEN,
        seal.offset,
        f"record at offset {seal.offset} was rewritten: {detail}",
        str(audit) if audit else None,
    )


def verify_partition(
    records: Iterable[tuple[int, Message]],
    *,
    topic: str,
    partition: int,
    seal: Seal | None,
    low: int,
    high: int,
    now: datetime,
    full: bool = False,
    kept_forever: bool = True,
) -> PartitionVerdict:
    """Check one partition against its seal and its own chain; stop at the first problem.

    ``low``/``high`` are the partition's watermarks (oldest kept offset, next offset to be written) and
    ``records`` what it holds from :func:`read_from` up to ``high``, in order, each message as its audit records
    (:func:`audit_records`): it is consumed lazily, and not at all when the watermarks alone show the problem.
    A message's records are links of the chain like any other; a message is intact when all of them are.
    The rules, in order:

    1. the partition must still reach the sealed record (``high`` past its offset), else it was truncated;
    2. nothing may be gone before the sealed start (``low`` past ``start_offset``), unless the topic has a
       retention (``kept_forever`` False) *and* the sealed record itself is still there: a retention explains
       old records expiring, never the record verification anchors on;
    3. the record at the sealed offset must be the sealed one (same hash, content hashing to it), else it was
       rewritten — the topic recreated under the same name, with as many records or more, ends here;
    4. every record read must hash to its own hash and link to the one before it (:func:`verify_chain`'s
       rules).  The first record read links to GENESIS when it is read from offset 0; read from the seal, to
       the sealed hash; read from a start a retention moved, its link is taken on trust.

    Without ``full`` and with a sealed record, reading starts at the sealed record: what precedes it is not
    re-read (an append-only partition cannot change there; ``full`` re-checks it, and the seal too).
    """
    sealed_start = 0 if seal is None else seal.start_offset
    sealed_offset = None if seal is None else seal.offset
    if seal is not None and sealed_offset is not None and high <= sealed_offset:
        ends = "the partition is empty" if high == 0 else f"the partition ends at offset {high - 1}"
        truncated = f"truncated: {ends} but offset {sealed_offset} was verified on {_when(seal.verified_at)}"
        return PartitionVerdict(0, Problem(ProblemKind.TRUNCATED, sealed_offset, truncated))
    if low > sealed_start and (kept_forever or (sealed_offset is not None and low > sealed_offset)):
        gone = f"offsets {sealed_start}-{low - 1} are gone (the partition now starts at offset {low})"
        why = (
            "the audit topic is kept forever"
            if kept_forever
            else f"the sealed record at offset {sealed_offset} with them, which no retention explains"
        )
        deleted = f"deleted at the start: {gone}; {why}"
        return PartitionVerdict(0, Problem(ProblemKind.DELETED_AT_START, sealed_start, deleted))

    first = read_from(seal, low=low, full=full)
    # the hash the next record must link to; None: its predecessor expired (a retention), take its link on trust
    previous: str | None = GENESIS if first == 0 else None
    head_offset: int | None = None
    count = read = 0
    sealed_seen = False
    from_seal = seal is not None and seal.offset is not None and not full
    if seal is not None and from_seal:
        previous, head_offset, count = seal.hash, seal.offset, seal.records

    for offset, message in records:
        read += 1
        if seal is not None and seal.offset is not None and not sealed_seen and (from_seal or offset >= seal.offset):
            if offset != seal.offset or not _is_sealed(message, seal.hash):
                # reading on from the start, a record that breaks the chain is named for that (an edit as an edit)
                if from_seal or _intact(message, previous):
                    return PartitionVerdict(read, _rewritten(seal, offset, message))
                return _bad(read, offset, message, previous)
            sealed_seen = True
            if from_seal:
                continue  # proven by the seal: the records after it must link to the sealed hash
        if not _intact(message, previous):
            return _bad(read, offset, message, previous)
        assert not isinstance(message, Unreadable)
        previous, head_offset, count = str(message[-1]["hash"]), offset, count + len(message)

    if seal is not None and seal.offset is not None and not sealed_seen:
        return PartitionVerdict(read, _rewritten(seal, None, None))
    return PartitionVerdict(
        read,
        seal=Seal(
            topic=topic,
            partition=partition,
            start_offset=sealed_start if from_seal else first,
            offset=head_offset,
            hash=previous if head_offset is not None and previous is not None else GENESIS,
            records=count,
            verified_at=now,
        ),
    )


def _first_fault(previous: str | None, records: Sequence[Mapping[str, Any]]) -> tuple[int, str] | None:
    """The first of one message's records that cannot follow ``previous`` (then each other), and why."""
    for index, record in enumerate(records):
        reason = _fault(previous, record)
        if reason is not None:
            return index, reason
        previous = str(record["hash"])
    return None


def _intact(message: Message, previous: str | None) -> bool:
    return not isinstance(message, Unreadable) and _first_fault(previous, message) is None


def _bad(read: int, offset: int, message: Message, previous: str | None) -> PartitionVerdict:
    if isinstance(message, Unreadable):
        return PartitionVerdict(read, Problem(ProblemKind.BAD_RECORD, offset, message.reason))
    index, reason = _first_fault(previous, message) or (0, EDITED)
    if len(message) > 1:
        reason = f"{reason}, its audit record {index + 1} of {len(message)}"
    audit = message[index].get("audit_id")
    return PartitionVerdict(read, Problem(ProblemKind.BAD_RECORD, offset, reason, str(audit) if audit else None))


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
    source: str | None,
    legal_basis: str | None,
    reason: str | None,
    at: datetime,
    consultation_status: str | None = None,
    purged: str | None = None,
) -> dict[str, Any]:
    return {
        "audit_id": audit_id(ticket, actor, kind),
        "kind": str(kind),
        "ticket": ticket,
        "source_ticket": source_ticket,
        "actor": actor,
        "person": person,
        "data_type": data_type,
        "source": source,
        "legal_basis": legal_basis,
        "reason": reason,
        "consultation_status": consultation_status,
        "purged": purged,
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
    source: str | None = None,
) -> dict[str, Any]:
    """``actor`` received ``data_type`` about ``person`` from ``source`` (streams.domain.sources) in notification
    ``ticket``, under ``legal_basis``."""
    return _entry(
        AuditKind.DELIVERY,
        ticket=ticket,
        source_ticket=source_ticket,
        actor=actor,
        person=person,
        data_type=data_type,
        source=source,
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
    source: str | None = None,
) -> dict[str, Any]:
    """``actor`` would have received ``data_type`` about ``person`` from ``source`` but was not entitled
    (``reason``)."""
    return _entry(
        AuditKind.REFUSAL,
        ticket=ticket,
        source_ticket=source_ticket,
        actor=actor,
        person=person,
        data_type=data_type,
        source=source,
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
    source: str | None = None,
    status: str | None = None,
) -> dict[str, Any]:
    """The reply ``ticket`` to ``actor``'s consultation of ``data_type`` about ``person``: granted under
    ``legal_basis``, or refused for ``reason``; ``source`` is where the data given (or refused) comes from.

    ``status`` is the reply's (GRANTED, REFUSED, NOT_FOUND; None: not a consultation reply, e.g. a
    re-identification). A reply that found nothing gave nothing: it is not granted (kind
    CONSULTATION_REFUSED, so that no reader, not even one on AuditRecord v2, lists it as data received), and
    it keeps both the legal basis it was allowed to ask on and the reason (what was not found)."""
    if status is not None and (status == GRANTED) != granted:
        raise ValueError(f"a consultation replied {status} cannot be audited as {'granted' if granted else 'not'}")
    if granted and not legal_basis:
        raise ValueError("a granted consultation needs its legal basis")
    if not granted and not reason:
        raise ValueError("a refused consultation needs its reason")
    if status == NOT_FOUND and not legal_basis:
        raise ValueError("a consultation that found nothing was allowed: it needs its legal basis")
    kind = AuditKind.CONSULTATION_GRANTED if granted else AuditKind.CONSULTATION_REFUSED
    return _entry(
        kind,
        ticket=ticket,
        source_ticket=source_ticket,
        actor=actor,
        person=person,
        data_type=data_type,
        source=source,
        legal_basis=legal_basis if granted or status == NOT_FOUND else None,
        reason=None if granted else reason,
        at=at,
        consultation_status=status,
    )


def purge_entry(
    *,
    ticket: str,
    actor: str,
    person: str,
    data_type: str,
    purged: str,
    reason: str,
    at: datetime,
    source_ticket: str,
    source: str,
) -> dict[str, Any]:
    """The directory (``actor``) removed an item of kind ``purged`` (``streams.domain.retention.PurgedKind``)
    from ``person``'s file: the ``data_type`` declaration ``source_ticket`` of ``source`` had made it, and
    ``reason`` says why it went. Nothing of the item's content is recorded: the purge must not keep what it
    removes.

    Kind REFUSAL, as a consultation that found nothing is CONSULTATION_REFUSED: a new AuditKind symbol could not
    be read by a reader on AuditRecord v1-v3 (forward compatibility), and such a reader then shows the purge as
    nothing given, its reason starting with "purged"."""
    if not reason or not purged:
        raise ValueError("a purge names what it removed and why")
    return _entry(
        AuditKind.REFUSAL,
        ticket=ticket,
        source_ticket=source_ticket,
        actor=actor,
        person=person,
        data_type=data_type,
        source=source,
        legal_basis=None,
        reason=reason if reason.startswith("purged") else f"purged: {reason}",
        at=at,
        purged=purged,
    )


REPLAY_LEGAL_BASIS = "crossroads.operations.dead-letter-replay"


def replay_entry(
    *,
    ticket: str,
    operator: str,
    person: str,
    data_type: str,
    letter: str,
    origin: str,
    target: str,
    at: datetime,
    source_ticket: str | None = None,
    source: str | None = None,
) -> dict[str, Any]:
    """The operator principal ``operator`` replayed dead letter ``letter`` (root origin ``origin``, a
    declaration about ``person``) to ``target``, in replay ``ticket``.

    A replay is the operator handling a person's declaration: recorded as a granted consultation by the operator
    (no new `AuditKind`: a reader on an earlier AuditRecord could not decode one), under the operations' legal
    basis, with what was replayed where in ``reason``; ``source_ticket`` is the ticket the intake gives the
    message at its origin."""
    return _entry(
        AuditKind.CONSULTATION_GRANTED,
        ticket=ticket,
        source_ticket=source_ticket,
        actor=operator,
        person=person,
        data_type=data_type,
        source=source,
        legal_basis=REPLAY_LEGAL_BASIS,
        reason=f"dead letter {letter} ({origin}) replayed to {target}",
        at=at,
    )


# -- the citizen's question ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Receipt:
    """One line of the citizen's answer: one institution received, or was refused, one kind of data about the
    person, from ``source``, under ``legal_basis`` (received) or for ``reason`` (refused)."""

    institution: str
    data_type: str
    at: datetime
    legal_basis: str | None
    ticket: str
    kind: AuditKind
    audit_id: str
    source: str | None = None  # None on records written before the audit record carried it (AuditRecord v1)
    reason: str | None = None
    consultation_status: str | None = None  # None before AuditRecord v3, and for what is no consultation reply
    purged: str | None = None  # what a purge removed (AuditRecord v4); None for every exchange

    @property
    def was_purged(self) -> bool:
        """Not an exchange: the directory removed an item of the person's file past its period (nobody got it)."""
        return self.purged is not None

    @property
    def nothing_found(self) -> bool:
        """A consultation that was allowed but found nothing to give: nothing was received, nothing refused."""
        return self.consultation_status == NOT_FOUND

    @property
    def refused(self) -> bool:
        return self.kind in _REFUSED and not self.nothing_found and not self.was_purged

    @property
    def consultation(self) -> bool:
        return self.kind in (AuditKind.CONSULTATION_GRANTED, AuditKind.CONSULTATION_REFUSED)


_REFUSED = frozenset({AuditKind.REFUSAL, AuditKind.CONSULTATION_REFUSED})


def who_received(records: Iterable[Mapping[str, Any]], person: str, *, since: datetime | None = None) -> list[Receipt]:
    """Which institutions received, or were refused, which data about ``person``, from which source, when and
    why: every delivery, withheld delivery (REFUSAL), granted and refused consultation (re-identifications
    included) and consultation that found nothing (``Receipt.nothing_found``), once each (a record replayed
    after a crash has the same audit_id), oldest first.

    Refusals are part of the answer because the citizen is entitled to know who asked for their data, not only
    who got it (seed 6.7)."""
    seen: dict[str, Receipt] = {}
    for record in records:
        if record.get("person") != person:
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
                source=record.get("source"),
                reason=record.get("reason"),
                consultation_status=record.get("consultation_status"),
                purged=record.get("purged"),
            )
    return sorted(seen.values(), key=lambda r: (r.at, r.audit_id))
