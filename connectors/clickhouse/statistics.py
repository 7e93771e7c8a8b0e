"""Statistics over the pseudonymised warehouse (seed 4.12): population, employment, socio-economic mobility.

Every query is parameterised (`%(name)s`, clickhouse-driver style) and is written so that a row projected
twice never counts twice *before* parts merge: persons are aggregated per pseudonym with argMax/countIf,
DmfA lines are read with FINAL, dimensions with FINAL. The same SQL runs on ClickHouse 18.16 and on a
current engine (tests/unit/test_migrations_chdb.py). docs/analysts.md explains each one for analysts.

Published outputs apply small-cell suppression: a cell counting fewer persons than the threshold
(`Settings.small_cell_threshold`, 5 by default) is shown as suppressed (`None`), never as its count.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from connectors.clickhouse.client import Executor, WarehouseError, execute, quote_identifier

LEVELS = {
    "municipality": "municipality",
    "arrondissement": "arrondissement_nis",
    "province": "province_nis",
    "region": "region_nis",
}

# Age classes of the published tables (lower bounds, in years, at the reference date)
AGE_CLASSES = ((0, "0-17"), (18, "18-24"), (25, "25-34"), (35, "35-44"), (45, "45-54"), (55, "55-64"), (65, "65+"))

POSITIONS = ("DECEASED", "EMPLOYED", "UNEMPLOYED", "INCAPACITY", "PENSIONER", "SOCIAL_ASSISTANCE", "OTHER")

# (sector, capacity) of the reference directory that put a person in a socio-economic position
POSITION_CAPACITIES = {
    "UNEMPLOYED": (
        ("UNEMPLOYMENT", "BENEFICIARY"),
        ("EMPLOYMENT_OFFICE", "JOB_SEEKER"),
        ("EMPLOYMENT_OFFICE", "SCHOOL_LEAVER"),
    ),
    "INCAPACITY": (("MUTUALITY", "INCAPACITY"),),
    "PENSIONER": (("PENSIONS", "PENSIONER"), ("PENSIONS", "INCOME_GUARANTEE")),
    "SOCIAL_ASSISTANCE": (("CPAS", "INTEGRATION_INCOME"), ("CPAS", "SOCIAL_AID")),
}


@dataclass(frozen=True, slots=True)
class Cell:
    """One cell of a published table: its dimensions and its count, None when suppressed."""

    key: tuple[str, ...]
    count: int | None


def suppress(count: int, threshold: int) -> int | None:
    """Small-cell suppression: a count under the threshold is not published (0 is published: it is no one)."""
    return None if 0 < count < threshold else count


def published(rows: Iterable[tuple[Any, ...]], threshold: int) -> list[Cell]:
    """Rows `(*dimensions, count)` as published cells, sorted, small cells suppressed."""
    cells = [Cell(tuple(str(v) for v in row[:-1]), suppress(int(row[-1]), threshold)) for row in rows]
    return sorted(cells, key=lambda cell: cell.key)


# -- SQL fragments -------------------------------------------------------------------------------------------


def _age_class_sql(year: str, month_day: str, at: str) -> str:
    """Age in whole years on `at` from birth year and month*100+day (0 unknown: age class 'unknown')."""
    age = (
        f"(toInt32(toYear({at})) - toInt32({year}) - if(toMonth({at}) * 100 + toDayOfMonth({at}) < {month_day}, 1, 0))"
    )
    branches = ", ".join(f"{age} < {upper}, '{label}'" for (_, label), (upper, _) in itertools.pairwise(AGE_CLASSES))
    return f"if({year} = 0 OR {month_day} = 0, 'unknown', multiIf({branches}, '{AGE_CLASSES[-1][1]}'))"


def residents_sql(db: str, at: str) -> str:
    """One row per person living in a Belgian municipality on `at` (an SQL date expression): alive, born,
    with the municipality of their latest birth/address event on or before `at`."""
    return f"""
