"""One working day of traffic for a synthetic population, shaped like the seed's yearly volumes.

What a day holds (expected numbers in :func:`streams.synthetic.figures.day_volumes`):

* **civil** facts from the National Register: births (naming the parents), moves (a household moves together,
  2 % abroad), marriages, legal cohabitations and divorces (both partners), deaths (mostly the old);
* **DIMONA**: 45 % IN (job seekers, students, flexi and occasional workers), 38 % OUT and 10 % UPDATE of
  existing relations, 7 % CANCEL of the day's own INs;
* **DmfA**: the last complete quarter, one ORIGINAL per employer with a worker in it, 1 % corrected;
* **integrations** the day's facts cause: a newborn's files (dependant at the mother's mutuality, child at a
  family-allowance fund, the mother as allocataire), job-seeker and unemployment files after a DIMONA OUT, the
  closing of those files when a DIMONA IN starts a job;
* **consultations** by the institutions, about the people they hold a file on.

Two controlled kinds of noise: ``invalid_share`` of the day's records are broken in a known way (each carries the
violation code the intake will report), and ``unauthorized_share`` of the consultations ask for something the
requester may not have (no active file in that capacity, or a data type its sector and capacity are not
authorized for).  Consultations are never about a person whose directory the day's integrations change: the
platform does not order one intake topic against another, so their answer would depend on timing.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from streams.domain.identifiers import parse_niss
from streams.domain.network import ConsultedData
from streams.synthetic import figures
from streams.synthetic.geography import street_names
from streams.synthetic.numbers import NissFactory, break_enterprise, break_niss
from streams.synthetic.population import Citizen, FileEntry, Job, Population, dimona_in, integration
from streams.synthetic.records import (
    ADDRESS_CHANGE,
    BIRTH,
    CIVIL_STATUS_CHANGE,
    CONSULTATION_REQUEST,
    DEATH,
    DIMONA_CANCEL,
    DIMONA_IN,
    DIMONA_OUT,
    DIMONA_UPDATE,
    DMFA_DECLARATION,
    FAMILIES,
    INTEGRATION,
    NATIONAL_REGISTER,
    Generated,
    envelope,
    family_of,
)

__all__ = ["CONSULTATION_TYPES", "generate_day"]

CONSULTATION_TYPES: tuple[str, ...] = (
    ConsultedData.IDENTITY.value,
    ConsultedData.EMPLOYMENT.value,
    ConsultedData.WAGES.value,
    ConsultedData.DIRECTORY_ENTRIES.value,
)
_UNEMPLOYMENT_FILES = (
    ("UNEMPLOYMENT", "BENEFICIARY"),
    ("EMPLOYMENT_OFFICE", "JOB_SEEKER"),
    ("EMPLOYMENT_OFFICE", "SCHOOL_LEAVER"),
)
_PUBLIC_HOLIDAYS = {1: 1, 2: 4, 3: 2, 4: 3}  # Belgian public holidays falling on weekdays, per quarter (typical)
_ABROAD = (("FR", "59000", "Rue Nationale"), ("NL", "4811 AA", "Hoofdstraat"), ("DE", "52062", "Hauptstraße"),
           ("LU", "1009", "Avenue de la Liberté"), ("ES", "03001", "Calle Mayor"))  # fmt: skip
_CANCEL_REASONS = ("typing error", "worker did not show up", "declared twice", "wrong employer number")


@dataclass(slots=True)
class _Draft:
    schema: str
    record: dict[str, Any]
    protected: bool = False  # another record of the day depends on it: never broken
    authorized: bool | None = None
    refusal: str | None = None


@dataclass(slots=True)
class _Day:
    population: Population
    rng: random.Random
    day: dt.date
    drafts: dict[str, list[_Draft]] = field(default_factory=lambda: {family: [] for family in FAMILIES})
    touched: set[int] = field(default_factory=set)  # citizens whose directory the day's integrations change
    busy: set[int] = field(default_factory=set)  # citizens with a civil event today
    dead: set[int] = field(default_factory=set)
    opened: set[tuple[str, str, str]] = field(default_factory=set)  # (person, sector, capacity) registered today

    def add(self, schema: str, record: dict[str, Any], **flags: Any) -> _Draft:
        draft = _Draft(schema, record, **flags)
        self.drafts[family_of(schema)].append(draft)
        return draft

    def head(self, sender: str) -> dict[str, Any]:
        # reference and time are stamped once the day's order is known (see _stamp)
        return envelope(
            sender, "-", dt.datetime.combine(self.day, dt.time(7), tzinfo=dt.UTC), self.population.environment
        )


def generate_day(
    population: Population,
    *,
    seed: int | None = None,
    invalid_share: float = 0.01,
    unauthorized_share: float = 0.05,
    dmfa_share: float = 1.0,
) -> Iterator[Generated]:
    """The day's declarations for ``population`` on ``population.day``, family by family (integrations, DIMONA,
    DmfA, civil, consultations), each family in the order it must be sent.

    ``seed`` defaults to the population's.  ``invalid_share`` of all the day's records (rounded) are broken,
    ``unauthorized_share`` of the consultations (rounded) are refused by the platform.  ``dmfa_share`` is the
    share of employers whose DmfA of the last quarter is in the day (1.0: the whole quarter).
    """
    if not 0.0 <= invalid_share <= 1.0 or not 0.0 <= unauthorized_share <= 1.0 or not 0.0 <= dmfa_share <= 1.0:
        raise ValueError("shares are between 0 and 1")
    day_seed = population.seed if seed is None else seed
    rng = random.Random(f"crossroads-synthetic:{day_seed}:day:{population.day.isoformat()}")
    state = _Day(population, rng, population.day)
    volumes = figures.day_volumes(len(population.citizens))

    births = _births(state, figures.stochastic_round(rng, volumes.births))
    deaths = _deaths(state, figures.stochastic_round(rng, volumes.deaths))
    moves = _moves(state, figures.stochastic_round(rng, volumes.address_changes))
    statuses = _civil_statuses(state, figures.stochastic_round(rng, volumes.civil_status_changes))
    for draft in (*births, *moves, *statuses, *deaths):
        state.drafts["civil"].append(draft)
    _dimona(state, figures.stochastic_round(rng, volumes.dimona))
    _dmfa(state, dmfa_share)
    _consultations(state, figures.stochastic_round(rng, volumes.consultations), unauthorized_share)

    ordered = [draft for family in FAMILIES for draft in state.drafts[family]]
    _stamp(state, day_seed)
    breakable = [i for i, d in enumerate(ordered) if not d.protected and d.authorized is not False]
    count = min(len(breakable), round(invalid_share * len(ordered)))
    broken = {i: _break(rng, ordered[i]) for i in sorted(rng.sample(breakable, count))}
    generated = []
    for i, draft in enumerate(ordered):
        if i in broken:
            record, code = broken[i]
            generated.append(Generated(draft.schema, record, "day", invalid=code))
        else:
            generated.append(Generated(draft.schema, draft.record, "day", None, draft.authorized, draft.refusal))
    return iter(generated)


def _stamp(state: _Day, seed: int) -> None:
    """References and recording times: spread over the working day (07:00-19:00 UTC), in sending order."""
    start = dt.datetime.combine(state.day, dt.time(7), tzinfo=dt.UTC)
    for family, drafts in state.drafts.items():
        step = 12 * 3600 * 1000 / max(1, len(drafts))
        tag = family[:3].upper()
        for n, draft in enumerate(drafts):
            head = draft.record["envelope"]
            head["sender_reference"] = f"SYN{seed}-{tag}-D{n + 1:07d}"
            head["recorded_at"] = start + dt.timedelta(milliseconds=int(n * step))


# -- civil facts ------------------------------------------------------------------------------------------------


def _civil(state: _Day, schema: str, body: dict[str, Any]) -> _Draft:
    return _Draft(schema, {"envelope": state.head(NATIONAL_REGISTER), **body})


def _births(state: _Day, count: int) -> list[_Draft]:
    population, rng, day = state.population, state.rng, state.day
    people = population.citizens
    mothers = [p for p in people if p.female and 18 <= p.age_on(day) <= 44]
    if not mothers or not count:
        return []
    # fertility by age (peak at 31), three times higher in a couple
    weights = [
        math.exp(-(((p.age_on(day) - 31) / 5.5) ** 2) / 2) * (3.0 if p.partner is not None else 1.0) for p in mothers
    ]
    taken = {p.niss for p in people}
    factory = NissFactory(rng)
    drafts = []
    for _ in range(count):
        mother = rng.choices(mothers, weights)[0]
        born = day - dt.timedelta(days=rng.randrange(0, 5))
        female = rng.random() < 0.488
        child = factory.take(born, female)
        while child in taken:
            child = factory.take(born, female)
        taken.add(child)
        parents = [mother.niss]
        if mother.partner is not None and rng.random() < 0.95:
            parents.append(people[mother.partner].niss)
        drafts.append(
            _civil(
                state,
                BIRTH,
                {"child": child, "birth_date": born, "parents": parents, "municipality_nis": mother.place.nis},
            )
        )
        _newborn_files(state, mother, child, born)
    return drafts


def _newborn_files(state: _Day, mother: Citizen, child: str, born: dt.date) -> None:
    """The files a birth opens: dependant at the mother's mutuality, child at a family-allowance fund, and the
    mother as allocataire if she is not one already."""
    inst, rng = state.population.institutions, state.rng
    allocataire = next((e for e in mother.entries if e.capacity == "ALLOCATAIRE" and e.end is None), None)
    fund = allocataire.institution if allocataire else inst.family_fund(rng, mother.place)
    files = [
        (child, FileEntry(mother.mutuality or "", "MUTUALITY", "DEPENDANT", born, None, "PROVISIONAL")),
        (child, FileEntry(fund or "", "FAMILY_ALLOWANCES", "CHILD", born, None, "PROVISIONAL")),
    ]
    if (mother.niss, "FAMILY_ALLOWANCES", "ALLOCATAIRE") not in state.opened and not any(
        e.capacity == "ALLOCATAIRE" and (e.end is None or e.end >= born) for e in mother.entries
    ):
        state.opened.add((mother.niss, "FAMILY_ALLOWANCES", "ALLOCATAIRE"))
        files.append(
            (mother.niss, FileEntry(fund or "", "FAMILY_ALLOWANCES", "ALLOCATAIRE", born, None, "PROVISIONAL"))
        )
        state.touched.add(mother.index)
    for person, entry in files:
        if entry.institution and inst.has(entry.sector, entry.capacity):
            state.add(INTEGRATION, integration(entry, person, state.head(entry.institution)))


def _free(state: _Day, candidates: list[Citizen], count: int, weights: list[float] | None = None) -> list[Citizen]:
    """Up to ``count`` distinct citizens from ``candidates`` with no civil event yet today."""
    rng = state.rng
    chosen: list[Citizen] = []
    if not candidates:
        return chosen
    for _ in range(count * 20):
        if len(chosen) >= count:
            break
        person = rng.choices(candidates, weights)[0] if weights else rng.choice(candidates)
        if person.index in state.busy or person.index in state.dead:
            continue
        state.busy.add(person.index)
        chosen.append(person)
    return chosen


def _deaths(state: _Day, count: int) -> list[_Draft]:
    day, rng = state.day, state.rng
    people = state.population.citizens
    weights = [math.exp(0.085 * (p.age_on(day) - 80)) for p in people]
    drafts = []
    for person in _free(state, people, count, weights):
        died = max(person.birth, day - dt.timedelta(days=rng.randrange(0, 4)))
        state.dead.add(person.index)
        drafts.append(
            _civil(state, DEATH, {"person": person.niss, "date_of_death": died, "municipality_nis": person.place.nis})
        )
    return drafts


def _moves(state: _Day, count: int) -> list[_Draft]:
    """Households move together: the mover, their partner and the minors living with them."""
    population, rng, day = state.population, state.rng, state.day
    people = population.citizens
    adults = [p for p in people if p.age_on(day) >= 18]
    weights = [3.0 if 20 <= p.age_on(day) < 35 else 1.0 for p in adults]
    cumulative = list(_accumulate(weights))
    children: dict[int, list[Citizen]] = {}
    for p in people:
        if p.parents and p.age_on(day) < 18 and p.street == people[p.parents[0]].street:
            children.setdefault(p.parents[0], []).append(p)
    drafts: list[_Draft] = []
    attempts = 0
    while len(drafts) < count and attempts < count * 20 + 20:
        attempts += 1
        mover = rng.choices(adults, cum_weights=cumulative)[0] if adults else None
        if mover is None:
            break
        household = [mover]
        if mover.partner is not None:
            household.append(people[mover.partner])
        for member in list(household):
            household.extend(children.get(member.index, ()))
        if any(m.index in state.busy or m.index in state.dead for m in household):
            continue
        effective = day - dt.timedelta(days=rng.randrange(0, 11))
        draw = rng.random()
        if draw < 0.02:
            country, postal, street = rng.choice(_ABROAD)
            address: dict[str, Any] = {
                "street": street,
                "number": str(rng.randrange(1, 200)),
                "box": None,
                "postal_code": postal,
                "municipality_nis": None,
                "country": country,
            }
        else:
            place = mover.place if draw < 0.65 else rng.choices(population.places, population.place_weights)[0]
            address = {
                "street": rng.choice(street_names(place.language)),
                "number": str(1 + int(rng.expovariate(1 / 40))),
                "box": rng.choice((None, None, None, "A", "1", "2")),
                "postal_code": rng.choice(place.postal_codes),
                "municipality_nis": place.nis,
                "country": "BE",
            }
        for member in household:
            state.busy.add(member.index)
            drafts.append(
                _civil(
                    state,
                    ADDRESS_CHANGE,
                    {"person": member.niss, "effective_date": effective, "address": dict(address)},
                )
            )
    return drafts


def _civil_statuses(state: _Day, count: int) -> list[_Draft]:
    """Marriages (45 %), legal cohabitations (30 %), divorces (25 %): one record per partner."""
    rng, day = state.rng, state.day
    people = state.population.citizens
    women = [p for p in people if p.female and p.partner is not None]
    drafts: list[_Draft] = []
    attempts = 0
    while len(drafts) < count and women and attempts < count * 20 + 20:
        attempts += 1
        woman = rng.choice(women)
        assert woman.partner is not None
        man = people[woman.partner]
        if {woman.index, man.index} & (state.busy | state.dead):
            continue
        draw = rng.random()
        if draw < 0.45 and woman.civil_status != "MARRIED":
            new, partnered = "MARRIED", True
        elif draw < 0.75 and woman.civil_status == "SINGLE":
            new, partnered = "LEGALLY_COHABITING", True
        elif draw >= 0.75 and woman.civil_status == "MARRIED":
            new, partnered = "DIVORCED", False
        else:
            continue
        effective = day - dt.timedelta(days=rng.randrange(0, 8))
        for person, other in ((woman, man), (man, woman)):
            state.busy.add(person.index)
            drafts.append(
                _civil(
                    state,
                    CIVIL_STATUS_CHANGE,
                    {
                        "person": person.niss,
                        "effective_date": effective,
                        "civil_status": new,
                        "partner": other.niss if partnered else None,
                    },
                )
            )
    return drafts


def _accumulate(weights: list[float]) -> Iterator[float]:
    total = 0.0
    for w in weights:
        total += w
        yield total


# -- DIMONA -----------------------------------------------------------------------------------------------------


def _dimona(state: _Day, total: int) -> None:
    population, rng, day = state.population, state.rng, state.day
    people, employers, jobs = population.citizens, population.employers, population.jobs
    n_in = round(0.45 * total)
    n_out = round(0.38 * total)
    n_update = round(0.10 * total)
    n_cancel = min(total - n_in - n_out - n_update, n_in)
    cumulative = list(_accumulate([e.size for e in employers]))
    horeca = [i for i, e in enumerate(employers) if e.section in ("I", "G")] or list(range(len(employers)))
    relations = {(population.employers[j.employer].enterprise_number, j.worker, j.start) for j in jobs}
    pools = {
        "seeker": [p for p in people if p.status == "UNEMPLOYED"],
        "student": [p for p in people if p.status == "STUDENT" and p.age_on(day) >= 16],
        "worker": [p for p in people if p.status == "EMPLOYED"],
        "other": [p for p in people if p.status in ("INACTIVE", "INTEGRATION_INCOME", "SELF_EMPLOYED")],
    }
    kinds = [k for k in ("seeker", "student", "worker", "other") if pools[k]]
    shares = {"seeker": 0.35, "student": 0.30, "worker": 0.15, "other": 0.20}
    ins: list[tuple[_Draft, Citizen, Job]] = []
    attempts = 0
    while len(ins) < n_in and kinds and attempts < 20 * n_in + 20:
        attempts += 1
        kind = rng.choices(kinds, [shares[k] for k in kinds])[0]
        worker = rng.choice(pools[kind])
        if worker.index in state.dead:
            continue
        start = day if rng.random() < 0.55 else day + dt.timedelta(days=rng.randrange(1, 15))
        hours: int | None = None
        end: dt.date | None = None
        if kind == "student":
            employer, worker_type = rng.choice(horeca), "STU"
            end = start + dt.timedelta(days=rng.randrange(0, 31))
            hours = min(650, 4 + rng.randrange(0, 8 * ((end - start).days + 1)))
        elif kind == "worker":
            employer, worker_type = rng.choice(horeca), rng.choice(("FLX", "EXT"))
            end = start if worker_type == "EXT" else None
        else:
            employer, worker_type = rng.choices(range(len(employers)), cum_weights=cumulative)[0], "OTH"
            if employers[employer].joint_committees.blue.startswith("322"):
                end = start + dt.timedelta(days=rng.choice((0, 0, 4, 11)))  # temporary work: daily or weekly
            elif rng.random() < 0.4:
                end = start + dt.timedelta(days=rng.randrange(0, 181))
        number = employers[employer].enterprise_number
        if (number, worker.index, start) in relations:
            continue
        relations.add((number, worker.index, start))
        committees = employers[employer].joint_committees
        blue = rng.random() < committees.blue_share
        category = "STUDENT" if worker_type == "STU" else "BLUE_COLLAR" if blue else "WHITE_COLLAR"
        committee = committees.blue if blue else committees.white
        job = Job(employer, worker.index, start, end, worker_type, committee, category, 0, hours)
        draft = state.add(DIMONA_IN, dimona_in(job, number, worker.niss, state.head(number)))
        ins.append((draft, worker, job))
        _close_unemployment(state, worker, start)
    _dimona_out_and_update(state, n_out, n_update)
    cancelled = rng.sample(ins, min(n_cancel, len(ins)))
    for draft, worker, job in cancelled:
        draft.protected = True
        number = employers[job.employer].enterprise_number
        record = {
            "envelope": state.head(number),
            "employer": number,
            "worker": worker.niss,
            "relation_start_date": job.start,
            "cancelled_ticket": None,
            "reason": rng.choice(_CANCEL_REASONS),
        }
        state.add(DIMONA_CANCEL, record)


def _close_unemployment(state: _Day, worker: Citizen, start: dt.date) -> None:
    """A job starts: the unemployment and job-seeker files close the day before."""
    last = start - dt.timedelta(days=1)
    for entry in worker.entries:
        if (entry.sector, entry.capacity) in _UNEMPLOYMENT_FILES and entry.end is None and entry.start <= last:
            closed = entry._replace(end=last)
            state.add(INTEGRATION, integration(closed, worker.niss, state.head(entry.institution), "UNREGISTER"))
            state.touched.add(worker.index)


def _dimona_out_and_update(state: _Day, n_out: int, n_update: int) -> None:
    population, rng, day = state.population, state.rng, state.day
    people, employers = population.citizens, population.employers
    open_jobs = [j for j in population.jobs if j.planned_end is None or j.planned_end >= day]
    chosen = rng.sample(open_jobs, min(len(open_jobs), n_out + n_update))
    for n, job in enumerate(chosen):
        worker = people[job.worker]
        number = employers[job.employer].enterprise_number
        if n < n_out:
            end = max(job.start, day + dt.timedelta(days=rng.randrange(-3, 31)))
            record = {
                "envelope": state.head(number),
                "employer": number,
                "worker": worker.niss,
                "relation_start_date": job.start,
                "end_date": end,
            }
            state.add(DIMONA_OUT, record)
            if worker.index not in state.dead and rng.random() < 0.3 and worker.age_on(day) < 60:
                _open_unemployment(state, worker, end + dt.timedelta(days=1))
        else:
            base = job.planned_end or day
            record = {
                "envelope": state.head(number),
                "employer": number,
                "worker": worker.niss,
                "relation_start_date": job.start,
                "new_start_date": None,
                "new_end_date": base + dt.timedelta(days=rng.randrange(7, 366)),
                "new_joint_committee": None,
                "new_worker_type": None,
            }
            state.add(DIMONA_UPDATE, record)


def _open_unemployment(state: _Day, worker: Citizen, start: dt.date) -> None:
    """After a job ends: registered as a job seeker (and, from 25, as an unemployed beneficiary)."""
    inst, rng = state.population.institutions, state.rng
    wanted = [("EMPLOYMENT_OFFICE", "JOB_SEEKER", inst.employment_office(worker.place))]
    if worker.age_on(state.day) >= 25:
        wanted.append(("UNEMPLOYMENT", "BENEFICIARY", inst.payment_body(rng)))
    for sector, capacity, institution in wanted:
        if institution is None or not inst.has(sector, capacity):
            continue
        if (worker.niss, sector, capacity) in state.opened or any(
            e.capacity == capacity and e.sector == sector and (e.end is None or e.end >= start) for e in worker.entries
        ):
            continue
        state.opened.add((worker.niss, sector, capacity))
        entry = FileEntry(institution, sector, capacity, start, None, "PROVISIONAL")
        state.add(INTEGRATION, integration(entry, worker.niss, state.head(institution)))
        state.touched.add(worker.index)


# -- DmfA -------------------------------------------------------------------------------------------------------


def _dmfa(state: _Day, share: float) -> None:
    population, rng = state.population, state.rng
    quarter, first, last = population.quarter
    days = (last - first).days + 1
    holidays = _PUBLIC_HOLIDAYS[(first.month - 1) // 3 + 1]
    by_employer: dict[int, list[Job]] = {}
    for job in population.jobs:
        if job.start <= last and (job.planned_end is None or job.planned_end >= first):
            by_employer.setdefault(job.employer, []).append(job)
    originals: list[_Draft] = []
    for employer in sorted(by_employer):
        if share < 1.0 and rng.random() >= share:
            continue
        lines: dict[tuple[str, str, str], dict[str, Any]] = {}
        for job in by_employer[employer]:
            worker = population.citizens[job.worker].niss
            key = (worker, job.category, job.joint_committee)
            if key in lines:
                continue
            lines[key] = _worker_line(rng, job, worker, first, last, days, holidays)
        number = population.employers[employer].enterprise_number
        record = {
            "envelope": state.head(number),
            "employer": number,
            "quarter": quarter,
            "nature": "ORIGINAL",
            "version": 1,
            "worker_lines": list(lines.values()),
        }
        originals.append(state.add(DMFA_DECLARATION, record))
    for original in rng.sample(originals, round(0.01 * len(originals))):
        original.protected = True
        correction = copy.deepcopy(original.record)
        correction["nature"], correction["version"] = "CORRECTION", 2
        line = rng.choice(correction["worker_lines"])
        line["gross_wage_cents"] = int(line["gross_wage_cents"] * (1.01 + rng.random() * 0.04))
        state.add(DMFA_DECLARATION, correction)


def _worker_line(
    rng: random.Random, job: Job, worker: str, first: dt.date, last: dt.date, days: int, holidays: int
) -> dict[str, Any]:
    start, end = max(first, job.start), min(last, job.planned_end or last)
    covered = (end - start).days + 1
    working = max(1, round(covered * 5 / 7))
    if job.worker_type == "STU" and job.planned_hours:
        working = min(working, max(1, job.planned_hours // 8))
    assimilated: list[dict[str, Any]] = []
    budget = working

    def assimilate(reason: str, wanted: int) -> None:
        nonlocal budget
        granted = min(wanted, budget - 1)
        if granted >= 1:
            assimilated.append({"reason": reason, "days": granted})
            budget -= granted

    if job.worker_type == "OTH":
        assimilate("PUBLIC_HOLIDAY", round(holidays * covered / days))
        assimilate("ANNUAL_LEAVE", rng.randrange(0, 9) * covered // days)
        if rng.random() < 0.08:
            assimilate("SICKNESS", rng.randrange(1, 16))
        if job.category == "BLUE_COLLAR" and rng.random() < 0.05:
            assimilate("TEMPORARY_UNEMPLOYMENT", rng.randrange(1, 21))
        if rng.random() < 0.005:
            assimilate("WORK_ACCIDENT", rng.randrange(1, 11))
    wage = job.monthly_wage_cents * 3 * covered // days
    return {
        "worker": worker,
        "worker_category": job.category,
        "joint_committee": job.joint_committee,
        "days_worked": budget,
        "gross_wage_cents": max(0, wage),
        "assimilated_days": assimilated,
    }


# -- consultations ----------------------------------------------------------------------------------------------


def _consultations(state: _Day, count: int, unauthorized_share: float) -> None:
    population, rng, day = state.population, state.rng, state.day
    network = population.network
    people = population.citizens
    if not people or not count:
        return
    granted: dict[tuple[str, str], list[str]] = {}
    refused: dict[tuple[str, str], list[str]] = {}
    for sector in network.sectors.values():
        for capacity in sector.capacities:
            key = (sector.code, capacity)
            granted[key] = [t for t in CONSULTATION_TYPES if network.authorization(*key, t, day) is not None]
            refused[key] = [t for t in CONSULTATION_TYPES if t not in granted[key]]
    institutions = sorted(network.institutions.values(), key=lambda i: i.enterprise_number)
    unauthorized = set(rng.sample(range(count), round(unauthorized_share * count)))
    made = 0
    attempts = 0
    while made < count and attempts < 50 * count:
        attempts += 1
        person = rng.choice(people)
        if person.index in state.touched:
            continue
        active = [e for e in person.entries if e.active_on(day)]
        if made not in unauthorized:
            candidates = [e for e in active if granted.get((e.sector, e.capacity))]
            if not candidates:
                continue
            entry = rng.choice(candidates)
            _consult(
                state, person, entry.institution, entry.capacity, rng.choice(granted[(entry.sector, entry.capacity)])
            )
            made += 1
            continue
        wrong_type = [e for e in active if refused.get((e.sector, e.capacity))]
        if wrong_type and rng.random() < 0.5:
            entry = rng.choice(wrong_type)
            data_type = rng.choice(refused[(entry.sector, entry.capacity)])
            _consult(state, person, entry.institution, entry.capacity, data_type, refusal="data_type")
            made += 1
            continue
        institution = rng.choice(institutions)
        capacities = sorted(network.sectors[institution.sector].capacities)
        capacity = rng.choice(capacities)
        holds = any(e.institution == institution.enterprise_number and e.capacity == capacity for e in active)
        if holds:
            continue
        _consult(state, person, institution.enterprise_number, capacity, rng.choice(CONSULTATION_TYPES), "no_file")
        made += 1


def _consult(
    state: _Day, person: Citizen, requester: str, capacity: str, data_type: str, refusal: str | None = None
) -> None:
    record = {
        "envelope": state.head(requester),
        "requester": requester,
        "person": person.niss,
        "data_type": data_type,
        "capacity": capacity,
        "as_of": state.day,
    }
    state.add(CONSULTATION_REQUEST, record, authorized=refusal is None, refusal=refusal)


# -- breaking records on purpose --------------------------------------------------------------------------------

# the field naming the person each declaration type is about (the one broken on purpose, the one fuzzed)
PERSON_FIELD = {
    DIMONA_IN: "worker",
    DIMONA_OUT: "worker",
    DIMONA_UPDATE: "worker",
    DIMONA_CANCEL: "worker",
    BIRTH: "child",
    ADDRESS_CHANGE: "person",
    DEATH: "person",
    CIVIL_STATUS_CHANGE: "person",
    INTEGRATION: "person",
    CONSULTATION_REQUEST: "person",
}


def _break(rng: random.Random, draft: _Draft) -> tuple[dict[str, Any], str]:
    """A copy of the record broken in one known way, and the violation code the intake will report."""
    record = copy.deepcopy(draft.record)
    schema = draft.schema
    options = ["niss"]
    if schema in (DIMONA_IN, DIMONA_OUT, DIMONA_CANCEL, DMFA_DECLARATION):
        options.append("enterprise")
    if schema in (DIMONA_IN, DIMONA_OUT, DIMONA_UPDATE, DMFA_DECLARATION, BIRTH, DEATH, INTEGRATION):
        options.append("content")
    if schema == ADDRESS_CHANGE and record["address"]["country"] == "BE":
        options.append("content")
    if schema in (CIVIL_STATUS_CHANGE, CONSULTATION_REQUEST):
        options.append("content")
    how = rng.choice(options)
    if how == "niss":
        if schema == DMFA_DECLARATION:
            line = rng.choice(record["worker_lines"])
            line["worker"] = break_niss(line["worker"])
        else:
            name = PERSON_FIELD[schema]
            record[name] = break_niss(record[name])
        return record, "niss.check_digits"
    if how == "enterprise":
        record["employer"] = break_enterprise(record["employer"])
        return record, "enterprise.check_digits"
    return record, _break_content(rng, schema, record)


def _break_content(rng: random.Random, schema: str, record: dict[str, Any]) -> str:
    before = dt.timedelta(days=rng.randrange(1, 31))
    if schema == DIMONA_IN:
        record["planned_end_date"] = record["start_date"] - before
        return "dimona.planned_end_before_start"
    if schema == DIMONA_OUT:
        record["end_date"] = record["relation_start_date"] - before
        return "dimona.end_before_start"
    if schema == DIMONA_UPDATE:
        record["new_end_date"] = None
        return "dimona.update_empty"
    if schema == DMFA_DECLARATION:
        if rng.random() < 0.5:
            record["quarter"] = record["quarter"][:-1] + "5"
            return "dmfa.quarter_format"
        line = rng.choice(record["worker_lines"])
        line["days_worked"] = 93
        return "dmfa.days_exceed_quarter"
    if schema == BIRTH:
        record["birth_date"] = record["birth_date"] + dt.timedelta(days=1)
        return "civil.birth_date_mismatch"
    if schema == DEATH:
        born = parse_niss(record["person"]).birth_date
        assert born is not None
        record["date_of_death"] = born - before
        return "civil.death_before_birth"
    if schema == ADDRESS_CHANGE:
        if rng.random() < 0.5:
            record["address"]["postal_code"] = "0999"
            return "address.postal_code"
        record["address"]["municipality_nis"] = None
        return "address.municipality_required"
    if schema == CIVIL_STATUS_CHANGE:
        if record["civil_status"] in ("MARRIED", "LEGALLY_COHABITING"):
            record["partner"] = None
            return "civil.partner_required"
        record["partner"] = record["person"]
        return "civil.partner_is_person"
    if schema == INTEGRATION:
        record["period"]["end"] = record["period"]["start"] - before
        return "period.end_before_start"
    if schema == CONSULTATION_REQUEST:
        # a valid enterprise number, but not the sender's: an institution consulting in another's name
        record["requester"] = NATIONAL_REGISTER
        return "consultation.requester_not_sender"
    raise AssertionError(f"no way to break {schema}")
