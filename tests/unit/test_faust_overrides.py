"""The faust overrides (topologies/faust_overrides.py): pinned to the code they were written against, and each
rule checked on faust's own data structures, without a broker.

When faust or aiokafka changes, the first two tests fail: re-read each override against the new code, drop the
ones upstream fixed, then update PINNED and REVIEWED.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import inspect
from collections import defaultdict
from importlib.metadata import version
from types import SimpleNamespace
from typing import Any

import pytest
from faust.transport import consumer as faust_consumer
from faust.types import TP
from intervaltree import IntervalTree

from topologies import faust_overrides
from topologies.faust_overrides import PINNED, REVIEWED, _Consumer, _Recovery

P0 = TP("crossroads.directory.lookups.v1", 0)


@pytest.mark.parametrize("distribution", sorted(PINNED))
def test_the_installed_versions_are_those_the_overrides_were_written_for(distribution: str) -> None:
    assert version(distribution) == PINNED[distribution]


def _resolve(qualified: str) -> Any:
    parts = qualified.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            target: Any = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for name in parts[split:]:
            target = getattr(target, name)
        return target.fget if isinstance(target, property) else target
    raise ImportError(qualified)


@pytest.mark.parametrize("qualified", sorted(REVIEWED))
def test_the_code_underneath_is_the_code_that_was_reviewed(qualified: str) -> None:
    source = inspect.getsource(_resolve(qualified))
    assert hashlib.sha256(source.encode()).hexdigest()[:16] == REVIEWED[qualified], (
        f"{qualified} changed: re-read topologies/faust_overrides.py against it"
    )


def _consumer_state(acked: list[int], committed: int | None, in_flight: int | None = None) -> Any:
    """The attributes of faust's Consumer that the commit rule reads, filled for one partition."""
    state = SimpleNamespace(
        _acked=defaultdict(list, {P0: list(acked)}),
        _acked_index=defaultdict(set, {P0: set(acked)}),
        _gap=defaultdict(IntervalTree),
        _committed_offset=defaultdict(lambda: None, {P0: committed}),
        _in_flight={P0: in_flight} if in_flight is not None else {},
    )
    return state


def test_faust_commits_past_a_message_still_being_handled() -> None:
    # what the override is for: offset 10 is handled (tracked, not acked), 11-13 are acked
    state = _consumer_state([11, 12, 13], committed=10)
    assert faust_consumer.Consumer._new_offset(state, P0) == 14  # type: ignore[arg-type]


def test_a_commit_stops_before_the_oldest_message_in_flight() -> None:
    state = _consumer_state([11, 12, 13], committed=10, in_flight=10)
    assert _Consumer._new_offset(state, P0) is None
    assert state._acked[P0] == [11, 12, 13], "what was not committed stays to be committed later"

    state = _consumer_state([10, 11, 12, 13], committed=10, in_flight=12)
    assert _Consumer._new_offset(state, P0) == 12
    assert state._acked[P0] == [12, 13]


def test_contiguous_acks_commit_as_in_faust() -> None:
    for acked, committed in (([10, 11, 12], 10), ([34, 35, 36, 40, 41], 34), ([5, 6], None)):
        ours, theirs = _consumer_state(acked, committed), _consumer_state(acked, committed)
        assert _Consumer._new_offset(ours, P0) == faust_consumer.Consumer._new_offset(theirs, P0)  # type: ignore[arg-type]
        assert ours._acked[P0] == theirs._acked[P0]


def test_a_known_gap_counts_as_acked_but_not_the_message_after_it() -> None:
    # read 9, then 15 arrives (10-14 are transaction markers): only 10-14 are a gap. 16 is acked, 15 not yet.
    state = _consumer_state([8, 9, 16], committed=8, in_flight=15)
    consumer = _Consumer.__new__(_Consumer)  # just the attributes `_add_gap` reads, no transport
    consumer._committed_offset, consumer._gap = state._committed_offset, state._gap
    asyncio.run(consumer._add_gap(P0, 10, 15))
    assert [(i.begin, i.end) for i in state._gap[P0]] == [(10, 15)]  # the end is excluded: 15 is not in it
    assert _Consumer._new_offset(state, P0) == 15


def test_the_ack_of_a_message_no_stream_tracked_is_ignored() -> None:
    topics = SimpleNamespace(acks_enabled_for=lambda topic: True)
    skipped = SimpleNamespace(tracked=False, topic=P0.topic)
    assert _Consumer.ack(SimpleNamespace(app=SimpleNamespace(topics=topics)), skipped) is False


