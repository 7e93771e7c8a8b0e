"""Mutation fan-out: which institutions receive a fact, as of its effective date.

Recipients are exactly the institutions holding an active file on the person at the fact's effective date, in a
sector + capacity authorized for the fact's data type on that date. Holders that are not authorized receive
nothing, and that is recorded (a refusal for the audit trail).

Facts are first *routed* to the person(s) whose directory must be consulted — a birth to each parent, a DmfA
declaration to each of its workers (split, so that nobody receives a colleague's wages) — because the
directory is partitioned by person.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from streams.domain.directory import Entry, PersonFile, StoredFact
from streams.domain.network import Network
from streams.domain.validation.dmfa import parse_quarter

Record = Mapping[str, Any]
Encode = Callable[[str, dict[str, Any]], bytes]

BIRTH = "be.crossroads.civil.Birth"
ADDRESS_CHANGE = "be.crossroads.civil.AddressChange"
DEATH = "be.crossroads.civil.Death"
CIVIL_STATUS_CHANGE = "be.crossroads.civil.CivilStatusChange"
DMFA = "be.crossroads.dmfa.DmfaDeclaration"

# The namespace of notification tickets: uuid5(namespace, "<source ticket>/<recipient>").
NOTIFICATION_NAMESPACE = uuid.UUID("6f1c3e52-9c1e-5d0e-8f57-6b1c1f0c2a10")


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


def effective_date(schema_name: str, record: Record) -> dt.date:
    """The date as of which the directory and the authorizations are evaluated for this fact."""
    match schema_name:
        case "be.crossroads.civil.Birth":
            return record["birth_date"]  # type: ignore[no-any-return]
        case "be.crossroads.civil.Death":
            return record["date_of_death"]  # type: ignore[no-any-return]
        case "be.crossroads.civil.AddressChange" | "be.crossroads.civil.CivilStatusChange":
            return record["effective_date"]  # type: ignore[no-any-return]
        case "be.crossroads.dimona.DimonaIn":
            return record["start_date"]  # type: ignore[no-any-return]
        case "be.crossroads.dimona.DimonaOut":
            return record["end_date"]  # type: ignore[no-any-return]
        case "be.crossroads.dimona.DimonaUpdate":
            return record["new_start_date"] or record["relation_start_date"]  # type: ignore[no-any-return]
        case "be.crossroads.dimona.DimonaCancel":
            return record["relation_start_date"]  # type: ignore[no-any-return]
        case "be.crossroads.dmfa.DmfaDeclaration":
            quarter = parse_quarter(record["quarter"])
            if quarter is None:  # intake validation guarantees a quarter; this is a programming error
                raise ValueError(f"not a quarter: {record['quarter']!r}")
            return quarter[1]  # a quarter's wages are complete on its last day
    raise ValueError(f"no effective date rule for {schema_name}")


def route(schema_name: str, record: Record, ticket: str, payload: bytes, encode: Encode) -> list[Lookup]:
    """Which directories a civil or DmfA fact goes to. DIMONA is fanned out by the directory step itself.

    `payload` is the fact as received; `encode` is used only for what must be re-encoded (a DmfA split per
    worker line).
    """
    effective = effective_date(schema_name, record)
    if schema_name == BIRTH:
        child = record["child"]
        return [
            Lookup(child, child, schema_name, payload, ticket, effective, False, True, schema_name, 0),
            *(
                Lookup(parent, child, schema_name, payload, ticket, effective, True, False, schema_name, 0)
                for parent in dict.fromkeys(record["parents"])  # a parent listed twice is notified once
            ),
        ]
    if schema_name in (ADDRESS_CHANGE, DEATH, CIVIL_STATUS_CHANGE):
        person = record["person"]
        return [Lookup(person, person, schema_name, payload, ticket, effective, True, True, schema_name, 0)]
    if schema_name == DMFA:
        slot = f"{record['employer']}/{record['quarter']}"
        return [
            Lookup(
                line["worker"],
                line["worker"],
                schema_name,
                encode(schema_name, {**record, "worker_lines": [line]}),
                ticket,
                effective,
                True,
                True,
                slot,
                record["version"],
            )
            for line in record["worker_lines"]
        ]
    raise ValueError(f"{schema_name} is not routed through the directory")


@dataclass(frozen=True, slots=True)
class Delivery:
    recipient: str
    sector: str
    capacity: str
    legal_basis: str
    ticket: str


@dataclass(frozen=True, slots=True)
class Withheld:
    """A holder that receives nothing because its sector + capacity is not authorized for the data type."""

    institution: str
    sector: str
    capacity: str
    reason: str


@dataclass(frozen=True, slots=True)
class Plan:
    deliveries: tuple[Delivery, ...]
    withheld: tuple[Withheld, ...]


def notification_ticket(source_ticket: str, recipient: str) -> str:
    """Deterministic: a redelivery after a crash is recognisably the same notification."""
    return str(uuid.uuid5(NOTIFICATION_NAMESPACE, f"{source_ticket}/{recipient}"))


def plan(file: PersonFile, network: Network, data_type: str, effective: dt.date, source_ticket: str) -> Plan:
    """One notification per authorized holder institution; a refusal per holder institution that is not."""
    by_institution: dict[str, list[Entry]] = {}
    for entry in file.holders(effective):
        by_institution.setdefault(entry.institution, []).append(entry)
    deliveries: list[Delivery] = []
    withheld: list[Withheld] = []
    for institution in sorted(by_institution):
        entries = sorted(by_institution[institution], key=lambda e: e.capacity)
        granted = next(
            (
                (e, a)
                for e in entries
                if (a := network.authorization(e.sector, e.capacity, data_type, effective)) is not None
            ),
            None,
        )
        if granted is None:
            first = entries[0]
            withheld.append(
                Withheld(
                    institution,
                    first.sector,
                    ",".join(e.capacity for e in entries),
                    f"sector {first.sector} in capacity {','.join(e.capacity for e in entries)} is not authorized "
                    f"to receive {data_type} on {effective}",
                )
            )
            continue
        entry, authorization = granted
        deliveries.append(
            Delivery(
                institution,
                entry.sector,
                entry.capacity,
                authorization.legal_basis,
                notification_ticket(source_ticket, institution),
            )
        )
    return Plan(tuple(deliveries), tuple(withheld))


def kept(lookup: Lookup) -> StoredFact:
    return StoredFact(
        lookup.schema_name, lookup.slot, lookup.version, lookup.effective, lookup.source_ticket, lookup.payload
    )
