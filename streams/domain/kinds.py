"""One `Kind` per declaration type: everything the platform knows about it, in one place.

Where a declaration goes, who decides it and who is told are answered here, and everything else reads it:
intake (validator, subject key, whether its decision is final, where the admitted record goes), the directory
(which of its rules decides it, its effective date, which persons' files it is looked up in), the fan-out
(the data type an authorization must grant), the file drop (the file type that carries it) and the warehouse
(the persons it names, the table it is projected to).

A new declaration type costs one `Kind` below, its Avro schema and its authorization rows in the network.

Where an address change goes, and who is told: it arrives on ``intake.civil``, is validated by
`validate_address_change`, keyed by its ``person``; the intake's decision is final (the National Register is
the authentic source), so it is acknowledged there and goes to ``facts.civil``, keyed by the person; the
person's own directory reads it there (`read_in_facts`: no lookup hop for a fact about its own partition's
person), keeps it (identity history) and notifies every institution holding an
active file on the person on ``effective_date`` whose sector and capacity an authorization grants
``be.crossroads.civil.AddressChange``; each delivery and each withheld holder is audited; the warehouse projects
it to ``civil_events``.

Where a DmfA goes: it arrives on ``intake.dmfa``, keyed by its employer, is validated by `validate_dmfa` and goes
to ``dmfa.declarations``: the DmfA step (`streams.domain.dmfa`) decides it against the earlier declarations of
its (employer, quarter) -- a correction needs an accepted original, a version must be the next one -- and makes
the accepted ones facts (``facts.dmfa``); each worker line is routed to its worker's directory under a ticket of
its own, kept there (wages) and delivered to the holders authorized for ``be.crossroads.dmfa.DmfaDeclaration``
on the quarter's last day; the directory also warns the sender when the worker had no DIMONA with the employer
that quarter. The warehouse projects it to ``dmfa_lines``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from streams.domain.errors import UnknownDeclarationTypeError
from streams.domain.validation import (
    validate_address_change,
    validate_birth,
    validate_civil_status_change,
    validate_consultation_request,
    validate_death,
    validate_dimona_batch,
    validate_dimona_cancel,
    validate_dimona_in,
    validate_dimona_out,
    validate_dimona_update,
    validate_dmfa,
    validate_integration,
)
from streams.domain.validation.dmfa import parse_quarter
from streams.domain.validation.violation import Violation

Record = Mapping[str, Any]
Validator = Callable[[Record], list[Violation]]

__all__ = [
    "DECLARATION_TYPES",
    "DMFA_DECLARATIONS",
    "FAMILIES",
    "KINDS",
    "PUSHED_DATA_TYPES",
    "Decider",
    "Family",
    "Kind",
    "Lookup",
    "Topic",
    "dmfa_line_ticket",
    "dmfa_withdrawal_ticket",
    "kind_of",
    "kinds_of",
    "lookups",
    "own_lookups",
    "routed",
    "subject_key",
    "validate",
    "wage_slot",
    "withdrawal_slot",
]

Topic = tuple[str, str]  # (area, name) in streams.catalog


class Decider(StrEnum):
    """Which stateful rules decide an admitted declaration (None: the intake's decision is final)."""

    INTEGRATION = "integration"  # the reference directory's registration rules
    DIMONA = "dimona"  # the employment relations' rules
    CONSULTATION = "consultation"  # the authorization check, answered with a reply
    DMFA = "dmfa"  # not the directory's: the DmfA step's version rules, per employer (streams.domain.dmfa)

    @property
    def by_directory(self) -> bool:
        """Decided by the reference directory (keyed by person), not by a step of its own."""
        return self is not Decider.DMFA


@dataclass(frozen=True, slots=True)
class Family:
    """The declarations that share one intake topic and one file type of the file drop."""

    name: str  # the intake topic's name (intake.<name>), the file drop's family
    file_type: str  # the file drop's type code (FI.<code>.<sender>...)
    description: str
    admitted_to: Topic  # where the intake writes what it admits
    facts: Topic | None  # where its accepted facts are (the platform's log); None: not a fact (consultations)

    @property
    def final_at_intake(self) -> bool:
        """The intake's decision is final: it acknowledges, and what it admits is already a fact."""
        return self.admitted_to == self.facts


DIRECTORY_DECLARATIONS: Topic = ("directory", "declarations")
DMFA_DECLARATIONS: Topic = ("dmfa", "declarations")

DIMONA = Family(
    "dimona",
    "DIMN",
    "DIMONA declarations (IN, OUT, UPDATE, CANCEL, batches of up to 20)",
    DIRECTORY_DECLARATIONS,
    ("facts", "dimona"),
)
DMFA = Family("dmfa", "DMFA", "quarterly DmfA declarations", DMFA_DECLARATIONS, ("facts", "dmfa"))
CIVIL = Family("civil", "CIVL", "National Register civil events", ("facts", "civil"), ("facts", "civil"))
INTEGRATIONS = Family(
    "integrations",
    "INTG",
    "institutions' integrations in the reference directory (register / unregister a file on a person)",
    DIRECTORY_DECLARATIONS,
    ("facts", "integrations"),
)
CONSULTATIONS = Family(
    "consultations",
    "CONS",
    "institutions' consultation requests",
    ("consultations", "accepted"),
    None,
)

FAMILIES: tuple[Family, ...] = (DIMONA, DMFA, CIVIL, INTEGRATIONS, CONSULTATIONS)

# Which of two declarations with the same time (to the millisecond, a record timestamp's grain) the directory
# decides first: what builds the directory (an institution's file on a person, an employment) before what reads
# it (the DmfA lines, civil facts and consultations it routes). The order a sender sends a day in, too.
SAME_TIME_ORDER: tuple[str, ...] = (INTEGRATIONS.name, DIMONA.name, DMFA.name, CIVIL.name, CONSULTATIONS.name)


@dataclass(frozen=True, slots=True)
class Lookup:
    """A fact addressed to the directory of one person: deliver it to that file's holders and/or keep it."""

    person: str  # whose directory is consulted: the partition key
    subject: str  # whom the fact is about (a birth looked up at a parent is about the child)
    schema_name: str
    payload: bytes  # the fact as delivered, encoded (a DmfA reduced to this person's line)
    source_ticket: str
    effective: dt.date
    notify: bool
    keep: bool  # store in this person's file for consultations (identity facts, wages)
    slot: str
    version: int
    # a DmfA line's: the acknowledgement with its warning, sent to the sender unless the person was employed
    warning: dict[str, Any] | None = None


Encode = Callable[[str, dict[str, Any]], bytes]
# (kind, record, ticket, payload, encode) -> the lookups of a fact in other directories
Router = Callable[["Kind", Record, str, bytes, Encode], list[Lookup]]


@dataclass(frozen=True, slots=True)
class Kind:
    """One declaration type."""

    schema: str  # the full Avro name
    family: Family
    validate: Validator  # intake's stateless rules: every violation
    subject: Callable[[Record], str | None]  # the partition key: the person it is about (DmfA: its employer)
    persons: Callable[[Record], tuple[str, ...]]  # every person it names, in order
    effective: Callable[[Record], dt.date] | None = None  # as of when the directory and authorizations apply
    pushed: bool = False  # its facts are pushed to the holders an authorization grants its schema name to
    decider: Decider | None = None  # the stateful rules that decide it after intake (None: intake is final)
    route: Router | None = None  # the directories a fact is looked up in once it is one (civil, DmfA)
    projection: str | None = None  # the warehouse table its facts are projected to
    batch: bool = False  # a batch of other kinds' declarations, split at intake
    by_employer: bool = False  # declared for an employer: by itself or a secretariat it mandated (senders)
    enterprises: tuple[str, ...] = ()  # its enterprise-number fields besides the envelope's sender (normalise)

    @property
    def short_name(self) -> str:
        return self.schema.rpartition(".")[2]

    @property
    def final_at_intake(self) -> bool:
        return self.family.final_at_intake

    @property
    def read_in_facts(self) -> bool:
        """Final at intake and looked up in directories: the directory reads its facts topic (keyed by the
        subject) for the subject's own lookup; only the other persons' go through ``directory.lookups``."""
        return self.final_at_intake and self.route is not None

    @property
    def data_type(self) -> str | None:
        """What an authorization must grant to receive its facts: its schema name (None: never pushed)."""
        return self.schema if self.pushed else None


def _field(name: str) -> Callable[[Record], str | None]:
    def key(record: Record) -> str | None:
        value = record.get(name)
        return value if isinstance(value, str) else None

    return key


def _persons(*names: str) -> Callable[[Record], tuple[str, ...]]:
    def persons(record: Record) -> tuple[str, ...]:
        found: list[str] = []
        for name in names:
            value = record.get(name)
            if isinstance(value, str) and value:
                found.append(value)
            elif isinstance(value, list):
                found.extend(v for v in value if isinstance(v, str))
        return tuple(dict.fromkeys(found))

    return persons


def _date(name: str) -> Callable[[Record], dt.date]:
    def effective(record: Record) -> dt.date:
        return record[name]  # type: ignore[no-any-return]

    return effective


def _quarter_end(record: Record) -> dt.date:
    quarter = parse_quarter(record["quarter"])
    if quarter is None:  # intake validation guarantees a quarter; this is a programming error
        raise ValueError(f"not a quarter: {record['quarter']!r}")
    return quarter[1]  # a quarter's wages are complete on its last day


def _dimona_update_date(record: Record) -> dt.date:
    return record["new_start_date"] or record["relation_start_date"]  # type: ignore[no-any-return]


def _about_the_person(kind: Kind, record: Record, ticket: str, payload: bytes, encode: Encode) -> list[Lookup]:
    """A civil fact about one person: kept in the person's file and delivered to its holders."""
    assert kind.effective is not None
    person = record["person"]
    return [Lookup(person, person, kind.schema, payload, ticket, kind.effective(record), True, True, kind.schema, 0)]


def _birth(kind: Kind, record: Record, ticket: str, payload: bytes, encode: Encode) -> list[Lookup]:
    """Kept in the child's file; delivered to the holders of each parent's file (a parent named twice once)."""
    assert kind.effective is not None
    child, effective = record["child"], kind.effective(record)
    return [
        Lookup(child, child, kind.schema, payload, ticket, effective, False, True, kind.schema, 0),
        *(
            Lookup(parent, child, kind.schema, payload, ticket, effective, True, False, kind.schema, 0)
            for parent in dict.fromkeys(record["parents"])
        ),
    ]


def _dmfa(kind: Kind, record: Record, ticket: str, payload: bytes, encode: Encode) -> list[Lookup]:
    """Split per worker line, so that nobody receives a colleague's wages; each line kept in its worker's file
    and delivered under a ticket of its own (two lines of one worker are two facts, seed 4.5)."""
    assert kind.effective is not None
    employer, quarter, effective = record["employer"], record["quarter"], kind.effective(record)
    return [
        Lookup(
            line["worker"],
            line["worker"],
            kind.schema,
            encode(kind.schema, {**record, "worker_lines": [line]}),
            dmfa_line_ticket(ticket, line),
            effective,
            True,
            True,
            wage_slot(employer, quarter, line),
            record["version"],
        )
        for line in record["worker_lines"]
    ]


# The namespace of a DmfA line's ticket: uuid5(namespace, "<declaration ticket>/<worker>/<category>/<committee>"),
# and of a withdrawal's: uuid5(namespace, "<correction ticket>/<worker>/withdrawn").
DMFA_LINE_NAMESPACE = uuid.UUID("5d2b7e91-8c4a-5f03-b6e1-7a9c0d3f2e58")


def line_identity(line: Record) -> str:
    """What tells two lines of one declaration apart (intake refuses two with the same: dmfa.duplicate_line)."""
    return f"{line['worker']}/{line['worker_category']}/{line['joint_committee']}"


def dmfa_line_ticket(ticket: str, line: Record) -> str:
    """A worker line's ticket: derived from its declaration's and its identity, so a replay yields the same."""
    return str(uuid.uuid5(DMFA_LINE_NAMESPACE, f"{ticket}/{line_identity(line)}"))


def dmfa_withdrawal_ticket(ticket: str, worker: str) -> str:
    """The ticket of a correction's withdrawal of every line of ``worker`` (a worker it no longer declares)."""
    return str(uuid.uuid5(DMFA_LINE_NAMESPACE, f"{ticket}/{worker}/withdrawn"))


def wage_slot(employer: str, quarter: str, line: Record) -> str:
    """Where a worker's file keeps a DmfA line: ``employer/quarter/category/committee`` (files written before
    lines had slots of their own hold ``employer/quarter``, one line per worker: read as a line too)."""
    return f"{employer}/{quarter}/{line['worker_category']}/{line['joint_committee']}"


def withdrawal_slot(employer: str, quarter: str) -> str:
    """The slot of a correction's withdrawal of a worker: it empties ``employer/quarter`` in the worker's file."""
    return f"{employer}/{quarter}/{WITHDRAWN}"


WITHDRAWN = "withdrawn"  # no worker category is spelled so (they are upper-case enum symbols)


def _dmfa_workers(record: Record) -> tuple[str, ...]:
    return tuple(dict.fromkeys(line["worker"] for line in record["worker_lines"]))


_DIMONA = "be.crossroads.dimona."
_CIVIL = "be.crossroads.civil."


def _dimona(name: str, validate: Validator, effective: Callable[[Record], dt.date]) -> Kind:
    return Kind(
        _DIMONA + name,
        DIMONA,
        validate,
        _field("worker"),
        _persons("worker"),
        effective,
        pushed=True,
        decider=Decider.DIMONA,
        projection="dimona_events",
        by_employer=True,
        enterprises=("employer",),
    )


def _civil(
    name: str,
    validate: Validator,
    subject: str,
    persons: Sequence[str],
    effective: str,
    route: Router,
) -> Kind:
    return Kind(
        _CIVIL + name,
        CIVIL,
        validate,
        _field(subject),
        _persons(*persons),
        _date(effective),
        pushed=True,
        route=route,
        projection="civil_events",
    )


DIMONA_IN = _dimona("DimonaIn", validate_dimona_in, _date("start_date"))
DIMONA_OUT = _dimona("DimonaOut", validate_dimona_out, _date("end_date"))
DIMONA_UPDATE = _dimona("DimonaUpdate", validate_dimona_update, _dimona_update_date)
DIMONA_CANCEL = _dimona("DimonaCancel", validate_dimona_cancel, _date("relation_start_date"))
DIMONA_BATCH = Kind(
    _DIMONA + "DimonaBatch", DIMONA, validate_dimona_batch, lambda record: None, lambda record: (), batch=True
)
DMFA_DECLARATION = Kind(
    "be.crossroads.dmfa.DmfaDeclaration",
    DMFA,
    validate_dmfa,
    _field("employer"),
    _dmfa_workers,
    _quarter_end,
    pushed=True,
    decider=Decider.DMFA,
    route=_dmfa,
    projection="dmfa_lines",
    by_employer=True,
    enterprises=("employer",),
)
BIRTH = _civil("Birth", validate_birth, "child", ("child", "parents"), "birth_date", _birth)
ADDRESS_CHANGE = _civil(
    "AddressChange",
    validate_address_change,
    "person",
    ("person",),
    "effective_date",
    _about_the_person,
)
DEATH = _civil("Death", validate_death, "person", ("person",), "date_of_death", _about_the_person)
CIVIL_STATUS_CHANGE = _civil(
    "CivilStatusChange",
    validate_civil_status_change,
    "person",
    ("person", "partner"),
    "effective_date",
    _about_the_person,
)
INTEGRATION = Kind(
    "be.crossroads.directory.Integration",
    INTEGRATIONS,
    validate_integration,
    _field("person"),
    _persons("person"),
    decider=Decider.INTEGRATION,
    projection="directory_entries",
    enterprises=("institution",),
)
CONSULTATION_REQUEST = Kind(
    "be.crossroads.consultation.ConsultationRequest",
    CONSULTATIONS,
    validate_consultation_request,
    _field("person"),
    _persons("person"),
    decider=Decider.CONSULTATION,
    enterprises=("requester",),
)

#: every declaration type the platform accepts at intake, by full Avro name
KINDS: Mapping[str, Kind] = {
    k.schema: k
    for k in (
        DIMONA_IN,
        DIMONA_OUT,
        DIMONA_UPDATE,
        DIMONA_CANCEL,
        DIMONA_BATCH,
        DMFA_DECLARATION,
        BIRTH,
        ADDRESS_CHANGE,
        DEATH,
        CIVIL_STATUS_CHANGE,
        INTEGRATION,
        CONSULTATION_REQUEST,
    )
}


def kind_of(schema_name: str) -> Kind:
    kind = KINDS.get(schema_name)
    if kind is None:
        raise UnknownDeclarationTypeError(schema_name)
    return kind


def kinds_of(family: Family | str) -> tuple[Kind, ...]:
    name = family if isinstance(family, str) else family.name
    return tuple(k for k in KINDS.values() if k.family.name == name)


# The namespace of the tickets of a batch's items: uuid5(namespace, "<batch ticket>/<index from 1>").
BATCH_NAMESPACE = uuid.UUID("a7d4c0f2-5b8e-5f1a-9c3d-2e6b8f0a4d71")

#: every declaration type, by full Avro name, in the catalogue's order
DECLARATION_TYPES: tuple[str, ...] = tuple(KINDS)

#: what an authorization can grant to be pushed: the schema names of the kinds whose facts holders receive
PUSHED_DATA_TYPES: frozenset[str] = frozenset(k.schema for k in KINDS.values() if k.pushed)


def validate(schema_name: str, record: Record) -> list[Violation]:
    """All intake violations of ``record``, a declaration of type ``schema_name`` (full Avro name).

    The same function serves the intake and ``crossroads check file``, so that a provider sees exactly what
    the platform will say.  An unknown type is itself a violation (``declaration.unknown_type``) rather than
    an exception: both then report it like any other refusal.
    """
    kind = KINDS.get(schema_name)
    if kind is None:
        return [
            Violation(
                "declaration.unknown_type",
                "",
                f"no declaration type {schema_name!r}; known: " + ", ".join(DECLARATION_TYPES),
            )
        ]
    return kind.validate(record)


def lookups(schema_name: str, record: Record, ticket: str, payload: bytes, encode: Encode) -> list[Lookup]:
    """Which directories a fact goes to (none: a kind the directory decides itself, or not about persons)."""
    kind = kind_of(schema_name)
    return [] if kind.route is None else kind.route(kind, record, ticket, payload, encode)


def routed(kind: Kind, record: Record, ticket: str, payload: bytes, encode: Encode) -> list[Lookup]:
    """The lookups of a fact that go through ``directory.lookups``: all of them, but for a kind the directory
    reads in its facts topic, those of the persons other than its subject (a birth's parents)."""
    found = [] if kind.route is None else kind.route(kind, record, ticket, payload, encode)
    if not kind.read_in_facts:
        return found
    subject = kind.subject(record)
    return [lookup for lookup in found if lookup.person != subject]


def own_lookups(kind: Kind, record: Record, payload: bytes, encode: Encode) -> list[Lookup]:
    """What the subject's directory does with a fact it reads in the facts topic: the lookups of its subject."""
    assert kind.route is not None and kind.read_in_facts
    subject = kind.subject(record)
    ticket = record["envelope"]["ticket"]
    return [lookup for lookup in kind.route(kind, record, ticket, payload, encode) if lookup.person == subject]


def subject_key(schema_name: str, record: Record) -> str | None:
    """The partition key of a declaration: the person it is about (a DmfA: its employer; unknown: "person")."""
    kind = KINDS.get(schema_name)
    return kind.subject(record) if kind is not None else _field("person")(record)
