"""The inbound connector: partner folders -> formal checks (ACRF) -> record validation (NOTI) -> intake topics.

Layout of the root folder given with ``--dir``::

    <root>/<partner>/               the partner drops FI.…, then GO.… (or TD.… to cancel) here
    <root>/<partner>/out/           replies: FO.ACRF.…, FO.NOTI.… (written whole: temporary file, fsync, rename)
    <root>/<partner>/archive/       processed data files (and their GO)
    <root>/<partner>/error/         refused or failed data files, with <name>.reason
    <root>/<partner>/cancelled/     data files cancelled by a TD
    <root>/<partner>/.state/<id>/   per file identity: the ACRF given, the claim (content hash), the journal

Exactly-once onto the intake topic (see docs/connectors.md): an idempotent producer (no duplicate from its own
retries), a progress journal fsynced per chunk (journal.py), every record tagged with the headers
``crossroads-file`` (identity + content hash) and ``crossroads-record`` (its number in the file). After a
crash, the records of the one chunk the journal cannot vouch for are found on the topic by their headers,
from the end offsets the journal noted before that chunk was sent, and are not sent again.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from threading import Event
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from connectors.files.fsio import atomic_write, exclusive, json_line, json_lines, move, watermarks
from connectors.files.journal import Journal
from connectors.files.scan import Scanned, content_hash, scan_file
from streams.catalog import Area, by_key
from streams.codecs import CodecError
from streams.codecs.conform import conform
from streams.codecs.quality import FileFormat, read_records
from streams.composition import codec_for, network_for, registry_for
from streams.domain.admission import intake_ticket
from streams.domain.filedrop import (
    FILE_TYPES,
    DropKind,
    DropName,
    FileType,
    IdentityDecision,
    acrf,
    conflict_reason,
    decide_identity,
    envelope_anomalies,
    formal_check,
    noti_line,
    noti_trailer,
    origin,
    parse_drop_name,
    reply_name,
)
from streams.domain.kinds import subject_key, validate
from streams.domain.senders import sender_violations
from streams.domain.validation import Violation
from streams.kafka.producer import producer_config
from streams.kafka.sealing import intake_headers
from streams.kafka.security import client_config
from streams.settings import Settings

log = logging.getLogger("crossroads.connectors.inbound")

FILE_HEADER = "crossroads-file"
RECORD_HEADER = "crossroads-record"
DEFAULT_CHUNK = 5_000

ProgressHook = Callable[[str, int, int], None]  # (data file, records judged, records in the file)


class InfrastructureError(RuntimeError):
    """Kafka is not there (or a topic is missing): the file stays where it is and is tried again later."""


class DeliveryError(RuntimeError):
    """Records could not be produced: the file goes to error/; its journal keeps what was delivered."""


@dataclass
class FileOutcome:
    partner: str
    file: str
    status: str  # ACCEPTED | REFUSED | REPLAYED | CANCELLED | FAILED | WAITING
    records: int = 0
    accepted: int = 0
    rejected: int = 0
    resumed: int = 0  # records already on the intake topic (journal or scan) when this run started
    sent: int = 0  # records produced by this run
    recovered: int = 0  # of ``resumed``: found on the topic by their headers (the chunk a crash interrupted)
    seconds: float = 0.0
    acrf: Path | None = None
    noti: Path | None = None
    reasons: list[str] = field(default_factory=list)

    def summary(self) -> str:
        rate = f", {self.records / self.seconds:,.0f} records/s" if self.seconds and self.sent else ""
        why = f": {'; '.join(self.reasons)}" if self.reasons else ""
        return (
            f"{self.partner}/{self.file} {self.status} — {self.records} records, {self.accepted} accepted, "
            f"{self.rejected} rejected, {self.sent} sent, {self.resumed} already on the intake "
            f"({self.recovered} found there by their headers), "
            f"{self.seconds:.1f}s{rate}{why}"
        )


@dataclass(frozen=True, slots=True)
class _Judged:
    number: int
    schema: str | None
    reference: str | None
    anomalies: list[Violation]
    value: bytes | None = None
    key: str | None = None


class PartnerFolder:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.owner = path.name
        self.out = path / "out"
        self.archive = path / "archive"
        self.error = path / "error"
        self.cancelled = path / "cancelled"
        self.state = path / ".state"

    def identity_dir(self, key: str) -> Path:
        return self.state / key


class InboundConnector:
    """Process every partner folder under ``root``: ``scan_once()`` for one pass, ``run()`` as a service."""

    def __init__(
        self,
        settings: Settings,
        root: Path,
        *,
        chunk: int = DEFAULT_CHUNK,
        progress: ProgressHook | None = None,
        go_grace_seconds: float = 60.0,
        on_outcomes: Callable[[list[FileOutcome]], None] | None = None,
    ) -> None:
        self.settings = settings
        self.on_outcomes = on_outcomes
        self.root = root
        self.chunk = max(1, chunk)
        self.progress = progress
        self.go_grace_seconds = go_grace_seconds
        self.registry = registry_for(settings)
        self.codec = codec_for(settings, self.registry)
        # the senders register, to judge a partner's declarations as the intake will (mandates, sources)
        self.network = network_for(settings)
        self._producer: Producer | None = None
        self._meta: Consumer | None = None
        self._deliveries: list[tuple[int, int, int]] = []
        self._failures: list[str] = []

    # -- service --------------------------------------------------------------------------------------------

    def run(self, *, once: bool = False, interval: float = 2.0, stop: Event | None = None) -> list[FileOutcome]:
        stop = stop or Event()
        done: list[FileOutcome] = []
        with exclusive(self.root / ".inbound.lock"):
            while True:
                try:
                    outcomes = self.scan_once()
                    done.extend(outcomes)
                    if self.on_outcomes is not None:
                        self.on_outcomes(outcomes)
                except InfrastructureError as exc:
                    if once:
                        raise
                    log.warning("Kafka unavailable, trying again in %.0fs: %s", interval, exc)
                if once or stop.wait(interval):
                    break
        self.close()
        return done

    def close(self) -> None:
        if self._producer is not None:
            self._producer.flush(30)
        if self._meta is not None:
            self._meta.close()
            self._meta = None

    def scan_once(self) -> list[FileOutcome]:
        self.root.mkdir(parents=True, exist_ok=True)
        outcomes: list[FileOutcome] = []
        for path in sorted(self.root.iterdir()):
            if path.is_dir() and not path.name.startswith("."):
                outcomes.extend(self.process_partner(PartnerFolder(path)))
        return outcomes

    def process_partner(self, folder: PartnerFolder) -> list[FileOutcome]:
        data: dict[str, tuple[Path, DropName]] = {}
        go: dict[str, Path] = {}
        cancel: dict[str, Path] = {}
        for path in sorted(folder.path.iterdir()):
            if not path.is_file():
                continue
            name = parse_drop_name(path.name)
            if name is None:
                continue
            if name.kind is DropKind.DATA:
                data[name.tail] = (path, name)
            elif name.kind is DropKind.GO:
                go[name.tail] = path
            else:
                cancel[name.tail] = path
        outcomes = []
        for tail, td in cancel.items():
            outcomes.append(self._cancel(folder, tail, td, data.pop(tail, None)))
            go.pop(tail, None)
        for tail, go_path in sorted(go.items()):
            if tail in data:
                path, name = data[tail]
                outcomes.append(self.process_file(folder, path, name, go_path))
            elif time.time() - go_path.stat().st_mtime > self.go_grace_seconds:
                reason = f"{go_path.name} names no data file FI.{tail} in the folder"
                target = move(go_path, folder.error)
                atomic_write(target.with_name(target.name + ".reason"), (reason + "\n").encode())
                log.warning("%s/%s: %s", folder.owner, go_path.name, reason)
                outcomes.append(FileOutcome(folder.owner, go_path.name, "FAILED", reasons=[reason]))
        return outcomes

    def _cancel(self, folder: PartnerFolder, tail: str, td: Path, data: tuple[Path, DropName] | None) -> FileOutcome:
        if data is None:
            reason = f"nothing to cancel: no data file FI.{tail} waits in the folder"
            target = move(td, folder.error)
            atomic_write(target.with_name(target.name + ".reason"), (reason + "\n").encode())
            log.warning("%s/%s: %s", folder.owner, td.name, reason)
            return FileOutcome(folder.owner, td.name, "FAILED", reasons=[reason])
        path, name = data
        identity = name.identity()
        if identity is not None:
            claim = self._claim(folder, identity.key)
            if claim is not None and claim.get("sha256") == content_hash(path)[0] and not claim.get("finished"):
                reason = "too late to cancel: the file is being processed (its records are on their way)"
                target = move(td, folder.error)
                atomic_write(target.with_name(target.name + ".reason"), (reason + "\n").encode())
                log.warning("%s/%s: %s", folder.owner, td.name, reason)
                return FileOutcome(folder.owner, td.name, "FAILED", reasons=[reason])
        move(path, folder.cancelled)
        move(td, folder.cancelled)
        go = folder.path / f"GO.{tail}"
        if go.exists():
            move(go, folder.cancelled)
        log.info("%s/%s cancelled by %s", folder.owner, path.name, td.name)
        return FileOutcome(folder.owner, path.name, "CANCELLED")

    # -- one file -------------------------------------------------------------------------------------------

    def _claim(self, folder: PartnerFolder, key: str) -> dict[str, Any] | None:
        path = folder.identity_dir(key) / "claim.json"
        if not path.exists():
            return None
        claim: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        if (folder.identity_dir(key) / "done.json").exists():
            claim["finished"] = True
        return claim

    def process_file(self, folder: PartnerFolder, path: Path, name: DropName, go: Path) -> FileOutcome:
        started = time.monotonic()
        outcome = FileOutcome(folder.owner, path.name, "FAILED")
        try:
            self._process(folder, path, name, go, outcome)
        except InfrastructureError:
            raise
        except Exception as exc:  # a bad file must not stop the service: error/, with the reason
            log.exception("%s/%s failed", folder.owner, path.name)
            outcome.status = "FAILED"
            outcome.reasons.append(f"{type(exc).__name__}: {exc}")
            target = move(path, folder.error)
            atomic_write(target.with_name(target.name + ".reason"), ("\n".join(outcome.reasons) + "\n").encode())
            if go.exists():
                move(go, folder.error)
        outcome.seconds = time.monotonic() - started
        log.info("%s", outcome.summary())
        return outcome

    def _process(self, folder: PartnerFolder, path: Path, name: DropName, go: Path, outcome: FileOutcome) -> None:
        scanned, file_format = scan_file(path, name.extension)
        sha = scanned.sha256
        outcome.records = scanned.scan.records
        reasons = formal_check(name, folder.owner, scanned.scan, platform_environment=self.settings.environment)
        identity = name.identity()
        decision = IdentityDecision.NEW
        state_dir: Path | None = None
        if identity is not None:
            state_dir = folder.identity_dir(identity.key)
            claim = self._claim(folder, identity.key)
            taken_by = claim.get("sha256") if claim else None
            decision = decide_identity(taken_by, bool(claim and claim.get("finished")), sha)
            if decision is IdentityDecision.CONFLICT and taken_by is not None:
                reasons.append(conflict_reason(identity, taken_by))
        acrf_path = folder.out / reply_name("ACRF", name.tail, sha)
        outcome.acrf = acrf_path
        if decision is IdentityDecision.REPLAY and state_dir is not None:
            atomic_write(acrf_path, (state_dir / "ACRF").read_bytes())  # the original answer, byte for byte
            move(path, folder.archive)
            move(go, folder.archive)
            outcome.status = "REPLAYED"
            outcome.reasons.append("already processed: the original ACRF is answered again, nothing is sent")
            return
        if reasons or identity is None or state_dir is None or file_format is None:
            body = acrf(path.name, name, sha, scanned.scan, reasons, dt.datetime.now(dt.UTC))
            atomic_write(acrf_path, json_line(body))
            target = move(path, folder.error)
            atomic_write(
                target.with_name(target.name + ".reason"),
                "".join(f"{r.code}: {r.message}\n" for r in reasons).encode(),
            )
            move(go, folder.error)
            outcome.status = "REFUSED"
            outcome.reasons.extend(f"{r.code}: {r.message}" for r in reasons)
            return
        if decision is IdentityDecision.NEW:
            body = acrf(path.name, name, sha, scanned.scan, [], dt.datetime.now(dt.UTC))
            atomic_write(state_dir / "ACRF", json_line(body))
            atomic_write(
                state_dir / "claim.json",
                json.dumps({"sha256": sha, "file": path.name, "acrf": acrf_path.name}).encode(),
            )
        atomic_write(acrf_path, (state_dir / "ACRF").read_bytes())
        file_type = FILE_TYPES[name.type_code]
        results = self._ingest(folder, path, name, file_type, file_format, scanned, state_dir, outcome)
        noti_path = folder.out / reply_name("NOTI", name.tail, sha)
        atomic_write(noti_path, json_lines(results))
        outcome.noti = noti_path
        atomic_write(
            state_dir / "done.json",
            json.dumps(
                {"records": outcome.records, "accepted": outcome.accepted, "rejected": outcome.rejected}
            ).encode(),
        )
        move(path, folder.archive)
        move(go, folder.archive)
        outcome.status = "ACCEPTED"

    # -- records --------------------------------------------------------------------------------------------

    def judge(
        self,
        number: int,
        type_name: str | None,
        raw: Any,
        error: Violation | None,
        ftype: FileType,
        partner: str,
        environment: str,
    ) -> _Judged:
        """The intake's verdict on one record, computed here: the record as the intake will decode it, then the
        very :func:`validate` the intake calls."""
        if error is not None:
            return _Judged(number, None, None, [error])
        name = type_name or ftype.default_schema
        if name is None:
            missing = Violation("file.type_missing", "type", "the record does not say its type: add a 'type' field")
            return _Judged(number, None, None, [missing])
        try:
            schema = self.registry.resolve(name)
        except CodecError as exc:
            return _Judged(number, None, None, [Violation("declaration.unknown_type", "type", exc.reason)])
        if not isinstance(raw, dict):
            return _Judged(number, schema, None, [Violation("file.record", "", "a record must be an object")])
        anomalies = envelope_anomalies(ftype, schema, raw, partner, environment)
        envelope = raw.get("envelope")
        reference = envelope.get("sender_reference") if isinstance(envelope, dict) else None
        reference = reference if isinstance(reference, str) else None
        if anomalies and schema not in ftype.schemas:
            return _Judged(number, schema, reference, anomalies)
        record, structural = conform(self.registry, schema, raw)
        if structural:
            return _Judged(number, schema, reference, anomalies + structural)
        try:
            value = self.codec.encode(schema, record)
            decoded = self.codec.decode(value)
        except CodecError as exc:
            return _Judged(number, schema, reference, [*anomalies, Violation("schema.encode", "", exc.reason)])
        # the folder authenticates the partner: its records are sealed as the folder's owner (see _ingest)
        today = dt.datetime.now(dt.UTC).date()
        if not any(a.code == "file.sender" for a in anomalies):  # a record claiming another sender: said once
            anomalies.extend(
                sender_violations(decoded.schema_name, decoded.record, proven=partner, network=self.network, on=today)
            )
        anomalies.extend(validate(decoded.schema_name, decoded.record))
        if anomalies:
            return _Judged(number, schema, reference, anomalies)
        return _Judged(number, schema, reference, [], value, subject_key(decoded.schema_name, decoded.record))

    def _ingest(
        self,
        folder: PartnerFolder,
        path: Path,
        name: DropName,
        ftype: FileType,
        file_format: FileFormat,
        scanned: Scanned,
        state_dir: Path,
        outcome: FileOutcome,
    ) -> list[dict[str, Any]]:
        identity = name.identity()
        assert identity is not None
        topic = by_key(Area.INTAKE, ftype.family).topic(self.settings.topic_prefix)
        partitions = self._partitions(topic)
        tag = origin(identity, scanned.sha256).encode()
        journal = Journal(state_dir / "journal")
        progress = journal.load()
        if progress.open_from is not None:  # a crash in the middle of a chunk: what of it reached the topic?
            found = self._find_on_topic(topic, progress.open_from, tag)
            journal.close_chunk(sorted((n, p, o) for n, (p, o) in found.items() if n not in progress.delivered))
            log.info("%s/%s: resumed; %d records of the interrupted chunk were found on %s",
                     folder.owner, path.name, len(found), topic)  # fmt: skip
            progress.delivered.update(found)
            progress.open_from = None
            outcome.recovered = len(found)
        delivered = progress.delivered
        outcome.resumed = len(delivered)
        judged: list[_Judged] = []
        in_chunk = 0
        producer = self._producer_for()
        total = scanned.scan.records
        for raw in read_records(path, file_format):
            if raw.number == scanned.trailer_at:
                continue
            verdict = self.judge(
                raw.number, raw.type_name, raw.record, raw.error, ftype, folder.owner, name.environment
            )
            judged.append(verdict)
            if verdict.value is not None and raw.number not in delivered:
                if not in_chunk:
                    journal.open_chunk(self._end_offsets(topic, partitions))
                assert verdict.value is not None
                headers: list[tuple[str, str | bytes | None]] = [
                    (FILE_HEADER, tag),
                    (RECORD_HEADER, str(raw.number).encode()),
                    # the folder's owner, proven: the intake trusts the seal, not the envelope
                    *intake_headers(self.settings, folder.owner, topic, verdict.value),
                ]
                self._produce(producer, topic, verdict, headers)
                in_chunk += 1
                outcome.sent += 1
                if in_chunk >= self.chunk:
                    self._close_chunk(producer, journal, delivered)
                    in_chunk = 0
            if self.progress is not None and len(judged) % 1000 == 0:
                self.progress(path.name, len(judged), total)
        if in_chunk:
            self._close_chunk(producer, journal, delivered)
        if self.progress is not None:
            self.progress(path.name, len(judged), total)
        lines = []
        for verdict in judged:
            ticket = None
            if not verdict.anomalies:
                partition, offset = delivered[verdict.number]
                ticket = str(intake_ticket(topic, partition, offset))
                outcome.accepted += 1
            else:
                outcome.rejected += 1
            lines.append(noti_line(verdict.number, verdict.schema, verdict.reference, ticket, verdict.anomalies))
        lines.append(noti_trailer(len(judged), outcome.accepted, outcome.rejected))
        outcome.records = len(judged)
        return lines

    # -- Kafka ----------------------------------------------------------------------------------------------

    def _producer_for(self) -> Producer:
        if self._producer is None:
            self._producer = Producer(
                producer_config(
                    self.settings,
                    # no compression: the platform's faust consumers (aiokafka) cannot read lz4 or zstd without
                    # extra libraries, and a record they cannot read stops the worker
                    **{"linger.ms": 20, "queue.buffering.max.messages": 500_000},
                )
            )
        return self._producer

    def _metadata(self) -> Consumer:
        if self._meta is None:
            self._meta = Consumer(
                {
                    **client_config(self.settings),
                    "group.id": f"{self.settings.app_id}-files-inbound",
                    "enable.auto.commit": False,
                    "enable.partition.eof": True,
                    "log_level": 3,
                }
            )
        return self._meta

    def _partitions(self, topic: str) -> list[int]:
        deadline = time.monotonic() + 15  # a topic just created is missing from the metadata for a moment
        while True:
            try:
                metadata = self._metadata().list_topics(topic, timeout=10).topics.get(topic)
            except KafkaException as exc:
                raise InfrastructureError(f"cannot reach Kafka at {self.settings.kafka_bootstrap}: {exc}") from exc
            if metadata is not None and metadata.error is None and metadata.partitions:
                return sorted(metadata.partitions)
            if time.monotonic() > deadline:
                raise InfrastructureError(f"the intake topic {topic} does not exist (crossroads topics apply)")
            time.sleep(0.5)

    def _end_offsets(self, topic: str, partitions: list[int]) -> dict[int, int]:
        consumer = self._metadata()
        return {p: watermarks(consumer, topic, p)[1] for p in partitions}

    def _find_on_topic(self, topic: str, start: dict[int, int], tag: bytes) -> dict[int, tuple[int, int]]:
        """This file's records on ``topic`` from ``start`` to the current end, by their headers."""
        consumer = self._metadata()
        ends = self._end_offsets(topic, sorted(start))
        pending = {p for p, o in start.items() if o < ends[p]}
        found: dict[int, tuple[int, int]] = {}
        if not pending:
            return found
        consumer.assign([TopicPartition(topic, p, start[p]) for p in sorted(pending)])
        try:
            while pending:
                for message in consumer.consume(num_messages=2000, timeout=1.0):
                    partition = message.partition() or 0
                    error = message.error()
                    if error is not None:
                        if error.code() == KafkaError._PARTITION_EOF:
                            pending.discard(partition)
                            continue
                        raise InfrastructureError(f"reading {topic}: {error}")
                    offset = message.offset() or 0
                    headers = dict(message.headers() or [])
                    if headers.get(FILE_HEADER) == tag:
                        found[int(headers[RECORD_HEADER] or b"0")] = (partition, offset)
                    if offset >= ends[partition] - 1:
                        pending.discard(partition)
        finally:
            consumer.unassign()
        return found

    def _produce(
        self, producer: Producer, topic: str, verdict: _Judged, headers: list[tuple[str, str | bytes | None]]
    ) -> None:
        callback = functools.partial(self._on_delivery, verdict.number)
        key = verdict.key.encode() if verdict.key else None
        while True:
            try:
                producer.produce(topic, value=verdict.value, key=key, headers=headers, on_delivery=callback)
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)

    def _on_delivery(self, number: int, error: KafkaError | None, message: Message) -> None:
        if error is not None:
            self._failures.append(f"record {number}: {error}")
        else:
            self._deliveries.append((number, message.partition() or 0, message.offset() or 0))

    def _close_chunk(self, producer: Producer, journal: Journal, delivered: dict[int, tuple[int, int]]) -> None:
        remaining = producer.flush(300)
        deliveries, self._deliveries = self._deliveries, []
        failures, self._failures = self._failures, []
        for n, p, o in deliveries:
            delivered[n] = (p, o)
        if remaining:
            # the chunk stays open in the journal: a replay finds on the topic what did arrive
            raise DeliveryError(f"{remaining} records not acknowledged by Kafka in time")
        journal.close_chunk(deliveries)  # failed records have no D line: a replay sends them again
        if failures:
            raise DeliveryError(f"{len(failures)} records not delivered to the intake, first: {failures[0]}")
