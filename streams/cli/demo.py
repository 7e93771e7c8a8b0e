"""`crossroads demo`: the local stack, the topics, the warehouse, the workers, and a declaration's journey.

Every step checks what it depends on: a worker or projector that ends at any moment stops the demo at once
(exit code 1) with how it ended and the last lines of its log, and a report is written only for a run whose
every declaration has its outcome.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from streams.composition import codec_for
from streams.settings import Settings

if TYPE_CHECKING:
    from streams.demo.journey import Journey
    from streams.stack.workers import PlatformWorkers

console = Console()


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        keep_running: bool = typer.Option(False, help="leave the worker and projector running afterwards"),
        timeout: float = typer.Option(120.0, help="seconds to wait for each stage"),
        citizens: int = typer.Option(100_000, "--citizens", "-n", min=10, help="synthetic population size"),
        seed: int | None = typer.Option(None, "--seed", "-s", help="generator seed (default: time-based, printed)"),
        max_records: int = typer.Option(
            20_000, "--max-records", min=0, help="declarations streamed at most (0: the journey only)"
        ),
        out: Path = typer.Option(Path("demo-report"), "--out", help="where report.json and report.html go"),
    ) -> None:
        """Bring everything up, follow one DIMONA declaration from intake to a ClickHouse row, then stream a
        synthetic Belgium (a bounded sample of it) through the platform and report what came out."""
        from connectors.clickhouse import connect, migrate
        from streams.demo.journey import JourneyTimeout, trace
        from streams.demo.run import OutcomesMissing
        from streams.domain.network import NetworkError
        from streams.domain.samples import sample_dimona_in
        from streams.kafka import KafkaAdapterError
        from streams.kafka.admin import TopicAdmin, wait_for_group
        from streams.stack.errors import ProcessDied, StackError
        from streams.stack.local import LocalStack
        from streams.stack.workers import PlatformWorkers
        from streams.topics import needed_topics

        settings = Settings()
        began = time.monotonic()

        def step(text: str) -> None:
            console.print(f"[dim]{time.monotonic() - began:6.1f}s[/dim] {text}")

        try:
            for started in LocalStack(settings).up():
                step(
                    f"{started.service}: {'started' if started.started else 'already running'} ({started.seconds:.1f}s)"
                )
        except StackError as exc:
            console.print(f"[red]the local stack did not come up:[/red] {exc}")
            raise typer.Exit(1) from exc
        # the same topics as `crossroads topics apply`: the catalog and the network's institutions' mailboxes
        try:
            topics = needed_topics(settings)
            created = [c for c in TopicAdmin(settings).apply(topics) if c.action != "unchanged"]
        except (NetworkError, KafkaAdapterError) as exc:
            console.print(f"[red]the topics could not be applied:[/red] {escape(str(exc))}")
            raise typer.Exit(1) from exc
        step(f"topics: catalog and institutions' mailboxes applied ({len(topics)} topics, {len(created)} changed)")
        applied = migrate(connect(settings, database="default"), settings)
        step(f"warehouse: migrations applied ({len(applied)} new)")

        workers = PlatformWorkers(settings)
        ours = [command for command, process in workers.processes.items() if process.pid() is None]
        pids = workers.start()
        step(f"workers: {', '.join(f'{name} pid {pid}' for name, pid in pids.items())} (logs in {workers.home})")
        try:
            for group in (settings.app_id, f"{settings.app_id}-projector"):
                wait_for_group(settings, group, timeout, check=workers.check)
            step("workers: consumer groups stable")
            codec = codec_for(settings)
            record = sample_dimona_in()
            record["envelope"]["sender_reference"] = f"demo-{uuid.uuid4().hex[:12]}"
            journey = trace(settings, codec, record, timeout=timeout, check=workers.check)
            _show_journey(journey)
            if max_records:
                from streams.demo.main import run_population

                figures = run_population(
                    settings,
                    codec,
                    console,
                    citizens=citizens,
                    seed=int(time.time()) % 1_000_000 if seed is None else seed,
                    max_records=max_records,
                    timeout=timeout,
                    journey=journey,
                    check=workers.check,
                )
                from streams.demo.report import show, write

                show(console, figures)
                as_json, as_html = write(figures, out)
                step(f"report: {as_html} (figures: {as_json})")
        except ProcessDied as exc:  # its message: how it ended, then the last lines of its log
            what, _, tail = str(exc).partition("\n")
            console.print(f"[red]the demo stopped: {escape(what)}[/red]")
            _print_log(tail)
            raise typer.Exit(1) from exc
        except OutcomesMissing as exc:
            console.print(f"[red]the demo stopped, no report written: {escape(str(exc))}[/red]")
            _show_logs(workers, ("worker",))
            raise typer.Exit(1) from exc
        except (JourneyTimeout, KafkaAdapterError) as exc:
            console.print(f"[red]the demo stopped: {escape(str(exc))}[/red]")
            _show_logs(workers, tuple(workers.processes))
            raise typer.Exit(1) from exc
        finally:
            if not keep_running:  # only what the demo started: a worker someone else runs keeps running
                for command in ours:
                    workers.processes[command].stop(timeout=30.0)
        console.print("[dim]The stack keeps running — `crossroads stack status`, `crossroads stack down`.[/dim]")


def _show_logs(workers: PlatformWorkers, commands: Sequence[str]) -> None:
    for command in commands:
        process = workers.processes[command]
        console.print(f"[dim]last lines of {process.log_file}:[/dim]")
        _print_log(process.log_tail())


def _print_log(text: str) -> None:
    # as written: a log line holds brackets rich would read as markup, and is searched for whole
    console.print(text, markup=False, highlight=False, emoji=False, soft_wrap=True)


def _show_journey(journey: Journey) -> None:
    table = Table("hop", "where", "after", title=f"Journey of {journey.sender_reference} — ticket {journey.ticket}")
    for hop in journey.hops:
        table.add_row(hop.what, hop.where, f"{hop.seconds * 1000:.0f} ms")
    console.print(table)
    row = journey.row
    console.print(
        f"warehouse row: kind={row['kind']} sender={row['sender']} accepted_at={row['accepted_at']} "
        f"projected_at={row['projected_at']} "
        f"from {row['facts_topic']}[{row['facts_partition']}]@{row['facts_offset']}"
    )
    console.print("[green]intake → fact → warehouse: the walking skeleton walks.[/green]")
    console.print("[dim]The projector flushes every second (or every 10,000 rows): most of the last hop.[/dim]")
