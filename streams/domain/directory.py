"""The reference directory of one person: which institutions hold a file on them, in which capacity, when;
plus the employment relations DIMONA declares (the employer's access key, seed 4.13).

Pure and immutable: every rule takes a `PersonFile` and returns a new one (or a refusal). History is kept —
an unregistration closes an entry, it does not delete it — so "who held a file on P at date D" stays answerable;
so is every civil fact (each address, each civil status, with its effective date), so that "P's identity as
of D" does too. Only the retention periods end that history (`streams.domain.retention`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from streams.domain import kinds
from streams.domain.network import Network
from streams.domain.validation.rules import rule

Record = Mapping[str, Any]

PROVISIONAL = "PROVISIONAL"  # an entry's status while its institution examines the file; else DEFINITIVE


@dataclass(frozen=True, slots=True)
class Entry:
    """One file an institution holds on the person: `(institution, sector, capacity, period, status)`.

    A PROVISIONAL file (registered before the institution has decided, e.g. on an application) is held only
    until `provisional_until`, its sector's provisional period counted from its start, unless the institution
    confirms it by registering the same file DEFINITIVE; after that day it is not held: no fan-out, no
    consultation, no anti-fraud overlap. The period is fixed when the file is registered."""

    institution: str
    sector: str
    capacity: str
    start: dt.date
    end: dt.date | None
    status: str  # PROVISIONAL | DEFINITIVE
    ticket: str  # the integration's platform ticket
    provisional_until: dt.date | None = None  # a provisional file's last day unless confirmed; None: definitive

    @property
    def last_day(self) -> dt.date | None:
        """The last day the file is held: its end, or the end of its provisional period if that comes first."""
        if self.provisional_until is None or (self.end is not None and self.end <= self.provisional_until):
            return self.end
        return self.provisional_until

    def active_on(self, day: dt.date) -> bool:
        last = self.last_day
        return self.start <= day and (last is None or day <= last)

    def overlaps(self, start: dt.date, end: dt.date | None) -> bool:
        return _overlap(self.start, self.last_day, start, end)


@dataclass(frozen=True, slots=True)
class Relation:
    """An employment relation declared by DIMONA: its employer may consult its worker while it lasts.

    Its identity is `(employer, declared_start)`: the start its DIMONA IN declared, which every later OUT,
    UPDATE and CANCEL quotes (`relation_start_date`) and the warehouse names it by. An UPDATE may move `start`
    (from then on, the relation runs from there), never `declared_start`."""

    employer: str
    start: dt.date  # the current start: the IN's, or the latest UPDATE's new start
    end: dt.date | None
    worker_type: str
    joint_committee: str
    ticket: str  # the DIMONA IN's platform ticket
    payload: bytes  # the DIMONA IN fact as received (what an employment consultation returns)
    declared_start: dt.date  # the IN's start_date: the relation's name, whatever UPDATEs did to `start`

    def active_on(self, day: dt.date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


CIVIL_PREFIX = "be.crossroads.civil."


@dataclass(frozen=True, slots=True)
class StoredFact:
    """A fact kept about the person for consultations: every civil fact (the history), the latest wages per
    employer and quarter."""

    schema_name: str
    slot: str  # what it is a fact of: the schema for civil facts, "<employer>/<quarter>" for wages
    version: int
    effective: dt.date
    ticket: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class PersonFile:
    entries: tuple[Entry, ...] = ()
    relations: tuple[Relation, ...] = ()
    facts: tuple[StoredFact, ...] = ()

    def holders(self, day: dt.date) -> list[Entry]:
        """The files active on `day` (as-of query): within their period, and a provisional one within its
        provisional period."""
        return [e for e in self.entries if e.active_on(day)]

    def relation(self, employer: str, day: dt.date) -> Relation | None:
        return next((r for r in self.relations if r.employer == employer and r.active_on(day)), None)

    def stored(self, schema_prefix: str, until: dt.date) -> list[StoredFact]:
        return sorted(
            (f for f in self.facts if f.schema_name.startswith(schema_prefix) and f.effective <= until),
            key=lambda f: (f.effective, f.slot),
        )

    def in_force(self, schema_prefix: str, on: dt.date) -> list[StoredFact]:
        """Per slot, the fact in force on `on`: the latest effective on or before it (as-of query). An address
        as of a day between two moves is the first move's, whatever order the moves arrived in."""
        latest: dict[str, StoredFact] = {}
        for f in self.stored(schema_prefix, on):  # by effective date: a later one replaces an earlier one
            latest[f.slot] = f
        return sorted(latest.values(), key=lambda f: (f.effective, f.slot))


