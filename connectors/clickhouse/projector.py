"""The ClickHouse sink: facts topics -> batched, columnar inserts -> offsets committed after the insert.

At-least-once by construction: offsets are committed only once every row consumed before them is in the
warehouse. A crash between insert and commit replays the batch; the tables are ReplacingMergeTree keyed by
event identity, and the queries read them so that a replayed row never counts twice.

Transient trouble is waited out, not crashed on: consumer errors librdkafka recovers from by itself (a topic
that does not exist yet, a broker restarting) are logged and consumption goes on; an insert that fails because
ClickHouse is unreachable is retried with backoff, the batch still pending and nothing committed, for up to
`projector_retry_for_s`. Anything else -- a fatal or unknown consumer error, a statement ClickHouse refuses,
an outage longer than that -- stops the projector with the error.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, Protocol, TypeVar

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer
from prometheus_client import CollectorRegistry

from connectors.clickhouse.client import WarehouseUnavailable, connect, quote_identifier, translated_errors
from streams.codecs import AvroCodec, CodecError, Decoded
from streams.dead_letters import dead_letter
from streams.kafka.consumer_errors import ErrorThrottle, is_transient
from streams.kafka.security import client_config
from streams.observability.metrics import PlatformMetrics
from streams.settings import ClickHouseAddress, Settings

log = logging.getLogger(__name__)

T = TypeVar("T")

FIRST_RETRY_DELAY_S = 0.5
LONGEST_RETRY_DELAY_S = 10.0


@dataclass(frozen=True)
class Origin:
    """Where a fact was read from, for rows that keep their provenance."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int


class Projection(Protocol):
    """Turns one decoded fact into rows of one table. Pure: no I/O, no clock other than the one given."""

    @property
    def table(self) -> str: ...

    @property
    def columns(self) -> tuple[str, ...]: ...

    @property
    def topics(self) -> tuple[str, ...]:  # catalog topic names without prefix and version: "facts.dimona"
        ...

    def rows(self, fact: Decoded, origin: Origin, now: float) -> list[tuple[Any, ...]]: ...


@dataclass
class _Pending:
    rows: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    count: int = 0
    since: float | None = None

    def add(self, table: str, rows: list[tuple[Any, ...]]) -> None:
        if self.since is None:
            self.since = time.monotonic()
        self.rows.setdefault(table, []).extend(rows)
        self.count += len(rows)


@dataclass
class ProjectorStats:
    consumed: int = 0
    rows_written: int = 0
    flushes: int = 0
    dead_lettered: int = 0


