"""Applying the topic catalog to a broker: create what is missing, bring existing topics in line."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    NewTopic,
)

from streams.catalog import CATALOG, TopicSpec
from streams.kafka import KafkaAdapterError
from streams.kafka.security import client_config
from streams.settings import Settings

TIMEOUT_S = 30.0
_ALREADY_EXISTS = object()


@dataclass(frozen=True)
class TopicChange:
    topic: str
    action: str  # created | partitions | config | unchanged
    detail: str = ""


@dataclass(frozen=True)
class TopicState:
    spec: TopicSpec
    topic: str
    wanted_partitions: int
    actual_partitions: int | None  # None: absent from the broker
    config: dict[str, str]


class TopicAdmin:
    def __init__(self, settings: Settings, admin: AdminClient | None = None) -> None:
        self._settings = settings
        self._admin = admin or _quiet_admin(settings)

    def _partitions(self, spec: TopicSpec) -> int:
        return spec.partitions or self._settings.default_partitions

    def existing(self) -> dict[str, int]:
        try:
            metadata = self._admin.list_topics(timeout=TIMEOUT_S)
        except KafkaException as exc:
            raise KafkaAdapterError(f"cannot list topics at {self._settings.kafka_bootstrap}: {exc}") from exc
        return {name: len(t.partitions) for name, t in metadata.topics.items()}

    def _await_visible(self, topics: set[str]) -> dict[str, int]:
        """The broker's metadata lags a creation by a moment; wait until it lists every topic."""
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            existing = self.existing()
            if topics <= existing.keys() or time.monotonic() > deadline:
                return existing
            time.sleep(0.2)

    def apply(self, specs: Iterable[TopicSpec] = CATALOG) -> list[TopicChange]:
        """Idempotent: a second run reports every topic unchanged. Partitions only ever grow (Kafka's rule). An
        existing topic's configuration is brought in line too (retention, timestamp type, ...)."""
        specs = [s.resolved(self._settings) for s in specs]
        existing = self.existing()
        prefix = self._settings.topic_prefix
        changes: list[TopicChange] = []
        to_create = [s for s in specs if s.topic(prefix) not in existing]
        if to_create:
            futures = self._admin.create_topics(
                [
                    NewTopic(
                        s.topic(prefix),
                        num_partitions=self._partitions(s),
                        replication_factor=self._settings.replication_factor,
                        config=s.config(),
                    )
                    for s in to_create
                ],
                operation_timeout=TIMEOUT_S,
            )
            raced = False
            for topic, future in futures.items():
                if _wait(future, f"create {topic}", tolerate="TOPIC_ALREADY_EXISTS") is _ALREADY_EXISTS:
                    raced = True  # created meanwhile, or our metadata was stale: reconcile it below
                    continue
                changes.append(
                    TopicChange(topic, "created", f"{self._partitions(_find(specs, topic, prefix))} partitions")
                )
            if raced:
                existing = self._await_visible({s.topic(prefix) for s in to_create})
        created = {c.topic for c in changes}
        for spec in specs:
            topic = spec.topic(prefix)
            if topic in created or topic not in existing:
                continue
            changes.extend(self._reconcile(spec, topic, existing[topic]))
        return changes

    def _reconcile(self, spec: TopicSpec, topic: str, partitions: int) -> list[TopicChange]:
        changes = []
        wanted = self._partitions(spec)
        if partitions < wanted:
            futures = self._admin.create_partitions([NewPartitions(topic, wanted)])
            _wait(futures[topic], f"grow {topic} to {wanted} partitions")
            changes.append(TopicChange(topic, "partitions", f"{partitions} -> {wanted}"))
        current = self.describe_config(topic)
        drift = {k: v for k, v in spec.config().items() if current.get(k) != v}
        if drift:
            resource = ConfigResource(
                ConfigResource.Type.TOPIC,
                topic,
                incremental_configs=[
                    ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in drift.items()
                ],
            )
            altered = self._admin.incremental_alter_configs([resource])
            _wait(altered[resource], f"alter config of {topic}")
            self._await_config(topic, drift)
            changes.append(TopicChange(topic, "config", ", ".join(f"{k}={v}" for k, v in drift.items())))
        return changes or [TopicChange(topic, "unchanged")]

    def _await_config(self, topic: str, wanted: dict[str, str]) -> None:
        """The broker acknowledges an alter before its config cache serves it (a describe right after may still
        say the old value): `apply` returns once what it reports is what the broker says."""
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            current = self.describe_config(topic)
            if all(current.get(k) == v for k, v in wanted.items()):
                return
            if time.monotonic() > deadline:
                raise KafkaAdapterError(f"{topic} still has {current} {TIMEOUT_S:.0f} s after altering it to {wanted}")
            time.sleep(0.2)

    def describe_config(self, topic: str) -> dict[str, str]:
        resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
        described = self._admin.describe_configs([resource])
        entries: dict[str, Any] = _wait(described[resource], f"describe {topic}")
        return {name: entry.value for name, entry in entries.items()}

    def states(self, specs: Iterable[TopicSpec] = CATALOG) -> list[TopicState]:
        existing = self.existing()
        prefix = self._settings.topic_prefix
        result = []
        for spec in (s.resolved(self._settings) for s in specs):
            topic = spec.topic(prefix)
            present = topic in existing
            result.append(
                TopicState(
                    spec=spec,
                    topic=topic,
                    wanted_partitions=self._partitions(spec),
                    actual_partitions=existing.get(topic),
                    config=self.describe_config(topic) if present else {},
                )
            )
        return result