def test_the_oldest_unacked_message_of_each_partition() -> None:
    p1 = TP(P0.topic, 1)
    messages = [
        SimpleNamespace(tp=P0, offset=12, acked=False),
        SimpleNamespace(tp=P0, offset=10, acked=False),
        SimpleNamespace(tp=P0, offset=9, acked=True),
        SimpleNamespace(tp=p1, offset=3, acked=False),
    ]
    assert faust_overrides._oldest_unacked(messages) == {P0: 10, p1: 3}


class _Thread:
    def __init__(self) -> None:
        self.asked: list[Any] = []

    async def getmany(self, active_partitions: Any, timeout: float) -> dict[TP, list[Any]]:
        self.asked.append(active_partitions)
        return {}


def test_a_fetch_asks_for_a_copy_of_the_active_partitions_and_never_for_none() -> None:
    fetcher = SimpleNamespace(_thread=_Thread())
    live = {P0}
    asyncio.run(_Consumer._getmany(fetcher, live, 0.01))
    assert fetcher._thread.asked == [{P0}] and fetcher._thread.asked[0] is not live
    # aiokafka reads an empty set as "every partition": an empty set is never passed on
    asyncio.run(_Consumer._getmany(fetcher, set(), 0.01))
    assert len(fetcher._thread.asked) == 1


