"""Core bench: end-to-end declarations/s and declaration -> mailbox latency of `crossroads worker`, on the local
stack, against a raw confluent-kafka baseline measured in the same run.

    .venv/bin/python bench/bench_core.py [--declarations N] [--people N] [--quick] [--profile pyinstrument|cprofile]

Needs the broker (`.venv/bin/crossroads stack up`); ClickHouse is not used (the projector is not started).
Everything runs under a private topic prefix and app_id, removed at the end. Phases:

1. baseline   the declarations of the mix, encoded once, produced raw (same producer config as
              DeclarationProducer) to a scratch topic, then consumed back: messages/s and MB/s.
2. preload    `crossroads worker` started alone (PlatformWorkers(settings, commands=("worker",))); N people
              registered at 3-4 institutions each (distinct sectors, so the anti-fraud overlap rule never
              refuses); done when every integration's acknowledgement is in the institutions' mailboxes.
3. throughput the mix (address changes, rare deaths, DIMONA in/out, DmfA of 2-5 lines) produced as fast as
              DeclarationProducer goes; the worker group's committed offsets and every topic's high watermark
              are sampled every 0.5 s. "sustained" = declarations / drain time, i.e. from the first send to the
              moment the last output of the last declaration was written (all lags 0, audit trail complete).
4. latency    open-loop load at half the sustained rate (send at fixed intervals whatever happens); each
              declaration carries its scheduled send time in envelope.sender_reference; a consumer on the
              institutions' mailboxes decodes every Notification's payload to find it. Latency per notification
              = broker CreateTime of the notification - scheduled send time (and consumer receive time - ...).

Prints a summary and writes bench/results/core.json (core-profile.json with --profile, core-quick.json with
--quick). Run on demand; tests never assert timings.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic, OffsetSpec

from streams.kafka.security import client_config

ROOT = Path(__file__).resolve().parent.parent


def _snapshot_of_head() -> Path | None:
    """--head: the platform code as committed (git archive HEAD), so that edits in the working tree made while
    the bench runs (another engineer, a mutation run) cannot change the code the worker imports."""
    if "--head" not in sys.argv:
        return None
    target = Path(tempfile.mkdtemp(prefix="crossroads-bench-head-"))
    archive = subprocess.run(["git", "archive", "HEAD"], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(target), os.environ.get("PYTHONPATH")]))
    return target


SOURCE = _snapshot_of_head()
CODE_ROOT = SOURCE or ROOT
sys.path.insert(0, str(CODE_ROOT))

from streams.catalog import Area, by_key, mailbox, platform_topics  # noqa: E402
from streams.codecs import AvroCodec, SchemaRegistry  # noqa: E402
from streams.deployment import grant_deployment  # noqa: E402
from streams.domain.audit import outputs_of  # noqa: E402
from streams.domain.kinds import subject_key, validate  # noqa: E402
from streams.kafka.admin import TopicAdmin, delete_run_topics, wait_for_group  # noqa: E402
from streams.kafka.audit_log import read_range  # noqa: E402
from streams.kafka.producer import DeclarationProducer, producer_config  # noqa: E402
from streams.network_files import load_network  # noqa: E402
from streams.settings import Settings  # noqa: E402
from streams.stack.workers import PlatformWorkers  # noqa: E402

RESULTS = ROOT / "bench" / "results"
NATIONAL_REGISTER = "0367302178"
RECORDED_AT = dt.datetime(2026, 11, 27, 9, tzinfo=dt.UTC)
SAMPLE_S = 0.5

ADDRESS = "be.crossroads.civil.AddressChange"
DEATH = "be.crossroads.civil.Death"
DIMONA_IN = "be.crossroads.dimona.DimonaIn"
DIMONA_OUT = "be.crossroads.dimona.DimonaOut"
DMFA = "be.crossroads.dmfa.DmfaDeclaration"
INTEGRATION = "be.crossroads.directory.Integration"
NOTIFICATION = "be.crossroads.outputs.Notification"


class BenchError(RuntimeError):
    """A wait timed out or the stack is not there: printed as one clear line."""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- identifiers and declarations ------------------------------------------------------------------------------


def niss_of(i: int) -> str:
    """The i-th person of the population: a checksum-valid national number, unique for i < 18,000 * 499."""
    birth = dt.date(1950, 1, 1) + dt.timedelta(days=i % 18000)
    serial = 1 + 2 * (i // 18000)
    body = f"{birth:%y%m%d}{serial:03d}"
    base = int(("2" if birth.year >= 2000 else "") + body)
    return f"{body}{97 - base % 97:02d}"


def enterprise_of(k: int) -> str:
    """A checksum-valid (fictitious) enterprise number: 8 digits starting with 0, then 97 - (them mod 97)."""
    first = 4_031_707 + 1_013 * k
    return f"{first:08d}{97 - first % 97:02d}"


def envelope(sender: str, reference: str) -> dict[str, Any]:
    return {
        "ticket": None,
        "sender_reference": reference,
        "sender": sender,
        "environment": "PRODUCTION",
        "recorded_at": RECORDED_AT,
        "schema_version": 1,
    }


@dataclass
class Population:
    """The people, where they are registered, and the DIMONA relations opened during the run."""

    people: list[str]
    integrations: list[tuple[str, dict[str, Any]]]
    employers: list[str]
    rng: random.Random
    open_relations: list[tuple[str, str, dt.date]] = field(default_factory=list)  # worker, employer, start
    next_start: dict[str, int] = field(default_factory=dict)
    dead: set[str] = field(default_factory=set)
    quarters: dict[str, int] = field(default_factory=dict)
    sequence: int = 0

    @classmethod
    def build(cls, settings: Settings, people: int, seed: int = 7) -> Population:
        network = load_network(settings.network_dir)
        by_sector: dict[str, list[str]] = {}
        for number, member in sorted(network.institutions.items()):
            by_sector.setdefault(member.sector, []).append(number)
        sectors = {code: sorted(sector.capacities) for code, sector in network.sectors.items() if code in by_sector}
        rng = random.Random(seed)
        persons = [niss_of(i) for i in range(people)]
        integrations = []
        for i, person in enumerate(persons):
            # distinct sectors: never the same sector + capacity at two institutions (the directory refuses it)
            for sector in rng.sample(sorted(sectors), 3 + (i % 2)):
                institution = rng.choice(by_sector[sector])
                integrations.append(
                    (
                        INTEGRATION,
                        {
                            "envelope": envelope(institution, f"pre-{i}-{sector}"),
                            "action": "REGISTER",
                            "person": person,
                            "institution": institution,
                            "sector": sector,
                            "capacity": rng.choice(sectors[sector]),
                            "period": {"start": dt.date(2020, 1, 1), "end": None},
                            "status": "DEFINITIVE",
                        },
                    )
                )
        return cls(persons, integrations, [enterprise_of(k) for k in range(40)], rng)

    def _person(self) -> str:
        while True:
            person = self.rng.choice(self.people)
            if person not in self.dead:
                return person

    def next(self, reference: str) -> tuple[str, dict[str, Any]]:
        """One declaration of the mix: 40% address change, 0.5% death, 25% DIMONA IN, ~15% DIMONA OUT (of a
        relation opened earlier in the run), the rest DmfA with 2-5 worker lines."""
        self.sequence += 1
        draw = self.rng.random()
        if draw < 0.40:
            person = self._person()
            return ADDRESS, {
                "envelope": envelope(NATIONAL_REGISTER, reference),
                "person": person,
                "effective_date": dt.date(2026, 1, 1) + dt.timedelta(days=self.sequence % 300),
                "address": {
                    "street": "Rue de la Loi",
                    "number": str(1 + self.sequence % 200),
                    "box": None,
                    "postal_code": "1000",
                    "municipality_nis": "21004",
                    "country": "BE",
                },
            }
        if draw < 0.405:
            person = self._person()
            self.dead.add(person)
            return DEATH, {
                "envelope": envelope(NATIONAL_REGISTER, reference),
                "person": person,
                "date_of_death": dt.date(2026, 10, 1),
                "municipality_nis": "21004",
            }
        if draw < 0.655 or (draw < 0.805 and not self.open_relations):
            worker, employer = self._person(), self.rng.choice(self.employers)
            k = self.next_start[worker] = self.next_start.get(worker, 0) + 1
            start = dt.date(2026, 1, 5) + dt.timedelta(days=7 * k)
            self.open_relations.append((worker, employer, start))
            return DIMONA_IN, {
                "envelope": envelope(employer, reference),
                "employer": employer,
                "worker": worker,
                "start_date": start,
                "planned_end_date": None,
                "worker_type": "OTH",
                "joint_committee": "200",
                "planned_hours": None,
            }
        if draw < 0.805:
            worker, employer, start = self.open_relations.pop(self.rng.randrange(len(self.open_relations)))
            return DIMONA_OUT, {
                "envelope": envelope(employer, reference),
                "employer": employer,
                "worker": worker,
                "relation_start_date": start,
                "end_date": start + dt.timedelta(days=30),
            }
        employer = self.rng.choice(self.employers)
        q = self.quarters[employer] = self.quarters.get(employer, 0) + 1
        workers = list(dict.fromkeys(self._person() for _ in range(self.rng.randint(2, 5))))
        return DMFA, {
            "envelope": envelope(employer, reference),
            "employer": employer,
            # 2021-Q1 .. 2026-Q4 (the registrations start in 2020: every line has holders); a quarter declared
            # again by the same employer is a correction with the next version
            "quarter": f"{2021 + (q - 1) % 24 // 4}-Q{1 + (q - 1) % 4}",
            "nature": "ORIGINAL" if q <= 24 else "CORRECTION",
            "version": 1 + (q - 1) // 24,
            "worker_lines": [
                {
                    "worker": w,
                    "worker_category": "WHITE_COLLAR",
                    "joint_committee": "200",
                    "days_worked": 60,
                    "gross_wage_cents": 900_000 + 100 * j,
                    "assimilated_days": [{"reason": "ANNUAL_LEAVE", "days": 5}],
                }
                for j, w in enumerate(workers)
            ],
        }


# -- broker probes -------------------------------------------------------------------------------------------


class Probe:
    """High watermarks of every topic under the prefix and the committed offsets of the worker's group."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.admin = AdminClient({**client_config(settings), "log_level": 4})
        self.incomplete = 0

    def partitions(self) -> dict[str, int]:
        metadata = self.admin.list_topics(timeout=10)
        prefix = self.settings.topic_prefix + "."
        return {name: len(t.partitions) for name, t in metadata.topics.items() if name.startswith(prefix)}

    def high_watermarks(self, partitions: dict[str, int]) -> dict[tuple[str, int], int]:
        latest = OffsetSpec.latest()  # type: ignore[no-untyped-call]
        request = {TopicPartition(t, p): latest for t, n in partitions.items() for p in range(n)}
        if not request:
            return {}
        futures = self.admin.list_offsets(request, request_timeout=10)
        result = {}
        for tp, future in futures.items():
            try:
                result[(tp.topic, tp.partition)] = future.result(timeout=15).offset
            except KafkaException:  # a topic created a moment ago (an employer's mailbox): next sample
                self.incomplete += 1
        return result

    def committed(self, group: str) -> dict[tuple[str, int], int]:
        futures = self.admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)], request_timeout=10)
        result = futures[group].result(timeout=15)
        return {(tp.topic, tp.partition): tp.offset for tp in result.topic_partitions or [] if tp.offset >= 0}


