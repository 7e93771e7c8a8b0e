"""The chaos suite's private stack and what it does with it: ports, settings, the platform of one run (topics,
warehouse, processes), producing with positions, draining on evidence, reading every output, checking the
warehouse and the audit chains.

Never the shared stack: every Settings built here points at free high ports and a private state directory;
every process is started (and stopped) through the project's own ManagedProcess, by pid.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    ConsumerGroupTopicPartitions,
    KafkaError,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

from chaos import remote
from chaos.ids import Ack, Audit, DeadLetter, Fact, Notification, Outputs, Rejection, Reply
from chaos.remote import Remote, RemoteFailed
from streams.catalog import CATALOG, Area, by_key
from streams.codecs import AvroCodec, CodecError, SchemaRegistry
from streams.domain.audit import outputs_of
from streams.kafka import KafkaAdapterError
from streams.kafka.admin import TopicAdmin, delete_run_topics
from streams.kafka.producer import intake_topic, producer_config
from streams.kafka.sealing import intake_headers
from streams.kafka.security import client_config
from streams.settings import PROJECT_ROOT, Settings
from streams.stack.kafka import KafkaCluster
from streams.stack.local import LocalStack
from streams.stack.process import free_ports
from streams.stack.workers import crossroads_argv
from streams.topics import needed_topics

SHARED_CACHE = PROJECT_ROOT / ".crossroads" / "cache"
FACT_FAMILIES = ("dimona", "dmfa", "civil", "integrations")
OUTPUTS = r"mailbox\..*|outcomes\.(rejections|dead-letters)|audit\.exchanges|facts\.(dimona|dmfa|civil|integrations)"


def log(message: str) -> None:
    print(f"[chaos {time.strftime('%H:%M:%S')}] {message}", flush=True)


# -- ports and settings ---------------------------------------------------------------------------------------


def _link_jar_cache(state_dir: Path, version: str) -> bool:
    """Share the jars Maven resolved for the checkout, read-only: a symlink into the private state dir."""
    jars = SHARED_CACHE / f"kafka-{version}"
    if not (jars / ".complete").exists():
        return False  # the private stack resolves its own (a Maven run); the shared cache is never written
    target = state_dir / "cache" / jars.name
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        target.symlink_to(jars, target_is_directory=True)
    return True


def stack_settings(state_dir: Path, *, brokers: int, kafka_port: int, clickhouse_port: int, http_port: int) -> Settings:
    """The private stack's settings, every field that matters given (the environment's CROSSROADS_* must not leak
    in: a CROSSROADS_KAFKA_BOOTSTRAP exported for the shared stack would point the suite at it)."""
    return Settings(
        state_dir=state_dir,
        kafka_brokers=brokers,
        kafka_bootstrap=f"127.0.0.1:{kafka_port}",
        kafka_controller_port=kafka_port + 1,
        kafka_heap="512m" if brokers == 1 else "384m",
        replication_factor=min(brokers, 3),
        default_partitions=6,
        clickhouse_url=f"clickhouse://default:@127.0.0.1:{clickhouse_port}/chaos",
        clickhouse_http_port=http_port,
        topic_prefix="chaos",
        app_id="crossroads-chaos",
        schema_registry_url=None,
        store="memory://",
        web_enabled=False,
        processing_guarantee="at_least_once",
        projector_crash_after_inserts=None,
        environment="production",
    )


@dataclass
class PrivateStack:
    """Kafka (one node; a 3-node cluster on demand) and ClickHouse of the suite's own, under `root`."""

    root: Path
    rng: random.Random
    taken: set[int] = field(default_factory=set)
    settings: Settings = field(init=False)
    cluster_settings: Settings | None = None
    jars_shared: bool = False

    def __post_init__(self) -> None:
        kafka = free_ports(2, self.taken, self.rng)
        clickhouse = free_ports(2, self.taken, self.rng)
        single = self.root / "single"
        self.settings = stack_settings(
            single, brokers=1, kafka_port=kafka, clickhouse_port=clickhouse, http_port=clickhouse + 1
        )

    @property
    def kafka(self) -> KafkaCluster:
        return KafkaCluster(self.settings)

    def up(self) -> None:
        self.jars_shared = _link_jar_cache(self.settings.state_dir, self.settings.kafka_version)
        log(
            f"private stack in {self.root}: Kafka {self.settings.kafka_bootstrap} (controller "
            f"{self.settings.kafka_controller_port}), ClickHouse {self.settings.clickhouse.port}/"
            f"{self.settings.clickhouse_http_port}"
        )
        LocalStack(self.settings).up(on_event=lambda e: log(e))

    def cluster_up(self) -> Settings:
        """A private 3-node KRaft cluster (RF 3, min ISR 2) next to the single node; ClickHouse is shared."""
        if self.cluster_settings is None:
            base = free_ports(6, self.taken, self.rng)
            clickhouse = self.settings.clickhouse
            self.cluster_settings = stack_settings(
                self.root / "cluster3",
                brokers=3,
                kafka_port=base,
                clickhouse_port=clickhouse.port,
                http_port=self.settings.clickhouse_http_port,
            )
        _link_jar_cache(self.cluster_settings.state_dir, self.cluster_settings.kafka_version)
        log(f"private 3-node cluster: {self.cluster_settings.kafka_bootstrap}")
        LocalStack(self.cluster_settings, only=("kafka",)).up(on_event=lambda e: log(e))
        return self.cluster_settings

    def cluster_down(self) -> None:
        if self.cluster_settings is not None:
            cluster = KafkaCluster(self.cluster_settings)
            cluster.down()
            for node in cluster.nodes:
                node.process.exit_status()  # reaps it

    def down(self) -> None:
        """Everything the suite started, by pid file (a SIGSTOPped node gets SIGCONT first: KafkaCluster.down)."""
        self.cluster_down()
        stack = LocalStack(self.settings)
        stack.down()
        for node in KafkaCluster(self.settings).nodes:
            node.process.exit_status()


