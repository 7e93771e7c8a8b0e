"""`crossroads network`: the institutions, sectors and authorization matrix the platform runs with.

The authorizations are public by law (seed 3.5): ``crossroads network authorizations`` is their published
view, as a table or as the Markdown of ``docs/authorizations.md`` (kept in step by a unit test).
"""

from __future__ import annotations

import datetime as dt
import sys
from enum import StrEnum
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from streams.domain.network import Authorization, DataType, Network, NetworkError
from streams.network_files import load_network
from streams.settings import Settings

app = typer.Typer(
    help="The network: institutions, sectors and capacities, and the authorization matrix.", no_args_is_help=True
)

REGENERATE_DOCS = "crossroads network authorizations --format markdown > docs/authorizations.md"


class Format(StrEnum):
    TABLE = "table"
    MARKDOWN = "markdown"


def default_network_dir() -> Path:
    return Settings().network_dir


def _console() -> Console:
    # soft_wrap: one problem stays on one line whatever the terminal width (scripts grep it).
    console = Console(soft_wrap=True, highlight=False)
    if not console.is_terminal:
        console.width = max(console.width, 160)  # piped to a file or a pager: no reason to squeeze the tables
    return console


def _load(directory: Path) -> Network:
    try:
        return load_network(directory)
    except NetworkError as exc:
        _print_problems(exc)
        raise typer.Exit(1) from None


def _print_problems(exc: NetworkError) -> None:
    console = _console()
    for problem in exc.problems:
        console.print(Text.assemble(("problem ", "bold red"), problem))
    console.print(Text(f"{len(exc.problems)} problem(s)", style="bold red"))


def _data_type(raw: str | None) -> str | None:
    """Accept the full Avro name or the short one (``DimonaIn``)."""
    if raw is None:
        return None
    for data_type in DataType:
        if raw in (data_type.value, data_type.short_name):
            return data_type.value
    known = ", ".join(t.short_name for t in DataType)
    raise typer.BadParameter(f"unknown data type {raw!r}; known: {known}", param_hint="--data-type")


# -- the published view -----------------------------------------------------------------------------------


def select(
    network: Network, *, sector: str | None = None, data_type: str | None = None, on: dt.date | None = None
) -> list[Authorization]:
    """The authorizations matching every given filter, in publication order (sector, capacity, start)."""
    sectors = [sector] if sector else sorted(network.sectors)
    return [
        grant
        for code in sectors
        for grant in network.authorizations_for(code)
        if (data_type is None or data_type in grant.data_types) and (on is None or grant.is_valid_on(on))
    ]


_PREFIX = "be.crossroads."


def _data_types_cell(grant: Authorization, separator: str, template: str = "{}") -> str:
    # Without the common prefix, which every data type carries: "civil.Death", "dmfa.DmfaDeclaration".
    return separator.join(template.format(t.removeprefix(_PREFIX)) for t in sorted(grant.data_types))


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(
    network: Network, *, sector: str | None = None, data_type: str | None = None, on: dt.date | None = None
) -> str:
    """The authorization matrix as a Markdown page: per sector, its capacities and what each may receive."""
    lines = [
        "# Authorizations — the published matrix",
        "",
        f"Network version `{network.version}`. Generated from the network files by `{REGENERATE_DOCS}`; "
        "do not edit by hand (see [network.md](network.md)).",
        "",
        "For each sector and capacity (qualité / hoedanigheid): the data types its institutions may receive "
        "about the people they hold a file on, the deliberation that authorizes it and the period "
        "(inclusive; *open* = no end). Anything not listed is refused, and the refusal is logged. "
        f"Data types are Avro names without their common `{_PREFIX}` prefix. "
        "The deliberation references of this sample network are fictitious.",
        "",
    ]
    grants = select(network, sector=sector, data_type=data_type, on=on)
    for code in sorted({g.sector for g in grants}):
        lines += _markdown_sector(network, code, [g for g in grants if g.sector == code])
    return "\n".join(lines).rstrip("\n") + "\n"


