"""Valid example records, one per declaration type, for walking-skeleton tests, benches and docs.

They are plain dicts in the shape the codec takes (``datetime.date`` for Avro ``date``, aware ``datetime`` for
``timestamp-millis``), so callers do not hard-code field names.  Every sample passes
:func:`streams.domain.validation.validate` (a unit test checks it).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from streams.domain.errors import UnknownDeclarationTypeError

__all__ = [
    "SAMPLE_EMPLOYER",
    "SAMPLE_NISS",
    "sample",
    "sample_dimona_in",
    "sample_dimona_out",
    "sample_dmfa",
    "sample_envelope",
]

SAMPLE_EMPLOYER = "0403170701"  # a valid enterprise number (check digits 01)
SAMPLE_NISS = "93051822361"  # a valid national number: man born 1993-05-18
SAMPLE_INSTITUTION = "0206731645"
_OTHER_NISS = ("85073003328", "90022742191", "00010101588")
_RECORDED_AT = dt.datetime(2024, 7, 1, 8, 30, tzinfo=dt.UTC)


def _valid_niss(birth: dt.date, serial: int) -> str:
    """Build a national number with correct check digits (the 2000+ rule prefixes a 2)."""
    body = f"{birth:%y%m%d}{serial:03d}"
    base = int(("2" if birth.year >= 2000 else "") + body)
    return f"{body}{97 - base % 97:02d}"


def sample_envelope(
    ticket: str | None = None, *, sender: str = SAMPLE_EMPLOYER, reference: str = "REF-0001"
) -> dict[str, Any]:
    return {
        "ticket": ticket,
        "sender_reference": reference,
        "sender": sender,
        "environment": "TEST",
        "recorded_at": _RECORDED_AT,
        "schema_version": 1,
    }


def sample_dimona_in(
    ticket: str | None = None, *, worker: str = SAMPLE_NISS, employer: str = SAMPLE_EMPLOYER
) -> dict[str, Any]:
    """A valid ``be.crossroads.dimona.DimonaIn`` (ordinary worker, joint committee 200)."""
    return {
        "envelope": sample_envelope(ticket, sender=employer),
        "employer": employer,
        "worker": worker,
        "start_date": dt.date(2024, 7, 1),
        "planned_end_date": None,
        "worker_type": "OTH",
        "joint_committee": "200",
        "planned_hours": None,
    }


def sample_dimona_out(
    ticket: str | None = None, *, worker: str = SAMPLE_NISS, employer: str = SAMPLE_EMPLOYER
) -> dict[str, Any]:
    """A valid ``be.crossroads.dimona.DimonaOut`` closing :func:`sample_dimona_in`'s relation."""
    return {
        "envelope": sample_envelope(ticket, sender=employer, reference="REF-0002"),
        "employer": employer,
        "worker": worker,
        "relation_start_date": dt.date(2024, 7, 1),
        "end_date": dt.date(2024, 9, 30),
    }


def sample_dmfa(ticket: str | None = None, *, lines: int = 3, employer: str = SAMPLE_EMPLOYER) -> dict[str, Any]:
    """A valid ``be.crossroads.dmfa.DmfaDeclaration`` for 2024-Q3 with ``lines`` distinct workers."""
    worker_lines = [
        {
            "worker": _valid_niss(dt.date(1960, 1, 1) + dt.timedelta(days=97 * i), 1 + 2 * (i % 400)),
            "worker_category": "WHITE_COLLAR" if i % 2 else "BLUE_COLLAR",
            "joint_committee": "200" if i % 2 else "124",
            "days_worked": 60,
            "gross_wage_cents": 1_050_000 + 100 * i,
            "assimilated_days": [{"reason": "ANNUAL_LEAVE", "days": 5}, {"reason": "PUBLIC_HOLIDAY", "days": 1}],
        }
        for i in range(lines)
    ]
    return {
        "envelope": sample_envelope(ticket, sender=employer, reference="DMFA-2024-Q3"),
        "employer": employer,
        "quarter": "2024-Q3",
        "nature": "ORIGINAL",
        "version": 1,
        "worker_lines": worker_lines,
    }


