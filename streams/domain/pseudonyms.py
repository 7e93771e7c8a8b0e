"""Coded data for statistics (seed 3.3, 4.12, 4.14): keyed pseudonyms instead of national numbers.

A person's pseudonym for a *purpose* is ``HMAC-SHA256(key_of_purpose, "<purpose>|<NISS>")`` in lowercase hex
(64 characters: it can never be mistaken for an 11-digit NISS or BIS). Properties the platform relies on:

* **deterministic** for one key: the same person gets the same pseudonym in every fact, so statistics can
  follow a person over time (mobility) without knowing who it is;
* **unlinkable across purposes**: each purpose has its own key (``Settings.pseudonym_keys``) and the purpose
  is hashed in too, so two research projects (two purposes) get pseudonyms that cannot be joined without
  going back to the platform, even if the same key were configured twice by mistake;
* **not reversible** without the key; re-identification is a separate, authorized and audited act that
  reads a mapping kept *outside* the statistics database (see ``connectors/clickhouse/reidentify.py``).

The NISS is normalised first (``streams.domain.identifiers``): ``93.05.18-223.61`` and ``93051822361``
are one person. A string that is not a valid NISS/BIS is hashed as given (stripped), so a pseudonym is
always defined — facts reach the warehouse only after validation, so that is a fallback, not a path.

Pure: no I/O, no settings; the key is passed in.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from streams.domain.errors import InvalidIdentifierError
from streams.domain.identifiers import parse_niss

__all__ = [
    "PSEUDONYM_LENGTH",
    "REIDENTIFICATION_DATA_TYPE",
    "PersonTraits",
    "ReidentificationDecision",
    "UnknownPurpose",
    "decide_reidentification",
    "key_for",
    "normalise_person",
    "person_traits",
    "pseudonym",
]

PSEUDONYM_LENGTH = 64


class UnknownPurpose(KeyError):
    """No key is configured for this purpose: pseudonymizing without one would silently mix purposes."""


def normalise_person(raw: str) -> str:
    """The NISS/BIS as 11 digits when it parses, else the stripped input."""
    try:
        return parse_niss(raw).digits
    except InvalidIdentifierError:
        return raw.strip()


def pseudonym(person: str, key: bytes, purpose: str) -> str:
    """The person's pseudonym for ``purpose`` under ``key`` (64 lowercase hex characters)."""
    if not key:
        raise ValueError("a pseudonym needs a non-empty key")
    message = f"{purpose}|{normalise_person(person)}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def key_for(keys: Mapping[str, bytes], purpose: str) -> bytes:
    """The key of ``purpose``; refuses a purpose that has none rather than borrowing another's."""
    try:
        key = keys[purpose]
    except KeyError:
        raise UnknownPurpose(f"no pseudonym key configured for purpose {purpose!r}") from None
    if not key:
        raise UnknownPurpose(f"the pseudonym key of purpose {purpose!r} is empty")
    return key


@dataclass(frozen=True, slots=True)
class PersonTraits:
    """What a statistic may know about a person without knowing who: sex and birth date, when the number
    tells them (a BIS number may say neither; a NISS with month or day 00 has no full birth date)."""

    sex: str  # "M", "F" or "" (unknown)
    birth_date: dt.date | None


def person_traits(raw: str) -> PersonTraits:
    """Sex and birth date read from the NISS/BIS, before it is replaced by a pseudonym."""
    try:
        number = parse_niss(raw)
    except InvalidIdentifierError:
        return PersonTraits("", None)
    sex = number.sex
    return PersonTraits(str(sex) if sex is not None else "", number.birth_date)


# -- re-identification (seed 4.14: OASIS hits are re-identified for the inspection services) ------------------

REIDENTIFICATION_DATA_TYPE = "be.crossroads.warehouse.Reidentification"


@dataclass(frozen=True, slots=True)
class ReidentificationDecision:
    granted: bool
    legal_basis: str | None
    reason: str | None


def decide_reidentification(
    grants: Mapping[str, Mapping[str, str]], requester: str, purpose: str
) -> ReidentificationDecision:
    """May ``requester`` re-identify pseudonyms for ``purpose``? Only under a grant naming both, whose value
    is the legal basis (deliberation) recorded in the audit trail; anything else is refused with a reason."""
    purposes = grants.get(requester)
    if purposes is None:
        return ReidentificationDecision(False, None, f"requester {requester} holds no re-identification grant")
    legal_basis = purposes.get(purpose)
    if not legal_basis:
        return ReidentificationDecision(
            False, None, f"requester {requester} may not re-identify for purpose {purpose!r}"
        )
    return ReidentificationDecision(True, legal_basis, None)
