"""Pseudonyms: keyed, per purpose, unlinkable across purposes, never a national number; re-identification
grants."""

from __future__ import annotations

import datetime as dt
import os
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.domain.errors import DomainError, InvalidIdentifierError
from streams.domain.identifiers import parse_niss
from streams.domain.pseudonyms import (
    Mapped,
    ReidentificationDecision,
    UnknownPurpose,
    decide_pseudonyms,
    decide_reidentification,
    key_for,
    person_traits,
    pseudonym,
    purpose_problems,
)
from streams.settings import Settings
from tests.support import niss

NISS = "93051822361"


def test_a_pseudonym_is_64_hex_and_deterministic() -> None:
    first = pseudonym(NISS, b"k", "statistics")
    assert re.fullmatch(r"[0-9a-f]{64}", first)
    assert pseudonym(NISS, b"k", "statistics") == first
    assert pseudonym("93.05.18-223.61", b"k", "statistics") == first  # one person, however it is typed


def test_purposes_and_keys_give_unlinkable_pseudonyms() -> None:
    base = pseudonym(NISS, b"k", "statistics")
    assert pseudonym(NISS, b"k", "oasis") != base  # same key configured twice: still different
    assert pseudonym(NISS, b"other", "statistics") != base
    assert pseudonym("93051822460", b"k", "statistics") != base


def test_an_empty_key_or_an_unknown_purpose_is_refused() -> None:
    with pytest.raises(ValueError):
        pseudonym(NISS, b"", "statistics")
    with pytest.raises(UnknownPurpose):
        key_for({"statistics": b"k"}, "oasis")
    with pytest.raises(UnknownPurpose) as empty:
        key_for({"oasis": b""}, "oasis")
    assert isinstance(empty.value, DomainError) and empty.value.code == "pseudonym.unknown_purpose"
    assert key_for({"oasis": b"r"}, "oasis") == b"r"


@given(st.dates(dt.date(1900, 1, 1), dt.date(2099, 12, 31)), st.integers(1, 998), st.binary(min_size=1, max_size=32))
def test_a_pseudonym_is_never_a_valid_person_number(birth: dt.date, serial: int, key: bytes) -> None:
    value = pseudonym(niss(birth, serial=serial), key, "statistics")
    with pytest.raises(InvalidIdentifierError):
        parse_niss(value)


def test_traits_come_from_the_number() -> None:
    traits = person_traits(NISS)
    assert (traits.sex, traits.birth_date) == ("M", dt.date(1993, 5, 18))
    assert person_traits("not a number").sex == ""
    assert person_traits("not a number").birth_date is None


def test_reidentification_needs_a_grant_for_that_requester_and_purpose() -> None:
    grants = {"0403170701": {"oasis": "deliberation 12/345"}}
    granted = decide_reidentification(grants, "0403170701", "oasis")
    assert (granted.granted, granted.legal_basis, granted.reason) == (True, "deliberation 12/345", None)
    other_purpose = decide_reidentification(grants, "0403170701", "statistics")
    assert not other_purpose.granted and "purpose 'statistics'" in (other_purpose.reason or "")
    stranger = decide_reidentification(grants, "0367302178", "oasis")
    assert not stranger.granted and "no re-identification grant" in (stranger.reason or "")


