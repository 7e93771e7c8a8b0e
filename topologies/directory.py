"""The reference directory: one faust table keyed by NISS, and the step that reads and writes it.

It consumes every topic keyed by person that needs the person's file — integrations, DIMONA, routed civil and
DmfA facts, consultations — all co-partitioned (same key, same partition count, murmur2), so the file of the
person an event is about is always in the partition being processed. The decision is `streams.domain.exchange`;
this module decodes, loads the file, calls it, stores the file back and publishes the outcomes.
"""

from __future__ import annotations

from collections.abc import Callable

import faust

from streams.codecs import AvroCodec
from streams.codecs.person_file import decode_person_file, encode_person_file
from streams.domain import exchange
from streams.domain.directory import Entry, entry_as_integration
from streams.domain.network import Network
from topologies.deps import Deps
from topologies.edges import decode_or_dead_letter, mailbox_route

TABLE = "directory"
AUDIT_RECORD = "be.crossroads.outputs.AuditRecord"
INTEGRATION = "be.crossroads.directory.Integration"


def register(app: faust.App, deps: Deps) -> None:
    network: Network = deps.network()
    changelog = app.topic(deps.topic("directory", "entries"), key_type=bytes, value_type=bytes, compacting=True)
    table = app.Table(TABLE, key_type=bytes, value_type=bytes, changelog_topic=changelog)
    topics = [
        deps.topic("facts", "integrations"),
        deps.topic("facts", "dimona"),
        deps.topic("directory", "lookups"),
        deps.topic("consultations", "accepted"),
    ]
    sources = app.topic(*topics, key_type=bytes, value_type=bytes)
    codec, publisher = deps.codec, deps.publisher_for(app)
    rejections, audit = deps.topic("outcomes", "rejections"), deps.topic("audit", "pending")

    async def directory(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            decoded = await decode_or_dead_letter(event, deps, publisher)
            if decoded is None:
                continue
            key, record, now = event.key, decoded.record, deps.clock()
            file = decode_person_file(codec, table.get(key))
            decision = exchange.decide(
                file, network, decoded.schema_name, record, event.value, now, _entry_encoder(codec, key.decode())
            )
            if decision.file is not None:
                table[key] = encode_person_file(codec, decision.file)
            for outcome in decision.outcomes:
                if isinstance(outcome, exchange.ToMailbox):
                    topic, mail_key = mailbox_route(deps, outcome.actor, key)
                    await publisher.publish(topic, mail_key, codec.encode(outcome.schema, outcome.record))
                elif isinstance(outcome, exchange.ToRejections):
                    await publisher.publish(rejections, key, codec.encode(exchange.REJECTION, outcome.record))
                else:
                    await publisher.publish(audit, key, codec.encode(AUDIT_RECORD, outcome.record))

    app.agent(sources, name="directory")(directory)


def _entry_encoder(codec: AvroCodec, person: str) -> Callable[[Entry], bytes]:
    def encode(entry: Entry) -> bytes:
        return codec.encode(INTEGRATION, entry_as_integration(entry, person))

    return encode
