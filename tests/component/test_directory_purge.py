"""The directory's purge in memory (faust's memory store): asked to purge, the directory removes what is past its
period from the files it holds, through its own release -- the audit records written first, then the changed
files and, for a file that goes whole, a tombstone -- and its table holds what the purge left; when the audit
records cannot be written, nothing is purged.

Not with RocksDB here: its store lists only the keys of the changelog partitions faust's assignor gave the
worker, and faust's test harness assigns none (the real worker's are; the write path is the same either way)."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faust

from streams.codecs import AvroCodec, SchemaRegistry
from streams.codecs.person_file import decode_person_file
from streams.domain.directory import PersonFile
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
LONG_AGO = (dt.date(2001, 1, 1), dt.date(2012, 12, 31))
OPEN_SINCE = dt.date(2014, 1, 1)


def held(app: faust.App, topic: str) -> tuple[set[int], int]:
    return set(range(PARTITIONS)), PARTITIONS  # this worker holds every partition


@dataclass
class Directory:
    app: Any
    codec: AvroCodec
    log: Log
    publisher: LoggingPublisher
    trail: FakeAuditTopic
    changelog: str
    kept: str  # a closed entry of long ago and an open one
    gone: str  # only a closed entry of long ago

    def file_of(self, person: str) -> PersonFile:
        return decode_person_file(self.codec, self.app.tables["directory"].data.get(person.encode()))

    def run(self, purging: Callable[[Any], Any]) -> None:
        """Register the files, wait until the table holds them, then run ``purging`` with the agent running."""
        declarations = [
            (self.kept, integration(MUTUALITY, "MUTUALITY", "TITULAR", self.kept, *LONG_AGO, ticket=_ticket())),
            (self.kept, integration(MUTUALITY, "MUTUALITY", "TITULAR", self.kept, OPEN_SINCE, ticket=_ticket())),
            (self.gone, integration(MUTUALITY, "MUTUALITY", "TITULAR", self.gone, *LONG_AGO, ticket=_ticket())),
        ]

        async def go() -> None:
            async with self.app.agents["directory"].test_context() as agent:
                for person, declaration in declarations:
                    key = person.encode()
                    value = self.codec.encode(*declaration)
                    await agent.put(value=value, key=key, partition=partition_for(key, PARTITIONS))
                await settled(
                    lambda: len(self.file_of(self.kept).entries) == 2 and bool(self.file_of(self.gone).entries)
                )
                del self.log[:]
                await purging(agent)

        asyncio.run(go())


def _ticket() -> str:
    return str(uuid.uuid4())


async def settled(condition: Callable[[], bool]) -> None:
    # a release comes when the oldest event has waited batch_within_ms: wait for it, however slow this machine is
    async with asyncio.timeout(10):
        while not condition():
            await asyncio.sleep(0.01)


def a_directory(tmp_path: Path, **settings_: Any) -> Directory:
    settings = Settings(
        app_id=f"component-{uuid.uuid4().hex[:6]}",
        store="memory://",
        state_dir=tmp_path,
        kafka_security=COMPONENT_TRANSPORT,
        directory_purge_interval_s=0,
        **settings_,
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
    changelog = f"{settings.topic_prefix}.directory.entries.v1"
    return Directory(app, codec, log, publisher, trail, changelog, niss(), niss())


def test_a_purge_removes_what_is_past_its_period_audit_first_then_the_changelog(tmp_path: Path) -> None:
    d = a_directory(tmp_path)

    async def purge(agent: Any) -> None:
        _PURGERS[d.app].request()
        await settled(lambda: sum(1 for entry in d.log if entry[0] == "state") >= 2 and d.log[-1][0] == "flush")

    d.run(purge)

    audits = [entry for entry in d.log if entry[0] == "audit"]
    states = [entry for entry in d.log if entry[0] == "state"]
    assert len(audits) == 2 and len(states) == 2, d.log
    # every audit record of the purge is written before any changelog record it accounts for
    assert d.log.index(states[0]) > max(d.log.index(a) for a in audits)
    assert {(topic, key, tombstone) for _, topic, key, tombstone in states} == {
        (d.changelog, d.kept.encode(), False),
        (d.changelog, d.gone.encode(), True),
    }
    # each to the person's own partition, the one the directory decides it in
    by_key = {key: partition for _, partition, key, _ in d.publisher.states[-2:]}
    assert by_key == {p.encode(): partition_for(p.encode(), PARTITIONS) for p in (d.kept, d.gone)}
    records = [r for p in range(PARTITIONS) for r in d.trail.records(p) if r.get("purged")]
    assert sorted(r["person"] for r in records) == sorted([d.kept, d.gone])
    assert all(r["recorded_at"] == NOW and r["reason"].startswith("purged: ended on 2012-12-31") for r in records)
    # the table holds what the purge left: the open entry; the file purged whole is gone
    assert [(e.start, e.end) for e in d.file_of(d.kept).entries] == [(OPEN_SINCE, None)]
    assert d.gone.encode() not in d.app.tables["directory"].data


def test_a_purge_whose_audit_records_are_not_written_purges_nothing_and_stops_the_directory(tmp_path: Path) -> None:
    d = a_directory(tmp_path)
    crash: list[BaseException | None] = []

    async def purge(agent: Any) -> None:
        d.trail.refuse = set(range(PARTITIONS))  # the broker takes none of the purge's audit records
        _PURGERS[d.app].request()
        await settled(lambda: agent._crash_reason is not None)
        crash.append(agent._crash_reason)

    d.run(purge)

    assert isinstance(crash[0], ConnectionError)  # the directory stops (its supervisor restarts the worker)
    assert [entry for entry in d.log if entry[0] in ("audit", "state")] == []  # no changelog record, no audit
    assert len(d.file_of(d.kept).entries) == 2 and d.file_of(d.gone).entries  # the table as it was


def test_a_sweep_goes_a_slice_of_files_at_a_time_each_through_its_own_release(tmp_path: Path) -> None:
    d = a_directory(tmp_path, batch_max_events=1)  # a slice of one file

    async def purge(agent: Any) -> None:
        _PURGERS[d.app].request()
        await settled(lambda: sum(1 for entry in d.log if entry[0] == "state") >= 2 and d.log[-1][0] == "flush")

    d.run(purge)

    # two releases, each its file's audit record, a flush, its changelog record, a flush
    kinds = [entry[0] for entry in d.log]
    assert kinds == ["audit", "flush", "state", "flush"] * 2, d.log
    assert {d.log[2][2], d.log[6][2]} == {d.kept.encode(), d.gone.encode()}  # the two files, one per slice
    assert [(e.start, e.end) for e in d.file_of(d.kept).entries] == [(OPEN_SINCE, None)]
    assert d.gone.encode() not in d.app.tables["directory"].data