def _find(specs: list[TopicSpec], topic: str, prefix: str) -> TopicSpec:
    return next(s for s in specs if s.topic(prefix) == topic)


def _wait(future: Any, what: str, tolerate: str | None = None) -> Any:
    try:
        return future.result(timeout=TIMEOUT_S)
    except KafkaException as exc:
        error = exc.args[0] if exc.args else None
        if tolerate and error is not None and getattr(error, "name", lambda: "")() == tolerate:
            return _ALREADY_EXISTS
        raise KafkaAdapterError(f"{what} failed: {exc}") from exc


def wait_for_topics(settings: Settings, topics: Iterable[str], *, timeout: float) -> None:
    """Block until the broker's metadata lists every topic with a leader for each of its partitions.

    A topic the controller has just created reaches the brokers' metadata a little later (seconds on a loaded
    machine); a consumer that subscribes before that ignores it and only looks again after its metadata max
    age, so a worker started right after `topics apply` could sit idle for minutes. Raises KafkaAdapterError
    naming the topics still missing after `timeout` seconds."""
    wanted = sorted(set(topics))
    admin = _quiet_admin(settings)
    deadline = time.monotonic() + timeout
    while True:
        try:
            listed = admin.list_topics(timeout=10).topics
        except KafkaException as exc:
            listed, error = {}, str(exc)
        else:
            error = ""
        missing = [
            name
            for name in wanted
            if (found := listed.get(name)) is None
            or found.error is not None
            or not found.partitions
            or any(p.leader < 0 for p in found.partitions.values())
        ]
        if not missing:
            return
        if time.monotonic() > deadline:
            raise KafkaAdapterError(
                f"{len(missing)} topic(s) not on the broker after {timeout:.0f}s (create them with `crossroads topics"
                f" apply`): {', '.join(missing[:10])}{'; ' + error if error else ''}"
            )
        time.sleep(0.5)


def group_members(settings: Settings, group_id: str, admin: AdminClient | None = None) -> int:
    """How many members a consumer group has once it is stable (0 while it is empty or rebalancing)."""
    admin = admin or _quiet_admin(settings)
    future = admin.describe_consumer_groups([group_id], request_timeout=10)[group_id]
    try:
        description = future.result(timeout=TIMEOUT_S)
    except KafkaException:
        return 0
    if str(description.state).rsplit(".", 1)[-1] != "STABLE":
        return 0
    return len(description.members)


def group_assignment(
    settings: Settings, group_id: str, admin: AdminClient | None = None
) -> dict[str, set[tuple[str, int]]] | None:
    """Each member's assigned partitions (member id -> {(topic, partition)}), once the group is stable; None
    while it is empty, rebalancing or cannot be described."""
    admin = admin or _quiet_admin(settings)
    future = admin.describe_consumer_groups([group_id], request_timeout=10)[group_id]
    try:
        description = future.result(timeout=TIMEOUT_S)
    except KafkaException:
        return None
    if str(description.state).rsplit(".", 1)[-1] != "STABLE" or not description.members:
        return None
    return {
        member.member_id: {(tp.topic, tp.partition) for tp in member.assignment.topic_partitions}
        for member in description.members
    }


def wait_for_group(
    settings: Settings, group_id: str, timeout: float = 120.0, *, check: Callable[[], None] = lambda: None
) -> None:
    """Block until the group has at least one member and is stable: its consumers have their partitions. `check`
    runs on every round, so that a process that died while joining stops the wait at once."""
    admin = _quiet_admin(settings)
    deadline = time.monotonic() + timeout
    while True:
        check()
        if group_members(settings, group_id, admin) > 0:
            return
        if time.monotonic() > deadline:
            raise KafkaAdapterError(f"consumer group {group_id} did not become stable within {timeout:.0f}s")
        time.sleep(0.5)


def _quiet_admin(settings: Settings) -> AdminClient:
    # librdkafka logs at info level when a short-lived client is torn down; only warnings matter here
    return AdminClient({**client_config(settings), "log_level": 4})


def delete_run_topics(settings: Settings, timeout_s: float = 30.0) -> list[str]:
    """Delete the topics of one run -- under the settings' prefix, and faust's under its app id -- and its
    ACLs, and return the topics' names. Best effort (a test's or a bench's cleanup): a failure leaves topics or
    grants behind, never raises."""
    if settings.kafka_security != "plaintext":
        from streams.kafka.access import AccessAdmin

        with contextlib.suppress(Exception):
            AccessAdmin(settings).revoke(settings.topic_prefix, settings.app_id)
    names: list[str] = []
    try:
        admin = _quiet_admin(settings)
        names = [
            t
            for t in admin.list_topics(timeout=10).topics
            if t.startswith(settings.topic_prefix + ".") or t.startswith(settings.app_id)
        ]
        if names:
            for future in admin.delete_topics(names, operation_timeout=timeout_s).values():
                with contextlib.suppress(Exception):
                    future.result(timeout=timeout_s)
    except Exception:
        return names
    return names


