"""The source each audit record names (seed 6.7): the pure rule, and the records the directory step makes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from streams.domain import exchange
from streams.domain.directory import Changed, PersonFile, apply_dimona
from streams.domain.kinds import Lookup, kind_of
from streams.domain.network import DataType
from streams.domain.outcomes import ToAudit
from streams.domain.pseudonyms import REIDENTIFICATION_DATA_TYPE
from streams.domain.sources import (
    NATIONAL_REGISTER,
    WAREHOUSE,
    describe,
    joined,
    kept_fact_source,
    source_of,
    wage_employer,
)
from tests.support import consultation, dimona_in, integration, with_envelope
from tests.unit.test_directory_rules import AT, EMPLOYER, JOB_OFFICE, MUTUALITY_A, NETWORK, PERSON, given

SECRETARIAT = "0456789012"
OTHER_EMPLOYER = "0477472701"


# -- the rule --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "data_type",
    [DataType.BIRTH, DataType.DEATH, DataType.ADDRESS_CHANGE, DataType.CIVIL_STATUS_CHANGE, DataType.IDENTITY],
)
def test_civil_data_comes_from_the_national_register_whoever_relayed_it(data_type: str) -> None:
    assert source_of(data_type) == NATIONAL_REGISTER
    assert source_of(data_type, providers=(SECRETARIAT,)) == NATIONAL_REGISTER


@pytest.mark.parametrize(
    "data_type", [DataType.DIMONA_IN, DataType.DIMONA_CANCEL, DataType.DMFA_DECLARATION, DataType.EMPLOYMENT]
)
def test_employment_and_wage_data_come_from_the_employers_named(data_type: str) -> None:
    assert source_of(data_type, providers=(EMPLOYER,)) == EMPLOYER
    assert source_of(data_type, providers=(EMPLOYER, OTHER_EMPLOYER, EMPLOYER)) == f"{EMPLOYER}, {OTHER_EMPLOYER}"
    assert source_of(data_type) is None  # no employer at hand: unknown, never guessed


def test_directory_entries_come_from_the_declaring_institution_a_reidentification_from_the_warehouse() -> None:
    assert source_of("be.crossroads.directory.Integration", providers=(MUTUALITY_A,)) == MUTUALITY_A
    assert source_of(DataType.DIRECTORY_ENTRIES, providers=(MUTUALITY_A,)) == MUTUALITY_A
    assert source_of(REIDENTIFICATION_DATA_TYPE) == WAREHOUSE
    assert source_of("be.crossroads.something.Else", providers=(EMPLOYER,)) is None


def test_a_kept_fact_names_its_source_from_its_slot() -> None:
    assert wage_employer(f"{EMPLOYER}/2026-Q1") == EMPLOYER
    assert kept_fact_source(DataType.DMFA_DECLARATION, f"{EMPLOYER}/2026-Q1") == EMPLOYER
    assert kept_fact_source(DataType.DEATH, DataType.DEATH) == NATIONAL_REGISTER


def test_a_source_reads_with_the_names_everyone_knows() -> None:
    assert describe(NATIONAL_REGISTER) == f"{NATIONAL_REGISTER} (National Register)"
    assert describe(WAREHOUSE) == "the platform's warehouse (pseudonym table)"
    assert describe(f"{EMPLOYER}, {NATIONAL_REGISTER}") == f"{EMPLOYER}, {NATIONAL_REGISTER} (National Register)"
    assert describe(None) == "-"
    assert joined(["", EMPLOYER, EMPLOYER]) == EMPLOYER and joined([]) is None


# -- where the directory step makes audit records ----------------------------------------------------------------
def _audits(decision: exchange.Decision) -> list[dict[str, Any]]:
    return [o.record for o in decision.outcomes if isinstance(o, ToAudit)]


def test_a_dimona_delivered_and_withheld_names_the_employer_not_the_secretariat_that_sent_it() -> None:
    file = given(
        # authorized for DIMONA IN
        integration(JOB_OFFICE, "EMPLOYMENT_OFFICE", "JOB_SEEKER", PERSON, dt.date(2020, 1, 1)),
        integration(MUTUALITY_A, "MUTUALITY", "TITULAR", PERSON, dt.date(2020, 1, 1)),  # not authorized: withheld
    )
    schema, record = dimona_in(EMPLOYER, PERSON, dt.date(2026, 1, 5))
    record = with_envelope(record, sender=SECRETARIAT)

    audits = _audits(exchange.on_dimona(file, NETWORK, kind_of(schema), record, "t-in", b"dimona", AT))

    assert sorted((a["actor"], a["kind"], a["source"]) for a in audits) == [
        (MUTUALITY_A, "REFUSAL", EMPLOYER),
        (JOB_OFFICE, "DELIVERY", EMPLOYER),
    ]


def test_routed_facts_name_the_national_register_or_the_wage_lines_employer() -> None:
    # authorized for deaths and wages
    file = given(integration(MUTUALITY_A, "MUTUALITY", "TITULAR", PERSON, dt.date(2020, 1, 1)))
    death = Lookup(PERSON, PERSON, DataType.DEATH, b"d", "src", dt.date(2026, 1, 1), True, True, DataType.DEATH, 0)
    wages = Lookup(
        PERSON,
        PERSON,
        DataType.DMFA_DECLARATION,
        b"w",
        "s2",
        dt.date(2026, 3, 31),
        True,
        True,
        f"{EMPLOYER}/2026-Q1",
        1,
    )

    assert [a["source"] for a in _audits(exchange.on_lookup(file, NETWORK, death, AT))] == [NATIONAL_REGISTER]
    assert [a["source"] for a in _audits(exchange.on_lookup(file, NETWORK, wages, AT))] == [EMPLOYER]


def _employed() -> PersonFile:
    schema, record = dimona_in(EMPLOYER, PERSON, dt.date(2026, 1, 5))
    started = apply_dimona(PersonFile(), schema, record, "t-in", b"dimona-in")
    assert isinstance(started, Changed)
    return started.file


def _consulted(file: PersonFile, requester: str, capacity: str, data_type: str, as_of: dt.date) -> dict[str, Any]:
    decision = exchange.on_consultation(
        file, NETWORK, consultation(requester, capacity, PERSON, data_type, as_of).record, "req", AT, lambda e: b""
    )
    (audit,) = _audits(decision)
    return audit


def test_a_consultation_names_the_source_of_what_it_gave_or_would_have_given() -> None:
    file = _employed()

    granted = _consulted(file, EMPLOYER, "EMPLOYER", DataType.EMPLOYMENT, dt.date(2026, 2, 1))
    stranger = _consulted(file, OTHER_EMPLOYER, "EMPLOYER", DataType.EMPLOYMENT, dt.date(2026, 2, 1))
    before = _consulted(file, EMPLOYER, "EMPLOYER", DataType.EMPLOYMENT, dt.date(2025, 12, 1))

    assert (granted["kind"], granted["source"]) == ("CONSULTATION_GRANTED", EMPLOYER)
    # refused: the citizen still learns whose data was asked for (their employer's DIMONA), and why it was refused
    assert (stranger["kind"], stranger["source"]) == ("CONSULTATION_REFUSED", EMPLOYER)
    assert "no employment relation" in stranger["reason"]
    assert (before["kind"], before["source"]) == ("CONSULTATION_REFUSED", None)  # no relation then: no source


def test_identity_wages_and_own_entries_name_their_sources() -> None:
    file = given(integration(MUTUALITY_A, "MUTUALITY", "TITULAR", PERSON, dt.date(2020, 1, 1)))
    wages = Lookup(
        PERSON,
        PERSON,
        DataType.DMFA_DECLARATION,
        b"w",
        "s2",
        dt.date(2026, 3, 31),
        False,
        True,
        f"{EMPLOYER}/2026-Q1/WHITE_COLLAR/200",
        1,
    )
    death = Lookup(PERSON, PERSON, DataType.DEATH, b"d", "s3", dt.date(2026, 4, 1), False, True, DataType.DEATH, 0)
    for kept in (wages, death):
        file = exchange.on_lookup(file, NETWORK, kept, AT).file or file
    as_of = dt.date(2026, 6, 1)

    assert _consulted(file, MUTUALITY_A, "TITULAR", DataType.WAGES, as_of)["source"] == EMPLOYER
    assert _consulted(file, MUTUALITY_A, "TITULAR", DataType.IDENTITY, as_of)["source"] == NATIONAL_REGISTER
    refused = _consulted(file, JOB_OFFICE, "JOB_SEEKER", DataType.IDENTITY, as_of)
    assert (refused["kind"], refused["source"]) == ("CONSULTATION_REFUSED", NATIONAL_REGISTER)
    own = _consulted(file, MUTUALITY_A, "TITULAR", DataType.DIRECTORY_ENTRIES, as_of)
    assert own["source"] == MUTUALITY_A


def test_a_consultation_that_found_nothing_names_no_source() -> None:
    # authorized for wages; none kept
    file = given(integration(MUTUALITY_A, "MUTUALITY", "TITULAR", PERSON, dt.date(2020, 1, 1)))

    nothing = _consulted(file, MUTUALITY_A, "TITULAR", DataType.WAGES, dt.date(2026, 6, 1))

    # allowed, but nothing given: not a grant (D4), and no source to name
    assert (nothing["kind"], nothing["consultation_status"], nothing["source"]) == (
        "CONSULTATION_REFUSED",
        "NOT_FOUND",
        None,
    )
