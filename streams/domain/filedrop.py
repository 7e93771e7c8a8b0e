"""The batch file protocol (shared design §5): file names, formal checks, reply records, identity rules.

Pure: no file, no Kafka. The connector (``connectors/files``) reads the folders and the files and hands this
module what it found; this module decides.

Names::

    FI.<TYPE>.<sender>.<YYYYMMDD>.<seq>.<R|T>[.jsonl|.csv|.avro]    the data file
    GO.<TYPE>.<sender>.<YYYYMMDD>.<seq>.<R|T>                      empty: the data file is complete, process it
    TD.<TYPE>.<sender>.<YYYYMMDD>.<seq>.<R|T>                      empty: cancel the data file (not yet processed)
    FO.ACRF.<tail>.<sha12>.jsonl                                   reply: formal checks, accepted or refused whole
    FO.NOTI.<tail>.<sha12>.jsonl                                   reply: one line per record, then a trailer

A *file identity* is (sender, date, seq, environment): the type is not part of it, so a partner cannot reuse a
sequence number by changing the type. An identity is taken once a file under it is *accepted* by the formal
checks; a refused file does not take it (the partner corrects and sends again under the same name).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from streams.domain.errors import InvalidIdentifierError
from streams.domain.identifiers import EnterpriseNumber
from streams.domain.kinds import FAMILIES, kinds_of
from streams.domain.validation import Violation

__all__ = [
    "FILE_TYPES",
    "TRAILER_TYPE",
    "DropKind",
    "DropName",
    "FileIdentity",
    "FileScan",
    "FileType",
    "Identity",
    "IdentityDecision",
    "acrf",
    "decide_identity",
    "envelope_anomalies",
    "formal_check",
    "noti_line",
    "noti_trailer",
    "parse_drop_name",
    "reply_name",
    "trailer_count",
]

TRAILER_TYPE = "TRAILER"
ENVIRONMENTS = {"R": "PRODUCTION", "T": "TEST"}
PLATFORM_ENVIRONMENT = {"production": "R", "test": "T"}


@dataclass(frozen=True, slots=True)
class FileType:
    code: str
    family: str  # intake topic name (streams.catalog): where accepted records go
    schemas: frozenset[str]  # full Avro names a record of this file may have
    description: str

    @property
    def default_schema(self) -> str | None:
        """The schema of a record that does not say its type: only when the file type allows exactly one."""
        return next(iter(self.schemas)) if len(self.schemas) == 1 else None


# one file type per family of declarations (streams.domain.kinds): the schemas are the family's kinds
FILE_TYPES: Mapping[str, FileType] = {
    family.file_type: FileType(
        family.file_type, family.name, frozenset(k.schema for k in kinds_of(family)), family.description
    )
    for family in FAMILIES
}


class DropKind(StrEnum):
    DATA = "FI"
    GO = "GO"
    CANCEL = "TD"


_NAME = re.compile(
    r"^(?P<kind>FI|GO|TD)\.(?P<tail>(?P<type>[^.]+)\.(?P<sender>[^.]+)\.(?P<date>[^.]+)\.(?P<seq>[^.]+)\.(?P<env>[^.]+))"
    r"(?:\.(?P<ext>jsonl|ndjson|json|csv|avro))?$"
)


@dataclass(frozen=True, slots=True)
class Identity:
    sender: str
    date: str  # YYYYMMDD
    seq: int
    environment: str  # R | T

    @property
    def key(self) -> str:
        """A file-system and header friendly name of the identity."""
        return f"{self.sender}.{self.date}.{self.seq:06d}.{self.environment}"


FileIdentity = Identity


@dataclass(frozen=True, slots=True)
class DropName:
    """A file of the protocol, split into its parts (not yet checked: see :func:`formal_check`)."""

    kind: DropKind
    tail: str  # <TYPE>.<sender>.<date>.<seq>.<env>: what pairs FI, GO and TD
    type_code: str
    sender: str
    date: str
    seq: str
    environment: str
    extension: str | None

    def identity(self) -> Identity | None:
        if not self.seq.isdigit() or self.environment not in ENVIRONMENTS:
            return None
        return Identity(self.sender, self.date, int(self.seq), self.environment)


def parse_drop_name(name: str) -> DropName | None:
    """The parts of a protocol file name, or ``None`` for a file that is not part of the protocol."""
    match = _NAME.match(name)
    if match is None:
        return None
    return DropName(
        DropKind(match["kind"]),
        match["tail"],
        match["type"],
        match["sender"],
        match["date"],
        match["seq"],
        match["env"],
        match["ext"],
    )


@dataclass(frozen=True, slots=True)
class FileScan:
    """What a first pass over the data file found (the connector reads; this module judges)."""

    file_format: str | None  # jsonl | csv | avro, None when it could not be told
    records: int  # data records, the trailer excluded
    trailer: int | None = None  # the record count the file declares, when it has a trailer
    trailers: int = 0  # how many trailer records were seen
    trailer_last: bool = True  # the trailer is the last record
    trailer_problem: str | None = None  # a trailer whose count cannot be read
    unreadable: str | None = None  # why the file cannot be read at all
    truncated: str | None = None  # why the file looks cut short (its last line or row incomplete)


def _bad(code: str, field: str, message: str) -> Violation:
    return Violation(code, field, message)


def formal_check(name: DropName, owner: str, scan: FileScan, *, platform_environment: str) -> list[Violation]:
    """Every formal reason to refuse the whole file (empty: accepted). ``owner`` is the folder's partner,
    ``platform_environment`` the platform's (``production`` takes R files, ``test`` T files)."""
    reasons: list[Violation] = []
    if name.type_code not in FILE_TYPES:
        reasons.append(
            _bad("file.type", "name", f"unknown file type {name.type_code!r}; known: {', '.join(sorted(FILE_TYPES))}")
        )
    try:
        EnterpriseNumber.parse(name.sender)
    except InvalidIdentifierError as exc:
        reasons.append(
            _bad("file.sender", "name", f"the sender {name.sender!r} is not an enterprise number: {exc.message}")
        )
    if name.sender != owner:
        reasons.append(
            _bad("file.sender", "name", f"the file names sender {name.sender} but was dropped in {owner}'s folder")
        )
    try:
        if len(name.date) != 8 or not name.date.isdigit():
            raise ValueError
        dt.datetime.strptime(name.date, "%Y%m%d")
    except ValueError:
        reasons.append(_bad("file.date", "name", f"{name.date!r} is not a date YYYYMMDD"))
    if not (name.seq.isdigit() and 1 <= len(name.seq) <= 6):
        reasons.append(_bad("file.seq", "name", f"{name.seq!r} is not a sequence number (1 to 6 digits)"))
    if name.environment not in ENVIRONMENTS:
        reasons.append(_bad("file.environment", "name", f"{name.environment!r} is neither R (production) nor T (test)"))
    elif PLATFORM_ENVIRONMENT.get(platform_environment) != name.environment:
        reasons.append(
            _bad(
                "file.environment",
                "name",
                f"a {ENVIRONMENTS[name.environment]} file sent to the {platform_environment} platform",
            )
        )
    if scan.unreadable is not None:
        reasons.append(_bad("file.unreadable", "content", scan.unreadable))
    if scan.truncated is not None:
        reasons.append(_bad("file.truncated", "content", scan.truncated))
    if scan.trailers > 1:
        reasons.append(_bad("file.trailer", "trailer", f"{scan.trailers} trailers; a file has at most one, last"))
    elif scan.trailers == 1 and not scan.trailer_last:
        reasons.append(_bad("file.trailer", "trailer", "the trailer is not the last record"))
    if scan.trailer_problem is not None:
        reasons.append(_bad("file.trailer", "trailer", scan.trailer_problem))
    elif scan.trailer is not None and scan.trailer != scan.records:
        reasons.append(
            _bad(
                "file.trailer_count",
                "trailer",
                f"the trailer announces {scan.trailer} records, the file holds {scan.records}",
            )
        )
    if scan.unreadable is None and scan.records == 0:
        reasons.append(_bad("file.empty", "content", "the file holds no record"))
    return reasons


