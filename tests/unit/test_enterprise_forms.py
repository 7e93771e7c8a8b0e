"""Enterprise numbers are stored in one form: the 10 bare digits, whatever form the sender typed (the legacy
9-digit form, punctuation, a BE prefix). `streams.domain.normalise` rewrites a declaration before anything is
judged or stored, and says what it read each number as."""

from __future__ import annotations

import datetime as dt
import uuid

from streams.domain.admission import Admitted, admit
from streams.domain.kinds import validate
from streams.domain.normalise import Note, enterprise_numbers
from streams.domain.samples import sample_dimona_in, sample_dimona_out, sample_dmfa
from tests.support import with_envelope

EMPLOYER = "0403170701"
AT = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)
DIMONA_IN = "be.crossroads.dimona.DimonaIn"


def test_a_legacy_employer_number_is_stored_with_its_leading_zero_and_noted() -> None:
    record = with_envelope(sample_dimona_in(employer="403170701"), sender="403.170.701")

    normalised, notes = enterprise_numbers(DIMONA_IN, record)

    assert (normalised["employer"], normalised["envelope"]["sender"]) == (EMPLOYER, EMPLOYER)
    assert notes == (
        Note("envelope.sender", "'403.170.701' read as 0403170701 (the legacy 9-digit form, 0 prefixed)"),
        Note("employer", "'403170701' read as 0403170701 (the legacy 9-digit form, 0 prefixed)"),
    )
    assert record["employer"] == "403170701"  # the input is not changed in place
    assert validate(DIMONA_IN, record) == [] == validate(DIMONA_IN, normalised)


def test_the_admitted_fact_carries_the_ten_digit_form() -> None:
    legacy = with_envelope(sample_dimona_in(employer="403170701"), sender="403.170.701")
    normalised, _ = enterprise_numbers(DIMONA_IN, legacy)

    decision = admit(DIMONA_IN, normalised, ticket=uuid.uuid4(), received_at=AT)

    assert isinstance(decision, Admitted)
    (fact,) = decision.facts
    assert (fact.record["employer"], fact.record["envelope"]["sender"]) == (EMPLOYER, EMPLOYER)


def test_punctuation_and_the_be_prefix_are_removed_too_and_a_canonical_number_is_left_alone() -> None:
    record = sample_dmfa(employer="BE 0403.170.701")

    normalised, notes = enterprise_numbers("be.crossroads.dmfa.DmfaDeclaration", record)

    assert normalised["employer"] == EMPLOYER
    assert [(n.field, n.message) for n in notes] == [
        ("envelope.sender", "'BE 0403.170.701' read as 0403170701"),
        ("employer", "'BE 0403.170.701' read as 0403170701"),
    ]
    canonical = sample_dimona_in()
    assert enterprise_numbers(DIMONA_IN, canonical) == (canonical, ())


def test_an_invalid_number_is_left_for_the_rules_to_refuse() -> None:
    record = sample_dimona_in(employer="40317070")  # 8 digits

    normalised, notes = enterprise_numbers(DIMONA_IN, record)

    assert (normalised, notes) == (record, ())
    assert {v.code for v in validate(DIMONA_IN, normalised)} == {"enterprise.length"}


def test_every_number_of_a_dimona_batch_and_of_the_other_declarations_is_read() -> None:
    dimona_in, dimona_out = sample_dimona_in(employer="403170701"), sample_dimona_out(employer="403170701")
    batch = {
        "envelope": dimona_in["envelope"],
        "declarations": [(DIMONA_IN, dimona_in), ("be.crossroads.dimona.DimonaOut", dimona_out)],
    }

    normalised, notes = enterprise_numbers("be.crossroads.dimona.DimonaBatch", batch)

    items = [body for _, body in normalised["declarations"]]
    assert {normalised["envelope"]["sender"]} | {b["employer"] for b in items} == {EMPLOYER}
    assert {b["envelope"]["sender"] for b in items} == {EMPLOYER}
    assert [n.field for n in notes] == [
        "envelope.sender",
        "declarations[0].envelope.sender",
        "declarations[0].employer",
        "declarations[1].envelope.sender",
        "declarations[1].employer",
    ]
    assert [name for name, _ in normalised["declarations"]] == [DIMONA_IN, "be.crossroads.dimona.DimonaOut"]
    for schema, field in (
        ("be.crossroads.directory.Integration", "institution"),
        ("be.crossroads.consultation.ConsultationRequest", "requester"),
    ):
        fixed, noted = enterprise_numbers(schema, {"envelope": {"sender": "206731645"}, field: "206.731.645"})
        assert (fixed["envelope"]["sender"], fixed[field]) == ("0206731645", "0206731645")
        assert [n.field for n in noted] == ["envelope.sender", field]