# -- one run's platform ---------------------------------------------------------------------------------------


def run_settings(stack: Settings, tag: str, state_dir: Path) -> Settings:
    """Settings of one run on `stack`: its own topic prefix, app id (consumer groups), database, state dir."""
    address = stack.clickhouse
    return stack.model_copy(
        update={
            "topic_prefix": f"chaos{tag}",
            "app_id": f"crossroads-chaos-{tag}",
            "clickhouse_url": f"clickhouse://{address.user}:{address.password}@{address.host}:{address.port}/"
            f"chaos_{tag}",
            "state_dir": state_dir,
        }
    )


def prepare(settings: Settings) -> None:
    """The topics `crossroads topics apply` creates, the run's access granted (its services log in as their own
    principals on the secured stack) and the warehouse migrated, as tests/conftest.py does."""
    from connectors.clickhouse import connect, migrate
    from streams.deployment import grant_deployment

    TopicAdmin(settings).apply(needed_topics(settings))
    grant_deployment(settings)
    client = connect(settings, database="default")
    try:
        migrate(client, settings)
    finally:
        client.disconnect()


def cleanup(settings: Settings) -> None:
    """Delete the run's topics (prefix and app id) and databases; best effort."""
    delete_run_topics(settings, timeout_s=60)
    with contextlib.suppress(Exception):
        from connectors.clickhouse import connect, warehouse_databases

        client = connect(settings, database="default")
        database = settings.clickhouse.database
        for name in warehouse_databases(database):
            client.execute(f"DROP DATABASE IF EXISTS {name}")
        client.disconnect()