class _RecoveryProbe:
    """Records the order in which recovery's completion touches the consumer and flow control."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        calls = self.calls

        class Consumer:
            def __init__(self) -> None:
                self._buffered_partitions = {P0}

            async def perform_seek(self) -> None:
                calls.append("seek")

            def resume_partitions(self, tps: Any) -> None:
                calls.append(f"resume {sorted(tp.partition for tp in tps)}")

            def resume_flow(self) -> None:
                calls.append("resume_flow")

        self.consumer = Consumer()
        self.app = SimpleNamespace(
            consumer=self.consumer,
            flow_control=SimpleNamespace(resume=lambda: calls.append("clear buffers")),
            conf=SimpleNamespace(broker_request_timeout=1.0),
        )
        self.completed = SimpleNamespace(set=lambda: calls.append("completed"))
        self.log = SimpleNamespace(info=lambda *a: None, dev=lambda *a: None)

    def _is_changelog_tp(self, tp: TP) -> bool:
        return tp.topic.endswith("-changelog")

    async def _wait(self, coro: Any, timeout: float | None = None) -> None:
        await coro


def test_recovery_seeks_and_clears_the_buffers_before_the_stream_partitions_are_fetched() -> None:
    probe = _RecoveryProbe()
    changelog = TP("crossroads-directory-changelog", 0)
    asyncio.run(_Recovery._seek_then_resume(probe, {P0, changelog}))  # type: ignore[arg-type]
    assert probe.calls == ["seek", "completed", "clear buffers", "resume [0]", "resume_flow"]
    assert not probe.consumer._buffered_partitions, "a paused partition marked buffered would still be yielded"


# -- override 8: the drain loop runs each callback inline until it waits -----------------------------------------


def _drain_loop_lines(function: Any) -> list[str]:
    """The statements of a drain loop, stripped of comments, blank lines and the pragma."""
    source = inspect.getsource(function)
    lines = []
    for raw in source.splitlines()[1:]:
        line = raw.split("#")[0].strip()
        if line:
            lines.append(line)
    return lines


def test_the_drain_loop_is_fausts_but_for_the_callback() -> None:
    ours = _drain_loop_lines(_Consumer._drain_messages)
    theirs = _drain_loop_lines(faust_consumer.Consumer._drain_messages)
    # what faust does per message, and what we do instead
    assert "await self.wait_first(" in theirs and "callback(message), self.suspend_flow.wait()" in theirs
    assert "_run_inline(callback(message))" in ours
    for statement in (
        "await self._add_gap(tp, r_offset + 1, offset)",
        "await self.commit()",
        "set_read_offset(tp, offset)",
        "ait = cast(AsyncIterator, getmany(timeout=1.0))",
        "await self.sleep(0)",
        "unset_flag(flag_consumer_fetching)",
    ):
        assert statement in theirs, f"faust's loop no longer has {statement!r}: re-read override 8"


def test_a_callback_that_does_not_wait_runs_inline_without_a_task() -> None:
    done: list[str] = []

    async def callback() -> None:
        done.append("ran")

    async def go() -> None:
        before = len(asyncio.all_tasks())
        faust_overrides._run_inline(callback())
        assert done == ["ran"] and len(asyncio.all_tasks()) == before

    asyncio.run(go())


def test_a_callback_that_waits_is_finished_with_what_it_awaited_and_its_errors() -> None:
    async def go() -> None:
        loop = asyncio.get_running_loop()
        gate: asyncio.Future[int] = loop.create_future()
        seen: list[Any] = []

        async def callback() -> str:
            seen.append(await gate)
            await asyncio.sleep(0)  # a bare yield too
            raise ValueError("after the wait")

        with pytest.raises(faust_overrides._Suspended) as suspended:
            faust_overrides._run_inline(callback())
        loop.call_soon(gate.set_result, 7)
        with pytest.raises(ValueError, match="after the wait"):
            await faust_overrides._finish(suspended.value.coro, suspended.value.awaited)
        assert seen == [7]

    asyncio.run(go())


def test_a_waiting_callback_interrupted_by_a_suspended_flow_is_cancelled_as_under_wait_first() -> None:
    async def go() -> None:
        loop = asyncio.get_running_loop()
        never: asyncio.Future[None] = loop.create_future()
        cleaned: list[str] = []

        async def callback() -> None:
            try:
                await never
            finally:
                cleaned.append("cancelled inside")

        with pytest.raises(faust_overrides._Suspended) as suspended:
            faust_overrides._run_inline(callback())
        task = asyncio.ensure_future(faust_overrides._finish(suspended.value.coro, suspended.value.awaited))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert cleaned == ["cancelled inside"] and never.cancelled()

    asyncio.run(go())


# -- override 9: what a step holds is let go before a revoke (or a stop) waits for it -------------------------------


class _Held:
    """A message (hashable by identity, as faust's)."""

    def __init__(self, tp: TP, offset: int) -> None:
        self.tp, self.offset, self.acked = tp, offset, False


class _App:
    pass


def _holding_consumer(held: list[Any]) -> Any:
    state = SimpleNamespace(app=_App(), _unacked_messages=set(held))
    state.let_go_messages = lambda messages: _Consumer.let_go_messages(state, messages)  # type: ignore[arg-type]
    return state


def test_what_a_step_holds_of_the_partitions_going_away_leaves_the_unacked_set_unacked() -> None:
    p1 = TP(P0.topic, 1)
    kept = _Held(p1, 3)
    held = [_Held(P0, 12), _Held(P0, 10)]
    state = _holding_consumer([*held, kept])
    asked: list[set[TP]] = []

    def hook(tps: Any) -> list[Any]:
        asked.append(set(tps))
        return [SimpleNamespace(message=m) for m in held if m.tp in tps]

    faust_overrides.on_revoking(state.app, hook, lambda: None)
    _Consumer.let_go(state, {P0})
    assert asked == [{P0}]
    assert state._unacked_messages == {kept}, "faust's wait_empty no longer waits for them"
    assert not any(m.acked for m in held), "let go, not acked: nothing handled them"
    assert state._let_go_floors == {P0: 10}
    topics = SimpleNamespace(acks_enabled_for=lambda topic: True)
    state.app.topics = topics
    late = held[0]
    late.tracked, late.topic = True, P0.topic
    assert _Consumer.ack(state, late) is False, "the stream's ack of a message let go does not count"


def test_no_commit_passes_what_was_let_go_until_the_next_assignment() -> None:
    # faust tolerates one unacked offset at the head: with 10 let go and 11-13 acked it would commit 14
    state = _consumer_state([11, 12, 13], committed=10)
    state.__dict__["_let_go_floors"] = {P0: 10}
    state._unacked_messages = {_Held(P0, 14)}
    state._in_flight = _Consumer._in_flight_now(state)
    assert state._in_flight == {P0: 10}
    assert _Consumer._new_offset(state, P0) is None
    assert state._acked[P0] == [11, 12, 13]


def test_a_partition_that_comes_back_reads_again_what_was_let_go_and_acked_after_it() -> None:
    state = _consumer_state([8, 11, 12], committed=8)
    state.__dict__["_let_go_floors"] = {P0: 10}
    _Consumer._read_again(state)
    assert state._acked[P0] == [8] and state._acked_index[P0] == {8}
    assert state._let_go_floors == {}
