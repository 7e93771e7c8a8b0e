"""When a wait for a consumer group to drain stops: drained twice in a row, a total timeout, or no commit for a
while -- a slow group that keeps committing is waited for, a stalled one is reported."""

from __future__ import annotations

import pytest

from streams.kafka import KafkaAdapterError
from streams.kafka.admin import DrainWatch, PartitionLag


def lag(committed: int | None, end: int = 100) -> list[PartitionLag]:
    return [PartitionLag("t", 0, committed, 0, end)]


def test_drained_means_nothing_behind_on_two_rounds_in_a_row() -> None:
    watch = DrainWatch(0.0, timeout=60)
    assert not watch.observe(lag(100), 1.0)
    assert not watch.observe(lag(90, end=110), 2.0)  # more came in: start again
    assert not watch.observe(lag(110, end=110), 3.0)
    assert watch.observe(lag(110, end=110), 4.0)


def test_a_group_that_keeps_committing_is_waited_for_past_the_stall_window() -> None:
    watch = DrainWatch(0.0, stalled_after=30)
    for second in range(0, 300, 10):
        assert not watch.observe(lag(second // 10), float(second))


def test_a_group_that_commits_nothing_while_behind_is_reported_with_its_partitions() -> None:
    watch = DrainWatch(0.0, stalled_after=30)
    assert not watch.observe(lag(40), 0.0)
    assert not watch.observe(lag(40), 30.0)
    with pytest.raises(KafkaAdapterError, match=r"committed nothing for 30s while behind .*t\[0\] committed 40 of 100"):
        watch.observe(lag(40), 30.5)


def test_a_total_timeout_gives_up_even_while_committing() -> None:
    watch = DrainWatch(0.0, timeout=60, stalled_after=30)
    assert not watch.observe(lag(1), 59.0)
    with pytest.raises(KafkaAdapterError, match="did not drain within 60s"):
        watch.observe(lag(2), 61.0)


def test_a_wait_without_any_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="needs a timeout"):
        DrainWatch(0.0)
