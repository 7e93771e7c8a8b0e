"""Security-cost bench: bench_core on the secured stack (TLS + SCRAM-SHA-512 + ACLs) against the same bench on
a PLAINTEXT stack (no TLS, no login, no authorizer: the stack as it was before docs/security.md), in one run.

    .venv/bin/python bench/bench_security.py [--quick] [bench_core options...]

Starts two private single-node brokers of its own, identical but for CROSSROADS_KAFKA_SECURITY (fresh state
directories, free ports, the Kafka jars of the default stack shared), runs `bench/bench_core.py` on each in turn
-- plaintext first, then secured, then plaintext again so that a machine getting busier or quieter during the
run shows as a difference between the two plaintext runs rather than as a cost of security -- and reports the
ratios secured / plaintext of: the raw produce and consume rates (librdkafka alone), the sustained
declarations/s of `crossroads worker`, and the declaration -> mailbox latency p50/p99. ClickHouse is not used.

Writes bench/results/security.json (security-quick.json with --quick). Run on demand; tests never assert timings.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from streams.settings import Settings  # noqa: E402
from streams.stack.kafka import KafkaService  # noqa: E402
from streams.stack.process import free_ports  # noqa: E402

RESULTS = ROOT / "bench" / "results"
MODES = ("plaintext", "sasl_ssl", "plaintext")


def log(message: str) -> None:
    print(f"[{dt.datetime.now():%H:%M:%S}] {message}", flush=True)


def private_stack(root: Path, mode: str, shared_cache: Path) -> tuple[KafkaService, dict[str, str]]:
    state = root / mode
    state.mkdir(parents=True)
    (state / "cache").symlink_to(shared_cache, target_is_directory=True)
    base = free_ports(2)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CROSSROADS_")}
    env.update(
        {
            "CROSSROADS_STATE_DIR": str(state),
            "CROSSROADS_KAFKA_BOOTSTRAP": f"127.0.0.1:{base}",
            "CROSSROADS_KAFKA_CONTROLLER_PORT": str(base + 1),
            "CROSSROADS_KAFKA_SECURITY": mode,
        }
    )
    settings = Settings(
        state_dir=state, kafka_bootstrap=f"127.0.0.1:{base}", kafka_controller_port=base + 1, kafka_security=mode
    )
    return KafkaService(settings), env


def figures(core: dict[str, Any]) -> dict[str, float | None]:
    latency = core.get("latency", {}).get("to_broker_createtime", {})
    return {
        "raw_produce_msgs_per_s": core.get("baseline", {}).get("produce_msgs_per_s"),
        "raw_consume_msgs_per_s": core.get("baseline", {}).get("consume_msgs_per_s"),
        "sustained_declarations_per_s": core.get("throughput", {}).get("sustained_declarations_per_s"),
        "latency_p50_ms": latency.get("p50_ms") if isinstance(latency, dict) else None,
        "latency_p99_ms": latency.get("p99_ms") if isinstance(latency, dict) else None,
    }


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="bench_core --quick on each stack")
    parser.add_argument("--output", type=Path, help="default bench/results/security[-quick].json")
    args, core_args = parser.parse_known_args()
    output: Path = args.output or RESULTS / ("security-quick.json" if args.quick else "security.json")
    shared_cache = Settings().state_dir / "cache"
    if not any(shared_cache.glob("kafka-*/.complete")):
        print("error: no Kafka jars cached yet: run `.venv/bin/crossroads stack up` once first", file=sys.stderr)
        return 2
    root = Path(tempfile.mkdtemp(prefix="crossroads-bench-security-"))
    runs: list[dict[str, Any]] = []
    try:
        for index, mode in enumerate(MODES):
            kafka, env = private_stack(root / str(index), mode, shared_cache)
            log(f"run {index + 1}/{len(MODES)}: {mode} broker at {env['CROSSROADS_KAFKA_BOOTSTRAP']}")
            kafka.up()
            try:
                out = root / f"core-{index}-{mode}.json"
                argv = [sys.executable, str(ROOT / "bench" / "bench_core.py"), "--output", str(out), *core_args]
                if args.quick:
                    argv.append("--quick")
                done = subprocess.run(argv, env=env, cwd=ROOT, check=False)
                if done.returncode != 0 or not out.exists():
                    log(f"bench_core failed on the {mode} stack (exit {done.returncode})")
                    return 1
                core = json.loads(out.read_text())
                runs.append(
                    {
                        "security": mode,
                        "figures": figures(core),
                        "load_average_at_end": core.get("machine", {}).get("load_average_at_end"),
                    }
                )
            finally:
                kafka.down()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    plain = [r["figures"] for r in runs if r["security"] == "plaintext"]
    secured = next(r["figures"] for r in runs if r["security"] == "sasl_ssl")
    mean_plain = {
        k: (sum(p[k] for p in plain if p[k]) / len([p for p in plain if p[k]]) if any(p[k] for p in plain) else None)
        for k in secured
    }
    results = {
        "bench": "security",
        "command": " ".join([".venv/bin/python", "bench/bench_security.py", *sys.argv[1:]]),
        "started_at": runs and dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "definition": "secured (SASL_SSL, SCRAM-SHA-512, StandardAuthorizer) over plaintext, same bench_core, "
        "same machine, one run; plaintext = mean of the runs before and after the secured one",
        "runs": runs,
        "ratios_secured_over_plaintext": {k: ratio(secured[k], mean_plain[k]) for k in secured},
        "plaintext_drift": {k: ratio(plain[1][k], plain[0][k]) for k in secured} if len(plain) == 2 else None,
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2) + "\n")
    log(f"wrote {output}")
    for key, value in results["ratios_secured_over_plaintext"].items():
        print(f"  {key:<32} secured/plaintext = {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
