"""`crossroads warehouse migrate | migrations`: the ClickHouse schema, versioned as SQL files."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from clickhouse_driver import Client
from rich.console import Console
from rich.table import Table

from connectors.clickhouse import (
    SERVER_DATABASE,
    MigrationState,
    WarehouseError,
    applied,
    compare,
    connect,
    discover,
    migrate,
)
from streams.settings import Settings

app = typer.Typer(help="The ClickHouse warehouse: apply and list schema migrations.", no_args_is_help=True)
console = Console()

_STATE_STYLE = {"applied": "green", "pending": "yellow", "changed": "bold red", "missing": "bold red"}


@app.command("migrate")
def migrate_command() -> None:
    """Create the database if absent and apply pending migrations in order (idempotent)."""
    settings = Settings()
    try:
        done = apply_migrations(settings)
    except WarehouseError as exc:
        console.print(f"[red]warehouse migrate failed:[/red] {exc}")
        raise typer.Exit(1) from exc
    database = settings.clickhouse.database
    if not done:
        console.print(f"[dim]{database}: up to date[/dim]")
    for name in done:
        console.print(f"[green]applied[/green] {name} to {database}")


@app.command("migrations")
def migrations_command() -> None:
    """Every migration file and ledger row: applied, pending, changed since applied, or missing from disk."""
    settings = Settings()
    try:
        states = migration_states(settings)
    except WarehouseError as exc:
        console.print(f"[red]warehouse migrations failed:[/red] {exc}")
        raise typer.Exit(1) from exc
    console.print(_table(settings, states))
    if any(state.state in ("changed", "missing") for state in states):
        console.print("[red]applied migrations were edited or removed; `warehouse migrate` will refuse[/red]")
        raise typer.Exit(1)


def apply_migrations(settings: Settings) -> list[str]:
    with _server(settings) as client:
        return [migration.filename for migration in migrate(client, settings)]


def migration_states(settings: Settings) -> list[MigrationState]:
    files = discover(settings.migrations_dir)
    with _server(settings) as client:
        records = applied(client, settings)
    return compare(files, records)


@contextmanager
def _server(settings: Settings) -> Iterator[Client]:
    # the server-wide database: ours does not exist until the first migrate
    client = connect(settings, SERVER_DATABASE)
    try:
        yield client
    finally:
        client.disconnect()


def _table(settings: Settings, states: list[MigrationState]) -> Table:
    address = settings.clickhouse
    table = Table(
        "version", "file", "state", "applied at", "sha256",
        title=f"{address.database} on {address.host}:{address.port} — {settings.migrations_dir}",
    )  # fmt: skip
    for state in states:
        style = _STATE_STYLE.get(state.state, "white")
        table.add_row(
            f"{state.version:04d}",
            state.filename,
            f"[{style}]{state.state}[/{style}]",
            str(state.applied_at) if state.applied_at else "-",
            state.checksum[:12],
        )
    return table
