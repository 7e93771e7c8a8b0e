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