def by_topic(offsets: dict[tuple[str, int], int]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for (topic, _), offset in offsets.items():
        totals[topic] = totals.get(topic, 0) + max(offset, 0)
    return totals


def _by_topic(delta: dict[str, int], prefix: str) -> dict[str, int]:
    """Messages written per topic, largest first: ``<area>.<name>``, the institutions' mailboxes summed."""
    totals: dict[str, int] = {}
    for topic, n in delta.items():
        if not n or not topic.startswith(f"{prefix}."):
            continue
        area, name = topic[len(prefix) + 1 :].rsplit(".", 1)[0].split(".", 1)
        short = f"{area}.{name}" if area != "mailbox" or name == "employers" else "mailbox.<institutions>"
        totals[short] = totals.get(short, 0) + n
    return dict(sorted(totals.items(), key=lambda item: -item[1]))


@dataclass
class Sample:
    t: float
    high: dict[str, int]  # topic -> sum of high watermarks
    committed: dict[str, int]  # topic -> sum of the group's committed offsets
    worker_cpu_s: float = 0.0  # CPU seconds the worker process had used at that moment


class Stages:
    """The worker's source topics grouped by agent, the outputs we count, and lag arithmetic."""

    def __init__(self, settings: Settings, institutions: Iterable[str]) -> None:
        p = settings.topic_prefix
        self.prefix = p
        self.stages = {
            "intake": [
                by_key(Area.INTAKE, n).topic(p) for n in ("dimona", "dmfa", "civil", "integrations", "consultations")
            ],
            # keyed by employer, its own agent and table: DmfA versions (docs/directory.md, "The DmfA step")
            "dmfa": [by_key(Area.DMFA, "declarations").topic(p)],
            "directory": [
                by_key(Area.DIRECTORY, "declarations").topic(p),
                by_key(Area.DIRECTORY, "lookups").topic(p),
                by_key(Area.FACTS, "civil").topic(p),  # read for the person it is about (no lookup hop)
                by_key(Area.CONSULTATIONS, "accepted").topic(p),
                by_key(Area.AUDIT, "pending").topic(p),
            ],
        }
        self.audit = by_key(Area.AUDIT, "exchanges").topic(p)
        self.pending = by_key(Area.AUDIT, "pending").topic(p)
        self.rejections = by_key(Area.OUTCOMES, "rejections").topic(p)
        self.dead_letters = by_key(Area.OUTCOMES, "dead-letters").topic(p)
        self.lookups = by_key(Area.DIRECTORY, "lookups").topic(p)
        self.institution_mailboxes = [mailbox(i).topic(p) for i in sorted(institutions)]

    def lag(self, s: Sample, stage: str) -> int:
        return sum(s.high.get(t, 0) - s.committed.get(t, 0) for t in self.stages[stage])

    def consumed(self, s: Sample, stage: str) -> int:
        return sum(s.committed.get(t, 0) for t in self.stages[stage])

    def mailboxes(self, s: Sample) -> int:
        return sum(n for t, n in s.high.items() if ".mailbox." in t)

    def institution_mail(self, s: Sample) -> int:
        return sum(s.high.get(t, 0) for t in self.institution_mailboxes)

    def drained(self, s: Sample) -> bool:
        # the directory writes the audit records of a batch before its offsets are committed: no lag anywhere
        # means every output, audit records included, is written
        return all(self.lag(s, stage) == 0 for stage in self.stages)


def audit_records_in(
    settings: Settings, codec: AvroCodec, start: dict[tuple[str, int], int], end: dict[tuple[str, int], int]
) -> int:
    """The audit records in the messages of offsets [start, end) of each partition (an AuditBatch holds several)."""
    records = 0
    for (topic, partition), stop in end.items():
        for message in read_range(settings, topic, partition, start.get((topic, partition), 0), stop):
            decoded = codec.decode(message.value)
            records += len(outputs_of(decoded.schema_name, decoded.record))
    return records


class Sampler:
    def __init__(self, probe: Probe, group: str) -> None:
        self.probe, self.group = probe, group
        self.worker_pid: int | None = None
        self._partitions: dict[str, int] = {}
        self._refreshed = 0.0
        self._last_high: dict[tuple[str, int], int] = {}

    def sample(self) -> Sample:
        now = time.perf_counter()
        if now - self._refreshed > 2.0:  # employers' mailboxes appear on their first acknowledgement
            self._partitions, self._refreshed = self.probe.partitions(), now
        high = self.probe.high_watermarks(self._partitions)
        if self._last_high:  # a partition that did not answer keeps its last known offset
            high = {**self._last_high, **high}
        self._last_high = high
        committed = by_topic(self.probe.committed(self.group))
        cpu = CpuMeter._proc(self.worker_pid) if self.worker_pid else 0.0
        return Sample(time.perf_counter(), by_topic(high), committed, cpu)


# -- helpers -----------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class CpuMeter:
    """CPU seconds used by the worker, the broker and this bench, and by the whole machine, over a phase
    (from /proc: utime + stime of each process; busy = not idle/iowait in /proc/stat)."""

    TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def __init__(self, pids: dict[str, int | None]) -> None:
        self.pids = {name: pid for name, pid in pids.items() if pid}
        self._start = self._read()

    @staticmethod
    def _proc(pid: int) -> float:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return 0.0
        return (int(fields[11]) + int(fields[12])) / CpuMeter.TICK  # utime, stime (fields 14, 15)

    @staticmethod
    def _machine() -> tuple[float, float]:
        try:
            values = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        except (OSError, ValueError):
            return 0.0, 0.0
        idle = values[3] + values[4]
        return (sum(values) - idle) / CpuMeter.TICK, sum(values) / CpuMeter.TICK

    def _read(self) -> tuple[float, dict[str, float], tuple[float, float]]:
        return time.perf_counter(), {n: self._proc(p) for n, p in self.pids.items()}, self._machine()

    def stop(self) -> dict[str, Any]:
        t1, procs1, (busy1, all1) = self._read()
        t0, procs0, (busy0, all0) = self._start
        wall = t1 - t0
        result: dict[str, Any] = {f"{name}_cores": round((procs1[name] - procs0[name]) / wall, 2) for name in self.pids}
        result["machine_busy_cores"] = round((busy1 - busy0) / wall, 2)
        result["machine_cores"] = round((all1 - all0) / wall, 1)
        return result


def broker_pid() -> int | None:
    from streams.stack.kafka import KafkaService

    state = Path(os.environ.get("CROSSROADS_STATE_DIR", ROOT / ".crossroads"))
    return KafkaService(Settings(state_dir=state)).process.pid()


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return None
    rank = max(1, min(len(sorted_values), int(-(-q * len(sorted_values) // 100))))
    return sorted_values[rank - 1]


def wait_until(what: str, ready: Callable[[], bool], timeout: float, every: float = SAMPLE_S) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


def machine_info(settings: Settings) -> dict[str, Any]:
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    total_kb = next((int(line.split()[1]) for line in meminfo.splitlines() if line.startswith("MemTotal")), 0)

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    import confluent_kafka
    import faust

    return {
        "nproc": os.cpu_count(),
        "memory_gib": round(total_kb / 1024 / 1024, 1),
        "cpu": next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            platform.processor(),
        )
        if Path("/proc/cpuinfo").exists()
        else "",
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "kafka": settings.kafka_version,
        "confluent_kafka": confluent_kafka.version()[0],
        "librdkafka": confluent_kafka.libversion()[0],
        "faust": faust.__version__,
        "git_commit": git("rev-parse", "HEAD"),
        "git_dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
    }


# -- phase 1: raw baseline -----------------------------------------------------------------------------------------


def baseline(settings: Settings, messages: list[tuple[str, bytes]], partitions: int) -> dict[str, Any]:
    """Raw confluent-kafka produce then consume of the same encoded messages on a scratch topic."""
    topic = f"{settings.topic_prefix}.scratch.baseline.v1"
    admin = AdminClient({**client_config(settings), "log_level": 4})
    for future in admin.create_topics([NewTopic(topic, partitions, 1)], operation_timeout=30).values():
        future.result(timeout=30)
    wait_until(f"{topic} in the metadata", lambda: topic in admin.list_topics(timeout=10).topics, 30, 0.2)
    encoded = [(k.encode(), v) for k, v in messages]
    payload = sum(len(v) for _, v in encoded)
    producer = Producer(producer_config(settings))
    failed: list[str] = []

    def delivered(error: Any, _message: Any) -> None:
        if error is not None:
            failed.append(str(error))

    start = time.perf_counter()
    for key, value in encoded:
        while True:
            try:
                producer.produce(topic, key=key, value=value, on_delivery=delivered)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    if producer.flush(120):
        raise BenchError("baseline produce: messages still undelivered after 120s")
    produce_s = time.perf_counter() - start
    if failed:
        raise BenchError(f"baseline produce: {len(failed)} failed, first: {failed[0]}")

    consumer = Consumer(
        {
            **client_config(settings),
            "group.id": f"{settings.app_id}-baseline",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "log_level": 4,
        }
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    got, deadline = 0, time.monotonic() + 120
    first = consumer.consume(num_messages=1, timeout=10)  # connection + first fetch, outside the timing
    got += len([m for m in first if not m.error()])
    start = time.perf_counter()
    while got < len(encoded):
        if time.monotonic() > deadline:
            raise BenchError(f"baseline consume: {got}/{len(encoded)} after 120s")
        # never ask for more than what is left: consume() waits out its timeout for a batch it cannot fill
        wanted = min(1000, len(encoded) - got)
        got += sum(1 for m in consumer.consume(num_messages=wanted, timeout=1.0) if not m.error())
    consume_s = time.perf_counter() - start
    consumer.close()
    n = len(encoded)
    return {
        "topic_partitions": partitions,
        "messages": n,
        "mean_message_bytes": round(payload / n, 1),
        "produce_msgs_per_s": round(n / produce_s),
        "produce_mb_per_s": round(payload / produce_s / 1e6, 2),
        "consume_msgs_per_s": round((n - 1) / consume_s),
        "consume_mb_per_s": round(payload / consume_s / 1e6, 2),
        "producer_config": "producer_config(settings): idempotent, murmur2_random, linger.ms=5, acks=all",
    }


# -- the worker ------------------------------------------------------------------------------------------------------


def start_worker(workers: PlatformWorkers, settings: Settings, profile: str | None, profile_out: Path) -> int:
    if profile is None:
        return workers.start()["worker"]
    process = workers.processes["worker"]
    if profile == "pyinstrument":
        argv = [
            sys.executable,
            "-m",
            "pyinstrument",
            "-r",
            "text",
            "--show-all",
            "-o",
            str(profile_out),
            "-m",
            "streams",
            "worker",
        ]
    else:
        argv = [sys.executable, "-m", "cProfile", "-o", str(profile_out), "-m", "streams", "worker"]
    workers.home.mkdir(parents=True, exist_ok=True)
    grant_deployment(settings)  # as PlatformWorkers.start: the worker logs in as its own principal
    return process.start(argv, cwd=workers.home, env=settings.as_env())


def process_pids(workers: PlatformWorkers, replicas: list[PlatformWorkers]) -> dict[str, int | None]:
    pids: dict[str, int | None] = {"worker": workers.processes["worker"].pid()}
    for i, replica in enumerate(replicas, start=2):
        pids[f"worker{i}"] = replica.processes["worker"].pid()
    return {**pids, "broker": broker_pid(), "bench": os.getpid()}


def check_alive(workers: PlatformWorkers) -> None:
    process = workers.processes["worker"]
    if process.pid() is None:
        raise BenchError(f"the worker died; its log ({process.log_file}) ends with:\n{process.log_tail(30)}")


# -- phase 3: throughput -------------------------------------------------------------------------------------------


def produce_all(producer: DeclarationProducer, declarations: list[tuple[str, dict[str, Any]]]) -> float:
    start = time.perf_counter()
    for schema, record in declarations:
        producer.send(schema, record, subject_key(schema, record))
    producer.flush(120)
    return time.perf_counter() - start


def drain(
    sampler: Sampler,
    stages: Stages,
    workers: PlatformWorkers,
    start: float,
    timeout: float,
    done: Callable[[Sample], bool],
    label: str,
) -> tuple[list[Sample], bool]:
    """Sample until `done` holds for two samples in a row (commits lag the work by up to faust's commit
    interval, ~3 s), or the timeout. Returns the samples and whether it finished."""
    samples: list[Sample] = []
    deadline = time.monotonic() + timeout
    last_log = 0.0
    while time.monotonic() < deadline:
        check_alive(workers)
        s = sampler.sample()
        samples.append(s)
        if len(samples) >= 2 and done(samples[-1]) and done(samples[-2]) and samples[-1].high == samples[-2].high:
            return samples, True
        if s.t - last_log > 10:
            last_log = s.t
            lags = ", ".join(f"{k} {stages.lag(s, k)}" for k in stages.stages)
            log(f"  {label} t={s.t - start:5.1f}s lag: {lags}; audit {s.high.get(stages.audit, 0)}")
        time.sleep(max(0.0, SAMPLE_S - (time.perf_counter() - s.t)))
    return samples, False


def finish_time(samples: list[Sample], start: float) -> float:
    """The first sample at which every topic's high watermark had its final value: the last output written."""
    final = samples[-1].high
    for s in samples:
        if all(s.high.get(t, 0) >= n for t, n in final.items()):
            return s.t - start
    return samples[-1].t - start


def steady_rate(
    samples: list[Sample], value: Callable[[Sample], int], lo: float = 0.1, hi: float = 0.9
) -> float | None:
    """Rate of `value` between the samples where it reached lo and hi of its total growth (the steady part)."""
    if len(samples) < 3:
        return None
    v0, v1 = value(samples[0]), value(samples[-1])
    if v1 - v0 < 20:
        return None
    a = next(s for s in samples if value(s) - v0 >= lo * (v1 - v0))
    b = next(s for s in samples if value(s) - v0 >= hi * (v1 - v0))
    if b.t - a.t <= 0:
        return None
    return (value(b) - value(a)) / (b.t - a.t)


# -- phase 4: latency ----------------------------------------------------------------------------------------------


class MailboxWatcher:
    """Reads the institutions' mailboxes from their current end; for every Notification, the scheduled send
    time found in its payload's sender_reference ("lat-<seq>-<epoch ns>")."""

    def __init__(self, settings: Settings, codec: AvroCodec, start_at: dict[tuple[str, int], int]) -> None:
        self.codec = codec
        self.latencies: list[tuple[str, float, float]] = []  # schema, created - sent, received - sent
        self.other = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._consumer = Consumer(
            {
                **client_config(settings),
                "group.id": f"{settings.app_id}-latency",
                "enable.auto.commit": False,
                "fetch.wait.max.ms": 20,
                "log_level": 4,
            }
        )
        self._consumer.assign([TopicPartition(t, p, o) for (t, p), o in start_at.items()])
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for message in self._consumer.consume(num_messages=500, timeout=0.05):
                received = time.time()
                if message.error():
                    continue
                decoded = self.codec.decode(message.value() or b"")
                if decoded.schema_name != NOTIFICATION:
                    self.other += 1
                    continue
                inner = self.codec.decode(decoded.record["payload"])
                reference = str(inner.record["envelope"]["sender_reference"])
                if not reference.startswith("lat-"):
                    self.other += 1
                    continue
                sent = int(reference.rsplit("-", 1)[1]) / 1e9
                created = message.timestamp()[1] / 1000
                with self._lock:
                    self.latencies.append((inner.schema_name, created - sent, received - sent))
        self._consumer.close()

    def count(self) -> int:
        with self._lock:
            return len(self.latencies)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(15)


def latency_run(
    settings: Settings,
    codec: AvroCodec,
    population: Population,
    producer: DeclarationProducer,
    sampler: Sampler,
    stages: Stages,
    workers: PlatformWorkers,
    rate: float,
    seconds: float,
) -> dict[str, Any]:
    partitions = sampler.probe.partitions()
    mailboxes = {t: n for t, n in partitions.items() if t in set(stages.institution_mailboxes)}
    start_at = sampler.probe.high_watermarks(mailboxes)
    watcher = MailboxWatcher(settings, codec, start_at)
    time.sleep(1.0)  # assignment + first fetch
    total = max(1, int(rate * seconds))
    interval = 1.0 / rate
    sent_types: dict[str, int] = {}
    slips: list[float] = []
    log(f"latency: open loop at {rate:.0f} declarations/s for {seconds:.0f}s ({total} declarations)")
    t0_wall, t0 = time.time(), time.perf_counter()
    for i in range(total):
        scheduled = t0 + i * interval
        delay = scheduled - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        else:
            slips.append(-delay)
        scheduled_wall_ns = int((t0_wall + i * interval) * 1e9)
        schema, record = population.next(f"lat-{i}-{scheduled_wall_ns}")
        producer.send(schema, record, subject_key(schema, record))
        sent_types[schema] = sent_types.get(schema, 0) + 1
        if i % 500 == 0:
            check_alive(workers)
    producer.flush(60)
    send_s = time.perf_counter() - t0
    drain(sampler, stages, workers, time.perf_counter(), 120, stages.drained, "latency drain")
    # the watcher may still be reading the last notifications
    previous, deadline = -1, time.monotonic() + 30
    while watcher.count() != previous and time.monotonic() < deadline:
        previous = watcher.count()
        time.sleep(1.0)
    watcher.close()
    created = sorted(x[1] * 1000 for x in watcher.latencies)
    received = sorted(x[2] * 1000 for x in watcher.latencies)
    per_type: dict[str, Any] = {}
    for schema in sorted({x[0] for x in watcher.latencies}):
        values = sorted(x[1] * 1000 for x in watcher.latencies if x[0] == schema)
        per_type[schema.rsplit(".", 1)[1]] = {
            "notifications": len(values),
            "p50_ms": round(percentile(values, 50) or 0, 1),
            "p99_ms": round(percentile(values, 99) or 0, 1),
        }

    def summary(values: list[float]) -> dict[str, Any]:
        return {
            "p50_ms": _r(percentile(values, 50)),
            "p90_ms": _r(percentile(values, 90)),
            "p99_ms": _r(percentile(values, 99)),
            "p99_9_ms": _r(percentile(values, 99.9)),
            "max_ms": _r(values[-1] if values else None),
        }

    return {
        "target_rate_per_s": round(rate, 1),
        "achieved_send_rate_per_s": round(total / send_s, 1),
        "declarations": total,
        "declarations_by_type": {k.rsplit(".", 1)[1]: v for k, v in sorted(sent_types.items())},
        "schedule_slips": len(slips),
        "max_schedule_slip_ms": _r(max(slips) * 1000 if slips else 0.0),
        "notifications_measured": len(created),
        "to_broker_createtime": summary(created),
        "to_consumer_receive": summary(received),
        "by_type_to_broker": per_type,
        "clock": "scheduled send time (open loop, in sender_reference) -> notification CreateTime / receive time",
    }


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 1)


# -- main ------------------------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=20_000, help="population preloaded in the directory")
    parser.add_argument("--declarations", type=int, default=20_000, help="declarations of the throughput phase")
    parser.add_argument("--latency-seconds", type=float, default=30.0, help="duration of the open-loop phase")
    parser.add_argument(
        "--latency-rate", type=float, help="declarations/s of the latency phase (default: half the sustained)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke test: 1,000 people, 1,000 declarations, 8 s latency"
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="`crossroads worker` processes in the group (faust splits partitions)"
    )
    parser.add_argument("--profile", choices=["pyinstrument", "cprofile"], help="run the worker under a profiler")
    parser.add_argument("--profile-out", type=Path, help="profile output (default: /tmp/crossroads-core-<tag>.*)")
    parser.add_argument("--baseline-messages", type=int, default=200_000, help="messages of the raw baseline")
    parser.add_argument("--keep", action="store_true", help="keep the worker's state directory and log")
    parser.add_argument("--head", action="store_true", help="run the code of git HEAD, not the working tree")
    parser.add_argument("--timeout", type=float, default=300.0, help="longest wait of any drain phase, seconds")
    parser.add_argument("--output", type=Path, help="results file (default bench/results/core[-quick|-profile].json)")
    args = parser.parse_args()
    if args.quick:
        args.people = min(args.people, 1_000) if "--people" not in sys.argv else args.people
        args.declarations = min(args.declarations, 1_000) if "--declarations" not in sys.argv else args.declarations
        args.latency_seconds = 8.0 if "--latency-seconds" not in sys.argv else args.latency_seconds
        args.baseline_messages = 50_000 if "--baseline-messages" not in sys.argv else args.baseline_messages
    name = "core-profile" if args.profile else "core-quick" if args.quick else "core"
    output: Path = args.output or RESULTS / f"{name}.json"

    base = Settings()
    tag = uuid.uuid4().hex[:8]
    state_dir = Path(tempfile.mkdtemp(prefix=f"crossroads-bench-{tag}-"))
    settings = base.model_copy(
        update={
            "topic_prefix": f"bench{tag}",
            "app_id": f"crossroads-bench-{tag}",
            "state_dir": state_dir,
            "web_port": free_port(),
        }
    )
    profile_out = args.profile_out or Path(tempfile.gettempdir()) / (
        f"crossroads-core-{tag}." + ("txt" if args.profile == "pyinstrument" else "prof")
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
        "bench": "core",
        "command": " ".join([".venv/bin/python", "bench/bench_core.py", *sys.argv[1:]]),
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine_info(settings),
        "parameters": {
            "people": args.people,
            "declarations": args.declarations,
            "latency_seconds": args.latency_seconds,
            "partitions": settings.default_partitions,
            "processing_guarantee": settings.processing_guarantee,
            "store": settings.store,
            # the stack measured on: sasl_ssl is the default, secured one (SCRAM over TLS, ACLs)
            "kafka_security": settings.kafka_security,
            "profile": args.profile,
            "code": "git HEAD snapshot" if SOURCE else "working tree",
        },
    }
    workers = PlatformWorkers(settings, commands=("worker",))
    # more members of the same group (same app_id), each with its own home and faust data directory
    args.replicas = [
        PlatformWorkers(settings.model_copy(update={"state_dir": state_dir / f"replica-{i}"}), commands=("worker",))
        for i in range(1, args.workers)
    ]
    results["parameters"]["workers"] = args.workers
    interrupted = False

    def on_term(*_: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    try:
        run(settings, args, results, workers, profile_out)
    except KeyboardInterrupt:
        interrupted = True
        log("interrupted: cleaning up")
    except BenchError as exc:
        log(f"error: {exc}")
        results["error"] = str(exc)
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second signal must not leave the worker behind
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        stopped = workers.stop()
        for replica in args.replicas:
            replica.stop()
        results["worker_log"] = log_digest(workers.processes["worker"].log_file)
        if args.keep:
            log(f"kept {state_dir} (worker log: {workers.processes['worker'].log_file})")
        if args.profile and stopped:
            results["profile_file"] = str(profile_out)
        cleanup(settings)
        if not args.keep:
            shutil.rmtree(state_dir, ignore_errors=True)
        if SOURCE is not None:
            shutil.rmtree(SOURCE, ignore_errors=True)
    if interrupted:
        return 130
    results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print_summary(results, output)
    return 1 if "error" in results else 0


def run(
    settings: Settings, args: argparse.Namespace, results: dict[str, Any], workers: PlatformWorkers, profile_out: Path
) -> None:
    codec = AvroCodec(SchemaRegistry.from_directory(settings.schema_dir))
    network = load_network(settings.network_dir)
    log(f"prefix {settings.topic_prefix}, app_id {settings.app_id}, state {settings.state_dir}")
    population = Population.build(settings, args.people)
    mix = [population.next(f"tp-{i}") for i in range(args.declarations)]
    for schema in {s for s, _ in mix} | {INTEGRATION}:
        record = next(r for s, r in [*mix, *population.integrations] if s == schema)
        if violations := validate(schema, record):
            raise BenchError(f"the bench's {schema} is invalid: {violations}")

    # 1. baseline -----------------------------------------------------------------------------------------------
    log("applying topics")
    TopicAdmin(settings).apply(platform_topics(network.institutions))
    encoded = [(subject_key(s, r) or "", codec.encode(s, r)) for s, r in mix]
    encoded = (encoded * (-(-args.baseline_messages // len(encoded))))[: args.baseline_messages]
    log(f"baseline: raw produce + consume of {len(encoded)} encoded declarations (the mix, repeated)")
    results["baseline"] = baseline(settings, encoded, settings.default_partitions)
    b = results["baseline"]
    log(f"  produce {b['produce_msgs_per_s']}/s, consume {b['consume_msgs_per_s']}/s, {b['mean_message_bytes']} B mean")

    # 2. worker + preload ------------------------------------------------------------------------------------------
    stages = Stages(settings, network.institutions)
    probe = Probe(settings)
    sampler = Sampler(probe, settings.app_id)
    log("starting `crossroads worker`" + (f" under {args.profile}" if args.profile else ""))
    t = time.perf_counter()
    start_worker(workers, settings, args.profile, profile_out)
    for replica in args.replicas:
        replica.start()
    try:
        wait_for_group(settings, settings.app_id, timeout=120)
    except Exception as exc:
        check_alive(workers)
        raise BenchError(f"worker group never became stable: {exc}") from exc
    results["worker_start_s"] = round(time.perf_counter() - t, 1)
    sampler.worker_pid = workers.processes["worker"].pid()
    log(f"  group stable after {results['worker_start_s']}s")

    producer = DeclarationProducer(settings, codec)
    n_int = len(population.integrations)
    log(f"preload: {args.people} people, {n_int} integrations")
    cpu = CpuMeter(process_pids(workers, args.replicas))
    start = time.perf_counter()
    produce_s = produce_all(producer, population.integrations)
    samples, ok = drain(
        sampler,
        stages,
        workers,
        start,
        max(args.timeout, n_int / 50),
        lambda s: stages.institution_mail(s) >= n_int and stages.drained(s),
        "preload",
    )
    cpu_use = cpu.stop()
    last = samples[-1]
    if not ok:
        raise BenchError(
            f"preload: {stages.institution_mail(last)}/{n_int} acknowledgements after the timeout; log: "
            f"{workers.processes['worker'].log_file}"
        )
    done_s = finish_time(samples, start)
    refused = last.high.get(stages.rejections, 0)
    results["preload"] = {
        "people": args.people,
        "integrations": n_int,
        "produce_s": round(produce_s, 2),
        "acknowledged_s": round(done_s, 2),
        "integrations_per_s": round(n_int / done_s, 1),
        "refused": refused,
        "directory_steady_events_per_s": _r(steady_rate(samples, lambda s: stages.consumed(s, "directory"))),
        "cpu": cpu_use,
    }
    log(f"  {n_int} integrations acknowledged in {done_s:.1f}s ({n_int / done_s:.0f}/s), refused {refused}")

    # 3. throughput ------------------------------------------------------------------------------------------------
    before = samples[-1]
    audit_partitions = {stages.audit: sampler.probe.partitions()[stages.audit]}
    audit_from = sampler.probe.high_watermarks(audit_partitions)
    log(f"throughput: {len(mix)} declarations as fast as possible")
    cpu = CpuMeter(process_pids(workers, args.replicas))
    start = time.perf_counter()
    produce_s = produce_all(producer, mix)
    log(f"  produced in {produce_s:.2f}s ({len(mix) / produce_s:.0f}/s through DeclarationProducer)")
    samples, ok = drain(sampler, stages, workers, start, args.timeout, stages.drained, "drain")
    samples = [before, *samples]
    cpu_use = cpu.stop()
    last = samples[-1]
    done_s = finish_time(samples, start)
    delta = {t: last.high.get(t, 0) - before.high.get(t, 0) for t in last.high}
    mailbox_msgs = sum(n for t, n in delta.items() if ".mailbox." in t)
    audit_msgs = delta.get(stages.audit, 0)
    audit_to = sampler.probe.high_watermarks(audit_partitions)
    written = sum(n for t, n in delta.items())
    by_type: dict[str, int] = {}
    for s, _ in mix:
        by_type[s.rsplit(".", 1)[1]] = by_type.get(s.rsplit(".", 1)[1], 0) + 1
    # not drained: a lower bound (the run stops after writing what it has)
    sustained = len(mix) / done_s if ok else len(mix) / (last.t - start)
    stage_rates = {stage: _r(steady_rate(samples, _consumed_by(stages, stage))) for stage in stages.stages}
    results["throughput"] = {
        "declarations": len(mix),
        "by_type": by_type,
        "sustained_definition": "declarations / drain time: first send -> last output of the last declaration "
        "written (every stage's lag 0: the directory writes a batch's audit records before committing it); all "
        "declarations produced up front",
        "drained": ok,
        "produce_s": round(produce_s, 2),
        "declaration_producer_per_s": round(len(mix) / produce_s),
        "drain_s": round(done_s, 2),
        "sustained_declarations_per_s": round(sustained, 1),
        "ratio_to_raw_produce": round(sustained / results["baseline"]["produce_msgs_per_s"], 4),
        "ratio_to_raw_consume": round(sustained / results["baseline"]["consume_msgs_per_s"], 4),
        "stage_steady_events_per_s": stage_rates,
        "stage_done_s": {stage: _done_at(samples, stages, stage, start) for stage in stages.stages},
        "cpu_during_drain": cpu_use,
        "outputs": {
            "mailbox_messages": mailbox_msgs,
            "audit_messages": audit_msgs,  # its records are counted after the latency run, below
            "lookups": delta.get(stages.lookups, 0),
            "rejections": delta.get(stages.rejections, 0),
            "dead_letters": delta.get(stages.dead_letters, 0),
            "messages_written_all_topics": written,
            # per topic (prefix and version dropped; every institution's mailbox under "mailbox.<institutions>")
            "written_by_topic": _by_topic(delta, stages.prefix),
            "messages_written_per_declaration": round(written / len(mix), 2),
            "messages_written_per_s": round(written / done_s, 1),
            "mailbox_messages_per_s": round(mailbox_msgs / done_s, 1),
        },
        "lag_over_time": [
            {
                "t": round(s.t - start, 1),
                **{k: stages.lag(s, k) for k in stages.stages},
                "audit": s.high.get(stages.audit, 0) - before.high.get(stages.audit, 0),
                "worker_cores": round((s.worker_cpu_s - p.worker_cpu_s) / (s.t - p.t), 2),
            }
            for p, s in zip(samples[:-1:2], samples[2::2], strict=False)
        ],
    }
    log(
        f"  drained in {done_s:.1f}s: {sustained:.0f} declarations/s; {audit_msgs} audit messages, "
        f"{mailbox_msgs} mailbox messages"
    )
    if not ok:
        raise BenchError(f"throughput drain not finished within {args.timeout:.0f}s (partial figures written)")

    # 4. latency -----------------------------------------------------------------------------------------------------
    rate = args.latency_rate or sustained / 2
    results["latency"] = latency_run(
        settings, codec, population, producer, sampler, stages, workers, rate, args.latency_seconds
    )
    results["latency"]["fraction_of_sustained"] = round(rate / sustained, 2)

    # the throughput run's audit records (an AuditBatch message holds a release's records of one partition):
    # every delivery, reply and refusal has one. Read after the latency run, which it must not disturb
    outputs = results["throughput"]["outputs"]
    outputs["audit_records"] = audit_records_in(settings, codec, audit_from, audit_to)
    outputs["audit_records_per_s"] = round(outputs["audit_records"] / done_s, 1)
    log(f"  throughput run's audit records: {outputs['audit_records']} in {audit_msgs} messages")
    # the figures hold only for a worker that lived through every phase (one that crashed after the last drain
    # was reported as a result)
    check_alive(workers)
    for replica in args.replicas:
        if replica.processes["worker"].pid() is None:
            raise BenchError(f"a second worker died; its log ends with:\n{replica.processes['worker'].log_tail(30)}")


def _done_at(samples: list[Sample], stages: Stages, stage: str, start: float) -> float | None:
    """When the stage's committed offsets caught up for good (to faust's commit interval, ~2.8 s)."""
    done = None
    for s in samples:
        caught_up = stages.lag(s, stage) == 0
        done = (done if done is not None else round(s.t - start, 1)) if caught_up else None
    return done


def _consumed_by(stages: Stages, stage: str) -> Callable[[Sample], int]:
    return lambda s: stages.consumed(s, stage)


def log_digest(path: Path) -> dict[str, Any]:
    """What the worker complained about: counts of warnings/errors and the most frequent messages."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return {}
    counts: dict[str, int] = {}
    for line in lines:
        if "[WARNING]" in line or "[ERROR]" in line:
            message = re.sub(r"^\[[^\]]*\] \[\d+\] ", "", line)[:90]  # without time and pid
            counts[message] = counts.get(message, 0) + 1
    return {
        "warnings": sum(1 for line in lines if "[WARNING]" in line),
        "errors": sum(1 for line in lines if "[ERROR]" in line),
        "top": dict(sorted(counts.items(), key=lambda kv: -kv[1])[:5]),
    }


def cleanup(settings: Settings) -> None:
    names = delete_run_topics(settings)
    log(f"deleted {len(names)} topics of {settings.topic_prefix} / {settings.app_id}")


def print_summary(results: dict[str, Any], output: Path) -> None:
    m = results["machine"]
    print()
    print(f"Crossroads core bench — {results['command']}")
    print(
        f"  {m['nproc']} cpu, {m['memory_gib']} GiB, Python {m['python']}, Kafka {m['kafka']}, "
        f"faust {m['faust']}, commit {m['git_commit'][:10]}{' (dirty)' if m['git_dirty'] else ''}, "
        f"load {m['load_average_at_start']} -> {m.get('load_average_at_end')}"
    )
    if b := results.get("baseline"):
        print(
            f"  raw baseline ({b['messages']} msgs, {b['mean_message_bytes']} B): produce {b['produce_msgs_per_s']:,}/s"
            f" ({b['produce_mb_per_s']} MB/s), consume {b['consume_msgs_per_s']:,}/s ({b['consume_mb_per_s']} MB/s)"
        )
    if p := results.get("preload"):
        print(
            f"  preload: {p['integrations']:,} integrations ({p['people']:,} people) acknowledged in "
            f"{p['acknowledged_s']}s = {p['integrations_per_s']:,}/s, refused {p['refused']}"
        )
    if t := results.get("throughput"):
        o = t["outputs"]
        print(
            f"  sustained: {t['sustained_declarations_per_s']:,} declarations/s (drain of {t['declarations']:,} in "
            f"{t['drain_s']}s{'' if t['drained'] else ', NOT drained'}) = "
            f"{t['ratio_to_raw_produce']:.2%} of raw produce, {t['ratio_to_raw_consume']:.2%} of raw consume"
        )
        print(
            f"    producer side {t['declaration_producer_per_s']:,}/s; per declaration "
            f"{o['messages_written_per_declaration']} messages written; audit {o['audit_records_per_s']}/s, "
            f"mailboxes {o['mailbox_messages_per_s']}/s; rejections {o['rejections']}, dead letters {o['dead_letters']}"
        )
        print(f"    stage steady rates (events/s): {t['stage_steady_events_per_s']}")
        print(f"    stage caught up at (s, commit granularity ~2.8 s): {t['stage_done_s']}")
        print(f"    CPU during the drain (cores): {t['cpu_during_drain']}")
    if lat := results.get("latency"):
        c, r = lat["to_broker_createtime"], lat["to_consumer_receive"]
        print(
            f"  latency at {lat['target_rate_per_s']}/s ({lat['fraction_of_sustained']:.0%} of sustained, "
            f"achieved {lat['achieved_send_rate_per_s']}/s, {lat['notifications_measured']} notifications):"
        )
        print(
            f"    declaration -> mailbox (CreateTime): p50 {c['p50_ms']} ms, p99 {c['p99_ms']} ms, "
            f"p99.9 {c['p99_9_ms']} ms, max {c['max_ms']} ms"
        )
        print(
            f"    declaration -> consumer receive:     p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, "
            f"p99.9 {r['p99_9_ms']} ms"
        )
        print(f"    by type (CreateTime): {lat['by_type_to_broker']}")
    if "error" in results:
        print(f"  ERROR: {results['error']}")
    if "profile_file" in results:
        print(f"  worker profile: {results['profile_file']}")
    print(f"  written to {output.relative_to(ROOT) if output.is_relative_to(ROOT) else output}")


if __name__ == "__main__":
    sys.exit(main())
