"""The synthetic Belgium (streams.synthetic, `crossroads generate`): deterministic, valid where it says so,
broken and unauthorized exactly where and as much as it says — judged by the platform's own rules."""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from streams.cli import check
from streams.cli import generate as generate_cli
from streams.domain.consult import decide
from streams.domain.directory import PersonFile, apply_integration
from streams.domain.identifiers import EnterpriseNumber, NationalNumber, Sex, parse_niss
from streams.domain.kinds import validate
from streams.domain.network import Network
from streams.synthetic import (
    NATIONAL_REGISTER,
    Generated,
    Population,
    day_volumes,
    generate_day,
    generate_population,
    sample_network,
    write_dataset,
)
from streams.synthetic.geography import municipalities

CITIZENS = 5_000


@pytest.fixture(scope="module")
def network() -> Network:
    return sample_network()


@pytest.fixture(scope="module")
def population(network: Network) -> Population:
    return generate_population(CITIZENS, seed=7, network=network)


@pytest.fixture(scope="module")
def day(population: Population) -> list[Generated]:
    return list(generate_day(population))


@pytest.fixture(scope="module")
def directory(population: Population, day: list[Generated], network: Network) -> dict[str, PersonFile]:
    """Every valid integration (population, then the day) applied with the directory's own rules."""
    files: dict[str, PersonFile] = defaultdict(PersonFile)
    refusals = []
    integrations = (g for g in itertools.chain(population.integration_records(), day) if g.family == "integrations")
    for n, item in enumerate(integrations):
        if item.invalid:
            continue
        person = item.record["person"]
        outcome = apply_integration(files[person], item.record, f"ticket-{n}", network)
        if isinstance(outcome, tuple):
            refusals.append(([r.code for r in outcome], item.record))
        else:
            files[person] = outcome.file
    assert refusals == []
    return files


def _lines(population: Population, day: list[Generated]) -> list[bytes]:
    return [g.json_line() for g in itertools.chain(population.records(), day)]


# -- determinism ---------------------------------------------------------------------------------------------


def test_the_same_seed_gives_the_same_output_and_another_seed_another(network: Network) -> None:
    def run(seed: int) -> list[bytes]:
        population = generate_population(400, seed=seed, network=network)
        return _lines(population, list(generate_day(population)))

    first = run(11)
    assert first == run(11)
    assert first != run(12)


# -- the population ------------------------------------------------------------------------------------------


def test_every_national_number_is_valid_unique_and_tells_the_citizens_sex_and_birth(population: Population) -> None:
    numbers = [c.niss for c in population.citizens]
    assert len(set(numbers)) == len(numbers)
    for citizen in population.citizens:
        parsed = parse_niss(citizen.niss)
        assert isinstance(parsed, NationalNumber)
        assert parsed.birth_date == citizen.birth
        assert parsed.sex == (Sex.FEMALE if citizen.female else Sex.MALE)


def test_every_enterprise_number_is_valid_and_no_employer_is_an_institution(population: Population) -> None:
    numbers = [e.enterprise_number for e in population.employers]
    assert len(set(numbers)) == len(numbers)
    assert not set(numbers) & (set(population.network.institutions) | {NATIONAL_REGISTER})
    for number in numbers:
        assert EnterpriseNumber.parse(number).digits == number
    assert all(re.fullmatch(r"\d{5}", e.nace_code) for e in population.employers)


def test_sexes_ages_and_places_look_like_belgium(population: Population) -> None:
    women = sum(c.female for c in population.citizens) / CITIZENS
    assert 0.47 < women < 0.54
    ages = [c.age_on(population.day) for c in population.citizens]
    assert 0.16 < sum(a < 18 for a in ages) / CITIZENS < 0.24  # Statbel: about 20 %
    assert 0.17 < sum(a >= 65 for a in ages) / CITIZENS < 0.24  # Statbel: about 20 %
    assert max(ages) <= 105
    known = {m.nis for m in municipalities()}
    assert all(c.place.nis in known for c in population.citizens)
    regions = Counter(c.place.region for c in population.citizens)
    assert regions["02000"] > regions["03000"] > regions["04000"]  # Flanders, Wallonia, Brussels


