"""Replaying a generated day: how long producing a synthetic day takes, and how long one worker takes to replay
a generated day from offset 0 (measured), with the 2.6 M-declaration target day extrapolated from it.

    .venv/bin/python bench/bench_replay.py                 # 100 k population day produced; 40 k replayed
    .venv/bin/python bench/bench_replay.py --quick         # 20 k produced, 2 k replayed, rate of core-quick.json
    .venv/bin/python bench/bench_replay.py --no-replay     # producing only (+ the extrapolation from bench_core)
    .venv/bin/python bench/bench_replay.py --sample 5000   # also drain 5,000 declarations now (runs bench_core)

1. **Produce** (measured) — `generate_day(generate_population(N))` (the default 100 k citizens), every record
   encoded and sent by `DeclarationProducer` (what `crossroads send` uses) to the intake topics of a private prefix
   (`bench<8 hex>`, deleted at the end). No worker runs: this is the ingestion side alone. Baseline in the same
   run: the same encoded bytes through a raw confluent-kafka Producer (no per-record encode).
2. **Platform, extrapolated** — the worker's sustained declarations/s measured by bench_core (all declarations
   produced up front, drain time to the last output); `--sample N` runs bench_core now with N declarations, else
   the figure of `--core-results` is used. Day replay time = the day's declarations / that rate (key
   `extrapolation`): bench_core's mix (address changes, deaths, DIMONA, DmfA) is not the day's (most of it
   consultations), and the platform's rate is assumed flat.
3. **Replay, measured** (key `replay_measured`; `--no-replay` skips it) — a population of `--replay-citizens`
   (default 40 k: the phase takes ~2.5 min on the 2-core machine) and its day, under a fresh prefix and app_id,
   topics from `platform_topics`; one `crossroads worker` (`PlatformWorkers(commands=("worker",))`). Two runs:
   * `all_up_front`: the directory's current state (`Population.integration_records(history=False)`, what the
     demo preloads) then the day's declarations, all produced BEFORE the worker starts; the worker replays the
     lot from offset 0. `wall_s`: worker start -> every source topic of its group at lag 0 (committed offsets ==
     high watermarks; they lag the work by up to faust's ~3 s commit interval); also from group stable. The worker
     reads its intake topics side by side, but the directory decides in event-time order (topologies/alignment.py):
     the day waits for its integrations. `day_part` (when the day-only topics reached lag 0) is only indicative.
   * `day_after_preload`: the integrations up front, the worker replays and drains them; then the day is produced
     in one go and drained (`day_alone`: first send -> lag 0). The day's own rate, on a directory that has its
     files: the figure the target's extrapolation uses (key `extrapolation_from_measured`).
4. **Faithful** (key `faithful`): every mailbox, facts and outcomes topic must end the replay (`all_up_front`) with
   as many messages as the live-like run (`day_after_preload`); the topics that differ are listed.
5. The target is the seed's full day: `--target-day` (2.6 M) declarations in 5 minutes.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from streams.kafka.security import client_config

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))

from confluent_kafka import KafkaException, Producer  # noqa: E402
from confluent_kafka.admin import AdminClient  # noqa: E402

from streams.catalog import platform_topics  # noqa: E402
from streams.codecs import AvroCodec, SchemaRegistry  # noqa: E402
from streams.domain.kinds import subject_key  # noqa: E402
from streams.kafka.admin import TopicAdmin  # noqa: E402
from streams.kafka.producer import DeclarationProducer, intake_topic, producer_config  # noqa: E402
from streams.kafka.sealing import intake_headers  # noqa: E402
from streams.settings import Settings  # noqa: E402

TARGET_DAY = 2_600_000
TARGET_S = 900.0  # issue 14: a generated day replayed in 15 minutes


def log(message: str) -> None:
    print(f"[replay {time.strftime('%H:%M:%S')}] {message}", flush=True)


def cleanup(settings: Settings) -> int:
    admin = AdminClient({**client_config(settings), "log_level": 0})
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


# -- the measured replay ---------------------------------------------------------------------------------------------

# source topics that carry the day's traffic only (the preload is integrations: intake.integrations, then
# directory.declarations, which carries the day's DIMONA too)
DAY_ONLY_SOURCES = (
    ("intake", "dimona"),
    ("intake", "dmfa"),
    ("intake", "civil"),
    ("intake", "consultations"),
    ("dmfa", "declarations"),
    ("directory", "lookups"),
    ("consultations", "accepted"),
)


# what a faithful replay must give as the live run did: what institutions and senders receive, the facts, the
# refusals (audit messages batch differently from run to run; changelogs and step-to-step topics are internal)
COMPARED_AREAS = ("mailbox", "facts", "outcomes")


def outputs_by_topic(high: dict[str, int], prefix: str) -> dict[str, int]:
    """Messages per output topic at the end of a run (its topics are fresh: high watermark = count)."""
    names = {t.removeprefix(prefix + "."): n for t, n in high.items()}
    return {t: n for t, n in sorted(names.items()) if t.split(".", 1)[0] in COMPARED_AREAS and n}


def faithfulness(replay: dict[str, int], live: dict[str, int]) -> dict[str, Any]:
    """The replay's outputs against the live run's, topic by topic."""
    differences = {
        t: {"replay": replay.get(t, 0), "live": live.get(t, 0)}
        for t in sorted(set(replay) | set(live))
        if replay.get(t, 0) != live.get(t, 0)
    }
    mailboxes = [t for t in set(replay) | set(live) if t.startswith("mailbox.")]
    return {
        "definition": "every mailbox, facts and outcomes topic has as many messages after the replay from offset 0 "
        "(all_up_front) as after the live-like run (day_after_preload: the day produced once the integrations were "
        "drained)",
        "faithful": not differences,
        "topics_compared": len(set(replay) | set(live)),
        "mailbox_messages": {
            "replay": sum(replay.get(t, 0) for t in mailboxes),
            "live": sum(live.get(t, 0) for t in mailboxes),
        },
        "differences": dict(list(differences.items())[:40]),
        "topics_differing": len(differences),
    }


def lag_zero_at(samples: list[Any], topic: str, start: float) -> float | None:
    """When `topic`'s committed offsets caught up with its high watermark for good (None: never)."""
    done = None
    for s in samples:
        caught_up = s.high.get(topic, 0) - s.committed.get(topic, 0) == 0
        done = (done if done is not None else round(s.t - start, 1)) if caught_up else None
    return done


