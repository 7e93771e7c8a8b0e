"""The auditor: chains the flows' audit entries into the audit topic (seed 6.7).

The flows that decide exchanges publish *unchained* AuditRecords (``previous_hash`` and ``hash`` empty) to
the pending topic, keyed by NISS.  This single agent appends each one to the audit topic in the **same
partition number** and links it to the last record of that partition.

Why the chain head is read from the audit topic itself, never from a changelog table: with at-least-once, a
crash after an audit record is written but before the pending offset is committed replays the entry.  A
head kept in a table would be as old as the last commit and the replayed record would fork the chain; the
topic is the truth, so the replay links to what is really there (it is then a duplicate with the same
audit_id, which ``who_received`` ignores).  Reading the head happens once per partition after each
rebalance; afterwards the head is advanced in memory, one event at a time, only once the broker has
acknowledged the record (so no later record can be chained before an earlier one is known to be written).

Undecodable entries and entries of another type go to the dead-letter topic, as in intake.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

import faust
from faust.types import EventT

from streams.catalog import Area, by_key
from streams.codecs import AvroCodec, CodecError
from streams.dead_letters import dead_letter
from streams.domain.audit import AUDIT_SCHEMA, GENESIS, chain
from streams.kafka.audit_log import last_record
from topologies.deps import Deps

AGENT_NAME = "auditor"


def pending_topic(prefix: str) -> str:
    """Where the flows publish unchained audit entries (same partition count as the audit topic)."""
    return by_key(Area.AUDIT, "pending").topic(prefix)


class PartitionedPublisher(Protocol):
    """Sends to an explicit partition and returns once the broker has the record."""

    async def publish(self, topic: str, partition: int, key: bytes | None, value: bytes) -> None: ...


class HeadReader(Protocol):
    """The hash of the last record of an audit partition (GENESIS when it is empty). Blocking is allowed: it
    is called in a thread."""

    def read_head(self, topic: str, partition: int) -> str: ...


class FaustPartitionedPublisher:
    """Through the app's producer (so exactly_once, when on, covers it); waits for the broker's ack."""

    def __init__(self, app: faust.App) -> None:
        self._app = app
        self._topics: dict[str, faust.TopicT] = {}

    async def publish(self, topic: str, partition: int, key: bytes | None, value: bytes) -> None:
        channel = self._topics.get(topic)
        if channel is None:
            channel = self._topics[topic] = self._app.topic(topic, key_type=bytes, value_type=bytes)
        # force: never defer the send to the commit (stream_publish_on_commit): the chain needs it now
        delivery = await channel.send(key=key, value=value, partition=partition, force=True)
        await delivery


class KafkaHeadReader:
    """Reads the last record of the audit partition with its own consumer (no group, nothing committed)."""

    def __init__(self, bootstrap: str, codec: AvroCodec) -> None:
        self._bootstrap, self._codec = bootstrap, codec

    def read_head(self, topic: str, partition: int) -> str:
        last = last_record(self._bootstrap, topic, partition)
        if last is None:
            return GENESIS
        decoded = self._codec.decode(last.value)  # a CodecError here is an infrastructure failure: crash
        head = decoded.record.get("hash")
        if decoded.schema_name != AUDIT_SCHEMA or not isinstance(head, str) or len(head) != 64:
            raise RuntimeError(f"{topic}[{partition}]@{last.offset} is not a chained AuditRecord: cannot extend")
        return head


class ChainHeads:
    """The head of each audit partition this worker writes, read from the topic on first use.

    A rebalance forgets everything: while a partition is away another worker may extend its chain.  The
    generation guards against an append that was in flight during a rebalance re-populating the cache.
    """

    def __init__(self, reader: HeadReader, topic: str) -> None:
        self._reader, self._topic = reader, topic
        self._heads: dict[int, str] = {}
        self.generation = 0

    async def get(self, partition: int) -> str:
        head = self._heads.get(partition)
        if head is None:
            generation = self.generation
            head = await asyncio.to_thread(self._reader.read_head, self._topic, partition)
            if generation == self.generation:
                self._heads[partition] = head
        return head

    def advance(self, partition: int, head: str, generation: int) -> None:
        if generation == self.generation:
            self._heads[partition] = head

    def forget(self, partition: int | None = None) -> None:
        self.generation += 1
        if partition is None:
            self._heads.clear()
        else:
            self._heads.pop(partition, None)


class AuditorFlow:
    """The auditor as a flow; ports injectable for the component tests."""

    def __init__(self, publisher: PartitionedPublisher | None = None, heads: HeadReader | None = None) -> None:
        self._publisher, self._reader = publisher, heads

    def register(self, app: faust.App, deps: Deps) -> None:
        prefix = deps.settings.topic_prefix
        source = app.topic(pending_topic(prefix), key_type=bytes, value_type=bytes)
        audit = deps.topic("audit", "exchanges")
        dead_letters = deps.topic("outcomes", "dead-letters")
        codec = deps.codec
        publisher = self._publisher or FaustPartitionedPublisher(app)
        letters = deps.publisher_for(app)
        heads = ChainHeads(self._reader or KafkaHeadReader(deps.settings.kafka_bootstrap, codec), audit)

        def forget_all(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
            heads.forget()

        app.on_partitions_revoked.connect(forget_all, weak=False)
        app.on_partitions_assigned.connect(forget_all, weak=False)

        async def auditor(stream: faust.StreamT[bytes]) -> None:
            async for event in stream.events():
                entry = _entry(codec, event)
                if isinstance(entry, CodecError):
                    letter = _dead_letter(event, entry, deps)
                    await letters.publish(dead_letters, event.key, codec.encode(letter[0], letter[1]))
                    continue
                partition = event.message.partition
                generation = heads.generation
                record = chain(await heads.get(partition), entry)
                try:
                    await publisher.publish(audit, partition, event.key, codec.encode(AUDIT_SCHEMA, record))
                except BaseException:
                    # written or not, we cannot tell: the next entry must re-read the head from the topic
                    heads.forget(partition)
                    raise
                heads.advance(partition, record["hash"], generation)

        # concurrency 1 (the default) is what keeps each partition's appends in order: do not raise it
        app.agent(source, name=AGENT_NAME)(auditor)


def register(app: faust.App, deps: Deps) -> None:
    AuditorFlow().register(app, deps)


def _entry(codec: AvroCodec, event: EventT[bytes]) -> dict[str, Any] | CodecError:
    try:
        decoded = codec.decode(event.value)
    except CodecError as exc:
        return exc
    if decoded.schema_name != AUDIT_SCHEMA:
        return CodecError(f"a pending audit entry must be an {AUDIT_SCHEMA}, not a {decoded.schema_name}")
    return decoded.record


def _dead_letter(event: EventT[bytes], error: CodecError, deps: Deps) -> tuple[str, dict[str, Any]]:
    message = event.message
    letter = dead_letter(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        timestamp_ms=int(message.timestamp * 1000) if message.timestamp else None,
        key=message.key,
        headers=message.headers,
        raw=message.value,
        reason=str(error),
        error_type=type(error).__name__,
        at=deps.clock(),
    )
    return letter.schema, letter.value
