"""The generated declarations: Avro-shaped dicts (what :class:`streams.codecs.AvroCodec` encodes), tagged with what
the generator knows about them (which intake family, which phase, whether and how it was broken on purpose).

Records hold ``datetime.date`` for Avro ``date`` and aware ``datetime`` for ``timestamp-millis``, exactly as
:mod:`streams.domain.samples`; :meth:`Generated.json_line` writes them as the JSON Lines ``crossroads check file``
and ``crossroads send`` read (a ``"type"`` key with the full schema name, ISO dates and timestamps).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

import orjson

__all__ = [
    "ADDRESS_CHANGE",
    "BIRTH",
    "CIVIL_STATUS_CHANGE",
    "CONSULTATION_REQUEST",
    "DEATH",
    "DIMONA_CANCEL",
    "DIMONA_IN",
    "DIMONA_OUT",
    "DIMONA_UPDATE",
    "DMFA_DECLARATION",
    "FAMILIES",
    "INTEGRATION",
    "NATIONAL_REGISTER",
    "Generated",
    "Phase",
    "envelope",
    "family_of",
]

NATIONAL_REGISTER = "0367302178"  # the sender of civil facts

DIMONA_IN = "be.crossroads.dimona.DimonaIn"
DIMONA_OUT = "be.crossroads.dimona.DimonaOut"
DIMONA_UPDATE = "be.crossroads.dimona.DimonaUpdate"
DIMONA_CANCEL = "be.crossroads.dimona.DimonaCancel"
DMFA_DECLARATION = "be.crossroads.dmfa.DmfaDeclaration"
BIRTH = "be.crossroads.civil.Birth"
ADDRESS_CHANGE = "be.crossroads.civil.AddressChange"
DEATH = "be.crossroads.civil.Death"
CIVIL_STATUS_CHANGE = "be.crossroads.civil.CivilStatusChange"
INTEGRATION = "be.crossroads.directory.Integration"
CONSULTATION_REQUEST = "be.crossroads.consultation.ConsultationRequest"

#: Intake family (one intake topic and one output file each) by schema namespace; the same table as
#: ``streams.kafka.producer.INTAKE_BY_NAMESPACE``, repeated here so that generation imports no Kafka client.
_FAMILY_BY_NAMESPACE = {
    "be.crossroads.directory": "integrations",
    "be.crossroads.dimona": "dimona",
    "be.crossroads.dmfa": "dmfa",
    "be.crossroads.civil": "civil",
    "be.crossroads.consultation": "consultations",
}
FAMILIES: tuple[str, ...] = tuple(_FAMILY_BY_NAMESPACE.values())

Phase = Literal["population", "day"]


def family_of(schema: str) -> str:
    return _FAMILY_BY_NAMESPACE[schema.rpartition(".")[0]]


def envelope(sender: str, reference: str, recorded_at: dt.datetime, environment: str = "PRODUCTION") -> dict[str, Any]:
    return {
        "ticket": None,  # the platform stamps it
        "sender_reference": reference,
        "sender": sender,
        "environment": environment,
        "recorded_at": recorded_at,
        "schema_version": 1,
    }


@dataclass(frozen=True, slots=True)
class Generated:
    """One generated declaration.

    ``invalid`` is the violation code the intake will report (``None``: the record is valid);
    ``authorized`` says, for a valid consultation request, whether the platform will answer it (``False``: it
    will refuse it, for the reason in ``refusal``: ``no_file`` or ``data_type``).
    """

    schema: str
    record: dict[str, Any]
    phase: Phase
    invalid: str | None = None
    authorized: bool | None = None
    refusal: str | None = None

    @property
    def family(self) -> str:
        return family_of(self.schema)

    @property
    def sender(self) -> str:
        return str(self.record["envelope"]["sender"])

    def json_line(self) -> bytes:
        """The record as one JSON Lines object, ``"type"`` first, ending with a newline."""
        return orjson.dumps({"type": self.schema, **self.record}, option=orjson.OPT_APPEND_NEWLINE)