def trailer_count(values: Mapping[str, Any]) -> int | str:
    """The record count of a trailer record (``{"type": "TRAILER", "records": N}``; in a CSV the row's one other
    non-empty cell), or why it cannot be read."""
    candidate: Any = values.get("records")
    if candidate is None:
        cells = [v for v in _leaves(values) if v not in (None, "")]
        if len(cells) != 1:
            return "the trailer must hold exactly one value, the record count"
        candidate = cells[0]
    if isinstance(candidate, bool):
        return f"the trailer's record count {candidate!r} is not a number"
    if isinstance(candidate, int):
        return candidate
    if isinstance(candidate, str) and candidate.strip().isdigit():
        return int(candidate.strip())
    return f"the trailer's record count {candidate!r} is not a number"


def _leaves(values: Mapping[str, Any]) -> list[Any]:
    out: list[Any] = []
    for value in values.values():
        out.extend(_leaves(value) if isinstance(value, Mapping) else [value])
    return out


# -- identity: once per (sender, date, seq, environment) + content hash ---------------------------------------


class IdentityDecision(StrEnum):
    NEW = "new"  # never accepted: formal checks decide
    RESUME = "resume"  # same content, accepted, not finished (a crash): carry on where it stopped
    REPLAY = "replay"  # same content, finished: a no-op answered with the original ACRF
    CONFLICT = "conflict"  # the identity is taken by other content: refused


