"""`crossroads check`: the quality checker for data providers (seed 3.2).

Providers check identifiers and whole declaration files on their side, with exactly the rules the intake
applies (the same functions), before sending anything.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.text import Text

from streams.codecs import SchemaLoadError, SchemaRegistry, UnknownSchemaError
from streams.codecs.quality import FileFormat, check_file
from streams.domain.errors import InvalidIdentifierError
from streams.domain.identifiers import BisNumber, EnterpriseNumber, parse_niss

app = typer.Typer(help="Check identifiers and declaration files as the platform will.", no_args_is_help=True)


def _console() -> Console:
    # soft_wrap: one violation stays on one line whatever the terminal width (scripts grep it).
    return Console(soft_wrap=True, highlight=False)


def _check_number(parse: Callable[[str], Any], number: str) -> None:
    console = _console()
    try:
        parsed = parse(number)
    except InvalidIdentifierError as exc:
        console.print(Text.assemble(("invalid ", "bold red"), (exc.code, "red"), f"  {exc.message}"))
        raise typer.Exit(1) from None
    console.print(Text("valid", style="bold green"))
    for key, value in parsed.facts().items():
        console.print(Text.assemble((f"{key:<12}", "cyan"), "unknown" if value is None else str(value)))
    if isinstance(parsed, EnterpriseNumber) and parsed.legacy_form:
        # accepted, but the provider should know that the platform stores another spelling
        console.print(
            Text.assemble(
                ("note        ", "yellow"), f"{number!r} read as {parsed.digits} (the legacy 9-digit form, 0 prefixed)"
            )
        )


@app.command("niss")
def niss(
    number: str = typer.Argument(..., help="A NISS: National Register or BIS number, e.g. 93.05.18-223.61"),
) -> None:
    """Check a NISS (National Register or BIS number) and show the facts it carries."""
    _check_number(parse_niss, number)


@app.command("bis")
def bis(number: str = typer.Argument(..., help="A BIS number (month + 20 or + 40)")) -> None:
    """Check a BIS number and show the facts it carries."""
    _check_number(BisNumber.parse, number)


@app.command("enterprise")
def enterprise(number: str = typer.Argument(..., help="An enterprise number, e.g. 0403.170.701")) -> None:
    """Check an enterprise number (KBO/BCE)."""
    _check_number(EnterpriseNumber.parse, number)


@app.command("file")
def file(
    path: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="Declaration file"),
    type_name: str | None = typer.Option(
        None,
        "--type",
        "-t",
        help="Declaration type of every record (full "
        "or short schema name); default: the 'type' field/column, or the "
        "Avro container's schema",
    ),
    file_format: str | None = typer.Option(
        None, "--format", "-f", help="jsonl, csv or avro; default: from the extension"
    ),
    schemas: Path | None = typer.Option(None, "--schemas", help="Schema directory (default: avro_schemas/)"),
) -> None:
    """Validate every record of a JSON Lines, CSV or Avro file; one line per violation, exit 1 if any fails."""
    console = _console()
    if file_format not in (None, "jsonl", "csv", "avro"):
        raise typer.BadParameter("must be jsonl, csv or avro", param_hint="--format")
    fmt: FileFormat | None = file_format  # type: ignore[assignment]  # narrowed by the check above
    try:
        registry = SchemaRegistry.from_directory(schemas)
        reports = list(check_file(path, registry, type_name=type_name, file_format=fmt))
    except (SchemaLoadError, UnknownSchemaError, ValueError) as exc:
        console.print(Text.assemble(("error ", "bold red"), str(exc)))
        raise typer.Exit(2) from None
    failed = 0
    violations = 0
    notes = 0
    for report in reports:
        for note in report.notes:
            notes += 1
            # not "record ...": scripts count the lines that start so as violations
            console.print(
                Text.assemble(
                    ("note", "yellow"), "  ", ("record ", "dim"), (str(report.number), "bold"), "  ",
                    (note.field, "cyan"), "  ", note.message,
                )
            )  # fmt: skip
        if not report.violations:
            continue
        failed += 1
        for v in report.violations:
            violations += 1
            console.print(
                Text.assemble(
                    ("record ", "dim"),
                    (str(report.number), "bold"),
                    "  ",
                    (v.field or "-", "cyan"),
                    "  ",
                    (v.code, "red"),
                    "  ",
                    v.message,
                )
            )
    summary = (
        f"{len(reports)} records checked: {len(reports) - failed} valid, {failed} invalid, {violations} violations"
    )
    if notes:
        summary += f", {notes} note{'s' if notes > 1 else ''}"
    console.print(Text(summary, style="bold red" if failed else "bold green"))
    if failed:
        raise typer.Exit(1)
