"""The first pass over a data file: content hash, format, record count, trailer, truncation — no validation.

The second pass (the records themselves) reuses :func:`streams.codecs.quality.read_records`; record numbers are
the same in both passes (JSON Lines: the line; CSV: the data row; Avro: the record).
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

import fastavro
import orjson

from streams.codecs.quality import FileFormat
from streams.domain.filedrop import TRAILER_TYPE, FileScan, trailer_count

AVRO_MAGIC = b"Obj\x01"
AVRO_COUNT_KEY = "crossroads.records"  # an Avro container file's trailer: a header metadata entry
_EXTENSIONS: dict[str, FileFormat] = {
    "jsonl": "jsonl",
    "ndjson": "jsonl",
    "json": "jsonl",
    "csv": "csv",
    "avro": "avro",
}


@dataclass(frozen=True, slots=True)
class Scanned:
    scan: FileScan
    sha256: str
    trailer_at: int | None  # the record number of the trailer (skipped by the second pass)


def content_hash(path: Path) -> tuple[str, bytes, bytes]:
    """sha256 of the file, its first bytes (format sniffing) and its last byte (truncation)."""
    digest = hashlib.sha256()
    head = b""
    last = b""
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            if not head:
                head = block[:64]
            digest.update(block)
            last = block[-1:]
    return digest.hexdigest(), head, last


def sniff(extension: str | None, head: bytes) -> FileFormat | None:
    if extension:
        return _EXTENSIONS.get(extension)
    if head.startswith(AVRO_MAGIC):
        return "avro"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not stripped:
        return None
    return "jsonl" if stripped[:1] == b"{" else "csv"


def scan_file(path: Path, extension: str | None) -> tuple[Scanned, FileFormat | None]:
    sha, head, last = content_hash(path)
    file_format = sniff(extension, head)
    if file_format is None:
        return Scanned(FileScan(None, 0, unreadable="empty file, or a format that cannot be told"), sha, None), None
    ends_with_newline = last == b"\n"
    try:
        if file_format == "avro":
            return Scanned(_scan_avro(path), sha, None), file_format
        if file_format == "csv":
            scan, at = _scan_csv(path, ends_with_newline)
        else:
            scan, at = _scan_jsonl(path, ends_with_newline)
    except (UnicodeDecodeError, csv.Error) as exc:
        return Scanned(FileScan(file_format, 0, unreadable=f"not a {file_format} file: {exc}"), sha, None), file_format
    return Scanned(scan, sha, at), file_format


def _scan_jsonl(path: Path, ends_with_newline: bool) -> tuple[FileScan, int | None]:
    records = trailers = 0
    trailer: int | None = None
    trailer_at: int | None = None
    problem: str | None = None
    truncated: str | None = None
    last_number = 0
    with path.open("rb") as handle:
        previous: tuple[int, bytes] | None = None
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            previous = (number, line)
            last_number = number
            try:
                value = orjson.loads(line)
            except orjson.JSONDecodeError:
                records += 1
                continue
            if isinstance(value, dict) and value.get("type") == TRAILER_TYPE:
                trailers += 1
                trailer_at = number
                count = trailer_count({k: v for k, v in value.items() if k != "type"})
                if isinstance(count, int):
                    trailer = count
                else:
                    problem = count
                continue
            records += 1
        if previous is not None and not ends_with_newline:
            number, line = previous
            try:
                orjson.loads(line)
            except orjson.JSONDecodeError:
                truncated = f"line {number}, the last, is cut short (no end of line, not a whole JSON object)"
                records -= 1
    return (
        FileScan(
            "jsonl",
            records,
            trailer=trailer,
            trailers=trailers,
            trailer_last=trailer_at is None or trailer_at == last_number,
            trailer_problem=problem,
            truncated=truncated,
        ),
        trailer_at,
    )


def _scan_csv(path: Path, ends_with_newline: bool) -> tuple[FileScan, int | None]:
    records = trailers = 0
    trailer: int | None = None
    trailer_at: int | None = None
    problem: str | None = None
    truncated: str | None = None
    last_number = 0
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        fields = reader.fieldnames or []
        if not fields:
            return FileScan("csv", 0, unreadable="a CSV file starts with a header row"), None
        last_row: dict[str, str | None] | None = None
        for number, row in enumerate(reader, 1):
            last_number, last_row = number, row
            first = row.get(fields[0])
            if row.get("type") == TRAILER_TYPE or first == TRAILER_TYPE:
                trailers += 1
                trailer_at = number
                rest = {k: v for k, v in row.items() if k not in ("type", fields[0]) and k is not None}
                count = trailer_count(rest)
                if isinstance(count, int):
                    trailer = count
                else:
                    problem = count
                continue
            records += 1
        if last_row is not None and not ends_with_newline and any(v is None for v in last_row.values()):
            truncated = f"row {last_number}, the last, is cut short (fewer cells than the header, no end of line)"
            if trailer_at != last_number:
                records -= 1
    return (
        FileScan(
            "csv",
            records,
            trailer=trailer,
            trailers=trailers,
            trailer_last=trailer_at is None or trailer_at == last_number,
            trailer_problem=problem,
            truncated=truncated,
        ),
        trailer_at,
    )


def _scan_avro(path: Path) -> FileScan:
    records = 0
    with path.open("rb") as handle:
        try:
            reader = fastavro.block_reader(handle)
            metadata = dict(reader.metadata)
            for block in reader:
                records += block.num_records
        except Exception as exc:  # fastavro raises many kinds for a damaged container
            return FileScan("avro", records, truncated=f"the Avro container cannot be read to its end: {exc}")
    declared = metadata.get(AVRO_COUNT_KEY)
    if declared is None:
        return FileScan("avro", records)
    count = trailer_count({"records": declared})
    if isinstance(count, int):
        return FileScan("avro", records, trailer=count, trailers=1)
    return FileScan("avro", records, trailers=1, trailer_problem=count)