def test_children_born_in_the_simulated_period_name_their_parents(population: Population) -> None:
    births = [g for g in population.civil_records() if g.schema == "be.crossroads.civil.Birth"]
    assert births  # about 1 % of the population is born in the last year
    by_niss = {c.niss: c for c in population.citizens}
    for birth in births:
        record = birth.record
        assert record["birth_date"] >= population.births_from
        assert 1 <= len(record["parents"]) <= 2
        mother = by_niss[record["parents"][0]]
        assert mother.female and mother.age_on(record["birth_date"]) >= 16
    with_two = sum(len(b.record["parents"]) == 2 for b in births)
    assert with_two > len(births) / 2


def test_a_citizen_is_known_to_about_eleven_files_as_in_the_seed(population: Population) -> None:
    assert 10.0 <= population.entries_per_citizen() <= 12.0
    assert all(c.entries for c in population.citizens)  # at least a mutuality


def test_directory_pairs_exist_in_the_network_and_no_period_overlaps(population: Population) -> None:
    network = population.network
    for citizen in population.citizens:
        periods: dict[tuple[str, str], list[tuple[dt.date, dt.date | None]]] = defaultdict(list)
        for entry in citizen.entries:
            assert network.sector_of(entry.institution) == entry.sector
            assert network.is_capacity(entry.sector, entry.capacity)
            assert entry.end is None or entry.start <= entry.end < population.day
            periods[(entry.sector, entry.capacity)].append((entry.start, entry.end))
        for spans in periods.values():
            spans.sort()
            for (_, end), (start, _) in itertools.pairwise(spans):
                assert end is not None and end < start  # anti-fraud: one institution per sector+capacity+period


def test_the_directory_accepts_every_generated_integration(
    population: Population, directory: dict[str, PersonFile]
) -> None:
    # (the fixture asserts that no integration was refused: no anti-fraud overlap, valid sector and capacity, ...)
    assert len(directory) >= CITIZENS  # the population and the day's newborns
    assert sum(len(f.entries) for f in directory.values()) >= sum(len(c.entries) for c in population.citizens)


# -- the day -------------------------------------------------------------------------------------------------


def test_the_day_has_the_scaled_volumes(population: Population, day: list[Generated]) -> None:
    volumes = day_volumes(CITIZENS)
    kinds = Counter(g.schema.rpartition(".")[2] for g in day)
    dimona = sum(kinds[k] for k in ("DimonaIn", "DimonaOut", "DimonaUpdate", "DimonaCancel"))
    assert int(volumes.dimona) <= dimona <= int(volumes.dimona) + 1
    assert int(volumes.consultations) <= kinds["ConsultationRequest"] <= int(volumes.consultations) + 1
    _, first, last = population.quarter
    with_jobs = {j.employer for j in population.jobs if j.start <= last and (j.planned_end or last) >= first}
    originals = sum(g.schema.endswith("DmfaDeclaration") and g.record["nature"] == "ORIGINAL" for g in day)
    assert originals == len(with_jobs)


def test_senders_are_who_the_platform_expects(population: Population, day: list[Generated]) -> None:
    for item in itertools.chain(population.records(), day):
        record = item.record
        if item.family in ("dimona", "dmfa"):
            assert item.sender == record["employer"] or item.invalid == "enterprise.check_digits"
        elif item.family == "civil":
            assert item.sender == NATIONAL_REGISTER
        elif item.family == "integrations":
            assert item.sender == record["institution"]
        else:
            assert item.sender == record["requester"] or item.invalid == "consultation.requester_not_sender"


def test_valid_records_pass_validation_and_invalid_ones_fail_with_their_code(
    population: Population, day: list[Generated]
) -> None:
    for item in itertools.chain(population.records(), day):
        codes = {v.code for v in validate(item.schema, item.record)}
        if item.invalid is None:
            assert codes == set(), (item.schema, codes)
        else:
            assert codes == {item.invalid}, (item.schema, item.invalid, codes)
    assert all(g.invalid is None for g in population.records())
    assert sum(g.invalid is not None for g in day) == round(0.01 * len(day))


