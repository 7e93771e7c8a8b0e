"""The providers' quality checker (seed 3.2): read a declaration file and apply exactly what the platform does.

For each record: structural conformance (:mod:`streams.codecs.conform`), then the codec's encode and decode
(what the intake receives), then the intake's own rewrite of enterprise numbers
(:func:`streams.domain.normalise.enterprise_numbers`, reported as notes: a legacy 9-digit number is read with
its 0) and :func:`streams.domain.validation.validate` — the very functions the intake calls.  A provider who
gets a clean report here gets no rejection at intake for the same reasons.

Which declaration type a file holds:

* ``type_name`` given (``crossroads check file --type DimonaIn``): every record is of that type;
* else JSON Lines: each object's ``"type"`` key; CSV: the ``type`` column (full or short schema name);
* else Avro container files: the name of the container's writer schema.

Formats: ``.jsonl``/``.ndjson``/``.json`` JSON Lines, ``.csv`` CSV (header row; ``a.b`` columns build nested
records, cells holding arrays or records carry JSON text), ``.avro`` Avro object container (fastavro).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import fastavro

from streams.codecs.codec import AvroCodec
from streams.codecs.conform import conform
from streams.codecs.errors import CodecError
from streams.codecs.registry import SchemaRegistry
from streams.domain.kinds import validate
from streams.domain.normalise import Note, enterprise_numbers
from streams.domain.validation import Violation

__all__ = ["FileFormat", "RecordReport", "check_file", "check_record", "detect_format", "read_records"]

FileFormat = Literal["jsonl", "csv", "avro"]
_SUFFIXES: dict[str, FileFormat] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".csv": "csv",
    ".avro": "avro",
}


@dataclass(frozen=True, slots=True)
class RecordReport:
    number: int  # 1-based: line of a JSON Lines file, data row of a CSV, record of an Avro file
    schema_name: str | None
    violations: list[Violation] = field(default_factory=list)
    notes: tuple[Note, ...] = ()  # what the platform reads differently from how it is written (not a violation)


@dataclass(frozen=True, slots=True)
class _Raw:
    number: int
    type_name: str | None
    record: Any
    error: Violation | None = None


def detect_format(path: Path) -> FileFormat:
    try:
        return _SUFFIXES[path.suffix.lower()]
    except KeyError:
        raise ValueError(f"{path.name}: cannot tell the format from the extension; use --format") from None


def _nest(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        target = out
        *parents, leaf = key.split(".")
        for part in parents:
            target = target.setdefault(part, {})
        target[leaf] = value
    return out


def read_records(path: Path, file_format: FileFormat) -> Iterator[_Raw]:
    if file_format == "avro":
        with path.open("rb") as handle:
            reader = fastavro.reader(handle, return_record_name=True, return_record_name_override=True)
            name = reader.writer_schema.get("name") if isinstance(reader.writer_schema, dict) else None
            for number, record in enumerate(reader, 1):
                yield _Raw(number, name, record)
        return
    with path.open(encoding="utf-8", newline="") as handle:
        if file_format == "csv":
            for number, row in enumerate(csv.DictReader(handle), 1):
                record = _nest({k: v for k, v in row.items() if k is not None})
                yield _Raw(number, record.pop("type", None) or None, record)
            return
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as exc:
                yield _Raw(number, None, None, Violation("file.json", "", f"not JSON: {exc}"))
                continue
            if not isinstance(record, dict):
                yield _Raw(number, None, None, Violation("file.json", "", "a line must hold one JSON object"))
                continue
            type_name = record.pop("type", None)
            yield _Raw(number, type_name if isinstance(type_name, str) else None, record)


def check_record(codec: AvroCodec, schema_name: str, raw: Any) -> list[Violation]:
    """Every violation of one untrusted record of type ``schema_name`` (full name)."""
    return _check(codec, schema_name, raw)[0]


def _check(codec: AvroCodec, schema_name: str, raw: Any) -> tuple[list[Violation], tuple[Note, ...]]:
    record, violations = conform(codec.registry, schema_name, raw)
    if violations:
        return violations, ()
    try:
        decoded = codec.decode(codec.encode(schema_name, record))
    except CodecError as exc:  # conform should have caught it; never hide it if it did not
        return [Violation("schema.encode", "", exc.reason)], ()
    normalised, notes = enterprise_numbers(decoded.schema_name, decoded.record)
    return validate(decoded.schema_name, normalised), notes


def check_file(
    path: Path, registry: SchemaRegistry, *, type_name: str | None = None, file_format: FileFormat | None = None
) -> Iterator[RecordReport]:
    """One report per record of the file, in order."""
    codec = AvroCodec(registry)  # single-object framing: the checker never needs a registry server
    forced = registry.resolve(type_name) if type_name else None
    for raw in read_records(path, file_format or detect_format(path)):
        if raw.error is not None:
            yield RecordReport(raw.number, None, [raw.error])
            continue
        name = forced or raw.type_name
        if name is None:
            yield RecordReport(
                raw.number,
                None,
                [
                    Violation(
                        "file.type_missing",
                        "type",
                        "the record does not say its type: add a 'type' field or use --type",
                    )
                ],
            )
            continue
        try:
            full_name = registry.resolve(name)
        except CodecError as exc:
            yield RecordReport(raw.number, None, [Violation("declaration.unknown_type", "type", exc.reason)])
            continue
        violations, notes = _check(codec, full_name, raw.record)
        yield RecordReport(raw.number, full_name, violations, notes)
