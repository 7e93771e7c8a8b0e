"""The directory's event-time gate (topologies.alignment): the rule, and the gate on hand-made events."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace
from typing import Any

from faust.types import TP

from streams.domain.kinds import SAME_TIME_ORDER
from topologies.alignment import (
    EVENT_TIME_HEADER,
    NEVER,
    Gate,
    Progress,
    SourceState,
    event_order,
    event_origin,
    event_time_headers,
    event_time_ms,
    inputs_received,
    source_done,
    source_done_until,
)

GRACE = 20
INTEGRATIONS, DIMONA, DMFA = "intake.integrations", "intake.dimona", "intake.dmfa"
DECLARATIONS, LOOKUPS = "directory.declarations", "directory.lookups"


def event(topic: str, partition: int, offset: int, t_ms: int, *, forwarded: bool = True) -> Any:
    headers = [(EVENT_TIME_HEADER, str(t_ms).encode())] if forwarded else []
    message = SimpleNamespace(
        topic=topic,
        partition=partition,
        offset=offset,
        tp=TP(topic, partition),
        timestamp=(t_ms + 999_000) / 1000 if forwarded else t_ms / 1000,  # a forward's own time is later
        headers=headers,
    )
    return SimpleNamespace(message=message)


def state(**kwargs: Any) -> SourceState:
    values: dict[str, Any] = {
        "watermark_ms": None,
        "released_next": None,
        "received": False,
        "received_ms": None,
        "in_flight_ms": None,
        "highwater": None,
        "position": None,
        "polled_ms": 10_000,
    }
    return SourceState(**{**values, **kwargs})


# -- event time ------------------------------------------------------------------------------------------------------


def test_a_forwarded_message_has_the_time_of_what_it_derives_from() -> None:
    assert event_time_ms(event(DECLARATIONS, 0, 0, 1_000).message) == 1_000


def test_an_intake_record_has_its_own_timestamp() -> None:
    assert event_time_ms(event(INTEGRATIONS, 0, 0, 2_500, forwarded=False).message) == 2_500


def test_what_a_step_forwards_keeps_the_event_time_across_hops() -> None:
    intake = event(INTEGRATIONS, 0, 0, 4_200, forwarded=False).message
    hop = SimpleNamespace(headers=event_time_headers(intake), timestamp=9.9)
    assert event_time_ms(hop) == 4_200
    assert event_time_ms(SimpleNamespace(headers=event_time_headers(hop), timestamp=20.0)) == 4_200


def test_a_header_that_is_not_a_time_falls_back_on_the_timestamp() -> None:
    message = SimpleNamespace(topic="p.directory.lookups.v1", headers=[(EVENT_TIME_HEADER, b"soon")], timestamp=3.0)
    assert event_time_ms(message) == 3_000


def test_the_origin_family_travels_with_the_time() -> None:
    intake = SimpleNamespace(topic="my.prefix.intake.dimona.v1", headers=[], timestamp=1.5)
    forwarded = SimpleNamespace(topic="my.prefix.directory.declarations.v1", headers=event_time_headers(intake))
    assert forwarded.headers == [(EVENT_TIME_HEADER, b"1500 dimona")]
    assert event_origin(forwarded) == (1_500, "dimona")
    lookup = SimpleNamespace(topic="my.prefix.directory.lookups.v1", headers=event_time_headers(forwarded))
    assert event_origin(lookup) == (1_500, "dimona")


def test_at_the_same_millisecond_what_builds_the_directory_goes_first() -> None:
    def at(family: str) -> Any:
        return SimpleNamespace(headers=[(EVENT_TIME_HEADER, f"7 {family}".encode())], topic="p.directory.lookups.v1")

    ranked = sorted(["consultations", "civil", "dmfa", "dimona", "integrations"], key=lambda f: event_order(at(f)))
    assert ranked == list(SAME_TIME_ORDER)
    assert event_order(at("integrations")) < event_order(SimpleNamespace(headers=[], timestamp=0.007, topic="x"))


def test_same_millisecond_events_are_held_and_let_go_in_that_order() -> None:
    g = gate(Progress(), Consumer(quiet(TP(INTEGRATIONS, 0), TP(DIMONA, 0))))
    dimona = SimpleNamespace(
        message=SimpleNamespace(
            topic=DECLARATIONS, partition=0, offset=0, headers=[(EVENT_TIME_HEADER, b"9 dimona")], timestamp=1.0
        )
    )
    integration = SimpleNamespace(
        message=SimpleNamespace(
            topic=DECLARATIONS, partition=0, offset=1, headers=[(EVENT_TIME_HEADER, b"9 integrations")], timestamp=1.0
        )
    )
    g.offer(dimona)
    g.offer(integration)
    assert g.ready() == [integration, dimona]


# -- the rule --------------------------------------------------------------------------------------------------------


def test_a_source_that_released_an_event_as_late_is_done() -> None:
    assert source_done(state(watermark_ms=10, released_next=5, highwater=50), 10, GRACE)
    assert not source_done(state(watermark_ms=9, released_next=5, highwater=50), 10, GRACE)


def test_a_source_released_up_to_its_high_watermark_is_done_whatever_its_times() -> None:
    assert source_done(state(watermark_ms=1, released_next=50, highwater=50, received=True), 9_000, GRACE)


def test_a_source_never_fetched_may_hold_anything() -> None:
    assert not source_done(state(), 10, GRACE)
    assert not source_done(state(position=0), 10, GRACE)


def test_a_source_with_nothing_to_hand_over_is_done() -> None:
    assert source_done(state(highwater=7, position=7), 10, GRACE)


def test_a_source_whose_records_were_received_but_not_released_is_not_done() -> None:
    assert not source_done(state(highwater=7, position=7, received=True), 10, GRACE)


def test_a_source_behind_its_high_watermark_is_not_done() -> None:
    assert not source_done(state(highwater=8, position=7), 10, GRACE)


def test_a_high_watermark_fetched_too_soon_after_the_event_proves_nothing() -> None:
    drained = state(highwater=7, position=7, released_next=7, received=True)
    assert source_done(replace(drained, polled_ms=1_000 + GRACE), 1_000, GRACE)
    assert not source_done(replace(drained, polled_ms=1_000 + GRACE - 1), 1_000, GRACE)
    assert not source_done(replace(drained, polled_ms=None), 1_000, GRACE)


def test_an_upstream_busy_with_later_events_only_is_not_waited_for() -> None:
    progress = Progress()
    g = gate(progress, Consumer({TP(DMFA, 3): (10, 5), **quiet(TP(INTEGRATIONS, 0), TP(DIMONA, 0))}))
    progress.received(event(DMFA, 3, 5, 6_000, forwarded=False))
    e = event(DECLARATIONS, 0, 0, 5_000)
    g.offer(e)
    assert g.ready() == [e]


def test_a_source_that_received_a_later_event_is_done_once_the_earlier_ones_are_released() -> None:
    busy = state(highwater=900, position=800, received=True, received_ms=2_000, polled_ms=None)
    assert source_done(busy, 1_999, GRACE)  # nothing of time <= 1,999 is left in it, nor in flight
    assert not source_done(replace(busy, in_flight_ms=1_999), 1_999, GRACE)  # one is in flight
    assert source_done(replace(busy, in_flight_ms=2_000), 1_999, GRACE)
    assert not source_done(busy, 2_000, GRACE)  # a record of the same millisecond may follow


def test_in_flight_is_what_was_received_and_not_released() -> None:
    progress = Progress()
    tp = TP(INTEGRATIONS, 0)
    first, second = event(INTEGRATIONS, 0, 0, 10, forwarded=False), event(INTEGRATIONS, 0, 1, 20, forwarded=False)
    progress.received(first)
    progress.received(second)
    assert progress.state(tp, None, None, None).in_flight_ms == 10
    progress.released([first])
    assert progress.state(tp, None, None, None).in_flight_ms == 20
    progress.released([second])
    assert progress.state(tp, None, None, None) == state(
        watermark_ms=20, released_next=2, received=True, received_ms=20, polled_ms=None
    )


def test_inputs_are_received_when_every_written_offset_was_seen() -> None:
    assert inputs_received({DECLARATIONS: 5}, {DECLARATIONS: 5})
    assert not inputs_received({DECLARATIONS: 5}, {DECLARATIONS: 6})
    assert not inputs_received({}, {LOOKUPS: 1})
    assert inputs_received({}, {})


def test_what_was_written_below_the_committed_offset_counts_as_received() -> None:
    # a partition given back by a rebalance with everything this worker wrote to it committed: nothing of it is
    # delivered again, and waiting for it would hold the partition for good
    assert inputs_received({}, {DECLARATIONS: 552}, {DECLARATIONS: 552}.get)
    assert not inputs_received({}, {DECLARATIONS: 552}, {DECLARATIONS: 551}.get)
    assert not inputs_received({LOOKUPS: 3}, {DECLARATIONS: 5, LOOKUPS: 3}, {}.get)


# -- the gate --------------------------------------------------------------------------------------------------------


class Consumer:
    """What the gate asks the worker's consumer: its assignment, each partition's (high watermark, position)."""

    def __init__(self, offsets: dict[TP, tuple[int | None, int | None]], polled_ms: int = 10**12) -> None:
        self.offsets, self.polled_ms = offsets, polled_ms

    def assignment(self) -> set[TP]:
        return set(self.offsets)

    def of(self, tp: TP) -> tuple[int | None, int | None, int | None]:
        return (*self.offsets[tp], self.polled_ms)


def gate(
    progress: Progress, consumer: Consumer, *, clock: Any = None, max_hold_s: float = 60.0, let_go: Any = None
) -> Gate:
    return Gate(
        progress,
        aligned=[DECLARATIONS, LOOKUPS],
        upstream_by_partition=[INTEGRATIONS, DIMONA],
        upstream_everywhere=[DMFA],
        assignment=consumer.assignment,
        offsets=consumer.of,
        max_hold_s=max_hold_s,
        grace_ms=GRACE,
        **({"clock": clock} if clock else {}),
        let_go=let_go,
    )


def quiet(*tps: TP) -> dict[TP, tuple[int | None, int | None]]:
    return dict.fromkeys(tps, (0, 0))


def test_nothing_goes_while_an_upstream_partition_is_behind_then_it_goes_in_event_time_order() -> None:
    progress = Progress()
    consumer = Consumer({TP(INTEGRATIONS, 0): (100, 100), **quiet(TP(DIMONA, 0), TP(DMFA, 0), TP(DMFA, 1))})
    g = gate(progress, consumer)
    day = event(DECLARATIONS, 0, 0, 5_000)  # a DIMONA of the day, forwarded before the integrations
    assert g.offer(day)
    integrations = [event(INTEGRATIONS, 0, offset, 1_000 + offset, forwarded=False) for offset in range(100)]
    progress.received(integrations[0])
    assert g.ready((0,)) == []  # intake.integrations[0] has 100 records not released
    progress.released(integrations[:60])
    earlier = [event(DECLARATIONS, 0, 1 + i, 1_000 + i) for i in range(60)]
    for e in earlier:
        g.offer(e)
    progress.written(DECLARATIONS, 0, 60)
    assert g.ready((0,)) == earlier  # the upstream has released up to their time, not the day's
    progress.released(integrations[60:])
    rest = [event(DECLARATIONS, 0, 61 + i, 1_060 + i) for i in range(40)]
    for e in rest[:39]:
        g.offer(e)
    progress.written(DECLARATIONS, 0, 100)
    assert g.ready((0,)) == []  # one written to the partition is not received yet
    g.offer(rest[39])
    assert g.ready((0,)) == [*rest, day]
    assert g.held() == 0


def test_every_partition_of_the_dmfa_path_is_waited_for() -> None:
    progress = Progress()
    consumer = Consumer({TP(DMFA, 3): (10, 10), **quiet(TP(INTEGRATIONS, 0), TP(DIMONA, 0))})
    g = gate(progress, consumer)
    g.offer(event(DECLARATIONS, 0, 0, 5_000))
    dmfa = event(DMFA, 3, 9, 4_000, forwarded=False)
    progress.received(dmfa)
    assert g.ready() == []  # an earlier DmfA in flight: its lookups are not written yet
    progress.released([dmfa])
    assert len(g.ready()) == 1


def test_an_upstream_that_released_a_later_event_lets_earlier_ones_go_though_it_has_more() -> None:
    progress = Progress()
    consumer = Consumer({TP(INTEGRATIONS, 0): (1_000, 500), **quiet(TP(DIMONA, 0))})
    g = gate(progress, consumer)
    released = event(INTEGRATIONS, 0, 499, 7_000, forwarded=False)
    progress.received(released)
    progress.released([released])
    e = event(DECLARATIONS, 0, 0, 6_999)
    g.offer(e)
    assert g.ready((0,)) == [e]
    late = event(DECLARATIONS, 0, 1, 7_001)
    g.offer(late)
    assert g.ready((0,)) == []


def test_a_quiet_upstream_waits_for_a_fetch_after_the_event() -> None:
    consumer = Consumer(quiet(TP(INTEGRATIONS, 0), TP(DIMONA, 0)), polled_ms=5_000)
    g = gate(Progress(), consumer)
    e = event(DECLARATIONS, 0, 0, 5_000)
    g.offer(e)
    assert g.ready() == []  # a record created just before 5,000 may still be on its way
    consumer.polled_ms = 5_000 + GRACE
    assert g.ready() == [e]


def test_another_workers_partitions_are_not_waited_for() -> None:
    progress = Progress()
    g = gate(progress, Consumer(quiet(TP(INTEGRATIONS, 1), TP(DIMONA, 1))))  # partition 0's upstream is elsewhere
    e = event(DECLARATIONS, 0, 0, 1)
    g.offer(e)
    assert g.ready((0,)) == [e]


def test_an_event_delivered_again_is_held_once() -> None:
    g = gate(Progress(), Consumer({TP(INTEGRATIONS, 0): (5, 0)}))
    assert g.offer(event(DECLARATIONS, 0, 3, 1))
    assert not g.offer(event(DECLARATIONS, 0, 3, 1))
    assert not g.offer(event(DECLARATIONS, 0, 2, 1))
    assert g.held() == 1


def test_a_revoked_partition_drops_its_held_events_and_what_was_seen() -> None:
    g = gate(Progress(), Consumer({TP(INTEGRATIONS, 0): (5, 0)}))
    held = event(DECLARATIONS, 0, 3, 1)
    g.offer(held)
    assert g.forget({TP(DECLARATIONS, 0), TP(INTEGRATIONS, 0)}) == [held]
    assert g.held() == 0
    g.reassigned()
    assert g.offer(event(DECLARATIONS, 0, 3, 1))  # the next assignment delivers it again


def test_an_event_of_a_partition_going_away_is_let_go_not_held() -> None:
    # a flow waiting for its lock during the revoke may still hand one over: holding it would make faust's revoke
    # wait for it for good (topologies/faust_overrides.py, override 9)
    let_go: list[Any] = []
    g = gate(Progress(), Consumer({TP(INTEGRATIONS, 0): (5, 0)}), let_go=let_go.append)
    g.forget({TP(DECLARATIONS, 0)})
    late = event(DECLARATIONS, 0, 4, 1)
    assert not g.offer(late)
    assert let_go == [late] and g.held() == 0
    assert g.offer(event(DECLARATIONS, 1, 0, 1)), "the partitions that stay are held as before"
    g.reassigned()
    assert g.offer(event(DECLARATIONS, 0, 4, 1))


def test_an_event_held_past_the_limit_goes_and_is_counted() -> None:
    now = [0.0]
    g = gate(Progress(), Consumer({TP(INTEGRATIONS, 0): (5, 0)}), clock=lambda: now[0], max_hold_s=10)
    e = event(DECLARATIONS, 0, 0, 1)
    g.offer(e)
    assert g.ready() == []
    now[0] = 10.0
    assert g.ready() == [e]
    assert g.released_unaligned == 1


def test_a_release_wakes_the_gate() -> None:
    progress = Progress()
    g = gate(progress, Consumer({}))
    woken: list[bool] = []
    g.wake_with(lambda: woken.append(True))
    progress.released([event(INTEGRATIONS, 0, 0, 1, forwarded=False)])
    assert woken == [True]


def test_a_revoked_upstream_partition_is_forgotten() -> None:
    progress = Progress()
    tp = TP(INTEGRATIONS, 0)
    released = event(INTEGRATIONS, 0, 4, 9, forwarded=False)
    progress.received(released)
    progress.released([released])
    progress.forget({tp})
    assert progress.state(tp, 5, 5, 7) == state(highwater=5, position=5, polled_ms=7)


class CountingConsumer(Consumer):
    def __init__(self, offsets: dict[TP, tuple[int | None, int | None]], polled_ms: int = 10**12) -> None:
        super().__init__(offsets, polled_ms)
        self.asked = 0

    def of(self, tp: TP) -> tuple[int | None, int | None, int | None]:
        self.asked += 1
        return super().of(tp)


def test_events_up_to_the_partitions_horizon_go_without_another_look() -> None:
    progress = Progress()
    consumer = CountingConsumer(quiet(TP(INTEGRATIONS, 0), TP(DIMONA, 0)), polled_ms=9_000 + GRACE)
    g = gate(progress, consumer)
    first = event(DECLARATIONS, 0, 0, 5_000)
    g.offer(first)
    assert g.ready((0,)) == [first]
    asked = consumer.asked
    assert asked > 0
    later = [event(DECLARATIONS, 0, 1 + i, 5_001 + i) for i in range(100)]
    for e in later:
        g.offer(e)
    assert g.ready((0,)) == later  # all under the horizon (9,000): the consumer is not asked again
    assert consumer.asked == asked
    beyond = event(DECLARATIONS, 0, 101, 9_001)
    g.offer(beyond)
    assert g.ready((0,)) == []  # past it: asked again, and it holds
    assert consumer.asked > asked


def test_a_revoke_forgets_the_horizon() -> None:
    progress = Progress()
    consumer = CountingConsumer(quiet(TP(INTEGRATIONS, 0), TP(DIMONA, 0)), polled_ms=9_000 + GRACE)
    g = gate(progress, consumer)
    g.offer(event(DECLARATIONS, 0, 0, 5_000))
    assert len(g.ready((0,))) == 1
    g.forget([TP(DECLARATIONS, 1)])
    g.reassigned()
    consumer.polled_ms = 0  # what was known no longer holds
    g.offer(event(DECLARATIONS, 0, 1, 5_001))
    assert g.ready((0,)) == []


def test_a_source_is_done_up_to_its_horizon_and_not_after() -> None:
    busy = state(
        watermark_ms=4_000, received=True, received_ms=7_000, in_flight_ms=6_000, released_next=10, highwater=20
    )
    assert source_done_until(busy, GRACE) == 5_999  # what is in flight holds back the rest
    assert source_done(busy, 5_999, GRACE) and not source_done(busy, 6_000, GRACE)
    caught_up = state(watermark_ms=4_000, released_next=20, highwater=20, polled_ms=9_000)
    assert source_done_until(caught_up, GRACE) == 9_000 - GRACE
    assert source_done_until(state(polled_ms=None), GRACE) == NEVER
