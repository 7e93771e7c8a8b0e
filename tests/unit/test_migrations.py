"""Migration files: naming, ordering, splitting, checksums and the ledger rules — no server involved."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.clickhouse.client import WarehouseError
from connectors.clickhouse.migrations import (
    LEDGER_TABLE,
    AppliedMigration,
    ChecksumMismatch,
    InvalidMigration,
    Migration,
    MigrationError,
    applied,
    compare,
    discover,
    migrate,
    pending,
    render,
    split_statements,
)
from streams.settings import Settings

JOURNEY_LIKE = "CREATE TABLE IF NOT EXISTS {database}.t (a UInt8) ENGINE = MergeTree ORDER BY a;\n"


def write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_bytes(text.encode())
    return path


def settings_for(migrations_dir: Path, database: str = "warehouse_test") -> Settings:
    return Settings(clickhouse_url=f"clickhouse://default:@127.0.0.1:9000/{database}", migrations_dir=migrations_dir)


class FakeWarehouse:
    """Honours the `Executor` protocol: keeps the ledger in a list and records every other statement."""

    def __init__(self) -> None:
        self.statements: list[str] = []
        self.ledger: list[tuple[int, str, str, datetime]] | None = None

    def execute(self, query: str, params: Any = None) -> list[tuple[Any, ...]]:
        if "FROM system.tables" in query:
            return [(0 if self.ledger is None else 1,)]
        if f".{LEDGER_TABLE}" in query and query.lstrip().startswith("CREATE TABLE"):
            self.ledger = [] if self.ledger is None else self.ledger
            return []
        if query.startswith("SELECT version, name, checksum, applied_at"):
            return sorted(self.ledger or [])
        if query.startswith(f"INSERT INTO warehouse_test.{LEDGER_TABLE}"):
            assert self.ledger is not None
            self.ledger.append((params["version"], params["name"], params["checksum"], datetime(2026, 1, 1)))
            return []
        self.statements.append(query)
        return []


# -- splitting ---------------------------------------------------------------------------------------------


def test_statements_are_split_on_semicolons_that_end_a_line() -> None:
    sql = "CREATE DATABASE a;\nCREATE TABLE a.b (x UInt8)\nENGINE = Memory;\n"
    assert split_statements(sql) == ["CREATE DATABASE a", "CREATE TABLE a.b (x UInt8)\nENGINE = Memory"]


def test_the_last_statement_may_omit_its_semicolon() -> None:
    assert split_statements("SELECT 1;\nSELECT 2\n") == ["SELECT 1", "SELECT 2"]


def test_semicolons_in_quotes_and_comments_do_not_split() -> None:
    sql = (
        "-- header; with a semicolon;\n"
        "/* block; comment;\n   spanning lines; */\n"
        "CREATE TABLE t (a String COMMENT 'one; two;', b String COMMENT \"x;\", `c;` UInt8)\n"
        "ENGINE = Memory; -- trailing; comment\n"
        "SELECT 'it''s; fine', 'back\\'slash;'\n"
    )
    statements = split_statements(sql)
    assert len(statements) == 2
    assert statements[0].startswith("CREATE TABLE t (a String COMMENT 'one; two;'")
    assert statements[0].endswith("ENGINE = Memory")
    assert statements[1] == "SELECT 'it''s; fine', 'back\\'slash;'"


def test_comment_only_chunks_and_blank_statements_are_dropped() -> None:
    assert split_statements("-- nothing here;\n\n;\n/* still nothing */\n") == []
    assert split_statements("SELECT 1;\n-- the end\n") == ["SELECT 1"]


def test_comments_inside_a_statement_are_kept_but_not_around_it() -> None:
    assert split_statements("-- why\nSELECT 1 -- inline\n  + 2\n-- after\n;\n") == ["SELECT 1 -- inline\n  + 2"]


def test_a_semicolon_followed_by_code_on_the_same_line_is_refused() -> None:
    with pytest.raises(InvalidMigration, match=r"f\.sql:2: a ';' separates statements only at the end"):
        split_statements("SELECT 1;\nSELECT 2; SELECT 3\n", source="f.sql")


@pytest.mark.parametrize(
    ("sql", "message"),
    [("SELECT 'open\n", "unterminated 'quoted' text"), ("SELECT 1 /* open\n", "unterminated /\\* comment")],
)
def test_unterminated_quotes_and_comments_are_refused(sql: str, message: str) -> None:
    with pytest.raises(InvalidMigration, match=message):
        split_statements(sql, source="f.sql")


# -- rendering ---------------------------------------------------------------------------------------------


def test_only_the_database_placeholder_is_rendered() -> None:
    assert render("CREATE TABLE {database}.t (m String DEFAULT '{x}')", "crossroads") == (
        "CREATE TABLE crossroads.t (m String DEFAULT '{x}')"
    )


@pytest.mark.parametrize("database", ["", "my-db", "a.b", "x; DROP DATABASE y", "1abc"])
def test_database_names_must_be_plain_identifiers(database: str) -> None:
    with pytest.raises(WarehouseError, match="identifier"):
        render("SELECT 1 FROM {database}.t", database)


# -- discovery, ordering, checksums ------------------------------------------------------------------------


def test_migrations_are_discovered_in_version_order(tmp_path: Path) -> None:
    write(tmp_path, "0010_later.sql", JOURNEY_LIKE)
    write(tmp_path, "0002_second.sql", JOURNEY_LIKE)
    write(tmp_path, "0001_first.sql", JOURNEY_LIKE)
    write(tmp_path, "README.md", "not a migration")
    assert [(m.version, m.name) for m in discover(tmp_path)] == [(1, "first"), (2, "second"), (10, "later")]


@pytest.mark.parametrize("name", ["1_short.sql", "0001-dash.sql", "0001_CamelCase.sql", "0001_.sql", "x.sql"])
def test_misnamed_sql_files_are_refused_not_skipped(tmp_path: Path, name: str) -> None:
    write(tmp_path, name, JOURNEY_LIKE)
    with pytest.raises(InvalidMigration, match=re.escape(name)):
        discover(tmp_path)


def test_duplicate_versions_are_refused(tmp_path: Path) -> None:
    write(tmp_path, "0001_one.sql", JOURNEY_LIKE)
    write(tmp_path, "0001_other.sql", JOURNEY_LIKE)
    with pytest.raises(InvalidMigration, match="share version 0001"):
        discover(tmp_path)


def test_version_zero_and_empty_files_are_refused(tmp_path: Path) -> None:
    write(tmp_path / "zero", "0000_zero.sql", JOURNEY_LIKE)
    with pytest.raises(InvalidMigration, match="start at 0001"):
        discover(tmp_path / "zero")
    write(tmp_path / "empty", "0001_empty.sql", "-- only a comment;\n")
    with pytest.raises(InvalidMigration, match="no SQL statement"):
        discover(tmp_path / "empty")


def test_a_missing_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidMigration, match="does not exist"):
        discover(tmp_path / "nope")


def test_checksum_is_sha256_of_the_text_and_ignores_line_endings(tmp_path: Path) -> None:
    lf = Migration.load(write(tmp_path / "lf", "0001_a.sql", "SELECT 1;\nSELECT 2;\n"))
    crlf = Migration.load(write(tmp_path / "crlf", "0001_a.sql", "SELECT 1;\r\nSELECT 2;\r\n"))
    edited = Migration.load(write(tmp_path / "edited", "0001_a.sql", "SELECT 1;\nSELECT 3;\n"))
    assert lf.checksum == hashlib.sha256(b"SELECT 1;\nSELECT 2;\n").hexdigest()
    assert crlf.checksum == lf.checksum
    assert edited.checksum != lf.checksum


# -- the ledger rules, against a fake warehouse ------------------------------------------------------------


def test_migrate_applies_pending_files_in_order_then_nothing(tmp_path: Path) -> None:
    write(tmp_path, "0002_two.sql", "CREATE TABLE IF NOT EXISTS {database}.two (a UInt8) ENGINE = Memory;\n")
    write(tmp_path, "0001_one.sql", "CREATE DATABASE IF NOT EXISTS {database};\nSELECT 1;\n")
    settings, warehouse = settings_for(tmp_path), FakeWarehouse()

    assert [m.filename for m in pending(warehouse, settings)] == ["0001_one.sql", "0002_two.sql"]
    assert applied(warehouse, settings) == []
    assert [m.filename for m in migrate(warehouse, settings)] == ["0001_one.sql", "0002_two.sql"]
    assert warehouse.statements == [
        "CREATE DATABASE IF NOT EXISTS warehouse_test",
        "CREATE DATABASE IF NOT EXISTS warehouse_test",
        "SELECT 1",
        "CREATE TABLE IF NOT EXISTS warehouse_test.two (a UInt8) ENGINE = Memory",
    ]
    assert migrate(warehouse, settings) == []
    assert [(r.version, r.name) for r in applied(warehouse, settings)] == [(1, "one"), (2, "two")]


def test_an_edited_applied_migration_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "0001_one.sql", JOURNEY_LIKE)
    settings, warehouse = settings_for(tmp_path), FakeWarehouse()
    migrate(warehouse, settings)
    path.write_text(JOURNEY_LIKE + "-- an innocent-looking edit\n")
    with pytest.raises(ChecksumMismatch, match=re.escape(str(path))):
        migrate(warehouse, settings)
    with pytest.raises(ChecksumMismatch, match=r"0001_one\.sql"):
        pending(warehouse, settings)


def test_a_removed_or_renamed_applied_migration_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "0001_one.sql", JOURNEY_LIKE)
    settings, warehouse = settings_for(tmp_path), FakeWarehouse()
    migrate(warehouse, settings)
    path.rename(tmp_path / "0001_renamed.sql")
    with pytest.raises(ChecksumMismatch, match=r"0001_renamed\.sql"):
        migrate(warehouse, settings)
    (tmp_path / "0001_renamed.sql").unlink()
    write(tmp_path, "0002_two.sql", JOURNEY_LIKE)
    with pytest.raises(ChecksumMismatch, match=r"0001_one\.sql was applied .* no longer on disk"):
        migrate(warehouse, settings)


def test_a_new_file_sorting_before_an_applied_one_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "0002_two.sql", JOURNEY_LIKE)
    settings, warehouse = settings_for(tmp_path), FakeWarehouse()
    migrate(warehouse, settings)
    write(tmp_path, "0001_one.sql", JOURNEY_LIKE)
    with pytest.raises(MigrationError, match=r"0001_one\.sql is not applied but the later 0002_two\.sql"):
        migrate(warehouse, settings)


def test_compare_lists_applied_pending_changed_and_missing(tmp_path: Path) -> None:
    files = [
        Migration.load(write(tmp_path, "0001_same.sql", "SELECT 1;\n")),
        Migration.load(write(tmp_path, "0002_edited.sql", "SELECT 2;\n")),
        Migration.load(write(tmp_path, "0004_new.sql", "SELECT 4;\n")),
    ]
    when = datetime(2026, 1, 1)
    records = [
        AppliedMigration(1, "same", files[0].checksum, when),
        AppliedMigration(2, "edited", "0" * 64, when),
        AppliedMigration(3, "gone", "1" * 64, when),
    ]
    assert [(s.filename, s.state) for s in compare(files, records)] == [
        ("0001_same.sql", "applied"),
        ("0002_edited.sql", "changed"),
        ("0003_gone.sql", "missing"),
        ("0004_new.sql", "pending"),
    ]


# -- the project's own migrations --------------------------------------------------------------------------

# What Debian's ClickHouse 18.16 cannot parse or does not have (docs/warehouse.md)
NOT_ON_18_16 = re.compile(
    r"\b(TTL|Map\s*\(|DateTime64|LowCardinality|CODEC\s*\(|Nullable\s*\(\s*Nothing|JSON\b|Object\s*\("
    r"|ADD\s+COLUMN\s+IF\s+NOT\s+EXISTS)",
    re.IGNORECASE,
)


def test_the_project_migrations_parse_and_stay_within_clickhouse_18_16() -> None:
    migrations = discover(Settings().migrations_dir)
    assert migrations, "deploy/clickhouse/migrations is empty"
    assert migrations[0].filename == "0001_journey.sql"
    for migration in migrations:
        for statement in migration.statements("crossroads"):
            code = re.sub(r"--[^\n]*|'(?:[^'\\]|\\.|'')*'", "", statement)
            assert not NOT_ON_18_16.search(code), f"{migration.filename}: {NOT_ON_18_16.search(code)}"
            assert "{database}" not in statement
            assert not re.search(r"\bAS\s+SELECT\b", code, re.IGNORECASE), migration.filename
