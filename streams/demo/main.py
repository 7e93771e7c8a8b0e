"""The demo's population part: generate, select, stream with live progress, wait for outcomes, gather figures.

The waits decide on evidence, not on quiet windows: after each phase is sent, the worker's consumer group must
have committed the end of every topic the worker consumes (its outputs are then written), then the demo's
watcher must have read every output partition to its end; a declaration still without an outcome then is a
failure (`OutcomesMissing`), not a line of the report."""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from streams.codecs import AvroCodec
from streams.demo.figures import outcome_figures, population_figures, region_name, selection_figures
from streams.demo.journey import Journey
from streams.demo.run import OutcomesMissing, Sent, Watcher, backlog, outcomes_done, select, stream, without_outcome
from streams.kafka.admin import wait_drained
from streams.settings import Settings
from streams.synthetic import Population, generate_day, generate_population, write_employers

DRAIN_RATE = 50  # declarations a second the waits allow for at least (the platform takes several hundred)


def _settle(
    settings: Settings,
    watcher: Watcher,
    sent: Sent,
    sources: Sequence[str],
    checking: Callable[[], None],
    timeout: float,
    stalled_after: float,
) -> None:
    """Until the platform has taken in everything sent so far and the watcher has read all it wrote: the
    worker's group has committed the end offset of every topic the worker consumes (`sources`), then the
    watcher has read every output partition to its end. `checking` runs on every round of both waits and raises
    when a process of the platform died. The drain is waited for as long as the worker commits progress (a
    busy machine is slow, not broken) and fails when it committed nothing for `stalled_after` seconds; the
    watcher's read within `timeout`. Raises OutcomesMissing if a declaration still has no outcome then."""
    wait_drained(settings, settings.app_id, sources, stalled_after=stalled_after, check=checking)
    watcher.wait_caught_up(timeout=timeout, check=checking)
    checking()
    missing, examples = without_outcome(sent, watcher.snapshot())
    if missing:
        raise OutcomesMissing(missing, len(sent.references), examples)


def worker_sources(settings: Settings) -> list[str]:
    """Every topic `crossroads worker` consumes under these settings (its app, built as the worker builds it)."""
    from topologies.app import create_app, source_topics

    return source_topics(create_app(settings))


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
    check: Callable[[], None] = lambda: None,
) -> dict[str, Any]:
    """Generate, stream and wait as the module says; the figures of a run whose every declaration has its
    outcome. `check` raises when a process of the platform has died: it is called while streaming and waiting."""
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
    sources = worker_sources(settings)
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
                check()
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
                _settle(
                    settings,
                    watcher,
                    sent,
                    sources,
                    update,
                    timeout=max(timeout, (len(records) + waiting) / DRAIN_RATE),
                    stalled_after=timeout,
                )
                waiting = 0  # the earlier runs' backlog was drained with the first phase
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
