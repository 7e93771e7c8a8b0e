"""`crossroads directory show NISS [--as-of DATE]`: the reference directory's file on one person.

Read from the directory table's changelog (compacted, keyed by NISS): only the partition the key hashes to,
so it answers whether or not a worker runs. The cost is one partition scan — fine for an operator's question,
not a query path for applications (those consult through the platform).
"""

from __future__ import annotations

import datetime as dt

import typer
from rich.console import Console
from rich.table import Table

from streams.composition import codec_for, network_for
from streams.settings import Settings

app = typer.Typer(
    help="The reference directory: who holds a file on whom, in which capacity, when.", no_args_is_help=True
)
console = Console()


@app.command()
def show(
    niss: str = typer.Argument(..., help="national number (punctuation allowed)"),
    as_of: str | None = typer.Option(None, "--as-of", help="YYYY-MM-DD: only the files active on that date"),
) -> None:
    """The person's directory entries (history included) and employment relations."""
    from streams.codecs.person_file import decode_person_file
    from streams.domain.errors import InvalidIdentifierError
    from streams.domain.identifiers import parse_niss
    from streams.kafka.audit_log import partition_count, read_partition
    from streams.kafka.partitioner import partition_for

    settings = Settings()
    try:
        person = parse_niss(niss).digits
    except InvalidIdentifierError as exc:
        console.print(f"[red]{exc.code}[/red] {exc}")
        raise typer.Exit(1) from exc
    day = dt.date.fromisoformat(as_of) if as_of else None
    topic = f"{settings.topic_prefix}.directory.entries.v1"
    key = person.encode()
    value = None
    for record in read_partition(settings, topic, partition_for(key, partition_count(settings, topic))):
        if record.key == key:
            value = record.value
    codec = codec_for(settings)
    file = decode_person_file(codec, value)
    network = network_for(settings)
    entries = file.holders(day) if day else list(file.entries)
    title = f"Directory of {person}" + (f" as of {day}" if day else " (all periods)")
    table = Table("institution", "name", "sector", "capacity", "from", "to", "status", "ticket", title=title)
    for e in sorted(entries, key=lambda e: (e.start, e.institution)):
        known = network.institution(e.institution)
        table.add_row(
            e.institution,
            known.name if known else "?",
            e.sector,
            e.capacity,
            str(e.start),
            str(e.end or "open"),
            e.status,
            e.ticket,
        )
    console.print(table)
    relations = [r for r in file.relations if day is None or r.active_on(day)]
    if relations:
        jobs = Table("employer", "from", "to", "worker type", "joint committee", title="Employment relations (DIMONA)")
        for r in sorted(relations, key=lambda r: r.start):
            jobs.add_row(r.employer, str(r.start), str(r.end or "open"), r.worker_type, r.joint_committee)
        console.print(jobs)
    if not entries and not relations:
        console.print("no file" + (f" active on {day}" if day else ""))
