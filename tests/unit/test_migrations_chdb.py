"""Every migration applied on a current ClickHouse engine (chdb embeds one): the DDL the local 18.16 runs.

Together with tests/integration/test_clickhouse_stack.py this shows the DDL works on both ends of the range.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

import pytest

from connectors.clickhouse.migrations import applied, discover, migrate
from streams.settings import Settings

chdb_session = pytest.importorskip("chdb.session")

DATABASE = "crossroads_chdb"


class ChdbWarehouse:
    """The `Executor` protocol over a chdb session: clickhouse_driver-style %(name)s parameters, rows back."""

    def __init__(self, session: Any) -> None:
        self.session = session

    def execute(self, query: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        sql = query % {key: _literal(value) for key, value in params.items()} if params else query
        payload = self.session.query(sql, "JSONCompact").bytes()
        if not payload.strip():
            return []
        result = json.loads(payload)
        types = [column["type"] for column in result["meta"]]
        return [tuple(_value(kind, value) for kind, value in zip(types, row, strict=True)) for row in result["data"]]


def _literal(value: Any) -> str:
    if isinstance(value, tuple):  # clickhouse_driver renders a tuple as an IN list
        return "(" + ", ".join(_literal(v) for v in value) + ")"
    if isinstance(value, int):
        return str(value)
    escaped = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


def _value(kind: str, value: Any) -> Any:
    if kind == "DateTime" or kind.startswith("DateTime("):
        return datetime.fromisoformat(value)
    if re.fullmatch(r"U?Int\d+", kind):  # 64-bit integers arrive quoted in JSON
        return int(value)
    return value


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChdbWarehouse]:
    # chdb allows one session per process; a module-scoped one is shared by the tests below
    session = chdb_session.Session(str(tmp_path_factory.mktemp("chdb")))
    try:
        yield ChdbWarehouse(session)
    finally:
        session.close()


@pytest.fixture(scope="module")
def settings() -> Settings:
    return Settings(clickhouse_url=f"clickhouse://default:@127.0.0.1:9000/{DATABASE}")


def test_the_engine_is_a_current_clickhouse(warehouse: ChdbWarehouse) -> None:
    version = warehouse.execute("SELECT version()")[0][0]
    assert int(version.split(".")[0]) >= 23, version


def test_every_migration_applies_on_a_current_engine(warehouse: ChdbWarehouse, settings: Settings) -> None:
    files = discover(settings.migrations_dir)
    assert [m.filename for m in migrate(warehouse, settings)] == [m.filename for m in files]
    assert migrate(warehouse, settings) == []
    assert [(r.version, r.name, r.checksum) for r in applied(warehouse, settings)] == [
        (m.version, m.name, m.checksum) for m in files
    ]


def test_journey_replaces_a_redelivered_ticket(warehouse: ChdbWarehouse, settings: Settings) -> None:
    migrate(warehouse, settings)
    engine = warehouse.execute(
        "SELECT engine FROM system.tables WHERE database = %(db)s AND name = 'journey'", {"db": DATABASE}
    )
    assert engine == [("ReplacingMergeTree",)]
    for offset, projected in ((41, "2026-03-01 10:00:00"), (42, "2026-03-01 10:05:00")):
        warehouse.execute(
            f"INSERT INTO {DATABASE}.journey VALUES ('t-1', 'dimona', '0123456749', '2026-03-01 09:00:00', "
            f"'2026-03-01 09:00:01', %(projected)s, 'crossroads.facts.dimona.v1', 3, %(offset)s)",
            {"projected": projected, "offset": offset},
        )
    rows = warehouse.execute(f"SELECT ticket, facts_offset FROM {DATABASE}.journey FINAL")
    assert rows == [("t-1", 42)]


# -- the statistics and OASIS SQL on a current engine, against the pure-Python oracle ------------------------


def _sql_literal(value: Any) -> str:
    import datetime as dt

    if value is None:
        return "NULL"
    if isinstance(value, bool | int):
        return str(int(value))
    if isinstance(value, dt.datetime):
        return f"'{value.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S}'"
    if isinstance(value, dt.date):
        return f"'{value.isoformat()}'"
    return _literal(value)


def _insert(warehouse: ChdbWarehouse, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    values = ", ".join("(" + ", ".join(_sql_literal(v) for v in row) + ")" for row in rows)
    warehouse.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES {values}")


@pytest.fixture(scope="module")
def projected(warehouse: ChdbWarehouse, settings: Settings) -> Any:
    """The generated data set projected twice (a full replay) into the chdb warehouse, dimensions loaded."""
    import datetime as dt

    from connectors.clickhouse.dimensions import (
        EMPLOYER_COLUMNS,
        MUNICIPALITY_COLUMNS,
        NACE_COLUMNS,
        employer_rows,
        municipality_rows,
        nace_rows,
        parse_employers,
    )
    from connectors.clickhouse.projector import Origin
    from connectors.clickhouse.warehouse import warehouse_projections
    from streams.codecs import Decoded
    from tests.unit.test_warehouse_dataset import generate

    migrate(warehouse, settings)
    data = generate()
    projections = warehouse_projections(settings)
    topics = {"civil": "facts.civil", "dimona": "facts.dimona", "dmfa": "facts.dmfa", "directory": "facts.integrations"}
    by_table: dict[str, list[tuple[Any, ...]]] = {}
    for replay in range(2):
        for offset, (schema, record) in enumerate(data.facts):
            topic = topics[schema.split(".")[2]]
            fact = Decoded(schema, record, "plain")
            for projection in projections:
                if topic in projection.topics:
                    rows = projection.rows(fact, Origin(topic, 0, offset, 0), 1_800_000_000.0 + replay)
                    by_table.setdefault(projection.table, []).extend(rows)
    columns = {p.table: p.columns for p in projections}
    for table, rows in by_table.items():
        target = table.replace("{database}", DATABASE) if table.startswith("{") else f"{DATABASE}.{table}"
        for start in range(0, len(rows), 2_000):
            _insert(warehouse, target, columns[table], rows[start : start + 2_000])
    loaded = dt.datetime(2026, 4, 2, tzinfo=dt.UTC)
    _insert(warehouse, f"{DATABASE}.municipalities", MUNICIPALITY_COLUMNS, municipality_rows(loaded))
    _insert(warehouse, f"{DATABASE}.nace_divisions", NACE_COLUMNS, nace_rows(loaded))
    employers = parse_employers(data.csv().splitlines(keepends=True))
    for _ in range(2):  # loaded twice: FINAL must keep one row per employer
        _insert(warehouse, f"{DATABASE}.employers", EMPLOYER_COLUMNS, employer_rows(employers, loaded))
    return data


def test_population_on_a_current_engine_equals_the_oracle(warehouse: ChdbWarehouse, projected: Any) -> None:
    import datetime as dt
    from collections import Counter

    from connectors.clickhouse.statistics import population
    from tests.unit.test_warehouse_dataset import oracle_population

    for at in (dt.date(2026, 3, 31), dt.date(2026, 6, 30)):
        for level in ("municipality", "arrondissement", "province", "region"):
            got = Counter({(a, s, c): n for a, s, c, n in population(warehouse, DATABASE, at, level)})
            assert got == oracle_population(projected.facts, at, level), (at, level)


def test_employment_mobility_and_oasis_on_a_current_engine_equal_the_oracle(
    warehouse: ChdbWarehouse, projected: Any
) -> None:
    import datetime as dt
    from collections import Counter

    from connectors.clickhouse.oasis import oasis_flags
    from connectors.clickhouse.statistics import employment, mobility
    from streams.domain.oasis import OasisThresholds
    from tests.unit.test_warehouse_dataset import (
        QUARTER,
        oracle_employment,
        oracle_mobility,
        oracle_oasis,
    )

    got = Counter(
        {(q, d, r): p for q, d, r, p, _ in employment(warehouse, DATABASE, dt.date(2026, 1, 1), dt.date(2026, 1, 1))}
    )
    assert got == oracle_employment(projected, QUARTER)
    first, second = dt.date(2025, 1, 1), dt.date(2026, 3, 31)
    assert Counter({(a, b): n for a, b, n in mobility(warehouse, DATABASE, first, second)}) == oracle_mobility(
        projected.facts, first, second
    )
    flags = {f.employer: set(f.indicators) for f in oasis_flags(warehouse, DATABASE, QUARTER, OasisThresholds())}
    assert flags == oracle_oasis(projected, QUARTER)


def test_oasis_flags_name_the_workers_they_are_about_in_the_anti_fraud_space(
    warehouse: ChdbWarehouse, projected: Any, settings: Settings
) -> None:
    from connectors.clickhouse.oasis import oasis_flagged_persons
    from connectors.clickhouse.warehouse import settings_pseudonymizer
    from streams.domain.oasis import OasisThresholds
    from tests.unit.test_warehouse_dataset import QUARTER, oracle_flagged_persons, oracle_oasis

    flags, flagged = oasis_flagged_persons(warehouse, DATABASE, QUARTER, OasisThresholds())
    assert {f.employer: set(f.indicators) for f in flags} == oracle_oasis(projected, QUARTER)
    oasis_of = settings_pseudonymizer(settings, settings.oasis_purpose)
    expected = {oasis_of(w): reasons for w, reasons in oracle_flagged_persons(projected, QUARTER).items()}
    assert {w: set(f.reasons) for w, f in flagged.items()} == expected
    # the statistics tables know none of those pseudonyms: the two spaces do not meet
    statistics = {row[0] for row in warehouse.execute(f"SELECT DISTINCT worker FROM {DATABASE}.dimona_events")}
    assert expected and not statistics & set(expected)
