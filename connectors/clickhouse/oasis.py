"""OASIS (seed 4.14): per employer and quarter aggregates from the warehouse, flagged by the pure rules of
`streams.domain.oasis`, and the workers each flag is about. The SQL never double counts a replayed row
(relations are grouped per key, DmfA lines read with FINAL); docs/analysts.md spells every indicator out.

Everything here reads the OASIS tables, `<database>_oasis` (the anti-fraud purpose's pseudonym space), never
the statistics tables: the flagged persons are anti-fraud pseudonyms, the only ones re-identification may
resolve (connectors/clickhouse/reidentify.py). The employer dimension (not personal data) is the statistics
database's.
"""

from __future__ import annotations

from typing import Any

from connectors.clickhouse.client import Executor, execute, quote_identifier
from connectors.clickhouse.statistics import in_force_lines_sql, relations_sql
from streams.domain.oasis import (
    CANCELLATION,
    EXIT,
    HIRE,
    SICKNESS_OR_ACCIDENT,
    TEMPORARY_UNEMPLOYMENT,
    EmployerQuarter,
    Flag,
    FlaggedPerson,
    Involvement,
    OasisThresholds,
    flag_employers,
    flagged_persons,
)
from streams.domain.validation import parse_quarter
from streams.settings import Settings


def oasis_database(database: str) -> str:
    """The OASIS tables' database of the warehouse `database`."""
    return f"{quote_identifier(database)}_oasis"


def dmfa_aggregates_sql(database: str) -> str:
    """Per employer, the DmfA in force for quarter %(quarter)s: workers, days worked, sickness+accident days,
    temporary-unemployment days."""
    db = oasis_database(database)
    return f"""
SELECT employer, uniqExact(worker) AS workers, sum(days_worked) AS days_worked,
       sum(sickness_days + accident_days) AS sickness_accident_days,
       sum(temporary_unemployment_days) AS temporary_unemployment_days
FROM ({in_force_lines_sql(db, "quarter = %(quarter)s")})
GROUP BY employer
"""


def dimona_aggregates_sql(database: str) -> str:
    """Per employer, the DIMONA relations of the quarter %(first)s..%(last)s: hires (declared, not cancelled,
    starting in it), the most hires within one window of %(window)s days counted from %(first)s, exits
    (ending in it) and cancellations (cancelled relations that started in it)."""
    db = quote_identifier(database)
    first, last = "toDate(%(first)s)", "toDate(%(last)s)"
    hired = f"declared AND NOT cancelled AND began >= {first} AND began <= {last}"
    return f"""
SELECT employer,
       sum(slot_hires) AS hires,
       max(slot_hires) AS max_hires_in_window,
       sum(slot_exits) AS exits,
       sum(slot_cancellations) AS cancellations
FROM (
    SELECT employer,
           intDiv(toRelativeDayNum(began) - toRelativeDayNum({first}), toUInt32(%(window)s)) AS slot,
           countIf({hired}) AS slot_hires,
           countIf(declared AND NOT cancelled AND has_end AND ended >= {first} AND ended <= {last}) AS slot_exits,
           countIf(cancelled AND relation_start >= {first} AND relation_start <= {last}) AS slot_cancellations
    FROM ({relations_sql(db)})
    GROUP BY employer, slot
)
GROUP BY employer
HAVING hires + exits + cancellations > 0
"""


def sectors_sql(database: str) -> str:
    db = quote_identifier(database)
    return f"SELECT employer, nace_division FROM {db}.employers FINAL"


def employer_quarters(client: Executor, database: str, quarter: str, window_days: int) -> list[EmployerQuarter]:
    """Every employer with DmfA or DIMONA activity in `quarter`, with its aggregates and NACE division."""
    bounds = parse_quarter(quarter)
    if bounds is None:
        raise ValueError(f"not a quarter: {quarter!r} (expected YYYY-Qn)")
    first, last = bounds
    dmfa = {row[0]: row[1:] for row in execute(client, dmfa_aggregates_sql(database), {"quarter": quarter})}
    dimona = {
        row[0]: row[1:]
        for row in execute(
            client, dimona_aggregates_sql(database), {"first": first, "last": last, "window": window_days}
        )
    }
    sectors = dict(execute(client, sectors_sql(database)))
    result = []
    for employer in sorted(set(dmfa) | set(dimona)):
        workers, days, sickness_accident, tu = _ints(dmfa.get(employer), 4)
        hires, max_window, exits, cancellations = _ints(dimona.get(employer), 4)
        result.append(
            EmployerQuarter(
                employer=employer,
                quarter=quarter,
                sector=str(sectors.get(employer, "")),
                workers=workers,
                days_worked=days,
                sickness_accident_days=sickness_accident,
                temporary_unemployment_days=tu,
                hires=hires,
                max_hires_in_window=max_window,
                exits=exits,
                cancellations=cancellations,
            )
        )
    return result


