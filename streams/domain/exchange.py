"""The directory step's decision for one event: the person's new file and every outcome to route.

One function per directory rule (`streams.domain.kinds.Decider`), plus one for lookups; each is pure (the time,
tickets and payload bytes are given) and returns a `Decision`. The faust agent only decodes, calls `decide`,
writes the file back and publishes the outcomes.  A declaration the directory accepts becomes a fact here: it is
forwarded to its family's facts topic (what the warehouse and the statistics read), and only then.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from streams.domain import admission, audit, consult, directory, dmfa, fanout, sources
from streams.domain.directory import Entry, PersonFile, Refusals
from streams.domain.kinds import KINDS, Decider, Encode, Kind, Lookup, own_lookups
from streams.domain.network import Network
from streams.domain.outcomes import (
    ACKNOWLEDGEMENT,
    LOOKUP,
    NOTIFICATION,
    REPLY,
    Forward,
    Outcome,
    ToAudit,
    ToMailbox,
    ToRejections,
)
from streams.domain.validation import Violation

Record = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Decision:
    file: PersonFile | None  # None: unchanged, nothing to write back
    outcomes: tuple[Outcome, ...]


# -- builders of the output records --------------------------------------------------------------------------


def acknowledgement(
    record: Record, schema_name: str, ticket: str, at: dt.datetime, violations: tuple[Violation, ...] = ()
) -> ToMailbox:
    return ToMailbox(
        record["envelope"]["sender"],
        ACKNOWLEDGEMENT,
        admission.acknowledgement(schema_name, record, ticket, at, violations),
    )


def _rejection(
    record: Record,
    schema_name: str,
    ticket: str,
    refusals: Refusals,
    payload: bytes,
    person: str,
    at: dt.datetime,
) -> tuple[Outcome, ...]:
    """The rejection record and the REJECTED acknowledgement, both with every rule the declaration breaks."""
    violations = tuple(Violation(r.code, r.field, r.message) for r in refusals)
    envelope = record["envelope"]
    return (
        ToRejections(
            {
                "ticket": ticket,
                "sender_reference": envelope["sender_reference"],
                "sender": envelope["sender"],
                "declaration_type": schema_name,
                "stage": "directory",
                "person": person,
                "violations": [v.as_dict() for v in violations],
                "declaration": payload,
                "rejected_at": at,
            }
        ),
        acknowledgement(record, schema_name, ticket, at, violations),
    )


def _deliver(
    file: PersonFile, network: Network, lookup: Lookup, source: str | None, at: dt.datetime
) -> tuple[Outcome, ...]:
    plan = fanout.plan(file, network, lookup.schema_name, lookup.effective, lookup.source_ticket)
    outcomes: list[Outcome] = []
    for d in plan.deliveries:
        outcomes.append(
            ToMailbox(
                d.recipient,
                NOTIFICATION,
                {
                    "ticket": d.ticket,
                    "source_ticket": lookup.source_ticket,
                    "recipient": d.recipient,
                    "person": lookup.subject,
                    "data_type": lookup.schema_name,
                    "effective_date": lookup.effective,
                    "legal_basis": d.legal_basis,
                    "payload": lookup.payload,
                    "created_at": at,
                },
            )
        )
        outcomes.append(
            ToAudit(
                audit.delivery_entry(
                    ticket=d.ticket,
                    actor=d.recipient,
                    person=lookup.subject,
                    data_type=lookup.schema_name,
                    legal_basis=d.legal_basis,
                    at=at,
                    source_ticket=lookup.source_ticket,
                    source=source,
                )
            )
        )
    for w in plan.withheld:
        outcomes.append(
            ToAudit(
                audit.refusal_entry(
                    ticket=fanout.notification_ticket(lookup.source_ticket, w.institution),
                    actor=w.institution,
                    person=lookup.subject,
                    data_type=lookup.schema_name,
                    reason=w.reason,
                    at=at,
                    source_ticket=lookup.source_ticket,
                    source=source,
                )
            )
        )
    return tuple(outcomes)


# -- the decisions --------------------------------------------------------------------------------------------


def _accepted(kind: Kind, record: Record, ticket: str, payload: bytes, at: dt.datetime) -> tuple[Outcome, ...]:
    """An accepted declaration: now a fact (its family's facts topic, the bytes as received), acknowledged."""
    assert kind.family.facts is not None, f"{kind.schema} is not a fact"
    return (Forward(*kind.family.facts, None, payload), acknowledgement(record, kind.schema, ticket, at))


def on_integration(
    file: PersonFile, network: Network, kind: Kind, record: Record, ticket: str, payload: bytes, at: dt.datetime
) -> Decision:
    outcome = directory.apply_integration(file, record, ticket, network)
    if isinstance(outcome, tuple):
        return Decision(None, _rejection(record, kind.schema, ticket, outcome, payload, record["person"], at))
    return Decision(outcome.file, _accepted(kind, record, ticket, payload, at))


def on_dimona(
    file: PersonFile, network: Network, kind: Kind, record: Record, ticket: str, payload: bytes, at: dt.datetime
) -> Decision:
    worker = record["worker"]
    outcome = directory.apply_dimona(file, kind.schema, record, ticket, payload)
    if isinstance(outcome, tuple):
        return Decision(None, _rejection(record, kind.schema, ticket, outcome, payload, worker, at))
    assert kind.effective is not None
    lookup = Lookup(
        worker,
        worker,
        kind.schema,
        payload,
        ticket,
        kind.effective(record),
        notify=True,
        keep=False,
        slot=kind.schema,
        version=0,
    )
    source = sources.source_of(kind.schema, providers=(record["employer"],))
    delivered = _deliver(outcome.file, network, lookup, source, at)
    return Decision(outcome.file, (*_accepted(kind, record, ticket, payload, at), *delivered))


def on_lookup(file: PersonFile, network: Network, lookup: Lookup, at: dt.datetime) -> Decision:
    """A routed civil or DmfA fact: keep it in the subject's file and/or deliver it to the file's holders."""
    if lookup.schema_name == dmfa.SCHEMA:
        return on_wages(file, network, lookup, at)
    updated = directory.store_fact(file, fanout.kept(lookup)) if lookup.keep else None
    source = sources.kept_fact_source(lookup.schema_name, lookup.slot)
    delivered = _deliver(file, network, lookup, source, at) if lookup.notify else ()
    return Decision(updated if updated is not file else None, delivered)


def on_wages(file: PersonFile, network: Network, lookup: Lookup, at: dt.datetime) -> Decision:
    """A DmfA line (or a correction's withdrawal) in its worker's file (`streams.domain.dmfa`): supersedes the
    earlier versions' lines, is delivered to the holders, and warns the sender of a worker without DIMONA."""
    updated = dmfa.keep_wages(file, lookup)
    if updated is None:  # a later version already holds: this one was delivered before it, in its time
        return Decision(None, ())
    source = sources.kept_fact_source(lookup.schema_name, lookup.slot)
    outcomes = (*dmfa.warning(file, lookup), *_deliver(file, network, lookup, source, at))
    return Decision(updated if updated is not file else None, outcomes)


def on_consultation(
    file: PersonFile,
    network: Network,
    request: Record,
    ticket: str,
    at: dt.datetime,
    encode_entry: Callable[[Entry], bytes],
) -> Decision:
    answer = consult.decide(file, network, request)
    reply_ticket = consult.reply_ticket(ticket)
    requester = request["requester"]
    payloads = list(answer.payloads) + [encode_entry(e) for e in answer.entries]
    reply = ToMailbox(
        requester,
        REPLY,
        {
            "ticket": reply_ticket,
            "request_ticket": ticket,
            "requester": requester,
            "person": request["person"],
            "data_type": request["data_type"],
            "status": answer.status,
            "reason": answer.reason,
            "legal_basis": answer.legal_basis,  # a refusal has none; a NOT_FOUND keeps the one it asked on
            "payloads": payloads,
            "replied_at": at,
        },
    )
    entry = audit.consultation_entry(
        granted=answer.granted,
        ticket=reply_ticket,
        actor=requester,
        person=request["person"],
        data_type=request["data_type"],
        at=at,
        legal_basis=answer.legal_basis,
        reason=answer.reason or "",
        source_ticket=ticket,
        source=answer.source,
        status=answer.status,
    )
    return Decision(None, (reply, ToAudit(entry)))


#: what `decide` accepts: lookups, the facts it reads for their subject's own lookup, and every kind one of the
#: directory's rules decides
HANDLED = frozenset(
    {
        LOOKUP,
        *(k.schema for k in KINDS.values() if k.read_in_facts),
        *(k.schema for k in KINDS.values() if k.decider is not None and k.decider.by_directory),
    }
)


def on_fact(
    file: PersonFile, network: Network, kind: Kind, record: Record, payload: bytes, at: dt.datetime, encode: Encode
) -> Decision:
    """A fact read in its facts topic by its subject's directory: its subject's lookups, applied one by one."""
    outcomes: list[Outcome] = []
    changed: PersonFile | None = None
    for lookup in own_lookups(kind, record, payload, encode):
        decision = on_lookup(changed or file, network, lookup, at)
        outcomes.extend(decision.outcomes)
        changed = decision.file or changed
    return Decision(changed, tuple(outcomes))


def decide(
    file: PersonFile,
    network: Network,
    schema_name: str,
    record: Record,
    payload: bytes,
    at: dt.datetime,
    encode_entry: Callable[[Entry], bytes],
    encode: Encode,
) -> Decision:
    """The directory step's one entry point: which rule applies is told by the message's kind."""
    if schema_name == LOOKUP:
        return on_lookup(file, network, Lookup(**record), at)
    kind = KINDS.get(schema_name)
    if kind is not None and kind.read_in_facts:
        return on_fact(file, network, kind, record, payload, at, encode)
    if kind is None or kind.decider is None or not kind.decider.by_directory:
        raise ValueError(f"the directory does not handle {schema_name}")
    ticket = record["envelope"]["ticket"]
    if kind.decider is Decider.INTEGRATION:
        return on_integration(file, network, kind, record, ticket, payload, at)
    if kind.decider is Decider.DIMONA:
        return on_dimona(file, network, kind, record, ticket, payload, at)
    return on_consultation(file, network, record, ticket, at, encode_entry)
