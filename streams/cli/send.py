"""`crossroads send FILE --as ACTOR`: produce declarations from a JSON Lines, CSV or Avro file."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from streams.composition import codec_for, registry_for
from streams.settings import Settings

console = Console()


def register(app: typer.Typer) -> None:
    @app.command()
    def send(
        path: Path = typer.Argument(..., exists=True, dir_okay=False, help="declaration file"),
        actor: str | None = typer.Option(None, "--as", help="sender: the enterprise number of the declarant"),
        keep_senders: bool = typer.Option(
            False,
            "--keep-senders",
            help="send each record as the sender its envelope names (replaying a generated day)",
        ),
        type_name: str | None = typer.Option(None, "--type", "-t", help="declaration type of every record"),
    ) -> None:
        """Send every record to its intake topic as ACTOR (the envelope's sender), sealed as ACTOR (the intake
        believes the seal, docs/security.md). Acknowledgements arrive in ACTOR's mailbox
        (`crossroads mailbox tail ACTOR`)."""
        from streams.codecs import CodecError
        from streams.codecs.conform import conform
        from streams.codecs.quality import detect_format, read_records
        from streams.domain.kinds import subject_key
        from streams.kafka import KafkaAdapterError
        from streams.kafka.producer import DeclarationProducer

        if (actor is None) == (not keep_senders):
            console.print("[red]say who sends: --as ACTOR, or --keep-senders to use each record's own sender[/red]")
            raise typer.Exit(2)
        settings = Settings()
        registry = registry_for(settings)
        producer = DeclarationProducer(settings, codec_for(settings, registry))
        skipped = 0
        for raw in read_records(path, detect_format(path)):
            name = type_name or raw.type_name
            problem = raw.error.message if raw.error else None if name else "no type: add a 'type' field or --type"
            record = None
            if problem is None and name is not None:
                try:
                    full_name = registry.resolve(name)
                    record, violations = conform(registry, full_name, raw.record)
                    problem = "; ".join(f"{v.field}: {v.message}" for v in violations) or None
                except CodecError as exc:
                    problem = exc.reason
            if problem is not None or record is None or name is None:
                console.print(f"[red]record {raw.number} not sent:[/red] {problem}")
                skipped += 1
                continue
            envelope = record.setdefault("envelope", {})
            if keep_senders:
                actor_of_record = envelope.get("sender") or ""
            elif envelope.get("sender") not in (None, "", actor):
                console.print(
                    f"[red]record {raw.number} not sent:[/red] its sender is {envelope['sender']}, not {actor}"
                )
                skipped += 1
                continue
            else:
                actor_of_record = actor or ""
            envelope["sender"] = actor_of_record
            envelope["ticket"] = None  # the platform stamps it
            producer.send(full_name, record, subject_key(full_name, record))
        try:
            producer.flush()
        except KafkaAdapterError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from exc
        who = actor or "their own senders"
        console.print(f"sent {producer.delivered} declarations as {who}; {skipped} not sent")
        if skipped:
            raise typer.Exit(1)