def test_invalid_share_is_exact_and_breaks_records_in_several_known_ways(population: Population) -> None:
    day = list(generate_day(population, invalid_share=0.2))
    broken = [g for g in day if g.invalid]
    assert len(broken) == round(0.2 * len(day))
    assert len({g.invalid for g in broken}) >= 6
    assert all(not validate(g.schema, g.record) for g in day if not g.invalid)


def test_consultations_are_refused_exactly_when_the_matrix_and_the_directory_say_so(
    day: list[Generated], directory: dict[str, PersonFile], network: Network
) -> None:
    requests = [g for g in day if g.family == "consultations"]
    valid = [g for g in requests if g.invalid is None]
    for item in valid:
        record = item.record
        answer = decide(directory[record["person"]], network, record)
        # authorized: granted, or allowed but nothing found (NOT_FOUND); unauthorized: refused
        assert (answer.status != "REFUSED") is item.authorized, (record, answer.reason, item.refusal)
        if item.authorized:
            sector = network.sector_of(record["requester"])
            assert sector is not None
            assert network.authorization(sector, record["capacity"], record["data_type"], record["as_of"])
    unauthorized = [g for g in valid if g.authorized is False]
    assert len(unauthorized) == round(0.05 * len(requests))
    assert {g.refusal for g in unauthorized} == {"no_file", "data_type"}


# -- on disk ---------------------------------------------------------------------------------------------------


def _app() -> typer.Typer:
    app = typer.Typer()
    generate_cli.register(app)

    @app.callback()
    def main() -> None:
        """crossroads"""

    return app


def test_crossroads_generate_writes_the_files_and_check_file_reports_exactly_the_invalid_records(
    tmp_path: Path,
) -> None:
    out = tmp_path / "synthetic"
    result = CliRunner().invoke(
        _app(),
        ["generate", "--citizens", "1500", "--seed", "3", "--out", str(out), "--invalid-share", "0.05", "--no-history"],
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 3 and manifest["citizens"] == 1500
    expected_lines = manifest["expected"]["invalid_lines"]
    assert sum(len(v) for v in expected_lines.values()) == manifest["expected"]["invalid"] > 0
    for name, info in manifest["files"].items():
        path = out / name
        assert sum(1 for _ in path.open()) == info["records"]
        report = CliRunner().invoke(check.app, ["file", str(path)])
        failing = {int(m) for m in re.findall(r"^record (\d+)\s", report.output, flags=re.MULTILINE)}
        assert failing == set(expected_lines.get(name, [])), name
        assert report.exit_code == (1 if failing else 0)
        assert f"{info['records']} records checked" in report.output
    with (out / "employers.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == manifest["population"]["employers"]
    assert {"enterprise_number", "nace_code", "municipality_nis"} <= set(rows[0])


def test_employers_csv_loads_as_the_warehouse_dimension(tmp_path: Path, population: Population) -> None:
    from connectors.clickhouse.dimensions import parse_employers
    from streams.synthetic import write_employers

    path = tmp_path / "employers.csv"
    write_employers(population, path)
    with path.open(newline="") as handle:
        rows = parse_employers(handle, str(path))
    assert [r.employer for r in rows] == [e.enterprise_number for e in population.employers]


def test_write_dataset_keeps_the_population_before_the_day(tmp_path: Path, network: Network) -> None:
    population = generate_population(300, seed=5, network=network)
    manifest = write_dataset(tmp_path, population, generate_day(population), {"citizens": 300})
    for name, info in manifest["files"].items():
        lines = (tmp_path / name).read_text().splitlines()
        if info["day_first_line"] is not None:
            first_day = json.loads(lines[info["day_first_line"] - 1])
            assert first_day["envelope"]["sender_reference"].endswith("D0000001")
    assert manifest["counts"]["population"]["be.crossroads.directory.Integration"] == sum(
        len(c.entries) for c in population.citizens
    )
