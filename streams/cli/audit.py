"""`crossroads audit verify | who-received`: check the audit trail's hash chains, answer a citizen (seed 6.7)."""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence
from contextlib import closing
from datetime import UTC, datetime, timedelta
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from streams.audit_seal import SealFileError, load_seals, save_seals, seal_file
from streams.catalog import FOREVER, Area, by_key
from streams.codecs import AvroCodec, CodecError, Decoded
from streams.composition import codec_for
from streams.domain.audit import (
    PartitionVerdict,
    Receipt,
    Seal,
    Unreadable,
    audit_records,
    partition_gone,
    read_from,
    verify_partition,
    who_received,
)
from streams.domain.errors import InvalidIdentifierError
from streams.domain.identifiers import parse_niss
from streams.domain.pseudonyms import REIDENTIFICATION_DATA_TYPE
from streams.domain.sources import describe
from streams.kafka import KafkaAdapterError
from streams.kafka.audit_log import TopicMissingError, partition_count, read_partition, read_range, watermarks
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
    return codec_for(settings)


def _records(
    codec: AvroCodec, settings: Settings, topic: str, partition: int, start: int, end: int
) -> Generator[tuple[int, Sequence[Mapping[str, Any]] | Unreadable], None, None]:
    """The partition's messages of offsets [start, end), each as its audit records; what holds none is named,
    not raised."""
    for message in read_range(settings, topic, partition, start, end):
        try:
            decoded = codec.decode(message.value)
        except CodecError as exc:
            yield message.offset, Unreadable(f"undecodable: {exc}")
            continue
        yield message.offset, audit_records(decoded.schema_name, decoded.record)


# Kafka deletes a segment once its newest record is past the retention; the segment after it may start that much
# later (segment.ms, 7 days by default), and the broker looks every 5 minutes: a day more for good measure
SEGMENT_GRACE = timedelta(days=8)


def _retention_may_explain(
    codec: AvroCodec, settings: Settings, topic: str, partition: int, low: int, high: int, now: datetime
) -> bool:
    """Whether the audit topic's retention can be why records before ``low`` are gone: the catalog's retention,
    not the broker's topic config (lowering retention.ms on the broker is one way to delete audit records, and
    must not be what excuses their absence), and only once the oldest record left is itself about that old --
    records deleted while the oldest one kept is recent were not deleted by a retention of years."""
    retention_ms = by_key(Area.AUDIT, "exchanges").resolved(settings).retention_ms
    if retention_ms == FOREVER or low == 0 or low >= high:
        return False
    with closing(_records(codec, settings, topic, partition, low, low + 1)) as oldest:
        for _, message in oldest:
            if isinstance(message, Unreadable) or not message:
                return False
            recorded = message[0].get("recorded_at")
            if not isinstance(recorded, datetime):
                return False
            if recorded.tzinfo is None:
                recorded = recorded.replace(tzinfo=UTC)
            return recorded <= now - timedelta(milliseconds=retention_ms) + SEGMENT_GRACE
    return False


def _verify_partition(
    codec: AvroCodec, settings: Settings, topic: str, number: int, seal: Seal | None, *, full: bool, now: datetime
) -> PartitionVerdict:
    low, high = watermarks(settings, topic, number)
    start = read_from(seal, low=low, full=full)
    # closing: the verdict may stop reading at the first problem; the reader's consumer is closed right then
    with closing(_records(codec, settings, topic, number, start, high)) as records:
        return verify_partition(
            records,
            topic=topic,
            partition=number,
            seal=seal,
            low=low,
            high=high,
            now=now,
            full=full,
            kept_forever=not _retention_may_explain(codec, settings, topic, number, low, high, now),
        )


