"""Pseudonyms: keyed, per purpose, unlinkable across purposes, never a national number; re-identification
grants."""

from __future__ import annotations

import datetime as dt
import os
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.domain.errors import InvalidIdentifierError
from streams.domain.identifiers import parse_niss
from streams.domain.pseudonyms import (
    UnknownPurpose,
    decide_reidentification,
    key_for,
    person_traits,
    pseudonym,
)
from streams.settings import Settings

NISS = "93051822361"


def _niss(birth: dt.date, serial: int) -> str:
    body = f"{birth:%y%m%d}{serial:03d}"
    base = int(("2" if birth.year >= 2000 else "") + body)
    return f"{body}{97 - base % 97:02d}"


def test_a_pseudonym_is_64_hex_and_deterministic() -> None:
    first = pseudonym(NISS, b"k", "statistics")
    assert re.fullmatch(r"[0-9a-f]{64}", first)
    assert pseudonym(NISS, b"k", "statistics") == first
    assert pseudonym("93.05.18-223.61", b"k", "statistics") == first  # one person, however it is typed


def test_purposes_and_keys_give_unlinkable_pseudonyms() -> None:
    base = pseudonym(NISS, b"k", "statistics")
    assert pseudonym(NISS, b"k", "research") != base  # same key configured twice: still different
    assert pseudonym(NISS, b"other", "statistics") != base
    assert pseudonym("93051822460", b"k", "statistics") != base


def test_an_empty_key_or_an_unknown_purpose_is_refused() -> None:
    with pytest.raises(ValueError):
        pseudonym(NISS, b"", "statistics")
    with pytest.raises(UnknownPurpose):
        key_for({"statistics": b"k"}, "research")
    with pytest.raises(UnknownPurpose):
        key_for({"research": b""}, "research")
    assert key_for({"research": b"r"}, "research") == b"r"


@given(st.dates(dt.date(1900, 1, 1), dt.date(2099, 12, 31)), st.integers(1, 998), st.binary(min_size=1, max_size=32))
def test_a_pseudonym_is_never_a_valid_person_number(birth: dt.date, serial: int, key: bytes) -> None:
    value = pseudonym(_niss(birth, serial), key, "statistics")
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
    other_purpose = decide_reidentification(grants, "0403170701", "research")
    assert not other_purpose.granted and "purpose 'research'" in (other_purpose.reason or "")
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
