"""`crossroads stack up | down | status`: the local Kafka broker and ClickHouse server, without Docker."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from streams.settings import Settings
from streams.stack.errors import StackError
from streams.stack.local import LocalStack

app = typer.Typer(help="Run the local stack (Kafka KRaft broker + ClickHouse server) as processes of the project.")
console = Console()

ONLY = typer.Option(None, "--only", help="kafka or clickhouse (repeatable); default both")


@app.command()
def up(only: list[str] | None = ONLY) -> None:
    """Install what is missing, start what is not running, wait until both answer. Idempotent."""
    stack = LocalStack(Settings(), tuple(only or ()))
    try:
        results = stack.up(on_event=lambda msg: console.print(f"[dim]{msg}[/dim]"))
    except StackError as exc:
        console.print(f"[red]stack up failed:[/red] {exc}")
        raise typer.Exit(1) from exc
    for r in results:
        verb = "started" if r.started else "already running"
        console.print(f"[green]✓[/green] {r.service} {verb} ({r.seconds:.1f}s)")


@app.command()
def down(only: list[str] | None = ONLY) -> None:
    """Stop the processes this project started (by pid file; never by process name). Data is kept."""
    stopped = LocalStack(Settings(), tuple(only or ())).down()
    console.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing of ours was running")


@app.command()
def status(only: list[str] | None = ONLY) -> None:
    """Versions, ports, pids and data directories of the local stack."""
    statuses = LocalStack(Settings(), tuple(only or ())).status()
    table = Table("service", "state", "version", "pid", "ports", "data directory", "log")
    for s in statuses:
        state = "[green]running[/green]" if s.running else "[red]stopped[/red]"
        if s.running and not s.ours:
            state = "[yellow]running (not ours)[/yellow]"
        ports = " ".join(f"{k}={v}" for k, v in s.ports.items())
        table.add_row(s.name, state, s.version or "-", str(s.pid or "-"), ports, str(s.data_dir), str(s.log_file))
    console.print(table)
    if not all(s.running for s in statuses):
        raise typer.Exit(3)
