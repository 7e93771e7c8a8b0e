"""Taking a flow's input in batches, and releasing the batch's offsets only once its outcomes are written.

Per event, faust's stream and producer machinery costs more than our whole decision; taking events in batches
lets a flow publish a batch's outcomes together and wait for them once (`Publisher.flush`). faust's
`take_events` acks a batch's events when the next batch is asked for -- and also when the loop is left by an
exception. A reference held on each message until the batch's outcomes are written makes that second ack a
no-op: a batch that failed keeps its offsets uncommitted and is replayed after the restart.
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, cast

import faust
from faust import streams as faust_streams
from faust.types import EventT

if TYPE_CHECKING:
    from faust.streams import Stream


async def batches_of(
    stream: faust.StreamT[bytes], max_events: int, within_s: float
) -> AsyncIterator[Sequence[EventT[bytes]]]:
    """Up to `max_events` events, or what came within `within_s` seconds; the caller must have written every
    outcome of a batch (flushed its publisher) before it asks for the next one."""
    taken = cast("Stream[bytes]", stream).take_events(max_events, within=within_s)  # not on StreamT
    async for events in taken:
        for event in events:
            event.message.incref()
        yield events
        for event in events:
            event.message.decref()


@contextmanager
def acting_for(event: EventT[bytes]) -> Iterator[None]:
    """Make `event` faust's current event while a table is read or written.

    faust chooses a table's partition -- the store (RocksDB keeps one database per partition) and the changelog
    partition a write goes to -- from the *current event*, which during a batch is whichever event the stream
    took last, not the one being handled. faust has no public way to set it; this sets the same context
    variable the stream sets for each event.
    """
    token = faust_streams._current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        faust_streams._current_event.reset(token)