def _samples(ticket: str | None) -> dict[str, dict[str, Any]]:
    envelope = sample_envelope(ticket)
    register = sample_envelope(ticket, sender="0367302178", reference="RN-1")  # the National Register's number
    return {
        "be.crossroads.dimona.DimonaIn": sample_dimona_in(ticket),
        "be.crossroads.dimona.DimonaOut": sample_dimona_out(ticket),
        "be.crossroads.dimona.DimonaUpdate": {
            "envelope": envelope,
            "employer": SAMPLE_EMPLOYER,
            "worker": SAMPLE_NISS,
            "relation_start_date": dt.date(2024, 7, 1),
            "new_start_date": None,
            "new_end_date": dt.date(2024, 12, 31),
            "new_joint_committee": None,
            "new_worker_type": None,
        },
        "be.crossroads.dimona.DimonaCancel": {
            "envelope": envelope,
            "employer": SAMPLE_EMPLOYER,
            "worker": SAMPLE_NISS,
            "relation_start_date": dt.date(2024, 7, 1),
            "cancelled_ticket": None,
            "reason": "typing error",
        },
        "be.crossroads.dimona.DimonaBatch": {
            "envelope": envelope,
            # Items of a multi-record union are (full name, record) pairs: that is how the codec tells them apart.
            "declarations": [
                ("be.crossroads.dimona.DimonaIn", sample_dimona_in(ticket, worker=n))
                for n in (SAMPLE_NISS, *_OTHER_NISS)
            ],
        },
        "be.crossroads.dmfa.DmfaDeclaration": sample_dmfa(ticket),
        "be.crossroads.civil.Birth": {
            "envelope": register,
            "child": _OTHER_NISS[2],
            "birth_date": dt.date(2000, 1, 1),
            "parents": [SAMPLE_NISS, _OTHER_NISS[1]],
            "municipality_nis": "21004",
        },
        "be.crossroads.civil.AddressChange": {
            "envelope": register,
            "person": SAMPLE_NISS,
            "effective_date": dt.date(2024, 8, 1),
            "address": {
                "street": "Quai de Willebroeck",
                "number": "38",
                "box": None,
                "postal_code": "1000",
                "municipality_nis": "21004",
                "country": "BE",
            },
        },
        "be.crossroads.civil.Death": {
            "envelope": register,
            "person": _OTHER_NISS[0],
            "date_of_death": dt.date(2024, 2, 29),
            "municipality_nis": None,
        },
        "be.crossroads.civil.CivilStatusChange": {
            "envelope": register,
            "person": SAMPLE_NISS,
            "effective_date": dt.date(2024, 6, 15),
            "civil_status": "MARRIED",
            "partner": _OTHER_NISS[1],
        },
        "be.crossroads.directory.Integration": {
            "envelope": sample_envelope(ticket, sender=SAMPLE_INSTITUTION, reference="INT-1"),
            "action": "REGISTER",
            "person": SAMPLE_NISS,
            "institution": SAMPLE_INSTITUTION,
            "sector": "MUTUALITY",
            "capacity": "TITULAR",
            "period": {"start": dt.date(2024, 1, 1), "end": None},
            "status": "DEFINITIVE",
        },
        "be.crossroads.consultation.ConsultationRequest": {
            "envelope": sample_envelope(ticket, sender=SAMPLE_INSTITUTION, reference="Q-1"),
            "requester": SAMPLE_INSTITUTION,
            "person": SAMPLE_NISS,
            "data_type": "be.crossroads.consultation.Wages",
            "capacity": "TITULAR",
            "as_of": dt.date(2024, 9, 30),
        },
    }


def sample(schema_name: str, ticket: str | None = None) -> dict[str, Any]:
    """A valid record of any declaration type, by full Avro name."""
    try:
        return _samples(ticket)[schema_name]
    except KeyError:
        raise UnknownDeclarationTypeError(schema_name) from None