class Projector:
    def __init__(
        self,
        settings: Settings,
        projections: Sequence[Projection],
        codec: AvroCodec,
        *,
        group_id: str | None = None,
        flush_rows: int = 10_000,
        flush_seconds: float = 1.0,
        clock: Callable[[], float] = time.time,
        crash_after_inserts: int | None = None,
        clickhouse: ClickHouseAddress | None = None,
        metrics: PlatformMetrics | None = None,
    ) -> None:
        self._settings = settings
        self.group_id = group_id or f"{settings.app_id}-projector"
        self._metrics = metrics or PlatformMetrics.on(CollectorRegistry())
        self._codec = codec
        self._flush_rows = flush_rows
        self._flush_seconds = flush_seconds
        self._clock = clock
        self._by_topic: dict[str, list[Projection]] = {}
        for projection in projections:
            for name in projection.topics:
                self._by_topic.setdefault(f"{settings.topic_prefix}.{name}.v1", []).append(projection)
        self._columns = {p.table: p.columns for p in projections}
        self._distinct = {p.table for p in projections if getattr(p, "distinct_rows", False)}
        # `crossroads projector` passes the projector's own user (settings.clickhouse_projector); in-process
        # benchmarks keep the URL's
        self._client = connect(settings, address=clickhouse)
        self._database = quote_identifier(settings.clickhouse.database)
        # test hook (CROSSROADS_PROJECTOR_CRASH_AFTER_INSERTS): die like a SIGKILL between insert and commit
        self._crash_after = crash_after_inserts or settings.projector_crash_after_inserts
        self._inserts = 0
        self._retry_for_s = settings.projector_retry_for_s
        self._transient = ErrorThrottle()
        # the driver logs each failed connection with its traceback; `retrying` says it once per attempt
        logging.getLogger("clickhouse_driver.connection").setLevel(logging.ERROR)
        self._consumer = Consumer(
            {
                **client_config(settings),
                "group.id": self.group_id,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "isolation.level": "read_committed",
                # a projector killed mid-batch (crash, SIGKILL) gives its partitions back within 10 s, not 45
                "session.timeout.ms": 10_000,
                # nothing is polled while an insert is retried: the group must not evict us meanwhile
                "max.poll.interval.ms": int(max(300.0, self._retry_for_s + 60.0) * 1000),
            }
        )
        self._producer = Producer({**client_config(settings), "enable.idempotence": True})
        self._dead_letters = f"{settings.topic_prefix}.outcomes.dead-letters.v1"
        self.stats = ProjectorStats()

    def run(self, stop: threading.Event | None = None, *, idle_exit_s: float | None = None) -> ProjectorStats:
        """Consume until `stop` is set (or nothing arrived for `idle_exit_s`), flushing as it goes."""
        stop = stop or threading.Event()
        assigned = threading.Event()
        last_message = time.monotonic()

        def on_assign(consumer: Consumer, partitions: list[Any]) -> None:
            nonlocal last_message
            assigned.set()
            last_message = time.monotonic()  # idleness counts from the assignment, not from the group join

        self._consumer.subscribe(sorted(self._by_topic), on_assign=on_assign)
        pending = _Pending()
        try:
            while not stop.is_set():
                messages = self._consumer.consume(num_messages=2_000, timeout=0.2)
                for message in messages:
                    self._take(message, pending)
                if messages:
                    last_message = time.monotonic()
                if self._due(pending):
                    self._flush(pending)
                    pending = _Pending()
                idle = time.monotonic() - last_message
                if idle_exit_s is not None and assigned.is_set() and idle > idle_exit_s:
                    break
            if pending.count or pending.since is not None:
                self._flush(pending)
        finally:
            self._consumer.close()
            self._producer.flush(10)
        return self.stats

    @property
    def topics(self) -> list[str]:
        return sorted(self._by_topic)

    def _due(self, pending: _Pending) -> bool:
        if pending.since is None:
            return False
        return pending.count >= self._flush_rows or time.monotonic() - pending.since >= self._flush_seconds

    def _take(self, message: Message, pending: _Pending) -> None:
        error = message.error()
        if error is not None:
            if error.code() == KafkaError._PARTITION_EOF:
                return
            if is_transient(error):
                line = self._transient.note(error)
                if line is not None:
                    log.warning("%s", line)
                return
            raise RuntimeError(f"{'fatal ' if error.fatal() else ''}consumer error: {error.name()}: {error.str()}")
        self.stats.consumed += 1
        topic, partition, offset = _position(message)
        self._metrics.consumed.labels("projector", topic).inc()
        origin = Origin(topic, partition, offset, message.timestamp()[1])
        try:
            fact = self._codec.decode(message.value() or b"")
        except CodecError as exc:
            self._dead_letter(message, exc)
            pending.since = pending.since or time.monotonic()  # its offset must still be committed
            return
        now = self._clock()
        for projection in self._by_topic.get(topic, []):
            pending.add(projection.table, projection.rows(fact, origin, now))
        if pending.since is None:
            pending.since = time.monotonic()

    def _flush(self, pending: _Pending) -> None:
        began = time.monotonic()
        for table, rows in pending.rows.items():
            if not rows:
                continue
            columns = self._columns[table]
            if table in self._distinct:
                rows = list(dict.fromkeys(rows))
            as_columns = [list(values) for values in zip(*rows, strict=True)]
            target = self.target(table)
            statement = f"INSERT INTO {target} ({', '.join(columns)}) VALUES"
            what = f"insert {len(rows)} rows into {target}"
            retrying(partial(self._insert, statement, as_columns, what), retry_for_s=self._retry_for_s)
            self.stats.rows_written += len(rows)
            self._metrics.projector_rows.labels(table).inc(len(rows))
            self._inserts += 1
            if self._crash_after is not None and self._inserts >= self._crash_after:
                log.warning("test hook: exiting after insert %d, before the offset commit", self._inserts)
                logging.shutdown()
                os._exit(137)
        self._producer.flush(30)
        # only now: everything consumed so far is in the warehouse (or dead-lettered)
        retrying(self._commit, retry_for_s=self._retry_for_s, retry_on=CommitUnavailable)
        self.stats.flushes += 1
        self._metrics.projector_flush.observe(time.monotonic() - began)
        log.info("projector flushed %d rows (%d flushes)", pending.count, self.stats.flushes)

    def _commit(self) -> None:
        try:
            self._consumer.commit(asynchronous=False)
        except KafkaException as exc:
            error = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
            if error is not None and error.code() == KafkaError._NO_OFFSET:
                return  # nothing consumed since the last commit
            if error is not None and error.code() in PARTITIONS_LOST:
                # the group moved on without us (a broker outage outlasted the session): the partitions are
                # someone else's, or ours again after the rebalance, from the last committed offset; their
                # rows are in the warehouse and a replay is harmless (ReplacingMergeTree), so nothing is lost
                log.warning("offset commit refused, the partitions were reassigned: %s", error.str())
                return
            if error is not None and is_transient(error):
                # the coordinator moving or a broker restarting: the rows are in (ReplacingMergeTree makes a
                # replay harmless), the offsets are committed once the group's coordinator answers again
                raise CommitUnavailable(f"offset commit: {error.name()}: {error.str()}") from exc
            raise

    def _insert(self, statement: str, as_columns: list[list[Any]], what: str) -> None:
        with translated_errors(what):
            self._client.execute(statement, as_columns, columnar=True)

    def target(self, table: str) -> str:
        """`<database>.<table>`, or the table rendered when it names its database (`{database}_audit.x`)."""
        if table.startswith("{database}"):
            return table.replace("{database}", self._database, 1)
        return f"{self._database}.{table}"

    def _dead_letter(self, message: Message, error: CodecError) -> None:
        kind, timestamp_ms = message.timestamp()
        topic, partition, offset = _position(message)
        record = dead_letter(
            topic=topic,
            partition=partition,
            offset=offset,
            timestamp_ms=timestamp_ms if kind else None,
            key=_bytes(message.key()),
            headers=message.headers(),
            raw=message.value(),
            reason=f"the projector cannot decode a fact: {error}",
            error_type=type(error).__name__,
            at=datetime.now(UTC),
        )
        self._producer.produce(
            self._dead_letters, key=message.key(), value=self._codec.encode(record.schema, record.value)
        )
        self.stats.dead_lettered += 1


