"""`crossroads status [--json]`: one screen for the operator -- the stack's processes, the platform's processes
and their last errors, each consumer group's lag and its trend, the rates, the service level against the
seed's 98.68 % within 4 s, dead letters and rejections of the last hour, the audit verification state.

Exit code: 0 all well, 3 something is down, 4 the service level is missed (docs/operations.md).
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime

import typer
from rich.console import Console
from rich.table import Table

from streams.audit_seal import SealFileError, load_seals, seal_file
from streams.catalog import Area, by_key
from streams.kafka import KafkaAdapterError
from streams.kafka.monitoring import BrokerView
from streams.observability import prometheus_api
from streams.observability.exporter import Target, alive, announced
from streams.observability.status import (
    AuditState,
    LagState,
    ProcessState,
    Report,
    Scrape,
    ServiceLevel,
    lag_trend,
    parse_scrape,
    rates_between,
)
from streams.settings import Settings
from streams.stack.local import LocalStack
from streams.stack.prometheus import local_url
from streams.stack.workers import COMMANDS, PlatformWorkers

console = Console()
_ERROR_LINE = re.compile(r"\b(ERROR|CRITICAL|FATAL)\b|^Traceback|ProcessDied|Exception:")
HOUR_MS = 3_600_000


def register(app: typer.Typer) -> None:
    @app.command()
    def status(
        as_json: bool = typer.Option(False, "--json", help="the report as JSON, for scripts"),
        sample: float = typer.Option(2.0, "--sample", min=0.5, help="seconds between two looks, for trends"),
    ) -> None:
        """The platform at a glance; exits 3 when something is down, 4 when the service level is missed."""
        settings = Settings()
        report = gather(settings, sample)
        if as_json:
            typer.echo(json.dumps(report.as_json(), indent=2, default=str))
        else:
            show(report)
        raise typer.Exit(report.exit_code())


def gather(settings: Settings, sample_s: float) -> Report:
    notes: list[str] = []
    stack = [
        {"name": s.name, "running": s.running, "pid": s.pid, "version": s.version, "ours": s.ours}
        for s in LocalStack(settings).status()
    ]
    targets = [t for t in announced(settings) if t.app_id == settings.app_id]
    processes = _processes(settings, targets)
    live = [t for t in targets if alive(t.pid)]
    view: BrokerView | None = None
    try:
        view = BrokerView(settings)
        groups = view.groups(settings.app_id)
        first = {g: view.lag(g) for g in groups}
    except KafkaAdapterError as exc:
        notes.append(str(exc))
        groups, first = [], {}
    before = _scrapes(live, notes)
    began = time.monotonic()
    time.sleep(sample_s)
    elapsed = time.monotonic() - began
    after = _scrapes(live, notes)
    lags: list[LagState] = []
    dead_letters = rejections = None
    audit: list[AuditState] = []
    if view is not None:
        try:
            second = {g: view.lag(g) for g in groups}
            trends = lag_trend({g: x.lag for g, x in first.items()}, {g: x.lag for g, x in second.items()}, elapsed)
            lags = [LagState(g, x.lag, len(x.partitions), trends.get(g)) for g, x in second.items()]
            since = int(time.time() * 1000) - HOUR_MS
            dead_letters = view.received_since(
                by_key(Area.OUTCOMES, "dead-letters").topic(settings.topic_prefix), since
            )
            rejections = view.received_since(by_key(Area.OUTCOMES, "rejections").topic(settings.topic_prefix), since)
            audit = _audit(settings, view, notes)
        except KafkaAdapterError as exc:
            notes.append(str(exc))
        finally:
            view.close()
    url = settings.prometheus_url or local_url(settings)
    asked = url if prometheus_api.ready(url) else None
    rates, window, level = rates_between(before, after, elapsed), f"last {elapsed:.1f} s", _own_level(after, settings)
    if asked is not None:
        try:
            rates, window, level = _from_prometheus(asked, settings)
        except prometheus_api.PrometheusUnavailable as exc:
            notes.append(str(exc))
    return Report(stack, processes, lags, rates, window, level, dead_letters, rejections, audit, asked, notes)


def _processes(settings: Settings, targets: list[Target]) -> list[ProcessState]:
    """The worker and the projector are the platform: each must run. A connector that announced itself and is
    gone (killed) is down too; one stopped cleanly withdrew its announcement."""
    states = []
    workers = PlatformWorkers(settings)
    for role in COMMANDS:
        process = workers.processes[role]
        pid = process.recorded_pid()
        mine = [t for t in targets if t.role == role and alive(t.pid)]
        running = (pid is not None and alive(pid)) or bool(mine)
        if running:
            detail = ""
        elif pid is not None:
            detail = f"pid {pid} is gone; its log: {process.log_file}"
        else:
            detail = "not started"
        states.append(
            ProcessState(
                role,
                running,
                pid if pid is not None else (mine[0].pid if mine else None),
                mine[0].url if mine else None,
                _last_error(process.log_file),
                detail,
            )
        )
    for target in targets:
        if target.role in COMMANDS:
            continue
        up = alive(target.pid)
        detail = "" if up else f"pid {target.pid} is gone (killed: {target.path} is left)"
        states.append(ProcessState(target.role, up, target.pid, target.url, None, detail))
    return states


def _last_error(log_file: object) -> str | None:
    try:
        lines = open(str(log_file), errors="replace").read().splitlines()[-5000:]  # noqa: SIM115 - read at once
    except OSError:
        return None
    for line in reversed(lines):
        if _ERROR_LINE.search(line):
            return line.strip()[:300]
    return None


def _scrapes(targets: list[Target], notes: list[str]) -> list[Scrape]:
    found = []
    for target in targets:
        try:
            with urllib.request.urlopen(target.url, timeout=3.0) as response:
                found.append(parse_scrape(response.read().decode()))
        except (urllib.error.URLError, OSError, ValueError) as exc:
            notes.append(f"{target.role} (pid {target.pid}) metrics at {target.url}: {exc}")
    return found


def _own_level(scrapes: list[Scrape], settings: Settings) -> ServiceLevel | None:
    total = sum(s.latency_total for s in scrapes)
    if not scrapes:
        return None
    within = sum(s.latency_within for s in scrapes)
    return ServiceLevel(within, total, settings.service_level_share, "since each process started")


def _from_prometheus(url: str, settings: Settings) -> tuple[dict[str, float], str, ServiceLevel]:
    app = settings.app_id
    rates = {
        s.labels.get("flow", ""): s.value
        for s in prometheus_api.query(
            url, f'sum by (flow) (rate(crossroads_consumed_records_total{{app_id="{app}"}}[1m]))'
        )
    }
    within = prometheus_api.query(
        url, f'sum(increase(crossroads_notification_latency_seconds_bucket{{app_id="{app}",le="4.0"}}[1h]))'
    )
    total = prometheus_api.query(
        url, f'sum(increase(crossroads_notification_latency_seconds_count{{app_id="{app}"}}[1h]))'
    )
    level = ServiceLevel(
        within[0].value if within else 0.0,
        total[0].value if total else 0.0,
        settings.service_level_share,
        "last hour (Prometheus)",
    )
    return rates, "last minute (Prometheus)", level


def _audit(settings: Settings, view: BrokerView, notes: list[str]) -> list[AuditState]:
    topic = by_key(Area.AUDIT, "exchanges").topic(settings.topic_prefix)
    try:
        seals = load_seals(seal_file(settings))
    except SealFileError as exc:
        notes.append(str(exc))
        seals = {}
    states = []
    for partition, end in view.end_offsets(topic).items():
        seal = seals.get((topic, partition))
        states.append(
            AuditState(
                topic,
                partition,
                None if seal is None else seal.offset,
                end,
                None if seal is None else seal.verified_at.isoformat(),
            )
        )
    return states


def show(report: Report) -> None:
    now = datetime.now(UTC).isoformat(timespec="seconds")
    console.print(f"[bold]Crossroads status[/bold] {now}")
    table = Table("process", "state", "pid", "metrics", "last error")
    for s in report.stack:
        table.add_row(s["name"], _state(s["running"]), str(s["pid"] or "-"), "-", "-")
    for p in report.processes:
        table.add_row(p.role, _state(p.running, p.detail), str(p.pid or "-"), p.metrics or "-", p.last_error or "-")
    console.print(table)
    lag = Table("consumer group", "lag", "partitions", "trend (records/s)")
    for g in report.lags:
        trend = "-" if g.trend_per_s is None else f"{g.trend_per_s:+.1f}"
        lag.add_row(g.group, f"{g.lag:,}", str(g.partitions), trend)
    console.print(lag)
    rates = ", ".join(f"{flow} {rate:,.1f}/s" for flow, rate in report.rates.items()) or "nothing consumed"
    console.print(f"rates ({report.rates_window}): {rates}")
    level = report.service_level
    if level is None or level.share is None:
        console.print("service level: no answer or notification measured yet")
    else:
        colour = "red" if level.missed else "green"
        console.print(
            f"service level ({level.window}): [{colour}]{level.share:.2%}[/{colour}] of {level.total:,.0f} within 4 s "
            f"(target {level.target:.2%})"
        )
    console.print(
        f"last hour: {_count(report.dead_letters_last_hour)} dead letters, "
        f"{_count(report.rejections_last_hour)} rejections"
    )
    unverified = sum(a.unverified for a in report.audit)
    never = sum(1 for a in report.audit if a.verified_at is None)
    console.print(
        f"audit: {len(report.audit)} partitions, {unverified:,} records not yet verified"
        + (f", {never} never verified (crossroads audit verify)" if never else "")
    )
    for note in report.notes:
        console.print(f"[yellow]note:[/yellow] {note}")
    for problem in report.problems():
        console.print(f"[red]problem:[/red] {problem}")


def _state(running: bool, detail: str = "") -> str:
    return "[green]running[/green]" if running else "[red]down[/red]" + (f" ({detail})" if detail else "")


def _count(value: int | None) -> str:
    return "?" if value is None else f"{value:,}"
