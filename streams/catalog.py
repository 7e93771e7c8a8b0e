"""The topic catalog: every topic of the platform, its key, partitions and retention — as data.

Names follow `<prefix>.<area>.<name>.v<N>`; a new meaning gets a new version, never an edit in place.
Every record about a person is keyed by the national number (NISS), so all facts about one person stay
ordered on one partition.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

DAY_MS = 24 * 3600 * 1000
YEAR_MS = int(365.25 * DAY_MS)  # a legal period in years: on average, leap years included
FOREVER = -1
MAILBOX_RETENTION_MS = 30 * DAY_MS
# a segment is deleted only once it is rolled: with Kafka's default (7 days) a record of a short-lived topic would
# outlive its period by up to a week, so those roll daily and go at most a day after their period
SHORT_RETENTION_MS = 30 * DAY_MS
SHORT_SEGMENT_MS = DAY_MS

_NAME = re.compile(r"^[a-z][a-z0-9-]*\.[a-z][a-z0-9-]*\.[a-z0-9][a-z0-9-]*\.v[1-9][0-9]*$")


class Cleanup(StrEnum):
    DELETE = "delete"
    COMPACT = "compact"


class Area(StrEnum):
    INTAKE = "intake"
    FACTS = "facts"
    OUTCOMES = "outcomes"
    AUDIT = "audit"
    MAILBOX = "mailbox"
    DIRECTORY = "directory"
    CONSULTATIONS = "consultations"
    DMFA = "dmfa"
    REFERENCES = "references"


@dataclass(frozen=True)
class Retention:
    """A retention that follows a legal period in the settings: ``setting`` (a Settings field) times ``unit_ms``."""

    setting: str
    unit_ms: int


@dataclass(frozen=True)
class TopicSpec:
    area: Area
    name: str
    version: int
    key: str
    description: str
    partitions: int | None = None  # None: the settings' default
    cleanup: Cleanup = Cleanup.DELETE
    retention_ms: int = FOREVER
    extra_config: dict[str, str] = field(default_factory=dict)
    # when set, the retention comes from the settings (`resolved`), and retention_ms is only its placeholder
    retention_rule: Retention | None = None

    def topic(self, prefix: str) -> str:
        return f"{prefix}.{self.area}.{self.name}.v{self.version}"

    def config(self) -> dict[str, str]:
        """Broker-side topic configuration this spec asks for."""
        config = {"cleanup.policy": str(self.cleanup), **self.extra_config}
        if self.cleanup is Cleanup.DELETE:
            config["retention.ms"] = str(self.retention_ms)
            if self.retention_ms != FOREVER and self.retention_ms <= SHORT_RETENTION_MS:
                config["segment.ms"] = str(SHORT_SEGMENT_MS)
        return config

    def resolved(self, settings: Any) -> TopicSpec:
        """This spec with its retention taken from ``settings`` (a Settings), when it follows one."""
        rule = self.retention_rule
        if rule is None:
            return self
        return replace(self, retention_ms=int(getattr(settings, rule.setting) * rule.unit_ms))


# What a sender may write to an intake topic (the broker's own default, stated so that it is a contract), and
# what the outcome topics that quote a whole message take: a rejection carries the refused declaration's bytes,
# a dead letter the undecodable message's value, key and headers, plus their own fields -- so each must take a
# record bigger than the largest intake message, or one oversized declaration would stop the worker for good.
INTAKE_MAX_MESSAGE_BYTES = 1_048_588
TIMESTAMP_TYPE, LOG_APPEND_TIME = "message.timestamp.type", "LogAppendTime"
QUOTING_MAX_MESSAGE_BYTES = 4 * 1_048_576
# what the platform's producers may send in one request: the quoting topics' largest record and its batch framing
OUTCOME_REQUEST_MAX_BYTES = QUOTING_MAX_MESSAGE_BYTES + 65_536


def _spec(
    area: Area,
    name: str,
    key: str,
    description: str,
    *,
    cleanup: Cleanup = Cleanup.DELETE,
    retention_ms: int = FOREVER,
    max_message_bytes: int | None = None,
    retention: Retention | None = None,
) -> TopicSpec:
    if max_message_bytes is None and area is Area.INTAKE:
        max_message_bytes = INTAKE_MAX_MESSAGE_BYTES
    extra = {} if max_message_bytes is None else {"max.message.bytes": str(max_message_bytes)}
    if area is Area.INTAKE:
        # a declaration's event time is when the platform received it, stamped by the broker: no sender's clock,
        # and no record created earlier still on its way once a later one is read (topologies/alignment.py)
        extra[TIMESTAMP_TYPE] = LOG_APPEND_TIME
    return TopicSpec(
        area,
        name,
        1,
        key,
        description,
        cleanup=cleanup,
        retention_ms=retention_ms,
        extra_config=extra,
        retention_rule=retention,
    )


# Institutions have a mailbox topic each (`mailbox()`, created by `topics apply` from the network); every other
# actor (employers: ~250,000 in Belgium, a topic each would be 1.5 million partitions) shares this one, keyed by
# its enterprise number, so one employer's messages stay on one partition, in order (`mailbox_of()`).
EMPLOYERS_MAILBOX = _spec(
    Area.MAILBOX,
    "employers",
    "employer",
    "mailbox shared by every actor that is not an institution of the network (employers), keyed by its id",
    retention_ms=MAILBOX_RETENTION_MS,
)

# Intake topics hold what senders produce, before validation: kept a week, long enough to replay an incident.
# Facts are the platform's log (collect once): kept for their legal period (Settings.retention_*), then they go.
# What the directory still needs of an old fact is in its state (the compacted `directory.entries`), which its
# own purge trims (docs/directory.md); a replay from offset 0 therefore starts from what the law lets us keep.
FACTS_RETENTION = {
    "dimona": Retention("retention_dimona_years", YEAR_MS),
    "dmfa": Retention("retention_dmfa_years", YEAR_MS),
    # a civil event is about a person's status: the longest period, the one after a death
    "civil": Retention("retention_deceased_years", YEAR_MS),
    "integrations": Retention("retention_directory_years", YEAR_MS),
}
INTAKE_TOPICS: tuple[TopicSpec, ...] = (
    _spec(Area.INTAKE, "dimona", "niss", "DIMONA declarations as sent by employers", retention_ms=7 * DAY_MS),
    _spec(Area.INTAKE, "dmfa", "employer", "quarterly DmfA declarations as sent", retention_ms=7 * DAY_MS),
    _spec(Area.INTAKE, "civil", "niss", "National Register civil events as sent", retention_ms=7 * DAY_MS),
    _spec(Area.INTAKE, "integrations", "niss", "institutions' directory (un)registrations", retention_ms=7 * DAY_MS),
    _spec(Area.INTAKE, "consultations", "niss", "institutions' consultation requests", retention_ms=7 * DAY_MS),
)

CATALOG: tuple[TopicSpec, ...] = (
    *INTAKE_TOPICS,
    _spec(Area.FACTS, "dimona", "niss", "DIMONA the directory accepted, ticketed", retention=FACTS_RETENTION["dimona"]),
    _spec(
        Area.FACTS,
        "dmfa",
        "employer",
        "DmfA declarations the DmfA step accepted, ticketed",
        retention=FACTS_RETENTION["dmfa"],
    ),
    _spec(Area.FACTS, "civil", "niss", "accepted civil events, ticketed", retention=FACTS_RETENTION["civil"]),
    _spec(
        Area.FACTS,
        "integrations",
        "niss",
        "integrations the directory accepted, ticketed",
        retention=FACTS_RETENTION["integrations"],
    ),
    _spec(
        Area.OUTCOMES,
        "rejections",
        "niss",
        "rejected declarations with all their violations",
        max_message_bytes=QUOTING_MAX_MESSAGE_BYTES,
        # they quote whole declarations, personal data that failed validation: short
        retention=Retention("retention_rejections_days", DAY_MS),
    ),
    _spec(
        Area.OUTCOMES,
        "dead-letters",
        "none",
        "undecodable messages with their raw bytes and origin",
        max_message_bytes=QUOTING_MAX_MESSAGE_BYTES,
        retention=Retention("retention_dead_letters_days", DAY_MS),
    ),
    _spec(
        Area.CONSULTATIONS,
        "accepted",
        "niss",
        "consultation requests that passed intake, ticketed, re-keyed by person for the directory",
        retention_ms=7 * DAY_MS,
    ),
    _spec(
        Area.AUDIT,
        "exchanges",
        "none (the partition of its records' NISS)",
        "one hash-chained record per delivery, reply and refusal; a directory release's records of a partition "
        "in one AuditBatch message",
        retention=Retention("retention_audit_years", YEAR_MS),
    ),
    _spec(
        Area.AUDIT,
        "pending",
        "niss",
        "audit entries not yet chained: the directory appends them to the audit trail",
        retention_ms=7 * DAY_MS,
    ),
    _spec(
        Area.DIRECTORY,
        "declarations",
        "niss",
        "DIMONA and integrations that passed intake, ticketed, for the directory to decide: the accepted ones "
        "become facts",
        retention_ms=7 * DAY_MS,
    ),
    _spec(
        Area.DIRECTORY,
        "lookups",
        "niss",
        "facts routed to the directory of another person than their subject (a birth: the parents; a DmfA line: "
        "its worker); a civil fact's own subject's directory reads it in facts.civil",
        retention_ms=7 * DAY_MS,
    ),
    _spec(
        Area.DIRECTORY,
        "entries",
        "niss",
        "the reference directory's state per person (changelog of the directory table)",
        cleanup=Cleanup.COMPACT,
    ),
    # The DmfA step's: its rules need every earlier declaration of the (employer, quarter), so it is keyed by
    # employer (the person files are keyed by worker)
    _spec(
        Area.DMFA,
        "declarations",
        "employer",
        "DmfA declarations that passed intake, ticketed, for the DmfA step to decide: the accepted ones become facts",
        retention_ms=7 * DAY_MS,
    ),
    _spec(
        Area.DMFA,
        "versions",
        "employer",
        "the DmfA step's state per employer: each quarter's accepted versions (changelog of the dmfa table)",
        cleanup=Cleanup.COMPACT,
    ),
    # The intake's, one per intake topic (the changelog of its references table, keyed as that topic): the sender
    # references admitted per subject within Settings.duplicate_reference_days, so a resend is refused
    # (streams.domain.references). Compacted: one small value per subject, trimmed to the window on each write.
    *(
        _spec(
            Area.REFERENCES,
            family,
            key,
            f"sender references the {family} intake admitted, per {key} (changelog of its references table)",
            cleanup=Cleanup.COMPACT,
        )
        for family, key in ((intake.name, intake.key) for intake in INTAKE_TOPICS)
    ),
    EMPLOYERS_MAILBOX,
)


def mailbox(actor_id: str) -> TopicSpec:
    """An institution's own mailbox (by enterprise number), consumed at its pace. Employers have none: see
    :func:`mailbox_of`."""
    return _spec(Area.MAILBOX, actor_id, "niss", f"mailbox of actor {actor_id}", retention_ms=MAILBOX_RETENTION_MS)


def mailbox_of(actor_id: str, institutions: Collection[str]) -> tuple[TopicSpec, bytes | None]:
    """Where an actor's messages are: ``(its own mailbox, None)`` for an institution of the network (every
    record of the topic is the actor's), else ``(the shared employers' mailbox, key)`` where only the records
    with that key (the actor id) are the actor's — all on partition ``partition_for(key, partitions)``.

    The writers' side of the same rule is ``topologies.edges.mailbox_route``."""
    if actor_id in institutions:
        return mailbox(actor_id), None
    return EMPLOYERS_MAILBOX, actor_id.encode()


def by_key(area: Area, name: str) -> TopicSpec:
    for spec in CATALOG:
        if spec.area is area and spec.name == name:
            return spec
    raise KeyError(f"no topic {area}.{name} in the catalog")


def valid_name(topic: str) -> bool:
    return bool(_NAME.match(topic))


def platform_topics(actors: Iterable[str] = ()) -> tuple[TopicSpec, ...]:
    """The catalog (with the employers' shared mailbox) plus the mailboxes of the given actors (the network's
    institutions)."""
    return (*CATALOG, *(mailbox(actor) for actor in sorted(set(actors))))
