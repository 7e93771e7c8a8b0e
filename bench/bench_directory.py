"""Reference directory footprint: resident MB and disk MB per million entries, rebuild time from a changelog, and
lookups/s, for the current representation (a PersonFile in the packed format per NISS, what the faust table
`directory` holds), the Avro one it replaced, plain-dict baselines and compact proposals, each in its own
subprocess; plus µs per encode and decode of a typical person file in both formats.

    .venv/bin/python bench/bench_directory.py            # 1 M entries (~92 k persons), ~1-2 min
    .venv/bin/python bench/bench_directory.py --quick    # 200 k entries, fewer lookups
    .venv/bin/python bench/bench_directory.py --ten-million   # also 10 M entries (~920 k persons; minutes, GBs)
    .venv/bin/python bench/bench_directory.py --no-kafka      # skip the changelog rebuild (no broker needed)

Resident memory = VmRSS of a fresh subprocess after building the store minus VmRSS before (the records are
streamed from a scratch file, so the delta is the store, plus allocator slack). The files hold the directory
part of a PersonFile only (entries; no relations / stored facts, which the table also keeps). Disk: the changelog
bytes (key + value of every record) and the size of a RocksDB store (rocksdict, what faust's rocksdb:// uses)
after a full compaction. Rebuild: a plain confluent-kafka consumer reads the compacted scratch changelog back into
a dict. Lookups: get + decode + holders(as_of) on random keys.

Variants:
  keys_only        dict[NISS bytes -> b""]: the key + dict floor every dict-keyed store pays
  objects          dict[NISS bytes -> tuple[Entry, ...]]: decoded domain objects (plain-dict baseline)
  avro_memory      dict[NISS bytes -> Avro PersonFile]: the faust memory:// store before the packed format
  avro_rocksdb     rocksdict store of the same values: the rocksdb:// store before the packed format
  packed_memory    dict[NISS bytes -> encode_person_file value]: the current faust memory:// store (the platform's
                   packed format, streams/codecs/packed.py: tickets kept, every value round-trips)
  packed_rocksdb   rocksdict store of the same values: the current rocksdb:// store
  compact_ticket   dict[NISS bytes -> packed blob]: 24 B per entry (institution u16, sector+capacity u8,
                   start/end u16 days since 1950, status u8, ticket 16 raw bytes)
  compact          the same without the ticket: 8 B per entry
  compact_array    sorted array of NISS as u64 + u32 offsets + one blob (8 B per entry), bisect lookup
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import datetime as dt
import gc
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from array import array
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from streams.kafka.security import client_config

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))

from streams.codecs import AvroCodec, SchemaRegistry  # noqa: E402
from streams.codecs.person_file import (  # noqa: E402
    decode_person_file,
    encode_avro_person_file,
    encode_person_file,
)
from streams.domain.directory import Entry, PersonFile  # noqa: E402
from streams.settings import Settings  # noqa: E402

TARGET_MB_PER_MILLION = 24.0
ENTRIES_PER_PERSON = 10.85
EPOCH = dt.date(1950, 1, 1)  # u16 days: 1950-01-01 .. 2129-06-05
OPEN_END = 0xFFFF
ENTRY = struct.Struct("<HBHHB")  # institution, sector+capacity, start, end, status -> 8 bytes
TICKET = 16
VARIANTS = (
    "keys_only",
    "objects",
    "avro_memory",
    "avro_rocksdb",
    "packed_memory",
    "packed_rocksdb",
    "compact_ticket",
    "compact",
    "compact_array",
)


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def log(message: str) -> None:
    print(f"[directory {time.strftime('%H:%M:%S')}] {message}", flush=True)


# -- the data ---------------------------------------------------------------------------------------------------


def generate(entries: int, seed: int) -> tuple[list[tuple[bytes, PersonFile]], dt.date]:
    """Realistic person files from streams.synthetic (~10.85 entries per citizen, history included)."""
    from streams.synthetic import generate_population

    persons = max(1, round(entries / ENTRIES_PER_PERSON))
    population = generate_population(persons, seed=seed)
    files = []
    for citizen in population.citizens:
        files.append(
            (
                citizen.niss.encode(),
                PersonFile(
                    entries=tuple(
                        Entry(
                            e.institution,
                            e.sector,
                            e.capacity,
                            e.start,
                            e.end,
                            e.status,
                            str(uuid.uuid5(uuid.NAMESPACE_URL, f"{citizen.niss}/{i}")),
                        )
                        for i, e in enumerate(citizen.entries)
                    )
                ),
            )
        )
    return files, population.day


class Tables:
    """The compact encoding's dictionaries: institution -> u16, (sector, capacity) -> u8, status -> bit."""

    def __init__(self, institutions: list[str], roles: list[tuple[str, str]]) -> None:
        self.institutions, self.roles = institutions, roles
        self.inst_index = {x: i for i, x in enumerate(institutions)}
        self.role_index = {x: i for i, x in enumerate(roles)}

    @classmethod
    def of(cls, files: list[tuple[bytes, PersonFile]]) -> Tables:
        entries = [e for _, f in files for e in f.entries]
        return cls(sorted({e.institution for e in entries}), sorted({(e.sector, e.capacity) for e in entries}))

    def encode(self, file: PersonFile, ticket: bool) -> bytes:
        out = bytearray()
        for e in file.entries:
            start = (e.start - EPOCH).days
            end = OPEN_END if e.end is None else (e.end - EPOCH).days
            if not (0 <= start < OPEN_END and 0 <= end <= OPEN_END):
                raise ValueError(f"date out of the u16 range: {e}")
            out += ENTRY.pack(
                self.inst_index[e.institution],
                self.role_index[(e.sector, e.capacity)],
                start,
                end,
                1 if e.status == "DEFINITIVE" else 0,
            )
            if ticket:
                out += uuid.UUID(e.ticket).bytes
        return bytes(out)

    def decode(self, blob: bytes, ticket: bool) -> tuple[Entry, ...]:
        size = ENTRY.size + (TICKET if ticket else 0)
        entries = []
        for off in range(0, len(blob), size):
            inst, role, start, end, status = ENTRY.unpack_from(blob, off)
            sector, capacity = self.roles[role]
            entries.append(
                Entry(
                    self.institutions[inst],
                    sector,
                    capacity,
                    EPOCH + dt.timedelta(days=start),
                    None if end == OPEN_END else EPOCH + dt.timedelta(days=end),
                    "DEFINITIVE" if status else "PROVISIONAL",
                    str(uuid.UUID(bytes=blob[off + ENTRY.size : off + size])) if ticket else "",
                )
            )
        return tuple(entries)

    def holders(self, blob: bytes, ticket: bool, day: dt.date) -> list[Entry]:
        """as-of on the packed form: compare day numbers first, build Entry objects only for the active ones."""
        size = ENTRY.size + (TICKET if ticket else 0)
        d = (day - EPOCH).days
        active = []
        for off in range(0, len(blob), size):
            inst, role, start, end, status = ENTRY.unpack_from(blob, off)
            if start <= d and (end == OPEN_END or d <= end):
                sector, capacity = self.roles[role]
                active.append(
                    Entry(
                        self.institutions[inst],
                        sector,
                        capacity,
                        EPOCH + dt.timedelta(days=start),
                        None if end == OPEN_END else EPOCH + dt.timedelta(days=end),
                        "DEFINITIVE" if status else "PROVISIONAL",
                        str(uuid.UUID(bytes=blob[off + ENTRY.size : off + size])) if ticket else "",
                    )
                )
        return active


