"""Consultations as pure functions: what an answer says (NOT_FOUND is no grant), identity as of any date (the
history of civil facts), and the minimal identity an employer gets."""

from __future__ import annotations

import datetime as dt

from streams.domain import consult, exchange
from streams.domain.directory import Changed, PersonFile, StoredFact, apply_dimona, store_fact
from streams.domain.network import DataType
from tests.support import consultation, dimona_in, integration
from tests.unit.test_directory_rules import AT, EMPLOYER, MUTUALITY_A, NETWORK, PERSON, given

BIRTH = "be.crossroads.civil.Birth"
ADDRESS = "be.crossroads.civil.AddressChange"
STATUS = "be.crossroads.civil.CivilStatusChange"
DEATH = "be.crossroads.civil.Death"
DMFA = "be.crossroads.dmfa.DmfaDeclaration"


def civil(schema: str, effective: dt.date, ticket: str) -> StoredFact:
    """A civil fact as the fan-out keeps it (slot = its schema, version 0); the payload names it."""
    return StoredFact(schema, schema, 0, effective, ticket, f"{ticket}@{effective}".encode())


def kept(*facts: StoredFact, file: PersonFile | None = None) -> PersonFile:
    if file is None:
        file = given(integration(MUTUALITY_A, "MUTUALITY", "TITULAR", PERSON, dt.date(2020, 1, 1)))
    for fact in facts:
        file = store_fact(file, fact)
    return file


def identity(
    file: PersonFile, as_of: dt.date, requester: str = MUTUALITY_A, capacity: str = "TITULAR"
) -> consult.Answer:
    return consult.decide(file, NETWORK, consultation(requester, capacity, PERSON, DataType.IDENTITY, as_of).record)


# -- D4: a consultation that found nothing is no grant ----------------------------------------------------------


def test_an_answer_that_found_nothing_is_not_granted() -> None:
    nothing = identity(kept(), dt.date(2026, 1, 1))

    assert nothing.status == "NOT_FOUND" and nothing.payloads == () and nothing.legal_basis
    assert not nothing.granted


def test_a_consultation_that_found_nothing_is_audited_as_nothing_given_with_its_basis() -> None:
    file = kept()

    decision = exchange.on_consultation(
        file,
        NETWORK,
        consultation(MUTUALITY_A, "TITULAR", PERSON, DataType.WAGES, dt.date(2026, 1, 1)).record,
        "req",
        AT,
        lambda e: b"",
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
            file,
            NETWORK,
            consultation(requester, capacity, PERSON, DataType.IDENTITY, dt.date(2026, 1, 1)).record,
            "r",
            AT,
            lambda e: b"",
        )
        return next(o.record for o in decision.outcomes if isinstance(o, exchange.ToAudit))

    granted, refused = audit(MUTUALITY_A, "TITULAR"), audit(MUTUALITY_A, "DEPENDANT")
    assert (granted["kind"], granted["consultation_status"]) == ("CONSULTATION_GRANTED", "GRANTED")
    assert (refused["kind"], refused["consultation_status"]) == ("CONSULTATION_REFUSED", "REFUSED")


# -- D5: the history of civil facts ------------------------------------------------------------------------------


def test_identity_as_of_a_date_between_two_moves_gives_the_address_then_in_force() -> None:
    first, second = civil(ADDRESS, dt.date(2024, 1, 1), "a1"), civil(ADDRESS, dt.date(2025, 1, 1), "a2")

    for file in (kept(first, second), kept(second, first)):  # whatever order they arrived in
        assert identity(file, dt.date(2023, 12, 31)).status == "NOT_FOUND"
        assert identity(file, dt.date(2024, 1, 1)).payloads == (first.payload,)
        assert identity(file, dt.date(2024, 12, 31)).payloads == (first.payload,)
        assert identity(file, dt.date(2025, 1, 1)).payloads == (second.payload,)


