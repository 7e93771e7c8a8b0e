"""The outbound connector on the real broker: a mailbox drained to FO.NOTI files, nothing lost under SIGKILL —
an institution's own mailbox topic, and an employer's share of the employers' mailbox (other employers' records
interleaved); and, with the platform running, the inbound NOTI's tickets are the very tickets of the platform's
acknowledgements that the outbound connector writes."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from connectors.files.inbound import InboundConnector
from connectors.files.outbound import OutboundConnector
from connectors.files.samples import dimona_records, write_jsonl
from streams.catalog import EMPLOYERS_MAILBOX, mailbox, mailbox_of
from streams.codecs import AvroCodec, SchemaRegistry
from streams.domain.outcomes import ACKNOWLEDGEMENT as ACKNOWLEDGEMENT_SCHEMA
from streams.kafka.admin import TopicAdmin
from streams.kafka.partitioner import partition_for
from streams.kafka.producer import producer_config
from streams.kafka.security import client_config
from streams.settings import PROJECT_ROOT, Settings
from tests.integration.harness import drop_topics, own_run

pytestmark = pytest.mark.integration

INSTITUTION = "0206731645"  # a mutuality of the network: a mailbox topic of its own
EMPLOYER = "0403170701"  # not an institution: its share of the employers' mailbox
INSTITUTIONS = frozenset({INSTITUTION})
ACTORS = pytest.mark.parametrize("actor", [INSTITUTION, EMPLOYER])


@pytest.fixture(scope="module")
def out_settings(topics: Settings) -> Iterator[Settings]:
    settings = own_run(topics, "fdout")
    TopicAdmin(settings).apply([mailbox(INSTITUTION), EMPLOYERS_MAILBOX])
    yield settings
    drop_topics(settings)


def others_on_the_same_partition(actor: str, partitions: int, count: int = 3) -> list[str]:
    """Employer ids whose records share the actor's partition of the employers' mailbox, and one that does not."""
    target = partition_for(actor.encode(), partitions)
    ids = [f"{n:010d}" for n in range(100_000_000, 101_000_000, 7919)]
    same = [i for i in ids if partition_for(i.encode(), partitions) == target][:count]
    elsewhere = next(i for i in ids if partition_for(i.encode(), partitions) != target)
    return [*same, elsewhere]


def fill_mailbox(settings: Settings, count: int, actor: str) -> set[str]:
    """``count`` acknowledgements in ``actor``'s mailbox; returns their tickets. In the employers' mailbox, each
    of the actor's records is followed by one of another employer (most on the actor's partition)."""
    codec = AvroCodec(SchemaRegistry.from_directory(settings.schema_dir))
    producer = Producer(producer_config(settings))
    spec, key = mailbox_of(actor, INSTITUTIONS)
    topic = spec.topic(settings.topic_prefix)
    others = [] if key is None else others_on_the_same_partition(actor, settings.default_partitions)
    tickets = set()
    at = dt.datetime(2026, 1, 27, 9, tzinfo=dt.UTC)

    def produce(recipient: str, record_key: bytes, i: int) -> str:
        ticket = str(uuid.uuid4())
        ack = {
            "ticket": ticket,
            "sender_reference": f"R-{i}",
            "recipient": recipient,
            "declaration_type": "be.crossroads.directory.Integration",
            "status": "ACCEPTED",
            "violations": [],
            "acknowledged_at": at,
        }
        while True:
            try:
                producer.produce(topic, key=record_key, value=codec.encode(ACKNOWLEDGEMENT_SCHEMA, ack))
                return ticket
            except BufferError:
                producer.poll(0.1)

    for i in range(count):
        tickets.add(produce(actor, key if key is not None else str(i).encode(), i))
        if others:
            other = others[i % len(others)]
            produce(other, other.encode(), i)
    assert producer.flush(60) == 0
    return tickets


def committed_at_end(settings: Settings, actor: str) -> bool:
    """The actor's group has committed the end of every partition it reads: drained up to there."""
    spec, key = mailbox_of(actor, INSTITUTIONS)
    topic = spec.topic(settings.topic_prefix)
    consumer = Consumer({**client_config(settings), "group.id": f"{settings.app_id}-outbound-{actor}"})
    try:
        partitions = range(settings.default_partitions)
        if key is not None:
            partitions = range(p := partition_for(key, settings.default_partitions), p + 1)
        committed = consumer.committed([TopicPartition(topic, p) for p in partitions], timeout=10)
        return all(tp.offset == consumer.get_watermark_offsets(tp, timeout=10)[1] for tp in committed)
    finally:
        consumer.close()


