"""`crossroads mailbox tail ACTOR`: what the platform delivered to an actor (notifications, acknowledgements,
consultation replies). Read-only: it commits nothing, the actor empties its mailbox at its own pace."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

from streams.access import consumer_group_prefix
from streams.composition import codec_for, network_for
from streams.kafka.security import client_config
from streams.settings import Settings

if TYPE_CHECKING:
    from confluent_kafka import Consumer, TopicPartition

app = typer.Typer(
    help="Actors' mailboxes (a topic per institution; employers share one, keyed by employer).", no_args_is_help=True
)
console = Console()


@app.command()
def tail(
    actor: str = typer.Argument(..., help="enterprise number of the institution or employer"),
    follow: bool = typer.Option(False, "--follow", "-f", help="keep waiting for new messages"),
    last: int = typer.Option(
        20, "--last", "-n", help="show the last N messages of each partition (an employer's: its last N; 0: all)"
    ),
) -> None:
    """Print the mailbox's messages, one line each: kind, ticket, person, and what it is about."""
    from confluent_kafka import Consumer, TopicPartition

    from streams.catalog import mailbox_of
    from streams.codecs import CodecError
    from streams.kafka.partitioner import partition_for

    settings = Settings()
    codec = codec_for(settings)
    spec, key = mailbox_of(actor, network_for(settings).institutions)
    topic = spec.topic(settings.topic_prefix)
    group = f"tail-{actor}-{time.time_ns()}"
    if key is None and settings.kafka_security != "plaintext":
        # an institution's mailbox is read as the institution itself, with its own rights only (docs/security.md);
        # an employer is no Kafka user: the operator reads its share of the employers' mailbox
        settings = settings.as_principal(actor)
        group = f"{consumer_group_prefix(settings.topic_prefix, actor)}tail-{time.time_ns()}"
    consumer = Consumer(
        {
            **client_config(settings),
            "group.id": group,
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "log_level": 4,
        }
    )
    metadata = consumer.list_topics(topic, timeout=10).topics.get(topic)
    if metadata is None or metadata.error is not None or not metadata.partitions:
        what = f"mailbox {topic}" if key is None else f"shared employers' mailbox {topic} (crossroads topics apply)"
        console.print(f"no {what} yet (nothing was ever delivered to {actor})")
        raise typer.Exit(0)
    partitions = sorted(metadata.partitions)
    if key is not None:  # an employer: its messages are those keyed by its id, all on one partition
        partitions = [partition_for(key, len(partitions))]
        console.print(f"[dim]{actor} shares {topic} (partition {partitions[0]}): its messages only[/dim]")
    assignment = []
    for p in partitions:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
        if not last:
            start = low
        elif key is None:
            start = max(low, high - last)
        else:
            start = _start_of_last(consumer, TopicPartition(topic, p), key, low, high, last)
        assignment.append(TopicPartition(topic, p, start))
    consumer.assign(assignment)
    idle_since = time.monotonic()
    try:
        while follow or time.monotonic() - idle_since < 2.0:
            message = consumer.poll(0.5)
            if message is None or message.error():
                continue
            idle_since = time.monotonic()
            if key is not None and message.key() != key:
                continue  # another employer's
            try:
                decoded = codec.decode(message.value() or b"")
            except CodecError as exc:
                console.print(f"[red]undecodable message at offset {message.offset()}: {exc}[/red]")
                continue
            console.print(describe(decoded.schema_name, decoded.record))
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()


def _start_of_last(consumer: Consumer, where: TopicPartition, key: bytes, low: int, high: int, last: int) -> int:
    """The offset of the `last`-th message keyed `key` from the end of a shared partition (``low`` when there
    are fewer): windows read backwards from ``high``, each twice the previous."""
    end, window, found = high, max(1_000, 10 * last), 0
    while end > low:
        start = max(low, end - window)
        offsets = _keyed_offsets(consumer, where, key, start, end)
        if found + len(offsets) >= last:
            return offsets[len(offsets) - (last - found)]
        found += len(offsets)
        end, window = start, 2 * window
    return low


def _keyed_offsets(consumer: Consumer, where: TopicPartition, key: bytes, start: int, end: int) -> list[int]:
    """Offsets in [start, end) of the partition's messages keyed `key` (the consumer reports partition EOF)."""
    from confluent_kafka import KafkaError, TopicPartition

    consumer.assign([TopicPartition(where.topic, where.partition, start)])
    offsets: list[int] = []
    try:
        while True:
            message = consumer.poll(5.0)
            if message is None:
                return offsets  # nothing more within reach: what was found
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    return offsets
                continue
            offset = message.offset() or 0
            if offset >= end:
                return offsets
            if message.key() == key:
                offsets.append(offset)
            if offset >= end - 1:
                return offsets
    finally:
        consumer.unassign()


def describe(schema_name: str, record: dict[str, Any]) -> str:
    kind = schema_name.rpartition(".")[2]
    if kind == "Notification":
        return (
            f"[green]{kind}[/green] {record['ticket']} {record['data_type']} about {record['person']} "
            f"(effective {record['effective_date']}, basis {record['legal_basis']})"
        )
    if kind == "Acknowledgement":
        codes = " ".join(v["code"] for v in record.get("violations") or [])
        # an accepted declaration acknowledged again with warnings (a DmfA line without DIMONA)
        codes += "".join(f" warning {w['code']} {w['field']}" for w in record.get("warnings") or [])
        return (
            f"[cyan]{kind}[/cyan] {record['status']} {record['ticket']} {record['declaration_type']} "
            f"ref {record['sender_reference']} {codes}"
        )
    if kind == "ConsultationReply":
        return (
            f"[magenta]{kind}[/magenta] {record['status']} {record['ticket']} {record['data_type']} "
            f"about {record['person']} {record.get('reason') or ''}"
        )
    return f"{kind} {record}"
