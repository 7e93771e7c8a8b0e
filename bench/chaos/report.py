"""The suite's result: bench/results/chaos.json, the table on the terminal, the exit code. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

COUNTS = ("declarations", "faults", "restarts", "lost", "duplicates", "duplicates_with_new_ticket")


def failures(run: Mapping[str, Any]) -> list[str]:
    """Why one run of a scenario fails (empty: it passes): the suite's criteria, then the scenario's own."""
    found = []
    if run.get("lost", 0) > 0:
        found.append(f"lost {run['lost']}")
    if run.get("duplicates_with_new_ticket", 0) > 0:
        found.append(f"{run['duplicates_with_new_ticket']} duplicates with a new ticket")
    if run.get("audit_verified") is not True:
        found.append("audit verify failed")
    if run.get("warehouse_matches") is not True:
        found.append("the warehouse does not match Kafka")
    found.extend(str(reason) for reason in run.get("failures", ()))
    return found


def scenario_entry(name: str, runs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One scenario of chaos.json: its runs' counts summed, its booleans true only if true in every run, each
    run's details kept (a single run's details are inlined)."""
    entry: dict[str, Any] = {"name": name, "runs": len(runs)}
    for count in COUNTS:
        entry[count] = sum(int(run.get(count, 0)) for run in runs)
    entry["audit_verified"] = bool(runs) and all(run.get("audit_verified") is True for run in runs)
    entry["warehouse_matches"] = bool(runs) and all(run.get("warehouse_matches") is True for run in runs)
    entry["seconds"] = round(sum(float(run.get("seconds", 0.0)) for run in runs), 1)
    reasons = [
        f"run {i + 1}: {reason}" if len(runs) > 1 else reason for i, r in enumerate(runs) for reason in failures(r)
    ]
    entry["passed"] = bool(runs) and not reasons
    entry["failures"] = reasons
    if len(runs) == 1:
        entry["details"] = runs[0].get("details", {})
    else:
        entry["details"] = {"runs": [run.get("details", {}) for run in runs]}
    return entry


def document(
    *,
    commit: str,
    dirty: bool,
    started_at: str,
    seconds: float,
    scenarios: Sequence[Mapping[str, Any]],
    **extra: Any,
) -> dict[str, Any]:
    """The whole chaos.json."""
    return {
        "commit": commit,
        "dirty": dirty,
        "started_at": started_at,
        "seconds": round(seconds, 1),
        **extra,
        "scenarios": list(scenarios),
    }


RUN_FIELDS = ("commit", "dirty", "started_at", "seconds", "command", "load_average_at_start")


def merge(previous: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, Any]:
    """`current`'s scenarios laid over `previous`'s (`--merge-into`: scenarios rerun, the others kept), in
    previous's order then new names. Each scenario names the run it comes from (`run`: commit, start, command)
    and `runs_merged` lists every run the document holds; the top level is `current`'s (commit, baseline, ...)."""

    def run_of(doc: Mapping[str, Any]) -> dict[str, Any]:
        return {field: doc.get(field) for field in RUN_FIELDS}

    def tagged(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [{**s, "run": s.get("run") or run_of(doc)} for s in doc.get("scenarios", [])]

    by_name = {s["name"]: s for s in tagged(previous)}
    by_name.update({s["name"]: s for s in tagged(current)})
    order = [s["name"] for s in previous.get("scenarios", [])]
    order += [s["name"] for s in current.get("scenarios", []) if s["name"] not in order]
    runs = [*previous.get("runs_merged", [run_of(previous)]), run_of(current)]
    kept = {s["run"]["started_at"] for s in by_name.values()}
    return {
        **current,
        "runs_merged": [r for r in runs if r["started_at"] in kept],
        "scenarios": [by_name[name] for name in order],
    }


def exit_code(scenarios: Sequence[Mapping[str, Any]]) -> int:
    """1 if a scenario failed (or none ran), else 0."""
    return 0 if scenarios and all(s.get("passed") for s in scenarios) else 1


def _yes(value: Any) -> str:
    return "yes" if value is True else "NO"


def table(scenarios: Sequence[Mapping[str, Any]]) -> str:
    """A fixed-width table, one line per scenario, then each failing scenario's reasons."""
    headers = (
        "scenario",
        "runs",
        "decl",
        "faults",
        "restarts",
        "lost",
        "dups",
        "new-ticket",
        "audit",
        "warehouse",
        "s",
        "",
    )
    rows = [
        (
            str(s["name"]),
            str(s["runs"]),
            str(s["declarations"]),
            str(s["faults"]),
            str(s["restarts"]),
            str(s["lost"]),
            str(s["duplicates"]),
            str(s["duplicates_with_new_ticket"]),
            _yes(s["audit_verified"]),
            _yes(s["warehouse_matches"]),
            f"{s['seconds']:.0f}",
            "ok" if s.get("passed") else "FAIL",
        )
        for s in scenarios
    ]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    out = [line(headers), line(["-" * w for w in widths])]
    out += [line(r) for r in rows]
    for s in scenarios:
        for reason in s.get("failures", ()):
            out.append(f"{s['name']}: {reason}")
    return "\n".join(out)
