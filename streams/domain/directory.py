"""The reference directory of one person: which institutions hold a file on them, in which capacity, when;
plus the employment relations DIMONA declares (the employer's access key, seed 4.13).

Pure and immutable: every rule takes a `PersonFile` and returns a new one (or a refusal). History is kept —
an unregistration closes an entry, it never deletes it — so "who held a file on P at date D" stays answerable;
so is every civil fact (each address, each civil status, with its effective date), so that "P's identity as
of D" does too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from streams.domain.network import Network

Record = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Entry:
    """One file an institution holds on the person: `(institution, sector, capacity, period, status)`."""

    institution: str
    sector: str
    capacity: str
    start: dt.date
    end: dt.date | None
    status: str  # PROVISIONAL | DEFINITIVE
    ticket: str  # the integration's platform ticket

    def active_on(self, day: dt.date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)

    def overlaps(self, start: dt.date, end: dt.date | None) -> bool:
        return _overlap(self.start, self.end, start, end)


@dataclass(frozen=True, slots=True)
class Relation:
    """An employment relation declared by DIMONA: its employer may consult its worker while it lasts."""

    employer: str
    start: dt.date
    end: dt.date | None
    worker_type: str
    joint_committee: str
    ticket: str  # the DIMONA IN's platform ticket
    payload: bytes  # the DIMONA IN fact as received (what an employment consultation returns)

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
        """The files active on `day` (as-of query)."""
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


@dataclass(frozen=True, slots=True)
class Changed:
    file: PersonFile


Outcome = Changed | Refusal


def _overlap(a_start: dt.date, a_end: dt.date | None, b_start: dt.date, b_end: dt.date | None) -> bool:
    return (b_end is None or a_start <= b_end) and (a_end is None or b_start <= a_end)


# -- integrations -----------------------------------------------------------------------------------------------


def apply_integration(file: PersonFile, integration: Record, ticket: str, network: Network) -> Outcome:
    """REGISTER or UNREGISTER one institution's file on the person, with the network's and the anti-fraud rules."""
    institution, sector, capacity = integration["institution"], integration["sector"], integration["capacity"]
    known = network.institution(institution)
    if known is None:
        return Refusal("directory.unknown_institution", "institution", f"{institution} is not in the network")
    if known.sector != sector:
        return Refusal(
            "directory.sector_mismatch", "sector", f"{institution} belongs to sector {known.sector}, not {sector}"
        )
    if not network.is_capacity(sector, capacity):
        return Refusal("directory.unknown_capacity", "capacity", f"sector {sector} has no capacity {capacity!r}")
    if integration["envelope"]["sender"] != institution:
        return Refusal(
            "directory.not_own_file", "institution", "an institution registers and unregisters only its own files"
        )
    period = integration["period"]
    if integration["action"] == "UNREGISTER":
        return _unregister(file, institution, capacity, period["start"], period["end"])
    return _register(
        file,
        Entry(institution, sector, capacity, period["start"], period["end"], integration["status"], ticket),
    )


def _register(file: PersonFile, new: Entry) -> Outcome:
    same_file = [
        e for e in file.entries if (e.institution, e.capacity, e.start) == (new.institution, new.capacity, new.start)
    ]
    others = [e for e in file.entries if e not in same_file]
    for e in others:
        if e.sector == new.sector and e.capacity == new.capacity and e.overlaps(new.start, new.end):
            if e.institution == new.institution:
                return Refusal(
                    "directory.overlap_same_institution",
                    "period",
                    f"{new.institution} already holds a file in capacity {new.capacity} from {e.start}"
                    f" to {e.end or 'open end'}",
                )
            # seed 4.14: one person, one capacity, one period, one institution of the sector
            return Refusal(
                "directory.overlap",
                "period",
                f"already registered in capacity {new.capacity} of sector {new.sector} at {e.institution} "
                f"from {e.start} to {e.end or 'open end'}: the same person cannot be registered in the same "
                "capacity for an overlapping period at two institutions of the same sector",
            )
    # re-registering the same file (same institution, capacity and start) updates its status and period
    return Changed(replace(file, entries=(*others, new)))


def _unregister(file: PersonFile, institution: str, capacity: str, start: dt.date, end: dt.date | None) -> Outcome:
    if end is None:
        return Refusal(
            "directory.unregister_without_end", "period.end", "an unregistration gives the last day the file was held"
        )
    match = next(
        (e for e in file.entries if (e.institution, e.capacity, e.start) == (institution, capacity, start)), None
    )
    if match is None:
        return Refusal(
            "directory.not_registered",
            "period.start",
            f"{institution} holds no file in capacity {capacity} starting {start}",
        )
    if end < match.start:
        return Refusal("directory.end_before_start", "period.end", f"{end} is before the file's start {match.start}")
    closed = replace(match, end=end if match.end is None else min(match.end, end))
    return Changed(replace(file, entries=tuple(closed if e is match else e for e in file.entries)))


# -- DIMONA: the employment relations ----------------------------------------------------------------------------

DIMONA_IN = "be.crossroads.dimona.DimonaIn"
DIMONA_OUT = "be.crossroads.dimona.DimonaOut"
DIMONA_UPDATE = "be.crossroads.dimona.DimonaUpdate"
DIMONA_CANCEL = "be.crossroads.dimona.DimonaCancel"


def apply_dimona(file: PersonFile, schema_name: str, record: Record, ticket: str, payload: bytes) -> Outcome:
    employer = record["employer"]
    if schema_name == DIMONA_IN:
        start = record["start_date"]
        if any(r.ticket == ticket for r in file.relations):
            return Changed(file)  # this very declaration, delivered again (at-least-once): already applied
        if any(r.employer == employer and r.start == start for r in file.relations):
            return Refusal("dimona.duplicate_in", "start_date", f"a relation with {employer} from {start} exists")
        relation = Relation(
            employer,
            start,
            record["planned_end_date"],
            record["worker_type"],
            record["joint_committee"],
            ticket,
            payload,
        )
        return Changed(replace(file, relations=(*file.relations, relation)))
    start = record["relation_start_date"]
    match = next((r for r in file.relations if r.employer == employer and r.start == start), None)
    if match is None:
        kind = {DIMONA_OUT: "out", DIMONA_UPDATE: "update", DIMONA_CANCEL: "cancel"}.get(schema_name, "declaration")
        return Refusal(
            f"dimona.{kind}_without_in",
            "relation_start_date",
            f"no DIMONA IN of {employer} for this worker starting {start}",
        )
    if schema_name == DIMONA_OUT:
        end = record["end_date"]
        if end < match.start:
            return Refusal("dimona.end_before_start", "end_date", f"{end} is before the relation's start {match.start}")
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