def write_records(path: Path, records: Iterator[tuple[bytes, bytes]]) -> int:
    total = 0
    with path.open("wb") as f:
        for key, value in records:
            f.write(struct.pack("<BI", len(key), len(value)) + key + value)
            total += len(key) + len(value)
    return total


def read_records(path: Path) -> Iterator[tuple[bytes, bytes]]:
    head = struct.Struct("<BI")
    with path.open("rb", buffering=1 << 20) as f:
        while chunk := f.read(head.size):
            klen, vlen = head.unpack(chunk)
            yield f.read(klen), f.read(vlen)


# -- one variant, in a fresh process ---------------------------------------------------------------------------------


def child(variant: str, workdir: Path, lookups: int) -> dict[str, Any]:
    meta = json.loads((workdir / "meta.json").read_text())
    tables = Tables(meta["institutions"], [tuple(r) for r in meta["roles"]])  # type: ignore[misc]
    day = dt.date.fromisoformat(meta["day"])
    codec = AvroCodec(SchemaRegistry.from_directory(Settings().schema_dir))
    source = workdir / ("compact_ticket.bin" if variant == "compact_ticket" else "compact.bin")
    if variant in ("keys_only", "objects", "avro_memory", "avro_rocksdb"):
        source = workdir / "avro.bin"
    elif variant in ("packed_memory", "packed_rocksdb"):
        source = workdir / "packed.bin"
    rng = random.Random(7)
    probe_keys = [k for k, _ in read_records(source)]
    probe = [rng.choice(probe_keys) for _ in range(lookups)]
    del probe_keys
    gc.collect()
    # warm the code paths (codec, struct, uuid) before the baseline reading
    _, first_value = next(read_records(source))
    if variant.startswith("compact"):
        tables.holders(first_value, variant == "compact_ticket", day)
    else:
        decode_person_file(codec, first_value).holders(day)
    gc.collect()
    before = rss_kb()
    t0 = time.perf_counter()
    extra: dict[str, Any] = {}
    get: Callable[[bytes], list[Entry]]
    if variant == "keys_only":
        keys: dict[bytes, bytes] = {k: b"" for k, _ in read_records(source)}

        def get(k: bytes) -> list[Entry]:
            keys[k]  # the dict probe only
            return []

        count = len(keys)
    elif variant == "objects":
        objects = {k: decode_person_file(codec, v).entries for k, v in read_records(source)}

        def get(k: bytes) -> list[Entry]:
            return [e for e in objects[k] if e.active_on(day)]

        count = len(objects)
    elif variant in ("avro_memory", "packed_memory"):
        store = dict(read_records(source))

        def get(k: bytes) -> list[Entry]:
            return decode_person_file(codec, store[k]).holders(day)

        count = len(store)
    elif variant in ("avro_rocksdb", "packed_rocksdb"):
        from rocksdict import Rdict

        path = workdir / variant
        db = Rdict(str(path))
        for k, v in read_records(source):
            db[k] = v
        db.flush()
        db.compact_range(None, None)
        extra["disk_bytes"] = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        extra["disk_sst_bytes"] = sum(p.stat().st_size for p in path.rglob("*.sst"))

        def get(k: bytes) -> list[Entry]:
            return decode_person_file(codec, db[k]).holders(day)

        count = int(meta["persons"])
    elif variant in ("compact_ticket", "compact"):
        blobs = dict(read_records(source))
        with_ticket = variant == "compact_ticket"

        def get(k: bytes) -> list[Entry]:
            return tables.holders(blobs[k], with_ticket, day)

        count = len(blobs)
    elif variant == "compact_array":
        niss = array("Q")  # the files are written in NISS order: stream straight into the arrays
        offsets = array("I", [0])
        buffer = bytearray()
        for k, v in read_records(source):
            niss.append(int(k))
            buffer += v
            offsets.append(len(buffer))
        blob = bytes(buffer)
        del buffer

        def get(k: bytes) -> list[Entry]:
            i = bisect.bisect_left(niss, int(k))
            return tables.holders(blob[offsets[i] : offsets[i + 1]], False, day)

        count = len(niss)
    else:
        raise SystemExit(f"unknown variant {variant}")
    build_s = time.perf_counter() - t0
    gc.collect()
    after = rss_kb()
    t1 = time.perf_counter()
    found = 0
    for k in probe:
        found += len(get(k))
    lookup_s = time.perf_counter() - t1
    return {
        "variant": variant,
        "persons": count,
        "rss_delta_mb": round((after - before) / 1024, 2),
        "build_s": round(build_s, 2),
        "lookups": len(probe),
        "lookups_per_s": round(len(probe) / lookup_s) if lookup_s else None,
        "active_entries_per_lookup": round(found / max(1, len(probe)), 2),
        **extra,
    }