def decide_identity(taken_by: str | None, finished: bool, content_hash: str) -> IdentityDecision:
    """``taken_by``: the hash of the content that took this identity (None: free)."""
    if taken_by is None:
        return IdentityDecision.NEW
    if taken_by != content_hash:
        return IdentityDecision.CONFLICT
    return IdentityDecision.REPLAY if finished else IdentityDecision.RESUME


def conflict_reason(identity: Identity, taken_by: str) -> Violation:
    return _bad(
        "file.identity_reused",
        "name",
        f"sender {identity.sender}, date {identity.date}, sequence {identity.seq}, environment "
        f"{identity.environment} was already accepted with other content (sha256 {taken_by[:12]}…); "
        "use a new sequence number",
    )


def reply_name(kind: str, tail: str, content_hash: str) -> str:
    """``FO.ACRF.<tail>.<sha12>.jsonl``: the same drop always gets the same name, other content another."""
    return f"FO.{kind}.{tail}.{content_hash[:12]}.jsonl"


# -- replies --------------------------------------------------------------------------------------------------


def acrf(
    file_name: str,
    name: DropName,
    content_hash: str,
    scan: FileScan,
    reasons: list[Violation],
    at: dt.datetime,
) -> dict[str, Any]:
    """The ACRF: the file accepted or refused as a whole after the formal checks, with every reason."""
    return {
        "reply": "ACRF",
        "file": file_name,
        "type": name.type_code,
        "sender": name.sender,
        "date": name.date,
        "seq": name.seq,
        "environment": name.environment,
        "sha256": content_hash,
        "format": scan.file_format,
        "records": scan.records,
        "status": "REFUSED" if reasons else "ACCEPTED",
        "reasons": [r.as_dict() for r in reasons],
        "answered_at": at.astimezone(dt.UTC).isoformat(),
    }


def noti_line(
    number: int,
    schema_name: str | None,
    sender_reference: str | None,
    ticket: str | None,
    anomalies: list[Violation],
) -> dict[str, Any]:
    """One record's result: accepted with its platform ticket, or rejected with all its anomalies."""
    return {
        "record": number,
        "status": "REJECTED" if anomalies else "ACCEPTED",
        "ticket": None if anomalies else ticket,
        "declaration_type": schema_name,
        "sender_reference": sender_reference,
        "anomalies": [a.as_dict() for a in anomalies],
    }


def noti_trailer(records: int, accepted: int, rejected: int) -> dict[str, Any]:
    return {"type": TRAILER_TYPE, "records": records, "accepted": accepted, "rejected": rejected}


# -- records --------------------------------------------------------------------------------------------------


def envelope_anomalies(
    file_type: FileType, schema_name: str, record: dict[str, Any], partner: str, environment: str
) -> list[Violation]:
    """Complete the record's envelope from the file (sender, environment, no ticket, version 1 when absent) and
    return what contradicts the file. ``record`` is completed in place."""
    anomalies: list[Violation] = []
    if schema_name not in file_type.schemas:
        anomalies.append(
            _bad(
                "file.record_type",
                "type",
                f"a {file_type.code} file holds {', '.join(sorted(s.rpartition('.')[2] for s in file_type.schemas))}, "
                f"not {schema_name.rpartition('.')[2]}",
            )
        )
    envelope = record.get("envelope")
    if envelope is None:
        envelope = record["envelope"] = {}
    if not isinstance(envelope, dict):
        return anomalies  # conform reports it
    sender = envelope.get("sender")
    if sender in (None, ""):
        envelope["sender"] = partner
    elif sender != partner:
        anomalies.append(
            _bad(
                "file.sender",
                "envelope.sender",
                f"the record claims sender {sender} but the file is in {partner}'s folder: "
                "a partner declares only as itself",
            )
        )
    wanted = ENVIRONMENTS.get(environment)
    env = envelope.get("environment")
    if env in (None, ""):
        envelope["environment"] = wanted
    elif env != wanted:
        anomalies.append(_bad("file.environment", "envelope.environment", f"a {env} record in a {wanted} file"))
    if envelope.get("ticket") not in (None, ""):
        anomalies.append(_bad("envelope.ticket", "envelope.ticket", "the platform assigns the ticket: leave it empty"))
    envelope["ticket"] = None
    envelope.setdefault("schema_version", 1)
    return anomalies


def origin(identity: Identity, content_hash: str) -> str:
    """The value of the ``crossroads-file`` header of every record produced from this file."""
    return f"{identity.key}.{content_hash[:16]}"
