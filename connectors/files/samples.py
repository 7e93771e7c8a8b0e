"""Partner files for demos, tests and the bench: N DIMONA IN declarations as one employer would drop them."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fastavro

from connectors.files.scan import AVRO_COUNT_KEY


def niss(n: int) -> str:
    """The n-th of many distinct, checksum-valid national numbers (men born 1950-2004)."""
    birth = dt.date(1950, 1, 1) + dt.timedelta(days=n % 20_000)
    serial = 1 + 2 * ((n // 20_000) % 499)
    body = f"{birth:%y%m%d}{serial:03d}"
    base = int(("2" if birth.year >= 2000 else "") + body)
    return f"{body}{97 - base % 97:02d}"


def dimona_in(n: int, employer: str, *, environment: str = "PRODUCTION", valid: bool = True) -> dict[str, Any]:
    """Record ``n`` of a DIMN file, in the schema's field names (JSON-ready). ``valid=False``: a bad joint
    committee and a period ending before it starts (two anomalies)."""
    start = dt.date(2026, 1, 1) + dt.timedelta(days=n % 300)
    return {
        "type": "DimonaIn",
        "envelope": {
            "sender_reference": f"D-{n:08d}",
            "sender": employer,
            "environment": environment,
            "recorded_at": "2026-01-01T08:00:00+00:00",
            "schema_version": 1,
        },
        "employer": employer,
        "worker": niss(n),
        "start_date": start.isoformat(),
        "planned_end_date": (start + dt.timedelta(days=90 if valid else -5)).isoformat(),
        "worker_type": "OTH",
        "joint_committee": "200" if valid else "2X",
        "planned_hours": None,
    }


def dimona_records(count: int, employer: str, *, invalid_every: int = 0, first: int = 0) -> Iterator[dict[str, Any]]:
    for n in range(first, first + count):
        yield dimona_in(n, employer, valid=not (invalid_every and n % invalid_every == invalid_every - 1))


def write_jsonl(path: Path, records: Iterator[dict[str, Any]], *, trailer: int | bool = True) -> int:
    """Write records, then a trailer with their count (``trailer=N``: a trailer announcing N, ``False``: none)."""
    written = 0
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")
            written += 1
        if trailer is not False:
            announced = written if trailer is True else trailer
            handle.write(json.dumps({"type": "TRAILER", "records": announced}) + "\n")
    return written


def _flat(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = "" if value is None else value
    return out


def write_csv(path: Path, records: list[dict[str, Any]], *, trailer: bool = True) -> int:
    rows = [_flat(r) for r in records]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    if trailer:
        writer.writerow({"type": "TRAILER", "envelope.sender_reference": str(len(rows))})
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return len(rows)


def write_avro(path: Path, schema: dict[str, Any], records: list[dict[str, Any]], *, count: int | None = None) -> int:
    """An Avro container file of ``schema``; ``count`` in its header metadata (the Avro trailer) when given."""
    metadata = {AVRO_COUNT_KEY: str(count)} if count is not None else None
    with path.open("wb") as handle:
        fastavro.writer(handle, fastavro.parse_schema(schema), records, metadata=metadata)
    return len(records)
