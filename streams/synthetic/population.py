"""A synthetic Belgian population on a given day: citizens, households, employers, jobs and the reference
directory (which institution holds which file on whom, with history).

Everything is drawn from one ``random.Random`` seeded with the seed, in a fixed order: the same seed gives the
same population, byte for byte, on every machine.  docs/synthetic.md describes the distributions.

:meth:`Population.records` tells the population to the platform as declarations — the *initial state* a
generated day builds on: one ``Integration`` per directory entry, one ``AddressChange`` per resident (a
``Birth`` for the children born in the simulated period, listing their parents), one ``DimonaIn`` per
employment relation.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

from streams.composition import network_for
from streams.domain.network import Network
from streams.synthetic import figures
from streams.synthetic.economy import Employer, generate_employers
from streams.synthetic.geography import Municipality, municipalities, street_names
from streams.synthetic.institutions import Institutions
from streams.synthetic.numbers import NissFactory
from streams.synthetic.records import (
    ADDRESS_CHANGE,
    BIRTH,
    DIMONA_IN,
    INTEGRATION,
    NATIONAL_REGISTER,
    Generated,
    envelope,
)

__all__ = [
    "DEFAULT_DAY",
    "HISTORY_START",
    "Citizen",
    "FileEntry",
    "Job",
    "Population",
    "Progress",
    "generate_population",
    "sample_network",
]

DEFAULT_DAY = dt.date(2026, 4, 28)  # a Tuesday, two days before the 2026-Q1 DmfA is due
HISTORY_START = dt.date(1991, 1, 1)  # the directory keeps history from the Crossroads Bank's start
YEAR = 365.2425
_H0 = HISTORY_START.toordinal()
_REGIONALISATION = dt.date(2019, 1, 1).toordinal()  # family allowances moved to the regions
_COVID = (dt.date(2020, 3, 16).toordinal(), dt.date(2020, 5, 1).toordinal())

#: Progress callback: (stage, done, total).
Progress = Callable[[str, int, int], None]

# Status on the day, by age band: (first age, last age, ((status, share), ...)).  Shares are rounded from Statbel's
# labour-force survey (employment rate 20-64 about 72 %), RIZIV/INAMI (incapacity), ONEM/RVA and SPP IS/POD MI.
_STATUS_BY_AGE: tuple[tuple[int, int, tuple[tuple[str, float], ...]], ...] = (
    (0, 14, (("CHILD", 1.0),)),
    (15, 17, (("STUDENT", 1.0),)),
    (
        18,
        24,
        (
            ("STUDENT", 0.50),
            ("EMPLOYED", 0.33),
            ("UNEMPLOYED", 0.08),
            ("INACTIVE", 0.04),
            ("INTEGRATION_INCOME", 0.03),
            ("INCAPACITY", 0.02),
        ),
    ),
    (
        25,
        54,
        (
            ("EMPLOYED", 0.67),
            ("SELF_EMPLOYED", 0.09),
            ("UNEMPLOYED", 0.055),
            ("INCAPACITY", 0.07),
            ("INTEGRATION_INCOME", 0.015),
            ("INACTIVE", 0.10),
        ),
    ),
    (
        55,
        59,
        (
            ("EMPLOYED", 0.58),
            ("SELF_EMPLOYED", 0.08),
            ("UNEMPLOYED", 0.05),
            ("INCAPACITY", 0.14),
            ("INTEGRATION_INCOME", 0.01),
            ("INACTIVE", 0.14),
        ),
    ),
    (
        60,
        64,
        (
            ("EMPLOYED", 0.33),
            ("SELF_EMPLOYED", 0.07),
            ("UNEMPLOYED", 0.04),
            ("INCAPACITY", 0.15),
            ("PENSIONER", 0.25),
            ("INACTIVE", 0.16),
        ),
    ),
    (65, 200, (("PENSIONER", 1.0),)),
)

# Life-course rates (per year) and mean durations (days) of the directory's episodes; calibrated so that a
# citizen is known to about 11 files on average (the seed's 10.95), see docs/synthetic.md.
_INCAPACITY_RATE, _INCAPACITY_DAYS = 0.16, 110.0
_UNEMPLOYMENT_RATE, _UNEMPLOYMENT_DAYS = 0.08, 200.0
_TEMPORARY_RATE, _TEMPORARY_DAYS = 0.05, 45.0
_MUTUALITY_CHANGE_RATE = 0.04


class FileEntry(NamedTuple):
    """A file an institution holds on a citizen (a directory entry); ``end`` is ``None`` while open."""

    institution: str
    sector: str
    capacity: str
    start: dt.date
    end: dt.date | None
    status: str = "DEFINITIVE"

    def active_on(self, day: dt.date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


@dataclass(slots=True)
class Job:
    """An employment relation, declared by one DIMONA IN (``planned_end`` set for fixed-term ones)."""

    employer: int  # index in Population.employers
    worker: int  # index in Population.citizens
    start: dt.date
    planned_end: dt.date | None
    worker_type: str  # OTH, STU, FLX
    joint_committee: str
    category: str  # DmfA worker category
    monthly_wage_cents: int
    planned_hours: int | None = None


@dataclass(slots=True)
class Citizen:
    index: int
    niss: str
    birth: dt.date
    female: bool
    place: Municipality
    postal_code: str = ""
    street: str = ""
    house_number: str = ""
    settled: dt.date = HISTORY_START  # since when at this address
    status: str = "INACTIVE"
    civil_status: str = "SINGLE"
    partner: int | None = None
    parents: tuple[int, ...] = ()
    children: list[int] = field(default_factory=list)
    mutuality: str | None = None
    entries: list[FileEntry] = field(default_factory=list)
    jobs: list[int] = field(default_factory=list)
    career_start: int | None = None  # ordinal
    current_from: int = 0  # ordinal: since when the status on the day holds

    def age_on(self, day: dt.date) -> int:
        return day.year - self.birth.year - ((day.month, day.day) < (self.birth.month, self.birth.day))


@dataclass(slots=True)
class Population:
    """The synthetic Belgium on ``day``.  Build it with :func:`generate_population`."""

    seed: int
    day: dt.date
    network: Network
    institutions: Institutions
    places: tuple[Municipality, ...]
    place_weights: list[float]
    citizens: list[Citizen]
    employers: list[Employer]
    jobs: list[Job]
    births_from: dt.date  # children born on or after this day get a Birth record (with their parents)
    environment: str = "PRODUCTION"

    @property
    def quarter(self) -> tuple[str, dt.date, dt.date]:
        """The last complete quarter before the day: the DmfA a generated day carries."""
        first_of_quarter = dt.date(self.day.year, 3 * ((self.day.month - 1) // 3) + 1, 1)
        last = first_of_quarter - dt.timedelta(days=1)
        first = dt.date(last.year, 3 * ((last.month - 1) // 3) + 1, 1)
        return f"{last.year}-Q{(last.month - 1) // 3 + 1}", first, last

    def entries_per_citizen(self) -> float:
        """Directory entries (files held, current and closed) per citizen: the seed's 10.95."""
        return sum(len(c.entries) for c in self.citizens) / max(1, len(self.citizens))

    def institutions_per_citizen(self) -> float:
        """Distinct institutions that ever held a file on a citizen, on average."""
        return sum(len({e.institution for e in c.entries}) for c in self.citizens) / max(1, len(self.citizens))

    def active_entries_per_citizen(self) -> float:
        day = self.day
        return sum(sum(1 for e in c.entries if e.active_on(day)) for c in self.citizens) / max(1, len(self.citizens))

    def records(self, *, history: bool = True) -> Iterator[Generated]:
        """The population told as declarations, family by family (integrations, civil, DIMONA).

        ``history=False`` leaves out the directory entries closed before the day (about 3 files per citizen
        instead of 11): enough for fan-out and consultations, much less to send."""
        yield from self.integration_records(history=history)
        yield from self.civil_records()
        yield from self.dimona_records()

    # -- the initial state as declarations ------------------------------------------------------------------

    def _stamp(self) -> dt.datetime:
        # recorded the evening before the simulated day
        return dt.datetime.combine(self.day - dt.timedelta(days=1), dt.time(20, 0), tzinfo=dt.UTC)

    def integration_records(self, *, history: bool = True) -> Iterator[Generated]:
        stamp = self._stamp()
        n = 0
        for citizen in self.citizens:
            for entry in citizen.entries:
                if not history and entry.end is not None:
                    continue
                n += 1
                yield Generated(
                    INTEGRATION,
                    integration(
                        entry,
                        citizen.niss,
                        envelope(entry.institution, f"SYN{self.seed}-INT-P{n:08d}", stamp, self.environment),
                    ),
                    "population",
                )

    def civil_records(self) -> Iterator[Generated]:
        stamp = self._stamp()
        for n, citizen in enumerate(self.citizens, 1):
            head = envelope(NATIONAL_REGISTER, f"SYN{self.seed}-CIV-P{n:08d}", stamp, self.environment)
            if citizen.birth >= self.births_from:
                yield Generated(
                    BIRTH,
                    {
                        "envelope": head,
                        "child": citizen.niss,
                        "birth_date": citizen.birth,
                        "parents": [self.citizens[p].niss for p in citizen.parents],
                        "municipality_nis": citizen.place.nis,
                    },
                    "population",
                )
            else:
                yield Generated(
                    ADDRESS_CHANGE,
                    {
                        "envelope": head,
                        "person": citizen.niss,
                        "effective_date": citizen.settled,
                        "address": address_of(citizen),
                    },
                    "population",
                )

    def dimona_records(self) -> Iterator[Generated]:
        stamp = self._stamp()
        for n, job in enumerate(self.jobs, 1):
            employer = self.employers[job.employer].enterprise_number
            yield Generated(
                DIMONA_IN,
                dimona_in(
                    job,
                    employer,
                    self.citizens[job.worker].niss,
                    envelope(employer, f"SYN{self.seed}-DIM-P{n:08d}", stamp, self.environment),
                ),
                "population",
            )


