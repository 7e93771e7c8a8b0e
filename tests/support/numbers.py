"""Person and enterprise numbers for tests: the arithmetic of the specification, written once and independently
of the code under test (and of stdnum).

A national number (NISS) is ``YYMMDD SSS CC``: an odd serial for men, an even one for women,
``CC = 97 - (YYMMDDSSS mod 97)`` with a ``2`` prefixed for births from 2000. A BIS number adds 20 (sex unknown)
or 40 (sex known) to the month. An enterprise number is ``0``/``1`` + 7 digits + ``CC = 97 - (first 8 mod 97)``.
"""

from __future__ import annotations

import datetime as dt
import itertools

from hypothesis import strategies as st

_people = itertools.count(1)
_enterprises = itertools.count(1)


def person_number(year: int, month: int, day: int, serial: int, *, bis_offset: int = 0) -> str:
    """The number with these digits and correct check digits, whatever they encode (a month 0, 30 February...)."""
    body = f"{year % 100:02d}{month + bis_offset:02d}{day:02d}{serial:03d}"
    base = int(("2" if year >= 2000 else "") + body)
    return f"{body}{97 - base % 97:02d}"


def niss(birth: dt.date | None = None, *, serial: int | None = None, female: bool = False) -> str:
    """A checksum-valid national number: a different person on every call unless ``birth`` and ``serial`` are
    both given. ``female`` picks the parity of a fresh serial; a given ``serial`` is used as it is."""
    birth = birth or dt.date(1970, 1, 1) + dt.timedelta(days=next(_people) * 7 % 15000)
    if serial is None:
        serial = (next(_people) % 499) * 2 + (0 if female else 1)  # odd = male, even = female
        if serial == 0:
            serial = 2
    return person_number(birth.year, birth.month, birth.day, serial)


def bis(birth: dt.date | None = None, *, serial: int | None = None, sex_known: bool = True) -> str:
    """A checksum-valid BIS number (month + 40 when the sex is known, + 20 when not)."""
    birth = birth or dt.date(1970, 1, 1) + dt.timedelta(days=next(_people) * 7 % 15000)
    serial = serial if serial is not None else next(_people) % 997 + 1
    return person_number(birth.year, birth.month, birth.day, serial, bis_offset=40 if sex_known else 20)


def enterprise_number(body: int | None = None) -> str:
    """The enterprise number whose first eight digits are ``body`` (0 < body < 20,000,000); a fresh one if none."""
    body = body if body is not None else 10_000_000 + next(_enterprises)
    return f"{body:08d}{97 - body % 97:02d}"


# -- the same, as hypothesis strategies --------------------------------------------------------------------------

# Years up to 2020 only: stdnum tries the 20xx rule only for years not after the current one.
birth_dates = st.dates(dt.date(1900, 1, 1), dt.date(2020, 12, 31))
serials = st.integers(1, 998)


@st.composite
def national_numbers(draw: st.DrawFn) -> str:
    """Valid national numbers, some with an unknown birth day or month (0)."""
    born = draw(birth_dates)
    unknown = draw(st.sampled_from(["none", "day", "month"]))
    month = 0 if unknown == "month" else born.month
    day = 0 if unknown in ("day", "month") else born.day
    return person_number(born.year, month, day, draw(serials))


@st.composite
def bis_numbers(draw: st.DrawFn) -> str:
    """Valid BIS numbers, sex known or not, some with an unknown birth date (month 0, day 0)."""
    born = draw(birth_dates)
    month = draw(st.sampled_from([0, born.month]))
    day = born.day if month else 0
    return person_number(born.year, month, day, draw(serials), bis_offset=draw(st.sampled_from([20, 40])))


enterprise_numbers = st.integers(0, 19_999_999).filter(lambda n: n > 0).map(enterprise_number)
