"""The DmfA step: one faust table keyed by employer, and the step that decides each DmfA with it.

The DmfA's rules (a correction follows an accepted original, each version is the next one) need every earlier
declaration of the same (employer, quarter), so DmfA is decided here, keyed by employer as it is from intake on
(``intake.dmfa`` -> ``dmfa.declarations``), not in the directory, keyed by person. The decision is
`streams.domain.dmfa`; this module decodes, loads the employer's state, calls it, publishes its outcomes
(`topologies.outcomes`): the accepted declaration to ``facts.dmfa`` (only accepted DmfA are facts), a lookup per
worker line (and per worker a correction withdraws) to ``directory.lookups``, the acknowledgement or the
rejection.

Crash-safe like the directory: events are handled one by one and released in batches (`topologies.batches`);
a release flushes every output of the batch first, and only then writes each employer state it changed to the
table (hence to its changelog, ``dmfa.versions``), before its offsets are released. So a decision recorded in the
table has its outcomes written: a replay (at-least-once) of a declaration the state already knows is recognised
by its ticket and publishes nothing again; one the table does not know yet is decided again, on the same state,
with the same derived tickets.
"""

from __future__ import annotations

from typing import Any, cast

import faust
from faust.types import EventT

from streams.codecs import CodecError
from streams.codecs.dmfa_state import decode_dmfa_state, encode_dmfa_state
from streams.domain import dmfa
from streams.domain.audit import AUDIT_SCHEMA
from streams.domain.dmfa import EmployerDmfa
from streams.domain.kinds import DMFA_DECLARATIONS
from topologies.batches import BatchedTable, run_flow, state_table, write_batch
from topologies.deps import Deps
from topologies.edges import decode_or_dead_letter, send_to_dead_letters
from topologies.outcomes import publish_outcomes

TABLE = "dmfa"


def register(app: faust.App, deps: Deps) -> None:
    table = state_table(app, TABLE, deps.topic("dmfa", "versions"))
    source = app.topic(deps.topic(*DMFA_DECLARATIONS), key_type=bytes, value_type=bytes)
    meter = deps.meter("dmfa")
    codec, publisher, pending = deps.codec, deps.publisher_for(app, meter), deps.topic("audit", "pending")

    # what the events handled since the last release share: the employers' states, decoded once per batch
    states: BatchedTable[EmployerDmfa] = BatchedTable(
        app,
        table,
        lambda key, value: decode_dmfa_state(codec, key.decode(), value),
        lambda state: encode_dmfa_state(codec, state),
    )

    async def to_pending(key: bytes | None, entry: dict[str, Any]) -> None:
        # a DmfA decision audits nothing itself (its deliveries are the directory's); the port is the intake's
        await publisher.publish(pending, key, codec.encode(AUDIT_SCHEMA, entry))

    async def handle(event: EventT[bytes]) -> None:
        decoded = await decode_or_dead_letter(event, deps, publisher, meter)
        if decoded is None:
            return
        if decoded.schema_name != dmfa.SCHEMA or not event.key:  # the topic carries admitted DmfA only
            error = CodecError(f"the DmfA step does not handle {decoded.schema_name} without its employer's key")
            await send_to_dead_letters(event, error, deps, publisher, meter)
            return
        key = cast(bytes, event.key)
        state = states.get(key, event)
        decision = dmfa.decide(state, decoded.record, event.value, deps.clock(), codec.encode)
        await publish_outcomes(
            decision.outcomes, event=event, key=key, deps=deps, publisher=publisher, meter=meter, audit=to_pending
        )
        if decision.state is not None:
            states.put(key, decision.state, event)

    async def release() -> None:
        # the outcomes, then the states: a state recorded means its decisions' outcomes are written
        await write_batch(publisher, states)

    async def step(stream: faust.StreamT[bytes]) -> None:
        await run_flow(stream, handle, release, deps, meter)

    app.agent(source, name="dmfa")(step)
