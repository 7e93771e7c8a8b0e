"""Mutation fan-out: which institutions receive a fact, as of its effective date.

Recipients are exactly the institutions holding an active file on the person at the fact's effective date, in a
sector + capacity authorized for the fact's data type on that date. Holders that are not authorized receive
nothing, and that is recorded (a refusal for the audit trail).

Facts are first *routed* to the person(s) whose directory must be consulted — a birth to each parent, a DmfA
declaration to each of its workers (split, so that nobody receives a colleague's wages) — because the
directory is partitioned by person: each kind's `route` (`streams.domain.kinds`) says where.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from streams.domain.directory import Entry, PersonFile, StoredFact
from streams.domain.kinds import Lookup
from streams.domain.network import Network

# The namespace of notification tickets: uuid5(namespace, "<source ticket>/<recipient>").
NOTIFICATION_NAMESPACE = uuid.UUID("6f1c3e52-9c1e-5d0e-8f57-6b1c1f0c2a10")


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
