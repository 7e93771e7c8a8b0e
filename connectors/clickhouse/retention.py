"""Retention (seed 3.3): data is kept only as long as needed, then deleted.

ClickHouse 18.16 has no TTL: expired rows are removed with `ALTER TABLE ... DELETE WHERE` mutations (which it
supports), one per table and run. Rules (periods from the settings `retention_*_years`, counted back from the
run's date):

* dimona_events: every event of a relation that ended (OUT, planned or updated end) before the cutoff, or
  was cancelled and started before it; the same rule on the OASIS copy, `<db>_oasis.dimona_events`;
* dmfa_lines: lines of quarters that started before the cutoff; likewise `<db>_oasis.dmfa_lines`;
* directory_entries: every event of a file (person, institution, sector, capacity, start) closed before it;
* civil_events: every event of a person who died before the (deceased) cutoff;
* `<db>_reid.pseudonyms`: the mapping of those persons, in every purpose (nothing can re-identify them any more);
* `<db>_audit.audit_records`: records older than the audit cutoff.

Keys of whole relations, files and persons are first written to a `retention_keys` table under the run's id,
so each mutation deletes a fixed set (a mutation evaluating its own table part by part could change its mind).
Each purpose's keys stay in its own database (`<db>`, `<db>_oasis`; the deceased's numbers in `<db>_reid`): one
table holding both pseudonyms of a relation or a person would link the two spaces.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from connectors.clickhouse.client import Executor, WarehouseError, execute, quote_identifier
from connectors.clickhouse.statistics import relations_sql
from streams.settings import Settings


@dataclass(frozen=True, slots=True)
class RetentionStep:
    table: str  # database-qualified
    cutoff: dt.date
    rule: str
    rows: int  # rows matched when the mutation was issued


def years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def run_retention(
    client: Executor,
    settings: Settings,
    today: dt.date,
    *,
    wait_s: float = 300.0,
    sleep: Callable[[float], None] = time.sleep,
) -> list[RetentionStep]:
    """Decide, delete, wait until the mutations are done; returns what was deleted where."""
    db = quote_identifier(settings.clickhouse.database)
    run = str(uuid.uuid4())
    cut = {
        "dimona": years_before(today, settings.retention_dimona_years),
        "dmfa": years_before(today, settings.retention_dmfa_years),
        "directory": years_before(today, settings.retention_directory_years),
        "deceased": years_before(today, settings.retention_deceased_years),
        "audit": years_before(today, settings.retention_audit_years),
    }
    params = {"run": run, **{f"cut_{name}": day for name, day in cut.items()}}

    relation_key = "concat(employer, '|', worker, '|', toString(relation_start))"
    file_key = "concat(person, '|', institution, '|', sector, '|', capacity, '|', toString(period_start))"
    execute(
        client,
        f"INSERT INTO {db}.retention_keys (run, scope, key, decided_at) "
        f"SELECT %(run)s, 'relation', {relation_key}, now() FROM ({relations_sql(db)}) "
        "WHERE (has_end AND ended < toDate(%(cut_dimona)s)) OR (cancelled AND relation_start < toDate(%(cut_dimona)s))",
        params,
        what="deciding expired DIMONA relations",
    )
    execute(
        client,
        f"INSERT INTO {db}.retention_keys (run, scope, key, decided_at) "
        f"SELECT %(run)s, 'file', {file_key}, now() FROM ("
        f"  SELECT person, institution, sector, capacity, period_start, "
        f"         argMax(period_end, (recorded_at, event_id)) AS last_end "
        f"  FROM {db}.directory_entries GROUP BY person, institution, sector, capacity, period_start"
        ") WHERE isNotNull(last_end) AND assumeNotNull(last_end) < toDate(%(cut_directory)s)",
        params,
        what="deciding expired directory files",
    )
    execute(
        client,
        f"INSERT INTO {db}.retention_keys (run, scope, key, decided_at) "
        f"SELECT DISTINCT %(run)s, 'deceased', person, now() FROM {db}.civil_events "
        "WHERE kind = 'DEATH' AND effective_date < toDate(%(cut_deceased)s)",
        params,
        what="deciding persons deceased long ago",
    )
    oasis = f"{db}_oasis"
    execute(
        client,
        f"INSERT INTO {oasis}.retention_keys (run, scope, key, decided_at) "
        f"SELECT %(run)s, 'relation', {relation_key}, now() FROM ({relations_sql(oasis)}) "
        "WHERE (has_end AND ended < toDate(%(cut_dimona)s)) OR (cancelled AND relation_start < toDate(%(cut_dimona)s))",
        params,
        what="deciding expired DIMONA relations of the OASIS tables",
    )
    # the deceased are known by their statistics pseudonym (civil facts are statistics only); their mapping is
    # deleted in every purpose, so it is selected by their number, which only <db>_reid may hold
    execute(
        client,
        f"INSERT INTO {db}_reid.retention_keys (run, scope, key, decided_at) "
        f"SELECT DISTINCT %(run)s, 'deceased', person, now() FROM {db}_reid.pseudonyms "
        f"WHERE purpose = %(statistics)s AND pseudonym IN {_keys(db, 'deceased')}",
        {**params, "statistics": settings.warehouse_purpose},
        what="deciding the mappings of persons deceased long ago",
    )

    plan = [
        (f"{db}.dimona_events", cut["dimona"], f"{relation_key} IN {_keys(db, 'relation')}"),
        (f"{oasis}.dimona_events", cut["dimona"], f"{relation_key} IN {_keys(oasis, 'relation')}"),
        (f"{db}.dmfa_lines", cut["dmfa"], "quarter_start < toDate(%(cut_dmfa)s)"),
        (f"{oasis}.dmfa_lines", cut["dmfa"], "quarter_start < toDate(%(cut_dmfa)s)"),
        (f"{db}.directory_entries", cut["directory"], f"{file_key} IN {_keys(db, 'file')}"),
        (f"{db}.civil_events", cut["deceased"], f"person IN {_keys(db, 'deceased')}"),
        (f"{db}_reid.pseudonyms", cut["deceased"], f"person IN {_keys(f'{db}_reid', 'deceased')}"),
        (f"{db}_audit.audit_records", cut["audit"], "recorded_at < toDateTime(toDate(%(cut_audit)s))"),
    ]
    steps = []
    for table, cutoff, where in plan:
        matched = int(execute(client, f"SELECT count() FROM {table} WHERE {where}", params)[0][0])
        if matched:
            execute(client, f"ALTER TABLE {table} DELETE WHERE {where}", params, what=f"retention on {table}")
        steps.append(RetentionStep(table, cutoff, where, matched))
    _wait_for_mutations(client, [s.table for s in steps if s.rows], wait_s, sleep)
    # the keys of this run are no longer needed (pseudonyms, codes, numbers in <db>_reid: keep nothing for nothing)
    for keys_db in (db, oasis, f"{db}_reid"):
        execute(client, f"ALTER TABLE {keys_db}.retention_keys DELETE WHERE run = %(run)s", params)
    return steps


def _keys(database: str, scope: str) -> str:
    """The keys a run decided for `scope`, in `database`'s own work table."""
    return f"(SELECT key FROM {database}.retention_keys WHERE run = %(run)s AND scope = '{scope}')"


def _wait_for_mutations(client: Executor, tables: list[str], wait_s: float, sleep: Callable[[float], None]) -> None:
    if not tables:
        return
    deadline = time.monotonic() + wait_s
    pairs = [tuple(table.split(".", 1)) for table in tables]
    while True:
        undone = [
            pair
            for pair in pairs
            if int(
                execute(
                    client,
                    "SELECT count() FROM system.mutations WHERE database = %(db)s AND table = %(t)s AND is_done = 0",
                    {"db": pair[0], "t": pair[1]},
                )[0][0]
            )
        ]
        if not undone:
            return
        if time.monotonic() > deadline:
            raise WarehouseError(f"retention mutations still running after {wait_s:.0f}s on {undone}")
        sleep(0.2)
