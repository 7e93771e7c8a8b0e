"""Auditor bench: audit records chained per second by the auditor running alone, before and after batching.

    .venv/bin/python bench/bench_auditor.py [--entries 20000] [--variants before,batch-1,after]

Needs the broker (`.venv/bin/crossroads stack up`).  For each variant, under a private topic prefix and app_id
(removed at the end): the pending, audit and dead-letter topics are created from the catalog, N unchained
entries (deliveries, refusals and consultations about 5,000 people) are published to the pending topic, then
an auditor-only faust worker (the production `create_app` with one flow, in a subprocess) is started and the
audit topic's high watermarks are sampled every 20 ms until it holds N records; the chains are then read back
and verified.  "records/s" = N / (time of the last record - time of the first), i.e. without worker start-up.

Variants:
  before   the auditor as committed at git HEAD (`git show HEAD:topologies/auditor.py`, loaded as a module):
           one record at a time, awaiting each acknowledgement -- the baseline, measured in the same run;
  batch-1  the working tree's auditor with batch_max=1 (the batched code path degenerated to one record);
  after    the working tree's auditor with its defaults (BATCH_MAX, BATCH_WITHIN_S).
Writes bench/results/auditor.json.  Run on demand; tests never assert timings.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from streams.catalog import Area, by_key  # noqa: E402
from streams.codecs import AvroCodec, SchemaRegistry  # noqa: E402
from streams.domain.audit import AUDIT_SCHEMA, consultation_entry, delivery_entry, refusal_entry  # noqa: E402
from streams.kafka.admin import TopicAdmin, wait_for_group  # noqa: E402
from streams.kafka.audit_log import read_partition  # noqa: E402
from streams.kafka.partitioner import PRODUCER_PARTITIONER  # noqa: E402
from streams.settings import Settings  # noqa: E402

T0 = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)


# -- the worker (subprocess) -----------------------------------------------------------------------------------
def _before_module(tmp: Path) -> Any:
    source = subprocess.run(
        ["git", "show", "HEAD:topologies/auditor.py"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    path = tmp / "auditor_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("auditor_before", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def worker(variant: str) -> None:
    import logging

    from faust.worker import Worker

    from topologies import auditor
    from topologies.app import create_app

    with tempfile.TemporaryDirectory() as tmp:
        flow: Any
        if variant == "before":
            flow = _before_module(Path(tmp))
        elif variant == "batch-1":
            flow = auditor.AuditorFlow(batch_max=1)
        else:
            flow = auditor.AuditorFlow()
        app = create_app(Settings(), flows=[flow])
        logging.getLogger("aiokafka").setLevel(logging.WARNING)
        Worker(app, loglevel="warning", quiet=True).execute_from_commandline()


# -- the driver ------------------------------------------------------------------------------------------------
def niss(n: int) -> str:
    first9 = f"85{n:07d}"
    return f"{first9}{97 - int(first9) % 97:02d}"


def entries(count: int) -> list[dict[str, Any]]:
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


def _high_watermarks(consumer: Consumer, topic: str, partitions: int) -> int:
    return sum(consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in range(partitions))


def run_variant(variant: str, values: list[tuple[bytes, bytes]], base: Settings, log_dir: Path) -> dict[str, Any]:
    from streams.domain.audit import verify_chain

    tag = uuid.uuid4().hex[:6]
    settings = base.model_copy(
        update={"topic_prefix": f"bench-aud-{tag}", "app_id": f"bench-aud-{tag}", "web_port": 16090}
    )
    specs = [by_key(Area.AUDIT, "pending"), by_key(Area.AUDIT, "exchanges"), by_key(Area.OUTCOMES, "dead-letters")]
    TopicAdmin(settings).apply(specs)
    pending, audit = specs[0].topic(settings.topic_prefix), specs[1].topic(settings.topic_prefix)
    producer = Producer(
        {"bootstrap.servers": settings.kafka_bootstrap, "partitioner": PRODUCER_PARTITIONER, "linger.ms": 20}
    )
    for key, value in values:
        producer.produce(pending, key=key, value=value)
        producer.poll(0)
    assert producer.flush(30) == 0

    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": f"bench-probe-{tag}"})
    partitions = settings.default_partitions
    log = log_dir / f"auditor-{variant}-{tag}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, __file__, "--worker", variant],
            env={**os.environ, **settings.as_env()},
            stdout=out,
            stderr=out,
        )
    try:
        started = time.monotonic()
        wait_for_group(settings, settings.app_id, timeout=60)
        joined = time.monotonic()
        first = last = None
        deadline = joined + 600
        while True:
            count, now = _high_watermarks(consumer, audit, partitions), time.monotonic()
            if count and first is None:
                first = now
            if count >= len(values):
                last = now
                break
            if now > deadline or process.poll() is not None:
                raise RuntimeError(f"{variant}: {count}/{len(values)} audit records (see {log})")
            time.sleep(0.02)
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        consumer.close()

    codec = AvroCodec(SchemaRegistry.from_directory(settings.schema_dir))
    chains_ok, records = True, 0
    for p in range(partitions):
        chained = [(m.offset, codec.decode(m.value).record) for m in read_partition(settings.kafka_bootstrap, audit, p)]
        records += len(chained)
        chains_ok &= verify_chain(chained).ok
    AdminClient({"bootstrap.servers": settings.kafka_bootstrap}).delete_topics(
        [pending, audit, specs[2].topic(settings.topic_prefix)]
    )
    assert first is not None and last is not None
    elapsed = max(last - first, 1e-3)
    result = {
        "variant": variant,
        "entries": len(values),
        "records_on_audit_topic": records,
        "chains_verify": chains_ok,
        "worker_start_to_group_s": round(joined - started, 2),
        "first_to_last_record_s": round(elapsed, 3),
        "group_joined_to_last_record_s": round(last - joined, 3),
        "records_per_s": round(len(values) / elapsed, 1),
    }
    print(json.dumps(result), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=20_000)
    parser.add_argument("--variants", default="before,batch-1,after")
    parser.add_argument("--worker")
    args = parser.parse_args()
    if args.worker:
        worker(args.worker)
        return

    from topologies import auditor
    from topologies.app import create_app

    base = Settings()
    codec = AvroCodec(SchemaRegistry.from_directory(base.schema_dir))
    values = [(e["person"].encode(), codec.encode(AUDIT_SCHEMA, e)) for e in entries(args.entries)]
    conf = create_app(base, flows=[]).conf
    log_dir = base.state_dir / "bench"
    log_dir.mkdir(parents=True, exist_ok=True)
    results = [run_variant(v, values, base, log_dir) for v in args.variants.split(",")]
    by_name = {r["variant"]: r for r in results}
    summary: dict[str, Any] = {
        "bench": "auditor",
        "command": "   ".join(["python bench/bench_auditor.py", *sys.argv[1:]]),
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "host": {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count()},
        "kafka_bootstrap": base.kafka_bootstrap,
        "partitions": base.default_partitions,
        "batch_max": auditor.BATCH_MAX,
        "batch_within_s": auditor.BATCH_WITHIN_S,
        "producer": {
            "acks": conf.producer_acks,
            "linger_s": conf.producer_linger,
            "max_batch_size": conf.producer_max_batch_size,
            "max_request_size": conf.producer_max_request_size,
            "processing_guarantee": str(conf.processing_guarantee),
        },
        "pending_entry_bytes_avg": round(sum(len(v) for _, v in values) / len(values), 1),
        "results": results,
    }
    if "before" in by_name and "after" in by_name:
        summary["speedup_after_vs_before"] = round(
            by_name["after"]["records_per_s"] / by_name["before"]["records_per_s"], 1
        )
    out = ROOT / "bench" / "results" / "auditor.json"
    out.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