def child_env(settings: Settings) -> dict[str, str]:
    """The environment of a child process: ours without any CROSSROADS_* variable, plus the settings'."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("CROSSROADS_")}
    env.update(settings.as_env())
    return env


def worker_sources(settings: Settings) -> list[str]:
    """`topologies.app.source_topics(create_app(settings))`, computed in a short-lived child process: building the
    app creates the flows' librdkafka producers, which would otherwise stay connected in this process."""
    code = (
        "import json; from streams.settings import Settings; from topologies.app import create_app, source_topics; "
        "print(json.dumps(source_topics(create_app(Settings()))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=child_env(settings),
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    topics: list[str] = json.loads(result.stdout.strip().splitlines()[-1])
    return topics


def projector_sources(settings: Settings) -> list[str]:
    """What `crossroads projector` consumes: the topics of its projections (connectors/clickhouse)."""
    from connectors.clickhouse.journey import JourneyProjection
    from connectors.clickhouse.warehouse import AUDIT_TOPICS, FACT_TOPICS

    names = dict.fromkeys((*JourneyProjection.topics, *FACT_TOPICS, *AUDIT_TOPICS))
    return [f"{settings.topic_prefix}.{name}.v1" for name in names]


# -- producing, with the position of every record ------------------------------------------------------------


class TrackedProducer:
    """`DeclarationProducer`'s configuration (idempotent, murmur2, linger 5 ms), with every delivery's position
    kept by the caller's tag, and a message timeout long enough to wait out a broker outage."""

    def __init__(self, settings: Settings, codec: AvroCodec) -> None:
        self._settings = settings
        self._codec = codec
        self._producer = Producer(producer_config(settings, **{"message.timeout.ms": 900_000, "log_level": 2}))
        self.positions: dict[Any, tuple[str, int, int]] = {}
        self.failed: list[str] = []

    def topic(self, schema_or_family: str) -> str:
        if "." in schema_or_family:
            return intake_topic(self._settings, schema_or_family)
        return by_key(Area.INTAKE, schema_or_family).topic(self._settings.topic_prefix)

    def send_record(self, tag: Any, schema: str, record: Mapping[str, Any], key: str | None) -> None:
        value = self._codec.encode(schema, dict(record))  # CodecError: the caller decides
        self.send_raw(tag, self.topic(schema), key.encode() if key else None, value)

    def _headers(self, topic: str, value: bytes | None) -> list[tuple[str, bytes]] | None:
        """Sealed as the sender its envelope names, when the value decodes at all: the fuzz is about content, so
        every record still proves its producer (undecodable bytes are dead-lettered before any seal matters)."""
        if value is None:
            return None
        try:
            envelope = self._codec.decode(value).record.get("envelope")
        except CodecError:
            return None
        sender = envelope.get("sender") if isinstance(envelope, dict) else None
        return intake_headers(self._settings, sender, topic, value) if isinstance(sender, str) else None

    def send_raw(self, tag: Any, topic: str, key: bytes | None, value: bytes | None) -> None:
        headers = self._headers(topic, value)

        def delivered(error: KafkaError | None, message: Message) -> None:
            if error is not None:
                self.failed.append(f"{tag}: {error}")
            else:
                self.positions[tag] = (message.topic() or "", message.partition() or 0, message.offset() or 0)

        while True:
            try:
                self._producer.produce(topic, key=key, value=value, headers=headers, on_delivery=delivered)
                break
            except BufferError:
                self._producer.poll(0.1)
        self._producer.poll(0)

    def poll(self, seconds: float) -> None:
        """Serve delivery reports and wait `seconds` (librdkafka's poll returns at the first report)."""
        deadline = time.monotonic() + seconds
        while True:
            self._producer.poll(0)
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, 0.05))

    def flush(self, timeout: float, check: Callable[[], None] = lambda: None) -> None:
        deadline = time.monotonic() + timeout
        while self._producer.flush(1.0):
            check()
            if time.monotonic() > deadline:
                raise KafkaAdapterError(f"{len(self._producer)} records not delivered within {timeout:.0f}s")
        if self.failed:
            raise KafkaAdapterError(f"{len(self.failed)} records failed: {self.failed[:3]}")


# -- progress and draining ------------------------------------------------------------------------------------


