"""A flow's metrics (`streams.observability.metrics`), counted where the flow already is: what it consumed, what
the broker acknowledged it wrote, each decision's outcome, each batch release, and the latency from a
declaration's arrival to the notifications it caused.

Children of labelled metrics are looked up once per topic or code and kept: a label lookup takes a lock, and
the consumed counter is touched once per event of the hot path.
"""

from __future__ import annotations

import time
from typing import Any

from streams.domain.outcomes import REPLY, Forward, Outcome, ToDeadLetters, ToMailbox, ToRejections
from streams.observability.metrics import (
    ACCEPTED,
    ANSWERED,
    DEAD_LETTERED,
    REJECTED,
    REPLAY_SKIPPED,
    PlatformMetrics,
)
from topologies.alignment import event_origin


class FlowMeter:
    def __init__(self, metrics: PlatformMetrics, flow: str) -> None:
        self.flow = flow
        self._metrics = metrics
        self._consumed: dict[str, Any] = {}
        self._produced: dict[str, Any] = {}
        self._outcomes: dict[tuple[str, str], Any] = {}
        self._latency: dict[tuple[str, str], Any] = {}
        self._release = metrics.batch_release.labels(flow)
        # mailbox messages queued since the last release: (declaration type, message, event time in ms), observed
        # once written
        self._notified: list[tuple[str, str, int]] = []

    def consumed(self, topic: str) -> None:
        child = self._consumed.get(topic)
        if child is None:
            child = self._consumed[topic] = self._metrics.consumed.labels(self.flow, topic)
        child.inc()

    def written(self, topic: str, partition: int, offset: int) -> None:
        """A delivery report: the broker has the message."""
        child = self._produced.get(topic)
        if child is None:
            child = self._produced[topic] = self._metrics.produced.labels(self.flow, topic)
        child.inc()

    def outcome(self, outcome: Outcome, message: Any) -> None:
        """Count a decision's outcome as it is routed; a notification's latency is observed at the release."""
        if isinstance(outcome, ToMailbox):
            time_ms, origin = event_origin(message)
            self._notified.append((origin or "unknown", outcome.schema.rpartition(".")[2], time_ms))
            if outcome.schema == REPLY:
                self._count(ANSWERED, "")
        elif isinstance(outcome, Forward):
            if outcome.area == "facts":
                self._count(ACCEPTED, outcome.name)
        elif isinstance(outcome, ToRejections):
            violations = outcome.record.get("violations") or [{}]
            self._count(REJECTED, str(violations[0].get("code", "")))
        elif isinstance(outcome, ToDeadLetters):
            self.dead_lettered(outcome.error_type)

    def replay_skipped(self) -> None:
        """A replayed dead letter whose origin was decided before: nothing done, counted."""
        self._count(REPLAY_SKIPPED, "")

    def dead_lettered(self, error_type: str) -> None:
        self._count(DEAD_LETTERED, error_type)

    def _count(self, kind: str, code: str) -> None:
        child = self._outcomes.get((kind, code))
        if child is None:
            child = self._outcomes[(kind, code)] = self._metrics.outcomes.labels(self.flow, kind, code)
        child.inc()

    def released(self, seconds: float) -> None:
        """A batch was released: everything it sent is written, so its notifications have arrived."""
        self._release.observe(seconds)
        if not self._notified:
            return
        now_ms = time.time() * 1000
        notified, self._notified = self._notified, []
        for origin, message, time_ms in notified:
            child = self._latency.get((origin, message))
            if child is None:
                child = self._latency[(origin, message)] = self._metrics.notification_latency.labels(origin, message)
            child.observe(max(0.0, (now_ms - time_ms) / 1000))

    def forget_unreleased(self) -> None:
        """The batch will be replayed (a crash, a revoked partition): its notifications are not yet sent."""
        self._notified.clear()