def integration(entry: FileEntry, person: str, head: dict[str, object], action: str = "REGISTER") -> dict[str, object]:
    return {
        "envelope": head,
        "action": action,
        "person": person,
        "institution": entry.institution,
        "sector": entry.sector,
        "capacity": entry.capacity,
        "period": {"start": entry.start, "end": entry.end},
        "status": entry.status,
    }


def dimona_in(job: Job, employer: str, worker: str, head: dict[str, object]) -> dict[str, object]:
    return {
        "envelope": head,
        "employer": employer,
        "worker": worker,
        "start_date": job.start,
        "planned_end_date": job.planned_end,
        "worker_type": job.worker_type,
        "joint_committee": job.joint_committee,
        "planned_hours": job.planned_hours,
    }


def address_of(citizen: Citizen) -> dict[str, object]:
    return {
        "street": citizen.street,
        "number": citizen.house_number,
        "box": None,
        "postal_code": citizen.postal_code,
        "municipality_nis": citizen.place.nis,
        "country": "BE",
    }


def sample_network() -> Network:
    """The network the platform runs with by default (``CROSSROADS_NETWORK_DIR``, else deploy/network/v1)."""
    from streams.settings import Settings

    return network_for(Settings())


# -- generation -----------------------------------------------------------------------------------------------