@dataclass(frozen=True, slots=True)
class Refusal:
    """A stateful rejection: stable code + readable reason (reported to the sender, with the ticket)."""

    code: str
    field: str
    message: str

    def __post_init__(self) -> None:
        if rule(self.code).scope != "state":
            raise ValueError(f"{self.code} is not a stateful rule: the directory does not decide it")


@dataclass(frozen=True, slots=True)
class Changed:
    file: PersonFile


# A refused declaration is told every rule it breaks, as intake tells every violation: never empty.
Refusals = tuple[Refusal, ...]
Outcome = Changed | Refusals


def _overlap(a_start: dt.date, a_end: dt.date | None, b_start: dt.date, b_end: dt.date | None) -> bool:
    return (b_end is None or a_start <= b_end) and (a_end is None or b_start <= a_end)


# -- integrations -----------------------------------------------------------------------------------------------


def apply_integration(file: PersonFile, integration: Record, ticket: str, network: Network) -> Outcome:
    """REGISTER or UNREGISTER one institution's file on the person, with the network's and the anti-fraud rules.

    Every rule is checked, so that the sender learns all that is wrong at once: the network's rules (each on
    the fields it can judge), then the rules of the action on the person's file."""
    institution, sector, capacity = integration["institution"], integration["sector"], integration["capacity"]
    refusals: list[Refusal] = []
    known = network.institution(institution)
    if known is None:
        refusals.append(Refusal("directory.unknown_institution", "institution", f"{institution} is not in the network"))
    elif known.sector != sector:
        refusals.append(
            Refusal(
                "directory.sector_mismatch", "sector", f"{institution} belongs to sector {known.sector}, not {sector}"
            )
        )
    if not network.is_capacity(sector, capacity):
        refusals.append(
            Refusal("directory.unknown_capacity", "capacity", f"sector {sector} has no capacity {capacity!r}")
        )
    if integration["envelope"]["sender"] != institution:
        refusals.append(
            Refusal(
                "directory.not_own_file", "institution", "an institution registers and unregisters only its own files"
            )
        )
    period = integration["period"]
    if integration["action"] == "UNREGISTER":
        outcome = _unregister(file, institution, capacity, period["start"], period["end"])
    else:
        start, status = period["start"], integration["status"]
        until = _provisional_until(start, network.provisional_days(sector)) if status == PROVISIONAL else None
        outcome = _register(file, Entry(institution, sector, capacity, start, period["end"], status, ticket, until))
    if isinstance(outcome, tuple):
        return (*refusals, *outcome)
    return tuple(refusals) or outcome


def _provisional_until(start: dt.date, days: int) -> dt.date | None:
    """The last of `days` days from `start` (None past the calendar's end: held as long as dates go)."""
    try:
        return start + dt.timedelta(days=days - 1)
    except OverflowError:
        return None


def _register(file: PersonFile, new: Entry) -> Outcome:
    same_file = [
        e for e in file.entries if (e.institution, e.capacity, e.start) == (new.institution, new.capacity, new.start)
    ]
    others = [e for e in file.entries if e not in same_file]
    refusals: list[Refusal] = []
    for e in others:
        # as held: an expired provisional file no longer takes the capacity, nor a new one past its period
        if e.sector == new.sector and e.capacity == new.capacity and e.overlaps(new.start, new.last_day):
            if e.institution == new.institution:
                refusals.append(
                    Refusal(
                        "directory.overlap_same_institution",
                        "period",
                        f"{new.institution} already holds a file in capacity {new.capacity} from {e.start}"
                        f" to {e.last_day or 'open end'}",
                    )
                )
                continue
            # seed 4.14: one person, one capacity, one period, one institution of the sector
            refusals.append(
                Refusal(
                    "directory.overlap",
                    "period",
                    f"already registered in capacity {new.capacity} of sector {new.sector} at {e.institution} "
                    f"from {e.start} to {e.last_day or 'open end'}: the same person cannot be registered in the same "
                    "capacity for an overlapping period at two institutions of the same sector",
                )
            )
    if refusals:
        return tuple(refusals)
    # re-registering the same file (same institution, capacity and start) updates its status and period
    return Changed(replace(file, entries=(*others, new)))


