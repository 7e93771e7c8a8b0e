"""When a flow releases its batch (`topologies.batches.handle_then_release`): full, caught up, or its window over.

The stream is a stand-in with faust's shape (`events()`, `channel.queue`, `app.sensors`): what is tested is our
release rule, not faust's iteration, which the integration tests run on the broker."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from topologies.batches import handle_then_release


class _Message:
    def __init__(self, offset: int) -> None:
        self.topic, self.partition, self.offset = "t", 0, offset
        self.tp = ("t", 0)
        self.refs = 0

    def incref(self) -> None:
        self.refs += 1


class _Event:
    def __init__(self, offset: int) -> None:
        self.message = _Message(offset)
        self.acked = False

    def ack(self) -> bool:
        self.acked = True
        return True


class _Queue:
    """The stream's queue as the flow sees it: `backlog` events still behind the one just taken."""

    def __init__(self) -> None:
        self.backlog = 0

    def empty(self) -> bool:
        return self.backlog == 0


class _Stream:
    """Yields one event per entry of ``backlogs``; after an event with no backlog the next one comes ``gap_s``
    later (a quiet input), after one with a backlog at once."""

    def __init__(self, backlogs: list[int], gap_s: float) -> None:
        self.backlogs, self.gap_s = backlogs, gap_s
        self.channel = SimpleNamespace(queue=_Queue())
        self.app = SimpleNamespace(sensors=SimpleNamespace(on_message_out=lambda *a: None))
        self.events_given: list[_Event] = []

    async def events(self) -> Any:
        for offset, backlog in enumerate(self.backlogs):
            self.channel.queue.backlog = backlog
            event = _Event(offset)
            self.events_given.append(event)
            yield event
            if backlog == 0:
                await asyncio.sleep(self.gap_s)
        await asyncio.sleep(1.0)  # the input stays open a while (longer than any release here): nothing else comes


def _run(
    backlogs: list[int], *, caught_up: bool, max_events: int = 1000, gap_s: float = 0.2, flush_s: float = 0.0
) -> tuple[list[list[int]], _Stream]:
    stream = _Stream(backlogs, gap_s)
    handled: list[int] = []
    releases: list[list[int]] = []

    async def handle(event: Any) -> None:
        handled.append(event.message.offset)

    async def flush() -> None:
        releases.append(handled[:])
        handled.clear()
        await asyncio.sleep(flush_s)

    asyncio.run(
        handle_then_release(
            stream,  # type: ignore[arg-type]
            handle,
            flush,
            max_events,
            3600.0,  # a window that never ends within the test: only the other rules release
            release_when_caught_up=caught_up,
        )
    )
    return releases, stream


def test_a_flow_releases_as_soon_as_it_has_handled_what_its_input_holds() -> None:
    releases, stream = _run([2, 1, 0, 0, 1, 0], caught_up=True)
    assert releases == [[0, 1, 2], [3], [4, 5]]
    assert all(e.acked for e in stream.events_given)


def test_once_releases_take_longer_a_caught_up_batch_waits_as_long_as_the_last_one_took() -> None:
    # each release takes 0.5 s; the quiet input gives an event every 0.1 s: the batches grow with the releases
    releases, _ = _run([0, 0, 0, 0], caught_up=True, gap_s=0.1, flush_s=0.5)
    assert releases[0] == [0]  # the first release has no cost to wait for
    assert len(releases) < 4 and sorted(o for r in releases for o in r) == [0, 1, 2, 3]


def test_while_its_input_holds_more_the_batch_fills_up_to_its_size() -> None:
    releases, _ = _run([9, 8, 7, 6, 5, 4, 3, 2, 1, 0], caught_up=True, max_events=4, gap_s=0.0)
    assert releases == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_without_the_rule_only_the_size_or_the_window_releases() -> None:
    releases, stream = _run([0, 0, 0, 0, 0], caught_up=False, max_events=2, gap_s=0.0)
    assert releases == [[0, 1], [2, 3]]
    assert not stream.events_given[4].acked  # its window is not over: held, unacked, replayed after a crash
