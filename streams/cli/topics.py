"""`crossroads topics apply | list`: the topic catalog on the broker."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from streams.catalog import FOREVER, Cleanup
from streams.kafka import KafkaAdapterError
from streams.kafka.admin import TopicAdmin
from streams.settings import Settings
from streams.topics import needed_topics

app = typer.Typer(help="The platform's topics: create/update them from the catalog, list them.", no_args_is_help=True)
console = Console()


@app.command()
def apply() -> None:
    """Create missing topics and bring existing ones in line with the catalog (idempotent)."""
    settings = Settings()
    try:
        changes = TopicAdmin(settings).apply(needed_topics(settings))
    except KafkaAdapterError as exc:
        console.print(f"[red]topics apply failed:[/red] {exc}")
        raise typer.Exit(1) from exc
    for change in changes:
        colour = "dim" if change.action == "unchanged" else "green"
        console.print(f"[{colour}]{change.action:>10}[/{colour}] {change.topic} {change.detail}")


@app.command("list")
def list_() -> None:
    """Every catalog topic with its key, partitions and retention or compaction, as the broker has it."""
    settings = Settings()
    try:
        states = TopicAdmin(settings).states(needed_topics(settings))
    except KafkaAdapterError as exc:
        console.print(f"[red]topics list failed:[/red] {exc}")
        raise typer.Exit(1) from exc
    table = Table("topic", "key", "partitions", "cleanup", "retention", "on broker", "description")
    for s in states:
        retention = "-" if s.spec.cleanup is Cleanup.COMPACT else _retention(s.spec.retention_ms)
        present = (
            "[red]absent[/red]"
            if s.actual_partitions is None
            else (
                "[green]yes[/green]"
                if s.actual_partitions >= s.wanted_partitions
                else "[yellow]fewer partitions[/yellow]"
            )
        )
        partitions = str(s.actual_partitions if s.actual_partitions is not None else s.wanted_partitions)
        table.add_row(s.topic, s.spec.key, partitions, str(s.spec.cleanup), retention, present, s.spec.description)
    console.print(table)


def _retention(ms: int) -> str:
    if ms == FOREVER:
        return "forever"
    days = ms / 86_400_000
    return f"{days:g} days"
