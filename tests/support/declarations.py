"""Declarations for tests: one builder per record type, each a :class:`Declaration` (schema, record).

Every builder starts from the canonical sample of :mod:`streams.domain.samples` (so it has every field the
schema has) and sets what a test varies, positionally in the order tests speak of them; a person left out is a
fresh valid one. The envelope is :func:`envelope` of the natural sender (the employer, the institution, the
National Register); ``sender=``, ``ticket=`` and ``reference=`` change it.

``schema, record = dimona_in(...)``, ``platform.send(*dimona_in(...))`` and ``dimona_in(...).record`` all work.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from streams.domain.identifiers import parse_niss
from streams.domain.samples import SAMPLE_EMPLOYER, SAMPLE_INSTITUTION, sample
from streams.domain.sources import NATIONAL_REGISTER
from tests.support.numbers import niss

AT = dt.datetime(2026, 11, 27, 9, tzinfo=dt.UTC)  # when test declarations are recorded


class Declaration(NamedTuple):
    schema: str
    record: dict[str, Any]


def envelope(
    sender: str = SAMPLE_EMPLOYER,
    *,
    ticket: str | None = None,
    reference: str | None = None,
    recorded_at: dt.datetime = AT,
    environment: str = "PRODUCTION",
) -> dict[str, Any]:
    """An envelope as a sender fills it in: no ticket (the platform stamps it), a fresh reference."""
    return {
        "ticket": ticket,
        "sender_reference": reference or f"ref-{uuid.uuid4().hex[:12]}",
        "sender": sender,
        "environment": environment,
        "recorded_at": recorded_at,
        "schema_version": 1,
    }


def with_envelope(record: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A copy of ``record`` whose envelope has these fields changed (``sender=``, ``ticket=``...)."""
    return {**record, "envelope": {**record["envelope"], **changes}}


def _declared(schema: str, sender: str, stamp: dict[str, Any], **fields: Any) -> Declaration:
    """The sample of ``schema`` with these fields, in the envelope of ``sender`` (or of ``stamp``'s)."""
    sent_by = stamp.pop("sender", None) or sender
    return Declaration(schema, {**sample(schema), **fields, "envelope": envelope(sent_by, **stamp)})


def _given(**fields: Any) -> dict[str, Any]:
    """The fields a caller gave (``None``: keep the sample's)."""
    return {name: value for name, value in fields.items() if value is not None}


def _relation(
    schema: str, employer: str, worker: str | None, start: dt.date | None, stamp: dict[str, Any], **fields: Any
) -> Declaration:
    """A DIMONA of ``employer`` about its relation with ``worker`` that started on ``start``."""
    return _declared(
        schema,
        employer,
        stamp,
        employer=employer,
        worker=worker or niss(),
        **_given(relation_start_date=start),
        **fields,
    )


# -- directory ---------------------------------------------------------------------------------------------------


def integration(
    institution: str = SAMPLE_INSTITUTION,
    sector: str = "MUTUALITY",
    capacity: str = "TITULAR",
    person: str | None = None,
    start: dt.date = dt.date(2020, 1, 1),
    end: dt.date | None = None,
    *,
    action: str = "REGISTER",
    status: str = "DEFINITIVE",
    **stamp: Any,
) -> Declaration:
    """``institution`` registers (or, ``action="UNREGISTER"``, closes) its file of ``person`` (``status=
    "PROVISIONAL"``: held for the sector's provisional period unless confirmed)."""
    return _declared(
        "be.crossroads.directory.Integration",
        institution,
        stamp,
        action=action,
        person=person or niss(),
        institution=institution,
        sector=sector,
        capacity=capacity,
        period={"start": start, "end": end},
        status=status,
    )


def consultation(
    requester: str = SAMPLE_INSTITUTION,
    capacity: str = "TITULAR",
    person: str | None = None,
    data_type: str = "be.crossroads.consultation.Wages",
    as_of: dt.date | None = None,
    **stamp: Any,
) -> Declaration:
    """``requester``, in ``capacity``, asks for ``person``'s ``data_type`` as of a day."""
    return _declared(
        "be.crossroads.consultation.ConsultationRequest",
        requester,
        stamp,
        requester=requester,
        person=person or niss(),
        data_type=data_type,
        capacity=capacity,
        **_given(as_of=as_of),
    )


# -- DIMONA --------------------------------------------------------------------------------------------------


def dimona_in(
    employer: str = SAMPLE_EMPLOYER,
    worker: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    **stamp: Any,
) -> Declaration:
    """``employer`` hires ``worker`` on ``start`` (an ordinary worker, joint committee 200); ``end``: the planned
    end."""
    fields = _given(start_date=start)
    return _declared(
        "be.crossroads.dimona.DimonaIn",
        employer,
        stamp,
        employer=employer,
        worker=worker or niss(),
        planned_end_date=end,
        **fields,
    )


def dimona_out(
    employer: str = SAMPLE_EMPLOYER,
    worker: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    **stamp: Any,
) -> Declaration:
    """``employer`` ends on ``end`` the relation with ``worker`` that started on ``start``."""
    return _relation("be.crossroads.dimona.DimonaOut", employer, worker, start, stamp, **_given(end_date=end))


