"""Where the platform overrides faust's internals: each override, why, and the versions it holds for.

faust-streaming loses or stalls input after a restart or a rebalance with a backlog (docs/crash-recovery.md).
Each numbered defect below was seen in the crash test or reproduced by tests/integration/test_faust_recovery.py:

1. **Recovery resumes the stream partitions before it seeks them.** `Recovery.on_recovery_completed` (and
   `_resume_streams`, its table-less twin) resume the stream partitions, *then* await `perform_seek()` (broker
   round trips, ~0.5-1 s), *then* `flow_control.resume()`, which clears every agent's buffer. During the seek
   the fetcher already delivers records from the position before the seek: agents take some, the drain loop
   advances `_read_offset` past them, and the buffer clear throws the rest away. The re-fetch from the
   committed offset is then dropped by `Consumer._drain_messages` as "already read" (offset < `_read_offset`).
   The dropped range is never handled, and the partition's commits stop for good at its start, because faust
   only commits contiguous acks: lag never reaches 0 and the range's outputs are missing until a restart
   replays it. `_Recovery` below seeks first, clears the buffers, and only then resumes the partitions.
   (faust-streaming issue #596, open.)
2. **An empty fetch request asks for every partition.** faust passes its *live* set of active partitions to
   aiokafka's `fetched_records(partitions)`, which treats an empty set as "all partitions". When recovery ends
   it pauses the changelog partitions while the stream partitions are still paused: the set is empty for a
   moment, aiokafka hands over records of the paused stream partitions and moves their positions past them,
   and faust's `getmany` discards them (not active). Nobody seeks back: the records are skipped for good, the
   jump is later recorded as a gap and committed over. `_Consumer._getmany` asks for a copy of the set, and
   for nothing when it is empty.
3. **A seek "to committed" leaves partitions without a commit where they are.** aiokafka's
   `seek_to_committed` skips partitions whose committed offset is none or 0, so records fetched and discarded
   during a rebalance of a group that has not committed yet are not fetched again. `_Consumer` seeks those
   partitions to their beginning (the group starts there: `auto_offset_reset=earliest`).
4. **A commit can pass a message still being handled.** `Consumer._new_offset` tolerates one missing offset at
   the head of the acked offsets (`min(acked) - committed > 1`), which is also the case of a message that is
   handled but not acked yet: the commit skips it and a crash then loses it. `_Consumer._new_offset` never
   commits past the oldest tracked message that is not acked. (faust-streaming issue #606, PR #707, open.)
5. **A gap is recorded over the message that revealed it.** `_drain_messages` calls `_add_gap(tp, read + 1,
   offset)` and `_add_gap` stores the *closed* range, so the delivered message itself counts as acked as soon
   as a later offset is: `_Consumer._add_gap` stores the offsets that were never delivered, only.
6. **Messages skipped during a rebalance are acked.** A stream skips an event whose generation is stale or that
   arrives while flow control is suspended, and acks it although nothing handled it; the commit made while
   the partitions are revoked then covers it. `_Consumer.ack` ignores the ack of a message no stream tracked
   (it is fetched again after the seek, or by the partition's next owner).
7. **The worker's fetch wait.** faust hard-codes `fetch_max_wait_ms=1500`; a declaration crosses two consume
   steps, so each could wait up to 1.5 s on a quiet partition (`consumer_fetch_max_wait_ms`).

And one for speed, measured (bench/limits.md):

8. **Four tasks per consumed message.** `Consumer._drain_messages` hands each message to the streams with
   `await self.wait_first(callback(message), self.suspend_flow.wait())`: mode wraps both and the service's stop
   events in futures, waits for the first, cancels the rest -- ~47 µs per message on this machine, against
   0.13 µs for a plain await, when the callback almost never waits (it only does when flow control is suspended,
   the producer buffer is full or a stream's buffer is). `_Consumer._drain_messages` is faust's loop with one
   change: it first runs the callback inline (`_run_inline`); only a callback that does wait is finished as a
   task under the same `wait_first`, so a rebalance still interrupts it exactly as before.

And one for availability, found by `bench_core.py --workers 2` (Dec 3):

9. **A revoke, and a stop, wait for the events a step holds on purpose.** `App._on_partitions_revoked` pauses
   every partition, then waits (`Consumer.wait_empty`) until each message a stream took is acked, and only then
   sends the `on_partitions_revoked` signal; the app's stop (`App._stop_consumer`) waits the same way. The
   directory's gate (`topologies.alignment`) holds events, referenced, until its upstream steps progress --
   which they cannot while the partitions are paused -- and used to drop them on that signal: the revoke waited
   until the broker evicted the worker from its group. When a second worker joined, the first one stayed alive,
   idle and a member of nothing, for good (the second did all the work: worker CPU 0.11 and 0.89 core), and a
   stop hung until it was killed. Both paths call `TableManager.on_partitions_revoked` before they wait; ours
   first calls the hooks registered with `on_revoking(app, hook)`: each lets go of what it holds of the
   partitions going away, and their messages leave the unacked set *without* an ack (`_Consumer.let_go`).
   Until the next assignment no commit passes the oldest of them -- faust tolerates one unacked offset at the
   head, and override 4 no longer sees them -- so the partitions' next owner (or the next start) reads them
   again.

Everything here holds for the versions in `PINNED` and is checked by tests/unit/test_faust_overrides.py, which
also pins the source of each faust function overridden: when faust changes underneath, that test fails and the
override must be re-read against the new code (and dropped if upstream fixed it).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Collection, Iterable
from typing import Any, cast

import aiokafka
from faust.tables.manager import TableManager as FaustTableManager
from faust.tables.recovery import Recovery as FaustRecovery
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as driver
from faust.types import TP
from faust.utils.functional import consecutive_numbers

PINNED = {"faust-streaming": "0.15.3", "aiokafka": "0.14.0", "mode-streaming": "0.7.1"}

# The code these overrides were written against (first 16 hex digits of the SHA-256 of each function's source):
# the overridden functions, and those whose behaviour the overrides rely on or work around.
REVIEWED = {
    "faust.transport.consumer.Consumer._new_offset": "1d2c7ea89a7ad4f1",
    "faust.transport.consumer.Consumer.ack": "5fcf41cf45153475",
    "faust.transport.consumer.Consumer._add_gap": "4df2573ded7c1c2c",
    "faust.transport.consumer.Consumer._drain_messages": "44a2500309e83c63",
    "faust.transport.consumer.Consumer.getmany": "4b168d84882a70d6",
    "faust.transport.consumer.Consumer._wait_next_records": "6218e1969a636b3f",
    "faust.transport.consumer.Consumer.perform_seek": "0e8c130ff4b0afd8",
    "faust.transport.consumer.Consumer.on_partitions_revoked": "d04b7ae72c6fc206",
    "faust.app.base.App._stop_consumer": "55854a5de12c3f52",
    "faust.tables.manager.TableManager.on_partitions_revoked": "382852adff42ab99",
    "faust.transport.consumer.Consumer.on_partitions_assigned": "29ce96596f05a18c",
    "faust.transport.consumer.Consumer.wait_empty": "e4662fe24f094819",
    "faust.app.base.App._on_partitions_revoked": "d5c895bbe57dc73a",
    "faust.transport.consumer.Consumer._filter_committable_offsets": "dc5e9baf5d994485",
    "faust.transport.consumer.ThreadDelegateConsumer._getmany": "f9d47aa9010b5ff2",
    "faust.tables.recovery.Recovery.on_recovery_completed": "6ef567acf072e46d",
    "faust.tables.recovery.Recovery._resume_streams": "d986a6710c1aca98",
    "faust.tables.manager.TableManager.recovery": "f0bf5de78b4c3d23",
    # also: topologies.batches releases a batch once the queue this reads from (`self.channel.queue`) is empty
    "faust.streams.Stream._py_aiter": "3a48ee257a65435b",
    "faust.transport.drivers.aiokafka.AIOKafkaConsumerThread._create_worker_consumer": "c2701bfc3e6f6cad",
    "faust.transport.drivers.aiokafka.AIOKafkaConsumerThread._fetch_records": "39a2c6c79fc1455a",
    "aiokafka.consumer.fetcher.Fetcher.fetched_records": "be4348896b9b66af",
    "aiokafka.consumer.consumer.AIOKafkaConsumer.seek_to_committed": "f6cd85c8b70a4ccf",
    # committed_offset reads what these keep
    "faust.transport.consumer.Consumer._commit_offsets": "1a69799041188441",
    # fetch_offsets reads the state these keep
    "aiokafka.consumer.subscription_state.TopicPartitionState.__init__": "f0b391da1b87af04",
    "aiokafka.consumer.subscription_state.TopicPartitionState.consumed_to": "c7b8f0f99ce9185e",
    "aiokafka.consumer.consumer.AIOKafkaConsumer.highwater": "044275efc968e286",
    "aiokafka.consumer.fetcher.Fetcher._proc_fetch_request": "59bf948fff47eed5",
    "aiokafka.consumer.consumer.AIOKafkaConsumer.last_poll_timestamp": "da08643199629e28",
}


# what each app's steps hold of their partitions without having handled it (override 9)
Revoking = Callable[[Collection[TP]], Iterable[Any]]  # partitions going away -> the events let go of
_REVOKING: weakref.WeakKeyDictionary[Any, list[Revoking]] = weakref.WeakKeyDictionary()


_ASSIGNING: weakref.WeakKeyDictionary[Any, list[Callable[[], None]]] = weakref.WeakKeyDictionary()


def on_revoking(app: Any, hook: Revoking, assigning: Callable[[], None]) -> None:
    """Call ``hook`` with the partitions going away (a revoke, or the consumer stopping) *before* faust waits for
    the unacked messages: it returns the events it held of them unhandled, which are then no longer waited for,
    nor acked; an event of those partitions handed over later goes to `let_go_event` (override 9). ``assigning``
    is called when the next assignment begins, before any of its partitions is fetched."""
    _REVOKING.setdefault(app, []).append(hook)
    _ASSIGNING.setdefault(app, []).append(assigning)


def let_go_event(app: Any, event: Any) -> None:
    """An event of a partition going away that a step will not handle: not waited for, never committed."""
    consumer = app.consumer
    if isinstance(consumer, _Consumer):
        consumer.let_go_messages([event.message])


class _Suspended(Exception):
    """The callback awaited something: the rest of it runs as a task (`_finish`)."""

    def __init__(self, coro: Any, awaited: Any) -> None:
        self.coro, self.awaited = coro, awaited


def _run_inline(coro: Any) -> None:
    """Run a coroutine to its end in the caller, without a task, as long as it does not wait.

    Raises `_Suspended` with the coroutine and what it awaits (an asyncio future, or None for a bare yield) at
    its first wait: `_finish` then drives the rest exactly as a task would."""
    try:
        awaited = coro.send(None)
    except StopIteration:
        return
    raise _Suspended(coro, awaited)


async def _finish(coro: Any, awaited: Any) -> Any:
    """Drive a coroutine that stopped at ``awaited`` to its end, in the calling task (asyncio's Task.__step)."""
    while True:
        try:
            if awaited is None:
                await asyncio.sleep(0)
            else:
                awaited._asyncio_future_blocking = False  # taken, as a task takes the future it waits for
                await asyncio.wait((awaited,))
        except asyncio.CancelledError:
            if awaited is not None:
                awaited.cancel()
            try:
                awaited = coro.throw(asyncio.CancelledError())
            except StopIteration as done:
                return done.value
            continue
        try:
            awaited = coro.send(None)  # the future is done: the coroutine's await returns (or raises) its result
        except StopIteration as done:
            return done.value


class _Consumer(driver.Consumer):
    async def _getmany(self, active_partitions: set[TP] | None, timeout: float) -> Any:
        if active_partitions is not None:
            if not active_partitions:
                await asyncio.sleep(min(timeout, 0.05))
                return {}
            active_partitions = set(active_partitions)  # the live set changes while the fetch waits
        return await self._thread.getmany(active_partitions, timeout)  # as faust's ThreadDelegateConsumer

    async def seek_to_committed(self) -> Any:
        committed = await super().seek_to_committed()
        never = [tp for tp, offset in committed.items() if not offset and not self._is_changelog_tp(tp)]
        if never:
            await self._thread.seek_to_beginning(*never)
        return committed

    def ack(self, message: Any) -> bool:
        if not message.tracked and self.app.topics.acks_enabled_for(message.topic):
            # skipped by a stream (stale generation, flow suspended): handled by nobody, so not safe to commit
            return False
        if message in self.__dict__.get("_let_go_messages", ()):
            return False  # let go (override 9): handled by nobody either
        return super().ack(message)

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        # offset_to is the message just delivered: the gap is what lies before it
        await super()._add_gap(tp, offset_from, offset_to - 1)

    def let_go(self, tps: Collection[TP]) -> None:
        """The events the app's steps hold unhandled of ``tps`` (`on_revoking`) are let go (`let_go_messages`)."""
        going = set(tps)
        for hook in _REVOKING.get(self.app, ()):
            self.let_go_messages([event.message for event in hook(going)])

    def let_go_messages(self, messages: Iterable[Any]) -> None:
        """Messages no step will handle leave the unacked set, unacked: faust no longer waits for them, a later
        ack of theirs (the stream's, when it moves on) does not count, and until the next assignment no commit
        passes the oldest of them (override 4 no longer sees them)."""
        floors: dict[TP, int] = self.__dict__.setdefault("_let_go_floors", {})
        ignored: weakref.WeakSet[Any] = self.__dict__.setdefault("_let_go_messages", weakref.WeakSet())
        for message in messages:
            self._unacked_messages.discard(message)
            ignored.add(message)
            if message.offset < floors.get(message.tp, message.offset + 1):
                floors[message.tp] = message.offset

    async def on_partitions_assigned(self, assigned: set[TP], generation_id: int = 0) -> None:
        # a new generation starts from the committed offsets (which no commit moved past a floor): what was let
        # go is read again, and so is what was acked after it -- those acks, left from the revoke's commits,
        # must not count for a partition that comes back
        self._read_again()
        for assigning in _ASSIGNING.get(self.app, ()):
            assigning()
        await super().on_partitions_assigned(assigned, generation_id)

    def _read_again(self) -> None:
        floors: dict[TP, int] = self.__dict__.get("_let_go_floors", {})
        for tp, floor in floors.items():
            stale = {offset for offset in self._acked.get(tp, ()) if offset >= floor}
            if stale:
                self._acked[tp] = [offset for offset in self._acked[tp] if offset < floor]
                self._acked_index[tp].difference_update(stale)
        floors.clear()
        self.__dict__.pop("_let_go_messages", None)

    def _in_flight_now(self) -> dict[TP, int]:
        """Per partition, the offset no commit may pass: the oldest message tracked and not acked, or let go."""
        in_flight = _oldest_unacked(self._unacked_messages)
        for tp, offset in self.__dict__.get("_let_go_floors", {}).items():
            if offset < in_flight.get(tp, offset + 1):
                in_flight[tp] = offset
        return in_flight

    def _filter_committable_offsets(self, tps: Any) -> dict[TP, int]:
        self._in_flight = self._in_flight_now()
        try:
            return super()._filter_committable_offsets(tps)
        finally:
            self._in_flight = {}

    def _new_offset(self, tp: TP) -> int | None:
        """faust's rule (contiguous acks, known gaps count as acked), capped at the oldest in-flight message."""
        acked = self._acked[tp]
        if not acked:
            return None
        max_offset = max(acked)
        gaps = self._gap[tp]
        if gaps:
            candidates = sorted(gaps.overlap(0, max_offset), key=lambda interval: interval.begin)
            if candidates:
                filled = [offset for interval in candidates for offset in range(interval.begin, interval.end)]
                acked.extend(filled)
                gaps.chop(0, max(filled[-1], max_offset + 1))
        acked.sort()
        committed = self._committed_offset[tp]
        if committed and acked[0] - committed > 1:
            return None  # the head of the partition is not acked yet
        batch = next(consecutive_numbers(acked))
        oldest = getattr(self, "_in_flight", {}).get(tp)
        if oldest is not None:
            batch = [offset for offset in batch if offset < oldest]
            if not batch:
                return None
        del acked[: len(batch)]
        self._acked_index[tp].difference_update(batch)
        return batch[-1] + 1

    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover (the worker's fetcher)
        # faust's loop (faust.transport.consumer.Consumer._drain_messages, pinned in REVIEWED) but for the
        # callback: inline first, as a task under wait_first only once it waits (override 8)
        callback = self.callback
        getmany = self.getmany
        consumer_should_stop = cast(Any, self)._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set
        get_read_offset = self._read_offset.__getitem__
        set_read_offset = self._read_offset.__setitem__
        flag_consumer_fetching = CONSUMER_FETCHING
        set_flag = self.diag.set_flag
        unset_flag = self.diag.unset_flag
        commit_every = self._commit_every
        acks_enabled_for = self.app.topics.acks_enabled_for
        yield_every = 100
        num_since_yield = 0
        sleep = asyncio.sleep
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                set_flag(flag_consumer_fetching)
                ait = cast(Any, getmany(timeout=1.0))
                await self.sleep(0)
                if not self.should_stop:
                    async for tp, message in ait:
                        num_since_yield += 1
                        if num_since_yield > yield_every:
                            await sleep(0)
                            num_since_yield = 0
                        offset = message.offset
                        r_offset = get_read_offset(tp)
                        if r_offset is None or offset >= r_offset:
                            gap = offset - (r_offset or 0)
                            if gap > 1 and r_offset and acks_enabled_for(message.topic):
                                await self._add_gap(tp, r_offset + 1, offset)
                            if commit_every is not None and self._n_acked >= commit_every:
                                self._n_acked = 0
                                await self.commit()
                            try:
                                _run_inline(callback(message))
                            except _Suspended as suspended:
                                await self.wait_first(
                                    _finish(suspended.coro, suspended.awaited), self.suspend_flow.wait()
                                )
                            set_read_offset(tp, offset)
                    unset_flag(flag_consumer_fetching)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            unset_flag(flag_consumer_fetching)

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        # a paused partition is still yielded by getmany while it is marked buffered (buffer full): a revoked
        # partition must come back unmarked
        self._buffered_partitions.difference_update(revoked)
        await super().on_partitions_revoked(revoked)


def _oldest_unacked(messages: Any) -> dict[TP, int]:
    oldest: dict[TP, int] = {}
    for message in list(messages):
        if not message.acked:
            tp, offset = message.tp, message.offset
            if offset < oldest.get(tp, offset + 1):
                oldest[tp] = offset
    return oldest


class _Recovery(FaustRecovery):
    async def on_recovery_completed(self, generation_id: int = 0) -> None:
        """faust's, with the stream partitions resumed only after the seek and the buffer clear."""
        consumer = self.app.consumer
        self.log.info("Restore complete!")
        await self.app.on_rebalance_complete.send()
        self._set_recovery_ended()
        callback_coros = [
            asyncio.ensure_future(
                table.on_recovery_completed(self.actives_for_table[table], self.standbys_for_table[table])
            )
            for table in self.tables.values()
        ]
        if callback_coros:
            await asyncio.wait(callback_coros)
        assignment = consumer.assignment()
        if self.app.consumer_generation_id != generation_id:
            self.log.warning(
                f"Recovery rebalancing again app id {self.app.consumer_generation_id} param {generation_id}"
            )
            return
        await self._seek_then_resume(assignment)
        await cast(Any, self.app)._fetcher.maybe_start()
        self.tables.on_actives_ready()
        if not self.app.assignor.assigned_standbys():
            self.tables.on_standbys_ready()
        self.app.on_rebalance_end()
        self.log.info("Worker ready")

    async def _resume_streams(self, generation_id: int = 0) -> None:
        """faust's (the path without tables), with the same order as on_recovery_completed."""
        app = self.app
        await app.on_rebalance_complete.send()
        assignment = app.consumer.assignment()
        if app.consumer_generation_id != generation_id:
            self.log.warning("Recovery rebalancing again")
            return
        await self._seek_then_resume(assignment)
        await cast(Any, app)._fetcher.maybe_start()
        self.tables.on_actives_ready()
        self.tables.on_standbys_ready()
        app.on_rebalance_end()
        self.log.info("Worker ready")

    async def _seek_then_resume(self, assignment: set[TP]) -> None:
        consumer: Any = self.app.consumer
        streams = {tp for tp in assignment if not self._is_changelog_tp(tp)}
        consumer._buffered_partitions.difference_update(streams)
        if assignment:
            self.log.info("Seek stream partitions to committed offsets.")
            await self._wait(consumer.perform_seek(), timeout=self.app.conf.broker_request_timeout)
        self.completed.set()
        # clears the agents' buffers: nothing of the stream partitions can be in them, they are still paused
        self.app.flow_control.resume()
        self.log.dev("Resume stream partitions")
        consumer.resume_partitions(streams)
        consumer.resume_flow()


class TableManager(FaustTableManager):
    """faust's table manager with the recovery above (faust's `TableManager` setting), and the first to hear of
    partitions going away: a revoke and the app's stop both call `on_partitions_revoked` before they wait for the
    unacked messages (override 9)."""

    def on_partitions_revoked(self, revoked: set[TP]) -> None:
        consumer = self.app.consumer
        if isinstance(consumer, _Consumer):
            consumer.let_go(revoked)
        super().on_partitions_revoked(revoked)

    @property
    def recovery(self) -> FaustRecovery:
        if self._recovery is None:
            self._recovery = _Recovery(self.app, self, beacon=self.beacon, loop=self.loop)
        return self._recovery


def transport_class(fetch_max_wait_ms: int) -> type[driver.Transport]:
    class ConsumerThread(driver.AIOKafkaConsumerThread):
        def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
            consumer = super()._create_worker_consumer(transport)
            # read by the consumer when it starts its fetcher; faust offers no setting for it
            consumer._fetch_max_wait_ms = fetch_max_wait_ms
            return consumer

    class Consumer(_Consumer):
        def _new_consumer_thread(self) -> driver.AIOKafkaConsumerThread:
            return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    class Transport(driver.Transport):
        pass

    Transport.Consumer = Consumer
    return Transport


def committed_offset(app: Any, tp: TP) -> int | None:
    """The offset the worker's group has committed for one of its partitions, as faust knows it: set by the seek
    of each assignment (`Consumer.perform_seek`) and by every commit since; None when faust knows none."""
    try:
        offset = app.consumer._committed_offset.get(tp)
    except AttributeError:  # no consumer yet
        return None
    return offset if isinstance(offset, int) else None


def fetch_offsets(app: Any, tp: TP) -> tuple[int | None, int | None, int | None]:
    """(high watermark, position, fetched at) of one of the worker's partitions, as its aiokafka consumer last
    knew them, without a round trip (faust only offers the position as a call into the consumer's thread); Nones
    when the partition is not assigned or the consumer has not started. The high watermark is the one of the
    last fetch response, received at the wall-clock time given (ms, aiokafka's `last_poll_timestamp`); the
    position is the next offset handed over to faust. Read by `topologies.alignment`.
    """
    try:
        consumer = app.consumer._thread._consumer
        state = consumer._subscription.subscription.assignment.state_value(tp)
    except AttributeError:  # no consumer yet, or no assignment
        return None, None, None
    if state is None:
        return None, None, None
    return state.highwater, state._position, state.timestamp


__all__ = ["PINNED", "REVIEWED", "TableManager", "committed_offset", "fetch_offsets", "on_revoking", "transport_class"]