SELECT person, municipality, person_sex, born_year, born_month_day FROM (
    SELECT
        person,
        argMaxIf(municipality_nis, (effective_date, recorded_at, event_id),
                 kind IN ('BIRTH', 'ADDRESS') AND effective_date <= {at}) AS municipality,
        countIf(kind IN ('BIRTH', 'ADDRESS') AND effective_date <= {at}) AS residences,
        countIf(kind = 'DEATH' AND effective_date <= {at}) AS deaths,
        max(sex) AS person_sex,
        if(countIf(kind = 'BIRTH') > 0, maxIf(birth_year, kind = 'BIRTH'), max(birth_year)) AS born_year,
        if(countIf(kind = 'BIRTH') > 0, maxIf(birth_month_day, kind = 'BIRTH'), max(birth_month_day)) AS born_month_day
    FROM {db}.civil_events
    GROUP BY person
)
WHERE residences > 0 AND deaths = 0 AND municipality != ''
  AND (born_year = 0
       OR born_year * 10000 + born_month_day <= toYear({at}) * 10000 + toMonth({at}) * 100 + toDayOfMonth({at}))
"""


def population_sql(database: str, level: str) -> str:
    """Population on %(at)s by area (`level`) x sex x age class: rows (area, sex, age_class, persons)."""
    db = quote_identifier(database)
    if level not in LEVELS:
        raise WarehouseError(f"unknown level {level!r}: one of {', '.join(LEVELS)}")
    at = "toDate(%(at)s)"
    return f"""
SELECT if({LEVELS[level]} = '', 'unknown', {LEVELS[level]}) AS area,
       if(person_sex = '', 'U', person_sex) AS sex_code,
       {_age_class_sql("born_year", "born_month_day", at)} AS age_class,
       count() AS persons
FROM (
    {residents_sql(db, at)}
) AS residents
ANY LEFT JOIN (
    SELECT nis_code AS municipality, arrondissement_nis, province_nis, region_nis FROM {db}.municipalities FINAL
) AS areas USING municipality
GROUP BY area, sex_code, age_class
ORDER BY area, sex_code, age_class
"""


def in_force_lines_sql(db: str, where: str) -> str:
    """DmfA worker lines of the declaration in force (highest version, then latest recorded) per employer
    and quarter, each line once (FINAL)."""
    return f"""
SELECT employer, quarter, quarter_start, worker, days_worked, sickness_days, accident_days,
       temporary_unemployment_days
FROM {db}.dmfa_lines FINAL
WHERE {where} AND (employer, quarter, declaration) IN (
    SELECT employer, quarter, argMax(declaration, (version, recorded_at, declaration))
    FROM {db}.dmfa_lines
    WHERE {where}
    GROUP BY employer, quarter
)
"""


def employment_sql(database: str) -> str:
    """Employment by quarter x NACE division x region, from the DmfA in force for quarters between
    %(first)s and %(last)s (first days): rows (quarter, nace_division, region, persons, jobs)."""
    db = quote_identifier(database)
    where = "quarter_start >= toDate(%(first)s) AND quarter_start <= toDate(%(last)s)"
    return f"""
SELECT quarter,
       if(nace_division = '', 'unknown', nace_division) AS division,
       if(region_nis = '', 'unknown', region_nis) AS region,
       uniqExact(worker) AS persons,
       count() AS jobs
FROM (
    SELECT quarter, worker, nace_division, municipality_nis AS municipality
    FROM (
        {in_force_lines_sql(db, where)}
    ) AS lines
    ANY LEFT JOIN (
        SELECT employer, nace_division, municipality_nis FROM {db}.employers FINAL
    ) AS dimension USING employer
) AS jobs
ANY LEFT JOIN (
    SELECT nis_code AS municipality, region_nis FROM {db}.municipalities FINAL
) AS areas USING municipality
GROUP BY quarter, division, region
ORDER BY quarter, division, region
"""


def relations_sql(db: str) -> str:
    """One row per DIMONA relation (employer, worker, relation start): its effective start and end, whether
    it was declared (IN) and whether it was cancelled. Later events (by recorded_at, then event id) win."""
    order = "(recorded_at, event_id)"
    return f"""
SELECT employer, worker, relation_start,
       countIf(kind = 'IN') > 0 AS declared,
       countIf(kind = 'CANCEL') > 0 AS cancelled,
       if(countIf(kind = 'UPDATE' AND isNotNull(start_date)) > 0,
          argMaxIf(assumeNotNull(start_date), {order}, kind = 'UPDATE' AND isNotNull(start_date)),
          relation_start) AS began,
       countIf(kind IN ('IN', 'OUT', 'UPDATE') AND isNotNull(end_date)) > 0 AS has_end,
       argMaxIf(assumeNotNull(end_date), {order}, kind IN ('IN', 'OUT', 'UPDATE') AND isNotNull(end_date)) AS ended
