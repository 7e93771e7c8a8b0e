"""The reference directory: one faust table keyed by NISS, and the step that reads and writes it.

It consumes every topic keyed by person that needs the person's file — integrations, DIMONA, lookups of civil
and DmfA facts, consultations — all co-partitioned (same key, same partition count, murmur2), so the file of the
person an event is about is always in the partition being processed. The decision is `streams.domain.exchange`;
this module decodes, loads the file, calls it, stores the file back and publishes the outcomes.

Events are taken in batches. Within a batch a person's file is decoded once and kept decoded; the files a batch
changed are encoded and written to the table (hence to its changelog) once each, *after* every outcome of the
batch is written: a crash in between replays the batch on the files as they were, which reproduces the same
outcomes with the same tickets (recognisable duplicates). A replay on files already updated is harmless too:
the directory's rules recognise an event they already applied by its ticket.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import faust
from faust.types import EventT

from streams.codecs import AvroCodec
from streams.codecs.person_file import decode_person_file, encode_person_file
from streams.domain import exchange
from streams.domain.directory import Entry, PersonFile, entry_as_integration
from streams.domain.network import Network
from topologies.batches import acting_for, batches_of
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
    codec, publisher, settings = deps.codec, deps.publisher_for(app), deps.settings
    rejections, audit = deps.topic("outcomes", "rejections"), deps.topic("audit", "pending")

    async def directory(stream: faust.StreamT[bytes]) -> None:
        async for events in batches_of(stream, settings.batch_max_events, settings.batch_within_ms / 1000):
            files: dict[bytes, PersonFile] = {}
            changed: dict[bytes, EventT[bytes]] = {}  # key -> the last event that changed the file
            for event in events:
                decoded = await decode_or_dead_letter(event, deps, publisher)
                if decoded is None:
                    continue
                key, record, now = cast(bytes, event.key), decoded.record, deps.clock()
                file = files.get(key)
                if file is None:
                    with acting_for(event):
                        file = files[key] = decode_person_file(codec, table.get(key))
                decision = exchange.decide(
                    file, network, decoded.schema_name, record, event.value, now, _entry_encoder(codec, key.decode())
                )
                if decision.file is not None:
                    files[key] = decision.file
                    changed[key] = event
                for outcome in decision.outcomes:
                    if isinstance(outcome, exchange.ToMailbox):
                        topic, mail_key = mailbox_route(deps, outcome.actor, key)
                        await publisher.publish(topic, mail_key, codec.encode(outcome.schema, outcome.record))
                    elif isinstance(outcome, exchange.ToRejections):
                        await publisher.publish(rejections, key, codec.encode(exchange.REJECTION, outcome.record))
                    else:
                        await publisher.publish(audit, key, codec.encode(AUDIT_RECORD, outcome.record))
            await publisher.flush()
            for key, event in changed.items():
                with acting_for(event):
                    table[key] = encode_person_file(codec, files[key])

    app.agent(sources, name="directory")(directory)


def _entry_encoder(codec: AvroCodec, person: str) -> Callable[[Entry], bytes]:
    def encode(entry: Entry) -> bytes:
        return codec.encode(INTEGRATION, entry_as_integration(entry, person))

    return encode
