"""The statistics warehouse's projections: facts -> pseudonymised rows; audit trail -> the audit database.

Each projection is pure (`rows(fact, origin, now)`), like `JourneyProjection`; the `Projector` batches and
inserts their rows. Persons are replaced by their pseudonym *here*, at the edge, one pseudonym space per
purpose, each where it is used: the statistics tables (`<database>`) under the statistics purpose, the OASIS
tables (`<database>_oasis`: DIMONA and DmfA, what the anti-fraud indicators read) under the anti-fraud purpose.
No row of either ever carries a national number. The pseudonym -> NISS mapping of each purpose goes, by its
own projection, to `<database>_reid.pseudonyms`, outside both; the audit trail goes to
`<database>_audit.audit_records`.

Table names starting with `{database}` are rendered by the projector (`<database>_reid.pseudonyms`); the
others live in the statistics database itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Any

from connectors.clickhouse.projector import Origin, Projection
from streams.codecs import Decoded
from streams.domain.audit import Unreadable, audit_records
from streams.domain.kinds import FAMILIES, KINDS
from streams.domain.pseudonyms import key_for, normalise_person, person_traits, pseudonym
from streams.domain.validation import parse_quarter
from streams.settings import Settings

FACT_TOPICS = tuple(".".join(family.facts) for family in FAMILIES if family.facts is not None)
AUDIT_TOPICS = ("audit.exchanges",)

ACCIDENT_REASONS = frozenset({"WORK_ACCIDENT", "OCCUPATIONAL_DISEASE"})

Pseudonymizer = Callable[[str], str]


def pseudonymizer(key: bytes, purpose: str) -> Pseudonymizer:
    """A cached `pseudonym()` for one key and purpose (a person appears in many facts)."""

    @lru_cache(maxsize=200_000)
    def of(person: str) -> str:
        return pseudonym(person, key, purpose)

    return of


def settings_pseudonymizer(settings: Settings, purpose: str | None = None) -> Pseudonymizer:
    """The pseudonymizer of `purpose` (default: the statistics purpose, `warehouse_purpose`)."""
    keys = {name: secret.get_secret_value().encode() for name, secret in settings.pseudonym_keys.items()}
    purpose = purpose or settings.warehouse_purpose
    return pseudonymizer(key_for(keys, purpose), purpose)


def _short(schema_name: str) -> str:
    return schema_name.rpartition(".")[2]


# What a ClickHouse DateTime (seconds since the epoch, unsigned 32 bits) can hold. Intake accepts a
# recorded_at from 1900 to 2099; a value outside this range would make the insert fail on every retry and stop
# the projection of every table, so it is stored as the nearest end (like `day` for dates).
DATETIME_MIN = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
DATETIME_MAX = dt.datetime(2106, 2, 7, 6, 28, 15, tzinfo=dt.UTC)


def instant(value: Any) -> dt.datetime:
    """A UTC datetime the driver writes as DateTime (seconds), within DateTime's range."""
    if isinstance(value, dt.datetime):
        utc = value.astimezone(dt.UTC) if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return min(max(utc, DATETIME_MIN), DATETIME_MAX)
    raise TypeError(f"not a timestamp: {value!r}")


EPOCH = dt.date(1970, 1, 1)


def day(value: dt.date | None) -> dt.date | None:
    """A date as a ClickHouse Date can hold it: 18.16's Date starts on 1970-01-01, so earlier days are
    stored as that day (a comparison with any reference date from 1970 on is unchanged)."""
    return None if value is None else max(value, EPOCH)