def _years(n: float) -> int:
    return int(n * YEAR)


def _status_for(rng: random.Random, age: int) -> str:
    for first, last, shares in _STATUS_BY_AGE:
        if first <= age <= last:
            draw = rng.random()
            for status, share in shares:
                draw -= share
                if draw < 0:
                    return status
            return shares[-1][0]
    return "INACTIVE"


_FERTILITY_AGES = tuple(range(18, 45))
_FERTILITY_WEIGHTS = tuple(math.exp(-(((a - 31) / 5.5) ** 2) / 2) for a in _FERTILITY_AGES)


def generate_population(
    citizens: int = 100_000,
    *,
    seed: int = 0,
    day: dt.date = DEFAULT_DAY,
    network: Network | None = None,
    births_days: int = 365,
    environment: str = "PRODUCTION",
    progress: Progress | None = None,
) -> Population:
    """A synthetic population of ``citizens`` people alive on ``day``.

    ``births_days``: the simulated period before the day; children born in it are told with a ``Birth``
    (naming their parents) instead of an ``AddressChange``.
    """
    if citizens < 1:
        raise ValueError("a population needs at least one citizen")
    network = network or sample_network()
    report = progress or (lambda stage, done, total: None)
    rng = random.Random(f"crossroads-synthetic:{seed}:population")
    institutions = Institutions(network)
    places = municipalities()
    weights = [p.weight for p in places]
    day_o = day.toordinal()

    # -- people: age, sex, national number, municipality ----------------------------------------------------
    bands = figures.AGE_PYRAMID
    drawn = rng.choices(bands, [b[2] for b in bands], k=citizens)
    homes = rng.choices(places, cum_weights=_cumulative(weights), k=citizens)
    factory = NissFactory(rng)
    people: list[Citizen] = []
    for index, ((first, last, _), place) in enumerate(zip(drawn, homes, strict=True)):
        age_days = int((first + rng.random() * (last + 1 - first)) * YEAR)
        birth = dt.date.fromordinal(day_o - 1 - min(age_days, _years(last + 1) - 2))
        age = day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))
        female = rng.random() < figures.female_share(age)
        people.append(Citizen(index, factory.take(birth, female), birth, female, place))
        if index % 20_000 == 0:
            report("citizens", index, citizens)
    report("citizens", citizens, citizens)

    _form_households(rng, people, day)
    report("households", citizens, citizens)
    for person in people:
        _give_address(rng, person, day_o)
    _share_addresses(people, day_o)

    # -- status, employers, jobs ----------------------------------------------------------------------------
    for person in people:
        age = person.age_on(day)
        person.status = _status_for(rng, age)
        if person.status == "PENSIONER" and age < 60:
            person.status = "INACTIVE"
    employers = generate_employers(
        rng,
        figures.employers_for(citizens),
        places,
        weights,
        taken=set(network.institutions) | {NATIONAL_REGISTER},
    )
    population = Population(
        seed=seed,
        day=day,
        network=network,
        institutions=institutions,
        places=places,
        place_weights=weights,
        citizens=people,
        employers=employers,
        jobs=[],
        births_from=day - dt.timedelta(days=births_days),
        environment=environment,
    )
    _employ(rng, population)
    report("jobs", citizens, citizens)

    # -- the directory ----------------------------------------------------------------------------------------
    life = _Life(rng, population)
    for n, person in enumerate(people):
        life.personal(person)
        if n % 20_000 == 0:
            report("directory", n, 2 * citizens)
    for n, person in enumerate(people):
        life.parental(person)
        if n % 20_000 == 0:
            report("directory", citizens + n, 2 * citizens)
    for person in people:
        person.entries.sort(key=lambda e: (e.start, e.sector, e.capacity))
    report("directory", 2 * citizens, 2 * citizens)
    return population