# commit errors that mean the consumer no longer owns what it consumed
PARTITIONS_LOST = frozenset({KafkaError._ASSIGNMENT_LOST, KafkaError.ILLEGAL_GENERATION, KafkaError.UNKNOWN_MEMBER_ID})


class CommitUnavailable(Exception):
    """The consumer group's coordinator cannot take the offset commit now (it moves, or a broker restarts)."""


def retrying(
    action: Callable[[], T],
    *,
    retry_for_s: float,
    retry_on: type[WarehouseUnavailable] | type[CommitUnavailable] = WarehouseUnavailable,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """`action()`, again and again while it raises `retry_on` (a transient failure), waiting 0.5 s then twice
    as long each time (at most 10 s), until `retry_for_s` have passed since the first failure: then a `retry_on`
    saying so propagates. Any other error propagates at once."""
    delay = FIRST_RETRY_DELAY_S
    failing_since: float | None = None
    attempts = 0
    while True:
        try:
            return action()
        except retry_on as exc:
            now = clock()
            failing_since = now if failing_since is None else failing_since
            attempts += 1
            left = retry_for_s - (now - failing_since)
            if left <= 0:
                raise retry_on(
                    f"{exc}; gave up after {attempts} attempts over {now - failing_since:.0f}s "
                    "(CROSSROADS_PROJECTOR_RETRY_FOR_S)"
                ) from exc
            wait = min(delay, left)
            log.warning("%s; retrying in %.1fs (for %.0fs more), the batch stays pending", exc, wait, left)
            sleep(wait)
            delay = min(delay * 2, LONGEST_RETRY_DELAY_S)


def _position(message: Message) -> tuple[str, int, int]:
    topic, partition, offset = message.topic(), message.partition(), message.offset()
    if topic is None or partition is None or offset is None:
        raise RuntimeError("a consumed message without topic/partition/offset")
    return topic, partition, offset


def _bytes(value: str | bytes | None) -> bytes | None:
    return value.encode() if isinstance(value, str) else value