def test_identity_as_of_gives_per_civil_fact_type_the_latest_effective_on_or_before_that_day() -> None:
    birth = civil(BIRTH, dt.date(1990, 5, 1), "b")
    moves = [civil(ADDRESS, dt.date(2010 + i, 3, 1), f"a{i}") for i in range(4)]
    statuses = [civil(STATUS, dt.date(2012, 6, 1), "s1"), civil(STATUS, dt.date(2020, 6, 1), "s2")]
    death = civil(DEATH, dt.date(2030, 1, 1), "d")
    since_2000 = given(integration(MUTUALITY_A, "MUTUALITY", "TITULAR", PERSON, dt.date(2000, 1, 1)))
    file = kept(death, *reversed(moves), statuses[1], birth, statuses[0], file=since_2000)

    assert set(identity(file, dt.date(2011, 1, 1)).payloads) == {birth.payload, moves[0].payload}
    assert set(identity(file, dt.date(2015, 1, 1)).payloads) == {birth.payload, moves[3].payload, statuses[0].payload}
    assert set(identity(file, dt.date(2021, 1, 1)).payloads) == {birth.payload, moves[3].payload, statuses[1].payload}
    assert death.payload in identity(file, dt.date(2030, 1, 1)).payloads


def test_the_history_keeps_each_civil_fact_once() -> None:
    move = civil(ADDRESS, dt.date(2024, 1, 1), "a1")
    file = kept(move)

    assert store_fact(file, move) is file  # the same fact delivered again (at-least-once): already kept
    corrected = civil(ADDRESS, dt.date(2024, 1, 1), "a1-corrected")  # another fact for the same day
    assert [f.ticket for f in store_fact(file, corrected).facts] == ["a1-corrected"]  # the later one stands


def test_wages_keep_superseding_per_employer_and_quarter() -> None:
    def wages(version: int, ticket: str) -> StoredFact:
        return StoredFact(DMFA, f"{EMPLOYER}/2026-Q1", version, dt.date(2026, 3, 31), ticket, ticket.encode())

    file = kept(wages(1, "original"), wages(2, "correction"), wages(1, "original"))

    assert [f.ticket for f in file.facts] == ["correction"]


# -- D10: what an employer gets --------------------------------------------------------------------------------


def _employed(*facts: StoredFact) -> PersonFile:
    schema, record = dimona_in(EMPLOYER, PERSON, dt.date(2026, 1, 5))
    registered = given(integration(MUTUALITY_A, "MUTUALITY", "TITULAR", PERSON, dt.date(2020, 1, 1)))
    started = apply_dimona(registered, schema, record, "t-in", b"dimona-in")
    assert isinstance(started, Changed)
    return kept(*facts, file=started.file)


def test_an_employer_gets_its_workers_address_in_force_and_nothing_about_relatives_or_civil_status() -> None:
    birth = civil(BIRTH, dt.date(1993, 5, 18), "b")  # names the parents
    old, new = civil(ADDRESS, dt.date(2020, 1, 1), "a1"), civil(ADDRESS, dt.date(2026, 3, 1), "a2")
    married = civil(STATUS, dt.date(2025, 6, 1), "s")  # names the partner
    file = _employed(birth, old, new, married)

    answer = identity(file, dt.date(2026, 2, 1), requester=EMPLOYER, capacity="EMPLOYER")

    assert (answer.status, answer.payloads, answer.legal_basis) == (
        "GRANTED",
        (old.payload,),
        consult.EMPLOYER_LEGAL_BASIS,
    )
    assert identity(file, dt.date(2026, 3, 1), requester=EMPLOYER, capacity="EMPLOYER").payloads == (new.payload,)
    # the institution with a deliberation still gets the whole identity
    assert set(identity(file, dt.date(2026, 2, 1)).payloads) == {birth.payload, old.payload, married.payload}


def test_an_employers_identity_consultation_without_a_known_address_finds_nothing() -> None:
    file = _employed(civil(BIRTH, dt.date(1993, 5, 18), "b"), civil(STATUS, dt.date(2025, 6, 1), "s"))

    answer = identity(file, dt.date(2026, 2, 1), requester=EMPLOYER, capacity="EMPLOYER")

    assert (answer.status, answer.payloads) == ("NOT_FOUND", ())
