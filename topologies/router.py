"""Router: accepted civil and DmfA facts -> one lookup per person whose directory is concerned.

The directory is partitioned by person; a birth concerns the parents' files, a DmfA declaration each of its
workers. The lookups topic is keyed by that person, so the directory step finds the file in its own partition.
"""

from __future__ import annotations

from typing import Any

import faust

from streams.domain.fanout import Lookup, route
from topologies.deps import Deps
from topologies.edges import decode_or_dead_letter

LOOKUP = "be.crossroads.internal.Lookup"


def lookup_record(lookup: Lookup) -> dict[str, Any]:
    return {name: getattr(lookup, name) for name in Lookup.__slots__}


def register(app: faust.App, deps: Deps) -> None:
    sources = app.topic(deps.topic("facts", "civil"), deps.topic("facts", "dmfa"), key_type=bytes, value_type=bytes)
    lookups = deps.topic("directory", "lookups")
    codec, publisher = deps.codec, deps.publisher_for(app)

    async def router(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            fact = await decode_or_dead_letter(event, deps, publisher)
            if fact is None:
                continue
            ticket = fact.record["envelope"]["ticket"]
            for lookup in route(fact.schema_name, fact.record, ticket, event.value, codec.encode):
                await publisher.publish(lookups, lookup.person.encode(), codec.encode(LOOKUP, lookup_record(lookup)))

    app.agent(sources, name="router")(router)
