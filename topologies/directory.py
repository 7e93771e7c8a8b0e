"""The reference directory: one faust table keyed by NISS, and the step that reads and writes it.

It consumes every topic keyed by person that needs the person's file — the declarations it decides (integrations,
DIMONA), the civil facts (for the person they are about: no lookup hop), lookups of facts routed to other persons
(a birth's parents, each DmfA line's worker), consultations — all co-partitioned (same key, same partition count,
murmur2), so the file of the person an event is about is always in the partition being processed. The decision
is `streams.domain.exchange`; this module decodes, loads the file, calls it, stores the file back and publishes
the outcomes (`topologies.outcomes`).  What it accepts becomes a fact only then: only accepted declarations
reach the facts topics, hence the warehouse.

It also keeps the audit trail of what it decides: the audit entries of a batch are chained and appended to the
audit topic, in the partition with the number of the event's partition, by the directory itself (no pending
topic, no second consume). Entries that other components publish to the pending topic (re-identifications)
are consumed here too, so that the directory is the one writer of each audit partition.

The audit trail fails closed: what goes to a mailbox (notifications, consultation replies, acknowledgements)
is held until the audit records of its batch are written, so no recipient can ever read a delivery whose audit
record is not durable. A crash in between replays the batch: the audit records are then written twice (same
audit ids), never missing.

Events are handled one by one and released in batches (`topologies.batches`): a person's file is decoded once
per batch and kept decoded; when the batch is released, its audit records are chained and written, then its
mailbox messages sent, everything flushed, and only then each file it changed written once to its changelog
and the table (`topologies.batches.write_batch`), before its offsets are released.
A crash replays the unreleased events, on files that may already hold their changes: the directory's rules
recognise an event they already applied by its ticket, and every output carries a derived ticket.

Between two batches the directory also purges what is past its retention period from the files it holds
(`topologies.directory_purge`), through the same release.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import faust
from faust.types import EventT

from streams.catalog import INTAKE_TOPICS
from streams.codecs import AvroCodec, CodecError
from streams.codecs.person_file import decode_person_file, encode_person_file
from streams.domain import exchange
from streams.domain.audit import AUDIT_SCHEMA
from streams.domain.directory import Entry, PersonFile, entry_as_integration
from streams.domain.kinds import DIRECTORY_DECLARATIONS, DMFA_DECLARATIONS, INTEGRATION, KINDS
from streams.domain.network import Network
from streams.kafka.sealing import Headers
from topologies.alignment import Gate
from topologies.audit_trail import AuditTrail
from topologies.batches import BatchedTable, run_flow, state_table, write_batch
from topologies.deps import Deps
from topologies.directory_purge import Purger
from topologies.edges import decode_or_dead_letter, send_to_dead_letters
from topologies.faust_overrides import committed_offset, fetch_offsets, let_go_event, on_revoking
from topologies.outcomes import publish_outcomes

TABLE = "directory"


def register(app: faust.App, deps: Deps) -> None:
    network: Network = deps.network()
    table = state_table(app, TABLE, deps.topic("directory", "entries"))
    topics = [
        deps.topic(*DIRECTORY_DECLARATIONS),
        deps.topic("directory", "lookups"),
        # the facts the directory reads for their subject's own lookup (civil: no lookup hop)
        *sorted({deps.topic(*k.family.facts) for k in KINDS.values() if k.read_in_facts and k.family.facts}),
        deps.topic("consultations", "accepted"),
        pending := deps.topic("audit", "pending"),
    ]
    sources = app.topic(*topics, key_type=bytes, value_type=bytes)
    meter = deps.meter("directory")
    codec, publisher, settings = deps.codec, deps.publisher_for(app, meter), deps.settings
    trail = AuditTrail.for_app(app, deps, deps.audit_publisher, deps.audit_heads)

    # what the events handled since the last release share: their decoded files, their audit entries
    files: BatchedTable[PersonFile] = BatchedTable(
        app, table, lambda key, value: decode_person_file(codec, value), lambda file: encode_person_file(codec, file)
    )
    audits: list[tuple[int, bytes | None, dict[str, Any]]] = []  # (partition, key, entry), in order
    # every output, held until the batch's audit is written: (topic, key, value, headers)
    deliveries: list[tuple[str, bytes | None, bytes, Headers | None]] = []

    async def handle(event: EventT[bytes]) -> None:
        decoded = await decode_or_dead_letter(event, deps, publisher, meter)
        if decoded is None:
            return
        key, record, now = cast(bytes, event.key), decoded.record, deps.clock()
        partition = event.message.partition
        from_pending = event.message.topic == pending
        if from_pending and decoded.schema_name == AUDIT_SCHEMA:  # published by another component
            audits.append((partition, event.key, record))
            return
        # each topic carries one kind of record: a fact on the pending topic, or an audit record anywhere else,
        # is refused, not applied
        if from_pending or decoded.schema_name not in exchange.HANDLED:
            where = f"on {event.message.topic}" if from_pending or decoded.schema_name == AUDIT_SCHEMA else ""
            error = CodecError(f"the directory does not handle {decoded.schema_name} {where}".rstrip())
            await send_to_dead_letters(event, error, deps, publisher, meter)
            return
        file = files.get(key, event)
        decision = exchange.decide(
            file,
            network,
            decoded.schema_name,
            record,
            event.value,
            now,
            _entry_encoder(codec, key.decode()),
            codec.encode,
        )
        await publish_outcomes(
            decision.outcomes,
            event=event,
            key=key,
            deps=deps,
            publisher=publisher,
            meter=meter,
            audit=lambda audit_key, entry: audits.append((partition, audit_key, entry)),
            send=lambda topic, out_key, value, headers: deliveries.append((topic, out_key, value, headers)),
        )
        if decision.file is not None:
            files.put(key, decision.file, event)

    async def release() -> None:
        entries = audits[:]
        audits.clear()
        await trail.append(entries)  # durable (flushed) before any delivery it records is sent
        held = deliveries[:]
        deliveries.clear()
        for topic, mail_key, value, headers in held:
            await publisher.publish(topic, mail_key, value, headers)
        # the outcomes, then each changed file (once per batch): a file records only what was sent
        await write_batch(publisher, files)

    gate = _gate(app, deps, aligned=[t for t in topics if t != pending]) if settings.event_time_alignment else None
    # what is past its period leaves the files between two batches, through the same release
    # (topologies.directory_purge)
    purger = Purger(app, deps, topics[0], files, audits, release, keys=lambda: list(table.data.keys()))

    async def directory(stream: faust.StreamT[bytes]) -> None:
        await run_flow(stream, handle, release, deps, meter, gate=gate, interlude=purger)

    app.agent(sources, name="directory")(directory)


def _gate(app: faust.App, deps: Deps, aligned: list[str]) -> Gate:
    """The directory's event-time gate (`topologies.alignment`): its upstream steps are the intake (its NISS-keyed
    topics co-partitioned with the directory) and the DmfA path (keyed by employer: any partition)."""
    prefix = deps.settings.topic_prefix
    by_partition = [spec.topic(prefix) for spec in INTAKE_TOPICS if spec.key == "niss"]
    everywhere = [spec.topic(prefix) for spec in INTAKE_TOPICS if spec.key != "niss"]
    everywhere.append(deps.topic(*DMFA_DECLARATIONS))
    progress = deps.progress
    gate = Gate(
        progress,
        aligned=aligned,
        upstream_by_partition=by_partition,
        upstream_everywhere=everywhere,
        assignment=lambda: app.consumer.assignment(),
        offsets=lambda tp: fetch_offsets(app, tp),
        max_hold_s=deps.settings.alignment_max_hold_s,
        grace_ms=deps.settings.alignment_grace_ms,
        let_go=lambda event: let_go_event(app, event),
        committed=lambda tp: committed_offset(app, tp),
    )

    # what the gate holds of partitions going away is let go before faust waits for the unacked messages
    # (topologies.faust_overrides, override 9): they are not handled, so the next owner reads them again
    on_revoking(app, gate.forget, gate.reassigned)

    def revoked(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        gate.forget(args[0])
        progress.forget(args[0])

    def assigned(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        gate.reassigned()

    app.on_partitions_revoked.connect(revoked, weak=False)
    app.on_partitions_assigned.connect(assigned, weak=False)
    return gate


def _entry_encoder(codec: AvroCodec, person: str) -> Callable[[Entry], bytes]:
    def encode(entry: Entry) -> bytes:
        return codec.encode(INTEGRATION.schema, entry_as_integration(entry, person))

    return encode
