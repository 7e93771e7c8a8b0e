"""`crossroads bench`: runs the bench scripts of bench/ in sequence, then writes bench/results/summary.json and
BENCHMARKS.md (machine, commit, command, every figure with the baseline measured in the same run, the targets).

The scripts stay runnable on their own; this command only sequences them and reads their JSON results.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"

# issue 14's targets (the hot path); the memory target is an earlier issue's, still reported
TARGET_DECLARATIONS_PER_S = 4_000.0
MOONSHOT_DECLARATIONS_PER_S = 11_000.0
TARGET_P99_MS = 100.0
TARGET_MESSAGES_PER_DECLARATION = 8.0
TARGET_DAY_DECLARATIONS = 2_600_000
TARGET_DAY_S = 900.0
TARGET_MB_PER_MILLION = 24.0


@dataclass(frozen=True)
class Step:
    """One bench script: its arguments (full and quick) and the results file it writes."""

    name: str
    script: str
    full: tuple[str, ...]
    quick: tuple[str, ...]
    result: str  # file name in bench/results (full run)
    quick_result: str  # what the quick run writes (may be the same fixed name: then it is moved aside)
    needs: str  # what must run: "kafka", "clickhouse", "" (nothing)


STEPS: tuple[Step, ...] = (
    Step("contracts", "bench_contracts.py", (), ("--seconds", "0.3"), "contracts.json", "contracts.json", ""),
    Step("core", "bench_core.py", (), ("--quick",), "core.json", "core-quick.json", "kafka"),
    Step("security", "bench_security.py", (), ("--quick",), "security.json", "security-quick.json", "kafka"),
    Step("auditor", "bench_auditor.py", (), ("--quick",), "auditor.json", "auditor-quick.json", "kafka"),
    Step(
        "warehouse",
        "bench_warehouse.py",
        (),
        ("--declarations", "100"),
        "warehouse.json",
        "warehouse.json",
        "clickhouse",
    ),
    Step("inbound", "bench_inbound.py", (), ("--records", "20000"), "inbound.json", "inbound.json", "kafka"),
    Step("directory", "bench_directory.py", (), ("--quick",), "directory.json", "directory-quick.json", "kafka"),
    Step("replay", "bench_replay.py", (), ("--quick",), "replay.json", "replay-quick.json", "kafka"),
)
NAMES = [s.name for s in STEPS]


def register(app: typer.Typer) -> None:
    @app.command()
    def bench(
        quick: bool = typer.Option(False, "--quick", help="smoke-sized runs (~5 min in all), *-quick.json results"),
        only: list[str] = typer.Option([], "--only", help=f"run only these benches ({', '.join(NAMES)})"),
        skip: list[str] = typer.Option([], "--skip", help="skip these benches (their last results are summarized)"),
        ten_million: bool = typer.Option(False, "--ten-million", help="bench_directory: also 10 M entries"),
        sample: int = typer.Option(0, "--sample", help="bench_replay: drain N declarations through the worker now"),
        summary_only: bool = typer.Option(False, "--summary-only", help="run nothing: summarize bench/results"),
        command: str = typer.Option("", "--command", help="how this run was invoked (make bench passes it)"),
    ) -> None:
        """Run the benchmarks in sequence; write bench/results/summary.json and BENCHMARKS.md."""
        unknown = sorted((set(only) | set(skip)) - set(NAMES))
        if unknown:
            raise typer.BadParameter(f"unknown bench {unknown}: choose from {NAMES}")
        if not BENCH.is_dir():
            typer.echo(f"no bench/ directory next to {ROOT}: run from a source checkout", err=True)
            raise typer.Exit(2)
        invoked = command or " ".join([".venv/bin/crossroads", "bench", *sys.argv[2:]])
        started = dt.datetime.now(dt.UTC)
        load_start = [round(x, 2) for x in os.getloadavg()]
        statuses: dict[str, dict[str, Any]] = {}
        selected = [s for s in STEPS if (not only or s.name in only) and s.name not in skip]
        for step in [] if summary_only else selected:
            extra: list[str] = []
            if step.name == "directory" and ten_million:
                extra.append("--ten-million")
            if step.name == "replay" and sample:
                extra += ["--sample", str(sample)]
            statuses[step.name] = _run(step, quick, extra)
        summary = summarize(quick, invoked, started, load_start, statuses)
        if summary_only:
            _carry_over(summary)
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
        (ROOT / "BENCHMARKS.md").write_text(markdown(summary))
        typer.echo(f"wrote {RESULTS / 'summary.json'} and {ROOT / 'BENCHMARKS.md'}")
        failed = [name for name, s in statuses.items() if s["returncode"] != 0]
        if failed:
            typer.echo(f"benches that failed: {', '.join(failed)}", err=True)
            raise typer.Exit(1)


def _carry_over(summary: dict[str, Any]) -> None:
    """--summary-only: keep the run's own facts (command, times, load, exit codes) from the previous summary when
    it summarized the same results, and say when the text was regenerated."""
    previous_path = RESULTS / "summary.json"
    try:
        previous = json.loads(previous_path.read_text())
    except (OSError, ValueError):
        return
    if previous.get("quick") != summary["quick"]:
        return
    summary["regenerated_at"] = summary["finished_at"]
    for key in ("command", "started_at", "finished_at", "load_average_at_start", "load_average_at_end", "runs"):
        if key in previous:
            summary[key] = previous[key]
    for name, source in summary["sources"].items():
        source["ran_now"] = name in summary["runs"]


def _run(step: Step, quick: bool, extra: list[str]) -> dict[str, Any]:
    args = [sys.executable, str(BENCH / step.script), *(step.quick if quick else step.full), *extra]
    fixed = quick and step.quick_result == step.result  # a script without a quick file name: keep the full one
    kept = RESULTS / f".{step.result}.kept"
    if fixed and (RESULTS / step.result).exists():
        shutil.copy2(RESULTS / step.result, kept)
    shown = " ".join([".venv/bin/python", f"bench/{step.script}", *args[2:]])
    typer.echo(f"== {step.name}: {shown}")
    t = time.perf_counter()
    code = subprocess.run(args, cwd=ROOT, check=False).returncode
    seconds = round(time.perf_counter() - t, 1)
    if fixed:
        quick_file = RESULTS / step.result.replace(".json", "-quick.json")
        if (RESULTS / step.result).exists():
            shutil.move(RESULTS / step.result, quick_file)
        if kept.exists():
            shutil.move(kept, RESULTS / step.result)
    typer.echo(f"== {step.name}: exit {code} after {seconds}s")
    return {"returncode": code, "seconds": seconds, "command": shown}


# -- the summary -------------------------------------------------------------------------------------------------


def _load(step: Step, quick: bool) -> tuple[str, dict[str, Any] | None]:
    name = step.result.replace(".json", "-quick.json") if quick else step.result
    if quick and step.quick_result != step.result:
        name = step.quick_result
    path = RESULTS / name
    if not path.exists():
        return name, None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return name, None
    return name, data if isinstance(data, dict) else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 4) if a is not None and b else None


def _get(data: dict[str, Any] | None, *path: str) -> Any:
    node: Any = data
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def machine() -> dict[str, Any]:
    def read(path: str) -> str:
        try:
            return Path(path).read_text()
        except OSError:
            return ""

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    mem_kb = next((int(x.split()[1]) for x in read("/proc/meminfo").splitlines() if x.startswith("MemTotal")), 0)
    cpu = next(
        (x.split(":", 1)[1].strip() for x in read("/proc/cpuinfo").splitlines() if x.startswith("model name")),
        platform.processor(),
    )
    info: dict[str, Any] = {
        "nproc": os.cpu_count(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "cpu": cpu,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "git_commit": git("rev-parse", "HEAD"),
        "git_dirty_tracked_files": bool(git("status", "--porcelain", "--untracked-files=no")),
    }
    try:
        import confluent_kafka

        from streams.settings import Settings

        info["kafka"] = Settings().kafka_version
        info["confluent_kafka"] = confluent_kafka.version()[0]
        info["librdkafka"] = confluent_kafka.libversion()[0]
    except Exception:  # the summary must still be written
        info["kafka"] = None
    return info


def summarize(
    quick: bool, command: str, started: dt.datetime, load_start: list[float], statuses: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    loaded = {s.name: _load(s, quick) for s in STEPS}
    data = {name: d for name, (_, d) in loaded.items()}
    figures: list[dict[str, Any]] = []

    def figure(bench: str, what: str, value: Any, unit: str, baseline: Any, baseline_what: str) -> None:
        ratio = (
            _ratio(value, baseline) if isinstance(value, int | float) and isinstance(baseline, int | float) else None
        )
        figures.append(
            {
                "bench": bench,
                "source": f"bench/results/{loaded[bench][0]}",
                "what": what,
                "value": value,
                "unit": unit,
                "baseline": baseline,
                "baseline_what": baseline_what,
                "ratio": ratio,
            }
        )

    core = data["core"]
    sustained = _get(core, "throughput", "sustained_declarations_per_s")
    if core:
        figure(
            "core",
            "end to end sustained declarations/s",
            sustained,
            "decl/s",
            _get(core, "baseline", "consume_msgs_per_s"),
            "raw confluent-kafka consume, same encoded messages",
        )
        figure(
            "core",
            "DeclarationProducer declarations/s",
            _get(core, "throughput", "declaration_producer_per_s"),
            "decl/s",
            _get(core, "baseline", "produce_msgs_per_s"),
            "raw confluent-kafka produce",
        )
        figure(
            "core",
            "notification p99 at half the sustained rate (to broker CreateTime)",
            _get(core, "latency", "to_broker_createtime", "p99_ms"),
            "ms",
            TARGET_P99_MS,
            "the target: bench_core measures no raw-Kafka latency baseline",
        )
    contracts = data["contracts"]
    for case, c in (_get(contracts, "cases") or {}).items():
        figure(
            "contracts",
            f"{case}: Avro encode+decode",
            _round(c.get("encode_decode_us")),
            "µs",
            _round(c.get("orjson_encode_decode_us")),
            "orjson encode+decode",
        )
    auditor = data["auditor"]
    if _get(auditor, "worker", "records_per_s") is not None:
        figure(
            "auditor",
            "audit records chained/s: pending topic -> `crossroads worker` (directory) -> audit topic",
            _get(auditor, "worker", "records_per_s"),
            "rec/s",
            _get(auditor, "baseline", "produce_consume_msgs_per_s"),
            "raw confluent-kafka produce then consume of as many AuditRecord-sized messages",
        )
    warehouse = data["warehouse"]
    if warehouse:
        figure(
            "warehouse",
            "projection rows/s into ClickHouse",
            _round(_get(warehouse, "projection", "rows_per_s")),
            "rows/s",
            _round(_get(warehouse, "clickhouse_client_native", "rows_per_s")),
            "native bulk load",
        )
    inbound = data["inbound"]
    if inbound:
        figure(
            "inbound",
            "inbound connector records/s",
            _get(inbound, "connector", "records_per_s"),
            "rec/s",
            _get(inbound, "raw_produce", "records_per_s"),
            "raw confluent-kafka produce of the same records",
        )
    directory = data["directory"]
    sizes = _get(directory, "sizes") or {}
    directory_rows: dict[str, Any] = {}
    for size, block in sizes.items():
        rows = {v["variant"]: v for v in block.get("variants", []) if "error" not in v}
        directory_rows[size] = rows
        dict_baseline = (rows.get("keys_only") or {}).get("rss_mb_per_million_entries")
        for variant in (
            "packed_memory",
            "packed_rocksdb",
            "avro_memory",
            "avro_rocksdb",
            "compact_ticket",
            "compact",
            "compact_array",
            "objects",
        ):
            if variant in rows:
                figure(
                    "directory",
                    f"{variant} RSS per million entries ({int(size):,} entries)",
                    rows[variant].get("rss_mb_per_million_entries"),
                    "MB",
                    dict_baseline,
                    "dict of the same NISS keys, empty values",
                )
        current = "packed_memory" if "packed_memory" in rows else "avro_memory"
        if current in rows and "objects" in rows:
            figure(
                "directory",
                f"{current} lookups/s ({int(size):,} entries)",
                rows[current].get("lookups_per_s"),
                "lookup/s",
                rows["objects"].get("lookups_per_s"),
                "plain dict of decoded Entry objects",
            )
    replay = data["replay"]
    if replay:
        figure(
            "replay",
            f"generated day ({replay.get('declarations')} declarations) through DeclarationProducer",
            _get(replay, "produce", "declarations_per_s"),
            "decl/s",
            _get(replay, "raw_produce_baseline", "messages_per_s"),
            "raw Producer, same encoded bytes",
        )
        together = _get(replay, "replay_measured", "all_up_front") or {}
        if together.get("records_per_s") is not None:
            figure(
                "replay",
                f"MEASURED replay from offset 0, one worker: {together.get('integrations')} integrations + "
                f"{together.get('day_declarations')} day declarations ({together.get('citizens')} citizens) "
                f"in {together.get('wall_s')} s",
                together.get("records_per_s"),
                "records/s",
                None,
                "none (integrations + the day; the next line compares the day alone)",
            )
        alone = _get(replay, "replay_measured", "day_after_preload", "day_alone") or {}
        if alone.get("declarations_per_s") is not None:
            figure(
                "replay",
                f"MEASURED: the day alone ({alone.get('declarations')} declarations) after its integrations drained",
                alone.get("declarations_per_s"),
                "decl/s",
                _get(replay, "platform_rate", "sustained_declarations_per_s"),
                "bench_core sustained decl/s (its mix)",
            )

    best_compact = min(
        (
            (r.get("rss_mb_per_million_entries"), name)
            for rows in directory_rows.values()
            for name, r in rows.items()
            if name.startswith("compact") and r.get("rss_mb_per_million_entries") is not None
        ),
        default=(None, None),
    )

    def first_mb(variant: str) -> float | None:
        return next(
            (rows[variant].get("rss_mb_per_million_entries") for rows in directory_rows.values() if variant in rows),
            None,
        )

    # the platform's table values are packed person files (streams/codecs/packed.py); before, Avro records
    current_variant = "packed_memory" if first_mb("packed_memory") is not None else "avro_memory"
    current_mb = first_mb(current_variant)
    rocksdb_mb = first_mb("packed_rocksdb")
    p99 = _get(core, "latency", "to_broker_createtime", "p99_ms")
    day_platform_s = _get(replay, "extrapolation", "target_day_platform_s")
    # from the measured replay's day rate when there is one, else from bench_core's sustained rate
    day_from_measured_s = _get(replay, "extrapolation_from_measured", "target_day_platform_s")
    day_estimate_s = day_from_measured_s if day_from_measured_s is not None else day_platform_s
    messages = _get(core, "throughput", "outputs", "messages_written_per_declaration")
    faithful = _get(replay, "faithful", "faithful") is True
    time_met = day_estimate_s is not None and day_estimate_s <= TARGET_DAY_S
    targets = [
        {
            "target": f"≥ {TARGET_DECLARATIONS_PER_S:,.0f} declarations/s sustained on the bench_core mix "
            f"(moonshot {MOONSHOT_DECLARATIONS_PER_S:,.0f}/s)",
            "measured": sustained,
            "fraction_of_target": _ratio(sustained, TARGET_DECLARATIONS_PER_S),
            "baseline_consume_msgs_per_s": _get(core, "baseline", "consume_msgs_per_s"),
            "baseline_produce_msgs_per_s": _get(core, "baseline", "produce_msgs_per_s"),
            "met": sustained is not None and sustained >= TARGET_DECLARATIONS_PER_S,
        },
        {
            "target": f"p99 ≤ {TARGET_P99_MS:.0f} ms, declaration to mailbox, at half the sustained rate (open loop)",
            "measured": p99,
            "p50": _get(core, "latency", "to_broker_createtime", "p50_ms"),
            "at_rate_per_s": _get(core, "latency", "target_rate_per_s"),
            "met": p99 is not None and p99 <= TARGET_P99_MS,
            "note": "the rate is half of *our* sustained rate; bench_core measures no raw-Kafka latency baseline",
        },
        {
            "target": f"≤ {TARGET_MESSAGES_PER_DECLARATION:.0f} messages written per declaration on the same mix",
            "measured": messages,
            "audit_messages": _get(core, "throughput", "outputs", "audit_messages"),
            "audit_records": _get(core, "throughput", "outputs", "audit_records"),
            "mailbox_messages": _get(core, "throughput", "outputs", "mailbox_messages"),
            "declarations": _get(core, "throughput", "declarations"),
            "met": messages is not None and messages <= TARGET_MESSAGES_PER_DECLARATION,
        },
        {
            "target": f"a generated day (≈ {TARGET_DAY_DECLARATIONS:,} declarations) replayed from offset 0 in "
            f"≤ {TARGET_DAY_S / 60:.0f} minutes, faithfully (the live run's outputs)",
            "measured_produce_s": _get(replay, "extrapolation", "target_day_produce_s"),
            "extrapolated_platform_s": day_platform_s,
            "measured_replay_wall_s": _get(replay, "replay_measured", "all_up_front", "wall_s"),
            "measured_replay_records": _get(replay, "replay_measured", "all_up_front", "records"),
            "measured_day_alone_per_s": _get(
                replay, "replay_measured", "day_after_preload", "day_alone", "declarations_per_s"
            ),
            "extrapolated_from_measured_platform_s": day_from_measured_s,
            "faithful": faithful,
            "mailbox_messages_replay_vs_live": _get(replay, "faithful", "mailbox_messages"),
            "topics_differing": _get(replay, "faithful", "topics_differing"),
            "time_met": time_met,
            "met": faithful and time_met,
            "note": "faithful: every mailbox, facts and outcomes topic of the replay from offset 0 has the live-like "
            "run's count (bench_replay's `faithful`). MEASURED: producing the day, and a smaller day replayed "
            "through one worker; the 2.6 M day is EXTRAPOLATED from the measured day rate",
        },
        {
            "target": f"(earlier) ≤ {TARGET_MB_PER_MILLION:.0f} MB resident per million directory entries",
            "measured": current_mb,
            "fraction_of_target": _ratio(current_mb, TARGET_MB_PER_MILLION),
            "met": current_mb is not None and current_mb <= TARGET_MB_PER_MILLION,
            "current_variant": current_variant,
            "rocksdb_mb": rocksdb_mb,
            "met_with_rocksdb": rocksdb_mb is not None and rocksdb_mb <= TARGET_MB_PER_MILLION,
            "proposed": {"variant": best_compact[1], "mb_per_million": best_compact[0]},
        },
    ]
    return {
        "bench": "summary",
        "quick": quick,
        "command": command,
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "load_average_at_start": load_start,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "machine": {**machine(), "clickhouse": _get(warehouse, "clickhouse")},
        "end_to_end": {
            "declarations_per_s": sustained,
            "source": f"bench/results/{loaded['core'][0]}",
            "measured_at": _get(core, "started_at"),
        },
        "runs": statuses,
        "sources": {
            name: {"file": f"bench/results/{file}", "at": _when(d, file), "ran_now": name in statuses}
            for name, (file, d) in loaded.items()
        },
        "figures": figures,
        "targets": targets,
        "stack": _get(core, "parameters", "kafka_security"),
        "directory": {
            "sizes": directory_rows,
            "rebuild": {s: b.get("rebuild_from_changelog") for s, b in sizes.items()},
            "changelog": {s: b.get("changelog_mb_per_million_entries") for s, b in sizes.items()},
        },
        "replay": {
            **(_get(replay, "extrapolation") or {}),
            "measured": _replay_measured(replay),
            "from_measured": _get(replay, "extrapolation_from_measured"),
        }
        if _get(replay, "extrapolation")
        else None,
    }


def _replay_measured(replay: Any) -> dict[str, Any] | None:
    """The measured replay's figures the summary shows (bench_replay's `replay_measured`)."""
    together = _get(replay, "replay_measured", "all_up_front")
    later = _get(replay, "replay_measured", "day_after_preload")
    if not together and not later:
        return None
    together, later = together or {}, later or {}
    alone = later.get("day_alone") or {}
    return {
        "citizens": together.get("citizens") or later.get("citizens"),
        "integrations": together.get("integrations"),
        "day_declarations": together.get("day_declarations"),
        "day_by_schema": together.get("day_by_schema"),
        "wall_s": together.get("wall_s"),
        "wall_from_group_stable_s": together.get("wall_from_group_stable_s"),
        "records_per_s": together.get("records_per_s"),
        "messages_written": _get(together, "outputs", "messages_written_all_topics"),
        "drained": together.get("drained"),
        "error": together.get("error") or later.get("error"),
        "integrations_alone_s": later.get("integrations_wall_s"),
        "integrations_alone_per_s": later.get("integrations_per_s"),
        "day_alone_s": alone.get("wall_s"),
        "day_alone_per_s": alone.get("declarations_per_s"),
        "day_alone_messages_written": alone.get("messages_written_besides_the_input"),
    }


def _round(x: Any) -> Any:
    if isinstance(x, float):
        return round(x, 2) if x < 100 else round(x)
    return x


def _when(data: dict[str, Any] | None, file: str) -> Any:
    if not data:
        return None
    stamp = data.get("started_at") or data.get("at")
    if stamp:
        return stamp
    mtime = (RESULTS / file).stat().st_mtime  # the script records no time: the file's
    return dt.datetime.fromtimestamp(mtime, dt.UTC).isoformat(timespec="seconds") + " (file time)"


def _fmt(x: Any) -> str:
    if x is None:
        return "—"
    if isinstance(x, bool):
        return "yes" if x else "**no**"
    if isinstance(x, float):
        return f"{x:,.4g}" if abs(x) < 10 else f"{x:,.1f}" if abs(x) < 1000 else f"{x:,.0f}"
    if isinstance(x, int):
        return f"{x:,}"
    return str(x)


def markdown(summary: dict[str, Any]) -> str:
    m = summary["machine"]
    lines = [
        "# Benchmarks",
        "",
        "Generated by `crossroads bench` (streams/cli/bench.py) from bench/results/*.json — do not edit by hand;",
        "bench/README.md describes each bench. Every figure is shown with the baseline measured in the same run.",
        "",
        "## Run",
        "",
        f"* command: `{summary['command']}`" + (" (quick, smoke-sized: noisy)" if summary["quick"] else ""),
        f"* started {summary['started_at']}, finished {summary['finished_at']}"
        + (f" (this text regenerated {summary['regenerated_at']})" if summary.get("regenerated_at") else "")
        + "; load average "
        f"{summary['load_average_at_start']} → {summary['load_average_at_end']} (2 shared cores: other work ran)",
        f"* git commit `{m.get('git_commit')}`"
        + (" (tracked files modified)" if m.get("git_dirty_tracked_files") else ""),
        f"* machine: {m.get('nproc')} CPUs ({m.get('cpu')}), {m.get('memory_gib')} GiB, Linux {m.get('kernel')}",
        f"* Python {m.get('python')}, Kafka {m.get('kafka')} (librdkafka {m.get('librdkafka')}, confluent-kafka "
        f"{m.get('confluent_kafka')}), ClickHouse {m.get('clickhouse') or '—'}",
        "",
        "| bench | result file | measured at | ran in this run |",
        "|---|---|---|---|",
    ]
    for name, s in summary["sources"].items():
        run = summary["runs"].get(name)
        ran = f"yes, exit {run['returncode']}, {run['seconds']} s" if run else "no (earlier result)"
        lines.append(f"| {name} | `{s['file']}` | {s['at'] or 'missing'} | {ran} |")
    lines += [
        "",
        "## Targets",
        "",
        "| target | where we stand | met |",
        "|---|---|---|",
    ]
    t = summary["targets"]
    stack = _get(summary, "stack") or "unknown"
    lines.append(
        f"| {t[0]['target']} | {_fmt(t[0]['measured'])} decl/s = {_fmt(t[0]['fraction_of_target'])} of target; "
        f"raw confluent-kafka in the same run: {_fmt(t[0].get('baseline_produce_msgs_per_s'))} msg/s produced, "
        f"{_fmt(t[0].get('baseline_consume_msgs_per_s'))} consumed | {_fmt(t[0]['met'])} |"
    )
    lines.append(
        f"| {t[1]['target']} | p50 {_fmt(t[1].get('p50'))} ms, p99 {_fmt(t[1]['measured'])} ms at "
        f"{_fmt(t[1]['at_rate_per_s'])} decl/s (half *our* sustained rate) | {_fmt(t[1]['met'])} |"
    )
    lines.append(
        f"| {t[2]['target']} | {_fmt(t[2]['measured'])} per declaration, against the 1 it is sent as "
        f"({_fmt(t[2].get('declarations'))} declarations: {_fmt(t[2].get('mailbox_messages'))} mailbox messages, "
        f"{_fmt(t[2].get('audit_records'))} audit records in {_fmt(t[2].get('audit_messages'))} messages) | "
        f"{_fmt(t[2]['met'])} |"
    )
    measured_replay = (
        f"**measured** replay of a {_fmt(t[3].get('measured_replay_records'))}-record day from offset 0: "
        f"{_fmt(t[3].get('measured_replay_wall_s'))} s, the day alone at {_fmt(t[3].get('measured_day_alone_per_s'))}"
        f" decl/s → 2.6 M ~{_fmt(t[3].get('extrapolated_from_measured_platform_s'))} s (**extrapolated**); "
        if t[3].get("measured_replay_wall_s") is not None
        else ""
    )
    counts = t[3].get("mailbox_messages_replay_vs_live") or {}
    faithfulness = (
        f"{'**faithful**' if t[3]['faithful'] else '**not faithful**'}: {_fmt(counts.get('replay'))} mailbox "
        f"messages replayed against {_fmt(counts.get('live'))} live, {_fmt(t[3].get('topics_differing'))} output "
        "topics differing"
        if counts
        else "**faithfulness not measured** (no replay comparison in the results)"
    )
    lines.append(
        f"| {t[3]['target']} | producing it: {_fmt(t[3]['measured_produce_s'])} s (measured); {measured_replay}"
        f"at bench_core's rate ~{_fmt(t[3]['extrapolated_platform_s'])} s (**extrapolated**); {faithfulness} | "
        f"{_fmt(t[3]['met'])} |"
    )
    lines.append(
        f"| {t[4]['target']} | `{t[4].get('current_variant', 'avro_memory')}` (the platform's person files in "
        f"memory://) {_fmt(t[4]['measured'])} MB = {_fmt(t[4]['fraction_of_target'])}× target; the same in "
        f"rocksdb:// {_fmt(t[4].get('rocksdb_mb'))} MB resident | {_fmt(t[4]['met'])} (memory://), "
        f"{_fmt(t[4].get('met_with_rocksdb'))} (rocksdb://) |"
    )
    lines += [
        "",
        "Measured on the default, secured stack (SASL_SSL: SCRAM over TLS, ACLs)."
        if stack == "sasl_ssl"
        else f"Measured on the `{stack}` stack: not the default, secured one"
        + (" (bench_core's result predates the field)" if stack == "unknown" else "")
        + ".",
    ]
    lines += [
        "",
        f"Key figure: `end_to_end.declarations_per_s` = **{_fmt(summary['end_to_end']['declarations_per_s'])}** "
        f"(from `{summary['end_to_end']['source']}`, {summary['end_to_end']['measured_at']}).",
        "",
        "## Figures against their baselines",
        "",
        "| bench | figure | value | baseline (same run) | ratio |",
        "|---|---|---|---|---|",
    ]
    for f in summary["figures"]:
        lines.append(
            f"| {f['bench']} | {f['what']} | {_fmt(f['value'])} {f['unit']} | {_fmt(f['baseline'])} "
            f"({f['baseline_what']}) | {_fmt(f['ratio'])} |"
        )
    directory = summary["directory"]
    for size, rows in directory["sizes"].items():
        lines += [
            "",
            f"## Reference directory, {int(size):,} entries (bench_directory.py)",
            "",
            "| representation | RSS MB / M entries | × 24 MB target | RocksDB disk MB / M | changelog MB / M "
            "| lookups/s (get+decode+holders) |",
            "|---|---|---|---|---|---|",
        ]
        changelog = (directory.get("changelog") or {}).get(size) or {}
        for name, r in rows.items():
            log_mb = changelog.get(
                "avro"
                if name.startswith("avro")
                else "packed"
                if name.startswith("packed")
                else "compact"
                if name == "compact_array"
                else name
            )
            lines.append(
                f"| {name} | {_fmt(r.get('rss_mb_per_million_entries'))} | {_fmt(r.get('vs_target_24mb'))} | "
                f"{_fmt(r.get('disk_mb_per_million_entries'))} | {_fmt(log_mb)} | {_fmt(r.get('lookups_per_s'))} |"
            )
        lines.append(
            "\nEntries only (no DIMONA relations nor stored facts). `avro_rocksdb`'s RSS leaves out its SST files"
            " (disk column) and the OS page cache; `packed_*` is the platform's format (streams/codecs/packed.py),"
            " `avro_*` the one before it, `compact*` earlier proposals."
        )
        rebuild = (directory["rebuild"] or {}).get(size) or {}
        for name, r in rebuild.items():
            if "rebuild_s" in r:
                lines.append(
                    f"\nRebuild of `{name}` from a compacted changelog ({_fmt(r['records'])} person files, plain"
                    " confluent-kafka consumer into a dict, not faust's recovery): "
                    f"{_fmt(r['rebuild_s'])} s = {_fmt(r['rebuild_records_per_s'])} files/s."
                )
    replay = summary.get("replay")
    if replay:
        lines += [
            "",
            "## Replaying a generated day (bench_replay.py)",
            "",
            f"* this day: produced in {_fmt(replay['this_day_produce_s'])} s; platform ~"
            f"{_fmt(replay['this_day_platform_s'])} s (**extrapolated**)",
            f"* {replay['target_day_declarations']:,} declarations: produce "
            f"{_fmt(replay['target_day_produce_s'])} s, platform ~{_fmt(replay['target_day_platform_s'])} s "
            f"(**extrapolated**) against {_fmt(replay['target_s'])} s; needs {_fmt(replay['rate_needed_per_s'])} "
            f"decl/s, we have {_fmt(replay['platform_rate_vs_needed'])} of it",
            f"* {replay['label']}",
        ]
        m = replay.get("measured") or {}
        x = replay.get("from_measured") or {}
        if m.get("wall_s") is not None:
            by_schema = ", ".join(f"{k} {_fmt(v)}" for k, v in (m.get("day_by_schema") or {}).items())
            lines += [
                f"* **measured** replay from offset 0 ({_fmt(m.get('citizens'))} citizens; one `crossroads worker`, "
                f"started after everything was produced): {_fmt(m.get('integrations'))} integrations (the "
                f"directory's current state) + {_fmt(m.get('day_declarations'))} day declarations ({by_schema}) in "
                f"**{_fmt(m.get('wall_s'))} s** from worker start ({_fmt(m.get('wall_from_group_stable_s'))} s from "
                f"group stable) = {_fmt(m.get('records_per_s'))} records/s, {_fmt(m.get('messages_written'))} "
                "messages written; drained = every source topic of the group at lag 0. The worker reads its intake "
                "topics side by side: the day's consultations and DmfA met a directory still filling (fewer "
                "deliveries than after it), so the day's rate is the next line's",
                f"* **measured**, a second run: the integrations alone {_fmt(m.get('integrations_alone_s'))} s "
                f"({_fmt(m.get('integrations_alone_per_s'))}/s), then the day alone produced in one go: "
                f"{_fmt(m.get('day_alone_s'))} s = **{_fmt(m.get('day_alone_per_s'))} decl/s**",
                f"* {_fmt(replay['target_day_declarations'])} declarations at that measured day rate: "
                f"~{_fmt(x.get('target_day_platform_s'))} s (**extrapolated**; {_fmt(x.get('day_rate_vs_needed'))} "
                "of the rate needed)",
            ]
    notes = BENCH / "limits.md"  # the hand-written analysis: what limits us, what is proposed, what is left
    if notes.exists():
        lines += ["", notes.read_text().rstrip()]
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    """`python -m streams.cli.bench ...`: the command without the rest of the CLI."""
    app = typer.Typer(add_completion=False)
    register(app)

    @app.callback()
    def _root() -> None:
        """Crossroads benchmarks."""

    app()


if __name__ == "__main__":
    main()
