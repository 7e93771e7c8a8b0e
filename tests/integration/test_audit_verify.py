"""`crossroads audit verify` against its seals, on the real broker: a chain written to a private audit topic is
verified and sealed, verified again from the seal on as it grows, and then truncated every way Kafka allows —
records deleted at the start (AdminClient.delete_records), the topic deleted, the topic recreated under the same
name with fewer records or with a forged, longer chain — and each is named on one line with exit code 1, the
failing partition's seal kept.  An edited record appended after the seal is still named as the first bad one.
"""

from __future__ import annotations

import stat
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from typer.testing import CliRunner

from streams.audit_seal import load_seals
from streams.catalog import Area, by_key
from streams.cli.audit import app as audit_cli
from streams.codecs import AvroCodec, SchemaRegistry
from streams.domain.audit import AUDIT_SCHEMA, EDITED, GENESIS, Seal, chain, delivery_entry
from streams.kafka.audit_log import watermarks
from streams.kafka.security import client_config
from streams.settings import Settings

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
PERSON = "85073001193"


def entries(tag: str, count: int) -> list[dict[str, Any]]:
    return [
        delivery_entry(
            ticket=f"{tag}-{i}",
            actor="0212344876",
            person=PERSON,
            data_type="be.crossroads.dimona.DimonaIn",
            legal_basis="CSSS/11/042",
            at=T0 + timedelta(minutes=i),
        )
        for i in range(count)
    ]


@dataclass
class AuditTopic:
    """A private audit topic (the catalog's config) that this test writes chained records to itself."""

    settings: Settings
    seal_file: Path
    partitions: int = 2
    name: str = field(init=False)
    codec: AvroCodec = field(init=False)
    heads: dict[int, str] = field(init=False)
    written: dict[int, list[dict[str, Any]]] = field(init=False)

    def __post_init__(self) -> None:
        self.name = f"{self.settings.topic_prefix}.audit.verify-{uuid.uuid4().hex[:8]}.v1"
        self.codec = AvroCodec(SchemaRegistry.from_directory(self.settings.schema_dir))
        self.admin = AdminClient({**client_config(self.settings)})
        self.create()

    def create(self) -> None:
        self.heads = dict.fromkeys(range(self.partitions), GENESIS)
        self.written = {p: [] for p in range(self.partitions)}
        spec = NewTopic(
            self.name,
            num_partitions=self.partitions,
            replication_factor=self.settings.replication_factor,
            config=by_key(Area.AUDIT, "exchanges").config(),
        )
        deadline = time.monotonic() + 60
        while True:  # right after a deletion the broker may still hold the old topic
            try:
                self.admin.create_topics([spec])[self.name].result(timeout=30)
                break
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        for partition in range(self.partitions):
            self._until(lambda p=partition: self._readable(p), f"{self.name}[{partition}] to be readable")

    def delete(self) -> None:
        self.admin.delete_topics([self.name], operation_timeout=30)[self.name].result(timeout=30)
        self._until(lambda: self.name not in self.admin.list_topics(timeout=10).topics, f"{self.name} to be gone")

    def _readable(self, partition: int) -> bool:
        try:
            watermarks(self.settings, self.name, partition)
        except Exception:
            return False
        return True

    @staticmethod
    def _until(condition: Any, what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.2)

    def append(self, partition: int, items: list[dict[str, Any]], *, tamper: bool = False) -> list[dict[str, Any]]:
        """``items`` chained after what this partition holds; ``tamper``: the last one's hash is wrong."""
        chained = []
        for item in items:
            record = chain(self.heads[partition], item)
            self.heads[partition] = record["hash"]
            chained.append(record)
        if tamper:
            chained[-1] = {**chained[-1], "hash": "0" * 63 + "1"}
        producer = Producer({**client_config(self.settings)})
        for record in chained:
            value = self.codec.encode(AUDIT_SCHEMA, record)
            producer.produce(self.name, key=record["person"].encode(), value=value, partition=partition)
        assert producer.flush(30) == 0
        self.written[partition].extend(chained)
        return chained

    def delete_records_before(self, partition: int, offset: int) -> None:
        result = self.admin.delete_records([TopicPartition(self.name, partition, offset)])
        for future in result.values():
            future.result(timeout=30)

    def verify(self, *args: str) -> Any:
        env = {**self.settings.as_env(), "CROSSROADS_AUDIT_SEAL_FILE": str(self.seal_file), "COLUMNS": "400"}
        return CliRunner().invoke(audit_cli, ["verify", "--topic", self.name, *args], env=env)

    def seals(self) -> dict[int, Seal]:
        return {p: s for (t, p), s in load_seals(self.seal_file).items() if t == self.name}

    def problems(self, output: str) -> list[str]:
        return [line for line in output.splitlines() if " partition=" in line]


@pytest.fixture
def audit(topics: Settings, tmp_path: Path) -> Iterator[AuditTopic]:
    topic = AuditTopic(topics, tmp_path / "operator" / "verified-heads.json")
    yield topic
    if topic.name in topic.admin.list_topics(timeout=10).topics:
        topic.delete()


