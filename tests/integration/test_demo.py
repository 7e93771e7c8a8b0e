"""`crossroads demo` on the session's platform: a small population streamed, its report consistent."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from streams.settings import Settings
from streams.stack.workers import PlatformWorkers, crossroads_argv

pytestmark = pytest.mark.integration


def test_demo_streams_a_population_and_reports_consistent_figures(platform: Settings, tmp_path: Path) -> None:
    out = tmp_path / "report"
    env = {**os.environ, **platform.as_env(), "COLUMNS": "120"}
    # the session's worker and projector run under the same app id: the demo reuses them and leaves them running
    result = subprocess.run(
        [*crossroads_argv(), "demo", "--citizens", "300", "--max-records", "2000", "--seed", "77", "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "the walking skeleton walks" in result.stdout
    assert "seed 77" in result.stdout

    figures = json.loads((out / "report.json").read_text(encoding="utf-8"))
    outcomes = figures["outcomes"]
    assert 0 < outcomes["sent"] <= 2000
    assert outcomes["sent"] == figures["streamed"]["population_records"] + figures["streamed"]["day_records"]
    settled = outcomes["accepted"] + outcomes["rejected"] + outcomes["dead_lettered"]
    assert settled == outcomes["sent"], outcomes["without_outcome_examples"]
    assert outcomes["rejected"] >= outcomes["expected_invalid"]
    assert sum(outcomes["rejected_by_reason"].values()) >= outcomes["rejected"]
    assert figures["notifications"]["total"] > 0
    assert figures["notifications"]["total"] == sum(figures["notifications"]["by_sector"].values())
    assert figures["latency_ms"]["count"] == figures["notifications"]["total"]
    assert figures["latency_ms"]["p50"] <= figures["latency_ms"]["p99"] <= figures["latency_ms"]["max"]
    consultations = figures["consultations"]
    answered = consultations["granted"] + consultations["refused"] + consultations["not_found"]
    assert 0 < answered <= consultations["requests"]
    assert figures["audit"]["by_kind"].get("DELIVERY", 0) >= 1
    assert figures["population"]["citizens"] == 300
    assert sum(r["men"] + r["women"] for r in figures["population"]["pyramid"]) == 300
    assert sum(figures["throughput"]["sent"]) == outcomes["sent"]
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<svg" in page
    assert f"{outcomes['sent']:,}" in page

    # the session's workers were not the demo's to stop
    assert all(process.pid() is not None for process in PlatformWorkers(platform).processes.values())