@app.command()
def verify(
    partition: int | None = typer.Option(None, help="only this partition (default: all)"),
    topic: str | None = typer.Option(None, help=TOPIC_HELP),
    full: bool = typer.Option(
        False, "--full", help="re-check each chain from its first record, and against the seal, not from the seal on"
    ),
    no_seal: bool = typer.Option(False, "--no-seal", help="check against the seals, but record nothing"),
) -> None:
    """Check every partition's hash chain and that nothing verified before is gone; record the verified heads.

    Exit 0 when every partition verifies (its seal advanced, unless --no-seal); 1 when a chain is broken,
    truncated or rewritten, naming the first problem of each partition on one line (a failing partition keeps
    its old seal); 2 when Kafka or the seal file cannot be read or written.
    """
    settings = Settings()
    name = _topic(settings, topic)
    codec = _codec(settings)
    path = seal_file(settings)
    now = datetime.now(UTC)
    try:
        seals = load_seals(path)
        sealed = {number: seal for (sealed_topic, number), seal in seals.items() if sealed_topic == name}
        try:
            count = partition_count(settings, name)
        except TopicMissingError:
            if not sealed:
                raise
            count = 0  # a sealed topic that is gone: each of its sealed partitions was truncated
        numbers = [partition] if partition is not None else sorted(set(range(count)) | set(sealed))
        verdicts: dict[int, PartitionVerdict] = {}
        for number in numbers:
            seal = sealed.get(number)
            if number < count:
                verdicts[number] = _verify_partition(codec, settings, name, number, seal, full=full, now=now)
            elif seal is not None:
                verdicts[number] = partition_gone(seal)
            else:
                raise KafkaAdapterError(f"topic {name} has no partition {number}")
    except (KafkaAdapterError, SealFileError) as exc:
        console.print(f"[red]audit verify failed:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from exc

    table = Table("partition", "records", "messages read", "result", title=f"audit chains of {name}")
    for number, verdict in verdicts.items():
        records = "?" if verdict.seal is None else str(verdict.seal.records)
        table.add_row(str(number), records, str(verdict.read), _verdict(verdict))
    console.print(table)
    for number, verdict in verdicts.items():
        if (problem := verdict.problem) is not None:
            # one line per problem, always the same shape: grep for the kind or for "partition="
            console.print(
                f"[red]{problem.kind}[/red] partition={number} offset={problem.offset} "
                f"audit_id={problem.audit_id or '?'} reason: {escape(problem.reason)}"
            )
    broken = any(not v.ok for v in verdicts.values())
    # printed before the seals are written: a seal file that cannot be written must not hide a broken chain
    recorded = {(s.topic, s.partition): s for v in verdicts.values() if (s := v.seal) is not None}
    if no_seal:
        where = "not recorded (--no-seal)"
    else:
        try:
            save_seals(path, {**seals, **recorded}.values())
        except SealFileError as exc:
            console.print(f"[red]audit verify failed:[/red] {escape(str(exc))}")
            raise typer.Exit(1 if broken else 2) from exc
        where = f"recorded in {path}"
    if broken:
        advanced = (
            f"the seals of the {len(recorded)} partition(s) that verify {where}" if recorded else "no seal advanced"
        )
        console.print(f"{advanced}; the failing partitions keep their seals")
        raise typer.Exit(1)
    total = sum(s.records for s in recorded.values())
    read = sum(v.read for v in verdicts.values())
    from_seals = not full and any(s.offset is not None for s in sealed.values())
    console.print(
        f"[green]all {total} records verify[/green] ({read} messages read, "
        f"{'from the seals on' if from_seals else 'from the first record'}); seals {where}"
    )


def _verdict(verdict: PartitionVerdict) -> str:
    if verdict.problem is None:
        return "[green]ok[/green]"
    return f"[red]{verdict.problem.kind.lower()} at offset {verdict.problem.offset}[/red]"


@app.command("who-received")
def who_received_(
    niss: str = typer.Argument(..., help="the citizen's national (or BIS) number"),
    since: datetime | None = typer.Option(None, formats=["%Y-%m-%d"], help="only exchanges from this day on"),
    topic: str | None = typer.Option(None, help=TOPIC_HELP),
    all_partitions: bool = typer.Option(
        False, "--all-partitions", help="read every partition: needed if the topic's partition count ever changed"
    ),
) -> None:
    """Which institutions received, or were refused, which data about NISS, from which source, when, and on
    which legal basis or for which reason.

    One line per audited exchange about the person: deliveries, consultations (re-identifications included)
    granted or refused, consultations that found nothing (nothing was given), and deliveries withheld from an
    unauthorized holder; a refusal says REFUSED and why. Items of the person's file the directory purged
    past their retention period are listed too ("purged", what and why): nobody received them.
    """
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
        count = partition_count(settings, name)
        partitions = range(count) if all_partitions else [partition_for(person.encode(), count)]
        records = [
            record
            for p in partitions
            for m in read_partition(settings, name, p)
            for record in _readable(codec.decode(m.value))
        ]
    except (KafkaAdapterError, CodecError) as exc:
        console.print(f"[red]audit who-received failed:[/red] {exc}")
        raise typer.Exit(2) from exc
    # a day given on the command line is a UTC day, like the recorded times
    receipts = who_received(records, person, since=since.replace(tzinfo=UTC) if since else None)
    table = Table(
        "when (UTC)",
        "outcome",
        "institution",
        "data",
        "source",
        "legal basis / reason",
        "ticket",
        "how",
        title=f"who received (or was refused) data about {niss}",
    )
    for receipt in receipts:
        table.add_row(
            receipt.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            _outcome(receipt),
            receipt.institution,
            receipt.data_type,
            escape(describe(receipt.source)),
            escape(_basis_or_reason(receipt)),
            receipt.ticket,
            _how(receipt),
        )
    console.print(table)
    refused = sum(1 for r in receipts if r.refused)
    nothing = sum(1 for r in receipts if r.nothing_found)
    purged = sum(1 for r in receipts if r.was_purged)
    exchanges = len(receipts) - purged
    allowed = exchanges - refused - nothing
    console.print(
        f"{exchanges} exchange(s): {allowed} allowed, {nothing} found nothing, {refused} refused"
        + (f"; {purged} item(s) purged past their retention period" if purged else "")
    )


def _readable(decoded: Decoded) -> Sequence[Mapping[str, Any]]:
    records = audit_records(decoded.schema_name, decoded.record)
    if isinstance(records, Unreadable):  # `audit verify` names it; the citizen's answer is what can be read
        return []
    return records


def _outcome(receipt: Receipt) -> str:
    if receipt.was_purged:  # no exchange: the directory removed the item (the reason says what and why)
        return f"purged {receipt.purged}"
    if receipt.refused:
        return "[red]REFUSED[/red]"
    if receipt.nothing_found:  # allowed to ask, but nothing was given: no data about the person left
        return "nothing found"
    # a consultation written before AuditRecord v3 as granted may still have found nothing (its reply said so)
    return "granted" if receipt.consultation else "received"


def _basis_or_reason(receipt: Receipt) -> str:
    if receipt.nothing_found:  # on which basis it asked, and what it did not find
        return f"{receipt.legal_basis or '-'}; {receipt.reason or 'nothing found'}"
    return (receipt.reason if receipt.refused or receipt.was_purged else receipt.legal_basis) or "-"


def _how(receipt: Receipt) -> str:
    if receipt.was_purged:
        return "retention purge"
    if receipt.data_type == REIDENTIFICATION_DATA_TYPE:
        return "re-identification"
    return "consultation" if receipt.consultation else "delivery"
