"""The audit trail: audit entries chained into the audit topic, each linked to the last record of its partition
(seed 6.7).

The directory (topologies/directory.py) is the one writer of every audit partition: it chains the entries of
the exchanges it decides and the *unchained* AuditRecords (``previous_hash`` and ``hash`` empty) that other
components (re-identification in the warehouse) publish to the pending topic, keyed by NISS, which it
consumes with its other sources.  An entry is appended to the audit topic in the **same partition number** as
the event it came from: the one worker that owns source partition p is the only one appending to audit
partition p.

Why the chain head is read from the audit topic itself, never from a changelog table: with at-least-once, a
crash after an audit record is written but before the source offset is committed replays the entry.  A head
kept in a table would be as old as the last commit and the replayed record would fork the chain; the topic is
the truth, so the replay links to what is really there (it is then a duplicate with the same audit_id, which
``who_received`` ignores).  Reading the head happens once per partition after each rebalance; afterwards the
head is advanced in memory.

Batches.  One broker round trip per record capped the platform, so the entries of a whole batch of the
directory (what it releases at once, ``topologies.batches``) are appended together: each partition's entries
are chained in memory in arrival order from that partition's head and written as one AuditBatch message per
partition (more when one would pass ``MESSAGE_BUDGET``: a message per record was 7 of the ~19 messages written
per declaration), all sent without waiting, and only once *every* delivery is acknowledged are the heads
advanced and ``append`` returns -- the directory then sends the batch's mailbox messages and releases its events
to faust's ack/commit.  The producer keeps a partition's messages in send order (librdkafka with the gapless
guarantee; aiokafka, under exactly_once, has at most one request in flight per broker and re-queues a retried
batch at the front), and a message that the producer refuses stops the sending of the later messages of its
partition (they are chained on it).  A failed
or uncertain delivery forgets the heads of the partitions it touched (re-read from the topic next time) and
raises: the directory's batch stays unacknowledged (its offsets are not committed: a restart or rebalance
replays it, relinked to the real head).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple, Protocol

import faust
from confluent_kafka import KafkaError, KafkaException, Message, Producer

from streams.codecs import AvroCodec
from streams.domain.audit import AUDIT_BATCH_SCHEMA, GENESIS, Unreadable, audit_records, chain_all
from streams.kafka.audit_log import last_record
from streams.kafka.producer import producer_config
from streams.settings import Settings
from topologies.deps import Deps
from topologies.publisher import ProducerThread

# an AuditBatch message's size, under the broker's default max.message.bytes (1,048,588, the audit topic's) with
# room for the record batch's own framing
MESSAGE_BUDGET = 900_000


class Outgoing(NamedTuple):
    partition: int
    key: bytes | None
    value: bytes


class PartitionedPublisher(Protocol):
    """Sends records to explicit partitions, in the given order, without waiting for each; then waits for
    every delivery.  Returns the partitions whose records were not all acknowledged by the broker, with the
    first error of each (empty: everything is written).  A record the producer refuses must not be followed
    by the later records of the same partition (they are chained on it)."""

    async def publish_batch(self, topic: str, records: Sequence[Outgoing]) -> Mapping[int, BaseException]: ...


class HeadReader(Protocol):
    """The hash of the last record of an audit partition (GENESIS when it is empty). Blocking is allowed: it
    is called in a thread."""

    def read_head(self, topic: str, partition: int) -> str: ...


class FaustPartitionedPublisher:
    """Through the app's producer (so exactly_once, when on, covers it)."""

    def __init__(self, app: faust.App) -> None:
        self._app = app
        self._topics: dict[str, faust.TopicT] = {}

    async def publish_batch(self, topic: str, records: Sequence[Outgoing]) -> Mapping[int, BaseException]:
        channel = self._topics.get(topic)
        if channel is None:
            channel = self._topics[topic] = self._app.topic(topic, key_type=bytes, value_type=bytes)
        failed: dict[int, BaseException] = {}
        deliveries: list[tuple[int, Awaitable[Any]]] = []
        for partition, key, value in records:
            if partition in failed:
                continue  # chained on a record that was refused: never send it
            try:
                # force: never defer the send to the commit (stream_publish_on_commit): the chain needs it now
                delivery = await channel.send(key=key, value=value, partition=partition, force=True)
            except Exception as exc:  # refused before sending (too large, buffer full too long, ...)
                failed[partition] = exc
                continue
            deliveries.append((partition, delivery))
        outcomes = await asyncio.gather(*(delivery for _, delivery in deliveries), return_exceptions=True)
        for (partition, _), outcome in zip(deliveries, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                failed.setdefault(partition, outcome)
        return failed


class KafkaPartitionedPublisher:
    """Through a librdkafka producer with the gapless guarantee: a record that cannot be written is a fatal
    producer error, so no later record of its partition (chained on it) is ever written after the gap."""

    def __init__(self, settings: Settings, *, flush_timeout_s: float = 60.0) -> None:
        self._failures: dict[int, BaseException] = {}
        self._producer = Producer(
            producer_config(
                settings,
                **{
                    "acks": "all",
                    "enable.gapless.guarantee": True,
                    "linger.ms": 2,
                    "batch.size": 1_000_000,
                    "queue.buffering.max.messages": 1_000_000,
                    "on_delivery": self._delivered,
                },
            )
        )
        self._flush_timeout_s = flush_timeout_s
        self._thread = ProducerThread("audit-publisher")

    def _delivered(self, error: KafkaError | None, message: Message) -> None:
        if error is not None:
            self._failures.setdefault(message.partition() or 0, KafkaException(error))

    async def publish_batch(self, topic: str, records: Sequence[Outgoing]) -> Mapping[int, BaseException]:
        failed: dict[int, BaseException] = {}
        for partition, key, value in records:
            if partition in failed:
                continue
            while True:
                try:
                    self._producer.produce(topic, value, key, partition=partition)
                    break
                except BufferError:
                    await self._thread.run(self._producer.poll, 0.05)
                except KafkaException as exc:  # refused before sending (fatal producer state, too large, ...)
                    failed[partition] = exc
                    break
        remaining = await self._thread.run(self._producer.flush, self._flush_timeout_s)
        failures, self._failures = self._failures, {}
        for partition, error in failures.items():
            failed.setdefault(partition, error)
        if remaining:
            # which partitions are still in flight is unknown: every partition of the batch is uncertain
            for partition, _, _ in records:
                failed.setdefault(partition, TimeoutError(f"{remaining} audit records undelivered"))
        return failed


class KafkaHeadReader:
    """Reads the last record of the audit partition with its own consumer (no group, nothing committed)."""

    def __init__(self, settings: Settings, codec: AvroCodec) -> None:
        self._settings, self._codec = settings, codec

    def read_head(self, topic: str, partition: int) -> str:
        last = last_record(self._settings, topic, partition)
        if last is None:
            return GENESIS
        decoded = self._codec.decode(last.value)  # a CodecError here is an infrastructure failure: crash
        records = audit_records(decoded.schema_name, decoded.record)
        head = None if isinstance(records, Unreadable) else records[-1].get("hash")
        if not isinstance(head, str) or len(head) != 64:
            raise RuntimeError(f"{topic}[{partition}]@{last.offset} holds no chained audit record: cannot extend")
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


class AuditTrail:
    """Appends audit entries to the audit topic, each chained to the last record of its partition.

    Used by the directory, for the entries of the exchanges it decides and for those published to the pending
    topic by others. One writer per audit partition: the flow that owns source partition p of the worker group
    is the only one appending to audit partition p.
    """

    def __init__(self, publisher: PartitionedPublisher, heads: ChainHeads, codec: AvroCodec, topic: str) -> None:
        self._publisher, self._heads, self._codec, self._topic = publisher, heads, codec, topic

    @classmethod
    def for_app(
        cls,
        app: faust.App,
        deps: Deps,
        publisher: PartitionedPublisher | None = None,
        reader: HeadReader | None = None,
    ) -> AuditTrail:
        audit = deps.topic("audit", "exchanges")
        publisher = publisher or (
            FaustPartitionedPublisher(app)
            if deps.settings.processing_guarantee == "exactly_once"
            else KafkaPartitionedPublisher(deps.settings)
        )
        heads = ChainHeads(reader or KafkaHeadReader(deps.settings, deps.codec), audit)

        def forget_all(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
            heads.forget()

        app.on_partitions_revoked.connect(forget_all, weak=False)
        app.on_partitions_assigned.connect(forget_all, weak=False)
        return cls(publisher, heads, deps.codec, audit)

    async def append(self, entries: Sequence[tuple[int, bytes | None, dict[str, Any]]]) -> None:
        """Chain and write (partition, key, unchained entry) in order; returns once all are written, raises if
        any is not (the caller's batch must then stay uncommitted). Each partition's entries go as one
        AuditBatch message (more when they would not fit in one), chained in arrival order from its head."""
        if not entries:
            return
        heads = self._heads
        generation = heads.generation
        by_partition: dict[int, list[dict[str, Any]]] = {}
        for partition, _, entry in entries:  # arrival order, within a partition and of the partitions
            by_partition.setdefault(partition, []).append(entry)
        partitions = list(by_partition)
        # the heads of the partitions not known yet are read concurrently (each in a thread)
        tips = dict(zip(partitions, await asyncio.gather(*map(heads.get, partitions)), strict=True))
        outgoing: list[Outgoing] = []
        for partition, unchained in by_partition.items():
            records = chain_all(tips[partition], unchained)
            tips[partition] = records[-1]["hash"]
            outgoing.extend(Outgoing(partition, None, value) for value in self._messages(records))
        try:
            failed = await self._publisher.publish_batch(self._topic, outgoing)
        except BaseException:
            # written or not, we cannot tell: the next entries must re-read the heads from the topic
            for partition in partitions:
                heads.forget(partition)
            raise
        for partition in partitions:  # advance before forgetting: forget() changes the generation
            if partition not in failed:
                heads.advance(partition, tips[partition], generation)
        for partition in failed:
            heads.forget(partition)
        if failed:
            raise failed[min(failed)]

    def _messages(self, records: list[dict[str, Any]]) -> Iterator[bytes]:
        """`records` (chained) as AuditBatch messages in order, each under MESSAGE_BUDGET bytes: halved until
        they fit (a directory batch of 1,000 events gives a partition some 1,000 records of ~300 bytes)."""
        value = self._codec.encode(AUDIT_BATCH_SCHEMA, {"records": records})
        if len(value) <= MESSAGE_BUDGET or len(records) == 1:
            yield value
            return
        half = len(records) // 2
        yield from self._messages(records[:half])
        yield from self._messages(records[half:])
