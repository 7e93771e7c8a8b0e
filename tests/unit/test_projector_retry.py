"""The projector's insert retry while ClickHouse is unreachable: bounded, with backoff, other errors at once."""

from __future__ import annotations

import pytest

from connectors.clickhouse.client import WarehouseQueryError, WarehouseUnavailable
from connectors.clickhouse.projector import CommitUnavailable, retrying


class Time:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Insert:
    def __init__(self, failures: list[Exception]) -> None:
        self.failures = failures
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "inserted"


def unreachable() -> WarehouseUnavailable:
    return WarehouseUnavailable("insert 10 rows into crossroads.journey: ClickHouse unreachable (Connection refused)")


def test_an_insert_that_succeeds_is_not_retried() -> None:
    time = Time()
    insert = Insert([])
    assert retrying(insert, retry_for_s=120, sleep=time.sleep, clock=time.clock) == "inserted"
    assert insert.calls == 1
    assert time.sleeps == []


def test_an_unreachable_warehouse_is_retried_with_growing_waits_until_it_answers() -> None:
    time = Time()
    insert = Insert([unreachable() for _ in range(7)])
    assert retrying(insert, retry_for_s=120, sleep=time.sleep, clock=time.clock) == "inserted"
    assert insert.calls == 8
    assert time.sleeps == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_the_retry_gives_up_after_the_bound_with_the_last_error() -> None:
    time = Time()
    insert = Insert([unreachable() for _ in range(100)])
    with pytest.raises(WarehouseUnavailable, match=r"Connection refused.*gave up after"):
        retrying(insert, retry_for_s=30, sleep=time.sleep, clock=time.clock)
    assert sum(time.sleeps) == pytest.approx(30)
    assert max(time.sleeps) <= 10


def test_no_retry_when_the_bound_is_zero() -> None:
    time = Time()
    insert = Insert([unreachable()])
    with pytest.raises(WarehouseUnavailable):
        retrying(insert, retry_for_s=0, sleep=time.sleep, clock=time.clock)
    assert insert.calls == 1


def test_a_refused_statement_is_not_retried() -> None:
    time = Time()
    insert = Insert([WarehouseQueryError("insert: Code: 60. Table crossroads.nope doesn't exist", code=60)])
    with pytest.raises(WarehouseQueryError):
        retrying(insert, retry_for_s=120, sleep=time.sleep, clock=time.clock)
    assert insert.calls == 1
    assert time.sleeps == []


def test_an_offset_commit_the_coordinator_cannot_take_yet_is_retried_and_only_that() -> None:
    time = Time()
    commit = Insert([CommitUnavailable("offset commit: _WAIT_COORD: Waiting for coordinator")] * 2)
    assert retrying(commit, retry_for_s=60, retry_on=CommitUnavailable, sleep=time.sleep, clock=time.clock)
    assert commit.calls == 3 and time.sleeps == [0.5, 1.0]
    with pytest.raises(WarehouseUnavailable):  # the insert's failure is not the commit's to wait out
        retrying(Insert([unreachable()]), retry_for_s=60, retry_on=CommitUnavailable, sleep=time.sleep)