def dimona_update(
    employer: str = SAMPLE_EMPLOYER,
    worker: str | None = None,
    start: dt.date | None = None,
    *,
    new_start: dt.date | None = None,
    new_end: dt.date | None = dt.date(2024, 12, 31),
    **stamp: Any,
) -> Declaration:
    """``employer`` moves the start and/or the end (``None``: unchanged) of the relation with ``worker`` that
    started on ``start`` (by default: the sample relation's end to the end of 2024)."""
    return _relation(
        "be.crossroads.dimona.DimonaUpdate",
        employer,
        worker,
        start,
        stamp,
        new_start_date=new_start,
        new_end_date=new_end,
    )


def dimona_cancel(
    employer: str = SAMPLE_EMPLOYER,
    worker: str | None = None,
    start: dt.date | None = None,
    *,
    reason: str | None = "typing error",
    **stamp: Any,
) -> Declaration:
    """``employer`` cancels its DIMONA IN of ``worker`` on ``start``."""
    return _relation("be.crossroads.dimona.DimonaCancel", employer, worker, start, stamp, reason=reason)


# -- DmfA ----------------------------------------------------------------------------------------------------


def worker_line(
    worker: str | None = None,
    gross_wage_cents: int = 1_050_000,
    *,
    days_worked: int = 60,
    assimilated_days: Iterable[dict[str, Any]] = (),
    worker_category: str = "WHITE_COLLAR",
    joint_committee: str = "200",
) -> dict[str, Any]:
    """One worker's line of a DmfA (60 days worked, no assimilated days unless given)."""
    return {
        "worker": worker or niss(),
        "worker_category": worker_category,
        "joint_committee": joint_committee,
        "days_worked": days_worked,
        "gross_wage_cents": gross_wage_cents,
        "assimilated_days": list(assimilated_days),
    }


def dmfa(
    employer: str = SAMPLE_EMPLOYER,
    lines: Sequence[dict[str, Any]] | None = None,
    quarter: str = "2024-Q3",
    version: int = 1,
    **stamp: Any,
) -> Declaration:
    """``employer``'s DmfA of ``quarter``: version 1 the original, a later version a correction."""
    return _declared(
        "be.crossroads.dmfa.DmfaDeclaration",
        employer,
        stamp,
        employer=employer,
        quarter=quarter,
        nature="ORIGINAL" if version == 1 else "CORRECTION",
        version=version,
        worker_lines=list(lines) if lines is not None else [worker_line()],
    )


# -- civil facts (from the National Register) -----------------------------------------------------------------


def address_change(
    person: str | None = None,
    effective: dt.date | None = None,
    *,
    municipality: str | None = "21004",
    street: str | None = None,
    **stamp: Any,
) -> Declaration:
    """``person`` moves on ``effective`` (to ``street``, if a test tells streets apart): to a Belgian
    municipality, or (``municipality=None``) abroad."""
    schema = "be.crossroads.civil.AddressChange"
    place = {"municipality_nis": municipality, "country": "BE" if municipality else "FR", **_given(street=street)}
    fields = _given(effective_date=effective)
    address = {**sample(schema)["address"], **place}
    return _declared(schema, NATIONAL_REGISTER, stamp, person=person or niss(), address=address, **fields)


def birth(
    child: str | None = None,
    parents: Sequence[str] = (),
    day: dt.date | None = None,
    *,
    municipality: str = "21004",
    **stamp: Any,
) -> Declaration:
    """``child`` is born on ``day`` (the day its number encodes, when only one of them is given)."""
    if child is None:
        day = day or dt.date(2026, 9, 1)
        child = niss(day)
    day = day or parse_niss(child).birth_date
    return _declared(
        "be.crossroads.civil.Birth",
        NATIONAL_REGISTER,
        stamp,
        child=child,
        birth_date=day,
        parents=list(parents),
        municipality_nis=municipality,
    )


def death(
    person: str | None = None, day: dt.date | None = None, *, municipality: str | None = "21004", **stamp: Any
) -> Declaration:
    """``person`` dies on ``day``."""
    fields = _given(date_of_death=day)
    return _declared(
        "be.crossroads.civil.Death",
        NATIONAL_REGISTER,
        stamp,
        person=person or niss(),
        municipality_nis=municipality,
        **fields,
    )


def civil_status_change(
    person: str | None = None,
    effective: dt.date | None = None,
    status: str = "DIVORCED",
    partner: str | None = None,
    **stamp: Any,
) -> Declaration:
    """``person``'s civil status becomes ``status`` on ``effective`` (with ``partner``, if any)."""
    fields = _given(effective_date=effective)
    return _declared(
        "be.crossroads.civil.CivilStatusChange",
        NATIONAL_REGISTER,
        stamp,
        person=person or niss(),
        civil_status=status,
        partner=partner,
        **fields,
    )


# -- files -----------------------------------------------------------------------------------------------------


def to_json(value: Any) -> Any:
    """``json.dumps(record, default=to_json)``: a record as a declaration file holds it (dates in ISO 8601)."""
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(value)
