"""Event-time alignment: the directory decides what it reads in the order of the declarations' own time.

A replay from offset 0 finds every topic full. Without alignment the worker reads its intake topics side by side:
the day's DIMONA reach the directory while the integrations that came before them are still being read, and
they are fanned out to a directory that is still filling (a generated day replayed gave ~10 k mailbox messages
instead of ~53 k). Kafka Streams answers this with time-aligned reading (`max.task.idle.ms`); faust has none,
and a pipeline of two steps needs more than it: the directory's inputs are written by the intake of the same
worker while the directory reads them, so an input partition that looks caught up may only be behind its writer.

How the directory is aligned here:

* **Event time.** A declaration's event time is the timestamp of its intake record: the broker's append time (the
  intake topics are `LogAppendTime`), so no sender's clock decides it, and a record read has every record of an
  earlier time already in the log.
  Every message a step forwards to another step (`streams.domain.outcomes.Forward`: admitted declarations, facts,
  lookups) carries it in the `crossroads-event-time` header with its origin family (`<ms> <family>`), so a lookup
  derived from a DmfA derived from an intake record still has that record's time. Two events of the same
  millisecond go in `streams.domain.kinds.SAME_TIME_ORDER` (integrations, DIMONA, DmfA, civil, consultations).
  Record timestamps are left alone (they still say when a fact was written: the warehouse's `accepted_at`).
* **Upstream progress (`Progress`, one per worker).** Each step reports, once a batch is released (its outputs
  flushed), how far it has handled each source partition: the offset after the last released event and the
  latest event time released (the partition's watermark). Each publisher reports the offset of every message it
  wrote (its delivery reports).
* **The gate (`Gate`, the directory's).** The directory keeps what it receives per partition p, ordered by event
  time, and decides the earliest held event (time t) only when
  1. every upstream source partition this worker reads -- the NISS-keyed intake topics' partition p, and every
     partition of the DmfA path (keyed by employer, it writes lookups to any partition) -- has released an event
     of time >= t; or has received one later than t and released every earlier one (read in order, append
     times do not decrease along a partition); or has released everything up to a high watermark fetched after
     t (`alignment_grace_ms` after: the broker's clock against the worker's); or holds no record at all; and
  2. every message written by this worker to one of the directory's input partitions p has been received, or
     lies below that input's committed offset (decided already: after a rebalance the worker may get back a
     partition whose every message it wrote before was committed, and it is delivered none of them again).
  Then everything of time <= t that this worker's steps will ever write to partition p has reached the gate,
  and deciding in time order is the live order. The audit entries on the pending topic are not aligned.

What it does not cover: a message written to partition p by another worker (a DmfA line whose employer's
partition another worker owns; a record sent without its subject's key) is decided when it arrives, and a record
whose producer's clock lags (an event time below the watermark already passed) is decided when it arrives.
A held event also goes after `Settings.alignment_max_hold_s` whatever the gate says (logged, counted): it guards
against a defect stalling the directory, not against a long backlog, which it must wait for.

Held events are referenced (not acked), so a crash or a rebalance replays them; a revoked partition's held
events are dropped, the next owner reads them again.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from faust.types import TP, EventT

from streams.domain.kinds import SAME_TIME_ORDER
from streams.kafka.sealing import Headers

EVENT_TIME_HEADER = "crossroads-event-time"

log = logging.getLogger(__name__)


_RANK = {family: rank for rank, family in enumerate(SAME_TIME_ORDER)}


def event_origin(message: Any) -> tuple[int, str]:
    """(event time in ms, origin family) of a consumed message: from its header if a step forwarded it, else its
    record timestamp and the intake topic it is on ("" when it is on none)."""
    headers = message.headers
    if headers:
        pairs: Iterable[tuple[Any, Any]] = headers.items() if isinstance(headers, Mapping) else headers
        for name, value in pairs:
            if name == EVENT_TIME_HEADER and value:
                time_ms, _, origin = bytes(value).decode("ascii", "replace").partition(" ")
                try:
                    return int(time_ms), origin
                except ValueError:  # not ours: fall back on the record's time
                    break
    timestamp = message.timestamp
    area, family = _area_and_name(message.topic)
    return (int(timestamp * 1000) if timestamp else 0), family if area == "intake" else ""


def event_time_ms(message: Any) -> int:
    return event_origin(message)[0]


def event_order(message: Any) -> tuple[int, int]:
    """The order the directory decides in: event time, then (same millisecond) `SAME_TIME_ORDER`."""
    time_ms, origin = event_origin(message)
    return time_ms, _RANK.get(origin, len(_RANK))


def event_time_headers(message: Any) -> Headers:
    """The header a forwarded message carries: the event time and origin family of the message it derives from
    (``<ms> <family>``, ASCII)."""
    time_ms, origin = event_origin(message)
    return [(EVENT_TIME_HEADER, f"{time_ms} {origin}".rstrip().encode())]


def _area_and_name(topic: str) -> tuple[str, str]:
    # <prefix>.<area>.<name>.v<version> (streams.catalog.TopicSpec.topic); the prefix may hold dots
    parts = topic.rsplit(".", 3)
    return (parts[1], parts[2]) if len(parts) == 4 else ("", "")


# -- the rule (pure) -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SourceState:
    """What a worker knows of one upstream source partition."""

    watermark_ms: int | None  # the latest event time among its released events
    released_next: int | None  # the offset after its last released event
    received: bool  # its step received an event of it (since the partition was assigned)
    received_ms: int | None  # the event time of the last event its step received
    in_flight_ms: int | None  # the earliest event time among the events its step received and has not released
    highwater: int | None  # the broker's high watermark, as last fetched
    position: int | None  # the consumer's position (the next offset it hands over)
    polled_ms: int | None  # when that high watermark was fetched (wall clock)


def source_done(source: SourceState, t: int, grace_ms: int) -> bool:
    """Whether a source partition will give its step no more event of time <= t (to the best of the knowledge)."""
    return source_done_until(source, grace_ms) >= t


# the horizon of a source or partition that gives nothing yet, and of one with no upstream at all
NEVER = -(1 << 62)
FOREVER = 1 << 62


def source_done_until(source: SourceState, grace_ms: int) -> int:
    """The latest event time up to which a source partition will give its step nothing more (NEVER: none yet).

    Each rule is a bound, and the knowledge behind it only grows until the partition is revoked: an event up to
    the horizon may go without asking again.
    """
    horizon = NEVER
    if source.watermark_ms is not None:
        horizon = source.watermark_ms  # it released an event as late
    if source.received_ms is not None:
        # its step reads it in order and its times do not decrease along it (the broker's append times): every
        # record before the last one received was received, and is done once released
        received = source.received_ms - 1
        if source.in_flight_ms is not None:
            received = min(received, source.in_flight_ms - 1)
        horizon = max(horizon, received)
    if source.highwater is not None and source.polled_ms is not None:
        # a high watermark proves nothing of the last ``grace_ms`` before it was fetched: a record created then
        # may still be on its way to the broker (the producer's linger, the network)
        if source.released_next is not None:
            caught_up = source.released_next >= source.highwater
        else:  # nothing released: done only if there was nothing to hand over at all
            caught_up = not source.received and source.position is not None and source.position >= source.highwater
        if caught_up:
            horizon = max(horizon, source.polled_ms - grace_ms)
    return horizon


def inputs_received(
    seen_next: Mapping[str, int],
    written_next: Mapping[str, int],
    committed: Callable[[str], int | None] = lambda t: None,
) -> bool:
    """Whether every message written to the partition's inputs (topic -> next offset) was received -- or lies
    below the input's committed offset: decided already (by this worker or the partition's previous owner) and
    never delivered again, as after a rebalance that gave the partition back with all of it committed."""
    for topic, offset in written_next.items():
        if seen_next.get(topic, -1) < offset:
            done = committed(topic)
            if done is None or done < offset:
                return False
    return True


# -- the worker's knowledge ------------------------------------------------------------------------------------------


class Progress:
    """How far each step of this worker has handled its sources, and what its publishers wrote where."""

    def __init__(self) -> None:
        self._released: dict[TP, tuple[int, int]] = {}  # tp -> (next offset, watermark ms)
        self._received: dict[TP, int] = {}  # tp -> event time of the last event received
        self._in_flight: dict[TP, deque[tuple[int, int]]] = {}  # tp -> (offset, event time) received, not released
        self._written: dict[tuple[str, int], int] = {}  # (topic, partition) -> next offset
        self._lock = threading.Lock()  # delivery reports come from each publisher's flush thread
        self._listeners: list[Callable[[], None]] = []

    def received(self, event: EventT[bytes]) -> None:
        """A step (one that handles each partition in order) received an event."""
        message = event.message
        tp, t = message.tp, event_time_ms(message)
        self._received[tp] = t
        in_flight = self._in_flight.get(tp)
        if in_flight is None:
            in_flight = self._in_flight[tp] = deque()
        in_flight.append((message.offset, t))

    def released(self, events: Sequence[EventT[bytes]]) -> None:
        """A step's batch is released: its outputs are written."""
        released = self._released
        for event in events:
            message = event.message
            tp, t = message.tp, event_time_ms(message)
            known = released.get(tp)
            if known is None:
                released[tp] = (message.offset + 1, t)
            else:
                released[tp] = (max(known[0], message.offset + 1), max(known[1], t))
            in_flight = self._in_flight.get(tp)
            while in_flight and in_flight[0][0] <= message.offset:
                in_flight.popleft()
        for listener in self._listeners:
            listener()

    def written(self, topic: str, partition: int, offset: int) -> None:
        key = (topic, partition)
        with self._lock:
            if offset >= self._written.get(key, -1):
                self._written[key] = offset + 1

    def watermark(self, tp: TP) -> int | None:
        released = self._released.get(tp)
        return released[1] if released else None

    def written_next(self, topic: str, partition: int) -> int | None:
        return self._written.get((topic, partition))

    def state(self, tp: TP, highwater: int | None, position: int | None, polled_ms: int | None) -> SourceState:
        released = self._released.get(tp)
        in_flight = self._in_flight.get(tp)
        return SourceState(
            watermark_ms=released[1] if released else None,
            released_next=released[0] if released else None,
            received=tp in self._received,
            received_ms=self._received.get(tp),
            in_flight_ms=in_flight[0][1] if in_flight else None,  # received in order: the earliest is the first
            highwater=highwater,
            position=position,
            polled_ms=polled_ms,
        )

    def forget(self, tps: Collection[TP]) -> None:
        """Partitions revoked: what was known of them no longer holds when they come back."""
        for tp in tps:
            self._released.pop(tp, None)
            self._received.pop(tp, None)
            self._in_flight.pop(tp, None)

    def on_release(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)


