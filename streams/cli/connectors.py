"""`crossroads connectors inbound | outbound | replay | status`: batch partners' file drops (docs/connectors.md)."""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path
from threading import Event
from types import FrameType
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from streams.access import Service
from streams.deployment import as_service
from streams.observability.exporter import ExporterError, serve
from streams.observability.metrics import PlatformMetrics
from streams.observability.sampling import Sampler, Task, lag_of
from streams.settings import Settings

if TYPE_CHECKING:
    from connectors.files.inbound import FileOutcome

app = typer.Typer(help="Batch partners: file-drop connectors in (FI/GO -> intake) and out (mailbox -> FO files).")
console = Console(stderr=True)


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False)],
        force=True,
    )


def _stop_on_signals() -> Event:
    stop = Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


def _serve_metrics(settings: Settings, role: str) -> PlatformMetrics:
    metrics = PlatformMetrics.on()
    try:
        serve(settings, role, settings.metrics_connector_port, metrics)
    except ExporterError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    return metrics


def _sample(settings: Settings, tasks: list[Task]) -> None:
    Sampler(settings, tasks).start()


def _count_files(metrics: PlatformMetrics, connector: str, outcomes: list[FileOutcome]) -> None:
    for outcome in outcomes:
        metrics.connector_processed.labels(connector, outcome.status).inc()
        metrics.connector_records.labels(connector).inc(outcome.sent)


def _file_states(metrics: PlatformMetrics, root: Path) -> Task:
    from connectors.files.inventory import totals

    def sample() -> None:
        for state, count in totals(root).items():
            metrics.connector_files.labels("inbound", state).set(count)

    return sample


@app.command()
def inbound(
    directory: Path = typer.Option(
        ..., "--dir", help="root folder: one sub-folder per partner (its enterprise number)"
    ),
    once: bool = typer.Option(False, "--once", help="process what is there, then exit"),
    interval: float = typer.Option(2.0, "--interval", help="seconds between two looks at the folders"),
    chunk: int = typer.Option(5000, "--chunk", help="records between two fsyncs of the progress journal"),
    progress: bool | None = typer.Option(None, "--progress/--no-progress", help="progress bar (default: on a tty)"),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Take in partners' files: FI.<TYPE>.<sender>.<YYYYMMDD>.<seq>.<R|T> once its GO. file is there; answer
    FO.ACRF (formal checks) and FO.NOTI (every record's result) in <partner>/out/."""
    from connectors.files.fsio import FolderLockedError
    from connectors.files.inbound import InboundConnector, InfrastructureError

    _logging(verbose)
    show = sys.stderr.isatty() if progress is None else progress
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        console=console,
        disable=not show,
    )
    tasks: dict[str, TaskID] = {}

    def on_progress(name: str, done: int, total: int) -> None:
        if name not in tasks:
            tasks[name] = bar.add_task(name, total=total or None, rate="")
        task = tasks[name]
        elapsed = bar.tasks[task].elapsed or 0.0
        bar.update(task, completed=done, rate=f"{done / elapsed:,.0f} rec/s" if elapsed else "")

    settings = as_service(Settings(), Service.INBOUND)
    metrics = _serve_metrics(settings, "connector-inbound")
    connector = InboundConnector(
        settings,
        directory,
        chunk=chunk,
        progress=on_progress,
        on_outcomes=lambda outcomes: _count_files(metrics, "inbound", outcomes),
    )
    _sample(settings, [_file_states(metrics, directory)])
    stop = _stop_on_signals()
    try:
        with bar:
            outcomes = connector.run(once=once, interval=interval, stop=stop)
    except FolderLockedError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    except InfrastructureError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(3) from exc
    if once:
        for outcome in outcomes:
            console.print(outcome.summary())
        if any(o.status == "FAILED" for o in outcomes):
            raise typer.Exit(1)


@app.command()
def outbound(
    actor: str = typer.Option(..., "--actor", help="enterprise number whose mailbox is drained"),
    directory: Path = typer.Option(..., "--dir", help="where FO.NOTI.MBOX.… files are written"),
    once: bool = typer.Option(False, "--once", help="drain what is there, then exit"),
    per_file: int = typer.Option(10_000, "--per-file", help="at most N messages per file"),
    interval: float = typer.Option(2.0, "--interval", help="seconds between two drains"),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Drain ACTOR's mailbox into JSON Lines reply files: each file fsynced before its offsets are committed."""
    from connectors.files.fsio import FolderLockedError
    from connectors.files.outbound import OutboundConnector

    _logging(verbose)
    settings = as_service(Settings(), Service.OUTBOUND)
    metrics = _serve_metrics(settings, "connector-outbound")
    name = f"outbound-{actor}"

    def written(path: Path, records: int) -> None:
        metrics.connector_processed.labels(name, "WRITTEN").inc()
        metrics.connector_records.labels(name).inc(records)

    connector = OutboundConnector(settings, actor, directory, per_file=per_file, written=written)
    _sample(settings, [lag_of(settings, metrics, connector.group_id, lambda: [connector.topic])])
    try:
        files = connector.run(once=once, interval=interval, stop=_stop_on_signals())
    except FolderLockedError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    if once:
        console.print(f"{len(files)} files written in {directory}")


@app.command()
def replay(
    directory: Path = typer.Option(..., "--dir", help="the inbound root folder"),
    partner: str = typer.Argument(..., help="the partner's folder (enterprise number)"),
    name: str = typer.Argument(..., help="the data file in <partner>/error/ (FI.…)"),
) -> None:
    """Put a failed file back: it leaves error/ and gets a fresh GO, so the next pass processes it again (a file
    interrupted mid-way resumes from its journal: nothing already on the intake is sent twice)."""
    from connectors.files.fsio import atomic_write, fsync_dir
    from streams.domain.filedrop import DropKind, parse_drop_name

    folder = directory / partner
    source = folder / "error" / name
    parsed = parse_drop_name(name)
    if parsed is None or parsed.kind is not DropKind.DATA or not source.is_file():
        console.print(f"[red]no data file {name} in {folder / 'error'}[/red]")
        raise typer.Exit(1)
    target = folder / name
    if target.exists():
        console.print(f"[red]{target} exists already: a file of that name waits to be processed[/red]")
        raise typer.Exit(1)
    source.rename(target)
    fsync_dir(folder)
    for stale in (folder / "error").glob(f"{name}.reason"):
        stale.rename(stale.with_name(stale.name + ".replayed"))
    atomic_write(folder / f"GO.{parsed.tail}", b"")
    console.print(f"{name} is back in {folder} with a GO: the inbound connector will process it")


@app.command()
def status(directory: Path = typer.Option(..., "--dir", help="the inbound root folder")) -> None:
    """What waits, what failed, per partner."""
    from connectors.files.inventory import inventories

    for found in inventories(directory):
        console.print(
            f"{found.partner}: {found.waiting} waiting, {found.archived} archived, {len(found.failed)} in error, "
            f"{found.cancelled} cancelled"
        )
        for name in found.failed:
            console.print(f"  error/{name}")
