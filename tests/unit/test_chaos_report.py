"""The chaos suite's result (bench/chaos/report.py): chaos.json's shape, the verdict, the table, the exit code."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from chaos import report

REQUIRED = {
    "name",
    "runs",
    "declarations",
    "faults",
    "lost",
    "duplicates",
    "duplicates_with_new_ticket",
    "audit_verified",
    "warehouse_matches",
}


def good_run(**overrides: object) -> dict[str, object]:
    run: dict[str, object] = {
        "declarations": 100,
        "faults": 2,
        "restarts": 2,
        "lost": 0,
        "duplicates": 7,
        "duplicates_with_new_ticket": 0,
        "audit_verified": True,
        "warehouse_matches": True,
        "seconds": 12.34,
        "failures": [],
        "details": {"faults": [{"fault": "SIGKILL worker"}]},
    }
    run.update(overrides)
    return run


def test_a_clean_run_passes_and_has_every_field() -> None:
    entry = report.scenario_entry("worker-sigkill-x10", [good_run()])
    assert set(entry) >= REQUIRED
    assert entry["passed"] and entry["failures"] == []
    assert entry["details"] == {"faults": [{"fault": "SIGKILL worker"}]}
    assert report.exit_code([entry]) == 0


def test_each_criterion_fails_the_scenario() -> None:
    for bad, reason in (
        ({"lost": 3}, "lost 3"),
        ({"duplicates_with_new_ticket": 1}, "1 duplicates with a new ticket"),
        ({"audit_verified": False}, "audit verify failed"),
        ({"warehouse_matches": False}, "the warehouse does not match Kafka"),
        ({"failures": ["worker keeps dying"]}, "worker keeps dying"),
    ):
        entry = report.scenario_entry("s", [good_run(**bad)])
        assert not entry["passed"] and reason in entry["failures"], bad
        assert report.exit_code([entry]) == 1
    # duplicates alone (same tickets: at-least-once) never fail
    assert report.scenario_entry("s", [good_run(duplicates=10_000)])["passed"]


def test_runs_are_summed_and_booleans_hold_only_if_they_hold_in_every_run() -> None:
    entry = report.scenario_entry("s", [good_run(lost=1), good_run(audit_verified=False)])
    assert entry["runs"] == 2 and entry["lost"] == 1 and entry["declarations"] == 200
    assert entry["audit_verified"] is False and entry["warehouse_matches"] is True
    assert entry["failures"] == ["run 1: lost 1", "run 2: audit verify failed"]
    assert len(entry["details"]["runs"]) == 2


def test_the_document_is_json_with_commit_dirty_and_the_scenarios() -> None:
    entries = [report.scenario_entry("a", [good_run()])]
    document = report.document(
        commit="abc", dirty=True, started_at="2026-12-01T00:00:00+00:00", seconds=3.21, scenarios=entries, seed=42
    )
    assert json.loads(json.dumps(document)) == document
    assert list(document)[:4] == ["commit", "dirty", "started_at", "seconds"]
    assert document["seconds"] == 3.2 and document["seed"] == 42 and document["scenarios"] == entries


def test_no_scenario_is_a_failure() -> None:
    assert report.exit_code([]) == 1


def test_the_table_has_a_line_per_scenario_and_the_reasons_of_failures() -> None:
    entries = [report.scenario_entry("ok-one", [good_run()]), report.scenario_entry("bad-one", [good_run(lost=2)])]
    lines = report.table(entries).splitlines()
    assert lines[0].startswith("scenario")
    assert any(line.startswith("ok-one") and line.rstrip().endswith("ok") for line in lines)
    assert any(line.startswith("bad-one") and line.rstrip().endswith("FAIL") for line in lines)
    assert "bad-one: lost 2" in lines


def test_a_rerun_is_laid_over_the_earlier_run_and_each_scenario_names_its_run() -> None:
    def doc(commit: str, started: str, *scenarios: tuple[str, bool]) -> dict[str, object]:
        return {
            "commit": commit,
            "dirty": False,
            "started_at": started,
            "seconds": 1.0,
            "command": "chaos",
            "scenarios": [{"name": n, "passed": ok} for n, ok in scenarios],
        }

    first = doc("aaa", "t1", ("control", True), ("broker", False), ("fuzz", True))
    rerun = doc("bbb", "t2", ("broker", True))
    merged = report.merge(first, rerun)
    assert [s["name"] for s in merged["scenarios"]] == ["control", "broker", "fuzz"]
    assert [s["run"]["commit"] for s in merged["scenarios"]] == ["aaa", "bbb", "aaa"]
    assert merged["commit"] == "bbb" and [r["commit"] for r in merged["runs_merged"]] == ["aaa", "bbb"]
    assert report.exit_code(merged["scenarios"]) == 0
    # a run none of whose scenarios is left is not listed
    again = report.merge(merged, doc("ccc", "t3", ("control", True), ("fuzz", True)))
    assert [r["commit"] for r in again["runs_merged"]] == ["bbb", "ccc"]
