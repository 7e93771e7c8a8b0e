"""Which consumer errors the projector waits out, and how often it says so."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError

from streams.kafka.consumer_errors import ErrorThrottle, is_transient


@pytest.mark.parametrize(
    "code",
    [
        KafkaError.UNKNOWN_TOPIC_OR_PART,  # "Subscribed topic not available": a topic that does not exist yet
        KafkaError._TRANSPORT,
        KafkaError._ALL_BROKERS_DOWN,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError._MSG_TIMED_OUT,
        KafkaError.COORDINATOR_NOT_AVAILABLE,
    ],
)
def test_errors_librdkafka_recovers_from_are_transient(code: int) -> None:
    assert is_transient(KafkaError(code))


def test_an_error_flagged_retriable_is_transient_even_if_not_listed() -> None:
    assert is_transient(KafkaError(KafkaError.UNKNOWN, "try again", retriable=True))


@pytest.mark.parametrize("code", [KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._TRANSPORT, KafkaError._FATAL])
def test_a_fatal_error_is_never_transient(code: int) -> None:
    assert not is_transient(KafkaError(code, "fatal", fatal=True))
    assert not is_transient(KafkaError(code, "fatal", fatal=True, retriable=True))


@pytest.mark.parametrize(
    "code",
    [
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        KafkaError._MAX_POLL_EXCEEDED,  # the group has moved on without us: our pending batch is not ours any more
        KafkaError.OFFSET_OUT_OF_RANGE,
        KafkaError.UNKNOWN,
        KafkaError._AUTHENTICATION,
    ],
)
def test_errors_not_known_to_be_transient_are_not(code: int) -> None:
    assert not is_transient(KafkaError(code))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_recurring_error_is_logged_once_per_interval_with_what_went_unlogged() -> None:
    clock = Clock()
    throttle = ErrorThrottle(every_s=30.0, clock=clock)
    missing = KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART, "Subscribed topic not available: t")

    first = throttle.note(missing)
    assert first is not None
    assert "UNKNOWN_TOPIC_OR_PART" in first
    assert "Subscribed topic not available: t" in first
    clock.now += 0.2
    assert throttle.note(missing) is None
    clock.now += 10
    assert throttle.note(missing) is None
    clock.now += 20
    again = throttle.note(missing)
    assert again is not None
    assert "2 more in the last 30s" in again
    clock.now += 1
    assert throttle.note(missing) is None


def test_each_error_code_has_its_own_interval() -> None:
    clock = Clock()
    throttle = ErrorThrottle(every_s=30.0, clock=clock)
    assert throttle.note(KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART)) is not None
    assert throttle.note(KafkaError(KafkaError._TRANSPORT)) is not None
    assert throttle.note(KafkaError(KafkaError._TRANSPORT)) is None
