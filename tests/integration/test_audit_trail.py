"""The audit trail for real: pending entries -> auditor worker (subprocess) -> audit topic -> `crossroads audit`.

Given entries on the pending topic, then the audit topic holds them chained per partition and verifies; a
tampered copy (edit, deletion, swap) is caught at its first bad record; a SIGKILLed auditor, restarted, leaves
a chain that still verifies and a who-received answer with each exchange once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from typer.testing import CliRunner

from streams.cli.audit import app as audit_cli
from streams.codecs import AvroCodec, SchemaRegistry
from streams.domain.audit import (
    AUDIT_SCHEMA,
    EDITED,
    RELINKED,
    consultation_entry,
    delivery_entry,
    refusal_entry,
)
from streams.kafka.admin import wait_for_group
from streams.kafka.audit_log import read_partition
from streams.kafka.partitioner import PRODUCER_PARTITIONER, partition_for
from streams.settings import Settings
from topologies.auditor import pending_topic

pytestmark = pytest.mark.integration

RUNNER = Path(__file__).with_name("helpers_auditor.py")
T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
CSSS = "CSSS/11/042"


def niss(n: int) -> str:
    """A valid national number born 1985-07-30, serial n (born before 2000: no '2' prefix)."""
    first9 = f"850730{n:03d}"
    return f"{first9}{97 - int(first9) % 97:02d}"


PEOPLE = [niss(n) for n in range(11, 23)]


@dataclass
class Auditor:
    settings: Settings
    log: Path
    process: subprocess.Popen[bytes] | None = None
    codec: AvroCodec = field(init=False)

    def __post_init__(self) -> None:
        self.codec = AvroCodec(SchemaRegistry.from_directory(self.settings.schema_dir))

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, str(RUNNER)], env={**os.environ, **self.settings.as_env()}, stdout=out, stderr=out
            )
        wait_for_group(self.settings, self.settings.app_id, timeout=60)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    @property
    def audit_topic(self) -> str:
        return f"{self.settings.topic_prefix}.audit.exchanges.v1"

    def records(self, topic: str | None = None) -> dict[int, list[tuple[int, dict[str, Any]]]]:
        topic = topic or self.audit_topic
        return {
            p: [
                (m.offset, self.codec.decode(m.value).record)
                for m in read_partition(self.settings.kafka_bootstrap, topic, p)
            ]
            for p in range(self.settings.default_partitions)
        }

    def count(self) -> int:
        """Records in the audit topic, cheaply (watermarks only)."""
        consumer = Consumer({"bootstrap.servers": self.settings.kafka_bootstrap, "group.id": "unused"})
        try:
            marks = [
                consumer.get_watermark_offsets(TopicPartition(self.audit_topic, p), timeout=10)
                for p in range(self.settings.default_partitions)
            ]
        finally:
            consumer.close()
        return sum(high - low for low, high in marks)

    def audit_ids(self) -> list[str]:
        return [r["audit_id"] for rs in self.records().values() for _, r in rs]

    def publish(self, entries: list[dict[str, Any]]) -> None:
        producer = Producer({"bootstrap.servers": self.settings.kafka_bootstrap, "partitioner": PRODUCER_PARTITIONER})
        for entry in entries:
            producer.produce(
                pending_topic(self.settings.topic_prefix),
                key=entry["person"].encode(),
                value=self.codec.encode(AUDIT_SCHEMA, entry),
            )
        assert producer.flush(10) == 0

    def cli(self, *args: str) -> Any:
        env = {**self.settings.as_env(), "COLUMNS": "250"}
        return CliRunner().invoke(audit_cli, list(args), env=env)


def _create_topic(settings: Settings, name: str, partitions: int) -> None:
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    if name in admin.list_topics(timeout=10).topics:  # e.g. the pending topic, once the catalog has it
        return
    for future in admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)]).values():
        future.result(timeout=30)
    deadline = time.monotonic() + 30
    while name not in admin.list_topics(timeout=10).topics and time.monotonic() < deadline:
        time.sleep(0.1)


def _wait(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def batch(tag: str, count: int) -> list[dict[str, Any]]:
    """Deliveries, refusals and consultations about PEOPLE, round robin."""
    made = []
    for i in range(count):
        person, at = PEOPLE[i % len(PEOPLE)], T0 + timedelta(minutes=i)
        ticket = f"{tag}-{i}"
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
                    legal_basis=CSSS,
                    at=at,
                    source_ticket=f"fact-{tag}-{i}",
                )
            )
    return made


@pytest.fixture(scope="module")
def auditor(topics: Settings) -> Iterator[Auditor]:
    settings = topics.model_copy(update={"app_id": f"{topics.app_id}-auditor", "web_port": 16077})
    _create_topic(settings, pending_topic(settings.topic_prefix), settings.default_partitions)
    running = Auditor(settings, settings.state_dir / f"auditor-{uuid.uuid4().hex[:6]}.log")
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    running.start()
    running.publish(FIRST)
    _wait(lambda: running.count() >= len(FIRST), "the first audit records")
    try:
        yield running
    finally:
        running.stop()


FIRST = batch("first", 30)


def test_entries_are_chained_into_the_audit_topic_and_verify(auditor: Auditor) -> None:
    # given FIRST published to the pending topic (the fixture), then
    by_partition = auditor.records()
    assert sorted(auditor.audit_ids()) == sorted(e["audit_id"] for e in FIRST)
    for partition, records in by_partition.items():
        # keyed by NISS end to end: each record is in the partition the person's key hashes to
        assert all(partition_for(r["person"].encode(), len(by_partition)) == partition for _, r in records)
    result = auditor.cli("verify")
    assert result.exit_code == 0, result.output
    assert f"all {len(FIRST)} records verify" in result.output


def _copy(
    auditor: Auditor, name: str, tamper: Callable[[list[dict[str, Any]]], list[dict[str, Any]]], victim: int
) -> str:
    """A copy of the audit topic, partition by partition, with ``tamper`` applied to partition ``victim``."""
    topic = f"{auditor.settings.topic_prefix}.audit.{name}.v1"
    _create_topic(auditor.settings, topic, auditor.settings.default_partitions)
    producer = Producer({"bootstrap.servers": auditor.settings.kafka_bootstrap})
    for partition, records in auditor.records().items():
        values = [r for _, r in records]
        for record in tamper(values) if partition == victim else values:
            producer.produce(
                topic,
                key=record["person"].encode(),
                value=auditor.codec.encode(AUDIT_SCHEMA, record),
                partition=partition,
            )
    assert producer.flush(10) == 0
    return topic


def _edit(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [records[0], {**records[1], "actor": "0000000097"}, *records[2:]]


def _delete(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [records[0], *records[2:]]


def _swap(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [records[2], records[1], records[0], *records[3:]]


@pytest.mark.parametrize(
    ("case", "tamper", "offset", "victim_index", "reason"),
    [
        ("edit", _edit, 1, 1, EDITED),
        ("delete", _delete, 1, 2, RELINKED),
        ("swap", _swap, 0, 2, RELINKED),
    ],
)
def test_a_tampered_copy_is_caught_at_its_first_bad_record(
    auditor: Auditor, case: str, tamper: Any, offset: int, victim_index: int, reason: str
) -> None:
    records = auditor.records()
    victim = max(records, key=lambda p: len(records[p]))
    assert len(records[victim]) >= 3
    topic = _copy(auditor, f"tampered-{case}-{uuid.uuid4().hex[:6]}", tamper, victim)

    result = auditor.cli("verify", "--topic", topic)

    assert result.exit_code == 1, result.output
    bad_id = records[victim][victim_index][1]["audit_id"]
    assert f"FIRST BAD RECORD partition={victim} offset={offset} audit_id={bad_id} reason: {reason}" in result.output
    # the other partitions are intact, and a single partition can be checked alone
    others = auditor.cli("verify", "--topic", topic, "--partition", str((victim + 1) % len(records)))
    assert others.exit_code == 0, others.output


def test_a_killed_auditor_restarted_leaves_a_valid_chain_and_each_exchange_once(auditor: Auditor) -> None:
    second = batch("second", 1000)
    before = auditor.count()
    auditor.publish(second)
    # SIGKILL mid-stream: some of the batch is written, its offsets (committed every few seconds) are not
    _wait(lambda: auditor.count() > before, "the auditor to be under way")
    auditor.kill()
    written_at_kill = auditor.count() - before
    assert written_at_kill < len(second), "the auditor finished before it was killed: the test proves nothing"

    auditor.start()
    expected = {e["audit_id"] for e in FIRST + second}
    _wait(lambda: set(auditor.audit_ids()) >= expected, "the restarted auditor to catch up", timeout=60)

    verified = auditor.cli("verify")
    assert verified.exit_code == 0, verified.output
    ids = auditor.audit_ids()
    print(f"killed after {written_at_kill}/{len(second)}; duplicates from the replay: {len(ids) - len(set(ids))}")
    import collections

    tickets = {e["audit_id"]: e["ticket"] for e in FIRST + second}
    print(sorted(tickets[i] for i, n in collections.Counter(ids).items() if n > 1)[:40])

    person = PEOPLE[0]
    received = [e for e in FIRST + second if e["person"] == person and e["kind"] != "REFUSAL"]
    answer = auditor.cli("who-received", person)
    assert answer.exit_code == 0, answer.output
    assert f"{len(received)} exchange(s)" in answer.output
    for entry in received:
        assert answer.output.count(f" {entry['ticket']} ") == 1, entry["ticket"]
    everywhere = auditor.cli("who-received", person, "--all-partitions")
    assert f"{len(received)} exchange(s)" in everywhere.output
    since = auditor.cli("who-received", person, "--since", "2026-11-28")
    later = [e for e in received if e["recorded_at"] >= datetime(2026, 11, 28, tzinfo=UTC)]
    assert f"{len(later)} exchange(s)" in since.output


def test_librdkafkas_murmur2_random_puts_keys_where_partition_for_says(topics: Settings) -> None:
    """The platform's partitioner decision, on the broker: with ``partitioner=murmur2_random`` confluent-kafka
    agrees with :func:`partition_for` (Java, aiokafka/faust); with librdkafka's default it does not."""
    topic = f"{topics.topic_prefix}.audit.partitioner-probe-{uuid.uuid4().hex[:6]}.v1"
    _create_topic(topics, topic, 7)
    keys = [niss(n).encode() for n in range(1, 200)] + [b"21", b"foobar", b"a-little-bit-long-string"]
    landed: dict[str, dict[bytes, int]] = {}
    for partitioner in (PRODUCER_PARTITIONER, "consistent_random"):
        producer = Producer({"bootstrap.servers": topics.kafka_bootstrap, "partitioner": partitioner})
        where = landed[partitioner] = {}

        def on_delivery(error: Any, message: Any, where: dict[bytes, int] = where) -> None:
            assert error is None, error
            where[message.key()] = message.partition()

        for key in keys:
            producer.produce(topic, key=key, value=b"x", on_delivery=on_delivery)
        assert producer.flush(10) == 0

    assert landed[PRODUCER_PARTITIONER] == {key: partition_for(key, 7) for key in keys}
    assert landed["consistent_random"] != landed[PRODUCER_PARTITIONER]
