"""The demo's main part: a synthetic Belgium streamed through the running platform, and what came out of it.

:func:`select` picks what is streamed within a budget of records (the platform takes a few hundred declarations
a second on a laptop; 100,000 citizens are about 450,000 population records without the directory's history);
:func:`stream` sends them with a watcher reading the platform's outputs; :func:`collect_figures` turns both
into the report's figures (a plain dict: JSON, console and HTML are all drawn from it).
"""

from __future__ import annotations

import random
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition

from streams.codecs import AvroCodec
from streams.domain.audit import outputs_of
from streams.domain.kinds import subject_key
from streams.kafka import KafkaAdapterError
from streams.kafka.producer import DeclarationProducer
from streams.kafka.security import client_config
from streams.settings import Settings
from streams.synthetic import NATIONAL_REGISTER, Generated, Population

CONSULTATION_REQUEST = "be.crossroads.consultation.ConsultationRequest"
WATCHED = r"mailbox\..*|outcomes\.rejections|outcomes\.dead-letters|audit\.exchanges"
AGE_BANDS = tuple(range(0, 100, 5))  # 0-4 ... 95+
EXAMPLES = 5  # declarations without an outcome named when the demo fails on them

Place = tuple[str, int]  # (topic, partition)


@dataclass(frozen=True)
class Selection:
    """What the demo streams, and what it leaves out (counts)."""

    records: list[Generated]
    sampled_citizens: int
    population_records: int  # of the sampled citizens, streamed
    population_skipped: int  # of the others (the directory's history is never generated for streaming)
    day_records: int
    day_skipped: int
    employers: int  # distinct employers among the senders (their mailboxes: one shared topic, keyed by employer)


def _key(item: Generated) -> str | None:
    return subject_key(item.schema, item.record)


