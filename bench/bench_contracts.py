"""Contracts bench: codec encode+decode and intake validation, µs per record, against an orjson baseline.

    .venv/bin/python bench/bench_contracts.py [--seconds 1.0]

Prints a table and writes bench/results/contracts.json.  Run on demand; tests never assert timings.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from streams.codecs import AvroCodec, InMemorySchemaRegistry, SchemaRegistry
from streams.domain.kinds import validate
from streams.domain.samples import sample_dimona_in, sample_dmfa

RESULTS = Path(__file__).resolve().parent / "results" / "contracts.json"


def per_call_us(fn: Callable[[], object], seconds: float) -> float:
    """Best of 5 runs of a perf_counter loop sized to last about seconds/5 each."""
    fn()  # warm caches (schema ids, writers)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < 0.05:
        fn()
        n += 1
    loops = max(1, int(n * seconds / 5 / 0.05))
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(loops):
            fn()
        best = min(best, (time.perf_counter() - start) / loops)
    return best * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=1.0, help="time budget per measurement")
    args = parser.parse_args()
    registry = SchemaRegistry.from_directory()
    single = AvroCodec(registry)
    confluent = AvroCodec(registry, confluent_client=InMemorySchemaRegistry())
    cases: dict[str, tuple[str, dict[str, Any]]] = {
        "dimona_in": ("be.crossroads.dimona.DimonaIn", sample_dimona_in()),
        "dmfa_50_lines": ("be.crossroads.dmfa.DmfaDeclaration", sample_dmfa(lines=50)),
    }
    results: dict[str, Any] = {"python": platform.python_version(), "machine": platform.machine(), "cases": {}}
    for label, (name, record) in cases.items():
        data = single.encode(name, record)
        baseline = orjson.dumps(record)
        row = {
            "avro_bytes": len(data),
            "json_bytes": len(baseline),
            "encode_decode_us": per_call_us(lambda n=name, r=record: single.decode(single.encode(n, r)), args.seconds),
            "encode_decode_confluent_us": per_call_us(
                lambda n=name, r=record: confluent.decode(confluent.encode(n, r, topic="t")), args.seconds
            ),
            "encode_us": per_call_us(lambda n=name, r=record: single.encode(n, r), args.seconds),
            "decode_us": per_call_us(lambda d=data: single.decode(d), args.seconds),
            "validate_us": per_call_us(lambda n=name, r=record: validate(n, r), args.seconds),
            "orjson_encode_decode_us": per_call_us(lambda r=record: orjson.loads(orjson.dumps(r)), args.seconds),
        }
        row["ratio_avro_vs_orjson"] = row["encode_decode_us"] / row["orjson_encode_decode_us"]
        results["cases"][label] = row
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    header = (
        f"{'case':<15}{'enc+dec':>10}{'confluent':>11}{'enc':>9}{'dec':>9}{'validate':>10}{'orjson':>9}{'ratio':>7}"
    )
    print(header + "   (µs per record)")
    for label, row in results["cases"].items():
        print(
            f"{label:<15}{row['encode_decode_us']:>10.1f}{row['encode_decode_confluent_us']:>11.1f}"
            f"{row['encode_us']:>9.1f}{row['decode_us']:>9.1f}{row['validate_us']:>10.1f}"
            f"{row['orjson_encode_decode_us']:>9.1f}{row['ratio_avro_vs_orjson']:>7.1f}"
        )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
