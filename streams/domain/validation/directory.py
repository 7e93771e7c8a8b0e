"""Intake rules of directory integrations (seed 4.2).  The anti-fraud overlap rule (seed 4.14) needs the
directory's content and is decided there (``directory.overlap``)."""

from __future__ import annotations

import re

from streams.domain.validation.checker import Checker, Record, check_envelope
from streams.domain.validation.violation import Violation

INTEGRATION = "be.crossroads.directory.Integration"

_SECTOR = re.compile(r"[A-Z0-9_]{1,40}")
_CAPACITY = re.compile(r"[A-Z0-9_]{1,20}")


def validate_integration(record: Record) -> list[Violation]:
    """All intake violations of an integration (register / unregister)."""
    c = Checker()
    check_envelope(c, record["envelope"])
    c.niss("person", record["person"])
    c.enterprise("institution", record["institution"])
    if not _SECTOR.fullmatch(record["sector"]):
        c.add("directory.sector_format", "sector", f"{record['sector']!r} is not a sector code like 'MUTUALITY'")
    if not _CAPACITY.fullmatch(record["capacity"]):
        c.add("directory.capacity_format", "capacity", f"{record['capacity']!r} is not a capacity code like '001'")
    period = record["period"]
    start = c.date("period.start", period["start"])
    end = c.date("period.end", period["end"])
    c.period("period.end", start, end)
    return c.violations
