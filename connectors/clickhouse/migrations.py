"""Versioned schema migrations for the warehouse, recorded in `<database>.schema_migrations`.

A migration is a file `NNNN_snake_name.sql` in `settings.migrations_dir`. Files are applied in version
order, once each; every applied file is recorded with its sha256 so that an edited, already-applied file is
refused instead of silently diverging from the servers it already ran on.

File format (see docs/warehouse.md):
- statements are separated by a `;` that ends its line (only whitespace or a `--` comment may follow it);
  the last statement may omit it. `;` inside quotes or comments does not count;
- `{database}` is replaced by the settings' database name; nothing else is templated;
- each statement should be idempotent (`IF NOT EXISTS`): ClickHouse has no transactional DDL, so a file that
  fails half-way is re-run from its first statement next time.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from connectors.clickhouse.client import Executor, WarehouseError, execute, quote_identifier
from streams.settings import Settings

# The databases beside the statistics one that the migrations create, `<database><suffix>`: the audit log, the
# pseudonym mapping, the OASIS tables. Whoever removes a whole warehouse (tests, benchmarks) removes these too.
SIBLING_SUFFIXES = ("_audit", "_reid", "_oasis")

FILE_NAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z][a-z0-9]*(?:_[a-z0-9]+)*)\.sql$")
DATABASE_PLACEHOLDER = "{database}"
LEDGER_TABLE = "schema_migrations"

# Kept in code rather than in a migration: it must exist before the first migration can be recorded.
LEDGER_DDL = f"""
CREATE TABLE IF NOT EXISTS {DATABASE_PLACEHOLDER}.{LEDGER_TABLE}
(
    version UInt32,
    name String,
    checksum String,
    applied_at DateTime
)
ENGINE = MergeTree
ORDER BY version
"""


class MigrationError(WarehouseError):
    """The migrations cannot be applied as they stand."""


class InvalidMigration(MigrationError):
    """A migration file is misnamed, duplicated, empty or cannot be split into statements."""


class ChecksumMismatch(MigrationError):
    """An already-applied migration file was edited (or renamed, or removed) afterwards."""


@dataclass(frozen=True)
class Migration:
    """One migration file as found on disk."""

    version: int
    name: str
    path: Path
    text: str
    checksum: str

    @property
    def filename(self) -> str:
        return self.path.name

    @classmethod
    def load(cls, path: Path) -> Migration:
        match = FILE_NAME.match(path.name)
        if match is None:
            raise InvalidMigration(f"{path}: migration files are named NNNN_snake_name.sql")
        # CRLF checkouts must not look like tampering, so the checksum is over LF-normalised text
        text = path.read_text(encoding="utf-8").replace("\r\n", "\n")
        return cls(
            version=int(match["version"]),
            name=match["name"],
            path=path,
            text=text,
            checksum=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        )

    def statements(self, database: str) -> list[str]:
        """The file's statements with `{database}` filled in, ready to execute one by one."""
        statements = split_statements(self.text, source=str(self.path))
        return [render(statement, database) for statement in statements]


@dataclass(frozen=True)
class AppliedMigration:
    """One row of the ledger."""

    version: int
    name: str
    checksum: str
    applied_at: datetime

    @property
    def filename(self) -> str:
        return f"{self.version:04d}_{self.name}.sql"


def warehouse_databases(database: str) -> tuple[str, ...]:
    """The warehouse `database` and its siblings, the statistics database first."""
    return (database, *(f"{database}{suffix}" for suffix in SIBLING_SUFFIXES))


# -- reading files -----------------------------------------------------------------------------------------


def discover(directory: Path) -> list[Migration]:
    """All migrations in `directory`, in version order; refuses misnamed, duplicate or empty files."""
    if not directory.is_dir():
        raise InvalidMigration(f"migrations directory {directory} does not exist")
    migrations = [Migration.load(path) for path in sorted(directory.glob("*.sql"))]
    seen: dict[int, Migration] = {}
    for migration in migrations:
        if migration.version == 0:
            raise InvalidMigration(f"{migration.path}: versions start at 0001")
        if migration.version in seen:
            raise InvalidMigration(
                f"{migration.path} and {seen[migration.version].path} share version {migration.version:04d}"
            )
        if not split_statements(migration.text, source=str(migration.path)):
            raise InvalidMigration(f"{migration.path}: no SQL statement in file")
        seen[migration.version] = migration
    return sorted(migrations, key=lambda m: m.version)


