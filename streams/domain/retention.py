"""What the reference directory keeps, and for how long: the purge of a person file (issue 15, item 5).

Pure: `purge(file, today, periods)` returns the file without what is past its legal period, or says that the
whole file goes, and lists every item it removed, so that each can be audited. The periods are the
warehouse's (`Settings.retention_*`, docs/warehouse.md "Retention"), so the directory and the warehouse forget
a person's data after the same time:

* a **directory entry** whose last held day (its end, or the last day of an unconfirmed provisional period:
  `Entry.last_day`) is before today - `directory_years`;
* an **employment relation** (DIMONA) that ended before today - `dimona_years`;
* the **wages** of a DmfA quarter (a stored fact that is no civil fact) that started before
  today - `dmfa_years` (the warehouse's rule for DmfA lines);
* the **whole file** of a person who died (a stored Death fact) before today - `deceased_years`, once
  nothing is open in it: no entry held without an end (`last_day` None), no relation without an end. A file
  the purge leaves empty goes whole too, so that no empty value of a person lingers in the changelog.

Never an open entry nor an open relation, whatever else applies. Civil facts (the history of births,
addresses, civil statuses, the death) are kept while the person lives: an identity consultation as of any day
needs the one then in force, and no period is set for them other than the deceased's.

"Before the cutoff" is strict: a closed entry whose last day is exactly today - 10 years is kept until
tomorrow. A cutoff that falls on 29 February of a non-leap year is 28 February.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, replace
from enum import StrEnum

from streams.domain.directory import CIVIL_PREFIX, Entry, PersonFile, Relation, StoredFact
from streams.domain.kinds import DEATH, DIMONA_IN, INTEGRATION
from streams.domain.sources import NATIONAL_REGISTER

# the AuditRecord's actor of a purge: not an institution, the platform's reference directory did it
DIRECTORY_ACTOR = "crossroads.directory"

# Fixed forever: a purge ticket is derived from it, so a purge run again (after a crash) has the same tickets
# and audit ids.
_PURGE_NAMESPACE = uuid.UUID("3c1f0b8e-2a57-5d49-8e3b-7a61c0d94f25")


class PurgedKind(StrEnum):
    """What kind of item a purge removed (the AuditRecord's `purged`)."""

    DIRECTORY_ENTRY = "DIRECTORY_ENTRY"
    EMPLOYMENT_RELATION = "EMPLOYMENT_RELATION"
    WAGES = "WAGES"
    CIVIL_FACT = "CIVIL_FACT"


@dataclass(frozen=True, slots=True)
class Periods:
    """How long, in years, the directory keeps what ended (the warehouse's `retention_*` settings)."""

    directory_years: int = 10
    dimona_years: int = 7
    dmfa_years: int = 7
    deceased_years: int = 30

    def __post_init__(self) -> None:
        for name in ("directory_years", "dimona_years", "dmfa_years", "deceased_years"):
            if getattr(self, name) < 1:
                raise ValueError(f"a retention period is at least one year: {name}={getattr(self, name)}")


@dataclass(frozen=True, slots=True)
class Purged:
    """One item removed from a person file: what it was, whose, under which ticket it came, when it ended and
    why it went. No payload: the audit of a purge must not keep the data it removes."""

    kind: PurgedKind
    holder: str  # the institution, the employer, or the National Register (civil facts)
    data_type: str  # the schema of the declaration that made the item
    ticket: str  # the platform ticket of that declaration
    slot: str  # what identifies it in the file besides its ticket (its capacity and start, a relation's start...)
    ended: dt.date  # the day its period is counted from (a quarter's wages: the quarter's first day)
    reason: str

    @property
    def purge_ticket(self) -> str:
        """Derived from the item alone (not from the day): purging it again gives the same ticket."""
        return str(uuid.uuid5(_PURGE_NAMESPACE, f"{self.kind}|{self.ticket}|{self.slot}"))


@dataclass(frozen=True, slots=True)
class Purge:
    """The outcome of `purge`: the file to keep (None: delete the person's file) and what was removed."""

    file: PersonFile | None
    items: tuple[Purged, ...]

    @property
    def changed(self) -> bool:
        return bool(self.items)


def years_before(day: dt.date, years: int) -> dt.date:
    """`day` moved back `years` calendar years (29 February to 28 February when needed)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February, to a year without one
        return day.replace(year=day.year - years, day=28)


def is_open(entry: Entry) -> bool:
    """Held without an end: never purged."""
    return entry.last_day is None


def purge(file: PersonFile, today: dt.date, periods: Periods) -> Purge:
    """`file` without what is past its period on `today` (see the module doc), and the items removed."""
    entries_cutoff = years_before(today, periods.directory_years)
    relations_cutoff = years_before(today, periods.dimona_years)
    wages_cutoff = years_before(today, periods.dmfa_years)
    death = _died_before(file, years_before(today, periods.deceased_years))
    if death is not None and not any(is_open(e) for e in file.entries) and all(r.end for r in file.relations):
        why = f"the person died on {death}, more than {periods.deceased_years} years ago, and nothing is open"
        items = (
            *(_entry_item(e, why) for e in file.entries),
            *(_relation_item(r, why) for r in file.relations),
            *(_fact_item(f, why) for f in file.facts),
        )
        return Purge(None, items) if items else Purge(file, ())

    gone_entries = [e for e in file.entries if not is_open(e) and _before(e.last_day, entries_cutoff)]
    gone_relations = [r for r in file.relations if _before(r.end, relations_cutoff)]
    gone_facts = [
        f for f in file.facts if not f.schema_name.startswith(CIVIL_PREFIX) and _quarter_start(f) < wages_cutoff
    ]
    items = (
        *(_entry_item(e, _past("closed directory entries", e.last_day, periods.directory_years)) for e in gone_entries),
        *(_relation_item(r, _past("ended employment relations", r.end, periods.dimona_years)) for r in gone_relations),
        *(_fact_item(f, _past("DmfA wages", _quarter_start(f), periods.dmfa_years, "started")) for f in gone_facts),
    )
    if not items:
        return Purge(file, ())
    kept = replace(
        file,
        entries=tuple(e for e in file.entries if e not in gone_entries),
        relations=tuple(r for r in file.relations if r not in gone_relations),
        facts=tuple(f for f in file.facts if f not in gone_facts),
    )
    return Purge(None if kept == PersonFile() else kept, items)


def _before(day: dt.date | None, cutoff: dt.date) -> bool:
    return day is not None and day < cutoff


def _died_before(file: PersonFile, cutoff: dt.date) -> dt.date | None:
    deaths = [f.effective for f in file.facts if f.schema_name == DEATH.schema]
    return min(deaths) if deaths and min(deaths) < cutoff else None


def _quarter_start(wages: StoredFact) -> dt.date:
    """The first day of the quarter whose wages `wages` are (its effective date is the quarter's last day)."""
    day = wages.effective
    return dt.date(day.year, (day.month - 1) // 3 * 3 + 1, 1)


def _past(what: str, day: dt.date | None, years: int, verb: str = "ended") -> str:
    return f"{verb} on {day}: past the {years}-year retention of {what}"


def _entry_item(entry: Entry, why: str) -> Purged:
    return Purged(
        PurgedKind.DIRECTORY_ENTRY,
        holder=entry.institution,
        data_type=INTEGRATION.schema,
        ticket=entry.ticket,
        slot=f"{entry.capacity}/{entry.start}",
        ended=entry.last_day or entry.start,
        reason=why,
    )


def _relation_item(relation: Relation, why: str) -> Purged:
    return Purged(
        PurgedKind.EMPLOYMENT_RELATION,
        holder=relation.employer,
        data_type=DIMONA_IN.schema,
        ticket=relation.ticket,
        slot=f"{relation.employer}/{relation.declared_start}",
        ended=relation.end or relation.start,
        reason=why,
    )


def _fact_item(fact: StoredFact, why: str) -> Purged:
    civil = fact.schema_name.startswith(CIVIL_PREFIX)
    return Purged(
        PurgedKind.CIVIL_FACT if civil else PurgedKind.WAGES,
        holder=NATIONAL_REGISTER if civil else fact.slot.split("/", 1)[0],
        data_type=fact.schema_name,
        ticket=fact.ticket,
        slot=f"{fact.slot}/{fact.effective}",
        ended=fact.effective if civil else _quarter_start(fact),
        reason=why,
    )
