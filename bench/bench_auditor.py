"""Audit bench: audit records chained per second by `crossroads worker` (its directory chains what other
components publish to the pending topic), against raw confluent-kafka measured in the same run.

    .venv/bin/python bench/bench_auditor.py [--entries 20000] [--quick]

Needs the broker (`.venv/bin/crossroads stack up`); ClickHouse is not used.  Everything runs under a private
topic prefix and app_id (removed at the end), with a temporary state dir.  Phases:

1. baseline  N AuditRecords chained as the worker writes them (same bytes, ~270 B), produced raw with
             `producer_config(settings)` to a scratch topic, then consumed back (bench_core's `baseline`):
             produce msgs/s, consume msgs/s, and both one after the other, N / (produce_s + consume_s) -- what
             the worker does per record (consume an entry, produce a record) without any decision.
2. backlog   N unchained entries (deliveries, refusals, consultations about 5,000 people), keyed by NISS, to
             the pending topic, before the worker starts.
3. worker    `PlatformWorkers(settings, commands=("worker",))` -- the production worker, intake and
             directory -- started; the audit topic's high watermarks are sampled every 20 ms until it holds N
             records.  "records/s" = N / (time of the last record - time of the first), i.e. without worker
             start-up.  Then until the group has committed the end of every topic it consumes (the directory
             writes a batch's audit records before it releases the batch's offsets), and the chains are read
             back and verified.

Writes bench/results/auditor.json (auditor-quick.json with --quick).  Run on demand; tests never assert timings.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

# bench_core is next to this script (whose directory Python puts first on sys.path); importing it also puts the
# repository on sys.path, for the imports below
from bench_core import (
    BenchError,
    CpuMeter,
    baseline,
    broker_pid,
    check_alive,
    cleanup,
    free_port,
    log,
    log_digest,
    machine_info,
)
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from streams.catalog import Area, by_key, platform_topics
from streams.codecs import AvroCodec, SchemaRegistry
from streams.domain.audit import (
    AUDIT_SCHEMA,
    GENESIS,
    chain,
    consultation_entry,
    delivery_entry,
    outputs_of,
    refusal_entry,
    verify_chain,
)
from streams.kafka.admin import TopicAdmin, wait_drained, wait_for_group
from streams.kafka.audit_log import read_partition
from streams.kafka.partitioner import PRODUCER_PARTITIONER
from streams.kafka.security import client_config
from streams.network_files import load_network
from streams.settings import Settings
from streams.stack.workers import PlatformWorkers
from topologies.app import create_app, source_topics

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
T0 = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)
SAMPLE_S = 0.02


def niss(n: int) -> str:
    first9 = f"85{n:07d}"
    return f"{first9}{97 - int(first9) % 97:02d}"


def entries(count: int) -> list[dict[str, Any]]:
    """Unchained entries as the flows make them: 3 deliveries, a refusal and a consultation in 5."""
    made = []
    for i in range(count):
        person, at, ticket = niss(i % 5000), T0 + dt.timedelta(seconds=i), f"bench-{i}"
        if i % 5 == 3:
            made.append(
                refusal_entry(ticket=ticket, actor="0999999999", person=person, data_type="x", reason="no", at=at)
            )
        elif i % 5 == 4:
            made.append(
                consultation_entry(
                    granted=True,
                    ticket=ticket,
                    actor="0206731645",
                    person=person,
                    data_type="be.crossroads.civil.Birth",
                    legal_basis="CSSS/09/001",
                    at=at,
                )
            )
        else:
            made.append(
                delivery_entry(
                    ticket=ticket,
                    actor="0212344876",
                    person=person,
                    data_type="be.crossroads.dimona.DimonaIn",
                    legal_basis="CSSS/11/042",
                    at=at,
                    source_ticket=f"fact-{i}",
                )
            )
    return made


def _decoded(codec: AvroCodec, value: bytes) -> tuple[str, dict[str, Any]]:
    decoded = codec.decode(value)
    return decoded.schema_name, decoded.record


class RecordCounter:
    """Counts the audit records written so far (an AuditBatch message holds several), reading the topic."""

    def __init__(self, consumer: Consumer, codec: AvroCodec, topic: str, partitions: int) -> None:
        self._consumer, self._codec = consumer, codec
        consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        self.records = 0

    def read(self) -> int:
        for message in self._consumer.consume(num_messages=1000, timeout=SAMPLE_S):
            if message.error() is None:
                self.records += len(outputs_of(*_decoded(self._codec, message.value() or b"")))
        return self.records


def produce_pending(settings: Settings, values: list[tuple[bytes, bytes]]) -> float:
    topic = by_key(Area.AUDIT, "pending").topic(settings.topic_prefix)
    producer = Producer({**client_config(settings), "partitioner": PRODUCER_PARTITIONER, "linger.ms": 20})
    start = time.perf_counter()
    for key, value in values:
        while True:
            try:
                producer.produce(topic, key=key, value=value)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    if producer.flush(60):
        raise BenchError("pending entries still undelivered after 60 s")
    return time.perf_counter() - start


def run(settings: Settings, count: int, timeout: float, results: dict[str, Any], workers: PlatformWorkers) -> None:
    codec = AvroCodec(SchemaRegistry.from_directory(settings.schema_dir))
    network = load_network(settings.network_dir)
    log(f"prefix {settings.topic_prefix}, app_id {settings.app_id}, state {settings.state_dir}")
    made = entries(count)
    pending = [(e["person"].encode(), codec.encode(AUDIT_SCHEMA, e)) for e in made]
    # what the worker writes: each entry with its two hashes (linked to GENESIS here: the size is the same)
    chained = [(e["person"], codec.encode(AUDIT_SCHEMA, chain(GENESIS, e))) for e in made]
    results["pending_entry_bytes_avg"] = round(sum(len(v) for _, v in pending) / count, 1)
    results["audit_record_bytes_avg"] = round(sum(len(v) for _, v in chained) / count, 1)

    log("applying topics")
    TopicAdmin(settings).apply(platform_topics(network.institutions))
    partitions = settings.default_partitions

    # 1. baseline ------------------------------------------------------------------------------------------------
    log(f"baseline: raw produce + consume of {count} AuditRecord-sized messages")
    raw = baseline(settings, chained, partitions)
    produce_s, consume_s = count / raw["produce_msgs_per_s"], (count - 1) / raw["consume_msgs_per_s"]
    raw["produce_consume_msgs_per_s"] = round(count / (produce_s + consume_s))
    results["baseline"] = raw
    log(
        f"  produce {raw['produce_msgs_per_s']}/s, consume {raw['consume_msgs_per_s']}/s, one then the other "
        f"{raw['produce_consume_msgs_per_s']}/s"
    )

    # 2. backlog -------------------------------------------------------------------------------------------------
    log(f"backlog: {count} unchained entries to the pending topic")
    results["pending_produce_s"] = round(produce_pending(settings, pending), 2)

    # 3. the worker ----------------------------------------------------------------------------------------------
    audit = by_key(Area.AUDIT, "exchanges").topic(settings.topic_prefix)
    probe = Consumer({**client_config(settings), "group.id": f"{settings.app_id}-probe"})
    try:
        log("starting `crossroads worker`")
        started = time.monotonic()
        workers.start()
        try:
            wait_for_group(settings, settings.app_id, timeout=120)
        except Exception as exc:
            check_alive(workers)
            raise BenchError(f"worker group never became stable: {exc}") from exc
        joined = time.monotonic()
        cpu = CpuMeter({"worker": workers.processes["worker"].pid(), "broker": broker_pid(), "bench": os.getpid()})
        first = None
        deadline = joined + timeout
        counter = RecordCounter(probe, codec, audit, partitions)
        while True:
            written = counter.read()
            now = time.monotonic()
            if written and first is None:
                first = now
            if written >= count:
                last = now
                break
            if now > deadline:
                raise BenchError(f"{written}/{count} audit records after {timeout:.0f} s")
            check_alive(workers)
        cpu_use = cpu.stop()
    finally:
        probe.close()
    sources = source_topics(create_app(settings))
    try:
        wait_drained(settings, settings.app_id, sources, timeout=timeout, check=workers.check)
    except Exception as exc:  # the worker died, or its group did not commit the end of its inputs in time
        raise BenchError(str(exc)) from exc
    drained = time.monotonic()

    records, duplicates, chains_ok = 0, 0, True
    for p in range(partitions):
        chain_p = [
            (m.offset, record)
            for m in read_partition(settings, audit, p)
            for _, record in outputs_of(*_decoded(codec, m.value))
        ]
        records += len(chain_p)
        duplicates += len(chain_p) - len({r["audit_id"] for _, r in chain_p})
        chains_ok &= verify_chain(chain_p).ok
    assert first is not None
    elapsed = max(last - first, 1e-3)
    rate = count / elapsed
    results["worker"] = {
        "records_on_audit_topic": records,
        "duplicates": duplicates,
        "chains_verify": chains_ok,
        "worker_start_to_group_s": round(joined - started, 2),
        "first_to_last_record_s": round(elapsed, 3),
        "group_joined_to_last_record_s": round(last - joined, 3),
        "group_joined_to_drained_s": round(drained - joined, 3),
        "records_per_s": round(rate, 1),
        "ratio_to_raw_produce_consume": round(rate / raw["produce_consume_msgs_per_s"], 4),
        "cpu_while_chaining": cpu_use,
    }
    log(f"  {count} records chained in {elapsed:.2f} s: {rate:.0f}/s; chains verify: {chains_ok}")
    if records != count or not chains_ok:
        raise BenchError(f"{records} records for {count} entries, chains verify: {chains_ok}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=20_000, help="audit entries published to the pending topic")
    parser.add_argument("--quick", action="store_true", help="smoke test: 2,000 entries")
    parser.add_argument("--timeout", type=float, default=300.0, help="longest wait for the worker, seconds")
    parser.add_argument("--output", type=Path, help="results file (default bench/results/auditor[-quick].json)")
    args = parser.parse_args()
    if args.quick and "--entries" not in sys.argv:
        args.entries = 2_000
    output: Path = args.output or RESULTS / ("auditor-quick.json" if args.quick else "auditor.json")

    tag = uuid.uuid4().hex[:8]
    state_dir = Path(tempfile.mkdtemp(prefix=f"crossroads-bench-aud-{tag}-"))
    settings = Settings().model_copy(
        update={
            "topic_prefix": f"benchaud{tag}",
            "app_id": f"crossroads-bench-aud-{tag}",
            "state_dir": state_dir,
            "web_port": free_port(),
        }
    )
    try:
        AdminClient({**client_config(settings), "log_level": 0}).list_topics(timeout=5)
    except KafkaException as exc:
        print(
            f"error: no Kafka broker answers at {settings.kafka_bootstrap} ({exc}).\n"
            "Start the local stack first: .venv/bin/crossroads stack up",
            file=sys.stderr,
        )
        return 2

    results: dict[str, Any] = {
        "bench": "auditor",
        "command": " ".join([".venv/bin/python", "bench/bench_auditor.py", *sys.argv[1:]]),
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine_info(settings),
        "parameters": {
            "entries": args.entries,
            "people": 5000,
            "partitions": settings.default_partitions,
            "path": "audit.pending -> `crossroads worker` (directory) -> audit.exchanges",
            "batch_max_events": settings.batch_max_events,
            "batch_within_ms": settings.batch_within_ms,
            "processing_guarantee": settings.processing_guarantee,
        },
    }
    workers = PlatformWorkers(settings, commands=("worker",))
    interrupted = False

    def on_term(*_: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    try:
        run(settings, args.entries, args.timeout, results, workers)
    except KeyboardInterrupt:
        interrupted = True
        log("interrupted: cleaning up")
    except BenchError as exc:
        log(f"error: {exc}")
        results["error"] = str(exc)
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second signal must not leave the worker behind
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        workers.stop()
        results["worker_log"] = log_digest(workers.processes["worker"].log_file)
        cleanup(settings)
        shutil.rmtree(state_dir, ignore_errors=True)
    if interrupted:
        return 130
    results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print_summary(results, output)
    return 1 if "error" in results else 0


def print_summary(results: dict[str, Any], output: Path) -> None:
    m = results["machine"]
    print()
    print(f"Crossroads audit bench — {results['command']}")
    print(
        f"  {m['nproc']} cpu, Python {m['python']}, Kafka {m['kafka']}, faust {m['faust']}, commit "
        f"{m['git_commit'][:10]}{' (dirty)' if m['git_dirty'] else ''}, load {m['load_average_at_start']} -> "
        f"{m.get('load_average_at_end')}"
    )
    if b := results.get("baseline"):
        print(
            f"  raw baseline ({b['messages']} msgs, {b['mean_message_bytes']} B): produce "
            f"{b['produce_msgs_per_s']:,}/s, consume {b['consume_msgs_per_s']:,}/s, produce then consume "
            f"{b['produce_consume_msgs_per_s']:,}/s"
        )
    if w := results.get("worker"):
        print(
            f"  crossroads worker: {w['records_per_s']:,} audit records chained/s ({w['records_on_audit_topic']:,} "
            f"records in {w['first_to_last_record_s']} s; {w['ratio_to_raw_produce_consume']:.2%} of raw produce then "
            f"consume), chains verify: {w['chains_verify']}, duplicates {w['duplicates']}"
        )
        print(
            f"    group stable {w['worker_start_to_group_s']} s after start; drained "
            f"{w['group_joined_to_drained_s']} s after; CPU while chaining (cores): {w['cpu_while_chaining']}"
        )
    if "error" in results:
        print(f"  ERROR: {results['error']}")
    print(f"  written to {output.relative_to(ROOT) if output.is_relative_to(ROOT) else output}")


if __name__ == "__main__":
    sys.exit(main())
