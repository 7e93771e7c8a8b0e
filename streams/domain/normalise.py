"""One stored form per enterprise number: the 10 bare digits, whatever form the sender typed.

The rules accept an enterprise number with the usual punctuation, a ``BE`` prefix, or in its legacy 9-digit
form (``403170701``, read as ``0403170701`` like the KBO/BCE and ``stdnum.be.vat`` do). What is judged and
stored downstream must be one spelling per enterprise, or the same employer would be two: its DIMONA relations
would not be its own when it consults, a mandate would not name it, its mailbox key would differ. The intake
therefore rewrites a declaration with :func:`enterprise_numbers` before anything else (sender rules,
validation, the facts it stores), and ``crossroads check file`` shows the same rewrite as notes.

Pure: a new record is returned, the input is not changed. A value that is no valid enterprise number is left
as it is, for the rules to refuse with their own codes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from streams.domain.errors import InvalidIdentifierError
from streams.domain.identifiers import parse_enterprise
from streams.domain.kinds import KINDS

__all__ = ["READ_AS", "Note", "enterprise_numbers"]

READ_AS = "enterprise.read_as"


@dataclass(frozen=True, slots=True)
class Note:
    """Something the platform read differently from how it was written, without refusing it."""

    field: str
    message: str
    code: str = READ_AS


def enterprise_numbers(schema_name: str, record: Mapping[str, Any]) -> tuple[dict[str, Any], tuple[Note, ...]]:
    """``record`` with every valid enterprise number in its 10-digit form, and a note per number rewritten.
    Unchanged (the same object) when there is nothing to rewrite."""
    notes: list[Note] = []
    rewritten = _rewrite(schema_name, record, "", notes)
    return (rewritten, ()) if not notes else (rewritten, tuple(notes))


def _rewrite(schema_name: str, record: Mapping[str, Any], prefix: str, notes: list[Note]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    envelope = record.get("envelope")
    if isinstance(envelope, Mapping):
        sender = _read(envelope.get("sender"), f"{prefix}envelope.sender", notes)
        if sender is not None:
            changes["envelope"] = {**envelope, "sender": sender}
    kind = KINDS.get(schema_name)
    for name in kind.enterprises if kind is not None else ():
        number = _read(record.get(name), f"{prefix}{name}", notes)
        if number is not None:
            changes[name] = number
    if kind is not None and kind.batch:
        items = list(_items(record.get("declarations"), prefix, notes))
        if items != list(record.get("declarations") or ()):
            changes["declarations"] = items
    if not changes:
        return record if isinstance(record, dict) else dict(record)
    return {**record, **changes}


def _items(declarations: Any, prefix: str, notes: list[Note]) -> Iterator[Any]:
    # a multi-record union decodes as (full name, record) (streams.codecs); anything else is the rules' to refuse
    for index, item in enumerate(declarations or ()):
        if isinstance(item, tuple | list) and len(item) == 2 and isinstance(item[1], Mapping):
            name, body = item
            yield (name, _rewrite(name, body, f"{prefix}declarations[{index}].", notes))
        else:
            yield item


def _read(value: Any, field: str, notes: list[Note]) -> str | None:
    """The 10-digit form of ``value`` when it is a valid enterprise number written otherwise, else None."""
    if not isinstance(value, str):
        return None
    try:
        number = parse_enterprise(value)
    except InvalidIdentifierError:
        return None
    if number.digits == value:
        return None
    legacy = " (the legacy 9-digit form, 0 prefixed)" if number.legacy_form else ""
    notes.append(Note(field, f"{value!r} read as {number.digits}{legacy}"))
    return number.digits
