"""The DmfA (seed 4.5): an employer's quarterly wage declaration, version after version.

An employer declares each quarter once, the ORIGINAL (version 1), and corrects it by declaring it again whole,
as a CORRECTION with the next version (2, 3, ...). Whether a declaration may follow depends on what was accepted
before for the same (employer, quarter), so these rules are decided by a step of their own keyed by employer
(`topologies.dmfa`), whose state is one `EmployerDmfa` per employer. `decide` is that step's decision, pure (the
time and the encoder are given), returning the outcomes of `streams.domain.outcomes`:

* ``dmfa.correction_without_original``: a CORRECTION for an (employer, quarter) without an accepted ORIGINAL is
  refused (and only for that: the version it should have had is the ORIGINAL's);
* ``dmfa.version_not_next``: any other version than the latest accepted one + 1 is refused -- a skipped version,
  an older one, or the latest one again with other content;
* the latest accepted version sent again *identical* (everything but the envelope) is a duplicate, not a new
  version: acknowledged ACCEPTED again with the ticket it was accepted under, and nothing else -- no fact, no
  notification. A sender that did not get its acknowledgement (or resends to be sure) gets the same receipt;
* a replay (at-least-once: a ticket this step already decided) is recognised and yields nothing: the step records
  a decision in its table only after the decision's outcomes are written (`topologies.dmfa`), so they exist.

An accepted declaration becomes a fact (``facts.dmfa``, the bytes as received) and is acknowledged; each of its
worker lines is routed to its worker's directory (`streams.domain.kinds`) under a ticket derived from the
declaration's and the line's identity; and each worker with a line in the version it corrects but none in the
correction gets a *withdrawal*: the correction reduced to that worker, with no line at all, which empties the
(employer, quarter) in the worker's file and tells its holders.

The directory's side, once a line reaches the worker's file (`keep_wages`, `warning`): a worker's wages for an
(employer, quarter) are the lines of the highest version received, so a version supersedes every line of the
earlier ones (a dropped line too); and a line for a worker without an employment relation (DIMONA) with the
employer during the quarter is accepted, its sender warned (``dmfa.worker_without_dimona``). That rule is
computed there because the relations live in the worker's file, the reference directory's: the DmfA step, keyed
by employer, does not see them, and a copy of them kept per employer would be a second, lagging truth.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from streams.domain import admission, fanout
from streams.domain.directory import PersonFile
from streams.domain.kinds import DMFA_DECLARATION, WITHDRAWN, Lookup, dmfa_withdrawal_ticket, withdrawal_slot
from streams.domain.outcomes import ACKNOWLEDGEMENT, LOOKUP, Forward, Outcome, ToMailbox, ToRejections
from streams.domain.validation import Violation, parse_quarter

Record = Mapping[str, Any]
Encode = Callable[[str, dict[str, Any]], bytes]

SCHEMA = DMFA_DECLARATION.schema
STAGE = "dmfa"  # the rejections' stage of what this step refuses

CORRECTION_WITHOUT_ORIGINAL = "dmfa.correction_without_original"
VERSION_NOT_NEXT = "dmfa.version_not_next"
WORKER_WITHOUT_DIMONA = "dmfa.worker_without_dimona"


# -- the step's state -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Version:
    version: int
    ticket: str  # the ticket it was accepted under: its fact's


@dataclass(frozen=True, slots=True)
class Quarter:
    """What the step decided for one (employer, quarter)."""

    quarter: str
    versions: tuple[Version, ...] = ()  # accepted, in order
    workers: tuple[str, ...] = ()  # with a line in the latest accepted version
    digest: str = ""  # the latest accepted version's content
    decided: tuple[str, ...] = ()  # tickets decided without becoming a version: refused, or duplicates

    @property
    def latest(self) -> Version | None:
        return self.versions[-1] if self.versions else None

    def knows(self, ticket: str) -> bool:
        return ticket in self.decided or any(v.ticket == ticket for v in self.versions)


@dataclass(frozen=True, slots=True)
class EmployerDmfa:
    employer: str
    quarters: tuple[Quarter, ...] = ()

    def quarter(self, quarter: str) -> Quarter:
        return next((q for q in self.quarters if q.quarter == quarter), Quarter(quarter))

    def with_quarter(self, new: Quarter) -> EmployerDmfa:
        others = tuple(q for q in self.quarters if q.quarter != new.quarter)
        return replace(self, quarters=tuple(sorted((*others, new), key=lambda q: q.quarter)))


def content_digest(record: Record) -> str:
    """What makes two declarations the same declaration: everything but the envelope (references, time)."""
    content = {name: value for name, value in record.items() if name != "envelope"}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


# -- the step's decision --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Decision:
    state: EmployerDmfa | None  # None: unchanged, nothing to write back
    outcomes: tuple[Outcome, ...]


def decide(state: EmployerDmfa, record: Record, payload: bytes, at: dt.datetime, encode: Encode) -> Decision:
    """Everything the DmfA step publishes for one admitted (ticketed) declaration, and the employer's new state.

    ``payload`` is the declaration as admitted (what becomes the fact); ``encode`` encodes the lookups."""
    ticket, quarter = record["envelope"]["ticket"], state.quarter(record["quarter"])
    if quarter.knows(ticket):
        return Decision(None, ())  # a replay: decided, and its outcomes written, before
    digest = content_digest(record)
    latest = quarter.latest
    if latest is not None and latest.version == record["version"] and quarter.digest == digest:
        # the same declaration again: its receipt again, under the ticket it was accepted with
        ack = admission.acknowledgement(SCHEMA, record, latest.ticket, at)
        return Decision(state.with_quarter(_decided(quarter, ticket)), (_to_sender(record, ack),))
    violations = violations_of(quarter, record)
    if violations:
        return Decision(state.with_quarter(_decided(quarter, ticket)), _refused(record, payload, violations, at))
    accepted = replace(
        quarter,
        versions=(*quarter.versions, Version(record["version"], ticket)),
        workers=_workers(record),
        digest=digest,
    )
    return Decision(state.with_quarter(accepted), _accepted(quarter, record, payload, at, encode))


def violations_of(quarter: Quarter, record: Record) -> tuple[Violation, ...]:
    """The stateful rules a declaration breaks, given what was accepted for its (employer, quarter)."""
    employer, version = record["employer"], record["version"]
    latest = quarter.latest
    if latest is None:
        if record["nature"] == "CORRECTION":
            return (
                Violation(
                    CORRECTION_WITHOUT_ORIGINAL,
                    "nature",
                    f"no ORIGINAL of {employer} for {quarter.quarter} was accepted: a correction corrects an "
                    "accepted original; declare the ORIGINAL (version 1) first",
                ),
            )
        return ()  # an ORIGINAL is version 1 (intake: dmfa.version), the next one of nothing
    if version == latest.version + 1:
        return ()
    if version == latest.version:
        why = f"version {version} was already accepted with another content (ticket {latest.ticket})"
    elif version < latest.version:
        why = f"version {version} is superseded: version {latest.version} is accepted"
    else:
        why = f"version {latest.version} is the latest accepted"
    return (
        Violation(
            VERSION_NOT_NEXT,
            "version",
            f"{why} for {employer} {quarter.quarter}: a correction is the whole declaration again, as version "
            f"{latest.version + 1}",
        ),
    )


def _decided(quarter: Quarter, ticket: str) -> Quarter:
    return replace(quarter, decided=(*quarter.decided, ticket))


def _workers(record: Record) -> tuple[str, ...]:
    return tuple(dict.fromkeys(line["worker"] for line in record["worker_lines"]))


def _sender(record: Record) -> str:
    return str(record["envelope"]["sender"])


def _to_sender(record: Record, ack: dict[str, Any]) -> ToMailbox:
    return ToMailbox(_sender(record), ACKNOWLEDGEMENT, ack)


def _refused(record: Record, payload: bytes, violations: tuple[Violation, ...], at: dt.datetime) -> tuple[Outcome, ...]:
    envelope = record["envelope"]
    rejection = {
        "ticket": envelope["ticket"],
        "sender_reference": envelope["sender_reference"],
        "sender": envelope["sender"],
        "declaration_type": SCHEMA,
        "stage": STAGE,
        "person": record["employer"],  # what a DmfA is keyed by, at intake too
        "violations": [v.as_dict() for v in violations],
        "declaration": payload,
        "rejected_at": at,
    }
    ack = admission.acknowledgement(SCHEMA, record, envelope["ticket"], at, violations)
    return ToRejections(rejection), _to_sender(record, ack)


def _accepted(
    corrected: Quarter, record: Record, payload: bytes, at: dt.datetime, encode: Encode
) -> tuple[Outcome, ...]:
    """Now a fact, acknowledged; the withdrawals of the workers it drops, then its lines, each to its worker."""
    ticket = record["envelope"]["ticket"]
    outcomes: list[Outcome] = [
        Forward("facts", "dmfa", None, payload),
        _to_sender(record, admission.acknowledgement(SCHEMA, record, ticket, at)),
    ]
    lookups = [*withdrawals(corrected, record, encode), *lines(record, at, encode)]
    for lookup in lookups:
        outcomes.append(Forward("directory", "lookups", lookup.person, encode(LOOKUP, admission.lookup_record(lookup))))
    return tuple(outcomes)


def withdrawals(corrected: Quarter, record: Record, encode: Encode) -> list[Lookup]:
    """One per worker of the corrected version that the correction no longer declares: the correction reduced
    to that worker, with no line -- how a holder learns that the wages it was given are withdrawn."""
    assert DMFA_DECLARATION.effective is not None
    now = set(_workers(record))
    ticket, effective = record["envelope"]["ticket"], DMFA_DECLARATION.effective(record)
    slot = withdrawal_slot(record["employer"], record["quarter"])
    return [
        Lookup(
            worker,
            worker,
            SCHEMA,
            encode(SCHEMA, {**record, "worker_lines": []}),
            dmfa_withdrawal_ticket(ticket, worker),
            effective,
            True,
            True,
            slot,
            record["version"],
        )
        for worker in corrected.workers
        if worker not in now
    ]


def lines(record: Record, at: dt.datetime, encode: Encode) -> list[Lookup]:
    """Each worker line to its worker's directory (`streams.domain.kinds`), with the warning the directory sends
    the sender if the worker had no employment relation with the employer that quarter."""
    assert DMFA_DECLARATION.route is not None
    ticket, employer, quarter = record["envelope"]["ticket"], record["employer"], record["quarter"]
    # the kind's route encodes each line's payload itself (the declaration reduced to the line): no bytes needed
    routed = DMFA_DECLARATION.route(DMFA_DECLARATION, record, ticket, b"", encode)
    result = []
    for index, (lookup, line) in enumerate(zip(routed, record["worker_lines"], strict=True)):
        warning = Violation(
            WORKER_WITHOUT_DIMONA,
            f"worker_lines[{index}].worker",
            f"{line['worker']} has no employment relation (DIMONA) with {employer} during {quarter}: the line is "
            "accepted; declare the relation with a DIMONA IN",
        )
        ack = admission.acknowledgement(SCHEMA, record, ticket, at, warnings=(warning,))
        result.append(replace(lookup, warning=ack))
    return result


# -- the directory's side: the wages in a worker's file -------------------------------------------------------


def _declaration(slot: str) -> str:
    """The (employer, quarter) part of a wage slot."""
    return "/".join(slot.split("/")[:2])


def is_withdrawal(lookup: Lookup) -> bool:
    # explicit, not "a slot without a line": a lookup of the intake before the DmfA step (Lookup v1, still in
    # flight at an upgrade) has the slot employer/quarter and is a line
    return lookup.slot.split("/")[2:] == [WITHDRAWN]


def keep_wages(file: PersonFile, lookup: Lookup) -> PersonFile | None:
    """The file with a DmfA line (or withdrawal) of version v of an (employer, quarter): every line of that
    (employer, quarter) of an earlier version is superseded -- a line the correction dropped too -- and the line
    itself kept (a withdrawal keeps nothing). None when a later version already holds: this one is superseded
    itself (replayed late), and is neither kept nor delivered."""
    declaration = _declaration(lookup.slot)
    same = [f for f in file.facts if f.schema_name == lookup.schema_name and _declaration(f.slot) == declaration]
    if any(f.version > lookup.version for f in same):
        return None
    superseded = [f for f in same if f.version < lookup.version or f.slot == lookup.slot]
    kept = tuple(f for f in file.facts if f not in superseded)
    if is_withdrawal(lookup):
        return replace(file, facts=kept) if superseded else file
    return replace(file, facts=(*kept, fanout.kept(lookup)))


def employed_during(file: PersonFile, employer: str, quarter: str) -> bool:
    """Whether the person had an employment relation (DIMONA, not cancelled) with ``employer`` on some day of
    ``quarter``."""
    bounds = parse_quarter(quarter)
    if bounds is None:  # a wage slot holds a validated quarter; this is a programming error
        raise ValueError(f"not a quarter: {quarter!r}")
    first, last = bounds
    return any(r.employer == employer and r.start <= last and (r.end is None or r.end >= first) for r in file.relations)


def warning(file: PersonFile, lookup: Lookup) -> tuple[Outcome, ...]:
    """The line's warning to its sender when the worker had no DIMONA with the employer that quarter."""
    if lookup.warning is None:
        return ()
    employer, quarter = _declaration(lookup.slot).split("/")
    if employed_during(file, employer, quarter):
        return ()
    return (ToMailbox(str(lookup.warning["recipient"]), ACKNOWLEDGEMENT, dict(lookup.warning)),)
