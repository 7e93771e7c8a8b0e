"""Warehouse bench: projection rows/s (Kafka facts -> decode -> pseudonymize -> batched columnar inserts ->
offset commits) against loading the very same rows with `clickhouse-client ... FORMAT Native`.

    .venv/bin/python bench/bench_warehouse.py [--declarations 400 --lines 100]

Needs the local stack (`crossroads stack up`). Works under its own topic prefix and database, removed at the
end. Prints the figures and writes bench/results/warehouse.json. Run on demand; tests never assert timings.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from connectors.clickhouse import connect, migrate, warehouse_databases
from connectors.clickhouse.projector import Projector
from connectors.clickhouse.warehouse import warehouse_projections
from streams.catalog import CATALOG
from streams.codecs import AvroCodec, SchemaRegistry
from streams.kafka.admin import TopicAdmin
from streams.kafka.producer import producer_config
from streams.kafka.security import client_config
from streams.settings import Settings

RESULTS = Path(__file__).resolve().parent / "results" / "warehouse.json"


def _niss(n: int) -> str:
    birth = dt.date(1950, 1, 1) + dt.timedelta(days=n % 20000)
    body = f"{birth:%y%m%d}{n % 997 + 1:03d}"
    return f"{body}{97 - int(body) % 97:02d}"


def _declarations(count: int, lines: int) -> list[dict[str, Any]]:
    at = dt.datetime(2026, 4, 1, tzinfo=dt.UTC)
    result = []
    for d in range(count):
        employer = f"0{400000 + d % 50:07d}"
        employer += f"{97 - int(employer) % 97:02d}"
        result.append(
            {
                "envelope": {
                    "ticket": str(uuid.uuid4()),
                    "sender_reference": f"bench-{d}",
                    "sender": employer,
                    "environment": "PRODUCTION",
                    "recorded_at": at,
                    "schema_version": 1,
                },
                "employer": employer,
                "quarter": "2026-Q1",
                "nature": "ORIGINAL",
                "version": 1,
                "worker_lines": [
                    {
                        "worker": _niss(d * lines + n),
                        "worker_category": "WHITE_COLLAR",
                        "joint_committee": "200",
                        "days_worked": 60,
                        "gross_wage_cents": 1_000_000,
                        "assimilated_days": [{"reason": "SICKNESS", "days": 2}],
                    }
                    for n in range(lines)
                ],
            }
        )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--declarations", type=int, default=400)
    parser.add_argument("--lines", type=int, default=100)
    args = parser.parse_args()

    tag = uuid.uuid4().hex[:8]
    base = Settings()
    address = base.clickhouse
    database = f"crossroads_bench_{tag}"
    settings = base.model_copy(
        update={
            "clickhouse_url": f"clickhouse://{address.user}:{address.password}@{address.host}:{address.port}/{database}",
            "topic_prefix": f"bench{tag}",
            "app_id": f"crossroads-bench-{tag}",
        }
    )
    admin = connect(settings, "default")
    workdir = Path(tempfile.mkdtemp(prefix="bench-warehouse-"))
    try:
        TopicAdmin(settings).apply(CATALOG)
        migrate(admin, settings)
        codec = AvroCodec(SchemaRegistry.from_directory(settings.schema_dir))
        producer = Producer(producer_config(settings))
        for record in _declarations(args.declarations, args.lines):
            value = codec.encode("be.crossroads.dmfa.DmfaDeclaration", record)
            producer.produce(f"{settings.topic_prefix}.facts.dmfa.v1", key=record["employer"].encode(), value=value)
            producer.poll(0)
        producer.flush(60)

        projections = warehouse_projections(settings)
        projector = Projector(settings, projections, codec)
        # per worker line: a statistics row, an OASIS row, and a mapping row for each of the two purposes
        expected = args.declarations * args.lines * 4
        thread = threading.Thread(target=projector.run, kwargs={"idle_exit_s": 3.0})
        thread.start()
        while projector.stats.consumed == 0:
            time.sleep(0.005)
        started = time.perf_counter()
        while projector.stats.rows_written < expected and thread.is_alive():
            time.sleep(0.005)
        projected_s = time.perf_counter() - started
        thread.join()
        rows = projector.stats.rows_written
        projection_rows_s = rows / projected_s

        # the same rows, loaded by clickhouse-client in its native columnar format
        client_binary = shutil.which("clickhouse-client") or "clickhouse-client"
        base_args = [client_binary, "--host", address.host, "--port", str(address.port), "--user", address.user]
        if address.password:
            base_args += ["--password", address.password]
        tables = [(f"{database}.dmfa_lines", f"{database}.dmfa_lines_native"),
                  (f"{database}_oasis.dmfa_lines", f"{database}_oasis.dmfa_lines_native"),
                  (f"{database}_reid.pseudonyms", f"{database}_reid.pseudonyms_native")]  # fmt: skip
        files = []
        native_rows = 0
        for source, target in tables:
            path = workdir / f"{target}.native"
            with path.open("wb") as out:
                subprocess.run([*base_args, "--query", f"SELECT * FROM {source} FORMAT Native"], stdout=out, check=True)
            admin.execute(f"CREATE TABLE {target} AS {source}")
            native_rows += int(admin.execute(f"SELECT count() FROM {source}")[0][0])
            files.append((path, target))
        started = time.perf_counter()
        for path, target in files:
            with path.open("rb") as data:
                subprocess.run([*base_args, "--query", f"INSERT INTO {target} FORMAT Native"], stdin=data, check=True)
        native_s = time.perf_counter() - started
        native_rows_s = native_rows / native_s

        result = {
            "python": platform.python_version(),
            "machine": platform.machine(),
            "clickhouse": admin.execute("SELECT version()")[0][0],
            "declarations": args.declarations,
            "lines_per_declaration": args.lines,
            "projection": {
                "rows": rows,
                "seconds": projected_s,
                "rows_per_s": projection_rows_s,
                "flushes": projector.stats.flushes,
            },
            "clickhouse_client_native": {"rows": native_rows, "seconds": native_s, "rows_per_s": native_rows_s},
            "ratio_projection_vs_native": projection_rows_s / native_rows_s,
        }
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result, indent=2))
    finally:
        for name in warehouse_databases(database):
            admin.execute(f"DROP DATABASE IF EXISTS {name}")
        kafka = AdminClient({**client_config(settings)})
        names = [t for t in kafka.list_topics(timeout=10).topics if t.startswith(settings.topic_prefix + ".")]
        if names:
            for future in kafka.delete_topics(names, operation_timeout=30).values():
                future.result(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
