"""A generated data set of facts and a naive pure-Python oracle of the warehouse's statistics and OASIS flags.

The oracle reads the *facts* (with national numbers), never the warehouse, and is written from the
definitions in docs/analysts.md, not from the SQL: the integration test (real ClickHouse 18.16) and the chdb
test (a current engine) compare the warehouse's answers with it. The tests in this module check that the
data set really exercises every rule (so an empty comparison cannot pass by accident).
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import belgica

from streams.domain.identifiers import parse_niss
from tests.support import (
    Declaration,
    address_change,
    birth,
    civil_status_change,
    death,
    dimona_cancel,
    dimona_in,
    dimona_out,
    dimona_update,
    dmfa,
    enterprise_number,
    envelope,
    integration,
    niss,
    worker_line,
)

QUARTER = "2026-Q1"
Q_FIRST, Q_LAST = dt.date(2026, 1, 1), dt.date(2026, 3, 31)
MUNICIPALITIES = ("21004", "11002", "62063", "44021", "92094")
RECORDED = dt.datetime(2026, 4, 1, 8, tzinfo=dt.UTC)
_NS = uuid.UUID("5d8e9d40-5a8f-4d43-9f1e-2b0d7c6b1a11")

Fact = tuple[str, dict[str, Any]]


@dataclass
class Dataset:
    facts: list[Fact] = field(default_factory=list)
    employers: list[tuple[str, str, str]] = field(default_factory=list)  # enterprise, NACE code, municipality

    def add(self, declaration: Declaration) -> None:
        """The declaration, its envelope (from its sender) stamped as the n-th fact: a ticket, a reference and a
        recording time that the same seed always gives again."""
        schema, record = declaration
        index = len(self.facts)
        record["envelope"] = envelope(
            record["envelope"]["sender"],
            ticket=str(uuid.uuid5(_NS, str(index))),
            reference=f"gen-{index}",
            recorded_at=RECORDED + dt.timedelta(seconds=index),
        )
        self.facts.append((schema, record))

    def csv(self) -> str:
        return "enterprise_number,nace_code,municipality_nis\n" + "".join(
            f"{e},{n},{m}\n" for e, n, m in self.employers
        )


def generate(seed: int = 7, persons: int = 160) -> Dataset:
    rng = random.Random(seed)
    data = Dataset()
    employers = [enterprise_number(400_000 + n) for n in range(8)]
    naces = ["47110", "47190", "47300", "41201", "41202", "43210", "62010", "62020"]
    data.employers = [(e, n, rng.choice(MUNICIPALITIES)) for e, n in zip(employers, naces, strict=True)]
    data.employers.pop()  # the last employer is not in the dimension: sector and region "unknown"

    people: list[str] = []
    used: set[str] = set()
    serial = 0
    while len(people) < persons + 40:
        born = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(0, 80 * 365))
        serial += 1
        female = rng.random() < 0.5
        number = niss(born, serial=(serial % 400 + 1) * 2 + (0 if female else 1))
        if number not in used:
            used.add(number)
            people.append(number)
    residents, newcomers = people[:persons], people[persons:]

    for i, person in enumerate(residents):
        born = parse_niss(person).birth_date
        assert born is not None
        home = rng.choice(MUNICIPALITIES)
        if born.year >= 2000 and i % 3 == 0:
            data.add(birth(person, [], born, municipality=home))
        else:
            moved = born + dt.timedelta(days=rng.randrange(0, 20 * 365))
            data.add(address_change(person, min(moved, dt.date(2025, 12, 1)), municipality=home))
        if i % 7 == 0:
            data.add(address_change(person, dt.date(2026, 2, 10), municipality=rng.choice(MUNICIPALITIES)))
        if i % 11 == 0:
            data.add(address_change(person, dt.date(2025, 6, 1), municipality=None))
        if i % 13 == 0:
            day = dt.date(2024, 6, 1) if i % 2 else dt.date(2026, 5, 1)
            data.add(death(person, day, municipality=home))
        if i % 5 == 0:
            data.add(civil_status_change(person, dt.date(2015, 5, 5), "DIVORCED", partner=None))

    # standing relations, some ending in the quarter (exits), one in four moved by an UPDATE
    workforce: dict[str, list[str]] = defaultdict(list)
    for i, person in enumerate(residents[:120]):
        employer = employers[i % 8]
        start = dt.date(2018, 1, 1) + dt.timedelta(days=rng.randrange(0, 2000))
        data.add(dimona_in(employer, person, start))
        workforce[employer].append(person)
        if i % 9 == 0:
            day = Q_FIRST + dt.timedelta(days=rng.randrange(0, 90))
            data.add(dimona_out(employer, person, start, day))
        elif i % 10 == 0:
            data.add(dimona_update(employer, person, start, new_end=Q_FIRST + dt.timedelta(days=40)))
    # employer 1: massive hiring in the first week of the quarter
    for person in newcomers[:12]:
        data.add(dimona_in(employers[1], person, dt.date(2026, 1, 2) + dt.timedelta(days=rng.randrange(0, 5))))
    # employer 2: six hires, all cancelled
    for person in newcomers[12:18]:
        start = dt.date(2026, 2, 1) + dt.timedelta(days=rng.randrange(0, 20))
        data.add(dimona_in(employers[2], person, start))
        data.add(dimona_cancel(employers[2], person, start, reason=None))
    # employer 4: hires during temporary unemployment
    for person in newcomers[18:20]:
        data.add(dimona_in(employers[4], person, dt.date(2026, 3, 2), dt.date(2026, 6, 30)))

    for n, employer in enumerate(employers):
        lines = []
        for person in workforce[employer]:
            assimilated = []
            if n == 3:
                assimilated.append({"reason": "SICKNESS", "days": 20})
            elif rng.random() < 0.2:
                assimilated.append(
                    {"reason": rng.choice(["SICKNESS", "WORK_ACCIDENT", "ANNUAL_LEAVE"]), "days": rng.randrange(1, 3)}
                )
            if n == 4:
                assimilated.append({"reason": "TEMPORARY_UNEMPLOYMENT", "days": 10})
            lines.append(
                worker_line(
                    person,
                    days_worked=rng.randrange(30, 65),
                    gross_wage_cents=rng.randrange(500_000, 1_500_000),
                    assimilated_days=assimilated,
                )
            )
        data.add(dmfa(employer, lines, QUARTER, 1))
        if n == 5:  # a correction supersedes the original: fewer lines, other days
            corrected = [{**line, "days_worked": 10} for line in lines[: len(lines) // 2]]
            data.add(dmfa(employer, corrected, QUARTER, 2))

    institutions = {
        "UNEMPLOYMENT": "0570880434",
        "PENSIONS": "0987406649",
        "MUTUALITY": "0206731645",
        "CPAS": "0432837160",
    }
    for i, person in enumerate(residents):
        kind = None
        if i % 6 == 0:
            kind = ("UNEMPLOYMENT", "BENEFICIARY", dt.date(2024, 1, 1))
        elif i % 9 == 0:
            kind = ("PENSIONS", "PENSIONER", dt.date(2015, 1, 1))
        elif i % 10 == 1:
            kind = ("MUTUALITY", "INCAPACITY", dt.date(2025, 3, 1))
        elif i % 17 == 2:
            kind = ("CPAS", "INTEGRATION_INCOME", dt.date(2025, 9, 1))
        if kind is None:
            continue
        sector, capacity, start = kind
        holder = institutions[sector]
        data.add(integration(holder, sector, capacity, person, start))
        if i % 4 == 0:
            end = max(start, dt.date(2025, 6, 30))
            data.add(integration(holder, sector, capacity, person, start, end, action="UNREGISTER"))
    return data


# -- the oracle ------------------------------------------------------------------------------------------------


def _short(schema: str) -> str:
    return schema.rpartition(".")[2]


def _order(record: dict[str, Any]) -> tuple[dt.datetime, str]:
    return record["envelope"]["recorded_at"], record["envelope"]["ticket"]


def _day(value: dt.date) -> dt.date:
    # documented: the warehouse stores days before 1970-01-01 (ClickHouse 18.16's Date) as that day
    return max(value, dt.date(1970, 1, 1))


def _age_class(birth: dt.date, at: dt.date) -> str:
    age = at.year - birth.year - ((at.month, at.day) < (birth.month, birth.day))
    for upper, label in ((18, "0-17"), (25, "18-24"), (35, "25-34"), (45, "35-44"), (55, "45-54"), (65, "55-64")):
        if age < upper:
            return label
    return "65+"


def _area(municipality: str, level: str) -> str:
    m = belgica.get_municipality(municipality)
    if m is None:
        return "unknown"
    return {
        "municipality": municipality,
        "arrondissement": municipality[:2] + "000",
        "province": m.get("province") or m["region"],
        "region": m["region"],
    }[level]


def oracle_population(facts: Iterable[Fact], at: dt.date, level: str) -> Counter[tuple[str, str, str]]:
    events: dict[str, list[tuple[tuple[Any, ...], str]]] = defaultdict(list)
    dead: set[str] = set()
    births: dict[str, dt.date] = {}
    for schema, record in facts:
        name = _short(schema)
        if name == "Birth":
            births[record["child"]] = record["birth_date"]
            if record["birth_date"] <= at:
                events[record["child"]].append(
                    ((record["birth_date"], *_order(record)), record["municipality_nis"] or "")
                )
        elif name == "AddressChange" and record["effective_date"] <= at:
            address = record["address"]
            code = (address["municipality_nis"] or "") if address["country"] == "BE" else ""
            events[record["person"]].append(((_day(record["effective_date"]), *_order(record)), code))
        elif name == "Death" and record["date_of_death"] <= at:
            dead.add(record["person"])
    result: Counter[tuple[str, str, str]] = Counter()
    for person, residences in events.items():
        municipality = max(residences)[1]
        if person in dead or not municipality:
            continue
        number = parse_niss(person)
        birth = births.get(person, number.birth_date)
        if birth is not None and birth > at:
            continue
        sex = str(number.sex) if number.sex else "U"
        result[(_area(municipality, level), sex, _age_class(birth, at) if birth else "unknown")] += 1
    return result


def in_force(facts: Iterable[Fact], quarter: str) -> dict[str, dict[str, Any]]:
    best: dict[str, dict[str, Any]] = {}
    for schema, record in facts:
        if _short(schema) == "DmfaDeclaration" and record["quarter"] == quarter:
            rank = (record["version"], *_order(record))
            current = best.get(record["employer"])
            if current is None or rank > (current["version"], *_order(current)):
                best[record["employer"]] = record
    return best


def oracle_employment(data: Dataset, quarter: str) -> Counter[tuple[str, str, str]]:
    dimension = {e: (n[:2], m) for e, n, m in data.employers}
    cells: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for employer, declaration in in_force(data.facts, quarter).items():
        division, municipality = dimension.get(employer, ("unknown", ""))
        region = _area(municipality, "region") if municipality else "unknown"
        for line in declaration["worker_lines"]:
            cells[(quarter, division, region)].add(line["worker"])
    return Counter({key: len(workers) for key, workers in cells.items()})


@dataclass
class Relation:
    declared: bool = False
    cancelled: bool = False
    start: dt.date | None = None
    end: dt.date | None = None


def relations(facts: Iterable[Fact]) -> dict[tuple[str, str, dt.date], Relation]:
    found: dict[tuple[str, str, dt.date], Relation] = defaultdict(Relation)
    dimona = sorted((r for s, r in facts if _short(s).startswith("Dimona")), key=_order)
    for record in dimona:
        if "start_date" in record:  # IN
            relation = found[(record["employer"], record["worker"], record["start_date"])]
            relation.declared = True
            relation.start = relation.start or record["start_date"]
            relation.end = record["planned_end_date"] or relation.end
            continue
        relation = found[(record["employer"], record["worker"], record["relation_start_date"])]
        relation.start = relation.start or record["relation_start_date"]
        if "end_date" in record:  # OUT
            relation.end = record["end_date"]
        elif "new_end_date" in record:  # UPDATE
            relation.start = record["new_start_date"] or relation.start
            relation.end = record["new_end_date"] or relation.end
        else:  # CANCEL
            relation.cancelled = True
    return found


def _position(person: str, at: dt.date, facts: list[Fact], rels: dict[tuple[str, str, dt.date], Relation]) -> str:
    for schema, record in facts:
        if _short(schema) == "Death" and record["person"] == person and record["date_of_death"] <= at:
            return "DECEASED"
    for (_, worker, _), r in rels.items():
        if (
            worker == person
            and r.declared
            and not r.cancelled
            and r.start
            and r.start <= at
            and (r.end is None or r.end >= at)
        ):
            return "EMPLOYED"
    files: dict[tuple[str, str, str, dt.date], tuple[tuple[Any, ...], dt.date | None]] = {}
    for schema, record in facts:
        if _short(schema) == "Integration" and record["person"] == person:
            key = (record["institution"], record["sector"], record["capacity"], record["period"]["start"])
            rank = _order(record)
            if key not in files or rank > files[key][0]:
                files[key] = (rank, record["period"]["end"])
    active = {(s, c) for (_, s, c, start), (_, end) in files.items() if start <= at and (end is None or end >= at)}
    for position, capacities in (
        (
            "UNEMPLOYED",
            {
                ("UNEMPLOYMENT", "BENEFICIARY"),
                ("EMPLOYMENT_OFFICE", "JOB_SEEKER"),
                ("EMPLOYMENT_OFFICE", "SCHOOL_LEAVER"),
            },
        ),
        ("INCAPACITY", {("MUTUALITY", "INCAPACITY")}),
        ("PENSIONER", {("PENSIONS", "PENSIONER"), ("PENSIONS", "INCOME_GUARANTEE")}),
        ("SOCIAL_ASSISTANCE", {("CPAS", "INTEGRATION_INCOME"), ("CPAS", "SOCIAL_AID")}),
    ):
        if active & capacities:
            return position
    return "OTHER"


def oracle_mobility(facts: list[Fact], first: dt.date, second: dt.date) -> Counter[tuple[str, str]]:
    people: set[str] = set()
    for schema, record in facts:
        name = _short(schema)
        if name == "Birth":
            people.add(record["child"])
        elif name.startswith("Dimona"):
            people.add(record["worker"])
        elif name in ("AddressChange", "CivilStatusChange", "Death", "Integration"):
            people.add(record["person"])
    rels = relations(facts)
    return Counter((_position(p, first, facts, rels), _position(p, second, facts, rels)) for p in people)


@dataclass(frozen=True)
class Thresholds:
    factor: Fraction = Fraction(3, 2)
    tu_days: int = 20
    hires_with_tu: int = 1
    massive: int = 10
    window: int = 7
    cancellations: int = 5


def oracle_oasis(data: Dataset, quarter: str, t: Thresholds = Thresholds()) -> dict[str, set[str]]:
    first, last = Q_FIRST, Q_LAST
    sector = {e: n[:2] for e, n, _ in data.employers}
    stats: dict[str, dict[str, Any]] = defaultdict(lambda: defaultdict(int))
    for employer, declaration in in_force(data.facts, quarter).items():
        s = stats[employer]
        s["workers"] = len({line["worker"] for line in declaration["worker_lines"]})
        for line in declaration["worker_lines"]:
            s["worked"] += line["days_worked"]
            for a in line["assimilated_days"]:
                if a["reason"] in ("SICKNESS", "WORK_ACCIDENT", "OCCUPATIONAL_DISEASE"):
                    s["sick"] += a["days"]
                elif a["reason"] == "TEMPORARY_UNEMPLOYMENT":
                    s["tu"] += a["days"]
    windows: dict[str, Counter[int]] = defaultdict(Counter)
    for (employer, _, relation_start), r in relations(data.facts).items():
        s = stats[employer]
        if r.cancelled and first <= relation_start <= last:
            s["cancellations"] += 1
        if r.declared and not r.cancelled and r.start and first <= r.start <= last:
            s["hires"] += 1
            windows[employer][(r.start - first).days // t.window] += 1
        if r.declared and not r.cancelled and r.end and first <= r.end <= last:
            s["exits"] += 1
    active = {e: s for e, s in stats.items() if s["workers"] or s["hires"] or s["exits"] or s["cancellations"]}
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for e, s in active.items():
        total = sums[sector.get(e, "")]
        total[0] += s["sick"]
        total[1] += s["worked"] + s["sick"]
        total[2] += s["hires"] + s["exits"]
        total[3] += max(s["workers"], 1)
    flags: dict[str, set[str]] = {}
    for e, s in active.items():
        total = sums[sector.get(e, "")]
        fired = set()
        if s["sick"] and Fraction(s["sick"], s["worked"] + s["sick"]) > t.factor * Fraction(total[0], total[1]):
            fired.add("assimilated_days_above_sector")
        if s["tu"] >= t.tu_days and s["hires"] >= t.hires_with_tu:
            fired.add("temporary_unemployment_with_hires")
        if max(windows[e].values(), default=0) >= t.massive:
            fired.add("massive_hiring")
        if s["cancellations"] >= t.cancellations:
            fired.add("cancelled_dimona")
        moves = s["hires"] + s["exits"]
        if moves and Fraction(moves, max(s["workers"], 1)) > t.factor * Fraction(total[2], total[3]):
            fired.add("turnover_above_sector")
        if fired:
            flags[e] = fired
    return flags


def oracle_flagged_persons(
    data: Dataset, quarter: str, t: Thresholds = Thresholds()
) -> dict[str, set[tuple[str, str]]]:
    """The workers (NISS) each flag is about, with (employer, indicator): the lines with sickness or accident
    days (assimilated days above the sector), with temporary-unemployment days and the hires (temporary
    unemployment with hires), the hires (massive hiring), the cancelled relations (cancelled DIMONA), the hires
    and exits (turnover)."""
    first, last = Q_FIRST, Q_LAST
    about: dict[tuple[str, str], set[str]] = defaultdict(set)  # (employer, role) -> workers
    for employer, declaration in in_force(data.facts, quarter).items():
        for line in declaration["worker_lines"]:
            for a in line["assimilated_days"]:
                if a["days"] > 0 and a["reason"] in ("SICKNESS", "WORK_ACCIDENT", "OCCUPATIONAL_DISEASE"):
                    about[(employer, "sick")].add(line["worker"])
                elif a["days"] > 0 and a["reason"] == "TEMPORARY_UNEMPLOYMENT":
                    about[(employer, "tu")].add(line["worker"])
    for (employer, worker, relation_start), r in relations(data.facts).items():
        if r.cancelled and first <= relation_start <= last:
            about[(employer, "cancelled")].add(worker)
        if r.declared and not r.cancelled and r.start and first <= r.start <= last:
            about[(employer, "hire")].add(worker)
        if r.declared and not r.cancelled and r.end and first <= r.end <= last:
            about[(employer, "exit")].add(worker)
    roles = {
        "assimilated_days_above_sector": ("sick",),
        "temporary_unemployment_with_hires": ("tu", "hire"),
        "massive_hiring": ("hire",),
        "cancelled_dimona": ("cancelled",),
        "turnover_above_sector": ("hire", "exit"),
    }
    flagged: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for employer, indicators in oracle_oasis(data, quarter, t).items():
        for indicator in indicators:
            for role in roles[indicator]:
                for worker in about[(employer, role)]:
                    flagged[worker].add((employer, indicator))
    return dict(flagged)


# -- the data set exercises every rule -----------------------------------------------------------------------


def test_the_data_set_is_deterministic_and_valid() -> None:
    first, second = generate(), generate()
    assert [r["envelope"]["ticket"] for _, r in first.facts] == [r["envelope"]["ticket"] for _, r in second.facts]
    from streams.domain.kinds import validate

    for schema, record in first.facts:
        assert validate(schema, dict(record)) == [], (schema, record)


def test_the_oracle_sees_every_indicator_fire() -> None:
    data = generate()
    fired = set().union(*oracle_oasis(data, QUARTER).values())
    assert fired == {
        "assimilated_days_above_sector",
        "temporary_unemployment_with_hires",
        "massive_hiring",
        "cancelled_dimona",
        "turnover_above_sector",
    }


def test_the_oracle_statistics_are_not_trivial() -> None:
    data = generate()
    population = oracle_population(data.facts, Q_LAST, "municipality")
    assert sum(population.values()) > 100 and len({area for area, _, _ in population}) == len(MUNICIPALITIES)
    employment = oracle_employment(data, QUARTER)
    assert ("2026-Q1", "unknown", "unknown") in employment and len(employment) >= 4
    mobility = oracle_mobility(data.facts, dt.date(2025, 1, 1), Q_LAST)
    assert {a for a, _ in mobility} >= {"EMPLOYED", "UNEMPLOYED", "PENSIONER", "DECEASED", "OTHER"}
    assert any(a != b for a, b in mobility)


def test_the_oracle_flags_some_workers_but_not_all() -> None:
    data = generate()
    flagged = oracle_flagged_persons(data, QUARTER)
    workers = {r["worker"] for s, r in data.facts if _short(s).startswith("Dimona")}
    assert 10 < len(flagged) < len(workers)
    indicators = {indicator for reasons in flagged.values() for _, indicator in reasons}
    assert indicators == set().union(*oracle_oasis(data, QUARTER).values())