class Probe:
    """Sums of offsets, for fault triggers and for "made progress": a group's committed offsets, the high
    watermarks of the run's output topics (every topic of the prefix but the intake ones). Through a `Remote`
    (admin requests during an outage can abort a process); None when the broker does not answer."""

    def __init__(self, settings: Settings, name: str) -> None:
        self.settings = settings
        self.remote = Remote(name)
        self._intake = [spec.topic(settings.topic_prefix) for spec in CATALOG if spec.area is Area.INTAKE]

    def committed(self, group: str) -> int | None:
        try:
            return self.remote.call(remote.committed, self.settings, group, timeout=20)
        except RemoteFailed:
            return None

    def written(self) -> int | None:
        try:
            return self.remote.call(remote.written, self.settings, self.settings.topic_prefix, self._intake, timeout=20)
        except RemoteFailed:
            return None

    def lag(self, group: str, topics: list[str]) -> int | None:
        try:
            return self.remote.call(remote.lag, self.settings, group, topics, timeout=40)
        except RemoteFailed:
            return None

    def close(self) -> None:
        self.remote.close()


_drainer = Remote("drain")


def drain(
    settings: Settings,
    group: str,
    topics: Iterable[str],
    *,
    timeout: float,
    check: Callable[[], None] = lambda: None,
) -> float:
    """`streams.kafka.admin.wait_drained` (the group committed the end offset of every partition, twice in a row
    1 s apart), in rounds of at most 30 s in a child process, `check` between rounds, retried through broker
    outages. Gives up when the group has committed nothing for `timeout` seconds (what is behind, as the last
    round described it, did not change): a platform slowed by a busy machine is waited for, one that stopped
    is reported. Returns the seconds it took."""
    topics = list(topics)
    began = time.monotonic()
    deadline = began + timeout
    last: str | None = None
    while time.monotonic() < deadline:
        check()
        before = last
        round_s = min(30.0, max(2.0, deadline - time.monotonic()))
        try:
            last = _drainer.call(remote.drained, settings, group, topics, round_s, timeout=round_s + 60)
        except RemoteFailed as exc:
            last = str(exc)
        if last is None:
            return time.monotonic() - began
        if before is not None and last != before and "committed" in last:
            deadline = time.monotonic() + timeout  # progress: the offsets behind moved
        time.sleep(0.5)
    raise KafkaAdapterError(f"group {group} committed nothing for {timeout:.0f}s while behind: {last}")


_members = Remote("members")


def wait_members(settings: Settings, group: str, members: int, timeout: float, check: Callable[[], None]) -> None:
    """Until the group is stable with `members` members (0: until it has none)."""
    deadline = time.monotonic() + timeout
    while True:
        check()
        with contextlib.suppress(RemoteFailed):
            if _members.call(remote.members, settings, group, timeout=30) == members:
                return
        if time.monotonic() > deadline:
            raise KafkaAdapterError(f"group {group} not stable with {members} member(s) within {timeout:.0f}s")
        time.sleep(0.5)


# -- reading every output -------------------------------------------------------------------------------------


def _ends(consumer: Consumer, pattern: re.Pattern[str]) -> dict[tuple[str, int], tuple[int, int]]:
    ends = {}
    for name, meta in consumer.list_topics(timeout=20).topics.items():
        if pattern.match(name):
            for partition in meta.partitions:
                low, high = consumer.get_watermark_offsets(TopicPartition(name, partition), timeout=20)
                ends[(name, partition)] = (int(low), int(high))
    return ends