def _now(now: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(now, dt.UTC)


def _ticket(record: Mapping[str, Any]) -> str:
    ticket = record["envelope"]["ticket"]
    if not ticket:
        raise ValueError("a fact without its platform ticket cannot be projected idempotently")
    return str(ticket)


# -- persons named by a fact ---------------------------------------------------------------------------------


def persons_of(fact: Decoded) -> list[str]:
    """Every person (NISS/BIS) a fact names, in order, once each (its kind says which: `streams.domain.kinds`)."""
    kind = KINDS.get(fact.schema_name)
    if kind is None:
        person = fact.record.get("person")
        return [person] if isinstance(person, str) else []
    return list(kind.persons(fact.record))


def projected_from(table: str) -> tuple[str, ...]:
    """The facts topics ("facts.dimona") of the kinds projected to ``table``."""
    topics = (k.family.facts for k in KINDS.values() if k.projection == table and k.family.facts is not None)
    return tuple(dict.fromkeys(".".join(topic) for topic in topics))


# -- projections ---------------------------------------------------------------------------------------------


class DimonaProjection:
    table = "dimona_events"
    columns = (
        "event_id",
        "kind",
        "employer",
        "worker",
        "relation_start",
        "start_date",
        "end_date",
        "worker_type",
        "joint_committee",
        "event_date",
        "recorded_at",
        "projected_at",
    )
    topics = projected_from("dimona_events")

    def __init__(self, pseudonymize: Pseudonymizer) -> None:
        self._pseudonymize = pseudonymize

    def rows(self, fact: Decoded, origin: Origin, now: float) -> list[tuple[Any, ...]]:
        # relation_start names the relation: the IN's start_date, which every later OUT, UPDATE and CANCEL
        # quotes as relation_start_date even after an UPDATE moved the start (new_start_date, in start_date).
        # The directory matches relations on that same declared start, so grouping by (employer, worker,
        # relation_start) gathers every event of one relation, fact by fact, without the directory's state.
        record, name = fact.record, _short(fact.schema_name)
        if name == "DimonaIn":
            kind, relation = "IN", record["start_date"]
            start, end = record["start_date"], record["planned_end_date"]
            worker_type, committee, event_date = record["worker_type"], record["joint_committee"], start
        elif name == "DimonaOut":
            kind, relation = "OUT", record["relation_start_date"]
            start, end, worker_type, committee = None, record["end_date"], "", ""
            event_date = end
        elif name == "DimonaUpdate":
            kind, relation = "UPDATE", record["relation_start_date"]
            start, end = record["new_start_date"], record["new_end_date"]
            worker_type, committee = record["new_worker_type"] or "", record["new_joint_committee"] or ""
            event_date = start or relation
        elif name == "DimonaCancel":
            kind, relation = "CANCEL", record["relation_start_date"]
            start, end, worker_type, committee, event_date = None, None, "", "", relation
        else:
            return []
        return [
            (
                _ticket(record),
                kind,
                record["employer"],
                self._pseudonymize(record["worker"]),
                day(relation),
                day(start),
                day(end),
                worker_type,
                committee,
                day(event_date),
                instant(record["envelope"]["recorded_at"]),
                _now(now),
            )
        ]


class DmfaProjection:
    table = "dmfa_lines"
    columns = (
        "event_id",
        "declaration",
        "employer",
        "quarter",
        "quarter_start",
        "version",
        "nature",
        "line_no",
        "worker",
        "worker_category",
        "joint_committee",
        "days_worked",
        "gross_wage_cents",
        "sickness_days",
        "accident_days",
        "temporary_unemployment_days",
        "other_assimilated_days",
        "recorded_at",
        "projected_at",
    )
    topics = projected_from("dmfa_lines")

    def __init__(self, pseudonymize: Pseudonymizer) -> None:
        self._pseudonymize = pseudonymize

    def rows(self, fact: Decoded, origin: Origin, now: float) -> list[tuple[Any, ...]]:
        record = fact.record
        if _short(fact.schema_name) != "DmfaDeclaration":
            return []
        bounds = parse_quarter(record["quarter"])
        if bounds is None:
            raise ValueError(f"DmfA fact {record['envelope']['ticket']} has no valid quarter: {record['quarter']!r}")
        ticket, recorded, projected = _ticket(record), instant(record["envelope"]["recorded_at"]), _now(now)
        rows = []
        for number, line in enumerate(record["worker_lines"]):
            days = _assimilated(line["assimilated_days"])
            rows.append(
                (
                    f"{ticket}:{number}",
                    ticket,
                    record["employer"],
                    record["quarter"],
                    bounds[0],
                    int(record["version"]),
                    record["nature"],
                    number,
                    self._pseudonymize(line["worker"]),
                    line["worker_category"],
                    line["joint_committee"],
                    max(0, int(line["days_worked"])),
                    int(line["gross_wage_cents"]),
                    days["sickness"],
                    days["accident"],
                    days["temporary_unemployment"],
                    days["other"],
                    recorded,
                    projected,
                )
            )
        return rows


def _assimilated(entries: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    days = {"sickness": 0, "accident": 0, "temporary_unemployment": 0, "other": 0}
    for entry in entries:
        reason, count = entry["reason"], max(0, int(entry["days"]))
        if reason == "SICKNESS":
            days["sickness"] += count
        elif reason in ACCIDENT_REASONS:
            days["accident"] += count
        elif reason == "TEMPORARY_UNEMPLOYMENT":
            days["temporary_unemployment"] += count
        else:
            days["other"] += count
    return days


class CivilProjection:
    table = "civil_events"
    columns = (
        "event_id",
        "kind",
        "person",
        "sex",
        "birth_year",
        "birth_month_day",
        "effective_date",
        "municipality_nis",
        "civil_status",
        "recorded_at",
        "projected_at",
    )
    topics = projected_from("civil_events")

    def __init__(self, pseudonymize: Pseudonymizer) -> None:
        self._pseudonymize = pseudonymize

    def rows(self, fact: Decoded, origin: Origin, now: float) -> list[tuple[Any, ...]]:
        record, name = fact.record, _short(fact.schema_name)
        municipality, status = "", ""
        if name == "Birth":
            kind, person, effective = "BIRTH", record["child"], record["birth_date"]
            municipality = record["municipality_nis"] or ""
        elif name == "AddressChange":
            kind, person, effective = "ADDRESS", record["person"], record["effective_date"]
            address = record["address"]
            # a move abroad (or an unknown municipality) ends the Belgian residence: empty code
            municipality = (address.get("municipality_nis") or "") if address.get("country") == "BE" else ""
        elif name == "CivilStatusChange":
            kind, person, effective = "CIVIL_STATUS", record["person"], record["effective_date"]
            status = record["civil_status"]
        elif name == "Death":
            kind, person, effective = "DEATH", record["person"], record["date_of_death"]
        else:
            return []
        traits = person_traits(person)
        birth_date = record["birth_date"] if name == "Birth" else traits.birth_date
        return [
            (
                _ticket(record),
                kind,
                self._pseudonymize(person),
                traits.sex,
                birth_date.year if birth_date else 0,
                birth_date.month * 100 + birth_date.day if birth_date else 0,
                day(effective),
                municipality,
                status,
                instant(record["envelope"]["recorded_at"]),
                _now(now),
            )
        ]


class DirectoryProjection:
    table = "directory_entries"
    columns = (
        "event_id",
        "action",
        "person",
        "institution",
        "sector",
        "capacity",
        "period_start",
        "period_end",
        "status",
        "recorded_at",
        "projected_at",
    )
    topics = projected_from("directory_entries")

    def __init__(self, pseudonymize: Pseudonymizer) -> None:
        self._pseudonymize = pseudonymize

    def rows(self, fact: Decoded, origin: Origin, now: float) -> list[tuple[Any, ...]]:
        record = fact.record
        if _short(fact.schema_name) != "Integration":
            return []
        return [
            (
                _ticket(record),
                record["action"],
                self._pseudonymize(record["person"]),
                record["institution"],
                record["sector"],
                record["capacity"],
                day(record["period"]["start"]),
                day(record["period"]["end"]),
                record["status"],
                instant(record["envelope"]["recorded_at"]),
                _now(now),
            )
        ]


class OasisDimonaProjection(DimonaProjection):
    """The DIMONA events again, for the anti-fraud purpose: its pseudonyms, its own database."""

    table = "{database}_oasis.dimona_events"


class OasisDmfaProjection(DmfaProjection):
    """The DmfA lines again, for the anti-fraud purpose: its pseudonyms, its own database."""

    table = "{database}_oasis.dmfa_lines"


class PseudonymMappingProjection:
    """pseudonym -> NISS of one purpose, for the re-identification path only: written to `<database>_reid`.
    `topics` are the facts that purpose's tables are projected from, so a purpose maps only the persons its
    space holds (the anti-fraud purpose: workers, not every resident)."""

    table = "{database}_reid.pseudonyms"
    columns = ("purpose", "pseudonym", "person", "seen_at")
    distinct_rows = True  # a person named by many facts of one batch needs one mapping row

    def __init__(self, pseudonymize: Pseudonymizer, purpose: str, topics: tuple[str, ...] = FACT_TOPICS) -> None:
        self._pseudonymize = pseudonymize
        self._purpose = purpose
        self.topics = topics

    def rows(self, fact: Decoded, origin: Origin, now: float) -> list[tuple[Any, ...]]:
        seen = _now(now)
        return [
            (self._purpose, self._pseudonymize(person), normalise_person(person), seen) for person in persons_of(fact)
        ]


class AuditProjection:
    """The hash-chained audit trail into `<database>_audit.audit_records` (NISS included: not statistics)."""

    table = "{database}_audit.audit_records"
    columns = (
        "audit_id",
        "kind",
        "ticket",
        "source_ticket",
        "actor",
        "person",
        "data_type",
        "source",
        "legal_basis",
        "reason",
        "consultation_status",
        "recorded_at",
        "hash",
        "audit_topic",
        "audit_partition",
        "audit_offset",
        "projected_at",
    )
    topics = AUDIT_TOPICS

    def rows(self, fact: Decoded, origin: Origin, now: float) -> list[tuple[Any, ...]]:
        records = audit_records(fact.schema_name, fact.record)  # an AuditBatch: a row per record, same offset
        if isinstance(records, Unreadable):
            return []
        return [
            (
                record["audit_id"],
                record["kind"],
                record["ticket"],
                record["source_ticket"],
                record["actor"],
                record["person"],
                record["data_type"],
                record.get("source"),  # None for a record written with AuditRecord v1
                record["legal_basis"],
                record["reason"],
                record.get("consultation_status"),  # None for a record written before AuditRecord v3
                instant(record["recorded_at"]),
                record["hash"],
                origin.topic,
                origin.partition,
                origin.offset,
                _now(now),
            )
            for record in records
        ]


def warehouse_projections(settings: Settings) -> list[Projection]:
    """The warehouse's projections: the statistics tables under the statistics purpose's pseudonymizer, the
    OASIS tables under the anti-fraud purpose's, each purpose's mapping, and the audit log."""
    oasis_topics = tuple(dict.fromkeys((*OasisDimonaProjection.topics, *OasisDmfaProjection.topics)))
    statistics = settings_pseudonymizer(settings, settings.warehouse_purpose)
    antifraud = settings_pseudonymizer(settings, settings.oasis_purpose)
    return [
        DimonaProjection(statistics),
        DmfaProjection(statistics),
        CivilProjection(statistics),
        DirectoryProjection(statistics),
        PseudonymMappingProjection(statistics, settings.warehouse_purpose),
        OasisDimonaProjection(antifraud),
        OasisDmfaProjection(antifraud),
        # the anti-fraud purpose maps the persons of the facts its tables are projected from, and only those
        PseudonymMappingProjection(antifraud, settings.oasis_purpose, oasis_topics),
        AuditProjection(),
    ]
