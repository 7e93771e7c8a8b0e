"""The demo report as one self-contained HTML page: tables and inline SVG charts drawn here (no JS, no CDN)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#4b5563")
STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;color:#111827;
padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #e5e7eb}
.sub{color:#6b7280}.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:1.5rem}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:.8rem;margin:1rem 0}
.card{border:1px solid #e5e7eb;border-radius:8px;padding:.6rem .8rem}.card b{display:block;font-size:1.4rem}
.card span{color:#6b7280;font-size:.85rem}table{border-collapse:collapse;font-size:.9rem;margin:.5rem 0}
td,th{padding:.25rem .7rem;border-bottom:1px solid #f3f4f6;text-align:left}td.n{text-align:right;
font-variant-numeric:tabular-nums}svg{max-width:100%;height:auto}svg text{font-size:11px;fill:#374151}
"""


def _n(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else escape(str(value))


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(f'<td class="n">{_n(c)}</td>' if isinstance(c, int | float) else f"<td>{_n(c)}</td>" for c in r)
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def bar_chart(title: str, items: Mapping[str, int | float], unit: str = "", width: int = 480) -> str:
    """Horizontal bars, one per item, labelled with the value."""
    items = dict(items)
    bar_h, label_w, top = 20, 190, 28
    height = top + bar_h * max(1, len(items)) + 10
    peak = max(items.values(), default=0) or 1
    span = width - label_w - 70
    parts = [f'<text x="0" y="16" style="font-weight:600;font-size:13px">{escape(title)}</text>']
    for i, (label, value) in enumerate(items.items()):
        y = top + i * bar_h
        w = span * value / peak
        parts.append(f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end">{escape(str(label)[:30])}</text>')
        parts.append(
            f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{bar_h - 6}" fill="{PALETTE[0]}" rx="2"/>'
        )
        parts.append(f'<text x="{label_w + w + 4:.1f}" y="{y + 14}">{_n(value)}{escape(unit)}</text>')
    return _svg(width, height, parts, title)


def column_chart(title: str, labels: Sequence[str], values: Sequence[int], width: int = 480, height: int = 240) -> str:
    left, bottom, top = 40, 40, 38
    plot_w, plot_h = width - left - 10, height - bottom - top
    peak = max(values, default=0) or 1
    step = plot_w / max(1, len(values))
    parts = [f'<text x="0" y="16" style="font-weight:600;font-size:13px">{escape(title)}</text>']
    parts.append(_axis(left, top, plot_w, plot_h, peak))
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        h = plot_h * value / peak
        x = left + i * step
        parts.append(
            f'<rect x="{x + 2:.1f}" y="{top + plot_h - h:.1f}" width="{max(1.0, step - 4):.1f}" height="{h:.1f}" '
            f'fill="{PALETTE[3]}"><title>{escape(label)}: {value:,}</title></rect>'
        )
        parts.append(
            f'<text x="{x + step / 2:.1f}" y="{top + plot_h + 14}" text-anchor="middle">{escape(label)}</text>'
        )
        if value:
            parts.append(
                f'<text x="{x + step / 2:.1f}" y="{top + plot_h - h - 3:.1f}" text-anchor="middle">{value:,}</text>'
            )
    return _svg(width, height, parts, title)


def line_chart(
    title: str, xs: Sequence[int], series: Mapping[str, Sequence[int]], x_label: str, width: int = 960
) -> str:
    height, left, bottom, top = 280, 50, 40, 46
    plot_w, plot_h = width - left - 20, height - bottom - top
    peak = max((max(v, default=0) for v in series.values()), default=0) or 1
    last = max(xs, default=0) or 1
    parts = [f'<text x="0" y="16" style="font-weight:600;font-size:13px">{escape(title)}</text>']
    for i, name in enumerate(series):
        key_x = left + i * 150
        parts.append(f'<rect x="{key_x}" y="24" width="12" height="12" fill="{PALETTE[i % len(PALETTE)]}"/>')
        parts.append(f'<text x="{key_x + 16}" y="34">{escape(name)}</text>')
    parts.append(_axis(left, top, plot_w, plot_h, peak))
    for tick in range(0, last + 1, max(1, last // 8)):
        x = left + plot_w * tick / last
        parts.append(f'<text x="{x:.1f}" y="{top + plot_h + 14}" text-anchor="middle">{tick}</text>')
    parts.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 4}" text-anchor="middle">{escape(x_label)}</text>')
    for i, (name, values) in enumerate(series.items()):
        points = " ".join(
            f"{left + plot_w * x / last:.1f},{top + plot_h - plot_h * v / peak:.1f}"
            for x, v in zip(xs, values, strict=True)
        )
        colour = PALETTE[i % len(PALETTE)]
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="1.8" points="{points}">'
            f"<title>{escape(name)}</title></polyline>"
        )
    return _svg(width, height, parts, title)


def pyramid_chart(title: str, rows: Sequence[Mapping[str, Any]], width: int = 480) -> str:
    """Men to the left, women to the right, the oldest band on top."""
    bar_h, top, mid_w = 14, 40, 50
    height = top + bar_h * len(rows) + 10
    half = (width - mid_w) / 2
    peak = max((max(r["men"], r["women"]) for r in rows), default=0) or 1
    parts = [
        f'<text x="0" y="16" style="font-weight:600;font-size:13px">{escape(title)}</text>',
        f'<text x="{half / 2:.0f}" y="34" text-anchor="middle" fill="{PALETTE[0]}">men</text>',
        f'<text x="{half + mid_w + half / 2:.0f}" y="34" text-anchor="middle" fill="{PALETTE[1]}">women</text>',
    ]
    for i, row in enumerate(reversed(rows)):
        y = top + i * bar_h
        men_w, women_w = (half - 4) * row["men"] / peak, (half - 4) * row["women"] / peak
        parts.append(
            f'<rect x="{half - men_w:.1f}" y="{y + 1}" width="{men_w:.1f}" height="{bar_h - 2}" fill="{PALETTE[0]}">'
            f"<title>{escape(row['band'])} men: {row['men']:,}</title></rect>"
        )
        parts.append(
            f'<rect x="{half + mid_w:.1f}" y="{y + 1}" width="{women_w:.1f}" height="{bar_h - 2}" '
            f'fill="{PALETTE[1]}"><title>{escape(row["band"])} women: {row["women"]:,}</title></rect>'
        )
        parts.append(f'<text x="{half + mid_w / 2:.1f}" y="{y + 11}" text-anchor="middle">{escape(row["band"])}</text>')
    return _svg(width, height, parts, title)


def _axis(left: float, top: float, plot_w: float, plot_h: float, peak: float) -> str:
    parts = [
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#9ca3af"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#9ca3af"/>',
    ]
    for share in (0.5, 1.0):
        y = top + plot_h - plot_h * share
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#f3f4f6"/>')
        parts.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{peak * share:,.0f}</text>')
    return "".join(parts)


def _svg(width: int, height: int, parts: list[str], label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(label)}">{"".join(parts)}</svg>'
    )


def _card(value: Any, label: str) -> str:
    return f'<div class="card"><b>{_n(value)}</b><span>{escape(label)}</span></div>'


def render(figures: Mapping[str, Any]) -> str:
    """The whole page from the report's figures (the same dict as the JSON file)."""
    run, streamed, outcomes = figures["run"], figures["streamed"], figures["outcomes"]
    notes, consult, audit = figures["notifications"], figures["consultations"], figures["audit"]
    latency, population, throughput = figures["latency_ms"], figures["population"], figures["throughput"]
    cards = "".join(
        (
            _card(outcomes["sent"], "declarations sent"),
            _card(outcomes["accepted"], "accepted"),
            _card(outcomes["rejected"], "rejected"),
            _card(outcomes["dead_lettered"], "dead-lettered"),
            _card(notes["total"], "notifications"),
            _card(audit["total"], "audit records"),
            _card(f"{latency['p50']:,} ms", "latency p50"),
            _card(f"{latency['p99']:,} ms", "latency p99"),
        )
    )
    sections = [
        f"<h1>Crossroads demo — seed {run['seed']}</h1>",
        f'<p class="sub">{run["citizens"]:,} synthetic citizens, day {escape(str(run["day"]))}, '
        f"run {escape(str(run['started_at']))} on topic prefix <code>{escape(str(run['prefix']))}</code>, "
        f"{run['seconds']:.0f} s.</p>",
        f'<div class="cards">{cards}</div>',
        "<h2>What was streamed</h2>",
        table(
            ("part", "records streamed", "records skipped"),
            (
                (
                    f"population (current state of {streamed['sampled_citizens']:,} sampled citizens, "
                    "no directory history)",
                    streamed["population_records"],
                    streamed["population_skipped"],
                ),
                ("the day", streamed["day_records"], streamed["day_skipped"]),
            ),
        ),
        f'<p class="sub">Declarations of {streamed.get("employers", "?")} employers streamed (their '
        "acknowledgements share one mailbox topic, keyed by employer).</p>",
        table(("declaration type", "sent"), list(outcomes["sent_by_type"].items())),
        "<h2>Throughput</h2>",
        line_chart(
            "Records per second",
            throughput["second"],
            {k: throughput[k] for k in ("sent", "acknowledged", "notified")},
            "seconds since the first declaration was sent",
        ),
        "<h2>Outcomes</h2>",
        '<div class="grid"><div>',
        table(
            ("outcome", "declarations"),
            (
                ("accepted", outcomes["accepted"]),
                ("rejected", outcomes["rejected"]),
                ("dead-lettered", outcomes["dead_lettered"]),
                ("no outcome seen", outcomes["without_outcome"]),
            ),
        ),
        table(("rejection reason", "declarations"), list(outcomes["rejected_by_reason"].items()) or [("—", 0)]),
        "</div><div>",
        table(
            ("consultations", "requests"),
            (
                ("sent", consult["requests"]),
                ("granted", consult["granted"]),
                ("refused", consult["refused"]),
                ("not found", consult["not_found"]),
            ),
        ),
        table(("refusal reason", "requests"), list(consult["refused_by_reason"].items()) or [("—", 0)]),
        table(("audit record", "count"), list(audit["by_kind"].items()) or [("—", 0)]),
        "</div></div>",
        "<h2>Notifications and latency</h2>",
        '<div class="grid">',
        bar_chart("Notifications per sector", notes["by_sector"]),
        column_chart(
            f"Latency, declaration → notification ({latency['count']:,})",
            [b["bucket"] for b in latency["histogram"]],
            [b["count"] for b in latency["histogram"]],
        ),
        "</div>",
        table(
            ("latency", "ms"),
            [(k, latency[k]) for k in ("p50", "p90", "p99", "max")],
        ),
        "<h2>The population</h2>",
        f'<p class="sub">All {population["citizens"]:,} generated citizens, {population["employers"]:,} employers, '
        f"{population['jobs']:,} jobs (streamed or not).</p>",
        '<div class="grid">',
        pyramid_chart("Population pyramid", population["pyramid"]),
        bar_chart("Employment by NACE section (jobs)", population["employment_by_section"]),
        "</div>",
    ]
    warehouse = figures.get("warehouse") or {}
    if warehouse.get("population_by_region"):
        sections += [
            "<h2>Warehouse statistics</h2>",
            f'<p class="sub">{escape(str(warehouse.get("what", "")))}</p>',
            table(("region", "residents"), list(warehouse["population_by_region"].items())),
        ]
        if warehouse.get("employment_by_region"):
            sections.append(
                table(
                    (f"region ({warehouse['employment_quarter']})", "employed persons (DmfA)"),
                    list(warehouse["employment_by_region"].items()),
                )
            )
    journey = figures.get("journey")
    if journey:
        sections += [
            "<h2>One declaration's journey</h2>",
            table(("hop", "where", "after (ms)"), [(h["what"], h["where"], h["ms"]) for h in journey["hops"]]),
        ]
    body = "\n".join(sections)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Crossroads demo — seed {run['seed']}</title><style>{STYLE}</style></head>"
        f"<body>\n{body}\n</body></html>\n"
    )
