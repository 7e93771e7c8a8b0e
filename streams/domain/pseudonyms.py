"""Coded data (seed 3.3, 4.12, 4.14): keyed pseudonyms instead of national numbers, one space per purpose.

A person's pseudonym for a *purpose* is ``HMAC-SHA256(key_of_purpose, "<purpose>|<NISS>")`` in lowercase hex
(64 characters: it can never be mistaken for an 11-digit NISS or BIS). The warehouse has two purposes, each
projected where it is used (``connectors/clickhouse/warehouse.py``):

* the **statistics** purpose (``Settings.warehouse_purpose``): the statistics database ``<db>`` (seed 4.12);
* the **anti-fraud** purpose (``Settings.oasis_purpose``): the OASIS tables in ``<db>_oasis`` (seed 4.14),
  which the statistics' analysts cannot read.

Properties the platform relies on:

* **deterministic** for one key: the same person gets the same pseudonym in every fact, so statistics can
  follow a person over time (mobility) without knowing who it is;
* **unlinkable across purposes**: each purpose has its own key (``Settings.pseudonym_keys``) and the purpose
  is hashed in too, so the statistics' and the anti-fraud purpose's pseudonyms of one person cannot be joined
  without going back to the platform, even if the same key were configured twice by mistake;
* **not reversible** without the key; re-identification is a separate, authorized and audited act that
  reads a mapping kept *outside* the pseudonymised databases (see ``connectors/clickhouse/reidentify.py``),
  and only for what the seed allows: persons the OASIS indicators flagged, in the anti-fraud purpose's space
  (``decide_pseudonyms``).

The NISS is normalised first (``streams.domain.identifiers``): ``93.05.18-223.61`` and ``93051822361``
are one person. A string that is not a valid NISS/BIS is hashed as given (stripped), so a pseudonym is
always defined — facts reach the warehouse only after validation, so that is a fallback, not a path.

Pure: no I/O, no settings; the key is passed in.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from streams.domain.errors import DomainError, InvalidIdentifierError
from streams.domain.identifiers import parse_niss

__all__ = [
    "PSEUDONYM_LENGTH",
    "REIDENTIFICATION_DATA_TYPE",
    "Mapped",
    "PersonTraits",
    "PseudonymDecision",
    "ReidentificationDecision",
    "UnknownPurpose",
    "decide_pseudonyms",
    "decide_reidentification",
    "key_for",
    "normalise_person",
    "person_traits",
    "pseudonym",
    "purpose_problems",
]

PSEUDONYM_LENGTH = 64


class UnknownPurpose(DomainError, KeyError):
    """No key is configured for this purpose: pseudonymizing without one would silently mix purposes."""

    def __init__(self, message: str) -> None:
        super().__init__("pseudonym.unknown_purpose", message)

    def __str__(self) -> str:  # KeyError's own __str__ would print the message as a quoted repr
        return str(self.args[0]) if self.args else ""


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


def purpose_problems(
    keys: Mapping[str, str],
    statistics: str,
    antifraud: str,
    grants: Mapping[str, Mapping[str, str]],
) -> list[str]:
    """What is wrong with a configuration of purposes, keys and re-identification grants (empty: nothing).

    A key is configured for exactly the purposes the warehouse projects, so that no purpose is nominal: a key
    nothing uses protects nothing and suggests a pseudonym space that does not exist. Only the anti-fraud
    purpose re-identifies (seed 4.14: the persons the OASIS indicators flag, for the inspection services); a
    grant for another purpose could never resolve anyone, so it is refused here rather than silently useless."""
    problems = []
    if statistics == antifraud:
        problems.append(
            f"the statistics and anti-fraud purposes must differ (both are {statistics!r}): one pseudonym space "
            "would serve both, and OASIS pseudonyms would join the statistics"
        )
    for purpose in dict.fromkeys((statistics, antifraud)):
        if purpose not in keys:
            problems.append(f"no pseudonym key for purpose {purpose!r} (CROSSROADS_PSEUDONYM_KEYS)")
        elif not keys[purpose]:
            problems.append(f"the pseudonym key of purpose {purpose!r} is empty")
    for purpose in keys:
        if purpose not in (statistics, antifraud):
            problems.append(
                f"a pseudonym key for purpose {purpose!r}, but no projection uses that purpose "
                f"(the warehouse projects {statistics!r} and {antifraud!r})"
            )
    for requester, purposes in grants.items():
        for purpose in purposes:
            if purpose != antifraud:
                problems.append(
                    f"requester {requester} is granted re-identification for purpose {purpose!r}, but only the "
                    f"anti-fraud purpose {antifraud!r} re-identifies (seed 4.14: persons flagged by OASIS)"
                )
    return problems


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


@dataclass(frozen=True, slots=True)
class Mapped:
    """What the mapping store knows of a pseudonym: the purpose whose space it is in, and the person."""

    purpose: str
    person: str


@dataclass(frozen=True, slots=True)
class PseudonymDecision:
    """The answer about one pseudonym asked. ``person`` is whom it stands for in whatever space it was found
    (None: in none), so that a refusal too is audited against the person concerned; the requester receives
    it only when ``granted``."""

    pseudonym: str
    granted: bool
    person: str | None
    reason: str | None  # why it was refused; None when granted


def decide_pseudonyms(
    grant: ReidentificationDecision,
    purpose: str,
    quarter: str,
    asked: Sequence[str],
    mapped: Mapping[str, Mapped],
    flagged: Collection[str],
) -> list[PseudonymDecision]:
    """One decision per distinct pseudonym asked, in order. A pseudonym is resolved only when

    1. the requester holds a grant for ``purpose`` (``grant``),
    2. it is a pseudonym of that purpose's space (a pseudonym of another purpose is refused even when the
       requester could re-identify that person in its own space: resolving it would join the two spaces),
    3. and the OASIS indicators of ``quarter`` flagged it (``flagged``: pseudonyms of the anti-fraud space; a
       pseudonym of any other purpose is therefore never flagged).

    Everything else is refused, with the first of these checks that failed as the reason."""
    decisions = []
    for value in dict.fromkeys(asked):
        found = mapped.get(value)
        person = found.person if found else None
        if not grant.granted:
            reason = grant.reason or "re-identification not granted"  # never None: None means granted
        elif found is None:
            reason = "unknown pseudonym"
        elif found.purpose != purpose:
            reason = f"not a pseudonym of purpose {purpose!r}"
        elif value not in flagged:
            reason = f"not flagged by the OASIS indicators of {quarter}"
        else:
            reason = None
        decisions.append(PseudonymDecision(value, reason is None, person, reason))
    return decisions
