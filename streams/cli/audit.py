"""`crossroads audit verify | who-received`: check the audit trail's hash chains, answer a citizen (seed 6.7)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from streams.catalog import Area, by_key
from streams.codecs import AvroCodec, CodecError, SchemaRegistry
from streams.domain.audit import AUDIT_SCHEMA, VerificationResult, verify_chain, who_received
from streams.domain.errors import InvalidIdentifierError
from streams.domain.identifiers import parse_niss
from streams.kafka import KafkaAdapterError
from streams.kafka.audit_log import partition_count, read_partition
from streams.kafka.partitioner import partition_for
from streams.settings import Settings

app = typer.Typer(
    help="The audit trail: verify its hash chains, tell a citizen who received their data.", no_args_is_help=True
)
console = Console(soft_wrap=True)  # a bad record must be nameable on one line (grep, logs)

TOPIC_HELP = "audit topic to read (default: the catalog's, under the configured prefix)"


def _topic(settings: Settings, topic: str | None) -> str:
    return topic or by_key(Area.AUDIT, "exchanges").topic(settings.topic_prefix)


def _codec(settings: Settings) -> AvroCodec:
    return AvroCodec(SchemaRegistry.from_directory(settings.schema_dir), settings.schema_registry_url)


@dataclass
class _Undecodable:
    offset: int | None = None
    reason: str = ""


def _records(
    codec: AvroCodec, settings: Settings, topic: str, partition: int, undecodable: _Undecodable
) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """The partition's records, decoded; stops at the first one that is not an AuditRecord."""
    for message in read_partition(settings.kafka_bootstrap, topic, partition):
        try:
            decoded = codec.decode(message.value)
        except CodecError as exc:
            undecodable.offset, undecodable.reason = message.offset, f"undecodable: {exc}"
            return
        if decoded.schema_name != AUDIT_SCHEMA:
            undecodable.offset, undecodable.reason = message.offset, f"not an AuditRecord: {decoded.schema_name}"
            return
        yield message.offset, decoded.record


@app.command()
def verify(
    partition: int | None = typer.Option(None, help="only this partition (default: all)"),
    topic: str | None = typer.Option(None, help=TOPIC_HELP),
) -> None:
    """Re-compute every partition's hash chain; exit 1 naming the first bad record of a broken chain."""
    settings = Settings()
    name = _topic(settings, topic)
    codec = _codec(settings)
    try:
        partitions = (
            [partition] if partition is not None else list(range(partition_count(settings.kafka_bootstrap, name)))
        )
        results = []
        for number in partitions:
            undecodable = _Undecodable()
            result = verify_chain(_records(codec, settings, name, number, undecodable))
            results.append((number, result, undecodable))
    except KafkaAdapterError as exc:
        console.print(f"[red]audit verify failed:[/red] {exc}")
        raise typer.Exit(2) from exc
    table = Table("partition", "records", "result", title=f"audit chains of {name}")
    broken = False
    for number, result, undecodable in results:
        table.add_row(str(number), str(result.checked), _verdict(result, undecodable))
        broken = broken or not result.ok or undecodable.offset is not None
    console.print(table)
    if broken:
        for number, result, undecodable in results:
            if result.failure is not None:
                failure = result.failure
                console.print(
                    f"[red]FIRST BAD RECORD[/red] partition={number} offset={failure.position} "
                    f"audit_id={failure.audit_id} reason: {failure.reason}"
                )
            elif undecodable.offset is not None:
                console.print(
                    f"[red]FIRST BAD RECORD[/red] partition={number} offset={undecodable.offset} "
                    f"audit_id=? reason: {undecodable.reason}"
                )
        raise typer.Exit(1)
    console.print(f"[green]all {sum(r.checked for _, r, _ in results)} records verify[/green]")


def _verdict(result: VerificationResult[int], undecodable: _Undecodable) -> str:
    if result.failure is not None:
        return f"[red]broken at offset {result.failure.position}[/red]"
    if undecodable.offset is not None:
        return f"[red]broken at offset {undecodable.offset}[/red]"
    return "[green]ok[/green]"


@app.command("who-received")
def who_received_(
    niss: str = typer.Argument(..., help="the citizen's national (or BIS) number"),
    since: datetime | None = typer.Option(None, formats=["%Y-%m-%d"], help="only exchanges from this day on"),
    topic: str | None = typer.Option(None, help=TOPIC_HELP),
    all_partitions: bool = typer.Option(
        False, "--all-partitions", help="read every partition: needed if the topic's partition count ever changed"
    ),
) -> None:
    """Which institutions received which data about NISS, when, and on which legal basis."""
    settings = Settings()
    try:
        person = parse_niss(niss).digits
    except InvalidIdentifierError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    name = _topic(settings, topic)
    codec = _codec(settings)
    try:
        # every record about a person is keyed by their NISS: one partition holds them all
        count = partition_count(settings.kafka_bootstrap, name)
        partitions = range(count) if all_partitions else [partition_for(person.encode(), count)]
        records = [
            codec.decode(m.value).record for p in partitions for m in read_partition(settings.kafka_bootstrap, name, p)
        ]
    except (KafkaAdapterError, CodecError) as exc:
        console.print(f"[red]audit who-received failed:[/red] {exc}")
        raise typer.Exit(2) from exc
    # a day given on the command line is a UTC day, like the recorded times
    receipts = who_received(records, person, since=since.replace(tzinfo=UTC) if since else None)
    table = Table(
        "when (UTC)", "institution", "data", "legal basis", "ticket", "how", title=f"who received data about {niss}"
    )
    for receipt in receipts:
        table.add_row(
            receipt.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            receipt.institution,
            receipt.data_type,
            receipt.legal_basis or "-",
            receipt.ticket,
            "consultation" if receipt.kind == "CONSULTATION_GRANTED" else "delivery",
        )
    console.print(table)
    console.print(f"{len(receipts)} exchange(s)")
