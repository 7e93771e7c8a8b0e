"""`crossroads send` produces a file's declarations to their intake topics, as one sender or as their own."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer

from streams.codecs import AvroCodec, SchemaRegistry
from streams.codecs.errors import CodecError
from streams.domain.samples import SAMPLE_NISS
from streams.kafka.security import client_config
from streams.settings import Settings
from streams.stack.workers import crossroads_argv
from tests.support import dimona_in, to_json

pytestmark = pytest.mark.integration

EMPLOYER_A, EMPLOYER_B = "0403170701", "0477472701"
START = dt.date(2026, 12, 1)


def _intake(settings: Settings, references: set[str]) -> dict[str, str]:
    codec = AvroCodec(SchemaRegistry.from_directory(settings.schema_dir))
    consumer = Consumer({**client_config(settings), "group.id": uuid.uuid4().hex, "auto.offset.reset": "earliest"})
    consumer.subscribe([f"{settings.topic_prefix}.intake.dimona.v1"])
    found: dict[str, str] = {}
    for _ in range(60):
        for message in consumer.consume(num_messages=500, timeout=0.5):
            try:
                record = codec.decode(message.value() or b"").record
            except CodecError:
                continue  # the session's topic holds other tests' records, some deliberately undecodable
            if record["envelope"]["sender_reference"] in references:
                found[record["envelope"]["sender_reference"]] = record["envelope"]["sender"]
        if len(found) == len(references):
            break
    consumer.close()
    return found


def test_send_as_one_actor_or_with_each_records_own_sender(topics: Settings, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    mixed = tmp_path / "mixed.jsonl"
    declarations = [
        {"type": "DimonaIn", **dimona_in(sender, SAMPLE_NISS, START, reference=f"{tag}-{i}").record}
        for i, sender in enumerate([EMPLOYER_A, EMPLOYER_B])
    ]
    mixed.write_text("".join(json.dumps(line, default=to_json) + "\n" for line in declarations))
    env = {**os.environ, **topics.as_env()}

    def send(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*crossroads_argv(), "send", str(mixed), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    as_a = send("--as", EMPLOYER_A)
    kept = send("--keep-senders")

    assert (
        as_a.returncode == 1 and "sent 1 declarations" in as_a.stdout and "not sent" in as_a.stdout
    )  # B's record refused
    assert kept.returncode == 0 and "sent 2 declarations" in kept.stdout
    assert send().returncode == 2  # says who sends
    assert _intake(topics, {f"{tag}-0", f"{tag}-1"}) == {f"{tag}-0": EMPLOYER_A, f"{tag}-1": EMPLOYER_B}
