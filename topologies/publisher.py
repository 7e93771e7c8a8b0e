"""The Publisher port: where flows send their outcomes.

A flow takes its input in batches: it publishes every outcome of a batch (queued, not yet written), then calls
`flush()`, and only when that returns are the batch's input offsets released to faust's commit. A crash before
that replays the batch; the derived tickets make the replayed outputs recognisable duplicates.

* `KafkaPublisher` (at_least_once, the default): a confluent-kafka (librdkafka) idempotent producer per flow.
  librdkafka batches and sends from its own threads; a publish is a few microseconds of C, against tens of
  microseconds of Python per message through faust's aiokafka producer -- the largest single cost of the hot
  path once the inputs are batched.
* `FaustPublisher` (exactly_once): through the app's producer, so faust's transactions cover the sends.
* `RecordingPublisher`: keeps what was published, for component tests of the flows.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, cast

import faust
from confluent_kafka import KafkaError, KafkaException, Message, Producer

from streams.catalog import OUTCOME_REQUEST_MAX_BYTES
from streams.kafka.producer import producer_config
from streams.kafka.sealing import Headers
from streams.settings import Settings


class PublishFailed(RuntimeError):
    """Some outcome of a batch was not written: the batch must not be committed (the worker stops)."""


Written = Callable[[str, int, int], None]  # (topic, partition, offset) of each message written


class ProducerThread:
    """A thread of its own for one producer's blocking calls (flush, poll, metadata).

    `asyncio.to_thread` shares the loop's default executor, min(32, cores + 4) threads -- six on two cores -- among
    every flow's flushes: with the intake's families, the DmfA step and the directory flushing at once, a flush
    waited for a free thread before it began (bench/limits.md). A producer's calls are serial anyway."""

    def __init__(self, name: str) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    async def run(self, call: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, call, *args)


class Publisher(Protocol):
    async def publish(self, topic: str, key: bytes | None, value: bytes, headers: Headers | None = None) -> None:
        """Queue a message (to its key's murmur2 partition); it is known written only once `flush()` returned."""

    async def flush(self) -> None:
        """Wait until everything published so far is written; raise `PublishFailed` if anything was not."""

    async def publish_state(self, topic: str, partition: int, key: bytes, value: bytes | None) -> None:
        """Queue a table's changelog record to `partition` (the partition of the event that changed it: faust
        recovers a table partition from the changelog partition of the same number); written once `flush()`
        returned, like the outcomes. No value: a tombstone (the key is deleted, recovery too drops it)."""


class KafkaPublisher:
    """An idempotent librdkafka producer (acks=all, murmur2 keys like the rest of the platform)."""

    def __init__(
        self,
        settings: Settings,
        *,
        flush_timeout_s: float = 60.0,
        on_written: Written | None = None,
        **overrides: Any,
    ) -> None:
        config = producer_config(
            settings,
            **{
                "acks": "all",
                "linger.ms": settings.publisher_linger_ms,
                "batch.size": 1_000_000,
                "queue.buffering.max.messages": 1_000_000,
                # a rejection or dead letter quotes a whole intake message: let librdkafka send what those
                # topics take (the broker still enforces each topic's own max.message.bytes)
                "message.max.bytes": OUTCOME_REQUEST_MAX_BYTES,
                "on_delivery": self._delivered,
                **overrides,
            },
        )
        self._producer = Producer(config)
        self._thread = ProducerThread("publisher")
        self._admin_timeout_s = 10.0
        self._flush_timeout_s = flush_timeout_s
        self._known: set[str] = set()
        self._failures: list[str] = []
        self._on_written = on_written

    def _delivered(self, error: KafkaError | None, message: Message) -> None:
        if error is not None:
            self._failures.append(f"{message.topic()}[{message.partition()}]: {error.str()}")
        elif self._on_written is not None:
            self._on_written(cast(str, message.topic()), cast(int, message.partition()), cast(int, message.offset()))

    async def publish(self, topic: str, key: bytes | None, value: bytes, headers: Headers | None = None) -> None:
        await self._produce(topic, key, value, None, headers)

    async def publish_state(self, topic: str, partition: int, key: bytes, value: bytes | None) -> None:
        await self._produce(topic, key, value, partition, None)

    async def _produce(
        self, topic: str, key: bytes | None, value: bytes | None, partition: int | None, headers: Headers | None
    ) -> None:
        if topic not in self._known:
            await self._thread.run(self._check_exists, topic)
        while True:
            try:
                if partition is None:
                    self._producer.produce(topic, value, key, headers=headers)
                else:
                    self._producer.produce(topic, value, key, partition=partition)
                return
            except BufferError:  # librdkafka's queue is full: let it drain
                await self._thread.run(self._producer.poll, 0.05)

    def _check_exists(self, topic: str) -> None:
        # the broker does not create topics on first use (auto.create.topics.enable=false): a missing topic would
        # only fail each message after librdkafka's metadata wait; say so, clearly -- but only once the broker
        # had time to answer: a broker restarting (transport errors) or a topic just created (not in the
        # brokers' metadata yet) is waited for up to the flush timeout, as the flush itself would be
        deadline = time.monotonic() + self._flush_timeout_s
        while True:
            try:
                metadata = self._producer.list_topics(topic, timeout=self._admin_timeout_s)
            except KafkaException as exc:
                problem = f"cannot read the metadata of {topic}: {exc}"
            else:
                found = metadata.topics.get(topic)
                if found is not None and found.error is None:
                    break
                problem = f"topic {topic} does not exist: create the catalog with `crossroads topics apply`"
            if time.monotonic() > deadline:
                raise PublishFailed(f"{problem} (for {self._flush_timeout_s:.0f} s)")
            time.sleep(0.5)
        self._known.add(topic)

    async def flush(self) -> None:
        remaining = await self._thread.run(self._producer.flush, self._flush_timeout_s)
        failures, self._failures = self._failures, []
        if remaining:
            failures.append(f"{remaining} messages still undelivered after {self._flush_timeout_s:.0f} s")
        if failures:
            raise PublishFailed(f"{len(failures)} outcome(s) not written: " + "; ".join(failures[:5]))