def test_keys_and_grants_survive_the_trip_to_a_child_process(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings()
    for name, value in settings.as_env().items():
        monkeypatch.setitem(os.environ, name, value)
    child = Settings()
    assert {p: k.get_secret_value() for p, k in child.pseudonym_keys.items()} == {
        p: k.get_secret_value() for p, k in settings.pseudonym_keys.items()
    }
    assert child.reidentification_grants == settings.reidentification_grants
    assert all("dev-only" in key.get_secret_value() for key in settings.pseudonym_keys.values())


# -- purposes: one pseudonym space each, re-identification in the anti-fraud space only -----------------------

GRANTED = ReidentificationDecision(True, "deliberation 12/345", None)
OASIS_P, STATS_P, FLAGGED_P, OTHER_P = "o" * 64, "s" * 64, "f" * 64, "x" * 64
MAPPED = {
    OASIS_P: Mapped("oasis", "93051822361"),
    FLAGGED_P: Mapped("oasis", "85073003328"),
    STATS_P: Mapped("statistics", "85073003328"),
}


def test_only_a_flagged_pseudonym_of_the_requested_purpose_is_resolved() -> None:
    decided = decide_pseudonyms(
        GRANTED, "oasis", "2026-Q1", [FLAGGED_P, OASIS_P, STATS_P, OTHER_P], MAPPED, {FLAGGED_P}
    )
    by = {d.pseudonym: d for d in decided}
    assert [d.pseudonym for d in decided] == [FLAGGED_P, OASIS_P, STATS_P, OTHER_P]
    assert (by[FLAGGED_P].granted, by[FLAGGED_P].person, by[FLAGGED_P].reason) == (True, "85073003328", None)
    # refused, each with its own reason, and still resolved so the refusal is audited against the person
    assert (by[OASIS_P].granted, by[OASIS_P].person) == (False, "93051822361")
    assert by[OASIS_P].reason == "not flagged by the OASIS indicators of 2026-Q1"
    assert (by[STATS_P].granted, by[STATS_P].person) == (False, "85073003328")
    assert by[STATS_P].reason == "not a pseudonym of purpose 'oasis'"
    assert (by[OTHER_P].granted, by[OTHER_P].person, by[OTHER_P].reason) == (False, None, "unknown pseudonym")


def test_no_grant_resolves_nothing_and_says_why() -> None:
    refused = ReidentificationDecision(False, None, "requester 0367302178 holds no re-identification grant")
    decided = decide_pseudonyms(refused, "oasis", "2026-Q1", [FLAGGED_P, FLAGGED_P], MAPPED, {FLAGGED_P})
    assert len(decided) == 1  # a pseudonym asked twice is decided (and audited) once
    assert (decided[0].granted, decided[0].person) == (False, "85073003328")
    assert decided[0].reason == "requester 0367302178 holds no re-identification grant"


def test_a_statistics_pseudonym_is_never_flagged_even_under_a_statistics_grant() -> None:
    # flags live in the anti-fraud space: a grant for another purpose (which settings refuse) resolves no one
    decided = decide_pseudonyms(GRANTED, "statistics", "2026-Q1", [STATS_P, FLAGGED_P], MAPPED, {FLAGGED_P})
    assert [(d.granted, d.reason) for d in decided] == [
        (False, "not flagged by the OASIS indicators of 2026-Q1"),
        (False, "not a pseudonym of purpose 'statistics'"),
    ]


def test_purposes_must_be_distinct_keyed_used_and_only_the_anti_fraud_one_granted() -> None:
    keys = {"statistics": "k1", "oasis": "k2"}
    grants = {"0403170701": {"oasis": "deliberation 12/345"}}
    assert purpose_problems(keys, "statistics", "oasis", grants) == []
    assert any("must differ" in p for p in purpose_problems(keys, "oasis", "oasis", grants))
    assert any(
        "no pseudonym key for purpose 'oasis'" in p
        for p in purpose_problems({"statistics": "k"}, "statistics", "oasis", grants)
    )
    assert any("empty" in p for p in purpose_problems({**keys, "oasis": ""}, "statistics", "oasis", grants))
    unused = purpose_problems({**keys, "research": "k3"}, "statistics", "oasis", grants)
    assert any("'research'" in p and "no projection" in p for p in unused)
    granted_statistics = purpose_problems(keys, "statistics", "oasis", {"0403170701": {"statistics": "x"}})
    assert any("only the anti-fraud purpose 'oasis' re-identifies" in p for p in granted_statistics)


def test_the_settings_refuse_a_grant_for_a_purpose_that_cannot_re_identify() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="only the anti-fraud purpose 'oasis' re-identifies"):
        Settings(reidentification_grants={"0403170701": {"statistics": "deliberation"}})
    with pytest.raises(ValidationError, match="must differ"):
        Settings(oasis_purpose="statistics")
    settings = Settings()
    assert set(settings.pseudonym_keys) == {settings.warehouse_purpose, settings.oasis_purpose}
