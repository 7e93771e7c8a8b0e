"""OASIS anti-fraud indicators (seed 4.14): which employers' quarters deserve a look, and why.

Pure rules over per-employer, per-quarter aggregates that the warehouse computes (see
``connectors/clickhouse/oasis.py`` for the SQL and docs/analysts.md for every definition). Rates are compared
with exact fractions, so the same inputs always give the same flags on every machine.

Indicators (thresholds from ``OasisThresholds``, i.e. the settings ``oasis_*``):

* ``assimilated_days_above_sector`` — the employer's share of sickness and accident days,
  ``(sickness + accident) / (days worked + sickness + accident)``, is above ``factor`` × the same share over
  the whole sector (every employer of the same NACE division in the same quarter, the employer included);
* ``temporary_unemployment_with_hires`` — at least ``tu_days`` temporary-unemployment days declared for
  the quarter *and* at least ``hires_with_tu`` new hires (DIMONA IN starting in the quarter, not cancelled);
* ``massive_hiring`` — at least ``massive_hires`` hires starting within one window of ``window_days`` days
  (windows are counted from the first day of the quarter: days 0..6, 7..13, ...);
* ``cancelled_dimona`` — at least ``cancellations`` relations starting in the quarter were cancelled;
* ``turnover_above_sector`` — ``(hires + exits) / max(workers, 1)`` is above ``factor`` × the sector's
  ``Σ(hires + exits) / Σ max(workers, 1)``; workers are the distinct workers of the DmfA in force.

The indicators flag employers; the seed re-identifies "les personnes soupçonnées de fraude c'est à dire celles
pour lesquelles un ou plusieurs des indices prédéfinis clignotent". A flagged employer's *persons* are the
workers whose lines or relations make an indicator fire (``CONCERNS``, ``flagged_persons``): the workers with
sickness or accident days for the assimilated days, those with temporary-unemployment days and the hires for
temporary unemployment with hires, the hires for massive hiring, the cancelled relations' workers, the hires
and exits for turnover. Not every worker of the employer: only those the suspicion is about (proportionality).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction

__all__ = [
    "ASSIMILATED_ABOVE_SECTOR",
    "CANCELLATION",
    "CANCELLED_DIMONA",
    "CONCERNS",
    "EXIT",
    "HIRE",
    "INDICATORS",
    "MASSIVE_HIRING",
    "SICKNESS_OR_ACCIDENT",
    "TEMPORARY_UNEMPLOYMENT",
    "TEMPORARY_UNEMPLOYMENT_WITH_HIRES",
    "TURNOVER_ABOVE_SECTOR",
    "EmployerQuarter",
    "Flag",
    "FlaggedPerson",
    "Involvement",
    "OasisThresholds",
    "flag_employers",
    "flagged_persons",
]

ASSIMILATED_ABOVE_SECTOR = "assimilated_days_above_sector"
TEMPORARY_UNEMPLOYMENT_WITH_HIRES = "temporary_unemployment_with_hires"
MASSIVE_HIRING = "massive_hiring"
CANCELLED_DIMONA = "cancelled_dimona"
TURNOVER_ABOVE_SECTOR = "turnover_above_sector"
INDICATORS = (
    ASSIMILATED_ABOVE_SECTOR,
    TEMPORARY_UNEMPLOYMENT_WITH_HIRES,
    MASSIVE_HIRING,
    CANCELLED_DIMONA,
    TURNOVER_ABOVE_SECTOR,
)


@dataclass(frozen=True, slots=True)
class EmployerQuarter:
    """One employer's quarter as the warehouse sees it (zeros where it declared nothing)."""

    employer: str
    quarter: str
    sector: str  # NACE-BEL division of the employer; "" when the employer is not in the dimension
    workers: int = 0  # distinct workers in the DmfA in force
    days_worked: int = 0
    sickness_accident_days: int = 0
    temporary_unemployment_days: int = 0
    hires: int = 0
    max_hires_in_window: int = 0
    exits: int = 0
    cancellations: int = 0


@dataclass(frozen=True, slots=True)
class OasisThresholds:
    factor: Fraction = Fraction(3, 2)
    tu_days: int = 20
    hires_with_tu: int = 1
    massive_hires: int = 10
    window_days: int = 7
    cancellations: int = 5

    @classmethod
    def of(
        cls,
        *,
        factor: float,
        tu_days: int,
        hires_with_tu: int,
        massive_hires: int,
        window_days: int,
        cancellations: int,
    ) -> OasisThresholds:
        # str() first: Fraction(1.5) is exact anyway, but Fraction(1.1) would not be the 1.1 an operator typed
        return cls(Fraction(str(factor)), tu_days, hires_with_tu, massive_hires, window_days, cancellations)


@dataclass(frozen=True, slots=True)
class Flag:
    employer: str
    quarter: str
    sector: str
    indicators: tuple[str, ...]
    details: dict[str, str] = field(default_factory=dict)


def _assimilated(e: EmployerQuarter) -> tuple[int, int]:
    return e.sickness_accident_days, e.days_worked + e.sickness_accident_days


def _turnover(e: EmployerQuarter) -> tuple[int, int]:
    return e.hires + e.exits, max(e.workers, 1)