def _markdown_sector(network: Network, code: str, grants: list[Authorization]) -> list[str]:
    sector = network.sectors[code]
    institutions = network.institutions_in(code)
    lines = [f"## {code} — {_md(sector.name)}", "", f"{len(institutions)} institution(s) in this network.", ""]
    lines += ["| capacity | description |", "|---|---|"]
    lines += [f"| `{cap}` | {_md(text)} |" for cap, text in sector.capacities.items()]
    lines += ["", "| capacity | data types | legal basis | valid from | valid to | purpose |"]
    lines += ["|---|---|---|---|---|---|"]
    for g in grants:
        valid_to = g.valid_to.isoformat() if g.valid_to else "*open*"
        types = _data_types_cell(g, "<br>", "`{}`")
        lines.append(
            f"| `{g.capacity}` | {types} | {_md(g.legal_basis)} | {g.valid_from.isoformat()} | {valid_to} "
            f"| {_md(g.purpose)} |"
        )
    return [*lines, ""]


def _authorizations_table(network: Network, grants: list[Authorization]) -> Table:
    table = Table(title=f"Authorizations — network {network.version}", caption=f"data types: {_PREFIX}…")
    for column in ("sector", "capacity", "legal basis", "valid from", "valid to"):
        table.add_column(column, no_wrap=True)
    # On a narrow terminal the data types fold; the legal basis, the point of the published view, stays whole.
    table.add_column("data types", overflow="fold")
    for g in grants:
        table.add_row(
            g.sector,
            g.capacity,
            g.legal_basis,
            g.valid_from.isoformat(),
            g.valid_to.isoformat() if g.valid_to else "open",
            _data_types_cell(g, "\n"),
        )
    return table


# -- commands -----------------------------------------------------------------------------------------------

_DIR = typer.Option(None, "--dir", help="Network directory (default: the network_dir setting)")


@app.command("authorizations")
def authorizations(
    sector: str | None = typer.Option(None, "--sector", "-s", help="Only this sector (e.g. UNEMPLOYMENT)"),
    data_type: str | None = typer.Option(
        None,
        "--data-type",
        "-t",
        help="Only authorizations granting this data type (full Avro name or short name, e.g. DimonaIn)",
    ),
    on: dt.datetime | None = typer.Option(
        None, "--on", formats=["%Y-%m-%d"], help="Only those valid on this date (YYYY-MM-DD)"
    ),
    output_format: Format = typer.Option(Format.TABLE, "--format", "-f", help="table or markdown"),
    directory: Path | None = _DIR,
) -> None:
    """The published authorization matrix: who may receive what, on which legal basis, for which period."""
    network = _load(directory or default_network_dir())
    if sector is not None and sector not in network.sectors:
        raise typer.BadParameter(
            f"unknown sector {sector!r}; known: {', '.join(sorted(network.sectors))}", param_hint="--sector"
        )
    wanted = _data_type(data_type)
    day = on.date() if on else None
    if output_format is Format.MARKDOWN:
        # Plain stdout, not rich: the bytes must be exactly those of docs/authorizations.md.
        sys.stdout.write(render_markdown(network, sector=sector, data_type=wanted, on=day))
        return
    _console().print(_authorizations_table(network, select(network, sector=sector, data_type=wanted, on=day)))


@app.command("institutions")
def institutions(
    sector: str | None = typer.Option(None, "--sector", "-s", help="Only this sector"),
    directory: Path | None = _DIR,
) -> None:
    """The institutions connected to the network, with their sector."""
    network = _load(directory or default_network_dir())
    table = Table("enterprise number", "sector", "name", title=f"Institutions — network {network.version}")
    for code in [sector] if sector else sorted(network.sectors):
        for institution in network.institutions_in(code):
            table.add_row(institution.formatted_number, institution.sector, institution.name)
    _console().print(table)


@app.command("check")
def check(
    path: Path | None = typer.Argument(None, help="Network directory to validate (default: the network_dir setting)"),
) -> None:
    """Validate a network directory as the platform does at start-up: every problem, exit 1 if any."""
    network = _load(path or default_network_dir())
    capacities = sum(len(s.capacities) for s in network.sectors.values())
    _console().print(
        Text.assemble(
            ("valid ", "bold green"),
            f"network {network.version}: {len(network.institutions)} institutions, {len(network.sectors)} sectors, "
            f"{capacities} capacities, {len(network.authorizations)} authorizations; "
            f"{len(network.secretariats)} secretariats, {len(network.mandates)} mandates, "
            f"{len(network.authentic_sources)} authentic sources",
        )
    )
