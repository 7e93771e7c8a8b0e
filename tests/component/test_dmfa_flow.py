"""The DmfA step in memory: intake admits a DmfA to the step, which decides it with the employer's state in its
faust table (memory store), makes it a fact, routes its lines, and recognises a replay."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import uuid
from typing import Any

from streams.codecs import AvroCodec, SchemaRegistry
from streams.codecs.dmfa_state import decode_dmfa_state
from streams.domain.samples import sample_dmfa
from streams.network_files import load_network
from streams.settings import Settings
from tests.component.fakes import COMPONENT_TRANSPORT, sealed
from topologies import dmfa, intake
from topologies.app import create_app
from topologies.deps import Deps
from topologies.publisher import RecordingPublisher

NOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)
DMFA = "be.crossroads.dmfa.DmfaDeclaration"


def test_the_step_decides_each_dmfa_against_the_employers_earlier_ones_and_publishes_a_replay_once() -> None:
    settings = Settings(
        app_id=f"component-{uuid.uuid4().hex[:6]}", store="memory://", kafka_security=COMPONENT_TRANSPORT
    )
    codec = AvroCodec(SchemaRegistry.from_directory(settings.schema_dir))
    publisher = RecordingPublisher()
    positions = itertools.count(1)
    deps = Deps(
        settings,
        codec,
        clock=lambda: NOW,
        ticket_for=lambda topic, partition, offset: uuid.UUID(int=next(positions)),
        publisher=publisher,
        loaded_network=load_network(settings.network_dir),
    )
    app = create_app(settings, flows=[intake, dmfa], deps=deps)
    app.finalize()
    app.flow_control.resume()
    original = sample_dmfa()
    employer = original["employer"]

    def referenced(reference: str) -> dict[str, Any]:  # each declaration its own reference: one sent twice is refused
        return {**original["envelope"], "sender_reference": reference}

    correction = {
        **original,
        "envelope": referenced("DMFA-2024-Q3-v2"),
        "nature": "CORRECTION",
        "version": 2,
        "worker_lines": original["worker_lines"][:2],
    }
    skipped = {**original, "envelope": referenced("DMFA-2024-Q3-v4"), "nature": "CORRECTION", "version": 4}
    admitted_topic = f"{settings.topic_prefix}.dmfa.declarations.v1"

    def on(area: str) -> list[dict[str, Any]]:
        return [codec.decode(v).record for _, v in publisher.on(f"{settings.topic_prefix}.{area}.v1")]

    async def go() -> None:
        async with app.agents["dmfa"].test_context() as step, app.agents["intake-dmfa"].test_context() as gate:

            async def declare(record: dict[str, Any]) -> tuple[bytes | None, bytes]:
                value = codec.encode(DMFA, record)
                await gate.put(value=value, key=employer.encode(), headers=sealed(settings, codec, "dmfa", value))
                return publisher.on(admitted_topic)[-1]

            def recorded(ticket: str) -> bool:
                value = app.tables[dmfa.TABLE].get(employer.encode())
                return decode_dmfa_state(codec, employer, value).quarter(original["quarter"]).knows(ticket)

            async def decided(key: bytes | None, value: bytes) -> None:
                await step.put(value=value, key=key)
                for _ in range(500):  # in the table once released: once its oldest event waited batch_within_ms
                    if recorded(codec.decode(value).record["envelope"]["ticket"]):
                        break
                    await asyncio.sleep(0.01)

            first = await declare(original)
            await decided(*first)
            await decided(*first)  # a replay of what the table already records
            await decided(*await declare(correction))
            await decided(*await declare(skipped))

    asyncio.run(go())

    # intake admitted each to the step, acknowledged none and routed none: the step decides
    assert [r["version"] for r in on("dmfa.declarations")] == [1, 2, 4]
    assert [(a["status"], a["ticket"]) for a in on("mailbox.employers")] == [
        ("ACCEPTED", str(uuid.UUID(int=1))),
        ("ACCEPTED", str(uuid.UUID(int=2))),
        ("REJECTED", str(uuid.UUID(int=3))),
    ]
    assert [f["version"] for f in on("facts.dmfa")] == [1, 2]  # the replay published nothing again
    routed = on("directory.lookups")
    assert len(routed) == 3 + 1 + 2  # the original's lines; the correction's withdrawal, then its lines
    assert [r["slot"].split("/")[2] for r in routed[3:]] == ["withdrawn", "BLUE_COLLAR", "WHITE_COLLAR"]
    (rejection,) = on("outcomes.rejections")
    assert rejection["stage"] == "dmfa" and [v["code"] for v in rejection["violations"]] == ["dmfa.version_not_next"]
    state = decode_dmfa_state(codec, employer, app.tables[dmfa.TABLE][employer.encode()])
    quarter = state.quarter(original["quarter"])
    assert [v.version for v in quarter.versions] == [1, 2] and quarter.decided == (str(uuid.UUID(int=3)),)
    # each state the step changed went to the changelog once, through the flow's publisher (not faust's
    # producer), to the partition of the event that changed it; the store holds the last one
    changelog = app.tables[dmfa.TABLE].changelog_topic.get_topic_name()
    written = [(key, value) for topic, _, key, value in publisher.states if topic == changelog]
    assert [key for key, _ in written] == [employer.encode()] * 3  # the replay changed nothing
    assert written[-1][1] == app.tables[dmfa.TABLE][employer.encode()]
    # and each only once the outcomes it records were flushed (a state durable before its acknowledgement
    # would make a replay after a crash publish nothing, the acknowledgement lost)
    assert publisher.journal.count("state") == len(publisher.states) > 0
    assert publisher.states_after_their_outcomes(), publisher.journal