def _above(numerator: int, denominator: int, sector: tuple[int, int], factor: Fraction) -> bool:
    """numerator/denominator > factor × sector_num/sector_den, in exact arithmetic; never for a zero rate."""
    if numerator <= 0 or denominator <= 0:
        return False
    sector_num, sector_den = sector
    if sector_den <= 0:
        return False
    return Fraction(numerator, denominator) > factor * Fraction(sector_num, sector_den)


def flag_employers(quarters: Iterable[EmployerQuarter], thresholds: OasisThresholds) -> list[Flag]:
    """The employers' quarters for which at least one indicator fires, sorted by (quarter, employer)."""
    rows = list(quarters)
    assimilated: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    turnover: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for e in rows:
        for totals, (num, den) in ((assimilated, _assimilated(e)), (turnover, _turnover(e))):
            totals[(e.quarter, e.sector)][0] += num
            totals[(e.quarter, e.sector)][1] += den
    flags = []
    for e in rows:
        sector_key = (e.quarter, e.sector)
        fired: list[str] = []
        details: dict[str, str] = {}
        a_num, a_den = _assimilated(e)
        a_sector = assimilated[sector_key]
        if _above(a_num, a_den, (a_sector[0], a_sector[1]), thresholds.factor):
            fired.append(ASSIMILATED_ABOVE_SECTOR)
            details[ASSIMILATED_ABOVE_SECTOR] = f"{a_num}/{a_den} vs sector {a_sector[0]}/{a_sector[1]}"
        if e.temporary_unemployment_days >= thresholds.tu_days and e.hires >= thresholds.hires_with_tu:
            fired.append(TEMPORARY_UNEMPLOYMENT_WITH_HIRES)
            details[TEMPORARY_UNEMPLOYMENT_WITH_HIRES] = f"{e.temporary_unemployment_days} days, {e.hires} hires"
        if e.max_hires_in_window >= thresholds.massive_hires:
            fired.append(MASSIVE_HIRING)
            details[MASSIVE_HIRING] = f"{e.max_hires_in_window} hires within {thresholds.window_days} days"
        if e.cancellations >= thresholds.cancellations:
            fired.append(CANCELLED_DIMONA)
            details[CANCELLED_DIMONA] = f"{e.cancellations} cancelled"
        t_num, t_den = _turnover(e)
        t_sector = turnover[sector_key]
        if _above(t_num, t_den, (t_sector[0], t_sector[1]), thresholds.factor):
            fired.append(TURNOVER_ABOVE_SECTOR)
            details[TURNOVER_ABOVE_SECTOR] = f"{t_num}/{t_den} vs sector {t_sector[0]}/{t_sector[1]}"
        if fired:
            flags.append(Flag(e.employer, e.quarter, e.sector, tuple(fired), details))
    return sorted(flags, key=lambda f: (f.quarter, f.employer))


# -- the persons a flag is about (seed 4.14: they, and only they, may be re-identified) ---------------------

# how a worker takes part in an employer's quarter, as far as the indicators go
SICKNESS_OR_ACCIDENT = "sickness_or_accident"  # a line of the DmfA in force with sickness or accident days
TEMPORARY_UNEMPLOYMENT = "temporary_unemployment"  # ... with temporary-unemployment days
HIRE = "hire"  # a relation declared, not cancelled, starting in the quarter
EXIT = "exit"  # such a relation ending in the quarter
CANCELLATION = "cancellation"  # a relation starting in the quarter that was cancelled

CONCERNS: Mapping[str, frozenset[str]] = {
    ASSIMILATED_ABOVE_SECTOR: frozenset({SICKNESS_OR_ACCIDENT}),
    TEMPORARY_UNEMPLOYMENT_WITH_HIRES: frozenset({TEMPORARY_UNEMPLOYMENT, HIRE}),
    MASSIVE_HIRING: frozenset({HIRE}),
    CANCELLED_DIMONA: frozenset({CANCELLATION}),
    TURNOVER_ABOVE_SECTOR: frozenset({HIRE, EXIT}),
}


@dataclass(frozen=True, slots=True)
class Involvement:
    """A worker's part in an employer's quarter; ``worker`` is a pseudonym (the anti-fraud purpose's)."""

    employer: str
    worker: str
    role: str


@dataclass(frozen=True, slots=True)
class FlaggedPerson:
    """A worker some indicator of ``quarter`` is about, and which: (employer, indicator) pairs, sorted."""

    worker: str
    quarter: str
    reasons: tuple[tuple[str, str], ...]


def flagged_persons(flags: Iterable[Flag], involvements: Iterable[Involvement]) -> dict[str, FlaggedPerson]:
    """The workers the flags are about, by pseudonym. ``involvements`` are those of the flags' quarter (one
    quarter at a time); an involvement with an employer no indicator fired for flags no one."""
    fired: dict[str, tuple[str, tuple[str, ...]]] = {}
    for flag in flags:
        fired[flag.employer] = (flag.quarter, flag.indicators)
    reasons: dict[str, set[tuple[str, str]]] = defaultdict(set)
    quarters: dict[str, str] = {}
    for involvement in involvements:
        quarter, indicators = fired.get(involvement.employer, ("", ()))
        for indicator in indicators:
            if involvement.role in CONCERNS[indicator]:
                reasons[involvement.worker].add((involvement.employer, indicator))
                quarters[involvement.worker] = quarter
    return {worker: FlaggedPerson(worker, quarters[worker], tuple(sorted(found))) for worker, found in reasons.items()}