def _cumulative(weights: list[float]) -> list[float]:
    total, out = 0.0, []
    for w in weights:
        total += w
        out.append(total)
    return out


def _couple_share(age: int) -> float:
    if age < 20:
        return 0.0
    if age < 25:
        return 0.25
    if age < 35:
        return 0.60
    if age < 65:
        return 0.70
    if age < 80:
        return 0.60
    return 0.30


def _form_households(rng: random.Random, people: list[Citizen], day: dt.date) -> None:
    """Couples (women paired with men about two years older), children linked to a mother (and her partner)."""
    men: dict[int, list[int]] = {}
    women: dict[int, list[int]] = {}
    for p in people:
        (women if p.female else men).setdefault(p.birth.year, []).append(p.index)
    for bucket in men.values():
        rng.shuffle(bucket)
    for year in sorted(women):
        for w in women[year]:
            woman = people[w]
            age = woman.age_on(day)
            if rng.random() >= _couple_share(age):
                continue
            target = year - round(rng.gauss(2.0, 3.0))
            for offset in (0, 1, -1, 2, -2, 3, -3, 4, -4, 5, -5):
                available = men.get(target + offset)
                if available:
                    m = available.pop()
                    if people[m].age_on(day) < 18:
                        available.append(m)
                        continue
                    woman.partner, people[m].partner = m, w
                    status = rng.choices(("MARRIED", "LEGALLY_COHABITING", "SINGLE"), (0.6, 0.25, 0.15))[0]
                    woman.civil_status = people[m].civil_status = status
                    people[m].place = woman.place
                    break
    for p in people:
        if p.partner is None:
            age = p.age_on(day)
            if age >= 60:
                p.civil_status = rng.choices(("WIDOWED", "DIVORCED", "SINGLE"), (0.5, 0.3, 0.2))[0]
            elif age >= 30:
                p.civil_status = rng.choices(("SINGLE", "DIVORCED", "SEPARATED"), (0.5, 0.4, 0.1))[0]
    for p in people:
        age = p.age_on(day)
        if age >= 25:
            continue
        mother_age = rng.choices(_FERTILITY_AGES, _FERTILITY_WEIGHTS)[0]
        mother = None
        for offset in (0, 1, -1, 2, -2):
            born_then = women.get(p.birth.year - mother_age + offset)
            if born_then:
                # most children are born in a couple: up to three draws for a mother with a partner
                for _ in range(3):
                    mother = people[rng.choice(born_then)]
                    if mother.partner is not None:
                        break
                break
        if mother is None or mother.index == p.index or mother.age_on(day) - age < 16:
            continue
        father = mother.partner if mother.partner is not None and rng.random() < 0.95 else None
        p.parents = (mother.index,) if father is None else (mother.index, father)
        mother.children.append(p.index)
        if father is not None:
            people[father].children.append(p.index)