@dataclass(frozen=True)
class PartitionLag:
    """How far a consumer group's committed offset is behind the end of one partition."""

    topic: str
    partition: int
    committed: int | None  # None: the group never committed on this partition
    low: int
    end: int

    @property
    def lag(self) -> int:
        start = self.committed if self.committed is not None else self.low
        return max(0, self.end - start)


def group_lag(settings: Settings, group_id: str, topics: Iterable[str]) -> list[PartitionLag]:
    """The group's committed offset against the end offset of every partition of `topics` (absent topics:
    none). Reads the end offsets *before* the committed ones, so a lag of 0 means that everything written
    before the call was committed by the group."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(
        {
            **client_config(settings),
            "group.id": group_id,  # only read with: this consumer never subscribes nor commits
            "enable.auto.commit": False,
            "log_level": 3,
        }
    )
    try:
        metadata = consumer.list_topics(timeout=TIMEOUT_S).topics
        partitions = [TopicPartition(t, p) for t in topics if t in metadata for p in sorted(metadata[t].partitions)]
        ends = {}
        for tp in partitions:
            low, high = consumer.get_watermark_offsets(tp, timeout=TIMEOUT_S)
            ends[(tp.topic, tp.partition)] = (int(low), int(high))
        committed = consumer.committed(partitions, timeout=TIMEOUT_S) if partitions else []
    except KafkaException as exc:
        raise KafkaAdapterError(f"cannot read the lag of group {group_id}: {exc}") from exc
    finally:
        consumer.close()
    result = []
    for tp in committed:
        low, high = ends[(tp.topic, tp.partition)]
        offset = tp.offset if tp.offset >= 0 else None
        result.append(PartitionLag(tp.topic, tp.partition, offset, low, high))
    return result


@dataclass
class DrainWatch:
    """When to stop waiting for a group to drain, from what its lag was each round (pure: the clock is given).

    Drained: no partition behind, twice in a row. Given up: after `timeout` seconds in all, or, with
    `stalled_after`, when the group has committed nothing for that long while behind."""

    started: float
    timeout: float | None = None
    stalled_after: float | None = None
    drained_once: bool = False
    _committed: int | None = None
    _progressed: float = 0.0

    def __post_init__(self) -> None:
        if self.timeout is None and self.stalled_after is None:
            raise ValueError("a drain wait needs a timeout, a stalled_after, or both")
        self._progressed = self.started

    def observe(self, lags: Sequence[PartitionLag], now: float) -> bool:
        """True once drained; raises KafkaAdapterError (naming the partitions behind) when it is time to give
        up."""
        behind = [lag for lag in lags if lag.lag]
        if not behind:
            if self.drained_once:
                return True
            self.drained_once = True
            return False
        self.drained_once = False
        committed = sum(lag.committed or 0 for lag in lags)
        if committed != self._committed:
            self._committed, self._progressed = committed, now
        reason = None
        if self.timeout is not None and now - self.started > self.timeout:
            reason = f"did not drain within {self.timeout:.0f}s"
        elif self.stalled_after is not None and now - self._progressed > self.stalled_after:
            reason = f"committed nothing for {self.stalled_after:.0f}s while behind (after {now - self.started:.0f}s)"
        if reason is None:
            return False
        described = ", ".join(
            f"{lag.topic}[{lag.partition}] committed {lag.committed} of {lag.end}" for lag in behind[:10]
        )
        raise KafkaAdapterError(f"{reason}: {len(behind)} partition(s) behind: {described}")


def wait_drained(
    settings: Settings,
    group_id: str,
    topics: Iterable[str],
    *,
    timeout: float | None = None,
    stalled_after: float | None = None,
    check: Callable[[], None] = lambda: None,
    settle_s: float = 1.0,
) -> list[PartitionLag]:
    """Block until the group has committed the end offset of every partition of `topics`, twice in a row
    `settle_s` apart (a flow's outputs may be another flow's inputs). `check` is called on every round, to fail
    fast when what should drain the topics died.

    Gives up -- KafkaAdapterError naming the partitions still behind -- after `timeout` seconds in all, or, with
    `stalled_after`, when the group has committed nothing for that long while behind: a slow consumer on a busy
    machine is waited for as long as it makes progress, one that stopped is reported."""
    topics = list(topics)
    watch = DrainWatch(time.monotonic(), timeout, stalled_after)
    while True:
        check()
        lags = group_lag(settings, group_id, topics)
        try:
            if watch.observe(lags, time.monotonic()):
                return lags
        except KafkaAdapterError as exc:
            raise KafkaAdapterError(f"group {group_id} {exc}") from None
        time.sleep(settle_s if watch.drained_once else 0.5)
