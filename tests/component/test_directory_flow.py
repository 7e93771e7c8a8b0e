"""The directory topology in memory: an integration, then an address change routed to it, with faust's
memory store and with RocksDB (rocksdict)."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from pathlib import Path

import pytest

from streams.codecs import AvroCodec, SchemaRegistry
from streams.domain.audit import GENESIS
from streams.network_files import load_network
from streams.settings import Settings
from tests.component.fakes import COMPONENT_TRANSPORT, FakeAuditTopic, sealed
from tests.support import address_change, integration
from topologies import directory, intake
from topologies.app import create_app
from topologies.deps import Deps
from topologies.publisher import RecordingPublisher

NOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)
PERSON = "93051822361"
MUTUALITY = "0206731645"


@pytest.mark.parametrize("store", ["memory://", "rocksdb://"])
def test_an_integration_then_an_address_change_reaches_the_holder(store: str, tmp_path: Path) -> None:
    settings = Settings(
        app_id=f"component-{uuid.uuid4().hex[:6]}", store=store, state_dir=tmp_path, kafka_security=COMPONENT_TRANSPORT
    )
    codec = AvroCodec(SchemaRegistry.from_directory(settings.schema_dir))
    publisher = RecordingPublisher()
    trail = FakeAuditTopic()
    trail.codec = codec
    deps = Deps(
        settings,
        codec,
        clock=lambda: NOW,
        publisher=publisher,
        loaded_network=load_network(settings.network_dir),
        audit_publisher=trail,
        audit_heads=trail,
    )
    app = create_app(settings, flows=[intake, directory], deps=deps)
    app.conf.tabledir = tmp_path / "tables"
    app.finalize()
    app.flow_control.resume()
    registration = integration(MUTUALITY, "MUTUALITY", "TITULAR", PERSON, dt.date(2020, 1, 1), ticket=str(uuid.uuid4()))
    address = address_change(PERSON, dt.date(2026, 3, 1), ticket=str(uuid.uuid4()))

    async def go() -> None:
        async with app.agents["directory"].test_context() as agent:
            await agent.put(value=codec.encode(*registration), key=PERSON.encode())
            # the intake's fact, handed to the directory as the facts topic would: the person's own directory
            # reads it there, with no lookup
            async with app.agents["intake-civil"].test_context() as routing:
                value = codec.encode(*address)
                await routing.put(value=value, key=PERSON.encode(), headers=sealed(settings, codec, "civil", value))
            assert publisher.on(f"{settings.topic_prefix}.directory.lookups.v1") == []
            (fact,) = publisher.on(f"{settings.topic_prefix}.facts.civil.v1")
            await agent.put(value=fact[1], key=fact[0])
            # the batch is released (outcomes flushed, audit records chained) when its oldest event has waited
            # batch_within_ms: wait for that, however slow this machine is
            for _ in range(500):
                if trail.written and publisher.states and publisher.journal[-1] == "flush":
                    break
                await asyncio.sleep(0.01)

    asyncio.run(go())

    acks = publisher.on(f"{settings.topic_prefix}.mailbox.{MUTUALITY}.v1")
    kinds = [codec.decode(value).schema_name.rpartition(".")[2] for _, value in acks]
    assert kinds == ["Acknowledgement", "Notification"]
    # the changed file went to the changelog only once the deliveries it records were flushed
    assert publisher.states_after_their_outcomes(), publisher.journal
    # the directory chained the delivery's audit record itself, linked to the (empty) partition's genesis
    audited = trail.records(0)
    deliveries = [r for r in audited if r["actor"] == MUTUALITY and r["person"] == PERSON]
    assert len(deliveries) == 1 and deliveries[0]["hash"] and deliveries[0]["previous_hash"] == GENESIS
