"""Intake rules of the DmfA quarterly declaration (seed 4.5).  Whether a CORRECTION follows an accepted ORIGINAL
and carries the next version needs the earlier declarations: that is a stateful rule, not intake's."""

from __future__ import annotations

import datetime as dt
import re

from streams.domain.validation.checker import Checker, Record, check_envelope
from streams.domain.validation.violation import Violation

DMFA_DECLARATION = "be.crossroads.dmfa.DmfaDeclaration"

_QUARTER = re.compile(r"(\d{4})-Q([1-4])")


def parse_quarter(value: str) -> tuple[dt.date, dt.date] | None:
    """``"2024-Q3"`` -> (first day, last day), or ``None`` when it is not a quarter."""
    match = _QUARTER.fullmatch(value)
    if match is None:
        return None
    year, quarter = int(match[1]), int(match[2])
    if not 1900 <= year <= 2099:
        return None
    first = dt.date(year, 3 * quarter - 2, 1)
    last = dt.date(year + 1, 1, 1) if quarter == 4 else dt.date(year, 3 * quarter + 1, 1)
    return first, last - dt.timedelta(days=1)


def validate_dmfa(record: Record) -> list[Violation]:
    """All intake violations of one DmfA declaration."""
    c = Checker()
    check_envelope(c, record["envelope"])
    c.enterprise("employer", record["employer"])
    quarter = parse_quarter(record["quarter"])
    if quarter is None:
        c.add("dmfa.quarter_format", "quarter", f"{record['quarter']!r} is not a quarter like '2024-Q3'")
    nature, version = record["nature"], record["version"]
    if (nature == "ORIGINAL" and version != 1) or (nature == "CORRECTION" and version < 2):
        c.add(
            "dmfa.version",
            "version",
            f"{nature} cannot be version {version} (an original is 1, a correction 2 or more)",
        )
    lines = record["worker_lines"]
    if not lines:
        c.add("dmfa.no_worker_lines", "worker_lines", "a declaration needs at least one worker line")
    # Days are counted in calendar days of the quarter: the platform does not know each worker's regime here.
    days_in_quarter = (quarter[1] - quarter[0]).days + 1 if quarter else None
    seen: dict[tuple[str, str, str], int] = {}
    for index, line in enumerate(lines):
        prefix = f"worker_lines[{index}]"
        c.niss(f"{prefix}.worker", line["worker"])
        c.joint_committee(f"{prefix}.joint_committee", line["joint_committee"])
        key = (line["worker"], line["worker_category"], line["joint_committee"])
        if key in seen:
            c.add(
                "dmfa.duplicate_line", prefix, f"same worker, category and joint committee as worker_lines[{seen[key]}]"
            )
        else:
            seen[key] = index
        if line["gross_wage_cents"] < 0:
            c.add(
                "dmfa.amount_negative",
                f"{prefix}.gross_wage_cents",
                f"{line['gross_wage_cents']} cents: a gross wage cannot be negative",
            )
        worked = line["days_worked"]
        if worked < 0:
            c.add("dmfa.days_negative", f"{prefix}.days_worked", f"{worked} days: cannot be negative")
        total = max(worked, 0)
        reasons: set[str] = set()
        for j, assimilated in enumerate(line["assimilated_days"]):
            field = f"{prefix}.assimilated_days[{j}]"
            if assimilated["days"] < 1:
                c.add("dmfa.days_negative", f"{field}.days", f"{assimilated['days']} days: must be at least 1")
            else:
                total += assimilated["days"]
            if assimilated["reason"] in reasons:
                c.add("dmfa.duplicate_reason", f"{field}.reason", f"reason {assimilated['reason']} given twice")
            reasons.add(assimilated["reason"])
        if days_in_quarter is not None and total > days_in_quarter:
            c.add(
                "dmfa.days_exceed_quarter",
                prefix,
                f"{total} days worked and assimilated, but {record['quarter']} has {days_in_quarter} days",
            )
    return c.violations
