"""The directory step's decision for one event: the person's new file and every outcome to route.

One function per kind of event; each is pure (the time, tickets and payload bytes are given) and returns a
`Decision`. The faust agent only decodes, calls one of these, writes the file back and publishes the outcomes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from streams.domain import admission, audit, consult, directory, fanout, sources
from streams.domain.directory import Changed, Entry, PersonFile, Refusal
from streams.domain.network import Network
from streams.domain.validation import Violation

Record = Mapping[str, Any]

NOTIFICATION = "be.crossroads.outputs.Notification"
ACKNOWLEDGEMENT = "be.crossroads.outputs.Acknowledgement"
REJECTION = "be.crossroads.outputs.Rejection"
REPLY = "be.crossroads.consultation.ConsultationReply"


@dataclass(frozen=True, slots=True)
class ToMailbox:
    actor: str
    schema: str
    record: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ToRejections:
    record: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ToAudit:
    record: dict[str, Any]


Outcome = ToMailbox | ToRejections | ToAudit


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
    record: Record, schema_name: str, ticket: str, refusal: Refusal, payload: bytes, person: str, at: dt.datetime
) -> tuple[Outcome, ...]:
    violation = Violation(refusal.code, refusal.field, refusal.message)
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
                "violations": [violation.as_dict()],
                "declaration": payload,
                "rejected_at": at,
            }
        ),
        acknowledgement(record, schema_name, ticket, at, (violation,)),
    )


def _deliver(
    file: PersonFile, network: Network, lookup: fanout.Lookup, source: str | None, at: dt.datetime
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


def on_integration(
    file: PersonFile, network: Network, record: Record, ticket: str, payload: bytes, at: dt.datetime
) -> Decision:
    schema = "be.crossroads.directory.Integration"
    outcome = directory.apply_integration(file, record, ticket, network)
    if isinstance(outcome, Refusal):
        return Decision(None, _rejection(record, schema, ticket, outcome, payload, record["person"], at))
    return Decision(outcome.file, (acknowledgement(record, schema, ticket, at),))


def on_dimona(
    file: PersonFile,
    network: Network,
    schema_name: str,
    record: Record,
    ticket: str,
    payload: bytes,
    at: dt.datetime,
) -> Decision:
    worker = record["worker"]
    outcome = directory.apply_dimona(file, schema_name, record, ticket, payload)
    if isinstance(outcome, Refusal):
        return Decision(None, _rejection(record, schema_name, ticket, outcome, payload, worker, at))
    assert isinstance(outcome, Changed)
    lookup = fanout.Lookup(
        worker,
        worker,
        schema_name,
        payload,
        ticket,
        fanout.effective_date(schema_name, record),
        notify=True,
        keep=False,
        slot=schema_name,
        version=0,
    )
    source = sources.source_of(schema_name, providers=(record["employer"],))
    delivered = _deliver(outcome.file, network, lookup, source, at)
    return Decision(outcome.file, (acknowledgement(record, schema_name, ticket, at), *delivered))


def on_lookup(file: PersonFile, network: Network, lookup: fanout.Lookup, at: dt.datetime) -> Decision:
    """A routed civil or DmfA fact: keep it in the subject's file and/or deliver it to the file's holders."""
    updated = directory.store_fact(file, fanout.kept(lookup)) if lookup.keep else None
    source = sources.kept_fact_source(lookup.schema_name, lookup.slot)
    delivered = _deliver(file, network, lookup, source, at) if lookup.notify else ()
    return Decision(updated if updated is not file else None, delivered)


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


LOOKUP = "be.crossroads.internal.Lookup"
INTEGRATION = "be.crossroads.directory.Integration"
CONSULTATION_REQUEST = "be.crossroads.consultation.ConsultationRequest"
DIMONA = frozenset({directory.DIMONA_IN, directory.DIMONA_OUT, directory.DIMONA_UPDATE, directory.DIMONA_CANCEL})
HANDLED = frozenset({LOOKUP, INTEGRATION, CONSULTATION_REQUEST, *DIMONA})  # what `decide` accepts


def decide(
    file: PersonFile,
    network: Network,
    schema_name: str,
    record: Record,
    payload: bytes,
    at: dt.datetime,
    encode_entry: Callable[[Entry], bytes],
) -> Decision:
    """The directory step's one entry point: which rule applies is told by the message's schema."""
    if schema_name == LOOKUP:
        return on_lookup(file, network, fanout.Lookup(**record), at)
    ticket = record["envelope"]["ticket"]
    if schema_name == INTEGRATION:
        return on_integration(file, network, record, ticket, payload, at)
    if schema_name in DIMONA:
        return on_dimona(file, network, schema_name, record, ticket, payload, at)
    if schema_name == CONSULTATION_REQUEST:
        return on_consultation(file, network, record, ticket, at, encode_entry)
    raise ValueError(f"the directory does not handle {schema_name}")
