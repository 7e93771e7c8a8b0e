"""What came out of a run, as canonical id sets, and how a run under faults compares with the clean baseline.

Pure: no Kafka. The reader (`chaos.stack.read_outputs`) turns every output record into one of the small tuples
below; `canonical` names each by what it is *about*, independently of the run's topic prefix, and `compare`
subtracts.

Why canonical ids and not the tickets themselves: a ticket is UUIDv5 of the intake position *including the
topic's name*, so the same declaration has another ticket under the baseline's prefix than under the scenario's
(and, in the fuzz scenario, another offset too). What stays the same is the declaration's sender reference. So
each id is rewritten in terms of the references it derives from:

=================  ===============================================  ============================================
kind               canonical id                                     "a new ticket" (duplicates_with_new_ticket)
=================  ===============================================  ============================================
acknowledgements   (sender reference, warned fields...)             one reference acknowledged under 2 tickets
notifications      (source reference, recipient, person)            one (source ticket, recipient), 2 tickets
replies            (request reference,)                             one request answered under 2 reply tickets
audit              (source reference, kind, actor, person)          one (ticket, actor, kind), 2 audit ids
rejections         (reference, stage)                               one (reference, stage), 2 tickets
facts              (family, reference)                              one (family, reference), 2 fact tickets
=================  ===============================================  ============================================

The person is part of the notification and audit ids because one source ticket legitimately reaches the same
recipient about several persons (a birth, about the child, to the holders of both parents). A DmfA is delivered
line by line, each line under a ticket derived from the declaration's and the line's identity (and a worker a
correction drops under one derived from the correction's): its source reference is the declaration's reference
and the line (`derived_tickets`, from the DmfA facts read). An accepted DmfA may be acknowledged again with a
warning (a line without DIMONA): that acknowledgement's id names the warned field. Each record's own ticket is also
checked against the documented derivation (intake position, (source ticket, recipient), request ticket,
(ticket, actor, kind)): a record whose id is not derived as documented is counted as ``underived``.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from streams.domain.admission import intake_ticket
from streams.domain.audit import AuditKind, audit_id
from streams.domain.consult import reply_ticket
from streams.domain.fanout import notification_ticket
from streams.domain.kinds import dmfa_line_ticket, dmfa_withdrawal_ticket

KINDS = ("acknowledgements", "notifications", "replies", "audit", "rejections", "facts")
EXAMPLES = 6
UNKNOWN = "?"  # prefix of the reference of a ticket no produced record has


class Sent(NamedTuple):
    """One record produced to an intake topic, where it landed (from the producer's delivery report)."""

    reference: str
    topic: str
    partition: int
    offset: int

    @property
    def ticket(self) -> str:
        return str(intake_ticket(self.topic, self.partition, self.offset))


class Ack(NamedTuple):
    reference: str
    ticket: str
    status: str
    # an accepted declaration acknowledged again with warnings (a DmfA line without DIMONA): the warned fields
    warnings: tuple[str, ...] = ()


class Notification(NamedTuple):
    ticket: str
    source_ticket: str
    recipient: str
    person: str


class Reply(NamedTuple):
    ticket: str
    request_ticket: str
    status: str


class Audit(NamedTuple):
    audit_id: str
    ticket: str
    source_ticket: str | None
    actor: str
    kind: str
    person: str


class Rejection(NamedTuple):
    ticket: str
    reference: str
    stage: str
    codes: tuple[str, ...]


class DeadLetter(NamedTuple):
    topic: str
    partition: int
    offset: int
    reason: str


class Fact(NamedTuple):
    family: str  # the facts topic's name: dimona, dmfa, civil, integrations
    ticket: str
    reference: str
    lines: int  # worker lines of a DmfA declaration (rows of dmfa_lines), else 0
    # a DmfA's: "employer/quarter", its version and its lines' identities ("worker/category/committee"), from
    # which the tickets its lines and withdrawals are delivered under are derived (streams.domain.kinds)
    declaration: str = ""
    version: int = 0
    line_keys: tuple[str, ...] = ()


@dataclass
class Outputs:
    """Everything one run wrote to its mailboxes, rejections, dead letters, audit trail and facts topics."""

    acks: list[Ack] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)
    audits: list[Audit] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    facts: list[Fact] = field(default_factory=list)
    undecodable: Counter[str] = field(default_factory=Counter)  # output topic -> records that did not decode

    def read(self) -> dict[str, int]:
        return {
            "acknowledgements": len(self.acks),
            "notifications": len(self.notifications),
            "replies": len(self.replies),
            "audit": len(self.audits),
            "rejections": len(self.rejections),
            "dead_letters": len(self.dead_letters),
            "facts": len(self.facts),
        }


