"""A test client of the running platform: send declarations like an institution would, and watch what comes
out (mailboxes, rejections, the audit trail) with a background consumer.

Nothing here knows how the platform decides: it only produces to intake topics and reads output topics.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from streams.catalog import mailbox_of
from streams.codecs import AvroCodec, SchemaRegistry
from streams.deployment import grant_deployment
from streams.domain.audit import outputs_of
from streams.domain.kinds import subject_key
from streams.kafka.admin import delete_run_topics
from streams.kafka.producer import DeclarationProducer
from streams.kafka.security import client_config
from streams.network_files import load_network
from streams.settings import Settings
from streams.stack.workers import PlatformWorkers
from tests.support import AT, NATIONAL_REGISTER, address_change, birth, death, envelope, integration, niss

# The records' builders moved to tests.support; they are re-exported for older imports (use tests.support).
__all__ = [
    "AT",
    "NATIONAL_REGISTER",
    "Platform",
    "Seen",
    "address_change",
    "birth",
    "by_recipient",
    "death",
    "drop_topics",
    "envelope",
    "integration",
    "niss",
    "own_run",
    "ticket_of",
]


@dataclass(frozen=True)
class Seen:
    topic: str
    key: bytes | None
    schema: str
    record: dict[str, Any]
    offset: int
    partition: int


class Platform:
    """Send, then wait for outcomes. One instance per test module; its consumer reads from the start."""

    WATCHED = r"mailbox\..*|outcomes\.rejections|outcomes\.dead-letters|audit\.exchanges"

    def __init__(self, settings: Settings, watched: str = WATCHED) -> None:
        self.settings = settings
        self.codec = AvroCodec(SchemaRegistry.from_directory(settings.schema_dir))
        self.institutions = frozenset(load_network(settings.network_dir).institutions)
        self._producer = DeclarationProducer(settings, self.codec)
        self._seen: list[Seen] = []
        self._positions: set[tuple[str, int, int]] = set()
        self.counts: Counter[str] = Counter()  # records seen per schema short name, kept as they arrive
        self._next: dict[tuple[str, int], int] = {}  # (topic, partition) -> the offset after the last one read
        self._lock = threading.Lock()
        self._stop = threading.Event()
        prefix = settings.topic_prefix.replace(".", r"\.")
        self._consumer = Consumer(
            {
                **client_config(settings),
                "group.id": f"harness-{uuid.uuid4().hex}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                "topic.metadata.refresh.interval.ms": 1000,  # pick up topics created after we subscribed
                "log_level": 4,
            }
        )
        self._watched = watched
        self._consumer.subscribe([f"^{prefix}\\.({watched})\\.v1$"])
        self._thread = threading.Thread(target=self._collect, daemon=True)
        self._thread.start()

    def _collect(self) -> None:
        while not self._stop.is_set():
            for message in self._consumer.consume(num_messages=500, timeout=0.2):
                if message.error():
                    continue
                with self._lock:
                    place = (message.topic() or "", message.partition() or 0)
                    self._next[place] = max(self._next.get(place, 0), (message.offset() or 0) + 1)
                decoded = self.codec.decode(message.value() or b"")
                position = (message.topic() or "", message.partition() or 0, message.offset() or 0)
                with self._lock:
                    # nothing is committed, so a rebalance (a new topic matched the pattern) re-reads
                    if position in self._positions:
                        continue
                    self._positions.add(position)
                    for schema, record in outputs_of(decoded.schema_name, decoded.record):  # an AuditBatch: each
                        seen = Seen(position[0], message.key(), schema, dict(record), position[2], position[1])
                        self._seen.append(seen)
                        self.counts[schema.rpartition(".")[2]] += 1
        self._consumer.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)

    # -- sending ---------------------------------------------------------------------------------------------

    def send(self, schema: str, record: dict[str, Any]) -> str:
        """Produce one declaration to its intake topic; returns its sender reference."""
        self._producer.send(schema, record, subject_key(schema, record))
        self._producer.flush()
        return str(record["envelope"]["sender_reference"])

    def send_as(self, actor: str, schema: str, record: dict[str, Any]) -> str:
        """Produce one declaration sealed as ``actor``, whatever sender its envelope names (a forgery when they
        differ); returns its sender reference."""
        self._producer.send(schema, record, subject_key(schema, record), as_actor=actor)
        self._producer.flush()
        return str(record["envelope"]["sender_reference"])

    def send_many(self, declarations: list[tuple[str, dict[str, Any]]]) -> None:
        for schema, record in declarations:
            self._producer.send(schema, record, subject_key(schema, record))
        self._producer.flush(120)

    # -- watching --------------------------------------------------------------------------------------------

    def seen(self, where: Callable[[Seen], bool] = lambda s: True) -> list[Seen]:
        with self._lock:
            return [s for s in self._seen if where(s)]

    def wait(self, where: Callable[[Seen], bool], count: int = 1, timeout: float = 60.0) -> list[Seen]:
        deadline = time.monotonic() + timeout
        while True:
            found = self.seen(where)
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.1)

    def wait_count(self, kind: str, count: int, timeout: float = 60.0) -> int:
        """Wait until `count` records of schema `kind` (short name) were seen; cheap to poll."""
        deadline = time.monotonic() + timeout
        while self.counts[kind] < count and time.monotonic() < deadline:
            time.sleep(0.2)
        return self.counts[kind]

    def ack(self, reference: str, timeout: float = 60.0) -> dict[str, Any]:
        found = self.wait(
            lambda s: s.schema.endswith("Acknowledgement") and s.record["sender_reference"] == reference,
            timeout=timeout,
        )
        assert found, f"no acknowledgement for {reference} within {timeout:.0f}s"
        return found[0].record

    def in_mailbox_of(self, actor: str) -> Callable[[Seen], bool]:
        """Whether a record is in `actor`'s mailbox: its own topic (an institution), or the employers' shared
        topic under the actor's key."""
        spec, key = mailbox_of(actor, self.institutions)
        topic = spec.topic(self.settings.topic_prefix)
        return lambda s: s.topic == topic and (key is None or s.key == key)

    def mailbox(self, actor: str, schema_suffix: str = "Notification") -> list[dict[str, Any]]:
        mine = self.in_mailbox_of(actor)
        return [s.record for s in self.seen(lambda s: mine(s) and s.schema.endswith(schema_suffix))]

    def notifications(self, source_ticket: str) -> list[Seen]:
        return self.seen(lambda s: s.schema.endswith("Notification") and s.record["source_ticket"] == source_ticket)

    def audits(self, source_ticket: str) -> list[dict[str, Any]]:
        return [
            s.record
            for s in self.seen(
                lambda s: s.schema.endswith("AuditRecord") and s.record["source_ticket"] == source_ticket
            )
        ]

    def wait_caught_up(self, timeout: float = 120.0) -> None:
        """Wait until this watcher has read every watched partition up to its end offset as of now: after the
        platform drained its inputs, everything it wrote is then in `seen()`."""
        prefix = self.settings.topic_prefix.replace(".", r"\.")
        pattern = re.compile(f"^{prefix}\\.({self._watched})\\.v1$")
        probe = Consumer({**client_config(self.settings), "group.id": "harness-probe"})
        try:
            ends = {}
            for name, meta in probe.list_topics(timeout=10).topics.items():
                if pattern.match(name):
                    for partition in meta.partitions:
                        _, high = probe.get_watermark_offsets(TopicPartition(name, partition), timeout=10)
                        ends[(name, partition)] = high
        finally:
            probe.close()
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                behind = {place: end for place, end in ends.items() if end and self._next.get(place, 0) < end}
            if not behind:
                return
            assert time.monotonic() < deadline, f"the harness did not read up to the end of {sorted(behind)[:5]}"
            time.sleep(0.2)

    def settle(self, quiet: float = 2.0, timeout: float = 60.0) -> None:
        """Wait until nothing new has arrived for `quiet` seconds."""
        deadline = time.monotonic() + timeout
        last = -1
        since = time.monotonic()
        while time.monotonic() < deadline:
            count = sum(self.counts.values())
            if count != last:
                last, since = count, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return
            time.sleep(0.1)


