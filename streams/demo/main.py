"""The demo's population part: generate, select, stream with live progress, wait for outcomes, gather figures."""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from streams.codecs import AvroCodec
from streams.demo.figures import outcome_figures, population_figures, region_name, selection_figures
from streams.demo.journey import Journey
from streams.demo.run import Sent, Watcher, backlog, outcomes_done, select, stream
from streams.settings import Settings
from streams.synthetic import Population, generate_day, generate_population, write_employers

QUIET_SECONDS = 3.0  # once every declaration has its outcome: how long nothing new must arrive
IDLE_SECONDS = 45.0  # when some outcomes are missing: how long nothing at all may arrive before giving up


def _wait(watcher: Watcher, sent: Sent, update: Callable[[], None], timeout: float) -> None:
    """Until every declaration sent so far has its outcome and the fan-out has settled (or nothing moves)."""
    deadline = time.monotonic() + timeout
    last_total, quiet_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        update()
        done, dead = outcomes_done(watcher, sent)
        now_total = watcher.total()
        if now_total != last_total:
            last_total, quiet_since = now_total, time.monotonic()
        quiet = time.monotonic() - quiet_since
        if (done + dead >= len(sent.references) and quiet >= QUIET_SECONDS) or quiet >= IDLE_SECONDS:
            return
        time.sleep(0.5)


def run_population(
    settings: Settings,
    codec: AvroCodec,
    console: Console,
    *,
    citizens: int,
    seed: int,
    max_records: int,
    timeout: float = 120.0,
    journey: Journey | None = None,
) -> dict[str, Any]:
    started = dt.datetime.now(dt.UTC)
    began = time.monotonic()
    console.print(f"[bold]A synthetic Belgium: {citizens:,} citizens, seed {seed}[/bold] (--seed {seed} repeats it)")
    population = generate_population(citizens, seed=seed)
    day = list(generate_day(population))
    selection = select(population, day, max_records, seed)
    console.print(
        f"generated in {time.monotonic() - began:.1f}s. Streaming {len(selection.records):,} records "
        f"(--max-records {max_records:,}): the current state of {selection.sampled_citizens:,} sampled citizens "
        f"({selection.population_records:,} records; no directory history), then {selection.day_records:,} "
        f"of the day's {len(day):,} records (those about the sample first), sent by {selection.employers:,} "
        f"employers and the institutions. Skipped: {selection.population_skipped:,} population records, "
        f"{selection.day_skipped:,} of the day's."
    )
    waiting = backlog(settings)
    if waiting:
        console.print(
            f"[yellow]the worker still has {waiting:,} records of earlier runs to take in: this run's outcomes come "
            "after them[/yellow]"
        )
    watcher = Watcher(settings, codec, since_ms=int(time.time() * 1000) - 1000)
    sent = Sent()
    phases = (
        ("population", selection.records[: selection.population_records]),
        ("the day", selection.records[selection.population_records :]),
    )
    try:
        with Progress(
            TextColumn("{task.description:<22}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[extra]}"),
            console=console,
        ) as progress:
            total = len(selection.records)
            sending = progress.add_task("sent", total=total, extra="")
            answered = progress.add_task("outcomes (ack, reply)", total=total, extra="")

            def update(_sent_so_far: int = 0) -> None:
                done, dead = outcomes_done(watcher, sent)
                progress.update(sending, completed=len(sent.references))
                progress.update(
                    answered,
                    completed=done + dead,
                    extra=f"notifications {watcher.counts['Notification']:,}, audit {watcher.counts['AuditRecord']:,}",
                )

            for name, records in phases:
                # the day waits for the population to be absorbed: intake topics are not ordered against each
                # other, and a consultation about a person whose files are still queued would be refused
                progress.update(sending, description=f"sent ({name})")
                stream(settings, codec, records, sent, on_sent=update)
                _wait(watcher, sent, update, timeout=max(timeout, len(records) / 50))
    finally:
        watcher.close()
    figures: dict[str, Any] = {
        "run": {
            "seed": seed,
            "citizens": citizens,
            "max_records": max_records,
            "day": population.day.isoformat(),
            "prefix": settings.topic_prefix,
            "started_at": started.isoformat(timespec="seconds"),
            "seconds": round(time.monotonic() - began, 1),
            "streaming_seconds": round(sent.ended - sent.began, 1),
        },
        "streamed": selection_figures(selection),
        **outcome_figures(population, sent, watcher.snapshot()),
        "population": population_figures(population),
        "warehouse": warehouse_figures(settings, population),
    }
    if journey is not None:
        figures["journey"] = {
            "sender_reference": journey.sender_reference,
            "ticket": journey.ticket,
            "hops": [{"what": h.what, "where": h.where, "ms": round(h.seconds * 1000)} for h in journey.hops],
        }
    return figures


def warehouse_figures(settings: Settings, population: Population) -> dict[str, Any]:
    """Residents per region on the day and the last quarter's employment per region, as `crossroads warehouse
    stats population --level region` and `stats employment` count them, after loading the dimensions (with this
    population's employers). The whole warehouse: this run's sample and whatever earlier runs left."""
    from connectors.clickhouse import connect
    from connectors.clickhouse.dimensions import load_dimensions
    from connectors.clickhouse.statistics import employment
    from connectors.clickhouse.statistics import population as residents

    day = population.day
    quarter, first, _last = population.quarter
    client = connect(settings)
    database = settings.clickhouse.database
    try:
        with tempfile.TemporaryDirectory() as scratch:
            employers = Path(scratch) / "employers.csv"
            write_employers(population, employers)
            load_dimensions(client, database, employers)
        by_region: Counter[str] = Counter()
        for region, _sex, _age, count in residents(client, database, day, "region"):
            by_region[region_name(region)] += count
        employed: Counter[str] = Counter()
        for _quarter, _division, region, persons, _jobs in employment(client, database, first, first):
            employed[region_name(region)] += persons
    except Exception as exc:  # the report goes on without the warehouse's lines
        return {"what": f"warehouse unavailable: {exc}", "population_by_region": {}, "employment_by_region": {}}
    finally:
        client.disconnect()
    return {
        "what": f"residents on {day} by region (`warehouse stats population`; every run on the stack)",
        "population_by_region": dict(by_region.most_common()),
        "employment_quarter": quarter,
        "employment_by_region": dict(employed.most_common()),
    }