# -- the directory's gate --------------------------------------------------------------------------------------------

# tp -> (high watermark, position, when the high watermark was fetched in ms)
Offsets = Callable[[TP], tuple[int | None, int | None, int | None]]


class Gate:
    """Holds the directory's events per partition and lets them go in event-time order (see the module)."""

    def __init__(
        self,
        progress: Progress,
        *,
        aligned: Collection[str],
        upstream_by_partition: Collection[str],
        upstream_everywhere: Collection[str],
        assignment: Callable[[], Collection[TP]],
        offsets: Offsets,
        max_hold_s: float,
        grace_ms: int,
        clock: Callable[[], float] = time.monotonic,
        let_go: Callable[[EventT[bytes]], None] | None = None,
        committed: Callable[[TP], int | None] = lambda tp: None,
    ) -> None:
        self._progress = progress
        self._aligned = frozenset(aligned)
        self._by_partition = tuple(upstream_by_partition)
        self._everywhere = frozenset(upstream_everywhere)
        self._assignment = assignment
        self._offsets = offsets
        self._max_hold_s = max_hold_s
        self._grace_ms = grace_ms
        self._clock = clock
        self._committed = committed  # an input partition's committed offset (None: not known)
        self._let_go = let_go  # an event of a partition going away, not held: see `offer`
        self._revoked: set[int] = set()  # partitions forgotten, until the next assignment
        # p -> the event time up to which its held events may go (`_horizon`), until the assignment changes
        self._cleared: dict[int, int] = {}
        # p -> heap of (t, rank, topic, seq, since, event): by event time, then (a tie) `SAME_TIME_ORDER`, then
        # by topic, then as received
        self._held: dict[int, list[tuple[int, int, str, int, float, EventT[bytes]]]] = {}
        self._seen: dict[int, dict[str, int]] = {}  # p -> topic -> next offset received
        self._sequence = itertools.count()
        self._assigned: frozenset[TP] | None = None
        self._assigned_everywhere: tuple[TP, ...] = ()
        self._wake: Callable[[], None] | None = None
        self.released_unaligned = 0
        self.most_held = 0
        progress.on_release(self._woken)

    def wake_with(self, wake: Callable[[], None]) -> None:
        """Call ``wake`` whenever an upstream step releases a batch (the agent's, in its own event loop)."""
        self._wake = wake

    def _woken(self) -> None:
        if self._wake is not None:
            self._wake()

    def aligned(self, event: EventT[bytes]) -> bool:
        return event.message.topic in self._aligned

    def offer(self, event: EventT[bytes]) -> bool:
        """Hold an aligned event; False for one already held (a rebalance delivered it again), and for one of a
        partition going away (revoked, not reassigned yet: a flow waiting for its lock may still hand one over),
        which is let go: not held, not handled, its partition's next owner reads it again."""
        message = event.message
        if message.partition in self._revoked:
            if self._let_go is not None:
                self._let_go(event)
            return False
        seen = self._seen.setdefault(message.partition, {})
        if message.offset < seen.get(message.topic, -1):
            return False
        seen[message.topic] = message.offset + 1
        heap = self._held.setdefault(message.partition, [])
        heapq.heappush(heap, (*event_order(message), message.topic, next(self._sequence), self._clock(), event))
        self.most_held = max(self.most_held, len(heap))
        return True

    def ready(self, partitions: Iterable[int] | None = None) -> list[EventT[bytes]]:
        """The held events that may be decided now, in the order to decide them."""
        out: list[EventT[bytes]] = []
        now = self._clock()
        cleared = self._cleared
        for partition in list(self._held) if partitions is None else partitions:
            heap = self._held.get(partition)
            horizon = cleared.get(partition, NEVER)
            while heap:
                t, _, _, _, since, event = heap[0]
                if t > horizon:
                    horizon = self._horizon(partition, t)
                    if t <= horizon < FOREVER:
                        cleared[partition] = horizon
                if t > horizon:
                    if now - since < self._max_hold_s:
                        break
                    self.released_unaligned += 1
                    if self.released_unaligned in (1, 10, 100, 1000) or self.released_unaligned % 10_000 == 0:
                        log.warning(
                            "alignment: %d event(s) decided after %.0f s held without their upstream's progress "
                            "(last: %s[%d]@%d)",
                            self.released_unaligned,
                            self._max_hold_s,
                            event.message.topic,
                            partition,
                            event.message.offset,
                        )
                heapq.heappop(heap)
                out.append(event)
        return out

    def held(self) -> int:
        return sum(len(h) for h in self._held.values())

    def forget(self, tps: Collection[TP]) -> list[EventT[bytes]]:
        """Partitions revoked: drop (and return) their held events; the next owner reads them again."""
        self._assigned = None
        self._cleared.clear()
        dropped: list[EventT[bytes]] = []
        going = {tp.partition for tp in tps if tp.topic in self._aligned}
        self._revoked |= going
        for partition in going:
            dropped.extend(entry[5] for entry in self._held.pop(partition, []))
            self._seen.pop(partition, None)
        return dropped

    def reassigned(self) -> None:
        self._assigned = None
        self._cleared.clear()
        self._revoked.clear()

    def _horizon(self, partition: int, t: int) -> int:
        """The event time up to which the partition's held events may go; below t, it may be short of that.

        Reached (>= t), it holds until the assignment changes: every upstream source is done up to it, and each
        message written to the partition's inputs was received, so whatever reaches the gate later derives from
        an upstream event after it. FOREVER (no upstream source here) is not kept: what this worker writes to the
        partition next may have any time.
        """
        written = {
            topic: offset
            for topic in self._aligned
            if (offset := self._progress.written_next(topic, partition)) is not None
        }
        if not inputs_received(
            self._seen.get(partition, {}), written, lambda topic: self._committed(TP(topic, partition))
        ):
            return NEVER
        progress = self._progress
        horizon = FOREVER
        for tp in self._upstream(partition):
            watermark = progress.watermark(tp)
            if watermark is not None and watermark >= t:
                done_until = watermark  # the common case, without asking the consumer (a bound, not the most)
            else:
                done_until = source_done_until(progress.state(tp, *self._offsets(tp)), self._grace_ms)
                if done_until < t:
                    return done_until  # not here yet: the rest need not be asked
            horizon = min(horizon, done_until)
        return horizon

    def _upstream(self, partition: int) -> Iterable[TP]:
        if self._assigned is None:
            self._assigned = frozenset(self._assignment())
            self._assigned_everywhere = tuple(tp for tp in self._assigned if tp.topic in self._everywhere)
        assigned = self._assigned
        for topic in self._by_partition:
            tp = TP(topic, partition)
            if tp in assigned:
                yield tp
        yield from self._assigned_everywhere
