"""Consultations: an institution (or an employer) asks for data about a person; the platform checks first.

An institution must hold an active file on the person, in the capacity it states, on the date it asks about,
and that sector + capacity must be authorized for the data type on that date. An employer may consult its own
personnel — a worker with whom a DIMONA relation is active on that date — and nobody else; of their identity,
only the minimal, non-sensitive part (seed 6.2: the address then in force).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from streams.domain.directory import CIVIL_PREFIX, Entry, PersonFile, Relation
from streams.domain.network import ConsultedData, Network
from streams.domain.sources import source_of, wage_employer

Record = Mapping[str, Any]

EMPLOYER_CAPACITY = "EMPLOYER"
# The employer's access key comes from the DIMONA regulation itself, not from a sectoral deliberation.
EMPLOYER_LEGAL_BASIS = "AR/KB 05.11.2002 DIMONA, art. 8"
EMPLOYER_DATA_TYPES = frozenset({ConsultedData.IDENTITY, ConsultedData.EMPLOYMENT})
# Seed 6.2: employers obtain "des informations minimales et non sensibles" about the persons concerned. Of
# the civil facts the platform keeps, that is the worker's address in force (an AddressChange names only the
# person, the date and the address). Not the Birth (it names the parents), the CivilStatusChange (civil status
# and the partner) nor the Death. The birth date is in the NISS the employer already declared.
EMPLOYER_IDENTITY_FACTS = frozenset({"be.crossroads.civil.AddressChange"})

REPLY_NAMESPACE = uuid.UUID("0b6f4a7e-3f5d-5c39-a1a4-3e0a4bb0d0c2")

DMFA_PREFIX = "be.crossroads.dmfa."


@dataclass(frozen=True, slots=True)
class Answer:
    status: str  # GRANTED | REFUSED | NOT_FOUND
    reason: str | None
    legal_basis: str | None
    payloads: tuple[bytes, ...] = ()
    entries: tuple[Entry, ...] = ()  # DirectoryEntries: the requester's own entries (encoded by the caller)
    source: str | None = None  # where the data given, or refused, comes from (streams.domain.sources)

    @property
    def granted(self) -> bool:
        """Whether data was given. A NOT_FOUND was allowed (it keeps its legal basis) but gave nothing: audited
        as granted, it would tell the citizen that data was received which was never sent."""
        return self.status == "GRANTED"


def reply_ticket(request_ticket: str) -> str:
    return str(uuid.uuid5(REPLY_NAMESPACE, request_ticket))


def decide(file: PersonFile, network: Network, request: Record) -> Answer:
    """The answer to ``request``, naming the source of the data: of what is given when granted; of what the
    file holds of that data type when refused, so that the citizen knows whose data was asked for; none when
    nothing was found to give."""
    answer = _decide(file, network, request)
    if answer.status == "NOT_FOUND":
        return answer
    employer = request["requester"] if answer.granted and network.institution(request["requester"]) is None else None
    source = provenance(file, request["requester"], request["data_type"], request["as_of"], employer=employer)
    return dataclasses.replace(answer, source=source)


def provenance(file: PersonFile, requester: str, data_type: str, as_of: dt.date, employer: str | None) -> str | None:
    """The source of ``data_type`` data in ``file`` as of ``as_of`` (an employer sees its own relations only)."""
    if data_type == ConsultedData.EMPLOYMENT:
        employers = (r.employer for r in _relations(file, as_of, employer))
        return source_of(data_type, providers=employers)
    if data_type == ConsultedData.WAGES:
        return source_of(data_type, providers=(wage_employer(f.slot) for f in file.stored(DMFA_PREFIX, as_of)))
    if data_type == ConsultedData.DIRECTORY_ENTRIES:
        return source_of(data_type, providers=(requester,))  # one's own entries: one declared them oneself
    return source_of(data_type)


def _relations(file: PersonFile, as_of: dt.date, employer: str | None) -> list[Relation]:
    return [
        r
        for r in sorted(file.relations, key=lambda r: r.start)
        if r.start <= as_of and (employer is None or r.employer == employer)
    ]


def _decide(file: PersonFile, network: Network, request: Record) -> Answer:
    requester, data_type, as_of = request["requester"], request["data_type"], request["as_of"]
    institution = network.institution(requester)
    if institution is None:
        return _as_employer(file, request)
    holding = [
        e
        for e in file.entries
        if e.institution == requester and e.capacity == request["capacity"] and e.active_on(as_of)
    ]
    if not holding:
        return _refused(f"{requester} holds no active file on this person in capacity {request['capacity']} on {as_of}")
    entry = holding[0]
    authorization = network.authorization(entry.sector, entry.capacity, data_type, as_of)
    if authorization is None:
        return _refused(
            f"sector {entry.sector} in capacity {entry.capacity} is not authorized for {data_type} on {as_of}"
        )
    return _found(file, requester, data_type, as_of, authorization.legal_basis, employer=None)


def _as_employer(file: PersonFile, request: Record) -> Answer:
    requester, data_type, as_of = request["requester"], request["data_type"], request["as_of"]
    if request["capacity"] != EMPLOYER_CAPACITY:
        return _refused(f"{requester} is not an institution of the network")
    if file.relation(requester, as_of) is None:
        return _refused(f"{requester} has no employment relation with this person on {as_of}")
    if data_type not in EMPLOYER_DATA_TYPES:
        return _refused(f"an employer may consult {', '.join(sorted(EMPLOYER_DATA_TYPES))}, not {data_type}")
    return _found(file, requester, data_type, as_of, EMPLOYER_LEGAL_BASIS, employer=requester)


def _found(
    file: PersonFile, requester: str, data_type: str, as_of: dt.date, legal_basis: str, employer: str | None
) -> Answer:
    payloads: tuple[bytes, ...] = ()
    entries: tuple[Entry, ...] = ()
    if data_type == ConsultedData.IDENTITY:
        in_force = file.in_force(CIVIL_PREFIX, as_of)
        if employer is not None:  # the minimal identity, as facts the employer decodes like any other
            in_force = [f for f in in_force if f.schema_name in EMPLOYER_IDENTITY_FACTS]
        payloads = tuple(f.payload for f in in_force)
    elif data_type == ConsultedData.EMPLOYMENT:
        payloads = tuple(r.payload for r in _relations(file, as_of, employer))
    elif data_type == ConsultedData.WAGES:
        payloads = tuple(f.payload for f in file.stored(DMFA_PREFIX, as_of))
    elif data_type == ConsultedData.DIRECTORY_ENTRIES:
        entries = tuple(sorted((e for e in file.entries if e.institution == requester), key=lambda e: e.start))
    if not payloads and not entries:
        return Answer("NOT_FOUND", f"no {data_type} known on or before {as_of}", legal_basis)
    return Answer("GRANTED", None, legal_basis, payloads, entries)


def _refused(reason: str) -> Answer:
    return Answer("REFUSED", reason, None)
