"""The outbound connector: an actor's mailbox drained into reply files ``FO.NOTI.MBOX.<actor>.<date>.<seq>.<R|T>``.

Order of every step, so that nothing is lost: read messages -> write the file whole (temporary file, fsync,
rename, fsync of the directory) -> commit the offsets after the file's last message. A crash before the commit
means the next run reads those messages again and writes them again in a new file: a duplicate carries the
same ticket (and the same topic/partition/offset), never a different one.

An institution's mailbox is a topic of its own. Employers share one (``streams.catalog.mailbox_of``): the
connector reads only the partition the employer's key hashes to, keeps the records with that key and skips the
others. Its consumer group is the actor's own, so a committed offset still means "every message of this actor
before here is in a file": it moves after a file is written, or over other employers' records only.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable, Collection
from pathlib import Path
from threading import Event
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from connectors.files.fsio import atomic_write, exclusive, json_lines, watermarks
from streams.catalog import mailbox_of
from streams.codecs import CodecError
from streams.composition import codec_for, network_for
from streams.domain.filedrop import PLATFORM_ENVIRONMENT
from streams.kafka.partitioner import partition_for
from streams.kafka.security import client_config
from streams.settings import Settings

log = logging.getLogger("crossroads.connectors.outbound")

DEFAULT_PER_FILE = 10_000
_SEQ = re.compile(r"^FO\.NOTI\.MBOX\.[^.]+\.\d{8}\.(\d+)\.")


class OutboundConnector:
    def __init__(
        self,
        settings: Settings,
        actor: str,
        directory: Path,
        *,
        per_file: int = DEFAULT_PER_FILE,
        written: Callable[[Path, int], None] | None = None,
        institutions: Collection[str] | None = None,  # None: the network's (settings.network_dir)
    ) -> None:
        self.settings = settings
        self.actor = actor
        self.directory = directory
        self.per_file = max(1, per_file)
        self.written = written
        if institutions is None:
            institutions = network_for(settings).institutions
        spec, self.key = mailbox_of(actor, institutions)  # key: None for a topic of its own
        self.topic = spec.topic(settings.topic_prefix)
        self.codec = codec_for(settings)
        self.environment = PLATFORM_ENVIRONMENT[settings.environment]
        self._consumer: Consumer | None = None
        self.group_id = f"{settings.app_id}-outbound-{actor}"

    def run(self, *, once: bool = False, interval: float = 2.0, stop: Event | None = None) -> list[Path]:
        stop = stop or Event()
        files: list[Path] = []
        with exclusive(self.directory / ".state" / f"outbound-{self.actor}.lock"):
            try:
                while True:
                    files.extend(self.drain())
                    if once or stop.wait(interval):
                        break
            finally:
                if self._consumer is not None:
                    self._consumer.close()
                    self._consumer = None
        return files

    def _consumer_for(self) -> Consumer:
        if self._consumer is None:
            self._consumer = Consumer(
                {
                    **client_config(self.settings),
                    "group.id": self.group_id,
                    "enable.auto.commit": False,
                    "enable.partition.eof": True,
                    "auto.offset.reset": "earliest",
                    "log_level": 3,
                }
            )
        return self._consumer

    def drain(self) -> list[Path]:
        """Everything in the mailbox up to its current end, in files of at most ``per_file`` messages."""
        consumer = self._consumer_for()
        try:
            metadata = consumer.list_topics(self.topic, timeout=10).topics.get(self.topic)
        except KafkaException as exc:
            log.warning("cannot reach Kafka: %s", exc)
            return []
        if metadata is None or metadata.error is not None or not metadata.partitions:
            log.info("no mailbox %s yet: nothing was ever delivered to %s", self.topic, self.actor)
            return []
        partitions = sorted(metadata.partitions)
        if self.key is not None:  # the shared employers' mailbox: the actor's records are all on one partition
            partitions = [partition_for(self.key, len(partitions))]
        committed = consumer.committed([TopicPartition(self.topic, p) for p in partitions], timeout=10)
        start = {tp.partition: tp.offset if tp.offset >= 0 else OFFSET_BEGINNING for tp in committed}
        ends = {p: watermarks(consumer, self.topic, p) for p in partitions}
        pending = {p for p in partitions if (start[p] if start[p] >= 0 else ends[p][0]) < ends[p][1]}
        if not pending:
            return []
        consumer.assign([TopicPartition(self.topic, p, start[p]) for p in sorted(pending)])
        files: list[Path] = []
        lines: list[dict[str, Any]] = []
        next_offsets: dict[int, int] = {}  # after the last message read: ours in `lines`, or another actor's
        try:
            while pending:
                for message in consumer.consume(num_messages=min(1000, self.per_file - len(lines)), timeout=1.0):
                    partition = message.partition() or 0
                    error = message.error()
                    if error is not None:
                        if error.code() == KafkaError._PARTITION_EOF:
                            pending.discard(partition)
                            continue
                        raise KafkaException(error)
                    offset = message.offset() or 0
                    if self.key is None or message.key() == self.key:
                        lines.append(self._line(partition, offset, message.value() or b""))
                    next_offsets[partition] = offset + 1
                    if offset >= ends[partition][1] - 1:
                        pending.discard(partition)
                    if len(lines) >= self.per_file:
                        files.append(self._write_and_commit(consumer, lines, next_offsets))
                        lines, next_offsets = [], {}
            if lines:
                files.append(self._write_and_commit(consumer, lines, next_offsets))
            elif next_offsets:  # only other actors' records since the last file: nothing to write, skip them
                self._commit(consumer, next_offsets)
        finally:
            consumer.unassign()
        return files

    def _line(self, partition: int, offset: int, value: bytes) -> dict[str, Any]:
        position = {"topic": self.topic, "partition": partition, "offset": offset}
        try:
            decoded = self.codec.decode(value)
        except CodecError as exc:
            return {**position, "kind": "Undecodable", "ticket": None, "reason": exc.reason, "raw": value.hex()}
        record = decoded.record
        return {
            **position,
            "kind": decoded.schema_name.rpartition(".")[2],
            "ticket": record.get("ticket"),
            "record": record,
        }

    def _next_name(self) -> Path:
        today = dt.datetime.now(dt.UTC).strftime("%Y%m%d")
        seqs = [int(m.group(1)) for p in self.directory.glob("FO.NOTI.MBOX.*") if (m := _SEQ.match(p.name))]
        seq_file = self.directory / ".state" / f"outbound-{self.actor}.seq"
        if seq_file.exists():
            seqs.append(int(seq_file.read_text().strip() or 0))
        seq = max(seqs, default=0) + 1
        while True:
            path = self.directory / f"FO.NOTI.MBOX.{self.actor}.{today}.{seq:06d}.{self.environment}.jsonl"
            if not path.exists():
                return path
            seq += 1

    def _write_and_commit(self, consumer: Consumer, lines: list[dict[str, Any]], offsets: dict[int, int]) -> Path:
        path = self._next_name()
        atomic_write(path, json_lines(lines))  # on disk before the offsets move
        atomic_write(self.directory / ".state" / f"outbound-{self.actor}.seq", path.name.split(".")[5].encode())
        self._commit(consumer, offsets)
        log.info("%s: %d messages of %s, offsets committed", path.name, len(lines), self.topic)
        if self.written is not None:
            self.written(path, len(lines))
        return path

    def _commit(self, consumer: Consumer, offsets: dict[int, int]) -> None:
        consumer.commit(
            offsets=[TopicPartition(self.topic, p, o) for p, o in sorted(offsets.items())], asynchronous=False
        )