class FaustPublisher:
    """Sends through the app's producer, so faust's exactly_once (when enabled) covers these sends too."""

    def __init__(self, app: faust.App, *, on_written: Written | None = None) -> None:
        self._app = app
        self._topics: dict[str, faust.TopicT] = {}
        self._pending: list[Awaitable[Any]] = []
        self._on_written = on_written

    async def publish(self, topic: str, key: bytes | None, value: bytes, headers: Headers | None = None) -> None:
        self._pending.append(await self._channel(topic).send(key=key, value=value, headers=cast(Any, headers)))

    async def publish_state(self, topic: str, partition: int, key: bytes, value: bytes | None) -> None:
        self._pending.append(await self._channel(topic).send(key=key, value=value, partition=partition))

    def _channel(self, topic: str) -> faust.TopicT:
        channel = self._topics.get(topic)
        if channel is None:
            channel = self._topics[topic] = self._app.topic(topic, key_type=bytes, value_type=bytes)
        return channel

    async def flush(self) -> None:
        pending, self._pending = self._pending, []
        outcomes = await asyncio.gather(*pending, return_exceptions=True)
        failures = [o for o in outcomes if isinstance(o, BaseException)]
        if failures:
            raise PublishFailed(f"{len(failures)} outcome(s) not written: {failures[0]!r}") from failures[0]
        if self._on_written is not None:
            for metadata in outcomes:  # faust's RecordMetadata
                self._on_written(metadata.topic, metadata.partition, metadata.offset)  # type: ignore[union-attr]


class RecordingPublisher:
    """Keeps what was published, in order: for component tests of the flows."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, bytes]] = []
        self.headers: list[Headers | None] = []  # of each message sent, in the same order
        self.states: list[tuple[str, int, bytes, bytes | None]] = []  # changelog records, apart from the outcomes
        self.journal: list[str] = []  # "outcome", "state", "flush": in the order they were called

    async def publish(self, topic: str, key: bytes | None, value: bytes, headers: Headers | None = None) -> None:
        self.sent.append((topic, key, value))
        self.headers.append(headers)
        self.journal.append("outcome")

    async def publish_state(self, topic: str, partition: int, key: bytes, value: bytes | None) -> None:
        self.states.append((topic, partition, key, value))
        self.journal.append("state")

    async def flush(self) -> None:
        self.journal.append("flush")

    @property
    def flushes(self) -> int:
        return self.journal.count("flush")

    def states_after_their_outcomes(self) -> bool:
        """Whether every changelog record was queued only once the outcomes before it were flushed, and was
        itself flushed before another outcome: no state could be durable before what it records."""
        previous = "flush"
        for entry in self.journal:
            if (entry == "state" and previous == "outcome") or (entry == "outcome" and previous == "state"):
                return False
            previous = entry
        return True

    def on(self, topic: str) -> list[tuple[bytes | None, bytes]]:
        return [(k, v) for t, k, v in self.sent if t == topic]