def _unregister(file: PersonFile, institution: str, capacity: str, start: dt.date, end: dt.date | None) -> Outcome:
    refusals: list[Refusal] = []
    if end is None:
        refusals.append(
            Refusal(
                "directory.unregister_without_end",
                "period.end",
                "an unregistration gives the last day the file was held",
            )
        )
    match = next(
        (e for e in file.entries if (e.institution, e.capacity, e.start) == (institution, capacity, start)), None
    )
    if match is None:
        refusals.append(
            Refusal(
                "directory.not_registered",
                "period.start",
                f"{institution} holds no file in capacity {capacity} starting {start}",
            )
        )
    elif end is not None and end < match.start:
        refusals.append(
            Refusal("directory.end_before_start", "period.end", f"{end} is before the file's start {match.start}")
        )
    if refusals or match is None or end is None:
        return tuple(refusals)
    closed = replace(match, end=end if match.end is None else min(match.end, end))
    return Changed(replace(file, entries=tuple(closed if e is match else e for e in file.entries)))


# -- DIMONA: the employment relations ----------------------------------------------------------------------------

DIMONA_IN, DIMONA_OUT = kinds.DIMONA_IN.schema, kinds.DIMONA_OUT.schema
DIMONA_UPDATE, DIMONA_CANCEL = kinds.DIMONA_UPDATE.schema, kinds.DIMONA_CANCEL.schema


def apply_dimona(file: PersonFile, schema_name: str, record: Record, ticket: str, payload: bytes) -> Outcome:
    employer = record["employer"]
    if schema_name == DIMONA_IN:
        return _hire(file, record, ticket, payload)
    # OUT, UPDATE and CANCEL name the relation by the start it was declared with: only that start identifies
    # it for good (an UPDATE may have moved its current start), and it is the start the warehouse groups the
    # relation's events by, fact by fact, without the directory's state. A moved start is not accepted too:
    # the warehouse would see those events as another relation.
    declared = record["relation_start_date"]
    match = next((r for r in file.relations if r.employer == employer and r.declared_start == declared), None)
    if match is None:
        return (_without_in(file, schema_name, employer, declared),)
    if schema_name == DIMONA_OUT:
        end = record["end_date"]
        if end < match.start:
            return (
                Refusal(
                    "dimona.end_before_relation_start",
                    "end_date",
                    f"{end} is before the relation's start {match.start}",
                ),
            )
        return Changed(_swap(file, match, replace(match, end=end)))
    if schema_name == DIMONA_UPDATE:
        updated = replace(
            match,
            start=record["new_start_date"] or match.start,
            end=record["new_end_date"] or match.end,
            joint_committee=record["new_joint_committee"] or match.joint_committee,
            worker_type=record["new_worker_type"] or match.worker_type,
        )
        return Changed(_swap(file, match, updated))
    # cancel: the relation never existed
    return Changed(replace(file, relations=tuple(r for r in file.relations if r is not match)))