def render(statement: str, database: str) -> str:
    return statement.replace(DATABASE_PLACEHOLDER, quote_identifier(database))


def split_statements(sql: str, *, source: str = "<sql>") -> list[str]:
    """Split on `;` at a line end, skipping quotes and comments; comment-only chunks are dropped."""
    return _Splitter(sql, source).split()


class _Splitter:
    """A small lexer: just enough SQL to know whether a `;` is code, quoted, or commented out."""

    def __init__(self, sql: str, source: str) -> None:
        self.sql, self.source = sql, source
        self.statements: list[str] = []
        self.first_code: int | None = None  # bounds of the current statement's code, comments trimmed
        self.last_code = 0

    def split(self) -> list[str]:
        i, n = 0, len(self.sql)
        while i < n:
            char, pair = self.sql[i], self.sql[i : i + 2]
            if pair == "--":
                i = self._line_end(i)
            elif pair == "/*":
                i = self._block_comment_end(i)
            elif char == ";":
                self._check_separator_ends_line(i)
                self._flush()
                i += 1
            elif char in "'\"`":
                end = self._quote_end(i)
                self._mark_code(i, end - 1)
                i = end
            else:
                if not char.isspace():
                    self._mark_code(i, i)
                i += 1
        self._flush()
        return self.statements

    def _mark_code(self, start: int, end: int) -> None:
        if self.first_code is None:
            self.first_code = start
        self.last_code = end

    def _flush(self) -> None:
        if self.first_code is not None:
            self.statements.append(self.sql[self.first_code : self.last_code + 1])
        self.first_code = None

    def _line_end(self, i: int) -> int:
        end = self.sql.find("\n", i)
        return len(self.sql) if end == -1 else end

    def _block_comment_end(self, i: int) -> int:
        end = self.sql.find("*/", i + 2)
        if end == -1:
            raise InvalidMigration(f"{self.source}:{self._line_of(i)}: unterminated /* comment")
        return end + 2

    def _quote_end(self, i: int) -> int:
        quote, j = self.sql[i], i + 1
        while j < len(self.sql):
            if self.sql[j] == "\\":
                j += 2
            elif self.sql[j] == quote:
                # a doubled quote is an escaped quote, not the end
                if self.sql[j + 1 : j + 2] == quote:
                    j += 2
                else:
                    return j + 1
            else:
                j += 1
        raise InvalidMigration(f"{self.source}:{self._line_of(i)}: unterminated {quote}quoted{quote} text")

    def _check_separator_ends_line(self, i: int) -> None:
        rest = self.sql[i + 1 : self._line_end(i)].strip()
        if rest and not rest.startswith("--"):
            raise InvalidMigration(
                f"{self.source}:{self._line_of(i)}: a ';' separates statements only at the end of a line"
            )

    def _line_of(self, i: int) -> int:
        return self.sql.count("\n", 0, i) + 1


# -- the ledger --------------------------------------------------------------------------------------------


def applied(client: Executor, settings: Settings) -> list[AppliedMigration]:
    """What the ledger says was applied, in version order; empty when the database or ledger is absent."""
    database = quote_identifier(settings.clickhouse.database)
    if not _ledger_exists(client, database):
        return []
    rows = execute(
        client,
        f"SELECT version, name, checksum, applied_at FROM {database}.{LEDGER_TABLE} ORDER BY version, applied_at",
        what="reading the migration ledger",
    )
    records: dict[int, AppliedMigration] = {}
    for version, name, checksum, applied_at in rows:
        # two concurrent migrators could both record a file; the first record is the one that counts
        records.setdefault(int(version), AppliedMigration(int(version), str(name), str(checksum), applied_at))
    return list(records.values())


