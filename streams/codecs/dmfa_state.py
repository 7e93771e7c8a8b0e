"""The DmfA step's table values: an `EmployerDmfa` as the Avro record ``be.crossroads.internal.EmployerDmfa``.

Avro and not a packed format like the person files': there is one value per employer (~250,000), changed once
a quarter or on a correction, so its size does not matter, and Avro's schema evolution is what a changelog
kept across releases needs.
"""

from __future__ import annotations

from typing import Any

from streams.codecs.codec import AvroCodec
from streams.domain.dmfa import EmployerDmfa, Quarter, Version

EMPLOYER_DMFA = "be.crossroads.internal.EmployerDmfa"


def to_record(state: EmployerDmfa) -> dict[str, Any]:
    return {
        "employer": state.employer,
        "quarters": [
            {
                "quarter": q.quarter,
                "versions": [{"version": v.version, "ticket": v.ticket} for v in q.versions],
                "workers": list(q.workers),
                "digest": q.digest,
                "decided": list(q.decided),
            }
            for q in state.quarters
        ],
    }


def from_record(record: dict[str, Any]) -> EmployerDmfa:
    return EmployerDmfa(
        record["employer"],
        tuple(
            Quarter(
                q["quarter"],
                tuple(Version(v["version"], v["ticket"]) for v in q["versions"]),
                tuple(q["workers"]),
                q["digest"],
                tuple(q["decided"]),
            )
            for q in record["quarters"]
        ),
    )


def encode_dmfa_state(codec: AvroCodec, state: EmployerDmfa) -> bytes:
    return codec.encode(EMPLOYER_DMFA, to_record(state))


def decode_dmfa_state(codec: AvroCodec, employer: str, data: bytes | None) -> EmployerDmfa:
    """A table value back to its state; no value is an employer that declared nothing yet."""
    if not data:
        return EmployerDmfa(employer)
    return from_record(codec.decode_as(EMPLOYER_DMFA, data))