def _hire(file: PersonFile, record: Record, ticket: str, payload: bytes) -> Outcome:
    employer, start, planned_end = record["employer"], record["start_date"], record["planned_end_date"]
    if any(r.ticket == ticket for r in file.relations):
        return Changed(file)  # this very declaration, delivered again (at-least-once): already applied
    refusals: list[Refusal] = []
    for r in file.relations:
        if r.employer != employer:
            continue  # a worker may have several employers at once
        if start in (r.declared_start, r.start):
            # that start names a relation of this employer (declared from it, or moved to it): not another one
            refusals.append(
                Refusal("dimona.duplicate_in", "start_date", f"a relation with {employer} from {start} exists")
            )
        elif _overlap(r.start, r.end, start, planned_end):
            # one employer, one worker, one relation at a time: the period of an existing one is extended or
            # moved by an UPDATE, or ended by an OUT, before another starts
            refusals.append(
                Refusal(
                    "dimona.relation_overlap",
                    "start_date",
                    f"overlaps the relation with {employer} from {r.start} to {r.end or 'open end'}"
                    f" (declared from {r.declared_start}): end it with a DIMONA OUT or correct it with an UPDATE",
                )
            )
    if refusals:
        return tuple(refusals)
    relation = Relation(
        employer,
        start,
        planned_end,
        record["worker_type"],
        record["joint_committee"],
        ticket,
        payload,
        declared_start=start,
    )
    return Changed(replace(file, relations=(*file.relations, relation)))


def _without_in(file: PersonFile, schema_name: str, employer: str, declared: dt.date) -> Refusal:
    code = {
        DIMONA_OUT: "dimona.out_without_in",
        DIMONA_UPDATE: "dimona.update_without_in",
        DIMONA_CANCEL: "dimona.cancel_without_in",
    }[schema_name]
    message = f"no DIMONA IN of {employer} for this worker starting {declared}"
    moved = next((r for r in file.relations if r.employer == employer and r.start == declared), None)
    if moved is not None:  # the sender quoted the start an UPDATE moved the relation to: say which to quote
        message += f"; the relation now starting {declared} was declared from {moved.declared_start}: quote that start"
    return Refusal(code, "relation_start_date", message)


def _swap(file: PersonFile, old: Relation, new: Relation) -> PersonFile:
    return replace(file, relations=tuple(new if r is old else r for r in file.relations))


# -- facts kept for consultations --------------------------------------------------------------------------------


def store_fact(file: PersonFile, fact: StoredFact) -> PersonFile:
    """Keep a civil fact in the person's history; keep the latest wages per slot (employer and quarter)."""
    if fact.schema_name.startswith(CIVIL_PREFIX):
        return _keep_in_history(file, fact)
    # wages: a higher version (a DmfA correction) supersedes, an older one is ignored
    current = next((f for f in file.facts if f.slot == fact.slot), None)
    if current is not None and (current.version, current.effective) > (fact.version, fact.effective):
        return file
    kept = tuple(f for f in file.facts if f.slot != fact.slot)
    return replace(file, facts=(*kept, fact))


def _keep_in_history(file: PersonFile, fact: StoredFact) -> PersonFile:
    """Every civil fact stays, with its effective date: a consultation as of any day needs the one then in
    force (an address change effective later does not erase the earlier address). The same fact delivered again
    (at-least-once: same ticket) is kept once; another fact of the same kind effective the same day replaces it
    (the later word of the register on that day)."""
    if any(f.ticket == fact.ticket and f.slot == fact.slot for f in file.facts):
        return file
    kept = tuple(f for f in file.facts if (f.slot, f.effective) != (fact.slot, fact.effective))
    return replace(file, facts=(*kept, fact))


def entries_of(file: PersonFile, institution: str) -> Iterable[Entry]:
    return (e for e in file.entries if e.institution == institution)


def entry_as_integration(entry: Entry, person: str) -> dict[str, Any]:
    """A directory entry told back as the Integration that registered it (what DirectoryEntries returns)."""
    return {
        "envelope": {
            "ticket": entry.ticket,
            "sender_reference": entry.ticket,
            "sender": entry.institution,
            "environment": "PRODUCTION",
            "recorded_at": dt.datetime.combine(entry.start, dt.time(), dt.UTC),
            "schema_version": 1,
        },
        "action": "REGISTER",
        "person": person,
        "institution": entry.institution,
        "sector": entry.sector,
        "capacity": entry.capacity,
        "period": {"start": entry.start, "end": entry.end},
        "status": entry.status,
    }