def _day(seal: Seal) -> str:
    return seal.verified_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_verify_seals_the_heads_then_advances_them_from_the_seals(audit: AuditTopic) -> None:
    first = {0: audit.append(0, entries("a", 5)), 1: audit.append(1, entries("b", 3))}

    result = audit.verify()

    assert result.exit_code == 0, result.output
    assert "all 8 records verify (8 messages read, from the first record)" in result.output
    seals = audit.seals()
    assert {p: (s.start_offset, s.offset, s.hash, s.records) for p, s in seals.items()} == {
        0: (0, 4, first[0][-1]["hash"], 5),
        1: (0, 2, first[1][-1]["hash"], 3),
    }
    assert stat.S_IMODE(audit.seal_file.stat().st_mode) == 0o600

    more = audit.append(0, entries("c", 4))
    again = audit.verify()
    assert again.exit_code == 0, again.output
    assert "all 12 records verify (6 messages read, from the seals on)" in again.output  # 2 sealed records + 4 new
    advanced = audit.seals()
    assert (advanced[0].offset, advanced[0].hash, advanced[0].records) == (8, more[-1]["hash"], 9)
    assert advanced[0].verified_at > seals[0].verified_at

    full = audit.verify("--full")
    assert full.exit_code == 0 and "all 12 records verify (12 messages read, from the first record)" in full.output

    audit.append(1, entries("d", 1))
    unrecorded = audit.verify("--no-seal")
    assert unrecorded.exit_code == 0, unrecorded.output
    assert audit.seals()[1].offset == 2  # checked, not recorded


def test_records_deleted_at_the_start_are_named_and_the_seal_is_kept(audit: AuditTopic) -> None:
    audit.append(0, entries("a", 5))
    assert audit.verify().exit_code == 0
    sealed = audit.seals()

    audit.delete_records_before(0, 2)  # what a principal allowed to delete records can do to a topic kept forever
    for args in ((), ("--full",)):
        result = audit.verify(*args)
        assert result.exit_code == 1, result.output
        assert audit.problems(result.output) == [
            "DELETED AT START partition=0 offset=0 audit_id=? reason: deleted at the start: offsets 0-1 are gone "
            "(the partition now starts at offset 2); the audit topic is kept forever"
        ]
    assert audit.seals()[0] == sealed[0]  # not advanced


def test_a_topic_deleted_then_recreated_with_fewer_records_or_a_forged_chain_fails(audit: AuditTopic) -> None:
    original = audit.append(0, entries("a", 6))
    audit.append(1, entries("b", 2))
    assert audit.verify().exit_code == 0
    sealed = audit.seals()

    audit.delete()
    gone = audit.verify()
    assert gone.exit_code == 1, gone.output
    assert audit.problems(gone.output) == [
        f"TRUNCATED partition=0 offset=5 audit_id=? reason: truncated: the partition does not exist but offset 5 "
        f"was verified on {_day(sealed[0])}",
        f"TRUNCATED partition=1 offset=1 audit_id=? reason: truncated: the partition does not exist but offset 1 "
        f"was verified on {_day(sealed[1])}",
    ]

    # recreated with the first half of the same chain: a valid chain, only shorter
    audit.create()
    audit.append(0, [{**r, "previous_hash": "", "hash": ""} for r in original[:3]])
    audit.append(1, entries("b", 2))
    shorter = audit.verify()
    assert shorter.exit_code == 1, shorter.output
    assert audit.problems(shorter.output) == [
        f"TRUNCATED partition=0 offset=5 audit_id=? reason: truncated: the partition ends at offset 2 but offset 5 "
        f"was verified on {_day(sealed[0])}"
    ]
    assert audit.seals()[0] == sealed[0]  # kept: every later run fails the same way
    assert audit.seals()[1].verified_at > sealed[1].verified_at  # the partition that verifies advances

    # ... and padded past the sealed offset with records that were never there
    forged = audit.append(0, entries("forged", 4))
    longer = audit.verify()
    assert longer.exit_code == 1, longer.output
    [line] = audit.problems(longer.output)
    assert line.startswith(
        f"REWRITTEN partition=0 offset=5 audit_id={forged[2]['audit_id']} reason: record at offset 5 was rewritten: "
        f"it now has hash {forged[2]['hash']}; it was sealed with hash {sealed[0].hash} on {_day(sealed[0])}"
    )
    assert audit.verify("--full").exit_code == 1


def test_an_edited_record_after_the_seal_is_still_named(audit: AuditTopic) -> None:
    audit.append(0, entries("a", 3))
    assert audit.verify().exit_code == 0
    [bad] = audit.append(0, entries("e", 1), tamper=True)

    for args in ((), ("--full",)):
        result = audit.verify(*args)
        assert result.exit_code == 1, result.output
        assert audit.problems(result.output) == [
            f"FIRST BAD RECORD partition=0 offset=3 audit_id={bad['audit_id']} reason: {EDITED}"
        ]
    assert audit.seals()[0].offset == 2
