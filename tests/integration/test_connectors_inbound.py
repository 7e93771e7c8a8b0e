"""The inbound file-drop connector on the real broker: ACRF, NOTI, records on the intake topic, once per file,
crash in the middle of a file.

These tests work under a private topic prefix (not the session's): the 100,000 records they produce must not
be fed to a platform worker another test may have started on the session's topics.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaError, TopicPartition

from connectors.files.inbound import FILE_HEADER, RECORD_HEADER, InboundConnector
from connectors.files.samples import dimona_records, write_csv, write_jsonl
from streams.catalog import Area, by_key, platform_topics
from streams.domain.admission import intake_ticket
from streams.kafka.admin import TopicAdmin
from streams.kafka.security import client_config
from streams.settings import PROJECT_ROOT, Settings
from tests.integration.harness import drop_topics, own_run

pytestmark = pytest.mark.integration

EMPLOYER = "0403170701"


@pytest.fixture(scope="module")
def files_settings(topics: Settings) -> Iterator[Settings]:
    settings = own_run(topics, "fdin")
    TopicAdmin(settings).apply(platform_topics())
    yield settings
    drop_topics(settings)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / EMPLOYER).mkdir()
    return tmp_path


def dimona_topic(settings: Settings) -> str:
    return by_key(Area.INTAKE, "dimona").topic(settings.topic_prefix)


def drop(root: Path, seq: int, records: Iterator[dict[str, Any]] | None = None, *, go: bool = True, **kw: Any) -> Path:
    path = root / EMPLOYER / f"FI.DIMN.{EMPLOYER}.20260127.{seq:05d}.R"
    if records is not None:
        write_jsonl(path, records, **kw)
    if go:
        (root / EMPLOYER / f"GO.DIMN.{EMPLOYER}.20260127.{seq:05d}.R").touch()
    return path


def on_topic(settings: Settings) -> dict[bytes, list[tuple[int, int, int]]]:
    """Every connector-produced record on the DIMONA intake topic: file tag -> [(record, partition, offset)]."""
    topic = dimona_topic(settings)
    consumer = Consumer(
        {
            **client_config(settings),
            "group.id": f"check-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "log_level": 3,
        }
    )
    found: dict[bytes, list[tuple[int, int, int]]] = {}
    try:
        partitions = sorted(consumer.list_topics(topic, timeout=10).topics[topic].partitions)
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions}
        pending = {p for p in partitions if ends[p] > 0}
        consumer.assign([TopicPartition(topic, p, 0) for p in sorted(pending)])
        while pending:
            for message in consumer.consume(num_messages=5000, timeout=1.0):
                error = message.error()
                if error is not None:
                    assert error.code() == KafkaError._PARTITION_EOF, error
                    pending.discard(message.partition() or 0)
                    continue
                headers = dict(message.headers() or [])
                tag = headers.get(FILE_HEADER)
                if tag is not None:
                    number = int(headers[RECORD_HEADER] or b"0")
                    found.setdefault(tag, []).append((number, message.partition() or 0, message.offset() or 0))
    finally:
        consumer.close()
    return {tag: sorted(records) for tag, records in found.items()}


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def tag_of(acrf: dict[str, Any]) -> bytes:
    """The crossroads-file header of the records of the file this ACRF answers."""
    return (
        f"{acrf['sender']}.{acrf['date']}.{int(acrf['seq']):06d}.{acrf['environment']}.{acrf['sha256'][:16]}".encode()
    )


def assert_exactly_once(settings: Settings, noti: list[dict[str, Any]], tag: bytes) -> int:
    """Each accepted record of the NOTI is on the intake topic exactly once, at the position its ticket names."""
    topic = dimona_topic(settings)
    records = on_topic(settings).get(tag, [])
    counts = Counter(n for n, _, _ in records)
    assert [n for n, c in counts.items() if c > 1] == [], "duplicated on the intake topic"
    accepted = {line["record"]: line["ticket"] for line in noti if line.get("status") == "ACCEPTED"}
    assert set(counts) == set(accepted), "lost (or extra) on the intake topic"
    for number, partition, offset in records:
        assert accepted[number] == str(intake_ticket(topic, partition, offset))
    return len(records)


def test_100000_records_end_to_end(files_settings: Settings, root: Path) -> None:
    total, invalid_every = 100_000, 1000
    drop(root, 1, dimona_records(total, EMPLOYER, invalid_every=invalid_every))
    seen: list[int] = []
    connector = InboundConnector(files_settings, root, progress=lambda name, done, of: seen.append(done))
    [outcome] = connector.run(once=True)

    assert outcome.status == "ACCEPTED", outcome.reasons
    assert outcome.acrf is not None and outcome.noti is not None
    [acrf] = read_jsonl(outcome.acrf)
    assert (acrf["status"], acrf["records"], acrf["reasons"]) == ("ACCEPTED", total, [])
    noti = read_jsonl(outcome.noti)
    trailer = noti.pop()
    rejected = total // invalid_every
    assert trailer == {"type": "TRAILER", "records": total, "accepted": total - rejected, "rejected": rejected}
    assert [line["record"] for line in noti] == list(range(1, total + 1))
    refused = [line for line in noti if line["status"] == "REJECTED"]
    assert len(refused) == rejected
    assert {a["code"] for a in refused[0]["anomalies"]} == {"joint_committee.format", "dimona.planned_end_before_start"}
    assert all(line["ticket"] is None for line in refused)
    assert assert_exactly_once(files_settings, noti, tag_of(acrf)) == total - rejected
    assert seen[-1] == total  # the progress hook saw the whole file
    archived = sorted(p.name for p in (root / EMPLOYER / "archive").iterdir())
    assert archived == [f"FI.DIMN.{EMPLOYER}.20260127.00001.R", f"GO.DIMN.{EMPLOYER}.20260127.00001.R"]


def test_redrops_add_no_record_and_other_content_under_a_taken_identity_is_refused(
    files_settings: Settings, root: Path
) -> None:
    connector = InboundConnector(files_settings, root)
    data = drop(root, 2, dimona_records(50, EMPLOYER, first=200_000))
    content = data.read_bytes()
    [first] = connector.scan_once()
    assert first.status == "ACCEPTED" and first.acrf is not None
    original_acrf = first.acrf.read_bytes()
    before = on_topic(files_settings)

    for _ in range(100):
        drop(root, 2, go=False).write_bytes(content)
        drop(root, 2)
        [again] = connector.scan_once()
        assert again.status == "REPLAYED" and again.sent == 0
        assert again.acrf == first.acrf and first.acrf.read_bytes() == original_acrf  # the original answer

    assert on_topic(files_settings) == before
    assert len(list((root / EMPLOYER / "archive").glob("FI.*"))) == 101

    drop(root, 2, dimona_records(50, EMPLOYER, first=300_000))  # same identity, other content
    [conflict] = connector.scan_once()
    assert conflict.status == "REFUSED" and conflict.acrf is not None
    [refusal] = read_jsonl(conflict.acrf)
    assert refusal["status"] == "REFUSED"
    assert [r["code"] for r in refusal["reasons"]] == ["file.identity_reused"]
    assert on_topic(files_settings) == before
    assert (root / EMPLOYER / "error" / f"FI.DIMN.{EMPLOYER}.20260127.00002.R.reason").exists()
    connector.close()


def test_truncated_file_and_wrong_trailer_are_refused_with_reasons(files_settings: Settings, root: Path) -> None:
    connector = InboundConnector(files_settings, root)
    before = on_topic(files_settings)
    truncated = drop(root, 3, dimona_records(40, EMPLOYER, first=400_000), go=False)
    data = truncated.read_bytes()
    truncated.write_bytes(data[: len(data) - 100])  # the trailer and the end of the last record are missing
    drop(root, 3, go=True)
    drop(root, 4, dimona_records(40, EMPLOYER, first=500_000), trailer=41)
    outcomes = {o.file: o for o in connector.scan_once()}

    cut = outcomes[truncated.name]
    assert cut.status == "REFUSED" and cut.acrf is not None
    [acrf] = read_jsonl(cut.acrf)
    assert acrf["status"] == "REFUSED" and "file.truncated" in {r["code"] for r in acrf["reasons"]}
    wrong = outcomes[f"FI.DIMN.{EMPLOYER}.20260127.00004.R"]
    assert wrong.acrf is not None
    [acrf] = read_jsonl(wrong.acrf)
    assert acrf["status"] == "REFUSED"
    assert [r["code"] for r in acrf["reasons"]] == ["file.trailer_count"]
    assert "41" in acrf["reasons"][0]["message"] and "40" in acrf["reasons"][0]["message"]
    error = root / EMPLOYER / "error"
    assert "file.trailer_count" in (error / f"{wrong.file}.reason").read_text()
    assert (error / truncated.name).exists()
    assert on_topic(files_settings) == before  # nothing of a refused file is sent

    # a refused file does not take its identity: corrected, it is accepted under the same name
    drop(root, 4, dimona_records(40, EMPLOYER, first=500_000))
    [fixed] = connector.scan_once()
    assert fixed.status == "ACCEPTED" and fixed.accepted == 40
    connector.close()


def test_a_slowly_written_file_without_go_is_not_read(files_settings: Settings, root: Path) -> None:
    connector = InboundConnector(files_settings, root)
    path = root / EMPLOYER / f"FI.DIMN.{EMPLOYER}.20260127.00005.R"
    lines = [json.dumps(r) + "\n" for r in dimona_records(30, EMPLOYER, first=600_000)]
    with path.open("w", encoding="utf-8") as handle:
        for i, line in enumerate(lines):
            handle.write(line[: len(line) // 2])  # half a line: a reader would see a truncated file
            handle.flush()
            if i % 10 == 0:
                assert connector.scan_once() == []
            handle.write(line[len(line) // 2 :])
        handle.write(json.dumps({"type": "TRAILER", "records": 30}) + "\n")
    assert connector.scan_once() == []
    assert not (root / EMPLOYER / "out").exists() and path.exists()

    drop(root, 5, go=True)
    [outcome] = connector.scan_once()
    assert (outcome.status, outcome.records, outcome.accepted) == ("ACCEPTED", 30, 30)
    connector.close()


def test_td_cancels_a_file_not_yet_processed(files_settings: Settings, root: Path) -> None:
    connector = InboundConnector(files_settings, root)
    before = on_topic(files_settings)
    path = drop(root, 6, dimona_records(5, EMPLOYER, first=700_000))
    (root / EMPLOYER / f"TD.DIMN.{EMPLOYER}.20260127.00006.R").touch()
    [outcome] = connector.scan_once()
    assert outcome.status == "CANCELLED"
    assert (root / EMPLOYER / "cancelled" / path.name).exists() and not path.exists()
    assert on_topic(files_settings) == before
    connector.close()


def test_csv_file_with_every_anomaly_in_its_noti(files_settings: Settings, root: Path) -> None:
    records = list(dimona_records(6, EMPLOYER, first=800_002, invalid_every=3))  # 2nd and 5th invalid
    records[0]["envelope"]["sender"] = "0206731645"  # another sender's record in this employer's file
    path = root / EMPLOYER / f"FI.DIMN.{EMPLOYER}.20260127.00007.R.csv"
    write_csv(path, records)
    (root / EMPLOYER / f"GO.DIMN.{EMPLOYER}.20260127.00007.R").touch()
    connector = InboundConnector(files_settings, root)
    [outcome] = connector.scan_once()
    connector.close()
    assert outcome.status == "ACCEPTED" and outcome.noti is not None
    noti = read_jsonl(outcome.noti)[:-1]
    assert [line["status"] for line in noti] == ["REJECTED", "REJECTED", "ACCEPTED", "ACCEPTED", "REJECTED", "ACCEPTED"]
    assert [a["code"] for a in noti[0]["anomalies"]] == ["file.sender"]
    assert {a["code"] for a in noti[1]["anomalies"]} == {"joint_committee.format", "dimona.planned_end_before_start"}


def _connector_process(settings: Settings, root: Path, chunk: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, **settings.as_env()}
    log = (root / "connector.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "connectors.files", "inbound", "--dir", str(root), "--once", "--chunk", str(chunk)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=log,
    )


def test_sigkill_mid_file_then_restart_loses_and_duplicates_nothing(files_settings: Settings, root: Path) -> None:
    total = 40_000
    drop(root, 8, dimona_records(total, EMPLOYER, first=1_000_000, invalid_every=500))
    journal = root / EMPLOYER / ".state" / f"{EMPLOYER}.20260127.000008.R" / "journal"

    process = _connector_process(files_settings, root, chunk=2000)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        text = journal.read_text() if journal.exists() else ""
        if text.count("C\n") >= 2 and text.rsplit("\n", 2)[-2].startswith("S "):
            time.sleep(0.1)  # in the middle of a chunk: some records delivered, none journaled
            break
        time.sleep(0.01)
    assert process.poll() is None, f"the connector ended before it could be killed; see {root / 'connector.log'}"
    process.send_signal(signal.SIGKILL)
    process.wait(30)
    assert not list((root / EMPLOYER).glob("out/FO.NOTI.*")), "killed after the end: nothing was tested"
    sent_before = sum(1 for line in journal.read_text().splitlines() if line.startswith("D "))
    assert 0 < sent_before < total

    restarted = _connector_process(files_settings, root, chunk=2000)
    assert restarted.wait(300) == 0, (root / "connector.log").read_text()[-3000:]
    [noti_path] = (root / EMPLOYER / "out").glob("FO.NOTI.*")
    noti = read_jsonl(noti_path)
    assert noti.pop()["accepted"] == total - total // 500
    [acrf_path] = (root / EMPLOYER / "out").glob("FO.ACRF.*")
    [acrf] = read_jsonl(acrf_path)
    assert assert_exactly_once(files_settings, noti, tag_of(acrf)) == total - total // 500
    shutil.rmtree(root / EMPLOYER / "archive")