def select(population: Population, day: list[Generated], max_records: int, seed: int) -> Selection:
    """Up to ``max_records``: the current state (no directory history) of a random sample of citizens, then the
    day's records, those about the sample first (so they find their files), in the day's order.

    Half the budget goes to the population when the day does not need it all.  Every employer's declarations
    are kept: employers share one mailbox topic (keyed by employer), so their number costs the broker nothing."""
    population_items = list(population.records(history=False))
    per_person = Counter(_key(item) for item in population_items)
    day_budget = min(len(day), max_records // 2)
    population_budget = max_records - day_budget
    order = list(population.citizens)
    random.Random(seed).shuffle(order)
    sample: set[str] = set()
    used = 0
    for citizen in order:
        cost = per_person.get(citizen.niss, 0)
        if used + cost > population_budget:
            break
        sample.add(citizen.niss)
        used += cost
    chosen = [item for item in population_items if _key(item) in sample]
    about_sample = [item for item in day if _key(item) in sample]
    others = [item for item in day if _key(item) not in sample]
    room = max(0, max_records - len(chosen) - len(about_sample))
    chosen_day = about_sample[: max_records - len(chosen)]
    kept = set(map(id, chosen_day)) | set(map(id, others[:room]))
    day_items = [item for item in day if id(item) in kept]  # the day's own order (a CANCEL after its IN)
    institutions = set(population.network.institutions) | {NATIONAL_REGISTER}
    employers = {item.sender for item in (*chosen, *day_items)} - institutions
    return Selection(
        records=chosen + day_items,
        sampled_citizens=len(sample),
        population_records=len(chosen),
        population_skipped=len(population_items) - len(chosen),
        day_records=len(day_items),
        day_skipped=len(day) - len(day_items),
        employers=len(employers),
    )


@dataclass
class Seen:
    topic: str
    schema: str
    record: dict[str, Any]
    timestamp_ms: int
    # a notification of a fact delivered under a ticket of its own (a DmfA line, derived from its declaration's):
    # the ticket of the declaration it comes from, which its payload's envelope carries
    origin: str | None = None


def _origin(codec: AvroCodec, short: str, record: dict[str, Any]) -> str | None:
    if short != "Notification":
        return None
    try:
        ticket = codec.decode(record["payload"]).record["envelope"]["ticket"]
    except Exception:
        return None
    return str(ticket) if ticket and ticket != record["source_ticket"] else None


@dataclass
class Watcher:
    """Reads the platform's outputs written since ``since_ms`` (every mailbox, rejections, dead letters, audit)."""

    settings: Settings
    codec: AvroCodec
    since_ms: int
    seen: list[Seen] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._positions: set[tuple[str, int, int]] = set()
        prefix = self.settings.topic_prefix.replace(".", r"\.")
        self._consumer = Consumer(
            {
                **client_config(self.settings),
                "group.id": f"demo-{uuid.uuid4().hex}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                "log_level": 3,
            }
        )
        self._pattern = re.compile(f"^{prefix}\\.({WATCHED})\\.v1$")
        self._assigned: set[tuple[str, int]] = set()
        self._next: dict[Place, int] = {}  # the offset this reader reads next, per assigned partition
        self._thread = threading.Thread(target=self._collect, daemon=True, name="demo-watcher")
        self._thread.start()

    def _assign_new(self) -> None:
        """Assign the partitions of matching topics not assigned yet (a topic or partitions added while the demo
        runs). Manual assignment, no consumer group rebalance: a pattern subscription rebalances on every new
        topic; when every employer had a mailbox topic of its own, created on its first acknowledgement, a worker
        creating mailboxes every second kept it from ever consuming."""
        try:
            topics = self._consumer.list_topics(timeout=10).topics
        except KafkaException:
            return
        new = [
            TopicPartition(name, p)
            for name, meta in topics.items()
            if self._pattern.match(name)
            for p in meta.partitions
            if (name, p) not in self._assigned
        ]
        if new:
            positions = _since(self._consumer, new)
            self._consumer.incremental_assign(positions)
            self._assigned.update((tp.topic, tp.partition) for tp in new)
            with self._lock:
                for tp in positions:  # OFFSET_BEGINNING and the like: from the partition's first offset
                    self._next[(tp.topic, tp.partition)] = max(tp.offset, 0)

    def _collect(self) -> None:
        refreshed = 0.0
        while not self._stop.is_set():
            if time.monotonic() - refreshed > 1.0:
                self._assign_new()
                refreshed = time.monotonic()
            try:
                messages = self._consumer.consume(num_messages=500, timeout=0.2)
            except KafkaException:  # a partition of a topic created a moment ago has no leader yet
                time.sleep(0.2)
                continue
            for message in messages:
                if message.error():
                    continue
                position = (message.topic() or "", message.partition() or 0, message.offset() or 0)
                with self._lock:
                    place = position[:2]
                    self._next[place] = max(self._next.get(place, 0), position[2] + 1)
                if position in self._positions:
                    continue
                try:
                    decoded = self.codec.decode(message.value() or b"")
                except Exception:
                    continue
                with self._lock:
                    self._positions.add(position)
                    for schema, record in outputs_of(decoded.schema_name, decoded.record):  # an AuditBatch: each
                        short, fields = schema.rpartition(".")[2], dict(record)
                        origin = _origin(self.codec, short, fields)
                        self.seen.append(Seen(position[0], short, fields, message.timestamp()[1], origin))
                        self.counts[short] += 1
        self._consumer.close()

    def snapshot(self) -> list[Seen]:
        with self._lock:
            return list(self.seen)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(15)

    def wait_caught_up(self, *, timeout: float, check: Callable[[], None] = lambda: None) -> None:
        """Block until this reader has read every watched partition up to its end offset as of this call: once
        the platform has drained its inputs, everything it wrote is then in `snapshot()`. `check` is called on
        every round (it raises to stop the wait). Raises KafkaAdapterError naming the partitions still behind."""
        ends = _ends(self.settings, self._pattern)
        deadline = time.monotonic() + timeout
        while True:
            check()
            with self._lock:
                behind = partitions_behind(ends, self._next)
            if not behind:
                return
            if time.monotonic() > deadline:
                described = ", ".join(f"{topic}[{partition}]" for topic, partition in behind[:10])
                raise KafkaAdapterError(
                    f"the demo's reader did not reach the end of {len(behind)} output partition(s) within "
                    f"{timeout:.0f}s: {described}"
                )
            time.sleep(0.2)


def partitions_behind(ends: Mapping[Place, tuple[int, int]], next_offsets: Mapping[Place, int]) -> list[Place]:
    """The partitions a reader has not read to their end: `ends` gives each partition's (low, high) watermarks,
    `next_offsets` the offset the reader reads next in each partition it is assigned (absent: not assigned yet).
    A partition holding nothing (high = low) is never behind."""

    def behind(place: Place, low: int, high: int) -> bool:
        if high <= low:
            return False
        reader = next_offsets.get(place)
        return reader is None or max(reader, low) < high

    return sorted(place for place, (low, high) in ends.items() if behind(place, low, high))


def _ends(settings: Settings, pattern: re.Pattern[str]) -> dict[Place, tuple[int, int]]:
    """The (low, high) watermarks of every partition of the topics matching `pattern`, as of now."""
    probe = Consumer({**client_config(settings), "group.id": f"demo-probe-{uuid.uuid4().hex}", "log_level": 3})
    try:
        topics = probe.list_topics(timeout=10).topics
        ends = {}
        for name, meta in topics.items():
            if pattern.match(name):
                for partition in meta.partitions:
                    low, high = probe.get_watermark_offsets(TopicPartition(name, partition), timeout=10)
                    ends[(name, partition)] = (int(low), int(high))
        return ends
    except KafkaException as exc:
        raise KafkaAdapterError(f"cannot read the end offsets of the demo's outputs: {exc}") from exc
    finally:
        probe.close()


def _since(consumer: Consumer, wanted: list[TopicPartition]) -> list[TopicPartition]:
    """The first offsets at or after each partition's timestamp; the end when nothing was written since; the
    beginning when the broker cannot tell yet (a brand-new topic: the filters on our references keep it exact)."""
    for _attempt in range(5):
        try:
            found = consumer.offsets_for_times(wanted, timeout=10)
            break
        except KafkaException:
            time.sleep(0.5)
    else:
        return [TopicPartition(p.topic, p.partition, OFFSET_BEGINNING) for p in wanted]
    positions = []
    for p in found:
        if p.offset >= 0:
            positions.append(p)
            continue
        try:
            _, high = consumer.get_watermark_offsets(TopicPartition(p.topic, p.partition), timeout=10)
        except KafkaException:
            high = OFFSET_BEGINNING
        positions.append(TopicPartition(p.topic, p.partition, high))
    return positions


@dataclass
class Sent:
    """What the demo sent: filled by :func:`stream` (once per phase)."""

    references: dict[str, tuple[str, float]] = field(default_factory=dict)  # reference -> (schema, wall-clock)
    # (requester, person, data_type) -> references, in sending order (a day may ask the same twice)
    consultations: dict[tuple[str, str, str], list[str]] = field(default_factory=dict)
    expected_invalid: int = 0
    expected_refused: int = 0
    began: float = field(default_factory=time.time)
    ended: float = 0.0


def stream(
    settings: Settings,
    codec: AvroCodec,
    records: Iterable[Generated],
    sent: Sent,
    on_sent: Callable[[int], None] = lambda n: None,
) -> Sent:
    """Send every record to its intake topic, keyed by its subject, noting the wall-clock time of each."""
    producer = DeclarationProducer(settings, codec)
    for item in records:
        reference = str(item.record["envelope"]["sender_reference"])
        sent.references[reference] = (item.schema.rpartition(".")[2], time.time())
        if item.schema == CONSULTATION_REQUEST:
            sent.consultations.setdefault(consultation_key(item.record), []).append(reference)
        producer.send(item.schema, item.record, _key(item))
        sent.expected_invalid += item.invalid is not None
        sent.expected_refused += item.authorized is False
        if len(sent.references) % 200 == 0:
            on_sent(len(sent.references))
    producer.flush(120)
    sent.ended = time.time()
    on_sent(len(sent.references))
    return sent


def consultation_key(record: dict[str, Any]) -> tuple[str, str, str]:
    """What links a consultation reply to its request: an accepted request is not acknowledged, it is answered."""
    return str(record["requester"]), str(record["person"]), str(record["data_type"])


def answered(sent: Sent, seen: Iterable[Seen]) -> dict[str, str]:
    """Request ticket -> sender reference for our consultations that have a reply (the n-th reply with a given
    requester, person and data type answers the n-th such request)."""
    matched: dict[str, str] = {}
    used: Counter[tuple[str, str, str]] = Counter()
    for s in seen:
        if s.schema != "ConsultationReply":
            continue
        key = consultation_key(s.record)
        references = sent.consultations.get(key, [])
        if used[key] < len(references) and s.record["request_ticket"] not in matched:
            matched[s.record["request_ticket"]] = references[used[key]]
            used[key] += 1
    return matched


def settled(sent: Sent, seen: Iterable[Seen]) -> tuple[set[str], int]:
    """(our references with an outcome: acknowledged or answered, dead letters written since the demo began). A
    dead letter holds bytes that did not decode: it cannot be matched to a reference, only counted."""
    seen = list(seen)
    done = set(answered(sent, seen).values())
    dead = 0
    for s in seen:
        if s.schema == "Acknowledgement" and s.record["sender_reference"] in sent.references:
            done.add(s.record["sender_reference"])
        elif s.schema == "DeadLetter" and s.timestamp_ms >= sent.began * 1000:
            dead += 1
    return done, dead


def outcomes_done(watcher: Watcher, sent: Sent) -> tuple[int, int]:
    """(declarations with an outcome so far, dead letters), see :func:`settled`."""
    done, dead = settled(sent, watcher.snapshot())
    return len(done), dead


def without_outcome(sent: Sent, seen: Iterable[Seen]) -> tuple[int, list[str]]:
    """How many declarations sent have no outcome -- neither acknowledged nor answered, beyond the dead letters
    (which cannot be matched to a reference) -- and up to EXAMPLES of those neither acknowledged nor answered
    ("<type> <reference>"), in the order they were sent."""
    done, dead = settled(sent, seen)
    missing = max(0, len(sent.references) - len(done) - dead)
    if not missing:
        return 0, []
    examples = [f"{kind} {reference}" for reference, (kind, _) in sent.references.items() if reference not in done]
    return missing, examples[:EXAMPLES]


class OutcomesMissing(Exception):
    """Declarations still have no outcome although the worker's group drained every topic it consumes and the
    demo read every output to its end: the platform lost them or never answered."""

    def __init__(self, missing: int, sent: int, examples: list[str]) -> None:
        self.missing, self.sent, self.examples = missing, sent, examples
        super().__init__(
            f"{missing:,} of {sent:,} declarations have no outcome (acknowledgement, reply or dead letter) although "
            f"the worker drained its inputs and every output was read; e.g. {', '.join(examples) or '-'}"
        )


def backlog(settings: Settings) -> int:
    """Records waiting in the intake topics for the worker's consumer group (earlier runs' leftovers)."""
    from streams.catalog import CATALOG, Area
    from streams.kafka.admin import group_lag

    topics = [spec.topic(settings.topic_prefix) for spec in CATALOG if spec.area is Area.INTAKE]
    return sum(partition.lag for partition in group_lag(settings, settings.app_id, topics))