def references_by_ticket(sent: Iterable[Sent]) -> dict[str, str]:
    """intake ticket -> sender reference, for every record a run produced."""
    return {s.ticket: s.reference for s in sent}


def derived_tickets(facts: Iterable[Fact]) -> dict[str, tuple[str, str]]:
    """The tickets a DmfA's deliveries carry -> (the declaration's ticket, what they deliver): one per worker line,
    derived from the declaration's ticket and the line's identity, and one per worker a correction withdraws
    (a worker of the version before it without a line in it)."""
    derived: dict[str, tuple[str, str]] = {}
    versions: defaultdict[str, list[Fact]] = defaultdict(list)
    for f in facts:
        if f.family != "dmfa" or not f.declaration:
            continue
        versions[f.declaration].append(f)
        for key in f.line_keys:
            worker, category, committee = key.split("/")
            line = {"worker": worker, "worker_category": category, "joint_committee": committee}
            derived[dmfa_line_ticket(f.ticket, line)] = (f.ticket, key)
    for ordered in versions.values():
        ordered.sort(key=lambda f: f.version)
        for before, after in itertools.pairwise(ordered):
            kept = {key.split("/")[0] for key in after.line_keys}
            for worker in dict.fromkeys(key.split("/")[0] for key in before.line_keys):
                if worker not in kept:
                    derived[dmfa_withdrawal_ticket(after.ticket, worker)] = (after.ticket, f"{worker}/withdrawn")
    return derived


@dataclass
class Canonical:
    """One run's outputs as canonical ids (see the module's table), with what the ids themselves reveal."""

    ids: dict[str, Counter[tuple[str, ...]]] = field(default_factory=lambda: {k: Counter() for k in KINDS})
    statuses: dict[str, dict[tuple[str, ...], set[str]]] = field(
        default_factory=lambda: {"acknowledgements": {}, "replies": {}}
    )
    new_tickets: Counter[str] = field(default_factory=Counter)  # kind -> tickets beyond the first, per group
    new_ticket_examples: list[str] = field(default_factory=list)
    underived: Counter[str] = field(default_factory=Counter)  # kind -> records whose id is not derived as documented
    underived_examples: list[str] = field(default_factory=list)
    # one notification ticket / audit id carried by records about different persons (DmfA lines, two parents)
    collisions: Counter[str] = field(default_factory=Counter)
    collision_examples: list[str] = field(default_factory=list)

    def unique(self, kind: str) -> int:
        return len(self.ids[kind])

    def read(self, kind: str) -> int:
        return sum(self.ids[kind].values())

    def duplicates(self, kind: str) -> int:
        return self.read(kind) - self.unique(kind)


def _note(examples: list[str], text: str) -> None:
    if len(examples) < EXAMPLES:
        examples.append(text)


def _note_as(examples: list[str], kind: str, text: str, limit: int = 3) -> None:
    """At most `limit` examples starting with `kind`."""
    if sum(1 for e in examples if e.startswith(kind)) < limit:
        examples.append(text)


