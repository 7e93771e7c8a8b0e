"""Checksum-valid identifiers for synthetic people and employers, and the known ways to break them.

Layouts (see :mod:`streams.domain.identifiers`): a national number is ``YYMMDD SSS CC`` with an odd serial for
men, an even one for women, ``CC = 97 - (YYMMDDSSS mod 97)`` and a ``2`` prefixed for births from 2000; an
enterprise number is ``0``/``1`` + 7 digits + ``CC = 97 - (first 8 digits mod 97)``.
"""

from __future__ import annotations

import datetime as dt
import random

__all__ = ["NissFactory", "break_enterprise", "break_niss", "enterprise_number", "niss"]

MAX_SERIAL = 997  # 998 and 999 are not given to people


def niss(birth: dt.date, serial: int) -> str:
    """The national number of the person born on ``birth`` with this serial (1..997)."""
    body = f"{birth.year % 100:02d}{birth.month:02d}{birth.day:02d}{serial:03d}"
    base = int(body) + (2_000_000_000 if birth.year >= 2000 else 0)
    return f"{body}{97 - base % 97:02d}"


def enterprise_number(body: int) -> str:
    """The enterprise number whose first eight digits are ``body`` (0 <= body < 20,000,000)."""
    return f"{body:08d}{97 - body % 97:02d}"


class NissFactory:
    """Hands out distinct national numbers: a serial of the right parity not yet used on that birth date."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._used: dict[int, set[int]] = {}

    def take(self, birth: dt.date, female: bool) -> str:
        used = self._used.setdefault(birth.toordinal(), set())
        for _ in range(50):
            # women: 2, 4, ..., 996; men: 1, 3, ..., 997
            serial = 2 * self._rng.randrange(1, 499) if female else 2 * self._rng.randrange(1, 500) - 1
            if serial not in used:
                break
        else:  # a crowded day: take the first free serial of the right parity
            serial = next(s for s in range(2 if female else 1, MAX_SERIAL + 1, 2) if s not in used)
        used.add(serial)
        return niss(birth, serial)


def break_niss(number: str) -> str:
    """The same number with check digits matching neither the 19xx nor the 20xx rule (``niss.check_digits``)."""
    base = int(number[:9])
    good = {97 - base % 97, 97 - (base + 2_000_000_000) % 97}
    wrong = next(c for c in range(1, 98) if c not in good and c != int(number[9:]))
    return f"{number[:9]}{wrong:02d}"


def break_enterprise(number: str) -> str:
    """The same enterprise number with wrong check digits (``enterprise.check_digits``)."""
    good = 97 - int(number[:8]) % 97
    wrong = good - 1 if good > 1 else 2
    return f"{number[:8]}{wrong:02d}"