# -- encode / decode of one person file ------------------------------------------------------------------------------


def codec_timings(codec: AvroCodec, files: list[tuple[bytes, PersonFile]]) -> dict[str, Any]:
    """µs per encode and per decode of one typical person file (the median entry count), Avro and packed: what the
    directory stage pays per event on top of the rules (decode the file, re-encode it when it changed)."""
    counts = sorted(len(f.entries) for _, f in files)
    typical = counts[len(counts) // 2]
    file = next(f for _, f in files if len(f.entries) == typical)

    def best_us(fn: Callable[[], object], number: int = 2000) -> float:
        runs = []
        for _ in range(5):
            t = time.perf_counter()
            for _ in range(number):
                fn()
            runs.append(time.perf_counter() - t)
        return round(min(runs) / number * 1e6, 2)

    avro, packed = encode_avro_person_file(codec, file), encode_person_file(codec, file)
    assert decode_person_file(codec, avro) == file == decode_person_file(codec, packed)
    return {
        "entries": typical,
        "avro": {
            "bytes": len(avro),
            "encode_us": best_us(lambda: encode_avro_person_file(codec, file)),
            "decode_us": best_us(lambda: decode_person_file(codec, avro)),
        },
        "packed": {
            "bytes": len(packed),
            "encode_us": best_us(lambda: encode_person_file(codec, file)),
            "decode_us": best_us(lambda: decode_person_file(codec, packed)),
        },
    }


# -- the changelog rebuild -------------------------------------------------------------------------------------------


def rebuild(settings: Settings, workdir: Path, name: str, tag: str) -> dict[str, Any]:
    """Produce the records to a compacted scratch topic, then time reading it back into a dict (what a standby or
    a restarted worker does for its partitions)."""
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic

    topic = f"bench{tag}.scratch.directory-{name.replace('_', '-')}.v1"
    admin = AdminClient({**client_config(settings), "log_level": 0})
    partitions = settings.default_partitions
    for future in admin.create_topics(
        [NewTopic(topic, partitions, 1, config={"cleanup.policy": "compact"})], operation_timeout=30
    ).values():
        future.result(timeout=30)
    try:
        producer = Producer({**client_config(settings), "linger.ms": 20, "log_level": 0})
        t = time.perf_counter()
        sent = 0
        for k, v in read_records(workdir / f"{name}.bin"):
            while True:
                try:
                    producer.produce(topic, key=k, value=v)
                    break
                except BufferError:
                    producer.poll(0.1)
            sent += 1
        producer.flush(60)
        produce_s = time.perf_counter() - t
        consumer = Consumer(
            {
                **client_config(settings),
                "group.id": f"bench-dir-{tag}",
                "enable.auto.commit": False,
                "log_level": 0,
            }
        )
        consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        table: dict[bytes, bytes] = {}
        t = time.perf_counter()
        seen = 0
        deadline = time.monotonic() + 120
        while seen < sent and time.monotonic() < deadline:
            for message in consumer.consume(10_000, 1.0):
                if message.error() is None:
                    table[message.key()] = message.value()  # type: ignore[index]
                    seen += 1
        rebuild_s = time.perf_counter() - t
        consumer.close()
        return {
            "records": sent,
            "produce_s": round(produce_s, 2),
            "rebuild_s": round(rebuild_s, 2),
            "rebuild_records_per_s": round(seen / rebuild_s) if rebuild_s else None,
            "complete": seen >= sent,
        }
    finally:
        with contextlib.suppress(Exception):
            for future in admin.delete_topics([topic], operation_timeout=30).values():
                future.result(timeout=30)


# -- the driver ----------------------------------------------------------------------------------------------------


def measure(entries_wanted: int, lookups: int, kafka: bool, tag: str) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"crossroads-bench-dir-{tag}-"))
    try:
        t = time.perf_counter()
        files, day = generate(entries_wanted, seed=11)
        files.sort(key=lambda kf: int(kf[0]))  # NISS order (compact_array streams into sorted arrays)
        entries = sum(len(f.entries) for _, f in files)
        log(f"{len(files)} persons, {entries} entries generated in {time.perf_counter() - t:.1f}s")
        codec = AvroCodec(SchemaRegistry.from_directory(Settings().schema_dir))
        tables = Tables.of(files)
        codec_us = codec_timings(codec, files)
        log(f"person file codec, µs for a typical {codec_us['entries']}-entry file: {codec_us}")
        changelog_bytes = {
            "avro": write_records(workdir / "avro.bin", ((k, encode_avro_person_file(codec, f)) for k, f in files)),
            "packed": write_records(workdir / "packed.bin", ((k, encode_person_file(codec, f)) for k, f in files)),
            "compact_ticket": write_records(
                workdir / "compact_ticket.bin", ((k, tables.encode(f, True)) for k, f in files)
            ),
            "compact": write_records(workdir / "compact.bin", ((k, tables.encode(f, False)) for k, f in files)),
        }
        (workdir / "meta.json").write_text(
            json.dumps(
                {
                    "institutions": tables.institutions,
                    "roles": tables.roles,
                    "day": day.isoformat(),
                    "persons": len(files),
                }
            )
        )
        persons = len(files)
        del files
        per_million = 1_000_000 / entries
        variants = []
        for variant in VARIANTS:
            out = subprocess.run(
                [sys.executable, __file__, "--child", variant, "--workdir", str(workdir), "--lookups", str(lookups)],
                capture_output=True,
                text=True,
                timeout=1800,
            )
            if out.returncode != 0:
                log(f"{variant} failed: {out.stderr.strip()[-400:]}")
                variants.append({"variant": variant, "error": out.stderr.strip()[-400:]})
                continue
            row = json.loads(out.stdout.strip().splitlines()[-1])
            row["rss_mb_per_million_entries"] = round(row["rss_delta_mb"] * per_million, 1)
            row["vs_target_24mb"] = round(row["rss_mb_per_million_entries"] / TARGET_MB_PER_MILLION, 2)
            if "disk_bytes" in row:
                row["disk_mb_per_million_entries"] = round(row["disk_bytes"] / 1e6 * per_million, 1)
            variants.append(row)
            log(
                f"  {variant:15} {row['rss_mb_per_million_entries']:7.1f} MB RSS / M entries "
                f"({row['vs_target_24mb']}x target), {row['lookups_per_s']} lookups/s"
            )
        rebuilds = {}
        if kafka:
            settings = Settings()
            for name in ("avro", "packed", "compact_ticket"):
                try:
                    rebuilds[name] = rebuild(settings, workdir, name, tag)
                    log(f"  rebuild {name}: {rebuilds[name]}")
                except Exception as exc:  # the broker may be down: the memory figures still stand
                    rebuilds[name] = {"error": str(exc)}
                    log(f"  rebuild {name} failed: {exc}")
        return {
            "entries": entries,
            "persons": persons,
            "entries_per_person": round(entries / persons, 2),
            "day": day.isoformat(),
            "changelog_bytes": changelog_bytes,
            "changelog_mb_per_million_entries": {
                k: round(v / 1e6 * per_million, 1) for k, v in changelog_bytes.items()
            },
            "variants": variants,
            "rebuild_from_changelog": rebuilds,
            "person_file_codec_us": codec_us,
        }
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000, help="directory entries (default 1 M)")
    parser.add_argument("--ten-million", action="store_true", help="also measure 10 M entries (slow, GBs of RAM)")
    parser.add_argument("--lookups", type=int, default=50_000, help="random lookups per variant")
    parser.add_argument("--quick", action="store_true", help="200 k entries, 10 k lookups")
    parser.add_argument("--no-kafka", action="store_true", help="skip the changelog rebuild (no broker needed)")
    parser.add_argument("--output", type=Path, help="results file (default bench/results/directory[-quick].json)")
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.workdir, args.lookups)))
        return 0
    if args.quick:
        args.entries = 200_000 if "--entries" not in sys.argv else args.entries
        args.lookups = 10_000 if "--lookups" not in sys.argv else args.lookups
    output: Path = args.output or RESULTS / ("directory-quick.json" if args.quick else "directory.json")
    tag = uuid.uuid4().hex[:8]
    sizes = [args.entries] + ([10_000_000] if args.ten_million else [])
    results: dict[str, Any] = {
        "bench": "directory",
        "command": " ".join([".venv/bin/python", "bench/bench_directory.py", *sys.argv[1:]]),
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "target_rss_mb_per_million_entries": TARGET_MB_PER_MILLION,
        "note": "entries only (no relations / stored facts); RSS = VmRSS delta of a fresh subprocess per variant",
        "sizes": {},
    }
    for size in sizes:
        log(f"measuring {size:,} entries")
        results["sizes"][str(size)] = measure(size, args.lookups, not args.no_kafka, tag)
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2) + "\n")
    log(f"wrote {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