def _give_address(rng: random.Random, person: Citizen, day_o: int) -> None:
    place = person.place
    person.postal_code = rng.choice(place.postal_codes)
    person.street = rng.choice(street_names(place.language))
    person.house_number = str(1 + int(rng.expovariate(1 / 40)))
    adult = person.birth.toordinal() + _years(18)
    earliest = max(adult, day_o - _years(40), _H0)
    if earliest >= day_o:
        settled = max(person.birth.toordinal(), day_o - 1 - int(rng.expovariate(1 / (3 * YEAR))))
    else:
        settled = max(earliest, day_o - 1 - int(rng.expovariate(1 / (9 * YEAR))))
    person.settled = dt.date.fromordinal(settled)


def _share_addresses(people: list[Citizen], day_o: int) -> None:
    """A couple lives together (the woman's address); minors and some young adults live with their mother."""
    for p in people:
        if p.partner is not None and p.female:
            man = people[p.partner]
            man.place, man.postal_code, man.street, man.house_number = p.place, p.postal_code, p.street, p.house_number
            man.settled = p.settled = max(p.settled, man.settled)
    for p in people:
        if not p.parents:
            continue
        mother = people[p.parents[0]]
        if (day_o - p.birth.toordinal()) < _years(18) or p.index % 5 < 3:
            p.place, p.postal_code, p.street, p.house_number = (
                mother.place,
                mother.postal_code,
                mother.street,
                mother.house_number,
            )
            p.settled = max(mother.settled, p.birth)


def _employ(rng: random.Random, population: Population) -> None:
    """Jobs: one for the employed (some with a flexi job besides), student jobs, flexi-pensioners, and the
    relations that ended in the last quarter for those unemployed since."""
    day = population.day
    day_o = day.toordinal()
    employers = population.employers
    cumulative = _cumulative([e.size for e in employers])
    horeca = [i for i, e in enumerate(employers) if e.section in ("I", "G")] or list(range(len(employers)))
    _, quarter_first, _ = population.quarter
    jobs = population.jobs

    def hire(worker: Citizen, employer: int, start: int, end: int | None, kind: str, hours: int | None = None) -> None:
        e = employers[employer]
        age = worker.age_on(day)
        committees = e.joint_committees
        blue = rng.random() < committees.blue_share
        if kind == "STU":
            category = "STUDENT"
        elif e.is_public_service:
            category = "CIVIL_SERVANT"
        else:
            category = "BLUE_COLLAR" if blue else "WHITE_COLLAR"
        factor = {"BLUE_COLLAR": 0.85, "WHITE_COLLAR": 1.1, "CIVIL_SERVANT": 1.0, "STUDENT": 0.3}[category]
        seniority = min(1.35, 0.75 + 0.012 * max(0, age - 20))
        part_time = 0.6 if rng.random() < 0.25 else 1.0
        if kind == "FLX":
            part_time = 0.2
        wage = int(380_000 * math.exp(rng.gauss(0.0, 0.3)) * factor * seniority * part_time)
        jobs.append(
            Job(
                employer=employer,
                worker=worker.index,
                start=dt.date.fromordinal(start),
                planned_end=dt.date.fromordinal(end) if end is not None else None,
                worker_type=kind,
                joint_committee=committees.blue if blue else committees.white,
                category=category,
                monthly_wage_cents=wage,
                planned_hours=hours,
            )
        )
        worker.jobs.append(len(jobs) - 1)

    for person in population.citizens:
        age = person.age_on(day)
        birth_o = person.birth.toordinal()
        if age >= 18 and person.status not in ("STUDENT", "CHILD"):
            worked = person.status != "INACTIVE" or rng.random() < 0.6
            if worked:
                person.career_start = min(day_o - 30, birth_o + _years(18 + rng.random() * 7))
        person.current_from = day_o
        status = person.status
        if status == "EMPLOYED":
            earliest = person.career_start or day_o - 30
            start = max(earliest, day_o - 1 - int(rng.expovariate(1 / (7 * YEAR))))
            hire(person, _pick(rng, cumulative), start, None, "OTH")
            person.current_from = start
            if rng.random() < 0.03:
                hire(person, rng.choice(horeca), max(start, day_o - int(rng.expovariate(1 / 400))), None, "FLX")
        elif status in ("UNEMPLOYED", "INCAPACITY", "INTEGRATION_INCOME"):
            mean = {"UNEMPLOYED": 300.0, "INCAPACITY": 700.0, "INTEGRATION_INCOME": 400.0}[status]
            floor = (person.career_start or birth_o + _years(18)) + 30
            person.current_from = max(floor, day_o - 30 - int(rng.expovariate(1 / mean)))
            if status == "UNEMPLOYED" and person.current_from > quarter_first.toordinal() and person.career_start:
                # the job that ended just before: it appears in the last quarter's DmfA
                end = person.current_from - 1
                start = max(person.career_start, end - 30 - int(rng.expovariate(1 / 700)))
                if start <= end:
                    hire(person, _pick(rng, cumulative), start, end, "OTH")
        elif status == "PENSIONER":
            retire = birth_o + _years(65) if age >= 65 else day_o - 1 - int(rng.random() * (age - 59) * YEAR)
            person.current_from = max(retire, birth_o + _years(60))
            if age < 75 and rng.random() < 0.03:
                hire(person, rng.choice(horeca), day_o - 1 - int(rng.expovariate(1 / 300)), None, "FLX")
        elif status == "STUDENT" and age >= 16 and rng.random() < 0.2:
            start = day_o - int(rng.random() * 45)
            end = day_o + int(rng.random() * 60)
            hire(person, rng.choice(horeca), start, end, "STU", 8 + int(rng.random() * 150))