def read_outputs(settings: Settings, codec: AvroCodec, timeout: float = 300.0) -> Outputs:
    """Every mailbox, the rejections, the dead letters, the audit trail and the facts topics, from their first
    offset to their end offset as of this call (manual assignment: no group, nothing committed)."""
    prefix = re.escape(settings.topic_prefix)
    pattern = re.compile(f"^{prefix}\\.({OUTPUTS})\\.v1$")
    consumer = Consumer(
        {
            **client_config(settings),
            "group.id": f"chaos-reader-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "enable.partition.eof": False,
            "fetch.max.bytes": 52_428_800,
            "log_level": 2,
        }
    )
    outputs = Outputs()
    facts_prefix = f"{settings.topic_prefix}.facts."
    try:
        ends = _ends(consumer, pattern)
        todo = {place: high for place, (low, high) in ends.items() if high > low}
        consumer.assign([TopicPartition(t, p, OFFSET_BEGINNING) for (t, p) in todo])
        deadline = time.monotonic() + timeout
        while todo:
            if time.monotonic() > deadline:
                raise KafkaAdapterError(f"outputs not read to their end within {timeout:.0f}s: {sorted(todo)[:5]}")
            for message in consumer.consume(num_messages=5000, timeout=1.0):
                if message.error():
                    continue
                topic, partition, offset = message.topic() or "", message.partition() or 0, message.offset() or 0
                end = todo.get((topic, partition))
                if end is None or offset >= end:
                    continue
                if offset + 1 >= end:
                    del todo[(topic, partition)]
                _take(outputs, codec, topic, partition, offset, message.value() or b"", facts_prefix)
            # a partition whose last offsets are not records (markers) is done once the position passed its end
            if todo:
                for tp in consumer.position([TopicPartition(t, p) for (t, p) in todo]):
                    if tp.offset >= todo.get((tp.topic, tp.partition), 1 << 62):
                        del todo[(tp.topic, tp.partition)]
    finally:
        consumer.close()
    return outputs


def _take(
    outputs: Outputs, codec: AvroCodec, topic: str, partition: int, offset: int, value: bytes, facts: str
) -> None:
    try:
        decoded = codec.decode(value)
    except CodecError:
        outputs.undecodable[topic] += 1
        return
    r, name = decoded.record, decoded.schema_name.rpartition(".")[2]
    if topic.startswith(facts):
        family = topic[len(facts) :].rsplit(".v", 1)[0]
        envelope = r.get("envelope") or {}
        ticket, reference = str(envelope.get("ticket")), str(envelope.get("sender_reference"))
        if name == "DmfaDeclaration":
            keys = tuple(f"{ln['worker']}/{ln['worker_category']}/{ln['joint_committee']}" for ln in r["worker_lines"])
            declaration = f"{r['employer']}/{r['quarter']}"
            outputs.facts.append(Fact(family, ticket, reference, len(keys), declaration, int(r["version"]), keys))
        else:
            outputs.facts.append(Fact(family, ticket, reference, 0))
    elif name == "Acknowledgement":
        warned = tuple(str(w["field"]) for w in r.get("warnings") or ())
        outputs.acks.append(Ack(r["sender_reference"], r["ticket"], r["status"], warned))
    elif name == "Notification":
        outputs.notifications.append(Notification(r["ticket"], r["source_ticket"], r["recipient"], r["person"]))
    elif name == "ConsultationReply":
        outputs.replies.append(Reply(r["ticket"], r["request_ticket"], r["status"]))
    elif name in ("AuditRecord", "AuditBatch"):
        outputs.audits.extend(
            Audit(a["audit_id"], a["ticket"], a.get("source_ticket"), a["actor"], a["kind"], a["person"])
            for _, a in outputs_of(decoded.schema_name, r)
        )
    elif name == "Rejection":
        codes = tuple(sorted({v["code"] for v in r.get("violations") or ()}))
        outputs.rejections.append(Rejection(r["ticket"], r["sender_reference"], r["stage"], codes))
    elif name == "DeadLetter":
        outputs.dead_letters.append(DeadLetter(r["topic"], int(r["partition"]), int(r["offset"]), r["reason"]))
    else:
        outputs.undecodable[f"{topic} ({decoded.schema_name})"] += 1


# -- the warehouse against Kafka ------------------------------------------------------------------------------