def canonical(
    outputs: Outputs, refs: Mapping[str, str], keep: Callable[[str], bool] = lambda reference: True
) -> Canonical:
    """The run's canonical ids. `refs`: intake ticket -> reference (`references_by_ticket`); `keep`: whether the
    outputs of a reference belong to the traffic compared (the fuzz scenario leaves its fuzzed references out)."""

    # a DmfA line is delivered under a ticket of its own: named by its declaration's reference and the line
    lines = {t: f"{refs[d]}|{what}" for t, (d, what) in derived_tickets(outputs.facts).items() if d in refs}

    def ref(ticket: str | None) -> str:
        if ticket is None:
            return UNKNOWN
        return refs.get(ticket) or lines.get(ticket) or UNKNOWN + ticket

    result = Canonical()
    groups: dict[str, defaultdict[tuple[str, ...], set[str]]] = {k: defaultdict(set) for k in KINDS}

    def underived(kind: str, what: str) -> None:
        result.underived[kind] += 1
        _note(result.underived_examples, f"{kind}: {what}")

    for a in outputs.acks:
        if not (keep(a.reference) and keep(ref(a.ticket))):
            continue
        key = (a.reference, *(f"warning {w}" for w in a.warnings))
        result.ids["acknowledgements"][key] += 1
        result.statuses["acknowledgements"].setdefault(key, set()).add(a.status)
        groups["acknowledgements"][key].add(a.ticket)
        if ref(a.ticket) != a.reference:
            underived("acknowledgements", f"{a.reference} acknowledged with ticket {a.ticket}, not its intake's")
    persons_by_ticket: defaultdict[str, set[str]] = defaultdict(set)
    about: dict[str, str] = {}  # notification ticket / audit id -> what it is (for the collision examples)
    for n in outputs.notifications:
        source = ref(n.source_ticket)
        if not keep(source):
            continue
        result.ids["notifications"][(source, n.recipient, n.person)] += 1
        groups["notifications"][(n.source_ticket, n.recipient)].add(n.ticket)
        persons_by_ticket[n.ticket].add(n.person)
        about[n.ticket] = f"source {source} ({n.source_ticket}) to {n.recipient}"
        if n.ticket != notification_ticket(n.source_ticket, n.recipient):
            underived("notifications", f"{n.ticket} is not the ticket of ({n.source_ticket}, {n.recipient})")
    for ticket, persons in persons_by_ticket.items():
        if len(persons) > 1:
            result.collisions["notification_ticket"] += 1
            _note_as(
                result.collision_examples,
                "notification ticket",
                f"notification ticket {ticket}, {about[ticket]}, about {len(persons)} persons: {sorted(persons)[:4]}",
            )
    for r in outputs.replies:
        request = ref(r.request_ticket)
        if not keep(request):
            continue
        key = (request,)
        result.ids["replies"][key] += 1
        result.statuses["replies"].setdefault(key, set()).add(r.status)
        groups["replies"][(r.request_ticket,)].add(r.ticket)
        if r.ticket != reply_ticket(r.request_ticket):
            underived("replies", f"{r.ticket} is not the reply ticket of {r.request_ticket}")
    persons_by_audit: defaultdict[str, set[str]] = defaultdict(set)
    for au in outputs.audits:
        source = ref(au.source_ticket)
        if not keep(source):
            continue
        result.ids["audit"][(source, au.kind, au.actor, au.person)] += 1
        groups["audit"][(au.ticket, au.actor, au.kind)].add(au.audit_id)
        persons_by_audit[au.audit_id].add(au.person)
        about[au.audit_id] = f"{au.kind} of ticket {au.ticket} to {au.actor} (source {source})"
        if au.audit_id != audit_id(au.ticket, au.actor, AuditKind(au.kind)):
            underived("audit", f"{au.audit_id} is not the audit id of ({au.ticket}, {au.actor}, {au.kind})")
        elif au.source_ticket is not None and au.ticket != _exchange_ticket(au):
            underived("audit", f"{au.kind} {au.audit_id}: ticket {au.ticket} not derived from {au.source_ticket}")
    for audit_key, persons in persons_by_audit.items():
        if len(persons) > 1:
            result.collisions["audit_id"] += 1
            _note_as(
                result.collision_examples,
                "audit id",
                f"audit id {audit_key}, {about[audit_key]}, about {len(persons)} persons: {sorted(persons)[:4]}",
            )
    for j in outputs.rejections:
        reference = ref(j.ticket)
        if not keep(reference):
            continue
        result.ids["rejections"][(reference, j.stage)] += 1
        groups["rejections"][(reference, j.stage)].add(j.ticket)
        if reference != j.reference:
            underived("rejections", f"rejection {j.ticket} names {j.reference!r}, its intake position {reference!r}")
    for f in outputs.facts:
        reference = ref(f.ticket) if f.ticket in refs else f.reference
        if not keep(reference):
            continue
        result.ids["facts"][(f.family, reference)] += 1
        groups["facts"][(f.family, reference)].add(f.ticket)
        if ref(f.ticket) != f.reference:
            underived("facts", f"{f.family} fact {f.ticket} of {f.reference!r} not ticketed from its intake position")
    for kind, by_key in groups.items():
        for group, tickets in by_key.items():
            if len(tickets) > 1:
                result.new_tickets[kind] += len(tickets) - 1
                _note(result.new_ticket_examples, f"{kind} {'/'.join(group)}: {len(tickets)} tickets {sorted(tickets)}")
    return result


