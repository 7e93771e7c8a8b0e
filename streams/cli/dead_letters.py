"""`crossroads dead-letters list | show ID | replay ID... [--to TOPIC]`: triage and replay what the platform could
not decode (docs/operations.md, "Dead letters")."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from streams.catalog import CATALOG, INTAKE_TOPICS
from streams.composition import codec_for
from streams.dead_letters import DEAD_LETTER_SCHEMA
from streams.domain.admission import intake_ticket
from streams.domain.audit import replay_entry
from streams.domain.credentials import derived_seal_key
from streams.domain.errors import DeadLetterError
from streams.domain.replay import (
    Letter,
    hexdump,
    parse_letter_id,
    proven_sender,
    replay_headers,
    replay_partition,
    replay_target,
    selected,
)
from streams.kafka import KafkaAdapterError
from streams.kafka.audit_log import partition_count
from streams.kafka.dead_letters import Unreadable, read_letter, read_letters, send
from streams.kafka.partitioner import partition_for
from streams.settings import Settings

app = typer.Typer(
    help="Dead letters: what the platform could not decode, kept whole; list, show and replay them.",
    no_args_is_help=True,
)
console = Console(soft_wrap=True)


def _fail(what: str, exc: Exception) -> typer.Exit:
    console.print(f"[red]dead-letters {what}:[/red] {escape(str(exc))}")
    return typer.Exit(2)


def _since(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a date (YYYY-MM-DD) or time (ISO 8601)", param_hint="--since"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def _topics(settings: Settings) -> tuple[set[str], set[str]]:
    prefix = settings.topic_prefix
    return {spec.topic(prefix) for spec in INTAKE_TOPICS}, {spec.topic(prefix) for spec in CATALOG}


def _origin_topic(settings: Settings, topic: str | None) -> str | None:
    if topic is None:
        return None
    intake, _ = _topics(settings)
    return {t.split(".")[-2]: t for t in intake}.get(topic, topic)


def _replayable(settings: Settings, letter: Letter) -> str:
    intake, catalog = _topics(settings)
    try:
        return f"to {replay_target(letter, None, intake, catalog)}"
    except DeadLetterError as exc:
        return f"no: {exc.message}"


@app.command("list")
def list_command(
    since: str | None = typer.Option(None, help="dead-lettered at or after (YYYY-MM-DD or ISO 8601, UTC)"),
    topic: str | None = typer.Option(None, help="origin topic (full name, or an intake family: civil, dimona, ...)"),
    error_type: str | None = typer.Option(None, "--error-type", help="e.g. UnknownSchemaError, CorruptMessageError"),
    limit: int | None = typer.Option(None, min=1, help="only the N most recent"),
    as_json: bool = typer.Option(False, "--json", help="one JSON object per letter, one a line (raw bytes included)"),
) -> None:
    """The dead letters, oldest first: id (partition:offset of the dead-letter topic), when, why, origin, key."""
    settings = Settings()
    after, origin = _since(since), _origin_topic(settings, topic)  # bad input refused before anything is read
    try:
        found = list(read_letters(settings, codec_for(settings)))
    except KafkaAdapterError as exc:
        raise _fail("list", exc) from exc
    letters = [f for f in found if isinstance(f, Letter)]
    unreadable = [f for f in found if isinstance(f, Unreadable)]
    chosen = selected(letters, since=after, topic=origin, error_type=error_type, limit=limit)
    if as_json:
        for letter in chosen:
            typer.echo(json.dumps(letter.as_dict()))
        for bad in unreadable:
            typer.echo(json.dumps({"id": bad.id, "unreadable": bad.reason}))
        return
    table = Table("id", "dead-lettered at", "error", "reason", "origin", "key", "bytes", title="dead letters")
    for letter in chosen:
        table.add_row(
            letter.id,
            letter.dead_lettered_at.isoformat(timespec="seconds"),
            letter.error_type,
            escape(letter.reason),
            f"{letter.topic}[{letter.partition}]@{letter.offset}",
            escape(_shown(letter.key)),
            str(len(letter.raw)),
        )
    console.print(table)
    for bad in unreadable:
        console.print(f"[red]{bad.id}: not a {DEAD_LETTER_SCHEMA}[/red]: {escape(bad.reason)}")
    console.print(f"{len(chosen)} of {len(letters)} dead letters")


def _shown(data: bytes | None) -> str:
    if data is None:
        return "-"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return f"0x{data.hex()}"
    return text if text.isprintable() else f"0x{data.hex()}"


def _read(settings: Settings, letter_ids: list[str], what: str) -> list[Letter]:
    codec = codec_for(settings)
    letters = []
    try:
        positions = [parse_letter_id(text) for text in letter_ids]  # every id checked before any is read
        for position in positions:
            found = read_letter(settings, codec, *position)
            if isinstance(found, Unreadable):
                raise DeadLetterError("bad_id", f"{found.id} is not a {DEAD_LETTER_SCHEMA}: {found.reason}")
            letters.append(found)
    except (DeadLetterError, KafkaAdapterError) as exc:
        raise _fail(what, exc) from exc
    return letters


@app.command("show")
def show_command(
    letter_id: str = typer.Argument(..., metavar="ID", help="partition:offset, as `list` shows it"),
    as_json: bool = typer.Option(False, "--json", help="JSON (bytes as base64, and as text when they are)"),
) -> None:
    """One dead letter whole: why, origin (topic, partition, offset, timestamp, headers), key, raw bytes (hex)."""
    settings = Settings()
    (letter,) = _read(settings, [letter_id], "show")
    if as_json:
        typer.echo(json.dumps({**letter.as_dict(), "replayable": _replayable(settings, letter)}))
        return
    console.print(f"[bold]dead letter {letter.id}[/bold]")
    rows = [
        ("reason", letter.reason),
        ("error type", letter.error_type),
        ("dead-lettered at", letter.dead_lettered_at.isoformat()),
        ("origin", f"{letter.topic} partition {letter.partition} offset {letter.offset}"),
        ("origin timestamp", letter.timestamp.isoformat() if letter.timestamp else "-"),
        ("root origin", letter.origin),
        ("key", _shown(letter.key)),
        ("replayable", _replayable(settings, letter)),
    ]
    for name, value in rows:
        console.print(f"{name:>17}: {escape(value)}")
    console.print(f"{'headers':>17}: {len(letter.headers)}")
    for header, raw in letter.headers:
        console.print(f"{'':>19}{escape(header)} = {escape(_shown(raw))}")
    console.print(f"{'raw':>17}: {len(letter.raw)} bytes")
    console.print(escape(hexdump(letter.raw)), highlight=False)


@app.command("replay")
def replay_command(
    letter_ids: list[str] = typer.Argument(..., metavar="ID...", help="dead letters to replay (partition:offset)"),
    to: str | None = typer.Option(
        None, "--to", help="intake topic to replay to (full name or family: civil, dimona...; default: its origin)"
    ),
    as_json: bool = typer.Option(False, "--json", help="one JSON object per replay"),
) -> None:
    """Send each letter's raw bytes, key and original headers back to its intake, with provenance headers;
    each replay audited (the operator, the letter, the topic) before it is sent. The intake admits one origin
    once: a letter replayed again, or twice at once, is not processed twice."""
    settings = Settings()
    letters = _read(settings, letter_ids, "replay")
    intake, catalog = _topics(settings)
    secret = settings.access_secret.get_secret_value()

    def key_of(actor: str) -> bytes:
        return derived_seal_key(secret, actor)

    try:  # every letter checked before any is sent
        targets = [replay_target(letter, to, intake, catalog) for letter in letters]
        plans = [
            (letter, target, replay_partition(letter, target, partition_count(settings, target), partition_for))
            for letter, target in zip(letters, targets, strict=True)
        ]
    except (DeadLetterError, KafkaAdapterError) as exc:
        raise _fail("replay", exc) from exc
    codec = codec_for(settings)
    for letter, target, partition in plans:
        ticket = str(uuid.uuid4())
        root_topic, root_partition, root_offset = letter.origin.rsplit("/", 2)
        person = letter.key.decode("ascii", "replace") if letter.key else ""
        audit = replay_entry(
            ticket=ticket,
            operator=settings.kafka_principal,
            person=person if person.isdigit() and len(person) == 11 else "",
            data_type=DEAD_LETTER_SCHEMA,
            letter=letter.id,
            origin=letter.origin,
            target=target,
            at=datetime.now(UTC),
            source_ticket=str(intake_ticket(root_topic, int(root_partition), int(root_offset))),
            source=proven_sender(letter, key_of),
        )
        try:
            placed = send(
                settings,
                codec,
                audit=audit,
                audit_key=audit["person"].encode() or None,  # the audit trail's partition of the person
                topic=target,
                partition=partition,
                key=letter.key,
                value=letter.raw,
                headers=replay_headers(letter, target, ticket=ticket, key_of=key_of),
            )
        except KafkaAdapterError as exc:
            raise _fail("replay", exc) from exc
        result: dict[str, Any] = {
            "id": letter.id,
            "origin": letter.origin,
            "topic": placed.topic,
            "partition": placed.partition,
            "offset": placed.offset,
            "ticket": ticket,
            "operator": settings.kafka_principal,
        }
        if as_json:
            typer.echo(json.dumps(result))
        else:
            console.print(
                f"replayed {letter.id} ({escape(letter.origin)}) to "
                f"{placed.topic}[{placed.partition}]@{placed.offset}, "
                f"audited as replay {ticket} by {escape(settings.kafka_principal)}"
            )
