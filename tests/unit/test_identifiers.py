"""Identifiers: examples, one error code per failure, and the check-digit properties (hypothesis)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.be import nn as stdnum_nn
from stdnum.be import vat as stdnum_vat

from streams.domain.errors import DomainError, InvalidIdentifierError
from streams.domain.identifiers import (
    BisNumber,
    EnterpriseNumber,
    NationalNumber,
    Register,
    Sex,
    parse_enterprise,
    parse_niss,
)
from tests.support import bis, bis_numbers, enterprise_numbers, national_numbers, person_number


def accepted(parse: object, number: str) -> bool:
    try:
        parse(number)  # type: ignore[operator]
    except InvalidIdentifierError:
        return False
    return True


# -- examples -------------------------------------------------------------------------------------------


def test_national_number_facts_and_punctuation() -> None:
    n = parse_niss("93.05.18-223.61")
    assert isinstance(n, NationalNumber)
    assert (n.digits, n.register, n.sex) == ("93051822361", Register.NATIONAL_REGISTER, Sex.MALE)
    assert n.birth_date == dt.date(1993, 5, 18)
    assert n.formatted == "93.05.18-223.61"
    assert parse_niss(" 930518 223 61 ") == n


def test_born_in_2000s_uses_the_2_prefix() -> None:
    number = person_number(2007, 3, 4, 12)
    n = parse_niss(number)
    assert (n.birth_date, n.sex) == (dt.date(2007, 3, 4), Sex.FEMALE)


def test_unknown_month_and_day_are_legal() -> None:
    n = parse_niss(person_number(1950, 0, 0, 33))
    assert (n.birth_year, n.birth_month, n.birth_day, n.birth_date) == (1950, None, None, None)
    d = parse_niss(person_number(1950, 6, 0, 33))
    assert (d.birth_month, d.birth_day) == (6, None)


def test_bis_numbers() -> None:
    unknown_sex = parse_niss(bis(dt.date(1980, 2, 3), serial=5, sex_known=False))
    assert isinstance(unknown_sex, BisNumber)
    assert (unknown_sex.register, unknown_sex.sex, unknown_sex.birth_date) == (Register.BIS, None, dt.date(1980, 2, 3))
    known_sex = BisNumber.parse(bis(dt.date(1980, 2, 3), serial=5))
    assert known_sex.sex is Sex.MALE


@pytest.mark.parametrize(
    ("parse", "raw", "code"),
    [
        (parse_niss, "93.05.18-223.6x", "niss.characters"),
        (parse_niss, "", "niss.characters"),
        (parse_niss, "٩٣٠٥١٨٢٢٣٦١", "niss.characters"),  # Arabic-Indic digits are not digits here
        (parse_niss, "93.05.18-223.6", "niss.length"),
        (parse_niss, "930518223610", "niss.length"),
        (parse_niss, "93.05.18-223.62", "niss.check_digits"),
        (parse_niss, person_number(1993, 2, 30, 223), "niss.birth_date"),  # 30 February
        (parse_niss, person_number(1993, 13, 1, 223), "niss.birth_date"),  # month 13
        (NationalNumber.parse, person_number(1980, 2, 3, 5, bis_offset=20), "niss.birth_date"),
        (BisNumber.parse, "93.05.18-223.61", "bis.month_range"),
        (BisNumber.parse, person_number(1980, 2, 31, 5, bis_offset=40), "bis.birth_date"),
        (BisNumber.parse, "12345", "bis.length"),
        (parse_enterprise, "BE 0403.170.702", "enterprise.check_digits"),
        (parse_enterprise, "2403170701", "enterprise.first_digit"),
        (parse_enterprise, "03.170.701", "enterprise.length"),  # 8 digits: the legacy form has 9
        (parse_enterprise, "12403170701", "enterprise.length"),
        (parse_enterprise, "403.170.702", "enterprise.check_digits"),  # the legacy form is checked too
        (parse_enterprise, "0403-170-70A", "enterprise.characters"),
    ],
)
def test_each_failure_has_its_own_code(parse: object, raw: str, code: str) -> None:
    with pytest.raises(InvalidIdentifierError) as caught:
        parse(raw)  # type: ignore[operator]
    assert caught.value.code == code
    assert isinstance(caught.value, DomainError) and isinstance(caught.value, ValueError)
    assert caught.value.message


def test_enterprise_number() -> None:
    e = EnterpriseNumber.parse("BE 0403.170.701")
    assert (e.digits, e.formatted, str(e)) == ("0403170701", "0403.170.701", "0403170701")
    assert not e.legacy_form


@pytest.mark.parametrize("raw", ["403170701", "403.170.701", "BE 403 170 701", "be403170701"])
def test_the_legacy_nine_digit_form_is_read_with_a_leading_zero_as_the_kbo_does(raw: str) -> None:
    e = parse_enterprise(raw)

    assert (e.digits, e.formatted) == ("0403170701", "0403.170.701")
    assert e.digits == stdnum_vat.compact(raw)  # python-stdnum reads it the same way
    assert e.legacy_form and e == EnterpriseNumber.parse("0403170701")  # the same number, however it was typed


# -- properties -----------------------------------------------------------------------------------------


@settings(max_examples=300)
@given(national_numbers())
def test_every_valid_national_number_is_accepted(number: str) -> None:
    n = parse_niss(number)
    assert isinstance(n, NationalNumber) and n.digits == number
    assert (n.birth_year, n.birth_month) == (stdnum_nn.get_birth_year(number), stdnum_nn.get_birth_month(number))
    assert n.sex is (Sex.MALE if int(number[6:9]) % 2 else Sex.FEMALE)


@settings(max_examples=300)
@given(bis_numbers())
def test_every_valid_bis_number_is_accepted(number: str) -> None:
    b = BisNumber.parse(number)
    assert parse_niss(number) == b
    assert (b.sex is None) == (int(number[2:4]) < 40)


@settings(max_examples=300)
@given(enterprise_numbers)
def test_every_valid_enterprise_number_is_accepted(number: str) -> None:
    assert EnterpriseNumber.parse(number).digits == number
    if number[0] == "0":  # and its legacy 9-digit form, to the same number
        assert EnterpriseNumber.parse(number[1:]).digits == number


def single_digit_changes(number: str) -> list[tuple[int, str]]:
    return [(i, number[:i] + d + number[i + 1 :]) for i in range(len(number)) for d in "0123456789" if d != number[i]]


def adjacent_transpositions(number: str) -> list[tuple[int, str]]:
    # Transposing two equal digits gives the same number: not an error to detect.
    return [
        (i, number[:i] + number[i + 1] + number[i] + number[i + 2 :])
        for i in range(len(number) - 1)
        if number[i] != number[i + 1]
    ]


def century(number: str) -> int:
    """Which rule the check digits satisfy: 1900 (plain) or 2000 (prefixed with 2)."""
    return 1900 if (int(number[:9]) + int(number[9:])) % 97 == 0 else 2000


def assert_only_century_flips(original: str, mutants: list[tuple[int, str]], allowed: set[int]) -> None:
    """mod 97 catches every single-digit change and adjacent transposition *within one rule*.  The two rules
    differ by 2e9 mod 97 = 68, which a change of 6 in the second year digit (6e7 = 68 mod 97), or swapping month
    digits that differ by 2 (18e5 = 29 = -68 mod 97), can supply: that mutant is a valid number under the other
    century.  Assert that accepted mutants are exactly of that kind and nothing else."""
    for position, mutant in mutants:
        if accepted(parse_niss, mutant):
            assert position in allowed, (original, mutant)
            assert century(mutant) != century(original), (original, mutant)


@settings(max_examples=300)
@given(st.one_of(national_numbers(), bis_numbers()))
def test_single_digit_changes_are_rejected(number: str) -> None:
    assert_only_century_flips(number, single_digit_changes(number), allowed={1})


@settings(max_examples=300)
@given(st.one_of(national_numbers(), bis_numbers()))
def test_adjacent_transpositions_are_rejected(number: str) -> None:
    assert_only_century_flips(number, adjacent_transpositions(number), allowed={2})


def test_the_century_flip_exception_is_real() -> None:
    # Not a hypothetical: a man born 2013-06-01 whose second year digit is mistyped has another valid number.
    born_2013 = person_number(2013, 6, 1, 3)
    flipped = [m for _, m in single_digit_changes(born_2013)[9:18] if accepted(parse_niss, m)]
    assert [parse_niss(m).birth_year for m in flipped] == [1919]


@settings(max_examples=300)
@given(enterprise_numbers)
def test_enterprise_changes_and_transpositions_are_always_rejected(number: str) -> None:
    for _, mutant in single_digit_changes(number) + adjacent_transpositions(number):
        assert not accepted(parse_enterprise, mutant), (number, mutant)
