"""The ClickHouse edge: connections, error translation and versioned schema migrations."""

from __future__ import annotations

from connectors.clickhouse.client import (
    SERVER_DATABASE,
    Executor,
    WarehouseError,
    WarehouseQueryError,
    WarehouseUnavailable,
    connect,
    execute,
    translated_errors,
)
from connectors.clickhouse.migrations import (
    AppliedMigration,
    ChecksumMismatch,
    InvalidMigration,
    Migration,
    MigrationError,
    MigrationState,
    applied,
    compare,
    discover,
    migrate,
    pending,
    render,
    split_statements,
    verify,
    warehouse_databases,
)

__all__ = [
    "SERVER_DATABASE",
    "AppliedMigration",
    "ChecksumMismatch",
    "Executor",
    "InvalidMigration",
    "Migration",
    "MigrationError",
    "MigrationState",
    "WarehouseError",
    "WarehouseQueryError",
    "WarehouseUnavailable",
    "applied",
    "compare",
    "connect",
    "discover",
    "execute",
    "migrate",
    "pending",
    "render",
    "split_statements",
    "translated_errors",
    "verify",
    "warehouse_databases",
]