def eventually(what: str, probe: Callable[[], Any], timeout: float = 180.0) -> Any:
    """The first truthy answer of ``probe``: a loaded machine may take long, so this only bounds a hang."""
    deadline = time.monotonic() + timeout
    while not (answer := probe()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)
    return answer


def sigkill_worker(workers: PlatformWorkers) -> None:
    """Kill the running `crossroads worker` hard (SIGKILL: no shutdown, no commit, no flush of any kind)."""
    workers.check()
    pid = workers.processes["worker"].pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)


def ticket_of(ack: dict[str, Any]) -> str:
    assert ack["status"] == "ACCEPTED", ack["violations"]
    return str(ack["ticket"])


def by_recipient(seen: Iterator[Seen] | list[Seen]) -> dict[str, list[dict[str, Any]]]:
    result: dict[str, list[dict[str, Any]]] = {}
    for s in seen:
        result.setdefault(s.record["recipient"], []).append(s.record)
    return result


def own_run(base: Settings, label: str, **updates: Any) -> Settings:
    """`base` under a topic prefix and an app id of its own (`<prefix>-<label><tag>`): a test's topics and
    consumer groups that nothing else reads or commits to, with the services' and institutions' grants on them
    (the services the test starts log in as themselves); drop both with `drop_topics`."""
    tag = uuid.uuid4().hex[:6]
    own = {"topic_prefix": f"{base.topic_prefix}-{label}{tag}", "app_id": f"{base.app_id}-{label}{tag}"}
    settings = base.model_copy(update={**own, **updates})
    grant_deployment(settings)
    return settings


def drop_topics(settings: Settings) -> None:
    """Delete the topics under the settings' prefix and app id, and their grants (best effort: a test's
    cleanup)."""
    delete_run_topics(settings)
