"""Writing a generated dataset: JSON Lines per intake family, ``employers.csv`` and ``manifest.json``.

Each family file holds the population's records first (the initial state), then the day's, in sending order;
the manifest says where the day starts in each file and which lines are invalid on purpose, so that a test or a
demo can check that the platform rejects exactly those.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from streams.synthetic import figures
from streams.synthetic.population import Population
from streams.synthetic.records import FAMILIES, Generated

__all__ = ["EMPLOYERS_FILE", "MANIFEST_FILE", "file_of", "write_dataset", "write_employers"]

MANIFEST_FILE = "manifest.json"
EMPLOYERS_FILE = "employers.csv"

#: Called with the number of records written so far.
Advance = Callable[[int], None]


def file_of(family: str) -> str:
    return f"{family}.jsonl"


def write_employers(population: Population, path: Path) -> int:
    """``enterprise_number,nace_code,municipality_nis`` (what ``crossroads warehouse load-dimensions --employers``
    reads), followed by columns it ignores: name, section, joint committees."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ("enterprise_number", "nace_code", "municipality_nis", "name", "nace_section", "joint_committee_blue",
             "joint_committee_white")
        )  # fmt: skip
        for e in population.employers:
            writer.writerow(
                (e.enterprise_number, e.nace_code, e.municipality_nis, e.name, e.section, e.joint_committees.blue,
                 e.joint_committees.white)
            )  # fmt: skip
    return len(population.employers)


def write_dataset(
    out: Path,
    population: Population,
    day: Iterable[Generated],
    parameters: dict[str, Any],
    advance: Advance | None = None,
    *,
    history: bool = True,
) -> dict[str, Any]:
    """Write every file into ``out`` (created if needed) and return the manifest (also written).
    ``history=False``: only the directory entries still open on the day (see :meth:`Population.records`)."""
    out.mkdir(parents=True, exist_ok=True)
    handles = {family: (out / file_of(family)).open("wb") for family in FAMILIES}
    lines = dict.fromkeys(FAMILIES, 0)
    population_lines = dict.fromkeys(FAMILIES, 0)
    counts: dict[str, Counter[str]] = {"population": Counter(), "day": Counter()}
    invalid_lines: dict[str, list[int]] = {file_of(f): [] for f in FAMILIES}
    invalid_codes: Counter[str] = Counter()
    refusals: Counter[str] = Counter()
    consultations = 0
    written = 0
    try:
        for source in (population.records(history=history), day):
            for item in source:
                family = item.family
                handles[family].write(item.json_line())
                lines[family] += 1
                counts[item.phase][item.schema] += 1
                if item.phase == "population":
                    population_lines[family] += 1
                if item.invalid is not None:
                    invalid_lines[file_of(family)].append(lines[family])
                    invalid_codes[item.invalid] += 1
                if item.phase == "day" and family == "consultations":
                    consultations += 1
                    if item.authorized is False and item.refusal:
                        refusals[item.refusal] += 1
                written += 1
                if advance is not None and written % 10_000 == 0:
                    advance(written)
    finally:
        for handle in handles.values():
            handle.close()
    if advance is not None:
        advance(written)
    employers = write_employers(population, out / EMPLOYERS_FILE)
    quarter, _, _ = population.quarter
    manifest: dict[str, Any] = {
        "generator": "crossroads generate",
        "seed": population.seed,
        "citizens": len(population.citizens),
        "day": population.day.isoformat(),
        "dmfa_quarter": quarter,
        "network_version": population.network.version,
        "parameters": parameters,
        "files": {
            file_of(f): {
                "records": lines[f],
                "population_records": population_lines[f],
                "day_first_line": population_lines[f] + 1 if lines[f] > population_lines[f] else None,
            }
            for f in FAMILIES
        },
        "counts": {phase: dict(sorted(c.items())) for phase, c in counts.items()},
        "expected": {
            "invalid": sum(invalid_codes.values()),
            "invalid_by_code": dict(sorted(invalid_codes.items())),
            "invalid_lines": {name: found for name, found in invalid_lines.items() if found},
            "consultations": consultations,
            "unauthorized": sum(refusals.values()),
            "unauthorized_by_reason": dict(sorted(refusals.items())),
        },
        "population": {
            "employers": employers,
            "jobs": len(population.jobs),
            "directory_entries": sum(len(c.entries) for c in population.citizens),
            "entries_per_citizen": round(population.entries_per_citizen(), 3),
            "institutions_per_citizen": round(population.institutions_per_citizen(), 3),
            "active_entries_per_citizen": round(population.active_entries_per_citizen(), 3),
            "seed_institutions_per_citizen": figures.SEED_INSTITUTIONS_PER_CITIZEN,
        },
        "expected_day_volumes": {
            k: round(v, 3) for k, v in figures.day_volumes(len(population.citizens)).as_dict().items()
        },
    }
    (out / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return manifest
