"""The directory's purge in memory (faust's memory store): asked to purge, the directory removes what
is past its period from the files it holds, through its own release -- the audit records written first, then
the changed files and, for a file that goes whole, a tombstone -- and its table holds what the purge left.

Not with RocksDB here: its store lists only the keys of the changelog partitions faust's assignor gave the
worker, and faust's test harness assigns none (the real worker's are; the write path is the same either way)."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import faust

from streams.codecs import AvroCodec, SchemaRegistry
from streams.codecs.person_file import decode_person_file
from streams.kafka.partitioner import partition_for
from streams.network_files import load_network
from streams.settings import Settings
from tests.component.fakes import COMPONENT_TRANSPORT, FakeAuditTopic, Log, LoggingPublisher
from tests.support import integration, niss
from topologies import directory
from topologies.app import create_app
from topologies.deps import Deps
from topologies.directory_purge import _PURGERS

NOW = dt.datetime(2026, 12, 3, 3, 0, tzinfo=dt.UTC)
MUTUALITY = "0206731645"
PARTITIONS = 6


def held(app: faust.App, topic: str) -> tuple[set[int], int]:
    return set(range(PARTITIONS)), PARTITIONS  # this worker holds every partition


def test_a_purge_removes_what_is_past_its_period_audit_first_then_the_changelog(tmp_path: Path) -> None:
    settings = Settings(
        app_id=f"component-{uuid.uuid4().hex[:6]}",
        store="memory://",
        state_dir=tmp_path,
        kafka_security=COMPONENT_TRANSPORT,
        directory_purge_interval_s=0,
    )
    codec = AvroCodec(SchemaRegistry.from_directory(settings.schema_dir))
    log: Log = []
    publisher = LoggingPublisher(codec, log)
    trail = FakeAuditTopic(log=log)
    trail.codec = codec
    deps = Deps(
        settings,
        codec,
        clock=lambda: NOW,
        publisher=publisher,
        loaded_network=load_network(settings.network_dir),
        audit_publisher=trail,
        audit_heads=trail,
        held_partitions=held,
    )
    app = create_app(settings, flows=[directory], deps=deps)
    app.conf.tabledir = tmp_path / "tables"
    app.finalize()
    app.flow_control.resume()
    kept, gone = niss(), niss()
    old = integration(
        MUTUALITY, "MUTUALITY", "TITULAR", kept, dt.date(2001, 1, 1), dt.date(2012, 12, 31), ticket=str(uuid.uuid4())
    )
    still_open = integration(MUTUALITY, "MUTUALITY", "TITULAR", kept, dt.date(2014, 1, 1), ticket=str(uuid.uuid4()))
    alone = integration(
        MUTUALITY, "MUTUALITY", "TITULAR", gone, dt.date(2001, 1, 1), dt.date(2012, 12, 31), ticket=str(uuid.uuid4())
    )
    changelog = f"{settings.topic_prefix}.directory.entries.v1"
    table: Any = app.tables["directory"]

    def file_of(person: str) -> Any:
        return decode_person_file(codec, table.data.get(person.encode()))

    async def settled(condition: Any) -> None:
        # released when the oldest event has waited batch_within_ms, however slow this machine is
        for _ in range(1000):
            if condition():
                return
            await asyncio.sleep(0.01)

    async def go() -> None:
        async with app.agents["directory"].test_context() as agent:
            for person, declaration in ((kept, old), (kept, still_open), (gone, alone)):
                key = person.encode()
                await agent.put(value=codec.encode(*declaration), key=key, partition=partition_for(key, PARTITIONS))
            await settled(lambda: gone.encode() in table.data and len(file_of(kept).entries) == 2)
            del log[:]
            _PURGERS[app].request()
            await settled(lambda: sum(1 for entry in log if entry[0] == "state") >= 2 and log[-1][0] == "flush")

    asyncio.run(go())

    audits = [entry for entry in log if entry[0] == "audit"]
    states = [entry for entry in log if entry[0] == "state"]
    assert len(audits) == 2 and len(states) == 2, log
    # every audit record of the purge is written before any changelog record it accounts for
    assert log.index(states[0]) > max(log.index(a) for a in audits)
    assert {(topic, key, tombstone) for _, topic, key, tombstone in states} == {
        (changelog, kept.encode(), False),
        (changelog, gone.encode(), True),
    }
    # each to the person's own partition, the one the directory decides it in
    by_key = {key: partition for _, partition, key, _ in publisher.states[-2:]}
    assert by_key == {p.encode(): partition_for(p.encode(), PARTITIONS) for p in (kept, gone)}
    records = [r for p in range(PARTITIONS) for r in trail.records(p) if r.get("purged")]
    assert sorted(r["person"] for r in records) == sorted([kept, gone])
    assert all(r["recorded_at"] == NOW and r["reason"].startswith("purged: ended on 2012-12-31") for r in records)
    # the table holds what the purge left: the open entry; the file purged whole is gone
    assert [(e.start, e.end) for e in file_of(kept).entries] == [(dt.date(2014, 1, 1), None)]
    assert gone.encode() not in table.data
