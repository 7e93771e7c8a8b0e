"""A small accumulator shared by the rule modules: rules never stop at the first violation.

Precondition for every rule module: the record conforms to its Avro schema (types, required fields, enum
symbols).  The intake gets that guarantee from decoding; ``crossroads check file`` from
``streams.codecs.conform`` followed by the same encode/decode.  Rules therefore check *content*, not types.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Mapping
from typing import Any

from streams.domain.errors import InvalidIdentifierError
from streams.domain.identifiers import EnterpriseNumber, PersonNumber, parse_enterprise, parse_niss
from streams.domain.quoting import MESSAGE_LIMIT, quoted
from streams.domain.validation.violation import Violation

Record = Mapping[str, Any]

_MIN_DATE = dt.date(1900, 1, 1)
_MAX_DATE = dt.date(2099, 12, 31)
_JOINT_COMMITTEE = re.compile(r"\d{3}(\.\d{2})?")
_NIS = re.compile(r"\d{5}")


def join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


class Checker:
    """Collects violations; each ``check_*`` returns the parsed value (or ``None``) so rules can chain."""

    __slots__ = ("violations",)

    def __init__(self) -> None:
        self.violations: list[Violation] = []

    def add(self, code: str, field: str, message: str) -> None:
        # a message may quote the offending value, which may be of any length
        self.violations.append(Violation(code, field, quoted(message, MESSAGE_LIMIT)))

    def niss(self, field: str, value: str) -> PersonNumber | None:
        try:
            return parse_niss(value)
        except InvalidIdentifierError as exc:
            self.add(exc.code, field, exc.message)
            return None

    def enterprise(self, field: str, value: str) -> EnterpriseNumber | None:
        try:
            return parse_enterprise(value)
        except InvalidIdentifierError as exc:
            self.add(exc.code, field, exc.message)
            return None

    def date(self, field: str, value: dt.date | None) -> dt.date | None:
        if value is None:
            return None
        if not _MIN_DATE <= value <= _MAX_DATE:
            self.add("date.range", field, f"{value.isoformat()} is outside 1900-01-01..2099-12-31")
            return None
        return value

    def text(self, field: str, value: str | None) -> str | None:
        if value is not None and not value.strip():
            self.add("text.blank", field, "must not be empty")
            return None
        return value

    def uuid(self, field: str, value: str | None, code: str = "uuid.format") -> None:
        if value is None:
            return
        try:
            uuid.UUID(value)
        except ValueError:
            self.add(code, field, f"{value!r} is not a UUID")

    def joint_committee(self, field: str, value: str | None) -> None:
        if value is not None and not _JOINT_COMMITTEE.fullmatch(value):
            self.add("joint_committee.format", field, f"{value!r} is not a joint committee (e.g. '200' or '140.03')")

    def municipality(self, field: str, value: str | None) -> None:
        if value is not None and not _NIS.fullmatch(value):
            self.add("municipality.format", field, f"{value!r} is not a 5-digit NIS code")

    def period(
        self, field: str, start: dt.date | None, end: dt.date | None, code: str = "period.end_before_start"
    ) -> None:
        if start is not None and end is not None and end < start:
            self.add(code, field, f"ends {end.isoformat()}, before it starts {start.isoformat()}")


def check_envelope(c: Checker, envelope: Record, prefix: str = "envelope") -> None:
    ticket = envelope["ticket"]
    if ticket is not None:
        c.uuid(join(prefix, "ticket"), ticket, code="envelope.ticket")
    reference = envelope["sender_reference"]
    if not reference.strip() or len(reference) > 100:
        c.add("envelope.sender_reference", join(prefix, "sender_reference"), "must be 1 to 100 characters, not blank")
    c.enterprise(join(prefix, "sender"), envelope["sender"])
    c.date(join(prefix, "recorded_at"), envelope["recorded_at"].date())
    if envelope["schema_version"] < 1:
        c.add(
            "envelope.schema_version",
            join(prefix, "schema_version"),
            f"{envelope['schema_version']} is not a released version (>= 1)",
        )