def pending(client: Executor, settings: Settings) -> list[Migration]:
    """Files not yet applied, in order; raises if an applied file changed or a new one sorts before them."""
    files = discover(settings.migrations_dir)
    records = applied(client, settings)
    verify(files, records, settings.migrations_dir)
    done = {record.version for record in records}
    todo = [migration for migration in files if migration.version not in done]
    _refuse_out_of_order(todo, records)
    return todo


def migrate(client: Executor, settings: Settings) -> list[Migration]:
    """Create the database and ledger if absent, apply what is pending, return what this call applied."""
    database = quote_identifier(settings.clickhouse.database)
    execute(client, f"CREATE DATABASE IF NOT EXISTS {database}", what=f"creating database {database}")
    execute(client, render(LEDGER_DDL, database), what="creating the migration ledger")
    todo = pending(client, settings)
    for migration in todo:
        _apply(client, migration, database)
    return todo


def verify(files: list[Migration], records: list[AppliedMigration], directory: Path) -> None:
    """Every applied migration must still be on disk, byte for byte (modulo line endings)."""
    by_version = {migration.version: migration for migration in files}
    for record in records:
        migration = by_version.get(record.version)
        if migration is None:
            raise ChecksumMismatch(
                f"{directory / record.filename} was applied on {record.applied_at} but is no longer on disk"
            )
        if migration.name != record.name or migration.checksum != record.checksum:
            raise ChecksumMismatch(
                f"{migration.path} changed after it was applied as {record.filename} on {record.applied_at} "
                f"(recorded sha256 {record.checksum[:12]}…, file now {migration.checksum[:12]}…); "
                "revert it and add a new migration instead"
            )


@dataclass(frozen=True)
class MigrationState:
    """One line of `crossroads warehouse migrations`: a file, a ledger row, or both."""

    version: int
    filename: str
    state: str  # applied | pending | changed | missing
    applied_at: datetime | None
    checksum: str


def compare(files: list[Migration], records: list[AppliedMigration]) -> list[MigrationState]:
    """Files and ledger side by side, without raising: for listing what `verify` would refuse."""
    by_version = {record.version: record for record in records}
    states = [_state_of(migration, by_version.get(migration.version)) for migration in files]
    on_disk = {migration.version for migration in files}
    states += [
        MigrationState(record.version, record.filename, "missing", record.applied_at, record.checksum)
        for record in records
        if record.version not in on_disk
    ]
    return sorted(states, key=lambda state: state.version)


def _state_of(migration: Migration, record: AppliedMigration | None) -> MigrationState:
    if record is None:
        return MigrationState(migration.version, migration.filename, "pending", None, migration.checksum)
    unchanged = record.name == migration.name and record.checksum == migration.checksum
    return MigrationState(
        migration.version,
        migration.filename,
        "applied" if unchanged else "changed",
        record.applied_at,
        migration.checksum,
    )


def _refuse_out_of_order(todo: list[Migration], records: list[AppliedMigration]) -> None:
    if not todo or not records:
        return
    latest = max(records, key=lambda record: record.version)
    if todo[0].version < latest.version:
        raise MigrationError(
            f"{todo[0].path} is not applied but the later {latest.filename} already is; "
            f"renumber it after {latest.version:04d}"
        )


def _apply(client: Executor, migration: Migration, database: str) -> None:
    statements = migration.statements(database)
    for number, statement in enumerate(statements, start=1):
        what = f"applying {migration.filename} (statement {number}/{len(statements)})"
        execute(client, statement, what=what)
    execute(
        client,
        f"INSERT INTO {database}.{LEDGER_TABLE} (version, name, checksum, applied_at) "
        "SELECT toUInt32(%(version)s), %(name)s, %(checksum)s, now()",
        {"version": migration.version, "name": migration.name, "checksum": migration.checksum},
        what=f"recording {migration.filename}",
    )


def _ledger_exists(client: Executor, database: str) -> bool:
    rows = execute(
        client,
        "SELECT count() FROM system.tables WHERE database = %(database)s AND name = %(table)s",
        {"database": database, "table": LEDGER_TABLE},
        what="looking for the migration ledger",
    )
    return bool(rows and rows[0][0])
