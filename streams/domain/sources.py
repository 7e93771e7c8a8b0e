"""Where the data about a person comes from: the source each audit record names (seed 6.7).

A citizen must know not only who received their data and why, but "idéalement aussi les sources dans lesquelles
ces données ont été puisées", or they no longer know whom to ask to correct wrong data.  So an audit record
names the source of the data exchanged (or asked for, when refused), decided here from the data type alone plus
what the fact itself says (None when there is nothing to name: a consultation that found nothing; records
written before AuditRecord v2 have no source either):

* civil data (births, deaths, moves, civil status; an identity consultation): the **National Register**, the
  authentic source of civil data, whoever relayed it;
* DIMONA (an employment consultation too): the **employer** the declaration names — a social secretariat only
  transmits on its behalf, and the correction is the employer's to make;
* DmfA (a wages consultation too): the **employer** of the declaration (of the wage line, the fact's slot);
* directory entries: the **declaring institution** (for a consultation of one's own entries, the requester);
* a re-identification: the platform's **warehouse**, whose pseudonym table maps the pseudonym back.

A source is an actor id (the enterprise number), several joined by ``", "`` when the data came from several
employers, or :data:`WAREHOUSE`.  Pure: no Kafka, no faust.
"""

from __future__ import annotations

from collections.abc import Iterable

from streams.domain.network import ConsultedData
from streams.domain.pseudonyms import REIDENTIFICATION_DATA_TYPE

__all__ = [
    "NATIONAL_REGISTER",
    "WAREHOUSE",
    "describe",
    "joined",
    "kept_fact_source",
    "source_of",
    "wage_employer",
]

NATIONAL_REGISTER = "0367302178"  # the National Register's enterprise number, the sender of civil facts
WAREHOUSE = "crossroads.warehouse"  # not an actor: the platform's own pseudonym table (seed 4.14)

_CIVIL = "be.crossroads.civil."
_DIMONA = "be.crossroads.dimona."
_DMFA = "be.crossroads.dmfa."
_INTEGRATION = "be.crossroads.directory.Integration"

_NAMES = {
    NATIONAL_REGISTER: f"{NATIONAL_REGISTER} (National Register)",
    WAREHOUSE: "the platform's warehouse (pseudonym table)",
}


def joined(actors: Iterable[str]) -> str | None:
    """Several providers as one source, in first-seen order, each once; None when there is none."""
    unique = list(dict.fromkeys(a for a in actors if a))
    return ", ".join(unique) if unique else None


def wage_employer(slot: str) -> str:
    """The employer of a kept DmfA line, from its slot ``"<employer>/<quarter>/..."`` (the DmfA route)."""
    return slot.partition("/")[0]


def kept_fact_source(schema_name: str, slot: str) -> str | None:
    """The source of a fact the directory routes or keeps (a civil fact, a DmfA line), from its slot."""
    return source_of(schema_name, providers=(wage_employer(slot),) if schema_name.startswith(_DMFA) else ())


def source_of(data_type: str, *, providers: Iterable[str] = ()) -> str | None:
    """The source of ``data_type`` data; ``providers`` are the actors the data at hand names (the employer(s)
    of DIMONA, DmfA or employment and wages data, the declaring institution of directory entries).

    None when the source is not known: a type with no rule here, or employer data without any employer (a
    consultation that found nothing to give).
    """
    if data_type.startswith(_CIVIL) or data_type == ConsultedData.IDENTITY:
        return NATIONAL_REGISTER
    if data_type == REIDENTIFICATION_DATA_TYPE:
        return WAREHOUSE
    if (
        data_type.startswith((_DIMONA, _DMFA))
        or data_type in (ConsultedData.EMPLOYMENT, ConsultedData.WAGES, ConsultedData.DIRECTORY_ENTRIES)
        or data_type == _INTEGRATION
    ):
        return joined(providers)
    return None


def describe(source: str | None) -> str:
    """A source as a citizen reads it: the actor id, with the name of the sources everyone knows."""
    if source is None:
        return "-"
    return ", ".join(_NAMES.get(part, part) for part in source.split(", "))
