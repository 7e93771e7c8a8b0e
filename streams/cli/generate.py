"""`crossroads generate`: a synthetic Belgium and one working day of its traffic, as files the platform reads.

The generation itself is pure (:mod:`streams.synthetic`); this module loads the network, shows progress and
writes the files.  Output (docs/synthetic.md): ``integrations.jsonl``, ``dimona.jsonl``, ``dmfa.jsonl``,
``civil.jsonl``, ``consultations.jsonl`` (JSON Lines with a ``"type"`` key, as ``crossroads check file`` and
``crossroads send`` read them), ``employers.csv`` (for ``crossroads warehouse load-dimensions --employers``) and
``manifest.json`` (counts, parameters, the expected invalid and unauthorized records).
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

_STAGES = {"citizens": "citizens", "households": "households", "jobs": "employers and jobs", "directory": "directory"}


def register(app: typer.Typer) -> None:
    @app.command()
    def generate(
        out: Path = typer.Option(..., "--out", "-o", help="directory to write into (created if needed)"),
        citizens: int = typer.Option(100_000, "--citizens", "-n", min=1, help="number of citizens"),
        seed: int = typer.Option(0, "--seed", "-s", help="the same seed gives the same files"),
        day: str | None = typer.Option(
            None, "--day", help="the simulated working day, YYYY-MM-DD (default 2026-04-28)"
        ),
        invalid_share: float = typer.Option(
            0.01, "--invalid-share", min=0.0, max=1.0, help="share of the day's records broken on purpose"
        ),
        unauthorized_share: float = typer.Option(
            0.05, "--unauthorized-share", min=0.0, max=1.0, help="share of consultations the platform must refuse"
        ),
        dmfa_share: float = typer.Option(
            1.0, "--dmfa-share", min=0.0, max=1.0, help="share of employers whose last-quarter DmfA is in the day"
        ),
        network_dir: Path | None = typer.Option(
            None, "--network", help="network directory (default: CROSSROADS_NETWORK_DIR, else deploy/network/v1)"
        ),
        environment: str = typer.Option("PRODUCTION", "--environment", help="envelope environment: PRODUCTION or TEST"),
        history: bool = typer.Option(
            True, "--history/--no-history", help="also write the directory entries closed before the day (~8 of 11)"
        ),
    ) -> None:
        """Generate a synthetic population and a day of declarations (deterministic for a seed)."""
        from streams.domain.network import NetworkError
        from streams.network_files import load_network
        from streams.settings import Settings
        from streams.synthetic import DEFAULT_DAY, generate_day, generate_population, write_dataset

        console = Console()
        if environment not in ("PRODUCTION", "TEST"):
            raise typer.BadParameter("must be PRODUCTION or TEST", param_hint="--environment")
        try:
            simulated = dt.date.fromisoformat(day) if day else DEFAULT_DAY
        except ValueError:
            raise typer.BadParameter(f"{day!r} is not a date YYYY-MM-DD", param_hint="--day") from None
        try:
            network = load_network(network_dir or Settings().network_dir)
        except NetworkError as exc:
            console.print(f"[red]the network cannot be loaded:[/red] {exc}")
            raise typer.Exit(2) from None
        began = time.monotonic()
        with Progress(
            TextColumn("{task.description:<22}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        ) as progress:
            tasks: dict[str, TaskID] = {}

            def advance(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = progress.add_task(_STAGES.get(stage, stage), total=total)
                progress.update(tasks[stage], completed=done, total=total)

            population = generate_population(
                citizens, seed=seed, day=simulated, network=network, environment=environment, progress=advance
            )
            task = progress.add_task("the day", total=1)
            traffic = list(
                generate_day(
                    population,
                    invalid_share=invalid_share,
                    unauthorized_share=unauthorized_share,
                    dmfa_share=dmfa_share,
                )
            )
            progress.update(task, completed=1)
            entries = sum(
                len(c.entries) if history else sum(e.end is None for e in c.entries) for c in population.citizens
            )
            total = entries + citizens + len(population.jobs) + len(traffic)
            writing = progress.add_task("writing", total=total)
            parameters: dict[str, Any] = {
                "citizens": citizens,
                "seed": seed,
                "day": simulated.isoformat(),
                "invalid_share": invalid_share,
                "unauthorized_share": unauthorized_share,
                "dmfa_share": dmfa_share,
                "environment": environment,
                "history": history,
            }
            manifest = write_dataset(
                out, population, traffic, parameters, lambda n: progress.update(writing, completed=n), history=history
            )
        _summary(console, manifest, out, time.monotonic() - began)


def _summary(console: Console, manifest: dict[str, Any], out: Path, seconds: float) -> None:
    table = Table(title=f"{manifest['citizens']:,} citizens, seed {manifest['seed']}, day {manifest['day']}")
    table.add_column("type")
    table.add_column("population", justify="right")
    table.add_column("day", justify="right")
    counts = manifest["counts"]
    for name in sorted(set(counts["population"]) | set(counts["day"])):
        table.add_row(
            name.removeprefix("be.crossroads."),
            f"{counts['population'].get(name, 0):,}",
            f"{counts['day'].get(name, 0):,}",
        )
    console.print(table)
    expected, people = manifest["expected"], manifest["population"]
    console.print(
        f"directory: {people['directory_entries']:,} entries, {people['entries_per_citizen']} per citizen "
        f"(seed: {people['seed_institutions_per_citizen']}); {people['employers']:,} employers, "
        f"{people['jobs']:,} jobs"
    )
    console.print(
        f"expected: {expected['invalid']:,} invalid records, {expected['unauthorized']:,} of "
        f"{expected['consultations']:,} consultations unauthorized"
    )
    console.print(f"written to {out}/ in {seconds:.1f} s")
