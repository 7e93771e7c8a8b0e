"""Handling a flow's events one by one, but writing and releasing them in batches.

Per event, waiting for the broker to acknowledge a flow's outputs before taking the next event cost more than our
whole decision. A flow here handles each event as it comes (its outputs are queued in librdkafka, which sends
them within milliseconds), and *releases* the batch every `max_events` events, as soon as it has handled
everything its input holds (its stream's queue is empty: `release_when_caught_up`) and the batch is as old as the
last release took, or at the latest when the oldest unreleased event has waited `within_s`: `flush()` waits
until every output so far is written, and only then are the batch's events acked, so that faust may commit their
offsets. A reference is held on each message until then; a flow that crashes (or a `flush()` that raises) leaves
them unacked, and the restart replays them.

Why release as soon as the input is caught up: with a window alone every step of the path waited for it at a
light load (an address change crosses the intake and the directory, a DmfA line the intake, the DmfA step and the
directory). At 20 declarations/s p50 / p99 went from 137 / 161 to 42 / 81 ms (bench/limits.md). Under a backlog
the queue is not empty and the batches still fill to `max_events` (a small batch costs its flushes' round trips);
at a light load each release is small, but there is time for it; and the age rule makes the batches grow with the
releases' cost as the load grows (released at once, the flows spent their time in small releases at half rate).

faust's own `stream.take_events()` was used first: after a SIGKILL and a restart with a large backlog its
buffer stopped being filled (the directory stalled for good with 67,000 events to go, an intermittent failure
of tests/integration/test_crash_recovery.py). faust has open reports of agents hanging in `take()`. The plain
`stream.events()` iteration used here is the path every faust agent takes.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any, Generic, Protocol, TypeVar

import faust
from faust import streams as faust_streams
from faust.types import TP, EventT, TableT

from topologies.alignment import Gate, Progress
from topologies.deps import Deps
from topologies.meters import FlowMeter
from topologies.publisher import Publisher


class Interlude(Protocol):
    """Work a flow does between two of its batches, never during one (the directory's purge).

    `wait` returns when there is work; `step` then does one slice of it and says whether more is left. Each
    step runs under the flow's lock once the batch in progress is released: no event of the flow is being
    handled, and every value the flow changed is written to its table. The flow's events go on between two
    steps."""

    async def wait(self) -> None: ...

    async def step(self) -> bool: ...


# events a flow handles from the gate before it lets the event loop run others (Stream._py_aiter yields at each
# event it hands over)
YIELD_EVERY = 32


async def handle_then_release(
    stream: faust.StreamT[bytes],
    handle: Callable[[EventT[bytes]], Awaitable[None]],
    flush: Callable[[], Awaitable[None]],
    max_events: int,
    within_s: float,
    *,
    progress: Progress | None = None,
    gate: Gate | None = None,
    meter: FlowMeter | None = None,
    interlude: Interlude | None = None,
    release_when_caught_up: bool = True,
) -> None:
    """Run the agent: `handle` each event, `flush` (write everything handled so far) before releasing a batch.

    ``progress`` learns what each released batch handled (`topologies.alignment`); with a ``gate``, each aligned
    event is held until the gate lets it go, in event-time order. An ``interlude``'s steps run between batches
    (see `Interlude`); events the gate holds stay held, and nothing of the interlude is reported to
    ``progress``."""
    lock = asyncio.Lock()
    pending: list[EventT[bytes]] = []
    oldest = 0.0
    failure: list[BaseException] = []
    agent = asyncio.current_task()
    sensors = stream.app.sensors
    # what faust's stream reads from (Stream._py_aiter); a stream over another iterable has no queue to look at
    queue = getattr(stream.channel, "queue", None) if release_when_caught_up else None

    last_release_s = 0.0  # how long the last release took: a caught-up batch waits at least as long
    begun = asyncio.Event()  # the batch has its first event

    def caught_up(now: float) -> bool:
        # caught up, and old enough: at a light load a release is quick and goes at once; once releases take
        # longer (the flushes' round trips grow with the load) the batches grow with them, instead of the flow
        # spending its time in small releases (measured at half the sustained rate: bench/limits.md)
        return queue is not None and bool(pending) and queue.empty() and now - oldest >= last_release_s

    async def release() -> None:
        nonlocal last_release_s
        if not pending:
            return
        began = time.monotonic()
        await flush()
        events = pending[:]
        pending.clear()
        if progress is not None and gate is None:
            progress.released(events)
        for event in events:
            # drop our reference; the last one makes the offset committable (faust's Stream.ack minus its
            # per-stream sensor call, which the stream already made when it moved past the event)
            if event.ack():
                message = event.message
                sensors.on_message_out(message.tp, message.offset, message)
        last_release_s = time.monotonic() - began
        if meter is not None:
            meter.released(last_release_s)

    async def on_time() -> None:
        # an idle flow still releases what it handled: its offsets get committed, its lag reaches 0; and a batch
        # caught up but younger than the last release took goes once it is that old
        try:
            while True:
                if not pending:
                    begun.clear()
                    await begun.wait()
                now = time.monotonic()
                if now - oldest >= within_s or caught_up(now):
                    async with lock:
                        await release()
                    continue
                due = oldest + (min(within_s, last_release_s) if queue is not None else within_s)
                await asyncio.sleep(max(0.001, due - now))
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # the agent must crash with it, not this task die alone
            failure.append(exc)
            if agent is not None:
                agent.cancel()

    async def take(event: EventT[bytes]) -> None:
        nonlocal oldest
        await handle(event)
        if not pending:
            oldest = time.monotonic()
            begun.set()
        pending.append(event)
        if len(pending) >= max_events:
            await release()

    async def take_all(events: list[EventT[bytes]]) -> None:
        # the gate may let thousands go at once: handled in one stretch, they kept the worker's other flows, and
        # their flushes' completions, waiting on the one event loop for as long
        for n, event in enumerate(events, 1):
            await take(event)
            if n % YIELD_EVERY == 0:
                await asyncio.sleep(0)

    async def on_progress(gate: Gate) -> None:
        # held events go when the upstream steps progress, even if nothing new reaches this flow
        woken = asyncio.Event()
        gate.wake_with(woken.set)
        try:
            while True:
                # while events are held, the consumer's next fetch may be what lets them go: look again soon
                idle = 0.01 if gate.held() else max(within_s, 0.1)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(woken.wait(), timeout=idle)
                woken.clear()
                async with lock:
                    await take_all(gate.ready())
                    if caught_up(time.monotonic()):
                        await release()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            failure.append(exc)
            if agent is not None:
                agent.cancel()

    async def on_interlude(interlude: Interlude) -> None:
        try:
            while True:
                await interlude.wait()
                more = True
                while more:
                    async with lock:
                        await release()  # the batch in progress first: its values are in the table
                        more = await interlude.step()
                    await asyncio.sleep(0)  # the flow's events go on between two steps
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            failure.append(exc)
            if agent is not None:
                agent.cancel()

    timers = [asyncio.ensure_future(on_time())]
    if gate is not None:
        timers.append(asyncio.ensure_future(on_progress(gate)))
    if interlude is not None:
        timers.append(asyncio.ensure_future(on_interlude(interlude)))
    try:
        async for event in stream.events():
            async with lock:
                message = event.message
                if meter is not None:
                    meter.consumed(message.topic)
                if progress is not None and gate is None:  # a flow that handles each partition in order
                    progress.received(event)
                if gate is None or not gate.aligned(event):
                    message.incref()  # released (acked) by release(), after flush()
                    await take(event)
                else:
                    if gate.offer(event):
                        message.incref()  # held, then handled; released (acked) by release(), after flush()
                    await take_all(gate.ready((message.partition,)))
                if caught_up(time.monotonic()):
                    await release()
    except asyncio.CancelledError:
        if failure:
            raise failure[0] from None
        raise
    finally:
        for timer in timers:
            timer.cancel()


async def run_flow(
    stream: faust.StreamT[bytes],
    handle: Callable[[EventT[bytes]], Awaitable[None]],
    flush: Callable[[], Awaitable[None]],
    deps: Deps,
    meter: FlowMeter,
    *,
    gate: Gate | None = None,
    interlude: Interlude | None = None,
) -> None:
    """`handle_then_release` with the flow's settings (batch size and window), its worker's progress and its
    meter."""
    settings = deps.settings
    await handle_then_release(
        stream,
        handle,
        flush,
        settings.batch_max_events,
        settings.batch_within_ms / 1000,
        progress=deps.progress,
        gate=gate,
        meter=meter,
        interlude=interlude,
        release_when_caught_up=settings.batch_release_when_caught_up,
    )


@contextmanager
def acting_for(event: EventT[bytes]) -> Iterator[None]:
    """Make `event` faust's current event while a table is read or written outside its own iteration.

    faust chooses a table's partition -- the store (RocksDB keeps one database per partition) and the changelog
    partition a write goes to -- from the *current event*: when a batch is released, that is the last event
    handled (or none at all, from the timer), not the one that changed the file. faust has no public way to set
    it; this sets the context variable the stream sets for each event.
    """
    token = faust_streams._current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        faust_streams._current_event.reset(token)


def standin(topic: str, partition: int) -> Any:
    """What `acting_for` needs of an event, for work on a partition that no event drives (the directory's purge):
    faust reads only the current event's message, its topic and partition."""
    return _Standin(SimpleNamespace(topic=topic, partition=partition, tp=TP(topic, partition)))


class _Standin:
    def __init__(self, message: SimpleNamespace) -> None:
        self.message = message  # a plain object: `acting_for` keeps a weak reference to it


S = TypeVar("S")


def state_table(app: faust.App, name: str, changelog: str) -> TableT[bytes, bytes]:
    """A flow's table, kept in the compacted topic `changelog`, the way faust keeps its own changelogs.

    faust's own changelog topics are declared with `acks=False`: nobody acks what the table's recovery and the
    standby replicas read. A changelog declared with the default acks had faust log "Stream has not started
    processing TP(...)" as an ERROR every few seconds for each standby partition once a second worker joined.
    """
    topic = app.topic(changelog, key_type=bytes, value_type=bytes, compacting=True, acks=False)
    return app.Table(name, key_type=bytes, value_type=bytes, changelog_topic=topic)


class BatchedTable(Generic[S]):
    """A flow's faust table, its values decoded once per batch and written back once per batch.

    `get` decodes a key's value the first time a batch needs it and keeps it decoded; `put` records a changed
    value (and the event that changed it, for the changelog partition); `delete` records that a key goes (a
    tombstone in its changelog, so that a restart does not recover it). The flow releases its batch with
    `write_batch`: the batch's outcomes are flushed first; then `publish_changes` queues each changed value's
    changelog record (encoded once) on the flow's own producer, to the partition of the event that changed it;
    a second flush writes those; only then does `store` set the values in the table's store. So a value in the
    table -- or in its changelog, hence in the table a restart recovers -- has its decisions' outcomes written,
    and its changelog record is durable before the batch's offsets are released: a replay (at-least-once) of
    what the value already records publishes nothing again, and loses nothing.

    Why two flushes: librdkafka writes the partitions of one flush independently. With the changelog records
    in the outcomes' flush, a SIGKILL during it could leave a state durable whose acknowledgement was not: the
    restart recovered the state, recognised the replayed declaration as decided, and its acknowledgement was
    never sent (tests/integration/test_dmfa_crash.py, 4 to 6 of 3,000 DmfA on Dec 2).

    Why not faust's own `table[key] = value`: its changelog records go through faust's aiokafka producer, about
    a third of the worker's CPU on the bench mix (bench/limits.md, "Issue 14, step by step"). Bypassing it means
    a rocksdb store does not learn the changelog offsets it holds (faust's `persist_offset_on_commit` is fed by
    that producer's callbacks) and recovers from the changelog's start; the default store is memory, which does
    so anyway.

    A revoked partition's values may change elsewhere before it comes back: the batch forgets them, and its
    unwritten changes are replayed (their events were not released).
    """

    def __init__(
        self,
        app: faust.App,
        table: Any,
        decode: Callable[[bytes, bytes | None], S],
        encode: Callable[[S], bytes],
    ) -> None:
        self._table, self._decode, self._encode = table, decode, encode
        self._changelog: str = table.changelog_topic.get_topic_name()
        self._values: dict[bytes, S | None] = {}  # None: deleted in this batch
        self._changed: dict[bytes, EventT[bytes]] = {}  # key -> the last event that changed its value
        self._encoded: dict[bytes, bytes | None] = {}
        app.on_partitions_revoked.connect(self._forget, weak=False)

    def get(self, key: bytes, event: EventT[bytes]) -> S:
        if key in self._values:
            value = self._values[key]
            return self._decode(key, None) if value is None else value
        with acting_for(event):
            stored = self._table.get(key)
        decoded = self._values[key] = self._decode(key, stored)
        return decoded

    def put(self, key: bytes, value: S, event: EventT[bytes]) -> None:
        self._values[key] = value
        self._changed[key] = event

    def delete(self, key: bytes, event: EventT[bytes]) -> None:
        self._values[key] = None
        self._changed[key] = event

    async def publish_changes(self, publisher: Publisher) -> int:
        """Queue each changed value's changelog record; call once the batch's outcomes are flushed. Returns how
        many were queued."""
        for key, event in self._changed.items():
            value = self._values[key]
            encoded = self._encoded[key] = None if value is None else self._encode(value)
            with acting_for(event):  # under exactly_once, faust's transactional producer reads it too
                await publisher.publish_state(self._changelog, event.message.partition, key, encoded)
        return len(self._changed)

    def store(self) -> None:
        """Set the changed values in the table's store; call once the flush after `publish_changes` returned."""
        for key, event in self._changed.items():
            encoded = self._encoded[key]
            with acting_for(event):  # the store's partition (rocksdb keeps one database per partition)
                if encoded is not None:
                    self._table.data[key] = encoded
                elif key in self._table.data:
                    del self._table.data[key]
        self._changed.clear()
        self._values.clear()
        self._encoded.clear()

    def _forget(self, sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        self._values.clear()
        self._changed.clear()
        self._encoded.clear()


async def write_batch(publisher: Publisher, *tables: BatchedTable[Any]) -> None:
    """Write a batch handled with `tables`: its outcomes (already queued on `publisher`), then the tables'
    changed values, each flush waited for; then set the values in the tables' stores. See `BatchedTable`."""
    await publisher.flush()  # the outcomes: durable before any state that records them
    changed = 0
    for table in tables:
        changed += await table.publish_changes(publisher)
    if changed:
        await publisher.flush()
    for table in tables:
        table.store()
