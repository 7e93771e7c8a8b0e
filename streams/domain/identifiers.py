"""Identifiers of the social sector: national number, BIS number, enterprise number.

python-stdnum computes the check digits (``stdnum.be.nn``, ``stdnum.be.bis``, ``stdnum.be.vat``); this module
adds what the platform needs on top of it:

* one *distinct error code per failure* (``<kind>.characters``, ``.length``, ``.check_digits``,
  ``.birth_date``, ``bis.month_range``, ``enterprise.first_digit``) so that a provider's tool can act on it;
* a stricter birth-date rule than stdnum: stdnum reads a day beyond the end of the month as "day unknown",
  we refuse it as an impossible date.  Month ``00`` and day ``00`` remain legal (unknown);
* value objects exposing the facts the number carries (birth date or its known parts, sex, register).

Layout reminder: ``YYMMDD SSS CC``.  ``SSS`` odd = male, even = female.  ``CC = 97 - (YYMMDDSSS mod 97)``,
with a ``2`` prefixed to the nine digits for people born in 2000 or later.  A BIS number has month + 20
(sex unknown) or month + 40 (sex known).  An enterprise number has 10 digits, the first 0 or 1, and
``CC = 97 - (first 8 digits mod 97)``; its legacy 9-digit form (the old VAT number) is read with a 0 prefixed,
as the KBO/BCE and ``stdnum.be.vat`` do, and only the 10-digit form is kept.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar, Self

from stdnum import exceptions as stdnum_errors
from stdnum.be import bis as stdnum_bis
from stdnum.be import nn as stdnum_nn
from stdnum.be import vat as stdnum_vat

from streams.domain.errors import InvalidIdentifierError

__all__ = [
    "BisNumber",
    "EnterpriseNumber",
    "IdentifierCode",
    "NationalNumber",
    "PersonNumber",
    "Register",
    "Sex",
    "parse_enterprise",
    "parse_niss",
]

# What providers commonly type between digit groups: "93.05.18-223.61", "0403 170 701", "BE0403.170.701".
_SEPARATORS = re.compile(r"[\s./-]+")


class Sex(StrEnum):
    MALE = "M"
    FEMALE = "F"


class Register(StrEnum):
    """Which register issued a person number (both are a NISS in the seed's sense)."""

    NATIONAL_REGISTER = "national_register"
    BIS = "bis"


class IdentifierCode(StrEnum):
    """The stable failure codes; the full code is ``<kind>.<reason>``, e.g. ``niss.check_digits``."""

    CHARACTERS = "characters"
    LENGTH = "length"
    CHECK_DIGITS = "check_digits"
    BIRTH_DATE = "birth_date"
    MONTH_RANGE = "month_range"  # bis only: the month is not in 20..32 or 40..52
    FIRST_DIGIT = "first_digit"  # enterprise only: must be 0 or 1


def _digits(kind: str, raw: str, length: int, *, strip_country: bool = False, legacy: int | None = None) -> str:
    """Remove the usual punctuation, then insist on exactly ``length`` ASCII digits (or ``legacy`` many: the
    caller completes them)."""
    text = _SEPARATORS.sub("", raw)
    if strip_country and text[:2].upper() == "BE":
        text = text[2:]
    # str.isdigit() accepts e.g. Arabic-Indic digits, which int() would happily read: ASCII only.
    if not text or not (text.isascii() and text.isdigit()):
        raise InvalidIdentifierError(
            kind,
            IdentifierCode.CHARACTERS,
            f"{raw!r} must contain only digits (spaces, dots, dashes and slashes are ignored)",
            raw,
        )
    if len(text) != length and len(text) != legacy:
        expected = f"{length}" if legacy is None else f"{length} (or {legacy}, the legacy form)"
        raise InvalidIdentifierError(
            kind, IdentifierCode.LENGTH, f"{raw!r} has {len(text)} digits, expected {expected}", raw
        )
    return text


# stdnum's convention: these fictitious dates mean the whole birth date, year included, was unknown.
_FICTITIOUS_DATES = frozenset({"000001", "002001", "004001"})


def _birth_year_month(digits: str) -> tuple[int | None, int | None]:
    """Year and month of a number stdnum has already validated.  Done here rather than with stdnum's getters
    because each of those re-cleans and re-validates the number: three times the cost on the intake's hot path."""
    if digits[:6] in _FICTITIOUS_DATES:
        return None, None
    century = 1900 if 97 - int(digits[:9]) % 97 == int(digits[9:]) else 2000
    return century + int(digits[:2]), (int(digits[2:4]) % 20) or None


@dataclass(frozen=True, slots=True)
class _PersonNumberBase:
    """Shared facts of a national number and a BIS number.

    Birth date parts are ``None`` when the number says they are unknown (month or day ``00``, or one of the
    fictitious dates stdnum recognises such as ``000001``).
    """

    digits: str
    birth_year: int | None
    birth_month: int | None
    birth_day: int | None
    sex: Sex | None

    register: ClassVar[Register]
    kind: ClassVar[str]

    @property
    def birth_date(self) -> dt.date | None:
        if self.birth_year and self.birth_month and self.birth_day:
            return dt.date(self.birth_year, self.birth_month, self.birth_day)
        return None

    @property
    def formatted(self) -> str:
        """The presentation format ``YY.MM.DD-SSS.CC``."""
        return str(stdnum_nn.format(self.digits))

    def __str__(self) -> str:
        return self.digits

    def facts(self) -> dict[str, str | int | None]:
        """What the number says about the person, as plain values (for the CLI and logs)."""
        return {
            "number": self.digits,
            "formatted": self.formatted,
            "register": self.register.value,
            "birth_date": self.birth_date.isoformat() if self.birth_date else None,
            "birth_year": self.birth_year,
            "birth_month": self.birth_month,
            "birth_day": self.birth_day,
            "sex": self.sex.value if self.sex else None,
        }

    @classmethod
    def _parse_checked(cls, raw: str, validate: Callable[[str], str]) -> Self:
        kind = cls.kind
        digits = _digits(kind, raw, 11)
        try:
            validate(digits)
        except stdnum_errors.InvalidChecksum:
            raise InvalidIdentifierError(
                kind,
                IdentifierCode.CHECK_DIGITS,
                f"{raw!r}: check digits {digits[9:]} do not match the first nine "
                "digits (tried both the 19xx and 20xx rule)",
                raw,
            ) from None
        except stdnum_errors.InvalidComponent:
            if kind == "bis":
                raise InvalidIdentifierError(
                    kind,
                    IdentifierCode.MONTH_RANGE,
                    f"{raw!r}: month {digits[2:4]} is not a BIS month (20..32 or 40..52)",
                    raw,
                ) from None
            raise InvalidIdentifierError(
                kind, IdentifierCode.BIRTH_DATE, f"{raw!r}: month {digits[2:4]} is impossible (00..12)", raw
            ) from None
        except stdnum_errors.ValidationError as exc:  # all zeros: stdnum calls it a format error
            raise InvalidIdentifierError(kind, IdentifierCode.CHARACTERS, f"{raw!r}: {exc}", raw) from None
        year, month = _birth_year_month(digits)
        day = int(digits[4:6])
        # stdnum reads "31 February" as "day unknown"; for us it is an impossible date that the provider must fix.
        max_day = calendar.monthrange(year, month)[1] if year and month else 31
        if day > max_day:
            raise InvalidIdentifierError(
                kind, IdentifierCode.BIRTH_DATE, f"{raw!r}: day {day:02d} is impossible in that month", raw
            )
        return cls(
            digits=digits,
            birth_year=year,
            birth_month=month,
            birth_day=day if (month and day) else None,
            sex=cls._sex(digits),
        )

    @staticmethod
    def _sex(digits: str) -> Sex | None:
        return Sex.MALE if int(digits[6:9]) % 2 else Sex.FEMALE


@dataclass(frozen=True, slots=True)
class NationalNumber(_PersonNumberBase):
    """A number of the National Register (people in a Belgian population or foreigners' register)."""

    register: ClassVar[Register] = Register.NATIONAL_REGISTER
    kind: ClassVar[str] = "niss"

    @classmethod
    def parse(cls, raw: str) -> NationalNumber:
        return cls._parse_checked(raw, stdnum_nn.validate)


@dataclass(frozen=True, slots=True)
class BisNumber(_PersonNumberBase):
    """A number of the Crossroads Bank's own (BIS) registers, for people not in the National Register."""

    register: ClassVar[Register] = Register.BIS
    kind: ClassVar[str] = "bis"

    @classmethod
    def parse(cls, raw: str) -> BisNumber:
        return cls._parse_checked(raw, stdnum_bis.validate)

    @staticmethod
    def _sex(digits: str) -> Sex | None:
        # month + 20: the sex was unknown when the number was issued; month + 40: the serial carries it.
        if int(digits[2:4]) >= 40:
            return Sex.MALE if int(digits[6:9]) % 2 else Sex.FEMALE
        return None


PersonNumber = NationalNumber | BisNumber


def _is_bis_month(digits: str) -> bool:
    month = int(digits[2:4])
    return 20 <= month <= 32 or 40 <= month <= 52


def parse_niss(raw: str) -> PersonNumber:
    """Parse a social security identification number (NISS) in the seed's sense: a National Register number
    *or* a BIS number, told apart by the month.  Errors use the ``niss.`` prefix for both."""
    digits = _digits("niss", raw, 11)
    try:
        return BisNumber.parse(digits) if _is_bis_month(digits) else NationalNumber.parse(digits)
    except InvalidIdentifierError as exc:
        # Re-key under "niss" and keep the provider's own spelling in the message.
        raise InvalidIdentifierError("niss", exc.reason, exc.message.replace(repr(digits), repr(raw)), raw) from None


@dataclass(frozen=True, slots=True)
class EnterpriseNumber:
    """An enterprise number of the Crossroads Bank for Enterprises (KBO/BCE), e.g. ``0403.170.701``.

    ``digits`` are always the 10-digit form; ``legacy_form`` says that it was read from the old 9-digit form
    (which the KBO still accepts, with a 0 in front): the same number, so it takes no part in equality."""

    digits: str
    legacy_form: bool = field(default=False, compare=False)

    kind: ClassVar[str] = "enterprise"

    @classmethod
    def parse(cls, raw: str) -> EnterpriseNumber:
        kind = cls.kind
        digits = _digits(kind, raw, 10, strip_country=True, legacy=9)
        legacy_form = len(digits) == 9
        if legacy_form:  # every enterprise number issued since 2003 starts with 0 or 1; the old ones with 0
            digits = "0" + digits
        if digits[0] not in "01":
            raise InvalidIdentifierError(
                kind, IdentifierCode.FIRST_DIGIT, f"{raw!r}: the first digit must be 0 or 1, not {digits[0]}", raw
            )
        try:
            stdnum_vat.validate(digits)
        except stdnum_errors.InvalidChecksum:
            raise InvalidIdentifierError(
                kind,
                IdentifierCode.CHECK_DIGITS,
                f"{raw!r}: check digits {digits[8:]} do not match the first eight digits",
                raw,
            ) from None
        except stdnum_errors.ValidationError as exc:
            raise InvalidIdentifierError(kind, IdentifierCode.CHARACTERS, f"{raw!r}: {exc}", raw) from None
        return cls(digits, legacy_form)

    @property
    def formatted(self) -> str:
        """The presentation format ``0403.170.701``."""
        d = self.digits
        return f"{d[:4]}.{d[4:7]}.{d[7:]}"

    def __str__(self) -> str:
        return self.digits

    def facts(self) -> dict[str, str | int | None]:
        return {"number": self.digits, "formatted": self.formatted, "vat": f"BE{self.digits}"}


@functools.lru_cache(maxsize=65_536)
def parse_enterprise(raw: str) -> EnterpriseNumber:
    """Cached: every message names its sender, and senders (employers, institutions) repeat all day long. The
    answer depends on the string alone (an invalid one raises, and exceptions are not cached)."""
    return EnterpriseNumber.parse(raw)
