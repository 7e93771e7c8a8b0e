"""The chaos suite: the platform under faults -- its worker SIGKILLed, two workers rebalancing, the projector
SIGKILLed, the broker SIGKILLed or SIGSTOPped, ClickHouse restarted, one broker of three killed, 10,000 fuzzed
intake messages -- on a private stack, each run compared with a clean baseline of the same workload.

    .venv/bin/python bench/chaos.py                     # every scenario, 4,000 citizens (~22-25 min on 2 cores)
    .venv/bin/python bench/chaos.py --quick             # 400 citizens, 1,000 fuzzed messages (~18 min)
    .venv/bin/python bench/chaos.py --only broker-sigkill --only fuzz-10000 --seed 7

Writes bench/results/chaos.json (bench/results/chaos-quick.json with --quick) and prints a table; exits 1 if a
scenario lost anything, gave a declaration, notification or audit record a second ticket, broke an audit chain,
left the warehouse out of step with Kafka, or failed otherwise (the JSON is written in every case). docs/chaos.md
says what each scenario does and how the comparison works. Not part of `make test`.

It never touches the shared stack: it starts its own Kafka and ClickHouse on free high ports under a private
state directory (the Kafka jars are shared read-only through a symlink), and stops what it started, by pid file,
at the end -- also on Ctrl-C or a failure.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from chaos import report  # noqa: E402
from chaos.scenarios import SCENARIOS, Context, build_workload, run_baseline  # noqa: E402
from chaos.stack import PrivateStack, log  # noqa: E402

DEFAULT_ORDER = tuple(SCENARIOS)


def git(*args: str) -> str:
    result = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    return result.stdout.strip()


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small workload (400 citizens, 1,000 fuzzed messages)")
    parser.add_argument(
        "--only", action="extend", nargs="+", metavar="NAME", choices=DEFAULT_ORDER, help="run only these scenarios"
    )
    parser.add_argument("--seed", type=int, default=42, help="seeds the workload, the fault schedule and the fuzz")
    parser.add_argument("--citizens", type=int, help="population size (default 4,000; --quick 400)")
    parser.add_argument("--fuzz", type=int, help="fuzzed messages of fuzz-10000 (default 10,000; --quick 1,000)")
    parser.add_argument("--runs", type=int, default=1, help="runs of each scenario")
    parser.add_argument("--keep", action="store_true", help="keep the private state dir, topics and databases")
    parser.add_argument("--output", type=Path, help="default bench/results/chaos.json (chaos-quick.json)")
    parser.add_argument(
        "--merge-into",
        type=Path,
        metavar="PATH",
        help="then lay this run's scenarios over those of an earlier chaos.json (reruns), each naming its run",
    )
    args = parser.parse_args(argv)
    args.citizens = args.citizens or (400 if args.quick else 4_000)
    args.fuzz = args.fuzz if args.fuzz is not None else (1_000 if args.quick else 10_000)
    args.output = args.output or RESULTS / ("chaos-quick.json" if args.quick else "chaos.json")
    return args


def main(argv: list[str]) -> int:
    args = parse(argv)
    began = time.monotonic()
    started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    names = [n for n in DEFAULT_ORDER if not args.only or n in args.only]
    root = Path(tempfile.mkdtemp(prefix="crossroads-chaos-"))
    logs_dir = Path(tempfile.gettempdir()) / f"crossroads-chaos-logs-{root.name.rsplit('-', 1)[-1]}"
    stack = PrivateStack(root, random.Random(f"chaos-ports:{os.getpid()}:{time.time()}"))
    entries: list[dict[str, Any]] = []
    extra: dict[str, Any] = {
        "command": " ".join([".venv/bin/python", "bench/chaos.py", *argv]),
        "seed": args.seed,
        "quick": args.quick,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }

    def interrupted(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupted)
    try:
        t = time.monotonic()
        workload = build_workload(args.citizens, args.seed, fuzz_citizens=max(300, args.citizens // 4))
        extra["workload"] = workload.summary()
        log(f"workload: {workload.records} records of {args.citizens} citizens in {time.monotonic() - t:.1f}s")
        stack.up()
        extra["private_stack"] = {
            "state_dir": str(root),
            "kafka": stack.settings.kafka_bootstrap,
            "clickhouse": f"{stack.settings.clickhouse.port}/{stack.settings.clickhouse_http_port}",
            "kafka_jars_shared": stack.jars_shared,
        }
        ctx = Context(stack, workload, root, args.seed, args.quick, args.fuzz, args.keep, logs_dir, 25.0)
        log("== baseline: the workload without faults")
        ctx.baseline, extra["baseline"] = run_baseline(ctx)
        log(f"baseline done in {extra['baseline']['seconds']}s: {extra['baseline']['unique_ids']}")
        for name in names:
            runs = [SCENARIOS[name](ctx) for _ in range(args.runs)]
            entries.append(report.scenario_entry(name, runs))
            log(f"== {name}: {'ok' if entries[-1]['passed'] else 'FAIL ' + '; '.join(entries[-1]['failures'])[:400]}")
            _write(args.output, started_at, began, entries, extra)
    except KeyboardInterrupt as exc:
        extra["interrupted"] = str(exc) or "Ctrl-C"
        log("interrupted: stopping what the suite started")
    except Exception as exc:
        extra["error"] = f"{type(exc).__name__}: {exc}"
        log(f"the suite stopped: {extra['error']}")
        import traceback

        traceback.print_exc()
    finally:
        try:
            stack.down()
        finally:
            if not args.keep:
                shutil.rmtree(root, ignore_errors=True)
    _write(args.output, started_at, began, entries, extra)
    print()
    print(report.table(entries))
    print(f"\n{len(entries)} scenario(s) in {time.monotonic() - began:.0f}s; results in {args.output}")
    if args.merge_into is not None and entries and "error" not in extra and "interrupted" not in extra:
        merged = report.merge(json.loads(args.merge_into.read_text()), json.loads(args.output.read_text()))
        args.merge_into.write_text(json.dumps(merged, indent=2, default=str) + "\n")
        print(
            f"merged into {args.merge_into}: {len(merged['scenarios'])} scenario(s)"
            f" from {len(merged['runs_merged'])} run(s)"
        )
        return report.exit_code(merged["scenarios"])
    if "error" in extra or "interrupted" in extra:
        return 2
    return report.exit_code(entries)


def _write(output: Path, started_at: str, began: float, entries: list[dict[str, Any]], extra: dict[str, Any]) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    document = report.document(
        commit=git("rev-parse", "HEAD"),
        dirty=bool(git("status", "--porcelain")),
        started_at=started_at,
        seconds=time.monotonic() - began,
        scenarios=entries,
        **extra,
    )
    output.write_text(json.dumps(document, indent=2, default=str) + "\n")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
