"""Which errors a librdkafka consumer reports are worth waiting out, and how often to say so.

librdkafka keeps retrying on its own after a broker restart, a leader election or a topic that does not exist
yet ("Subscribed topic not available"): it reports these errors to the application but recovers from them, so
a consumer that raised on them would die of a situation that heals by itself. A fatal error, or one we do not
know, still stops the consumer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from confluent_kafka import KafkaError

# Errors librdkafka recovers from by itself; several are not flagged retriable() when they reach a consumer
# (UNKNOWN_TOPIC_OR_PART is not, though the consumer picks the topic up as soon as it exists).
TRANSIENT_CODES: frozenset[int] = frozenset(
    {
        # a subscribed topic or partition is not there (yet)
        KafkaError.UNKNOWN_TOPIC_OR_PART,
        KafkaError._UNKNOWN_TOPIC,
        KafkaError._UNKNOWN_PARTITION,
        # the broker cannot be reached, or is restarting
        KafkaError._TRANSPORT,
        KafkaError._ALL_BROKERS_DOWN,
        KafkaError._RESOLVE,
        KafkaError.NETWORK_EXCEPTION,
        # timeouts
        KafkaError._MSG_TIMED_OUT,
        KafkaError._TIMED_OUT,
        KafkaError.REQUEST_TIMED_OUT,
        # leadership moving between brokers
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.UNKNOWN_LEADER_EPOCH,
        KafkaError.FENCED_LEADER_EPOCH,
        KafkaError.NOT_ENOUGH_REPLICAS,
        KafkaError.KAFKA_STORAGE_ERROR,
        # the group coordinator moving or loading
        KafkaError.COORDINATOR_NOT_AVAILABLE,
        KafkaError.NOT_COORDINATOR,
        KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
        KafkaError._WAIT_COORD,
        KafkaError.REBALANCE_IN_PROGRESS,
    }
)


def is_transient(error: KafkaError) -> bool:
    """True for an error the consumer recovers from by itself (log it and keep consuming); False for a fatal
    error and for anything not known to be transient (stop the consumer)."""
    if error.fatal():
        return False
    return bool(error.retriable()) or error.code() in TRANSIENT_CODES


@dataclass
class ErrorThrottle:
    """Says when a recurring error is worth a log line: the first time it occurs, then at most once every
    `every_s` seconds per error code, with how many occurrences went unlogged in between. librdkafka repeats
    such an error on every poll while the situation lasts."""

    every_s: float = 30.0
    clock: Callable[[], float] = time.monotonic
    _last: dict[int, float] = field(default_factory=dict)
    _unlogged: dict[int, int] = field(default_factory=dict)

    def note(self, error: KafkaError) -> str | None:
        """The line to log for this occurrence, or None when it should stay silent."""
        code, now = error.code(), self.clock()
        last = self._last.get(code)
        if last is not None and now - last < self.every_s:
            self._unlogged[code] = self._unlogged.get(code, 0) + 1
            return None
        self._last[code] = now
        unlogged = self._unlogged.pop(code, 0)
        again = f" ({unlogged} more in the last {now - last:.0f}s)" if last is not None and unlogged else ""
        return f"transient consumer error, consumption goes on: {error.name()}: {error.str()}{again}"