def _exchange_ticket(record: Audit) -> str:
    """The ticket an audit record must carry: the notification's (delivery, refusal) or the reply's."""
    assert record.source_ticket is not None
    if record.kind in (AuditKind.DELIVERY, AuditKind.REFUSAL):
        return notification_ticket(record.source_ticket, record.actor)
    return reply_ticket(record.source_ticket)


@dataclass(frozen=True)
class KindComparison:
    expected: int  # unique ids in the baseline
    read: int  # records read in this run
    unique: int
    lost: int  # expected ids this run does not have
    unexpected: int  # ids this run has and the baseline does not
    duplicates: int  # read - unique
    baseline_duplicates: int
    new_tickets: int
    lost_examples: tuple[str, ...] = ()
    unexpected_examples: tuple[str, ...] = ()


@dataclass(frozen=True)
class Comparison:
    kinds: dict[str, KindComparison]
    status_changed: dict[str, int]  # acknowledgements/replies whose status set differs from the baseline's
    status_conflicts: dict[str, int]  # ... acknowledged or answered with two statuses in this run
    status_examples: tuple[str, ...]
    underived: int
    collisions: dict[str, int]

    @property
    def lost(self) -> int:
        return sum(k.lost for k in self.kinds.values())

    @property
    def duplicates(self) -> int:
        return sum(k.duplicates for k in self.kinds.values())

    @property
    def duplicates_with_new_ticket(self) -> int:
        return sum(k.new_tickets for k in self.kinds.values())

    def as_dict(self) -> dict[str, object]:
        return {
            "per_kind": {
                name: {
                    "expected": k.expected,
                    "read": k.read,
                    "unique": k.unique,
                    "lost": k.lost,
                    "unexpected": k.unexpected,
                    "duplicates": k.duplicates,
                    "baseline_duplicates": k.baseline_duplicates,
                    "new_tickets": k.new_tickets,
                    **({"lost_examples": list(k.lost_examples)} if k.lost_examples else {}),
                    **({"unexpected_examples": list(k.unexpected_examples)} if k.unexpected_examples else {}),
                }
                for name, k in self.kinds.items()
            },
            "status_changed": self.status_changed,
            "status_conflicts": self.status_conflicts,
            **({"status_examples": list(self.status_examples)} if self.status_examples else {}),
            "underived_ids": self.underived,
            "id_collisions": self.collisions,
        }


def _show(key: tuple[str, ...]) -> str:
    return "/".join(key)


def compare(baseline: Canonical, run: Canonical) -> Comparison:
    """Lost, unexpected and duplicated ids of `run` against the clean `baseline`, per kind."""
    kinds = {}
    for kind in KINDS:
        expected, observed = baseline.ids[kind], run.ids[kind]
        lost = sorted(set(expected) - set(observed))
        extra = sorted(set(observed) - set(expected))
        kinds[kind] = KindComparison(
            expected=len(expected),
            read=run.read(kind),
            unique=run.unique(kind),
            lost=len(lost),
            unexpected=len(extra),
            duplicates=run.duplicates(kind),
            baseline_duplicates=baseline.duplicates(kind),
            new_tickets=run.new_tickets[kind],
            lost_examples=tuple(_show(k) for k in lost[:EXAMPLES]),
            unexpected_examples=tuple(_show(k) for k in extra[:EXAMPLES]),
        )
    changed: dict[str, int] = {}
    conflicts: dict[str, int] = {}
    examples: list[str] = []
    for kind, statuses in run.statuses.items():
        before = baseline.statuses.get(kind, {})
        changed[kind] = 0
        conflicts[kind] = 0
        for key, now in sorted(statuses.items()):
            if len(now) > 1:
                conflicts[kind] += 1
                _note(examples, f"{kind} {_show(key)}: {sorted(now)} in this run")
            if key in before and before[key] != now:
                changed[kind] += 1
                _note(examples, f"{kind} {_show(key)}: {sorted(before[key])} in the baseline, {sorted(now)} now")
    return Comparison(
        kinds=kinds,
        status_changed=changed,
        status_conflicts=conflicts,
        status_examples=tuple(examples),
        underived=sum(run.underived.values()),
        collisions=dict(run.collisions),
    )