def read_files(directory: Path) -> dict[str, list[dict[str, Any]]]:
    """ticket -> every line carrying it, over all FO.NOTI.MBOX files."""
    lines: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for path in sorted(directory.glob("FO.NOTI.MBOX.*")):
        for text in path.read_text(encoding="utf-8").splitlines():
            line = json.loads(text)
            lines[line["ticket"]].append(line)
    return lines


@ACTORS
def test_drain_writes_files_then_commits(out_settings: Settings, tmp_path: Path, actor: str) -> None:
    tickets = fill_mailbox(out_settings, 250, actor)
    written = OutboundConnector(out_settings, actor, tmp_path, per_file=100).run(once=True)
    assert [sum(1 for _ in p.open()) for p in written] == [100, 100, 50]
    assert all(p.name.startswith(f"FO.NOTI.MBOX.{actor}.") and p.name.endswith(".R.jsonl") for p in written)
    lines = read_files(tmp_path)
    assert set(lines) == tickets and all(len(v) == 1 for v in lines.values())  # the actor's, none of the others'
    assert {v[0]["kind"] for v in lines.values()} == {"Acknowledgement"}
    assert {v[0]["record"]["recipient"] for v in lines.values()} == {actor}
    assert committed_at_end(out_settings, actor)  # other employers' records after its last one: skipped, committed
    assert OutboundConnector(out_settings, actor, tmp_path).run(once=True) == []  # committed: nothing again


@ACTORS
def test_sigkill_mid_drain_loses_nothing_and_duplicates_keep_their_ticket(
    out_settings: Settings, tmp_path: Path, actor: str
) -> None:
    directory = tmp_path / "out"
    directory.mkdir()
    OutboundConnector(out_settings, actor, tmp_path / "earlier").run(once=True)  # what the other test left
    tickets = fill_mailbox(out_settings, 30_000, actor)
    env = {**os.environ, **out_settings.as_env()}
    command = [sys.executable, "-m", "connectors.files", "outbound", "--actor", actor, "--dir", str(directory)]
    log = (tmp_path / "outbound.log").open("ab")
    process = subprocess.Popen([*command, "--per-file", "300"], cwd=PROJECT_ROOT, env=env, stdout=log, stderr=log)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(directory.glob("FO.NOTI.MBOX.*"))) < 3:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait(30)
    before = sum(len(v) for v in read_files(directory).values())
    assert 0 < before < len(tickets), "killed after the end: nothing was tested"

    assert subprocess.run([*command, "--once"], cwd=PROJECT_ROOT, env=env, stdout=log, stderr=log).returncode == 0
    lines = read_files(directory)
    assert set(lines) == tickets  # nothing lost, and nothing of another employer
    for ticket, copies in lines.items():
        assert all(copy["record"] == copies[0]["record"] for copy in copies), ticket  # a duplicate is the same
        assert len({(c["partition"], c["offset"]) for c in copies}) == 1


def test_noti_tickets_are_the_platforms_acknowledgement_tickets(platform: Settings, tmp_path: Path) -> None:
    """End to end: a DIMN file through the inbound connector, the real worker, and the outbound connector."""
    employer = "0403170701"
    root = tmp_path / "in"
    (root / employer).mkdir(parents=True)
    path = root / employer / f"FI.DIMN.{employer}.20260127.{uuid.uuid4().int % 100000:05d}.R"
    write_jsonl(path, dimona_records(5, employer, first=uuid.uuid4().int % 1_000_000 + 2_000_000))
    (root / employer / path.name.replace("FI.", "GO.", 1)).touch()
    [outcome] = InboundConnector(platform, root).run(once=True)
    assert outcome.status == "ACCEPTED" and outcome.noti is not None
    noti = [json.loads(line) for line in outcome.noti.read_text().splitlines()][:-1]
    expected = {line["ticket"] for line in noti}
    assert len(expected) == 5 and None not in expected

    out = tmp_path / "out"
    outbound = OutboundConnector(platform, employer, out)
    found: dict[str, list[dict[str, Any]]] = {}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not expected <= set(found):
        outbound.run(once=True)
        found = read_files(out)
        time.sleep(0.5)
    acks = {t: v[0]["record"] for t, v in found.items() if t in expected}
    assert set(acks) == expected
    assert {a["status"] for a in acks.values()} == {"ACCEPTED"}
    assert {a["sender_reference"] for a in acks.values()} == {line["sender_reference"] for line in noti}
