"""The demo report on the console, and on disk (figures as JSON, the page as HTML)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from streams.demo.html import render


def write(figures: Mapping[str, Any], out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    as_json, as_html = out / "report.json", out / "report.html"
    as_json.write_text(json.dumps(figures, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    as_html.write_text(render(figures), encoding="utf-8")
    return as_json, as_html


def _table(title: str, headers: tuple[str, str], rows: Mapping[str, Any]) -> Table:
    table = Table(*headers, title=title, title_justify="left")
    for key, value in rows.items():
        table.add_row(str(key), f"{value:,}" if isinstance(value, int) else str(value))
    return table


def show(console: Console, figures: Mapping[str, Any]) -> None:
    outcomes, consult = figures["outcomes"], figures["consultations"]
    latency, audit = figures["latency_ms"], figures["audit"]
    console.print(
        _table(
            "Declarations",
            ("outcome", "count"),
            {
                "sent": outcomes["sent"],
                "accepted": outcomes["accepted"],
                "rejected": outcomes["rejected"],
                "dead-lettered": outcomes["dead_lettered"],
                "no outcome seen": outcomes["without_outcome"],
            },
        )
    )
    if outcomes["rejected_by_reason"]:
        console.print(_table("Rejected, by reason", ("violation", "declarations"), outcomes["rejected_by_reason"]))
    console.print(
        _table("Notifications per sector", ("sector", "notifications"), figures["notifications"]["by_sector"])
    )
    console.print(
        _table(
            "Consultations",
            ("answer", "requests"),
            {
                "sent": consult["requests"],
                "granted": consult["granted"],
                "refused": consult["refused"],
                "not found": consult["not_found"],
                **{f"  refused: {k}": v for k, v in consult["refused_by_reason"].items()},
            },
        )
    )
    console.print(_table(f"Audit records ({audit['total']:,})", ("kind", "records"), audit["by_kind"]))
    warehouse = figures.get("warehouse") or {}
    if warehouse.get("population_by_region"):
        console.print(_table(str(warehouse["what"]), ("region", "residents"), warehouse["population_by_region"]))
    if warehouse.get("employment_by_region"):
        console.print(
            _table(
                f"employment in {warehouse['employment_quarter']} (`warehouse stats employment`)",
                ("region", "persons"),
                warehouse["employment_by_region"],
            )
        )
    console.print(
        f"latency {latency['what']} over {latency['count']:,} notifications: "
        f"p50 {latency['p50']:,} ms, p90 {latency['p90']:,} ms, p99 {latency['p99']:,} ms, max {latency['max']:,} ms"
    )