def drained_at(samples: list[Any], stages: Any, start: float) -> float:
    """The first sample from which every source topic of the group stayed at lag 0 (committed == high watermark)."""
    done = None
    for s in samples:
        done = (done if done is not None else s.t - start) if stages.drained(s) else None
    return done if done is not None else samples[-1].t - start


def replay_settings() -> Settings:
    """A private prefix, app_id and state directory."""
    sys.path.insert(0, str(ROOT / "bench"))
    import bench_core as core

    tag = uuid.uuid4().hex[:8]
    return Settings().model_copy(
        update={
            "topic_prefix": f"bench{tag}",
            "app_id": f"crossroads-bench-{tag}",
            "state_dir": Path(tempfile.mkdtemp(prefix=f"crossroads-replay-{tag}-")),
            "web_port": core.free_port(),
        }
    )


def copy_intake_log(source: Settings, target: Settings, institutions: Any) -> int:
    """The intake topics of ``source`` into those of ``target`` (created for it with the producer's timestamps:
    CreateTime), record by record: same partition, same key, same value, same timestamp (the broker's append time
    in ``source``), the headers resealed for the new topic names (a seal covers its topic). What a replay from
    offset 0 of ``source``'s own log reads, under a prefix of its own."""
    from dataclasses import replace

    from confluent_kafka import Consumer, TopicPartition

    from streams.catalog import INTAKE_TOPICS, LOG_APPEND_TIME, TIMESTAMP_TYPE
    from streams.domain.seal import SENDER_HEADER

    specs = [
        replace(spec, extra_config={**spec.extra_config, TIMESTAMP_TYPE: "CreateTime"})
        if spec.extra_config.get(TIMESTAMP_TYPE) == LOG_APPEND_TIME
        else spec
        for spec in platform_topics(institutions)
    ]
    TopicAdmin(target).apply(specs)
    consumer = Consumer(
        {**client_config(source), "group.id": f"copy-{uuid.uuid4().hex[:8]}", "enable.auto.commit": False}
    )
    producer = Producer(producer_config(target, **{"linger.ms": 20, "enable.idempotence": True}))
    copied = 0
    admin = AdminClient({**client_config(source), "log_level": 0})
    metadata = admin.list_topics(timeout=10)
    for spec in INTAKE_TOPICS:
        topic, into = spec.topic(source.topic_prefix), spec.topic(target.topic_prefix)
        for partition in metadata.topics[topic].partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
            if high <= low:
                continue
            consumer.assign([TopicPartition(topic, partition, low)])
            done = low
            while done < high:
                for message in consumer.consume(num_messages=min(1000, high - done), timeout=5):
                    if message.error():
                        raise RuntimeError(f"copying {topic}[{partition}]: {message.error()}")
                    headers = dict(message.headers() or [])
                    sender = (headers.get(SENDER_HEADER) or b"").decode()
                    value = message.value() or b""
                    while True:
                        try:
                            producer.produce(
                                into,
                                value,
                                message.key(),
                                partition=partition,
                                timestamp=message.timestamp()[1],
                                headers=intake_headers(target, sender, into, value) if sender else None,
                            )
                            break
                        except BufferError:
                            producer.poll(0.1)
                    producer.poll(0)
                    copied += 1
                    done = message.offset() + 1
    consumer.close()
    if producer.flush(120):
        raise RuntimeError("the copy of the intake log was not all written")
    return copied


