"""Inbound file-drop bench: records/s of `crossroads connectors inbound` on one DIMN file, with two baselines
measured in the same run on the same records.

    .venv/bin/python bench/bench_inbound.py [--records N] [--chunk N]

Needs the broker (`.venv/bin/crossroads stack up`). Everything runs under a private topic prefix, removed at the
end. Phases:

1. read+validate  the file read with streams.codecs.quality.read_records and every record judged exactly as the
                  connector does (conform -> encode -> decode -> validate), nothing produced;
2. raw produce    the encoded records of phase 1 produced with a bare confluent-kafka Producer (the connector's
                  producer config, no headers, no journal), flushed;
3. connector      InboundConnector.run(once=True) on the dropped file: formal pass, validation, produce with
                  headers, journal fsynced per chunk, NOTI and ACRF written, file archived.

Prints a summary and writes bench/results/inbound.json. Tests never assert timings.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

from streams.kafka.security import client_config

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from confluent_kafka import Producer

from connectors.files.inbound import InboundConnector
from connectors.files.samples import dimona_records, write_jsonl
from streams.catalog import Area, by_key, platform_topics
from streams.codecs.quality import read_records
from streams.domain.filedrop import FILE_TYPES
from streams.kafka.admin import TopicAdmin
from streams.kafka.producer import producer_config
from streams.kafka.sealing import Headers, intake_headers
from streams.settings import Settings

EMPLOYER = "0403170701"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=5_000)
    args = parser.parse_args()

    tag = uuid.uuid4().hex[:6]
    settings = Settings().model_copy(update={"topic_prefix": f"benchfd{tag}", "app_id": f"benchfd{tag}"})
    TopicAdmin(settings).apply(platform_topics())
    work = Path(tempfile.mkdtemp(prefix="bench-inbound-"))
    results: dict[str, object] = {}
    try:
        root = work / "root"
        (root / EMPLOYER).mkdir(parents=True)
        name = f"DIMN.{EMPLOYER}.20260127.00001.R"
        path = root / EMPLOYER / f"FI.{name}"
        write_jsonl(path, dimona_records(args.records, EMPLOYER, invalid_every=1000))
        size = path.stat().st_size
        topic = by_key(Area.INTAKE, "dimona").topic(settings.topic_prefix)

        # 1. read + validate
        connector = InboundConnector(settings, root, chunk=args.chunk)
        started = time.perf_counter()
        encoded: list[tuple[bytes | None, bytes, Headers]] = []
        for raw in read_records(path, "jsonl"):
            if raw.type_name == "TRAILER":
                continue
            verdict = connector.judge(
                raw.number, raw.type_name, raw.record, raw.error, FILE_TYPES["DIMN"], EMPLOYER, "R"
            )
            if verdict.value is not None:
                headers = intake_headers(settings, EMPLOYER, topic, verdict.value)  # as the connector seals
                encoded.append((verdict.key.encode() if verdict.key else None, verdict.value, headers))
        validate_s = time.perf_counter() - started

        # 2. raw produce of the same records
        producer = Producer(producer_config(settings, **{"linger.ms": 20, "queue.buffering.max.messages": 500_000}))
        started = time.perf_counter()
        for key, value, headers in encoded:
            while True:
                try:
                    producer.produce(topic, key=key, value=value, headers=headers)
                    break
                except BufferError:
                    producer.poll(0.1)
            producer.poll(0)
        assert producer.flush(120) == 0
        produce_s = time.perf_counter() - started

        # 3. the connector, end to end on the file
        (root / EMPLOYER / f"GO.{name}").touch()
        started = time.perf_counter()
        [outcome] = connector.run(once=True)
        connector_s = time.perf_counter() - started
        assert outcome.status == "ACCEPTED", outcome.reasons
        assert outcome.accepted == len(encoded), (outcome.accepted, len(encoded))

        n = args.records
        results = {
            "records": n,
            "accepted": outcome.accepted,
            "file_bytes": size,
            "chunk": args.chunk,
            "read_validate": {"seconds": round(validate_s, 2), "records_per_s": round(n / validate_s)},
            "raw_produce": {
                "seconds": round(produce_s, 2),
                "records_per_s": round(len(encoded) / produce_s),
                "note": "baseline: confluent-kafka, same encoded, sealed records, no validation/file headers/journal",
            },
            "connector": {"seconds": round(connector_s, 2), "records_per_s": round(n / connector_s)},
            "connector_vs_validate_only": round(validate_s / connector_s, 2),
            "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "system": platform.platform()},
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        print(json.dumps(results, indent=2))
        out = Path(__file__).resolve().parent / "results" / "inbound.json"
        out.write_text(json.dumps(results, indent=2) + "\n")
        print(f"written to {out}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        with contextlib.suppress(Exception):
            from confluent_kafka.admin import AdminClient

            admin = AdminClient({**client_config(settings)})
            names = [t for t in admin.list_topics(timeout=10).topics if t.startswith(settings.topic_prefix + ".")]
            for future in admin.delete_topics(names, operation_timeout=30).values():
                with contextlib.suppress(Exception):
                    future.result(timeout=30)


if __name__ == "__main__":
    main()