def _pick(rng: random.Random, cumulative: list[float]) -> int:
    return rng.choices(range(len(cumulative)), cum_weights=cumulative)[0]


def _spells(
    rng: random.Random, first: int, last: int, rate: float, mean_days: float, min_days: int = 30
) -> list[tuple[int, int]]:
    """Closed, non-overlapping episodes between ``first`` and ``last`` (ordinals): a Poisson process of
    ``rate`` a year, each lasting ``min_days`` plus an exponential of mean ``mean_days``."""
    spells: list[tuple[int, int]] = []
    t = first
    while last - t > min_days:
        t += int(rng.expovariate(rate / YEAR))
        if t >= last:
            break
        end = min(t + min_days + int(rng.expovariate(1 / mean_days)), last)
        spells.append((t, end))
        t = end + 30
    return spells


class _Life:
    """The directory entries of one citizen, from their life course (docs/synthetic.md, "directory")."""

    def __init__(self, rng: random.Random, population: Population) -> None:
        self.rng = rng
        self.population = population
        self.inst = population.institutions
        self.day = population.day
        self.day_o = population.day.toordinal()

    def add(
        self, person: Citizen, institution: str | None, sector: str, capacity: str, start: int, end: int | None
    ) -> None:
        if institution is None or not self.inst.has(sector, capacity):
            return
        if end is not None and (end < _H0 or end >= self.day_o or end < start):
            return
        start = max(start, _H0)
        status = "PROVISIONAL" if end is None and self.day_o - start < 30 else "DEFINITIVE"
        person.entries.append(
            FileEntry(
                institution,
                sector,
                capacity,
                dt.date.fromordinal(start),
                None if end is None else dt.date.fromordinal(end),
                status,
            )
        )

    def personal(self, p: Citizen) -> None:
        rng, day_o, inst = self.rng, self.day_o, self.inst
        age = p.age_on(self.day)
        birth = p.birth.toordinal()
        place = p.place
        status = p.status
        career = p.career_start
        retire = p.current_from if status == "PENSIONER" else None
        work_end = min(day_o - 1, (retire - 1) if retire else birth + _years(65))
        window_end = min(work_end, p.current_from - 31)

        # -- MUTUALITY: dependant of a parent, then titular (changing mutuality now and then), incapacity spells
        mother_mutuality = self.population.citizens[p.parents[0]].mutuality if p.parents else None
        childhood_mutuality = mother_mutuality or inst.mutuality(rng)
        titular_from: int | None = None
        if age >= 18 and status not in ("STUDENT", "CHILD"):
            titular_from = career or birth + _years(18 + rng.random() * 7)
            titular_from = min(titular_from, day_o - 1)
        elif age >= 25:
            titular_from = birth + _years(25)
        if titular_from is None:
            p.mutuality = childhood_mutuality
            self.add(p, childhood_mutuality, "MUTUALITY", "DEPENDANT", birth, None)
        else:
            self.add(p, childhood_mutuality, "MUTUALITY", "DEPENDANT", birth, titular_from - 1)
            changes = [s for s, _ in _spells(rng, titular_from, day_o - 1, _MUTUALITY_CHANGE_RATE, 1.0, 1)]
            current = childhood_mutuality if rng.random() < 0.7 else inst.mutuality(rng, childhood_mutuality)
            segments: list[tuple[int, str | None]] = [(titular_from, current)]
            for change in changes:
                current = inst.mutuality(rng, current)
                segments.append((change, current))
            for (start, holder), following in zip(segments, [*segments[1:], None], strict=True):
                self.add(p, holder, "MUTUALITY", "TITULAR", start, following[0] - 1 if following else None)
            p.mutuality = segments[-1][1]
            if career is not None:
                for start, end in _spells(rng, career, window_end, _INCAPACITY_RATE, _INCAPACITY_DAYS):
                    holder = next((h for s, h in reversed(segments) if s <= start), p.mutuality)
                    self.add(p, holder, "MUTUALITY", "INCAPACITY", start, end)
            if status == "INCAPACITY":
                self.add(p, p.mutuality, "MUTUALITY", "INCAPACITY", p.current_from, None)

        # -- TAX: a file from the 18th birthday
        if age >= 18:
            self.add(p, inst.tax(), "TAX", "TAXPAYER", birth + _years(18), None)

        # -- PENSIONS: the individual pension account from the first job, then the pension
        if career is not None:
            self.add(p, inst.pension_accounts(), "PENSIONS", "FUTURE_PENSIONER", career, retire - 1 if retire else None)
        if retire is not None:
            self.add(p, inst.pensions(), "PENSIONS", "PENSIONER", retire, None)
            if rng.random() < 0.06:
                guarantee = min(day_o - 1, retire + int(rng.random() * 1500))
                self.add(p, inst.pensions(), "PENSIONS", "INCOME_GUARANTEE", guarantee, None)

        # -- FAMILY_ALLOWANCES: the child's own file (a fund change at the 2019 regionalisation for half of them)
        eighteen = birth + _years(18) - 1
        child_end = None if (status == "STUDENT" and age < 25) or eighteen >= day_o else eighteen
        fund = inst.family_fund(rng, place)
        if birth < _REGIONALISATION and (child_end is None or child_end >= _REGIONALISATION) and rng.random() < 0.5:
            before = inst.family_fund(rng, place, federal_era=True)
            self.add(p, before, "FAMILY_ALLOWANCES", "CHILD", birth, _REGIONALISATION - 1)
            if fund == before:
                fund = inst.family_fund(rng, place)
            self.add(p, fund, "FAMILY_ALLOWANCES", "CHILD", _REGIONALISATION, child_end)
        else:
            self.add(p, fund, "FAMILY_ALLOWANCES", "CHILD", birth, child_end)

        if career is None:
            self._cpas(p, age, window_end)
            return

        # -- UNEMPLOYMENT and EMPLOYMENT_OFFICE: spells of unemployment (with a job-seeker file), temporary
        #    unemployment (COVID-19 for many), career breaks, the school leaver's integration period
        office = inst.employment_office(place)
        body = inst.payment_body(rng)
        for start, end in _spells(rng, career, window_end, _UNEMPLOYMENT_RATE, _UNEMPLOYMENT_DAYS):
            self.add(p, body, "UNEMPLOYMENT", "BENEFICIARY", start, end)
            self.add(p, office, "EMPLOYMENT_OFFICE", "JOB_SEEKER", start, end)
        if status == "UNEMPLOYED":
            if age < 25:
                self.add(p, office, "EMPLOYMENT_OFFICE", "SCHOOL_LEAVER", p.current_from, None)
            else:
                self.add(p, body, "UNEMPLOYMENT", "BENEFICIARY", p.current_from, None)
            self.add(p, office, "EMPLOYMENT_OFFICE", "JOB_SEEKER", p.current_from, None)
        elif career >= dt.date(2004, 1, 1).toordinal() and rng.random() < 0.4:
            self.add(p, office, "EMPLOYMENT_OFFICE", "SCHOOL_LEAVER", career - 90 - int(rng.random() * 220), career - 1)
        covid: tuple[int, int] | None = None
        if career < _COVID[0] and work_end > _COVID[1] and rng.random() < 0.3:
            covid = (_COVID[0] + int(rng.random() * 14), _COVID[1] + int(rng.random() * 90))
            self.add(p, body, "UNEMPLOYMENT", "TEMPORARY", covid[0], covid[1])
        for start, end in _spells(rng, career, window_end, _TEMPORARY_RATE, _TEMPORARY_DAYS, 7):
            if covid is None or end < covid[0] - 1 or start > covid[1] + 1:
                self.add(p, body, "UNEMPLOYMENT", "TEMPORARY", start, end)
        onem = inst.onem()
        if rng.random() < 0.08 and window_end - career > 800:
            start = career + int(rng.random() * (window_end - career - 800))
            self.add(p, onem, "UNEMPLOYMENT", "CAREER_BREAK", start, start + 180 + int(rng.random() * 540))
        if status == "EMPLOYED" and rng.random() < 0.04:
            self.add(
                p, onem, "UNEMPLOYMENT", "CAREER_BREAK", max(p.current_from, day_o - 30 - int(rng.random() * 700)), None
            )
        self._cpas(p, age, window_end)

    def _cpas(self, p: Citizen, age: int, window_end: int) -> None:
        if age < 18:
            return
        rng, day_o = self.rng, self.day_o
        cpas = self.inst.cpas(p.place)
        adult = p.birth.toordinal() + _years(18)
        if p.status == "INTEGRATION_INCOME":
            self.add(p, cpas, "CPAS", "INTEGRATION_INCOME", p.current_from, None)
        if rng.random() < 0.03 and window_end - adult > 900:
            start = adult + int(rng.random() * (window_end - adult - 900))
            self.add(p, cpas, "CPAS", "INTEGRATION_INCOME", start, start + 180 + int(rng.random() * 720))
        if p.status in ("INACTIVE", "UNEMPLOYED") and rng.random() < 0.05:
            self.add(p, cpas, "CPAS", "SOCIAL_AID", max(p.current_from, day_o - 30 - int(rng.random() * 900)), None)
        if age >= 30 and rng.random() < 0.06:
            winters = 1 + int(rng.random() * 5)
            for k in range(winters):
                year = self.day.year - 1 - k
                self.add(
                    p,
                    cpas,
                    "CPAS",
                    "HEATING_ALLOWANCE",
                    dt.date(year, 11, 1).toordinal(),
                    dt.date(year + 1, 3, 31).toordinal(),
                )

    def parental(self, p: Citizen) -> None:
        """ALLOCATAIRE (the parent the allowances are paid to, usually the mother) and ATTRIBUTAIRE (the parent
        whose work opened the right, until the 2019 regionalisation)."""
        rng, day_o = self.rng, self.day_o
        people = self.population.citizens
        age = p.age_on(self.day)
        kids = sorted((people[k] for k in p.children), key=lambda c: c.birth)
        if kids:
            first = kids[0].birth.toordinal()
            youngest = kids[-1]
            last = youngest.birth.toordinal() + _years(18) - 1
            fund = next((e.institution for e in reversed(youngest.entries) if e.capacity == "CHILD"), None)
            early = next((e.institution for e in youngest.entries if e.capacity == "CHILD"), fund)
        elif age >= 43 and rng.random() < 0.75:
            first = p.birth.toordinal() + _years(24 + rng.random() * 10)
            last = first + _years(rng.random() * 6) + _years(18) - 1
            if last >= day_o - 1:
                return
            fund = early = self.inst.family_fund(rng, p.place, federal_era=True)
        else:
            return
        open_end = None if last >= day_o else last
        if p.female or (bool(kids) and kids[0].parents[0] == p.index):
            self.add(p, fund, "FAMILY_ALLOWANCES", "ALLOCATAIRE", first, open_end)
        attributaire = not p.female or len(kids[0].parents if kids else ()) < 2
        if attributaire and first < _REGIONALISATION and (p.career_start is not None or not kids):
            self.add(p, early, "FAMILY_ALLOWANCES", "ATTRIBUTAIRE", first, min(last, _REGIONALISATION - 1))
