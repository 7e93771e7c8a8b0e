"""The figures the synthetic Belgium is calibrated on, and how the seed's yearly volumes scale to a day.

Two kinds of numbers live here, and docs/synthetic.md gives the source of each:

* the seed's figures for the Crossroads Bank (945 million messages a year, 170 million directory entries,
  10.95 institutions per citizen, 22 million DIMONA a year);
* public demographic and labour-market figures for Belgium (Statbel, NBB, ONSS/RSZ), *rounded* and embedded as
  constants: the generator must run without a network connection and give the same output for a seed forever.

Everything is scaled by ``citizens / BELGIAN_POPULATION``.  A generated day is a *working day*: yearly volumes
are divided by :data:`WORKING_DAYS` (declarations, consultations and the National Register's transmissions
happen on working days).
"""

from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass

__all__ = [
    "AGE_PYRAMID",
    "BELGIAN_POPULATION",
    "SEED_DIMONA_PER_YEAR",
    "SEED_DIRECTORY_ENTRIES",
    "SEED_INSTITUTIONS_PER_CITIZEN",
    "SEED_MESSAGES_PER_YEAR",
    "WORKING_DAYS",
    "DayVolumes",
    "day_volumes",
    "female_share",
    "stochastic_round",
]

# -- the seed ---------------------------------------------------------------------------------------------------
SEED_MESSAGES_PER_YEAR = 945_000_000
SEED_DIRECTORY_ENTRIES = 170_000_000
SEED_INSTITUTIONS_PER_CITIZEN = 10.95
SEED_DIMONA_PER_YEAR = 22_000_000

# -- Belgium ----------------------------------------------------------------------------------------------------
BELGIAN_POPULATION = 11_760_000  # legal population on 1 January 2024 (Statbel: 11,763,650), rounded
WORKING_DAYS = 250  # working days a year (weekdays minus public holidays), the unit of a generated "day"
EMPLOYERS = 270_000  # employers declaring to the ONSS/RSZ (about 270,000), rounded
BIRTHS_PER_YEAR = 113_000  # live births (Statbel 2023: 112,000 to 114,000)
DEATHS_PER_YEAR = 110_000  # deaths (Statbel 2023: about 110,000)
ADDRESS_CHANGES_PER_YEAR = 1_200_000  # moves between and within municipalities, rounded
CIVIL_STATUS_CHANGES_PER_YEAR = 220_000  # persons marrying, declaring or ending a cohabitation, divorcing

#: Age pyramid of the legal population, 1 January 2024, in thousands per five-year band (Statbel, rounded).
#: ``(first age, last age, thousands)``; the last band stands for 95 to 104.
AGE_PYRAMID: tuple[tuple[int, int, int], ...] = (
    (0, 4, 600), (5, 9, 660), (10, 14, 690), (15, 19, 670), (20, 24, 650), (25, 29, 720), (30, 34, 770),
    (35, 39, 780), (40, 44, 780), (45, 49, 760), (50, 54, 800), (55, 59, 840), (60, 64, 780), (65, 69, 660),
    (70, 74, 580), (75, 79, 450), (80, 84, 300), (85, 89, 200), (90, 94, 90), (95, 104, 22),
)  # fmt: skip


def female_share(age: int) -> float:
    """Share of women at an age: about 49 % below 60, rising with men's higher mortality (Statbel)."""
    if age < 60:
        return 0.49
    if age < 80:
        return 0.53
    return 0.63


# -- scaling ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DayVolumes:
    """Expected numbers of declarations in one working day for a population (floats: expectations).

    ``dmfa_declarations`` is not a per-day figure: a generated day carries one quarter's DmfA (see
    :func:`day_volumes`), so it is the number of employers filing.
    """

    citizens: int
    scale: float
    dimona: float
    births: float
    deaths: float
    address_changes: float
    civil_status_changes: float
    consultations: float
    employers: int
    messages: float

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def scale_of(citizens: int) -> float:
    return citizens / BELGIAN_POPULATION


def employers_for(citizens: int) -> int:
    return max(1, round(EMPLOYERS * scale_of(citizens)))


def day_volumes(citizens: int) -> DayVolumes:
    """The seed's yearly volumes, scaled to ``citizens`` and divided by :data:`WORKING_DAYS`.

    The 945 million messages are read as requests *and* their answers; declarations are a small share of them,
    the rest are consultations, each counting twice (request and reply): consultations a year =
    (945 M − declarations) / 2.
    """
    scale = scale_of(citizens)
    per_day = scale / WORKING_DAYS
    dimona = SEED_DIMONA_PER_YEAR * per_day
    births = BIRTHS_PER_YEAR * per_day
    deaths = DEATHS_PER_YEAR * per_day
    moves = ADDRESS_CHANGES_PER_YEAR * per_day
    status = CIVIL_STATUS_CHANGES_PER_YEAR * per_day
    employers = employers_for(citizens)
    declarations = dimona + births + deaths + moves + status + 4 * EMPLOYERS * per_day
    messages = SEED_MESSAGES_PER_YEAR * per_day
    consultations = max(0.0, (messages - declarations) / 2)
    return DayVolumes(
        citizens=citizens,
        scale=scale,
        dimona=dimona,
        births=births,
        deaths=deaths,
        address_changes=moves,
        civil_status_changes=status,
        consultations=consultations,
        employers=employers,
        messages=messages,
    )


def stochastic_round(rng: random.Random, expected: float) -> int:
    """An integer whose expectation is ``expected``: the floor, plus one with the fractional part's chance.
    Small populations then still see the occasional birth instead of never any."""
    whole = math.floor(expected)
    return whole + (1 if rng.random() < expected - whole else 0)
