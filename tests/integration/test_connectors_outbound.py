"""The outbound connector on the real broker: a mailbox drained to FO.NOTI files, nothing lost under SIGKILL;
and, with the platform running, the inbound NOTI's tickets are the very tickets of the platform's
acknowledgements that the outbound connector writes."""

from __future__ import annotations

import contextlib
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
from confluent_kafka import Producer

from connectors.files.inbound import InboundConnector
from connectors.files.outbound import OutboundConnector
from connectors.files.samples import dimona_records, write_jsonl
from streams.catalog import mailbox
from streams.codecs import AvroCodec, SchemaRegistry
from streams.domain.admission import ACKNOWLEDGEMENT_SCHEMA
from streams.kafka.admin import TopicAdmin
from streams.kafka.producer import producer_config
from streams.settings import PROJECT_ROOT, Settings

pytestmark = pytest.mark.integration

ACTOR = "0206731645"


@pytest.fixture(scope="module")
def out_settings(topics: Settings) -> Iterator[Settings]:
    tag = uuid.uuid4().hex[:6]
    settings = topics.model_copy(
        update={"topic_prefix": f"{topics.topic_prefix}-fdout{tag}", "app_id": f"{topics.app_id}-fdout{tag}"}
    )
    TopicAdmin(settings).apply([mailbox(ACTOR)])
    yield settings
    with contextlib.suppress(Exception):
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
        for future in admin.delete_topics([mailbox(ACTOR).topic(settings.topic_prefix)]).values():
            with contextlib.suppress(Exception):
                future.result(timeout=30)


def fill_mailbox(settings: Settings, count: int) -> set[str]:
    """``count`` acknowledgements in ACTOR's mailbox; returns their tickets."""
    codec = AvroCodec(SchemaRegistry.from_directory(settings.schema_dir))
    producer = Producer(producer_config(settings))
    topic = mailbox(ACTOR).topic(settings.topic_prefix)
    tickets = set()
    at = dt.datetime(2026, 1, 27, 9, tzinfo=dt.UTC)
    for i in range(count):
        ticket = str(uuid.uuid4())
        tickets.add(ticket)
        ack = {
            "ticket": ticket,
            "sender_reference": f"R-{i}",
            "recipient": ACTOR,
            "declaration_type": "be.crossroads.directory.Integration",
            "status": "ACCEPTED",
            "violations": [],
            "acknowledged_at": at,
        }
        while True:
            try:
                producer.produce(topic, key=str(i).encode(), value=codec.encode(ACKNOWLEDGEMENT_SCHEMA, ack))
                break
            except BufferError:
                producer.poll(0.1)
    assert producer.flush(60) == 0
    return tickets


def read_files(directory: Path) -> dict[str, list[dict[str, Any]]]:
    """ticket -> every line carrying it, over all FO.NOTI.MBOX files."""
    lines: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for path in sorted(directory.glob("FO.NOTI.MBOX.*")):
        for text in path.read_text(encoding="utf-8").splitlines():
            line = json.loads(text)
            lines[line["ticket"]].append(line)
    return lines


def test_drain_writes_files_then_commits(out_settings: Settings, tmp_path: Path) -> None:
    tickets = fill_mailbox(out_settings, 250)
    written = OutboundConnector(out_settings, ACTOR, tmp_path, per_file=100).run(once=True)
    assert [sum(1 for _ in p.open()) for p in written] == [100, 100, 50]
    assert all(p.name.startswith(f"FO.NOTI.MBOX.{ACTOR}.") and p.name.endswith(".R.jsonl") for p in written)
    lines = read_files(tmp_path)
    assert set(lines) == tickets and all(len(v) == 1 for v in lines.values())
    assert {v[0]["kind"] for v in lines.values()} == {"Acknowledgement"}
    assert OutboundConnector(out_settings, ACTOR, tmp_path).run(once=True) == []  # committed: nothing again


def test_sigkill_mid_drain_loses_nothing_and_duplicates_keep_their_ticket(
    out_settings: Settings, tmp_path: Path
) -> None:
    directory = tmp_path / "out"
    directory.mkdir()
    OutboundConnector(out_settings, ACTOR, tmp_path / "earlier").run(once=True)  # what the other test left
    tickets = fill_mailbox(out_settings, 30_000)
    env = {**os.environ, **out_settings.as_env()}
    command = [sys.executable, "-m", "connectors.files", "outbound", "--actor", ACTOR, "--dir", str(directory)]
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
    assert set(lines) == tickets  # nothing lost
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
