"""Consultations as pure functions: what an answer says (NOT_FOUND is no grant)."""

from __future__ import annotations

import datetime as dt

from streams.domain import consult, exchange
from streams.domain.directory import PersonFile, StoredFact, store_fact
from streams.domain.network import DataType
from tests.unit.test_directory_rules import (
    AT,
    MUTUALITY_A,
    NETWORK,
    given,
    integration,
    request,
)

DEATH = "be.crossroads.civil.Death"


def civil(schema: str, effective: dt.date, ticket: str) -> StoredFact:
    """A civil fact as the fan-out keeps it (slot = its schema, version 0); the payload names it."""
    return StoredFact(schema, schema, 0, effective, ticket, f"{ticket}@{effective}".encode())


def kept(*facts: StoredFact, file: PersonFile | None = None) -> PersonFile:
    file = file if file is not None else given(integration(MUTUALITY_A, "TITULAR", dt.date(2020, 1, 1)))
    for fact in facts:
        file = store_fact(file, fact)
    return file


def identity(
    file: PersonFile, as_of: dt.date, requester: str = MUTUALITY_A, capacity: str = "TITULAR"
) -> consult.Answer:
    return consult.decide(file, NETWORK, request(requester, capacity, DataType.IDENTITY, as_of))


# -- D4: a consultation that found nothing is no grant ----------------------------------------------------------


def test_an_answer_that_found_nothing_is_not_granted() -> None:
    nothing = identity(kept(), dt.date(2026, 1, 1))

    assert nothing.status == "NOT_FOUND" and nothing.payloads == () and nothing.legal_basis
    assert not nothing.granted


def test_a_consultation_that_found_nothing_is_audited_as_nothing_given_with_its_basis() -> None:
    file = kept()

    decision = exchange.on_consultation(
        file, NETWORK, request(MUTUALITY_A, "TITULAR", DataType.WAGES, dt.date(2026, 1, 1)), "req", AT, lambda e: b""
    )

    (reply,) = [o.record for o in decision.outcomes if isinstance(o, exchange.ToMailbox)]
    (audit,) = [o.record for o in decision.outcomes if isinstance(o, exchange.ToAudit)]
    assert (reply["status"], reply["payloads"], reply["legal_basis"]) == ("NOT_FOUND", [], "Délibération n° 96/047")
    assert audit["kind"] == "CONSULTATION_REFUSED"  # nothing was given: never CONSULTATION_GRANTED
    assert audit["consultation_status"] == "NOT_FOUND"
    assert audit["legal_basis"] == "Délibération n° 96/047"  # it was allowed to ask, on this basis
    assert audit["reason"] == f"no {DataType.WAGES} known on or before 2026-01-01"


def test_granted_and_refused_consultations_are_audited_with_their_status() -> None:
    file = kept(civil(DEATH, dt.date(2025, 1, 1), "d"))

    def audit(requester: str, capacity: str) -> dict[str, object]:
        decision = exchange.on_consultation(
            file, NETWORK, request(requester, capacity, DataType.IDENTITY, dt.date(2026, 1, 1)), "r", AT, lambda e: b""
        )
        return next(o.record for o in decision.outcomes if isinstance(o, exchange.ToAudit))

    granted, refused = audit(MUTUALITY_A, "TITULAR"), audit(MUTUALITY_A, "DEPENDANT")
    assert (granted["kind"], granted["consultation_status"]) == ("CONSULTATION_GRANTED", "GRANTED")
    assert (refused["kind"], refused["consultation_status"]) == ("CONSULTATION_REFUSED", "REFUSED")
