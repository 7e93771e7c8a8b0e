"""The demo report drawn from a fixed figures dict: a valid, self-contained page with its charts and numbers."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from rich.console import Console

from streams.demo.figures import percentile
from streams.demo.html import render
from streams.demo.report import show, write

FIGURES: dict[str, Any] = {
    "run": {
        "seed": 4242,
        "citizens": 1000,
        "max_records": 5000,
        "day": "2026-04-28",
        "prefix": "crossroads",
        "started_at": "2026-11-28T01:00:00+00:00",
        "seconds": 61.5,
        "streaming_seconds": 2.0,
    },
    "streamed": {
        "sampled_citizens": 900,
        "population_records": 4100,
        "population_skipped": 400,
        "day_records": 250,
        "day_skipped": 0,
    },
    "outcomes": {
        "sent": 4350,
        "sent_by_type": {"Integration": 2700, "AddressChange": 900, "DimonaIn": 500, "ConsultationRequest": 250},
        "accepted": 4311,
        "rejected": 37,
        "dead_lettered": 2,
        "without_outcome": 0,
        "rejected_by_reason": {"niss.check_digits": 30, "consultation.requester_not_sender": 7},
        "expected_invalid": 30,
    },
    "notifications": {"total": 3217, "by_sector": {"MUTUALITY": 1500, "TAX": 1200, "PENSIONS": 517}},
    "consultations": {
        "requests": 250,
        "granted": 230,
        "refused": 13,
        "not_found": 0,
        "refused_by_reason": {"no_file": 8, "data_type": 5},
        "expected_refused": 13,
    },
    "audit": {"total": 3460, "by_kind": {"DELIVERY": 3217, "CONSULTATION_GRANTED": 230, "CONSULTATION_REFUSED": 13}},
    "latency_ms": {
        "what": "declaration sent -> notification written (its CreateTime)",
        "count": 3217,
        "p50": 3707,
        "p90": 4150,
        "p99": 8123,
        "max": 9876,
        "histogram": [
            {"bucket": "<1s", "count": 17},
            {"bucket": "<5s", "count": 3100},
            {"bucket": "<10s", "count": 100},
        ],
    },
    "throughput": {
        "second": [0, 1, 2, 3],
        "sent": [3000, 1350, 0, 0],
        "acknowledged": [150, 200, 2000, 2000],
        "notified": [100, 150, 1500, 1467],
    },
    "population": {
        "citizens": 1000,
        "employers": 23,
        "jobs": 480,
        "pyramid": [{"band": "0-4", "men": 26, "women": 25}, {"band": "95+", "men": 1, "women": 3}],
        "employment_by_section": {"G": 120, "F": 80, "Q": 77},
    },
    "warehouse": {
        "what": "residents on 2026-04-28 by region",
        "population_by_region": {"Flemish Region": 5791, "Walloon Region": 3150},
        "employment_quarter": "2026-Q1",
        "employment_by_region": {"Flemish Region": 2111},
    },
    "journey": {
        "sender_reference": "demo-abc",
        "ticket": "t-1",
        "hops": [{"what": "declaration produced", "where": "crossroads.intake.dimona.v1", "ms": 6}],
    },
}


class _Checker(HTMLParser):
    """Tags balance (void elements aside), and nothing is fetched from elsewhere."""

    VOID = frozenset({"meta", "br", "img", "link", "rect", "line", "polyline", "input", "hr"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.tags: list[str] = []
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in {"src", "href"} and value:
                self.external.append(value)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1] if self.stack else None}>"
        self.stack.pop()


def test_the_page_is_valid_self_contained_html_with_charts() -> None:
    page = render(FIGURES)
    assert page.startswith("<!DOCTYPE html>")
    checker = _Checker()
    checker.feed(page)
    checker.close()
    assert checker.stack == []
    assert checker.external == []
    assert "<script" not in page
    assert checker.tags.count("svg") == 5  # throughput, notifications, latency, pyramid, employment
    for title in ("Records per second", "Notifications per sector", "Population pyramid", "Employment by NACE"):
        assert title in page


def test_the_page_shows_the_numbers() -> None:
    page = render(FIGURES)
    for number in ("4,350", "4,311", "3,217", "3,707 ms", "8,123 ms", "5,791", "2026-Q1", "4242"):
        assert number in page
    assert "niss.check_digits" in page
    assert "no_file" in page
    assert "CONSULTATION_REFUSED" in page


def test_text_is_escaped() -> None:
    figures = {**FIGURES, "notifications": {"total": 1, "by_sector": {"<script>alert(1)</script>": 1}}}
    page = render(figures)
    assert "<script>" not in page
    assert "&lt;script&gt;" in page


def test_empty_figures_still_render() -> None:
    figures = {
        **FIGURES,
        "notifications": {"total": 0, "by_sector": {}},
        "latency_ms": {**FIGURES["latency_ms"], "count": 0, "histogram": []},
        "throughput": {"second": [0], "sent": [0], "acknowledged": [0], "notified": [0]},
        "warehouse": {},
        "journey": None,
    }
    checker = _Checker()
    checker.feed(render(figures))
    assert checker.stack == []


def test_write_puts_json_and_html_side_by_side(tmp_path: Path) -> None:
    as_json, as_html = write(FIGURES, tmp_path / "out")
    assert json.loads(as_json.read_text(encoding="utf-8")) == FIGURES
    assert "<svg" in as_html.read_text(encoding="utf-8")


def test_console_report_shows_the_counts() -> None:
    console = Console(record=True, width=120)
    show(console, FIGURES)
    text = console.export_text()
    for expected in ("4,311", "niss.check_digits", "MUTUALITY", "CONSULTATION_GRANTED", "p99 8,123 ms", "2026-Q1"):
        assert expected in text


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50
    assert percentile(values, 0.99) == 99
    assert percentile(values, 1.0) == 100
    assert percentile([], 0.5) == 0
