"""Replaying a generated day: how long producing a synthetic day takes, and how long the platform would take to
process it — the second figure an extrapolation from a measured drain (bench_core's sustained declarations/s).

    .venv/bin/python bench/bench_replay.py                 # 100 k population day, platform rate from results/core.json
    .venv/bin/python bench/bench_replay.py --quick         # 20 k population, rate from results/core-quick.json
    .venv/bin/python bench/bench_replay.py --sample 5000   # also drain 5,000 declarations now (runs bench_core)

1. **Produce** — `generate_day(generate_population(N))` (the default 100 k citizens), every record encoded and sent
   by `DeclarationProducer` (what `crossroads send` uses) to the intake topics of a private prefix
   (`bench<8 hex>`, deleted at the end). No worker runs: this is the ingestion side alone. Baseline in the same
   run: the same encoded bytes through a raw confluent-kafka Producer (no per-record encode).
2. **Platform** — the worker's sustained declarations/s is measured by bench_core (all declarations produced up
   front, drain time to the last output); `--sample N` runs bench_core now with N declarations, else the figure of
   `--core-results` is used. Day replay time = the day's declarations / that rate. **This is an extrapolation**:
   bench_core's mix (address changes, deaths, DIMONA, DmfA) is not the day's mix (half of it consultations), and
   the platform's rate is assumed flat.
3. The target is the seed's full day: `--target-day` (2.6 M) declarations in 5 minutes.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))

from confluent_kafka import KafkaException, Producer  # noqa: E402
from confluent_kafka.admin import AdminClient  # noqa: E402

from streams.catalog import platform_topics  # noqa: E402
from streams.codecs import AvroCodec, SchemaRegistry  # noqa: E402
from streams.domain.admission import subject_key  # noqa: E402
from streams.kafka.admin import TopicAdmin  # noqa: E402
from streams.kafka.producer import DeclarationProducer, intake_topic, producer_config  # noqa: E402
from streams.settings import Settings  # noqa: E402

TARGET_DAY = 2_600_000
TARGET_S = 300.0


def log(message: str) -> None:
    print(f"[replay {time.strftime('%H:%M:%S')}] {message}", flush=True)


def cleanup(settings: Settings) -> int:
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap, "log_level": 0})
    names = [t for t in admin.list_topics(timeout=10).topics if t.startswith(settings.topic_prefix + ".")]
    if names:
        for future in admin.delete_topics(names, operation_timeout=30).values():
            with contextlib.suppress(Exception):
                future.result(timeout=30)
    return len(names)


def platform_rate(args: argparse.Namespace) -> dict[str, Any]:
    """The worker's sustained declarations/s: a fresh bench_core drain of --sample declarations, or a results file."""
    if args.sample:
        out = RESULTS / "core-replay-sample.json"
        command = [
            sys.executable,
            str(ROOT / "bench" / "bench_core.py"),
            "--people",
            str(max(1_000, args.sample // 2)),
            "--declarations",
            str(args.sample),
            "--latency-seconds",
            "5",
            "--baseline-messages",
            "20000",
            "--output",
            str(out),
        ]
        log(f"draining {args.sample} declarations through the worker: {' '.join(command[1:])}")
        subprocess.run(command, check=False, timeout=1800)
        source = out
    else:
        source = args.core_results or RESULTS / ("core-quick.json" if args.quick else "core.json")
    if not source.exists():
        return {"error": f"{source} missing: run bench/bench_core.py first (or --sample N)"}
    core = json.loads(source.read_text())
    throughput = core.get("throughput", {})
    return {
        "source": str(source.relative_to(ROOT)) if source.is_relative_to(ROOT) else str(source),
        "measured_at": core.get("started_at"),
        "command": core.get("command"),
        "declarations_drained": throughput.get("declarations"),
        "drain_s": throughput.get("drain_s"),
        "sustained_declarations_per_s": throughput.get("sustained_declarations_per_s"),
        "load_average_at_start": core.get("machine", {}).get("load_average_at_start"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--citizens", type=int, default=100_000, help="population of the generated day")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="20 k citizens")
    parser.add_argument("--sample", type=int, default=0, help="drain N declarations through the worker now")
    parser.add_argument("--core-results", type=Path, help="bench_core results to take the platform rate from")
    parser.add_argument("--target-day", type=int, default=TARGET_DAY, help="declarations of the seed's full day")
    parser.add_argument("--output", type=Path, help="results file (default bench/results/replay[-quick].json)")
    args = parser.parse_args()
    if args.quick and "--citizens" not in sys.argv:
        args.citizens = 20_000
    output: Path = args.output or RESULTS / ("replay-quick.json" if args.quick else "replay.json")

    base = Settings()
    tag = uuid.uuid4().hex[:8]
    settings = base.model_copy(update={"topic_prefix": f"bench{tag}", "app_id": f"crossroads-bench-{tag}"})
    try:
        AdminClient({"bootstrap.servers": settings.kafka_bootstrap, "log_level": 0}).list_topics(timeout=5)
    except KafkaException as exc:
        print(f"error: no Kafka broker answers at {settings.kafka_bootstrap} ({exc})", file=sys.stderr)
        return 2
    results: dict[str, Any] = {
        "bench": "replay",
        "command": " ".join([".venv/bin/python", "bench/bench_replay.py", *sys.argv[1:]]),
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "citizens": args.citizens,
        "prefix": settings.topic_prefix,
    }
    from streams.synthetic import generate_day, generate_population

    t = time.perf_counter()
    population = generate_population(args.citizens, seed=args.seed)
    day = list(generate_day(population))
    results["generate_s"] = round(time.perf_counter() - t, 1)
    results["day"] = population.day.isoformat()
    results["declarations"] = len(day)
    results["by_schema"] = dict(Counter(g.schema.rpartition(".")[2] for g in day).most_common())
    log(f"{len(day)} declarations for {args.citizens} citizens generated in {results['generate_s']}s")

    codec = AvroCodec(SchemaRegistry.from_directory(settings.schema_dir))
    try:
        TopicAdmin(settings).apply(platform_topics(population.network.institutions))
        # 1. DeclarationProducer: encode + key + produce, as `crossroads send --keep-senders` does
        producer = DeclarationProducer(settings, codec)
        t = time.perf_counter()
        not_encodable = 0
        for item in day:
            try:
                producer.send(item.schema, item.record, subject_key(item.schema, item.record))
            except Exception:  # a record broken on purpose may not even encode: the sender would fail it
                not_encodable += 1
        producer.flush(300)
        produce_s = time.perf_counter() - t
        sent = producer.delivered
        results["produce"] = {
            "sent": sent,
            "not_encodable": not_encodable,
            "seconds": round(produce_s, 2),
            "declarations_per_s": round(sent / produce_s),
        }
        log(f"DeclarationProducer: {sent} in {produce_s:.2f}s = {sent / produce_s:,.0f}/s")
        # baseline: the same bytes, pre-encoded, through a raw Producer with the same config
        encoded = []
        for item in day:
            with contextlib.suppress(Exception):
                key = subject_key(item.schema, item.record)
                encoded.append(
                    (
                        intake_topic(settings, item.schema),
                        key.encode() if key else None,
                        codec.encode(item.schema, dict(item.record)),
                    )
                )
        raw = Producer(producer_config(settings))
        t = time.perf_counter()
        for topic, key, value in encoded:
            while True:
                try:
                    raw.produce(topic, key=key, value=value)
                    break
                except BufferError:
                    raw.poll(0.1)
            raw.poll(0)
        raw.flush(300)
        raw_s = time.perf_counter() - t
        results["raw_produce_baseline"] = {
            "messages": len(encoded),
            "mean_bytes": round(sum(len(v) for _, _, v in encoded) / max(1, len(encoded)), 1),
            "seconds": round(raw_s, 2),
            "messages_per_s": round(len(encoded) / raw_s),
        }
        results["produce_vs_raw"] = round((sent / produce_s) / (len(encoded) / raw_s), 3)
        log(f"raw Producer baseline: {len(encoded)} in {raw_s:.2f}s = {len(encoded) / raw_s:,.0f}/s")
    finally:
        log(f"deleted {cleanup(settings)} topics of {settings.topic_prefix}")

    # 2. the platform's side: extrapolated from a measured drain
    rate = platform_rate(args)
    results["platform_rate"] = rate
    per_s = rate.get("sustained_declarations_per_s")
    produce_rate = results["produce"]["declarations_per_s"]
    results["extrapolation"] = {
        "label": "EXTRAPOLATION: day declarations / measured sustained rate (bench_core mix, assumed flat)",
        "this_day_produce_s": results["produce"]["seconds"],
        "this_day_platform_s": round(len(day) / per_s, 1) if per_s else None,
        "target_day_declarations": args.target_day,
        "target_day_produce_s": round(args.target_day / produce_rate, 1),
        "target_day_platform_s": round(args.target_day / per_s, 1) if per_s else None,
        "target_s": TARGET_S,
        "rate_needed_per_s": round(args.target_day / TARGET_S),
        "platform_rate_vs_needed": round(per_s / (args.target_day / TARGET_S), 4) if per_s else None,
    }
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2) + "\n")
    e = results["extrapolation"]
    log(
        f"day of {len(day)}: produced in {e['this_day_produce_s']}s; platform ~{e['this_day_platform_s']}s "
        f"(extrapolated); {args.target_day:,} declarations: produce {e['target_day_produce_s']}s, platform "
        f"~{e['target_day_platform_s']}s vs {TARGET_S:.0f}s target"
    )
    log(f"wrote {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