def measured_replay(
    args: argparse.Namespace,
    population: Any,
    day: list[Any],
    settings: Settings,
    *,
    day_later: bool = False,
    log_of: Settings | None = None,
    keep_topics: bool = False,
) -> dict[str, Any]:
    """Integrations of the population, then the day, all produced up front under a private prefix; then one
    `crossroads worker` (fresh app_id) that replays the lot from offset 0; wall time until every source topic of
    its group has lag 0.

    ``day_later``: only the integrations up front; once the worker has drained them, the day is produced in one go
    and drained (the day alone, on a directory that has its files): the live run.
    ``log_of``: instead of producing, copy the intake log of that (live) run (`copy_intake_log`) and replay it.
    ``keep_topics``: leave the topics for the caller to copy, then delete."""
    sys.path.insert(0, str(ROOT / "bench"))
    import bench_core as core

    from streams.catalog import Area, by_key
    from streams.kafka.admin import wait_for_group
    from streams.stack.workers import PlatformWorkers

    state_dir = settings.state_dir
    out: dict[str, Any] = {
        "label": "MEASURED: one `crossroads worker` replaying, from offset 0, the population's integrations; then "
        "the day produced in one go once they were drained"
        if day_later
        else "MEASURED: one `crossroads worker` replaying, from offset 0, the population's integrations then the "
        "day, all produced before it started",
        "citizens": args.replay_citizens,
        "prefix": settings.topic_prefix,
        "app_id": settings.app_id,
    }
    codec = AvroCodec(SchemaRegistry.from_directory(settings.schema_dir))
    network = population.network
    workers = PlatformWorkers(settings, commands=("worker",))
    preload = list(population.integration_records(history=False))  # the directory's current state (as the demo)
    try:
        producer = DeclarationProducer(settings, codec)
        t = time.perf_counter()
        not_encodable = 0
        if log_of is not None:
            out["copied_from"] = log_of.topic_prefix
            out["copied_records"] = copy_intake_log(log_of, settings, network.institutions)
        else:
            TopicAdmin(settings).apply(platform_topics(network.institutions))
            for item in preload if day_later else [*preload, *day]:
                try:
                    producer.send(item.schema, item.record, subject_key(item.schema, item.record))
                except Exception:
                    not_encodable += 1
            producer.flush(300)
        out["integrations"] = len(preload)
        out["day_declarations"] = len(day)
        out["day_by_schema"] = dict(Counter(g.schema.rpartition(".")[2] for g in day).most_common())
        out["records"] = len(preload) if day_later else len(preload) + len(day)
        out["not_encodable"] = not_encodable
        out["produced"] = out.get("copied_records", producer.delivered)
        out["produce_s"] = round(time.perf_counter() - t, 2)
        log(f"replay: {out['produced']} records produced up front in {out['produce_s']}s")

        stages = core.Stages(settings, network.institutions)
        probe = core.Probe(settings)
        sampler = core.Sampler(probe, settings.app_id)
        before = core.by_topic(probe.high_watermarks(probe.partitions()))
        log(f"replay: starting `crossroads worker` (app_id {settings.app_id})")
        start = time.perf_counter()
        workers.start()
        try:
            wait_for_group(settings, settings.app_id, timeout=120)
        except Exception as exc:
            core.check_alive(workers)
            raise core.BenchError(f"worker group never became stable: {exc}") from exc
        stable = time.perf_counter()
        out["group_stable_s"] = round(stable - start, 1)
        sampler.worker_pid = workers.processes["worker"].pid()
        cpu = core.CpuMeter(core.process_pids(workers, []))
        log(f"replay: group stable after {out['group_stable_s']}s; draining")
        samples, ok = core.drain(sampler, stages, workers, start, args.replay_timeout, stages.drained, "replay")
        out["cpu_during_drain"] = cpu.stop()
        last = samples[-1]
        wall = drained_at(samples, stages, start)
        out["last_output_s"] = round(core.finish_time(samples, start), 2)
        out["drained"] = ok
        if day_later:
            out["integrations_wall_s"] = round(wall, 2)
            out["integrations_per_s"] = round(len(preload) / wall, 1)
            if not ok:
                raise core.BenchError(f"integrations not drained within {args.replay_timeout:.0f}s")
            log(f"replay: {len(preload)} integrations drained in {wall:.1f}s; producing the day ({len(day)})")
            before_day = last
            cpu = core.CpuMeter(core.process_pids(workers, []))
            t_day = time.perf_counter()
            sent_before = producer.delivered
            for item in day:
                try:
                    producer.send(item.schema, item.record, subject_key(item.schema, item.record))
                except Exception:
                    not_encodable += 1
            producer.flush(300)
            day_produce_s = time.perf_counter() - t_day
            samples, ok = core.drain(sampler, stages, workers, t_day, args.replay_timeout, stages.drained, "day")
            samples = [before_day, *samples]
            last = samples[-1]
            day_wall = drained_at(samples, stages, t_day)
            delta = {t: last.high.get(t, 0) - before_day.high.get(t, 0) for t in last.high}
            written = sum(delta.values()) - (producer.delivered - sent_before)
            out["day_alone"] = {
                "definition": "first send of the day -> every source topic at lag 0 (committed offsets lag the work "
                "by up to faust's commit interval, ~3 s), the day produced in one go while the worker idled on a "
                "drained directory of the integrations",
                "declarations": len(day),
                "produced": producer.delivered - sent_before,
                "produce_s": round(day_produce_s, 2),
                "drained": ok,
                "wall_s": round(day_wall, 2),
                "last_output_s": round(core.finish_time(samples, t_day), 2),
                "declarations_per_s": round(len(day) / day_wall, 1),
                "messages_written_besides_the_input": written,
                "mailbox_messages": sum(n for t, n in delta.items() if ".mailbox." in t),
                "audit_messages": delta.get(stages.audit, 0),  # an AuditBatch holds several records
                "rejections": delta.get(stages.rejections, 0),
                "dead_letters": delta.get(stages.dead_letters, 0),
            }
            out["cpu_during_day"] = cpu.stop()
            out["outputs_by_topic"] = outputs_by_topic(last.high, settings.topic_prefix)
            log(f"replay: the day alone ({len(day)}) drained={ok} in {day_wall:.1f}s = {len(day) / day_wall:.0f}/s")
            if not ok:
                raise core.BenchError(f"the day not drained within {args.replay_timeout:.0f}s")
            return out
        out["drained_definition"] = (
            "every source topic of the worker group (intake topics; dmfa.declarations, directory.declarations, "
            "directory.lookups, consultations.accepted, audit.pending) has lag 0: committed == high watermark, "
            "two samples 0.5 s apart with unchanged high watermarks; wall_s = from worker start to the first sample "
            "of that state (committed offsets lag the work by up to faust's commit interval, ~3 s); last_output_s = "
            "first sample at which every topic had its final high watermark"
        )
        out["wall_s"] = round(wall, 2)
        out["wall_from_group_stable_s"] = round(wall - (stable - start), 2)
        out["records_per_s"] = round(out["records"] / wall, 1)
        out["records_per_s_from_group_stable"] = round(out["records"] / max(0.1, wall - (stable - start)), 1)
        p = settings.topic_prefix
        sources = [t for ts in stages.stages.values() for t in ts]
        out["source_done_s"] = {t.removeprefix(p + "."): lag_zero_at(samples, t, start) for t in sources}
        day_topics = [by_key(Area(a), n).topic(p) for a, n in DAY_ONLY_SOURCES]
        day_done = [lag_zero_at(samples, t, start) for t in day_topics if last.high.get(t, 0) > 0]
        preload_topics = [by_key(Area.INTAKE, "integrations").topic(p)]
        preload_done = [lag_zero_at(samples, t, start) for t in preload_topics]
        day_s = max((d for d in day_done if d is not None), default=None)
        out["day_part"] = {
            "definition": "from worker start until the last source topic carrying only the day's traffic (intake "
            "dimona/dmfa/civil/consultations, dmfa.declarations, directory.lookups, consultations.accepted) reached "
            "lag 0 "
            "for good; the worker interleaved these with the integrations, so this is the day's time while sharing "
            "the worker with the preload (an upper bound of the day alone; its rate a lower bound)",
            "day_done_s": day_s,
            "integrations_done_s": max((d for d in preload_done if d is not None), default=None),
            "day_declarations_per_s": round(len(day) / day_s, 1) if day_s else None,
            "day_declarations_per_s_from_group_stable": round(len(day) / (day_s - (stable - start)), 1)
            if day_s and day_s > stable - start
            else None,
        }
        delta = {t: last.high.get(t, 0) - before.get(t, 0) for t in last.high}
        written = sum(delta.values())
        out["outputs"] = {
            "messages_written_all_topics": written,
            "messages_written_per_record": round(written / max(1, out["records"]), 2),
            "mailbox_messages": sum(n for t, n in delta.items() if ".mailbox." in t),
            "audit_messages": delta.get(stages.audit, 0),  # an AuditBatch holds several records
            "lookups": delta.get(stages.lookups, 0),
            "rejections": delta.get(stages.rejections, 0),
            "dead_letters": delta.get(stages.dead_letters, 0),
        }
        out["outputs_by_topic"] = outputs_by_topic(last.high, settings.topic_prefix)
        out["lag_over_time"] = [
            {"t": round(s.t - start, 1), **{k: stages.lag(s, k) for k in stages.stages}} for s in samples[::10]
        ]
        log(
            f"replay: {out['records']} records drained={ok} in {wall:.1f}s from worker start "
            f"({out['wall_from_group_stable_s']}s from group stable), {out['records_per_s']}/s; day part done at "
            f"{day_s}s; {written} messages written"
        )
    except core.BenchError as exc:
        log(f"replay error: {exc}")
        out["error"] = str(exc)
    finally:
        workers.stop()
        out["worker_log"] = core.log_digest(workers.processes["worker"].log_file)
        if not keep_topics:
            core.cleanup(settings)
        shutil.rmtree(state_dir, ignore_errors=True)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--citizens", type=int, default=100_000, help="population of the generated day")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="20 k citizens")
    parser.add_argument("--sample", type=int, default=0, help="drain N declarations through the worker now")
    parser.add_argument("--core-results", type=Path, help="bench_core results to take the platform rate from")
    parser.add_argument("--target-day", type=int, default=TARGET_DAY, help="declarations of the seed's full day")
    parser.add_argument("--output", type=Path, help="results file (default bench/results/replay[-quick].json)")
    parser.add_argument("--no-replay", action="store_true", help="skip the measured replay through a worker")
    parser.add_argument(
        "--replay-citizens", type=int, default=40_000, help="population of the measured replay (its integrations + day)"
    )
    parser.add_argument("--replay-timeout", type=float, default=600.0, help="longest wait of the replay drain, s")
    args = parser.parse_args()
    if args.quick and "--citizens" not in sys.argv:
        args.citizens = 20_000
    if args.quick and "--replay-citizens" not in sys.argv:
        args.replay_citizens = 2_000
    output: Path = args.output or RESULTS / ("replay-quick.json" if args.quick else "replay.json")

    base = Settings()
    tag = uuid.uuid4().hex[:8]
    settings = base.model_copy(update={"topic_prefix": f"bench{tag}", "app_id": f"crossroads-bench-{tag}"})
    try:
        AdminClient({**client_config(settings), "log_level": 0}).list_topics(timeout=5)
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
                topic, value = intake_topic(settings, item.schema), codec.encode(item.schema, dict(item.record))
                # sealed like DeclarationProducer seals, outside the timing: the baseline is the raw produce
                headers = intake_headers(settings, str(item.record["envelope"]["sender"]), topic, value)
                encoded.append((topic, key.encode() if key else None, value, headers))
        raw = Producer(producer_config(settings))
        t = time.perf_counter()
        for topic, key, value, headers in encoded:
            while True:
                try:
                    raw.produce(topic, key=key, value=value, headers=headers)
                    break
                except BufferError:
                    raw.poll(0.1)
            raw.poll(0)
        raw.flush(300)
        raw_s = time.perf_counter() - t
        results["raw_produce_baseline"] = {
            "messages": len(encoded),
            "mean_bytes": round(sum(len(v) for _, _, v, _ in encoded) / max(1, len(encoded)), 1),
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
    # 3. the measured replay: one worker, everything from offset 0
    if not args.no_replay:
        if args.replay_citizens == args.citizens:
            replay_population, replay_day = population, day
        else:
            replay_population = generate_population(args.replay_citizens, seed=args.seed)
            replay_day = list(generate_day(replay_population))
        # the live run first (the day produced once the integrations are drained), then its own intake log
        # replayed from offset 0 by a fresh worker: the same records, with the same times
        live = replay_settings()
        try:
            later = measured_replay(args, replay_population, replay_day, live, day_later=True, keep_topics=True)
            together = measured_replay(args, replay_population, replay_day, replay_settings(), log_of=live)
        finally:
            sys.path.insert(0, str(ROOT / "bench"))
            import bench_core as core

            core.cleanup(live)
        results["replay_measured"] = {"all_up_front": together, "day_after_preload": later}
        if "outputs_by_topic" in together and "outputs_by_topic" in later:
            results["faithful"] = faithfulness(together["outputs_by_topic"], later["outputs_by_topic"])
        day_rate = later.get("day_alone", {}).get("declarations_per_s")
        all_rate = together.get("records_per_s")
        results["extrapolation_from_measured"] = {
            "label": "EXTRAPOLATION from the MEASURED replay: target day / the day's measured rate (day_after_preload:"
            " this day's mix on a directory holding its files, assumed flat in the size of the day and the directory)",
            "day_declarations_per_s": day_rate,
            "target_day_platform_s": round(args.target_day / day_rate, 1) if day_rate else None,
            "replay_records_per_s": all_rate,
            "target_day_platform_s_at_replay_rate": round(args.target_day / all_rate, 1) if all_rate else None,
            "rate_needed_per_s": round(args.target_day / TARGET_S),
            "day_rate_vs_needed": round(day_rate / (args.target_day / TARGET_S), 4) if day_rate else None,
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
    if r := results.get("replay_measured"):
        m, x = r["all_up_front"], results["extrapolation_from_measured"]
        log(
            f"MEASURED replay of {m.get('records')} records ({m.get('integrations')} integrations + "
            f"{m.get('day_declarations')} day): {m.get('wall_s')}s from worker start, "
            f"{m.get('wall_from_group_stable_s')}s from group stable; the day alone after the preload "
            f"{x['day_declarations_per_s']}/s -> {args.target_day:,} in ~{x['target_day_platform_s']}s (extrapolated)"
        )
    if f := results.get("faithful"):
        log(
            f"faithful: {f['faithful']} (mailbox messages replay {f['mailbox_messages']['replay']} / live "
            f"{f['mailbox_messages']['live']}; {f['topics_differing']} of {f['topics_compared']} topics differ)"
        )
    log(f"wrote {output}")
    return 1 if any("error" in m for m in results.get("replay_measured", {}).values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