def _ints(values: tuple[Any, ...] | None, width: int) -> tuple[int, ...]:
    return tuple(int(v) for v in values) if values else (0,) * width


def thresholds_from(settings: Settings) -> OasisThresholds:
    return OasisThresholds.of(
        factor=settings.oasis_above_sector_factor,
        tu_days=settings.oasis_temporary_unemployment_days,
        hires_with_tu=settings.oasis_hires_with_unemployment,
        massive_hires=settings.oasis_massive_hires,
        window_days=settings.oasis_massive_window_days,
        cancellations=settings.oasis_cancellations,
    )


def oasis_flags(client: Executor, database: str, quarter: str, thresholds: OasisThresholds) -> list[Flag]:
    return flag_employers(employer_quarters(client, database, quarter, thresholds.window_days), thresholds)


def dmfa_involvements_sql(database: str) -> str:
    """Per worker of the employers %(employers)s, in the DmfA in force for quarter %(quarter)s: whether their
    lines declare sickness or accident days, and temporary-unemployment days."""
    db = oasis_database(database)
    return f"""
SELECT employer, worker,
       sum(sickness_days + accident_days) > 0 AS sickness_or_accident,
       sum(temporary_unemployment_days) > 0 AS temporary_unemployment
FROM ({in_force_lines_sql(db, "quarter = %(quarter)s AND employer IN %(employers)s")})
GROUP BY employer, worker
HAVING sickness_or_accident OR temporary_unemployment
"""


def dimona_involvements_sql(database: str) -> str:
    """Per worker of the employers %(employers)s, whether a relation of theirs is a hire, an exit or a cancellation
    of the quarter %(first)s..%(last)s (the definitions of `dimona_aggregates_sql`)."""
    db = oasis_database(database)
    first, last = "toDate(%(first)s)", "toDate(%(last)s)"
    return f"""
SELECT employer, worker,
       max(declared AND NOT cancelled AND began >= {first} AND began <= {last}) AS hire,
       max(declared AND NOT cancelled AND has_end AND ended >= {first} AND ended <= {last}) AS exit,
       max(cancelled AND relation_start >= {first} AND relation_start <= {last}) AS cancellation
FROM ({relations_sql(db)})
WHERE employer IN %(employers)s
GROUP BY employer, worker
HAVING hire OR exit OR cancellation
"""


def involvements(client: Executor, database: str, quarter: str, employers: tuple[str, ...]) -> list[Involvement]:
    """How the workers of `employers` take part in their quarter, as far as the indicators go."""
    if not employers:
        return []
    bounds = parse_quarter(quarter)
    if bounds is None:
        raise ValueError(f"not a quarter: {quarter!r} (expected YYYY-Qn)")
    first, last = bounds
    found = []
    dmfa = execute(
        client,
        dmfa_involvements_sql(database),
        {"quarter": quarter, "employers": employers},
        what="reading the OASIS workers' DmfA lines",
    )
    for employer, worker, sick, unemployed in dmfa:
        found += [Involvement(employer, worker, SICKNESS_OR_ACCIDENT)] if sick else []
        found += [Involvement(employer, worker, TEMPORARY_UNEMPLOYMENT)] if unemployed else []
    dimona = execute(
        client,
        dimona_involvements_sql(database),
        {"first": first, "last": last, "employers": employers},
        what="reading the OASIS workers' DIMONA relations",
    )
    for employer, worker, *roles in dimona:
        found += [
            Involvement(employer, worker, role)
            for role, took_part in zip((HIRE, EXIT, CANCELLATION), roles, strict=True)
            if took_part
        ]
    return found


def oasis_flagged_persons(
    client: Executor, database: str, quarter: str, thresholds: OasisThresholds
) -> tuple[list[Flag], dict[str, FlaggedPerson]]:
    """The flags of `quarter` and the workers they are about, by their anti-fraud pseudonym."""
    flags = oasis_flags(client, database, quarter, thresholds)
    employers = tuple(sorted({flag.employer for flag in flags}))
    return flags, flagged_persons(flags, involvements(client, database, quarter, employers))