def warehouse_check(settings: Settings, outputs: Outputs) -> tuple[bool, dict[str, Any]]:
    """The warehouse's distinct ids against the unique ids in Kafka, table by table (ReplacingMergeTree: a
    replayed row is a second row with the same id, so distinct ids are what must match)."""
    from connectors.clickhouse import connect

    db = settings.clickhouse.database
    facts: dict[str, set[str]] = {family: set() for family in FACT_FAMILIES}
    lines: dict[str, int] = {}
    for f in outputs.facts:
        facts.setdefault(f.family, set()).add(f.ticket)
        lines[f.ticket] = f.lines
    kafka = {
        "audit_records.audit_id": {a.audit_id for a in outputs.audits},
        "journey.ticket": set().union(*facts.values()),
        "dimona_events.event_id": facts["dimona"],
        "civil_events.event_id": facts["civil"],
        "directory_entries.event_id": facts["integrations"],
        "dmfa_lines.declaration": facts["dmfa"],
        "dmfa_lines.event_id": {f"{t}:{i}" for t in facts["dmfa"] for i in range(lines.get(t, 0))},
    }
    queries = {
        "audit_records.audit_id": f"SELECT DISTINCT audit_id FROM {db}_audit.audit_records",
        "journey.ticket": f"SELECT DISTINCT ticket FROM {db}.journey",
        "dimona_events.event_id": f"SELECT DISTINCT event_id FROM {db}.dimona_events",
        "civil_events.event_id": f"SELECT DISTINCT event_id FROM {db}.civil_events",
        "directory_entries.event_id": f"SELECT DISTINCT event_id FROM {db}.directory_entries",
        "dmfa_lines.declaration": f"SELECT DISTINCT declaration FROM {db}.dmfa_lines",
        "dmfa_lines.event_id": f"SELECT DISTINCT event_id FROM {db}.dmfa_lines",
    }
    client = connect(settings)
    details: dict[str, Any] = {}
    matches = True
    try:
        for name, query in queries.items():
            warehouse = {str(row[0]) for row in client.execute(query)}
            expected = kafka[name]
            missing, extra = expected - warehouse, warehouse - expected
            matches = matches and not missing and not extra
            details[name] = {
                "warehouse": len(warehouse),
                "kafka": len(expected),
                **({"missing_in_warehouse": len(missing), "missing_examples": sorted(missing)[:3]} if missing else {}),
                **({"not_in_kafka": len(extra), "not_in_kafka_examples": sorted(extra)[:3]} if extra else {}),
            }
        # what a ReplacingMergeTree keyed by audit_id keeps once merged, against what Kafka holds
        rows = client.execute(f"SELECT count() FROM {db}_audit.audit_records FINAL")
        details["audit_records.rows_after_final"] = int(rows[0][0])
        details["kafka_distinct_audit_records"] = len({(a.audit_id, a.person, a.ticket) for a in outputs.audits})
        rows = client.execute(f"SELECT count() FROM {db}_audit.audit_records")
        details["audit_records.rows"] = int(rows[0][0])
    finally:
        client.disconnect()
    return matches, details


def audit_verify(settings: Settings, timeout: float = 600.0) -> tuple[bool, str]:
    """`crossroads audit verify --no-seal` as a subprocess with the run's settings: (exit 0, output tail)."""
    try:
        result = subprocess.run(
            [*crossroads_argv(), "audit", "verify", "--no-seal"],
            env={**child_env(settings), "COLUMNS": "200"},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return False, f"timed out after {timeout:.0f}s"
    tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-4:])
    return result.returncode == 0, f"exit {result.returncode}: {tail}"


def skip_offset(settings: Settings, group: str, topic: str, partition: int, offset: int) -> None:
    """Set `group`'s committed offset of one partition (the group must have no member): an operator skipping a
    poison message."""
    admin = AdminClient({**client_config(settings), "log_level": 0})
    request = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, partition, offset)])
    futures = admin.alter_consumer_group_offsets([request], request_timeout=15)
    futures[group].result(timeout=20)


def codec_for(settings: Settings) -> AvroCodec:
    return AvroCodec(SchemaRegistry.from_directory(settings.schema_dir))


def copy_logs(sources: Iterable[Path], target: Path) -> list[str]:
    target.mkdir(parents=True, exist_ok=True)
    copied = []
    for source in sources:
        if source.exists():
            destination = target / f"{source.parent.name}-{source.name}"
            shutil.copyfile(source, destination)
            copied.append(str(destination))
    return copied
