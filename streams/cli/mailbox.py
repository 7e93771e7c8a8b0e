"""`crossroads mailbox tail ACTOR`: what the platform delivered to an actor (notifications, acknowledgements,
consultation replies). Read-only: it commits nothing, the actor empties its mailbox at its own pace."""

from __future__ import annotations

import time
from typing import Any

import typer
from rich.console import Console

from streams.settings import Settings

app = typer.Typer(help="Actors' mailboxes (one topic per institution or employer).", no_args_is_help=True)
console = Console()


@app.command()
def tail(
    actor: str = typer.Argument(..., help="enterprise number of the institution or employer"),
    follow: bool = typer.Option(False, "--follow", "-f", help="keep waiting for new messages"),
    last: int = typer.Option(20, "--last", "-n", help="show the last N messages of each partition (0: all)"),
) -> None:
    """Print the mailbox's messages, one line each: kind, ticket, person, and what it is about."""
    from confluent_kafka import Consumer, TopicPartition

    from streams.catalog import mailbox
    from streams.codecs import AvroCodec, CodecError, SchemaRegistry

    settings = Settings()
    codec = AvroCodec(SchemaRegistry.from_directory(settings.schema_dir))
    topic = mailbox(actor).topic(settings.topic_prefix)
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": f"tail-{actor}-{time.time_ns()}",
            "enable.auto.commit": False,
            "log_level": 4,
        }
    )
    metadata = consumer.list_topics(topic, timeout=10).topics.get(topic)
    if metadata is None or metadata.error is not None:
        console.print(f"no mailbox {topic} yet (nothing was ever delivered to {actor})")
        raise typer.Exit(0)
    assignment = []
    for p in metadata.partitions:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
        assignment.append(TopicPartition(topic, p, max(low, high - last) if last else low))
    consumer.assign(assignment)
    idle_since = time.monotonic()
    try:
        while follow or time.monotonic() - idle_since < 2.0:
            message = consumer.poll(0.5)
            if message is None or message.error():
                continue
            idle_since = time.monotonic()
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


def describe(schema_name: str, record: dict[str, Any]) -> str:
    kind = schema_name.rpartition(".")[2]
    if kind == "Notification":
        return (
            f"[green]{kind}[/green] {record['ticket']} {record['data_type']} about {record['person']} "
            f"(effective {record['effective_date']}, basis {record['legal_basis']})"
        )
    if kind == "Acknowledgement":
        codes = " ".join(v["code"] for v in record.get("violations") or [])
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
