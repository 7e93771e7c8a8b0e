"""A dead letter triaged, its cause fixed, and replayed: one fact, however many replays, each one audited.

The cause: a sender already writes AddressChange v2 (an optional field added, a compatible change) while the
platform still runs on v1 -- the intake does not know the writer's schema fingerprint and dead-letters the
message whole (UnknownSchemaError). The fix: the platform deploys v2 (the worker restarted on the new schema
directory). The operator finds the letter with `crossroads dead-letters list`, reads it with `show`, and replays
it -- twice at the same time, then once more -- with `crossroads dead-letters replay`. The intake admits the
origin once: one fact on facts.civil, one acknowledgement, no rejection; the three replays are in the audit trail
(the operator, the letter, the topic), and that trail verifies.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from streams.catalog import platform_topics
from streams.codecs import AvroCodec, SchemaRegistry
from streams.domain.admission import intake_ticket
from streams.domain.audit import REPLAY_LEGAL_BASIS
from streams.kafka.admin import TopicAdmin, wait_drained, wait_for_group
from streams.kafka.audit_log import partition_count, read_partition
from streams.kafka.producer import DeclarationProducer
from streams.network_files import load_network
from streams.settings import Settings
from streams.stack.workers import PlatformWorkers, crossroads_argv
from tests.integration.harness import Platform, Seen, drop_topics, eventually, own_run
from tests.support import address_change

pytestmark = pytest.mark.integration

ADDRESS_CHANGE = "be.crossroads.civil.AddressChange"
NOTE = {"name": "note", "type": ["null", "string"], "default": None, "doc": "A remark of the sender (v2)."}


def _schemas_with_v2(source: Path, into: Path) -> Path:
    """A copy of the contracts where AddressChange is v2: what the sender upgraded to, the platform later."""
    shutil.copytree(source, into)
    path = into / "civil" / "AddressChange.avsc"
    schema = json.loads(path.read_text(encoding="utf-8"))
    schema["fields"].append(NOTE)
    path.write_text(json.dumps(schema, indent=2), encoding="utf-8")
    return into


@pytest.fixture
def run(topics: Settings) -> Iterator[Settings]:
    settings = own_run(topics, "dlq", web_port=topics.web_port + 3)
    TopicAdmin(settings).apply(platform_topics(load_network(settings.network_dir).institutions))
    try:
        yield settings
    finally:
        drop_topics(settings)  # under their own prefix: the session's cleanup would not see them


def _cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*crossroads_argv(), "dead-letters", *args], env=settings.as_env(), capture_output=True, text=True, timeout=120
    )


def _letters(settings: Settings) -> list[dict[str, Any]]:
    listed = _cli(settings, "list", "--json", "--topic", "civil")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    return [json.loads(line) for line in listed.stdout.splitlines() if line.startswith("{")]


def _about(seen: Seen, reference: str) -> bool:
    return seen.record.get("sender_reference") == reference


def _facts(settings: Settings, codec: AvroCodec, reference: str) -> list[dict[str, Any]]:
    topic = f"{settings.topic_prefix}.facts.civil.v1"
    found = []
    for partition in range(partition_count(settings, topic)):
        for record in read_partition(settings, topic, partition):
            fact = codec.decode(record.value).record
            if fact["envelope"]["sender_reference"] == reference:
                found.append(fact)
    return found


def test_a_dead_letter_fixed_and_replayed_three_times_becomes_one_fact_and_three_audited_replays(
    run: Settings, tmp_path: Path
) -> None:
    settings = run
    deployed = _schemas_with_v2(settings.schema_dir, tmp_path / "v2")
    sender_codec = AvroCodec(SchemaRegistry.from_directory(deployed))
    intake = f"{settings.topic_prefix}.intake.civil.v1"
    sources = [intake, f"{settings.topic_prefix}.facts.civil.v1", f"{settings.topic_prefix}.audit.pending.v1"]
    watcher = Platform(settings)
    workers = PlatformWorkers(settings, commands=("worker",))  # on v1: the repository's contracts
    workers.start()
    try:
        wait_for_group(settings, settings.app_id, timeout=120, check=workers.check)
        schema, record = address_change()
        record["note"] = "moved in with a relative"
        person, reference = record["person"], record["envelope"]["sender_reference"]
        producer = DeclarationProducer(settings, sender_codec)
        producer.send(schema, record, person)
        producer.flush()
        sent = sender_codec.encode(schema, record)

        # triage: the letter is listed and shown whole
        (listed,) = eventually("the dead letter", lambda: [x for x in _letters(settings) if x["key"] == person])
        assert listed["error_type"] == "UnknownSchemaError" and "fingerprint" in listed["reason"]
        assert listed["origin"]["topic"] == intake and base64.b64decode(listed["raw_b64"]) == sent
        shown = _cli(settings, "show", listed["id"], "--json")
        assert shown.returncode == 0, shown.stderr
        letter = json.loads(shown.stdout)
        assert letter["replayable"] == f"to {intake}"
        assert {h["key"] for h in letter["headers"]} >= {"crossroads-sender", "crossroads-seal"}
        readable = _cli(settings, "show", listed["id"])
        assert readable.returncode == 0 and "00000000  c3 01" in readable.stdout, readable.stdout + readable.stderr

        # the fix: the platform deploys AddressChange v2
        assert workers.stop() == ["worker"]
        workers = PlatformWorkers(settings.model_copy(update={"schema_dir": deployed}), commands=("worker",))
        workers.start()
        wait_for_group(settings, settings.app_id, timeout=120, check=workers.check)

        # two operators replay it at the same time, then one of them again
        racing = [
            subprocess.Popen(
                [*crossroads_argv(), "dead-letters", "replay", listed["id"], "--json"],
                env=settings.as_env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        outputs = [process.communicate(timeout=120) for process in racing]
        assert [p.returncode for p in racing] == [0, 0], outputs
        again = _cli(settings, "replay", listed["id"], "--json")
        assert again.returncode == 0, again.stderr
        replays = [json.loads(out) for out, _ in outputs] + [json.loads(again.stdout)]

        wait_drained(settings, settings.app_id, sources, timeout=300, check=workers.check)
        watcher.wait_caught_up(timeout=120)
        workers.check()
        facts = _facts(settings, sender_codec, reference)
        acks = watcher.seen(
            lambda s: s.schema.endswith("Acknowledgement") and s.record["sender_reference"] == reference
        )
        rejections = watcher.seen(
            lambda s: s.schema.endswith("Rejection") and s.record["sender_reference"] == reference
        )
        audited = watcher.seen(
            lambda s: s.schema.endswith("AuditRecord") and s.record["legal_basis"] == REPLAY_LEGAL_BASIS
        )
        verified = subprocess.run(
            [*crossroads_argv(), "audit", "verify", "--no-seal"],
            env=settings.as_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        after = _letters(settings)
    finally:
        workers.stop()
        watcher.close()

    origin = f"{intake}/{listed['origin']['partition']}/{listed['origin']['offset']}"
    assert {(r["id"], r["origin"], r["topic"]) for r in replays} == {(listed["id"], origin, intake)}
    assert len({r["offset"] for r in replays}) == 3 and len({r["partition"] for r in replays}) == 1
    # one fact, under the ticket of the replay the intake read first
    first = min(replays, key=lambda r: r["offset"])
    assert len(facts) == 1, f"{len(facts)} facts for one dead letter replayed three times"
    assert facts[0]["envelope"]["ticket"] == str(intake_ticket(intake, first["partition"], first["offset"]))
    assert facts[0]["note"] == "moved in with a relative" and facts[0]["person"] == person
    assert [a.record["status"] for a in acks] == ["ACCEPTED"] and rejections == []
    # three replays audited: who ran each, which letter, to which topic
    assert sorted(a.record["ticket"] for a in audited) == sorted(r["ticket"] for r in replays)
    for entry in (a.record for a in audited):
        assert entry["actor"] == settings.kafka_principal and entry["person"] == person
        assert entry["reason"] == f"dead letter {listed['id']} ({origin}) replayed to {intake}"
        assert entry["source_ticket"] == str(
            intake_ticket(intake, listed["origin"]["partition"], listed["origin"]["offset"])
        )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    # the letter stays listed: the dead-letter topic is the record of what happened
    assert [x["id"] for x in after if x["key"] == person] == [listed["id"]]
