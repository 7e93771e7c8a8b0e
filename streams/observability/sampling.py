"""What a process reads from outside itself every few seconds and sets on its gauges: its consumer group's lag,
read from the broker, and the audit chain's verified heads, read from the seal file.

The lag comes from the broker, not from the client's fetch positions: what an operator cares about is what the
group has not *committed* (what a crash would replay), and the broker is the one place that knows it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence

from streams.audit_seal import SealFileError, load_seals, seal_file
from streams.kafka import KafkaAdapterError
from streams.kafka.admin import group_lag
from streams.observability.metrics import PlatformMetrics
from streams.settings import Settings

log = logging.getLogger("crossroads.metrics")

Task = Callable[[], None]


def lag_of(settings: Settings, metrics: PlatformMetrics, group: str, topics: Callable[[], Iterable[str]]) -> Task:
    def sample() -> None:
        for lag in group_lag(settings, group, list(topics())):
            metrics.consumer_lag.labels(group, lag.topic, str(lag.partition)).set(lag.lag)

    return sample


def verified_heads(settings: Settings, metrics: PlatformMetrics) -> Task:
    def sample() -> None:
        for (topic, partition), seal in load_seals(seal_file(settings)).items():
            labels = (topic, str(partition))
            metrics.audit_verified_offset.labels(*labels).set(-1 if seal.offset is None else seal.offset)
            metrics.audit_verified_at.labels(*labels).set(seal.verified_at.timestamp())

    return sample


class Sampler:
    """Runs each task now, then every `metrics_lag_interval_s`, in a daemon thread; a task that fails (the broker
    restarting, a seal file being replaced) is logged once and tried again at the next round."""

    def __init__(self, settings: Settings, tasks: Sequence[Task], name: str = "metrics-sampler") -> None:
        self._interval = settings.metrics_lag_interval_s
        self._tasks = tasks
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._failing: set[int] = set()

    def start(self) -> Sampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while True:
            for number, task in enumerate(self._tasks):
                try:
                    task()
                except (KafkaAdapterError, SealFileError) as exc:
                    if number not in self._failing:
                        log.warning("metrics sample unavailable: %s", exc)
                    self._failing.add(number)
                else:
                    self._failing.discard(number)
            if self._stop.wait(self._interval):
                return