FROM {db}.dimona_events
GROUP BY employer, worker, relation_start
"""


def _position_flags_sql(db: str, dates: Sequence[str]) -> str:
    """Per person, UInt8 flags per date: dead_i, employed_i and one per directory position."""
    directory_positions = [p for p in POSITIONS if p in POSITION_CAPACITIES]

    def flags(kind: str) -> list[str]:
        return [f"{kind}_{i}" for i in range(len(dates))]

    columns = [*flags("dead"), *flags("employed"), *[c for p in directory_positions for c in flags(p.lower())]]

    def select(values: dict[str, str]) -> str:
        return ", ".join(f"toUInt8({values.get(column, '0')}) AS {column}" for column in columns)

    civil = {f"dead_{i}": f"countIf(kind = 'DEATH' AND effective_date <= {d}) > 0" for i, d in enumerate(dates)}
    employed = {
        f"employed_{i}": f"max(declared AND NOT cancelled AND began <= {d} AND (NOT has_end OR ended >= {d}))"
        for i, d in enumerate(dates)
    }
    entries: dict[str, str] = {}
    for position in directory_positions:
        capacities = " OR ".join(f"(sector = '{s}' AND capacity = '{c}')" for s, c in POSITION_CAPACITIES[position])
        for i, d in enumerate(dates):
            entries[f"{position.lower()}_{i}"] = (
                f"max(({capacities}) AND period_start <= {d} AND (isNull(last_end) OR assumeNotNull(last_end) >= {d}))"
            )
    files = f"""
        SELECT person, sector, capacity, period_start,
               argMax(period_end, (recorded_at, event_id)) AS last_end
        FROM {db}.directory_entries
        GROUP BY person, institution, sector, capacity, period_start
    """
    maxed = ", ".join(f"max({column}) AS {column}" for column in columns)
    return f"""
SELECT person, {maxed} FROM (
    SELECT person, {select(civil)} FROM {db}.civil_events GROUP BY person
    UNION ALL
    SELECT worker AS person, {select(employed)} FROM ({relations_sql(db)}) GROUP BY worker
    UNION ALL
    SELECT person, {select(entries)} FROM ({files}) GROUP BY person
)
GROUP BY person
"""


def _position_sql(index: int) -> str:
    branches = ["dead", "employed", *[p.lower() for p in POSITIONS if p in POSITION_CAPACITIES]]
    labels = ["DECEASED", "EMPLOYED", *[p for p in POSITIONS if p in POSITION_CAPACITIES]]
    parts = ", ".join(f"{flag}_{index} = 1, '{label}'" for flag, label in zip(branches, labels, strict=True))
    return f"multiIf({parts}, 'OTHER')"


def mobility_sql(database: str) -> str:
    """Socio-economic position on %(from)s x position on %(to)s: rows (from_position, to_position, persons).
    Persons are everyone the warehouse knows (civil events, DIMONA, directory); priority order is POSITIONS."""
    db = quote_identifier(database)
    dates = ["toDate(%(from)s)", "toDate(%(to)s)"]
    return f"""
SELECT {_position_sql(0)} AS from_position, {_position_sql(1)} AS to_position, count() AS persons
FROM (
    {_position_flags_sql(db, dates)}
)
GROUP BY from_position, to_position
ORDER BY from_position, to_position
"""


# -- running them ------------------------------------------------------------------------------------------


def population(
    client: Executor, database: str, at: dt.date, level: str = "municipality"
) -> list[tuple[str, str, str, int]]:
    rows = execute(client, population_sql(database, level), {"at": at}, what=f"population by {level} on {at}")
    return [(str(a), str(s), str(c), int(n)) for a, s, c, n in rows]


def employment(client: Executor, database: str, first: dt.date, last: dt.date) -> list[tuple[str, str, str, int, int]]:
    rows = execute(client, employment_sql(database), {"first": first, "last": last}, what="employment by quarter")
    return [(str(q), str(d), str(r), int(p), int(j)) for q, d, r, p, j in rows]


def mobility(client: Executor, database: str, start: dt.date, end: dt.date) -> list[tuple[str, str, int]]:
    rows = execute(client, mobility_sql(database), {"from": start, "to": end}, what="socio-economic mobility")
    return [(str(a), str(b), int(n)) for a, b, n in rows]
