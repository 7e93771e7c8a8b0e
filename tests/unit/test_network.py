"""The network as data: the sample loads, every validation rule refuses its counter-example with its message,
authorization lookups honour validity periods, and the index agrees with a naive scan of the matrix."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from streams.cli.network import REGENERATE_DOCS, app, render_markdown
from streams.domain.errors import DomainError
from streams.domain.network import (
    DEFAULT_PROVISIONAL_DAYS,
    Authorization,
    DataType,
    Institution,
    Network,
    NetworkError,
    Problem,
    Sector,
    parse_network,
)
from streams.network_files import load_network
from streams.settings import PROJECT_ROOT

SAMPLE_DIR = PROJECT_ROOT / "deploy" / "network" / "v1"
PUBLISHED = PROJECT_ROOT / "docs" / "authorizations.md"

D = DataType


# -- a minimal valid network, mutated by each counter-example ----------------------------------------------


def documents() -> dict[str, Any]:
    return {
        "sectors": {
            "version": "t1",
            "sectors": [
                {"code": "MUTUALITY", "name": "Mutualités", "capacities": {"TITULAR": "titulaire"}},
                {"code": "UNEMPLOYMENT", "name": "Chômage", "capacities": {"BENEFICIARY": "chômeur indemnisé"}},
            ],
        },
        "institutions": {
            "version": "t1",
            "institutions": [
                {"enterprise_number": "0206.731.645", "name": "Mutualité A", "sector": "MUTUALITY"},
                {"enterprise_number": "0403170701", "name": "Caisse B", "sector": "UNEMPLOYMENT"},
            ],
        },
        "authorizations": {
            "version": "t1",
            "authorizations": [
                grant_entry(),
                grant_entry(sector="UNEMPLOYMENT", capacity="BENEFICIARY", data_types=[D.DIMONA_IN.value]),
            ],
        },
        "secretariats": {
            "version": "t1",
            "secretariats": [{"enterprise_number": "0448.123.469", "name": "Secrétariat S"}],
        },
        "mandates": {
            "version": "t1",
            "mandates": [
                {
                    "secretariat": "0448.123.469",
                    "employer": "0403.170.701",
                    "valid_from": dt.date(2020, 1, 1),
                    "valid_to": None,
                }
            ],
        },
        "authentic_sources": {
            "version": "t1",
            "authentic_sources": [
                {"declarations": "be.crossroads.civil", "enterprise_number": "0367302178", "name": "Registre national"}
            ],
        },
    }


def grant_entry(**changes: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "sector": "MUTUALITY",
        "capacity": "TITULAR",
        "data_types": [D.DEATH.value, D.ADDRESS_CHANGE.value],
        "legal_basis": "CSSS/KSZ 12/345",
        "valid_from": dt.date(2010, 1, 1),
        "valid_to": None,
        "purpose": "test",
    }
    return {**entry, **changes}


def problems_of(docs: dict[str, Any], version: str = "t1") -> list[str]:
    with pytest.raises(NetworkError) as caught:
        parse_network(docs, version)
    return caught.value.problems


def the_problem(docs: dict[str, Any]) -> str:
    problems = problems_of(docs)
    assert len(problems) == 1, problems
    return problems[0]


def entries(docs: dict[str, Any], document: str) -> list[Any]:
    body: list[Any] = docs[document][document]
    return body


# -- the sample network ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample() -> Network:
    return load_network(SAMPLE_DIR)


def test_the_sample_network_loads_with_the_main_sectors(sample: Network) -> None:
    assert set(sample.sectors) == {
        "MUTUALITY",
        "UNEMPLOYMENT",
        "FAMILY_ALLOWANCES",
        "CPAS",
        "PENSIONS",
        "EMPLOYMENT_OFFICE",
        "TAX",
    }
    assert 25 <= len(sample.institutions) <= 40
    assert all(sample.institutions_in(code) for code in sample.sectors), "every sector has an institution"
    assert "EMPLOYER" not in sample.sectors


def test_the_sample_institution_of_the_samples_is_a_mutuality(sample: Network) -> None:
    assert sample.sector_of("0206731645") == "MUTUALITY"
    institution = sample.institution("0206731645")
    assert institution is not None and institution.formatted_number == "0206.731.645"
    assert sample.institution("0403170701") is None  # the sample employer is not an institution


def test_the_sample_leaves_some_pairs_unauthorized_on_purpose(sample: Network) -> None:
    today = dt.date(2024, 6, 1)
    assert sample.authorization("EMPLOYMENT_OFFICE", "JOB_SEEKER", D.DMFA_DECLARATION, today) is None
    assert sample.authorization("TAX", "TAXPAYER", D.DIMONA_IN, today) is None
    granted = sample.authorization("UNEMPLOYMENT", "BENEFICIARY", D.DIMONA_IN, today)
    assert granted is not None and granted.legal_basis


def test_the_sample_uses_every_data_type_and_its_periods_change_over_time(sample: Network) -> None:
    used = {t for grant in sample.authorizations for t in grant.data_types}
    assert used == set(DataType)
    before = sample.authorization("MUTUALITY", "INCAPACITY", D.DIMONA_IN, dt.date(2011, 12, 31))
    after = sample.authorization("MUTUALITY", "INCAPACITY", D.DIMONA_IN, dt.date(2012, 1, 1))
    assert before is not None and after is not None and before.legal_basis != after.legal_basis


def test_the_minimal_network_is_valid() -> None:
    network = parse_network(documents(), "t1")
    assert network.version == "t1"
    assert network.sector_of("0403170701") == "UNEMPLOYMENT"
    assert network.is_capacity("MUTUALITY", "TITULAR")
    assert not network.is_capacity("MUTUALITY", "BENEFICIARY")
    assert not network.is_capacity("NOPE", "TITULAR")
    assert [g.capacity for g in network.authorizations_for("MUTUALITY")] == ["TITULAR"]
    assert network.authorizations_for("NOPE") == []


# -- every validation rule, with its message --------------------------------------------------------------


def test_a_missing_document() -> None:
    docs = documents()
    del docs["institutions"]
    assert the_problem(docs) == "institutions: the institutions document is missing [network.document_missing]"


def test_a_document_without_its_list() -> None:
    docs = documents()
    docs["sectors"] = {"version": "t1", "sector": []}
    problems = problems_of(docs)
    assert "sectors: expected a mapping with 'version' and a list under 'sectors' [network.document_shape]" in problems


def test_a_document_without_version_or_with_another_one() -> None:
    docs = documents()
    del docs["sectors"]["version"]
    docs["institutions"]["version"] = "t2"
    assert problems_of(docs) == [
        "sectors: missing 'version' [network.version]",
        "institutions: version 't2' differs from the network's 't1': all documents of a network must carry the "
        "same version [network.version]",
    ]


def test_a_network_without_version() -> None:
    assert "the network has no version [network.version]" in problems_of(documents(), version=" ")


def test_an_entry_that_is_not_a_mapping() -> None:
    docs = documents()
    entries(docs, "institutions").append("0206.731.645")
    assert the_problem(docs) == "institutions[2]: expected a mapping, got str [network.entry_shape]"


def test_missing_and_unknown_keys() -> None:
    docs = documents()
    grant = entries(docs, "authorizations")[0]
    grant["valid_unitl"] = grant.pop("valid_to")  # a typo must not silently open the period
    problem = "authorizations[0] MUTUALITY/TITULAR CSSS/KSZ 12/345: "
    assert problems_of(docs) == [
        problem + "unknown key 'valid_unitl' (did you mean 'valid_to'?) [network.unknown_key]",
        problem + "missing key 'valid_to' [network.missing_key]",
    ]


def test_an_unknown_top_level_key() -> None:
    docs = documents()
    docs["sectors"]["sector"] = []
    assert the_problem(docs) == "sectors: unknown top-level key 'sector' [network.unknown_key]"


def test_an_unquoted_enterprise_number_is_explained() -> None:
    docs = documents()
    entries(docs, "institutions")[0]["enterprise_number"] = 0o206731645  # what YAML makes of 0206731645
    assert the_problem(docs) == (
        "institutions[0] Mutualité A: enterprise_number: expected a string (quote it: YAML reads an unquoted "
        "number such as 0206731645 as an octal integer), got int 35369893 [network.type]"
    )


def test_wrong_types() -> None:
    docs = documents()
    entries(docs, "authorizations")[0].update(valid_from="1 January 2010", data_types="be.crossroads.civil.Death")
    entries(docs, "sectors")[0]["capacities"] = ["TITULAR"]
    assert problems_of(docs) == [
        "sectors[0] MUTUALITY: capacities: expected a mapping of code: description (strings), got list "
        "['TITULAR'] [network.type]",
        "authorizations[0] MUTUALITY/TITULAR CSSS/KSZ 12/345: data_types: expected a list of strings, got str "
        "'be.crossroads.civil.Death' [network.type]",
        "authorizations[0] MUTUALITY/TITULAR CSSS/KSZ 12/345: valid_from: expected a date YYYY-MM-DD, got str "
        "'1 January 2010' [network.type]",
    ]


def test_dates_may_be_iso_strings_but_not_timestamps() -> None:
    docs = documents()
    entries(docs, "authorizations")[0].update(valid_from="2010-01-01", valid_to="2020-12-31")
    grant = parse_network(docs, "t1").authorizations[0]
    assert (grant.valid_from, grant.valid_to) == (dt.date(2010, 1, 1), dt.date(2020, 12, 31))
    entries(docs, "authorizations")[0]["valid_to"] = dt.datetime(2020, 12, 31, 12, 0)
    assert "valid_to: expected a date YYYY-MM-DD" in the_problem(docs)


def test_a_sector_code_not_in_upper_snake_case() -> None:
    docs = documents()
    entries(docs, "sectors").append({"code": "Family-Allowances", "name": "AF", "capacities": {"CHILD": "enfant"}})
    assert the_problem(docs) == (
        "sectors[2] Family-Allowances: sector code 'Family-Allowances' is not upper snake case like "
        "'FAMILY_ALLOWANCES' (A-Z, 0-9, _, starting with a letter, at most 40) [network.sector_code]"
    )


def test_employers_are_not_a_sector() -> None:
    docs = documents()
    entries(docs, "sectors").append({"code": "EMPLOYER", "name": "Employeurs", "capacities": {"WORKER": "x"}})
    assert the_problem(docs).startswith("sectors[2] EMPLOYER: EMPLOYER is not a sector: employers reach the network")


def test_a_sector_without_capacities_or_names() -> None:
    docs = documents()
    entries(docs, "sectors").append({"code": "CPAS", "name": " ", "capacities": {}})
    assert problems_of(docs) == [
        "sectors[2] CPAS: the sector's name is empty [network.empty_text]",
        "sectors[2] CPAS: a sector must declare at least one capacity [network.no_capacities]",
    ]


def test_a_bad_capacity_code_or_an_empty_description() -> None:
    docs = documents()
    entries(docs, "sectors")[0]["capacities"] = {"titular": "titulaire", "DEPENDANT": ""}
    assert problems_of(docs) == [
        "sectors[0] MUTUALITY: capacity code 'titular' is not A-Z, 0-9 and _ (at most 20) [network.capacity_code]",
        "sectors[0] MUTUALITY: capacity 'DEPENDANT' has an empty description [network.empty_text]",
    ]


def test_a_sector_may_set_how_long_its_provisional_files_are_held() -> None:
    docs = documents()
    entries(docs, "sectors")[0]["provisional_days"] = 30
    network = parse_network(docs, "t1")
    assert network.provisional_days("MUTUALITY") == 30
    assert network.provisional_days("UNEMPLOYMENT") == DEFAULT_PROVISIONAL_DAYS  # the key is optional
    assert network.provisional_days("NOT_A_SECTOR") == DEFAULT_PROVISIONAL_DAYS


@pytest.mark.parametrize("days", [0, -3, "30", True, 1.5, 36501])
def test_a_provisional_period_is_a_whole_number_of_days_from_1_to_36500(days: object) -> None:
    docs = documents()
    entries(docs, "sectors")[0]["provisional_days"] = days
    assert the_problem(docs).startswith("sectors[0] MUTUALITY: provisional_days: expected a whole number of days")
    assert the_problem(docs).endswith("[network.provisional_days]")


def test_a_duplicate_sector() -> None:
    docs = documents()
    entries(docs, "sectors").append(copy.deepcopy(entries(docs, "sectors")[0]))
    assert the_problem(docs) == (
        "sectors[2] MUTUALITY: duplicate sector code MUTUALITY: already declared at sectors[0] "
        "[network.duplicate_sector]"
    )


def test_an_invalid_enterprise_number() -> None:
    docs = documents()
    entries(docs, "institutions")[0]["enterprise_number"] = "0206.731.646"
    assert the_problem(docs) == (
        "institutions[0] 0206.731.646 Mutualité A: invalid enterprise number (enterprise.check_digits): "
        "'0206.731.646': check digits 46 do not match the first eight digits [network.enterprise_number]"
    )


def test_an_enterprise_number_must_start_with_0_or_1() -> None:
    docs = documents()
    entries(docs, "institutions")[0]["enterprise_number"] = "2206731645"
    assert "(enterprise.first_digit)" in the_problem(docs)


def test_a_duplicate_enterprise_number_in_another_spelling() -> None:
    docs = documents()
    entries(docs, "institutions").append({"enterprise_number": "0206731645", "name": "Autre", "sector": "MUTUALITY"})
    assert the_problem(docs) == (
        "institutions[2] 0206.731.645: duplicate enterprise number 0206.731.645: already declared at "
        "institutions[0] [network.duplicate_institution]"
    )


def test_an_institution_of_an_unknown_sector() -> None:
    docs = documents()
    entries(docs, "institutions")[0]["sector"] = "MUTUALITIES"
    assert the_problem(docs) == (
        "institutions[0] 0206.731.645 Mutualité A: sector 'MUTUALITIES' is not declared in sectors "
        "(did you mean 'MUTUALITY'?) [network.unknown_sector]"
    )


def test_an_authorization_of_an_unknown_sector() -> None:
    docs = documents()
    entries(docs, "authorizations").append(grant_entry(sector="PENSIONS", capacity="PENSIONER"))
    assert the_problem(docs) == (
        "authorizations[2] PENSIONS/PENSIONER CSSS/KSZ 12/345: sector 'PENSIONS' is not declared in sectors "
        "[network.unknown_sector]"
    )


def test_a_capacity_not_declared_by_its_sector() -> None:
    docs = documents()
    entries(docs, "authorizations").append(grant_entry(capacity="TITULAIRE", valid_from=dt.date(1990, 1, 1)))
    assert the_problem(docs) == (
        "authorizations[2] MUTUALITY/TITULAIRE CSSS/KSZ 12/345: capacity 'TITULAIRE' is not declared by sector "
        "MUTUALITY (declared: TITULAR) (did you mean 'TITULAR'?) [network.unknown_capacity]"
    )


def test_an_unknown_data_type() -> None:
    docs = documents()
    entries(docs, "authorizations")[0]["data_types"] = ["be.crossroads.civil.Deaths", "Death"]
    assert problems_of(docs) == [
        "authorizations[0] MUTUALITY/TITULAR CSSS/KSZ 12/345: unknown data type 'Death'; data types are full Avro "
        "names, see DataType [network.unknown_data_type]",
        "authorizations[0] MUTUALITY/TITULAR CSSS/KSZ 12/345: unknown data type 'be.crossroads.civil.Deaths' "
        "(did you mean 'be.crossroads.civil.Death'?); data types are full Avro names, see DataType "
        "[network.unknown_data_type]",
    ]


def test_an_authorization_without_data_types() -> None:
    docs = documents()
    entries(docs, "authorizations")[0]["data_types"] = []
    assert the_problem(docs) == (
        "authorizations[0] MUTUALITY/TITULAR CSSS/KSZ 12/345: an authorization must grant at least one data type "
        "[network.no_data_types]"
    )


def test_an_empty_legal_basis() -> None:
    docs = documents()
    entries(docs, "authorizations")[0]["legal_basis"] = "  "
    assert the_problem(docs) == (
        "authorizations[0] MUTUALITY/TITULAR: the legal basis (deliberation reference) is empty: every delivery is "
        "logged with it, an authorization without one cannot be audited [network.empty_legal_basis]"
    )


def test_a_period_that_ends_before_it_starts() -> None:
    docs = documents()
    entries(docs, "authorizations")[0]["valid_to"] = dt.date(2009, 12, 31)
    assert the_problem(docs) == (
        "authorizations[0] MUTUALITY/TITULAR CSSS/KSZ 12/345: valid_to 2009-12-31 is before valid_from 2010-01-01 "
        "[network.period]"
    )


def test_overlapping_periods_for_the_same_sector_capacity_and_data_type() -> None:
    docs = documents()
    entries(docs, "authorizations")[0]["valid_to"] = dt.date(2015, 12, 31)
    # Touching on 2015-12-31 is an overlap: both ends are inclusive.
    entries(docs, "authorizations").append(
        grant_entry(legal_basis="CSSS/KSZ 15/001", valid_from=dt.date(2015, 12, 31), data_types=[D.DEATH.value])
    )
    assert the_problem(docs) == (
        "authorizations[2] MUTUALITY/TITULAR CSSS/KSZ 15/001: be.crossroads.civil.Death: period 2015-12-31 → open "
        "overlaps 2010-01-01 → 2015-12-31 of authorizations[0] (CSSS/KSZ 12/345) [network.overlap]"
    )


def test_every_overlap_is_reported_not_only_the_first() -> None:
    docs = documents()
    entries(docs, "authorizations").append(grant_entry(legal_basis="B", valid_from=dt.date(2011, 1, 1)))
    entries(docs, "authorizations").append(grant_entry(legal_basis="C", valid_from=dt.date(2012, 1, 1)))
    overlaps = [p for p in problems_of(docs) if p.endswith("[network.overlap]")]
    assert len(overlaps) == 4  # entries 2 and 3, each for Death and AddressChange


def test_successive_periods_and_other_data_types_do_not_overlap() -> None:
    docs = documents()
    entries(docs, "authorizations")[0]["valid_to"] = dt.date(2015, 12, 31)
    entries(docs, "authorizations").append(grant_entry(legal_basis="B", valid_from=dt.date(2016, 1, 1)))
    entries(docs, "authorizations").append(grant_entry(legal_basis="C", data_types=[D.BIRTH.value]))
    assert len(parse_network(docs, "t1").authorizations) == 4


def test_all_problems_are_reported_at_once() -> None:
    docs = documents()
    entries(docs, "institutions")[0]["enterprise_number"] = "123"
    entries(docs, "institutions")[1]["sector"] = "CHOMAGE"
    entries(docs, "authorizations")[0].update(legal_basis="", data_types=["x"])
    with pytest.raises(NetworkError) as caught:
        parse_network(docs, "t1")
    codes = [p.code for p in caught.value.details]
    assert codes == [
        "network.enterprise_number",
        "network.unknown_data_type",
        "network.empty_legal_basis",
        "network.unknown_sector",
    ]
    assert isinstance(caught.value, DomainError) and caught.value.code == "network.invalid"
    assert str(caught.value).startswith("network.invalid: 4 problems:\n")


def test_a_network_built_directly_is_checked_too() -> None:
    sector = Sector("MUTUALITY", "Mutualités", {"TITULAR": "titulaire"})
    grant = Authorization("MUTUALITY", "TITULAR", frozenset({D.DEATH}), "A", dt.date(2010, 1, 1), None)
    with pytest.raises(NetworkError, match=r"network.overlap"):
        Network.of("x", [sector], [], [grant, grant])
    with pytest.raises(NetworkError, match=r"sector 'CPAS' is not declared"):
        Network.of("x", [sector], [Institution("0206731645", "A", "CPAS")], [])


def test_the_models_hold_their_own_invariants() -> None:
    with pytest.raises(NetworkError, match=r"network.period"):
        Authorization("MUTUALITY", "TITULAR", frozenset({D.DEATH}), "A", dt.date(2010, 1, 1), dt.date(2009, 1, 1))
    assert Institution("0206.731.645", "A", "MUTUALITY").enterprise_number == "0206731645"
    sector = Sector("MUTUALITY", "Mutualités", {"TITULAR": "titulaire"})
    with pytest.raises(TypeError):
        sector.capacities["NEW"] = "added behind the validation's back"  # type: ignore[index]


# -- authorization lookups --------------------------------------------------------------------------------


@pytest.fixture()
def periods() -> Network:
    docs = documents()
    entries(docs, "authorizations")[0].update(valid_from=dt.date(2010, 1, 1), valid_to=dt.date(2015, 12, 31))
    entries(docs, "authorizations").append(grant_entry(legal_basis="SECOND", valid_from=dt.date(2017, 1, 1)))
    return parse_network(docs, "t1")


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (dt.date(2009, 12, 31), None),
        (dt.date(2010, 1, 1), "CSSS/KSZ 12/345"),  # first day included
        (dt.date(2015, 12, 31), "CSSS/KSZ 12/345"),  # last day included
        (dt.date(2016, 1, 1), None),  # the gap between two deliberations
        (dt.date(2016, 12, 31), None),
        (dt.date(2017, 1, 1), "SECOND"),
        (dt.date(2999, 12, 31), "SECOND"),  # open end
    ],
)
def test_an_authorization_applies_within_its_period_both_ends_included(
    periods: Network, day: dt.date, expected: str | None
) -> None:
    found = periods.authorization("MUTUALITY", "TITULAR", D.DEATH, day)
    assert (found.legal_basis if found else None) == expected


def test_an_authorization_applies_to_its_own_sector_capacity_and_data_types_only(periods: Network) -> None:
    day = dt.date(2012, 1, 1)
    assert periods.authorization("MUTUALITY", "TITULAR", "be.crossroads.civil.AddressChange", day) is not None
    assert periods.authorization("MUTUALITY", "TITULAR", D.BIRTH, day) is None
    assert periods.authorization("MUTUALITY", "DEPENDANT", D.DEATH, day) is None
    assert periods.authorization("UNEMPLOYMENT", "TITULAR", D.DEATH, day) is None


# -- the index agrees with a naive scan of the matrix -----------------------------------------------------

SECTORS = {"MUTUALITY": ("TITULAR", "DEPENDANT"), "CPAS": ("INTEGRATION_INCOME",)}
SOME_TYPES = [D.BIRTH, D.DEATH, D.DIMONA_IN, D.WAGES]
EPOCH = dt.date(2000, 1, 1)


@st.composite
def grants(draw: st.DrawFn) -> Authorization:
    sector = draw(st.sampled_from(sorted(SECTORS)))
    start = EPOCH + dt.timedelta(days=draw(st.integers(0, 3000)))
    length = draw(st.none() | st.integers(0, 1500))
    return Authorization(
        sector,
        draw(st.sampled_from(SECTORS[sector])),
        frozenset(draw(st.sets(st.sampled_from(SOME_TYPES), min_size=1))),
        f"CSSS/KSZ {draw(st.integers(0, 999)):03d}",
        start,
        None if length is None else start + dt.timedelta(days=length),
    )


def without_overlaps(candidates: list[Authorization]) -> list[Authorization]:
    kept: list[Authorization] = []
    for grant in candidates:
        if not any(
            k.sector == grant.sector
            and k.capacity == grant.capacity
            and k.data_types & grant.data_types
            and k.overlaps(grant)
            for k in kept
        ):
            kept.append(grant)
    return kept


def naive(matrix: list[Authorization], sector: str, capacity: str, data_type: str, day: dt.date) -> list[str]:
    return [
        g.legal_basis
        for g in matrix
        if g.sector == sector
        and g.capacity == capacity
        and data_type in g.data_types
        and g.valid_from <= day
        and (g.valid_to is None or day <= g.valid_to)
    ]


@settings(max_examples=200, deadline=None)
@given(
    candidates=st.lists(grants(), max_size=25),
    queries=st.lists(
        st.tuples(
            st.sampled_from(["MUTUALITY", "CPAS", "TAX"]),
            st.sampled_from(["TITULAR", "DEPENDANT", "INTEGRATION_INCOME"]),
            st.sampled_from([*SOME_TYPES, D.DMFA_DECLARATION]),
            st.dates(dt.date(1999, 1, 1), dt.date(2015, 12, 31)),
        ),
        min_size=1,
        max_size=30,
    ),
)
def test_the_authorization_index_agrees_with_a_linear_scan(
    candidates: list[Authorization], queries: list[tuple[str, str, str, dt.date]]
) -> None:
    matrix = without_overlaps(candidates)
    sectors = [Sector(code, code, {c: c for c in capacities}) for code, capacities in SECTORS.items()]
    network = Network.of("prop", sectors, [], matrix)
    for sector, capacity, data_type, day in queries:
        expected = naive(matrix, sector, capacity, data_type, day)
        assert len(expected) <= 1
        found = network.authorization(sector, capacity, data_type, day)
        assert [found.legal_basis] if found else expected == [], (sector, capacity, data_type, day)


# -- the files and the published view ---------------------------------------------------------------------


def write_network(directory: Path, docs: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for document, body in docs.items():
        (directory / f"{document}.yaml").write_text(yaml.safe_dump(body, allow_unicode=True, sort_keys=False))
    return directory


def test_problems_name_the_file_and_the_line_of_the_entry(tmp_path: Path) -> None:
    docs = documents()
    entries(docs, "institutions")[1]["sector"] = "CHOMAGE"
    directory = write_network(tmp_path / "v1", docs)
    with pytest.raises(NetworkError) as caught:
        load_network(directory)
    (problem,) = caught.value.details
    file = directory / "institutions.yaml"
    line = next(n for n, text in enumerate(file.read_text().splitlines(), 1) if "0403170701" in text)
    assert (problem.file, problem.line) == (str(file), line)
    assert str(problem).startswith(f"{file}:{line}: institutions[1] 0403.170.701 Caisse B: sector 'CHOMAGE'")


def test_a_missing_file_and_invalid_yaml_are_reported_with_their_file(tmp_path: Path) -> None:
    directory = write_network(tmp_path / "v1", documents())
    (directory / "sectors.yaml").unlink()
    (directory / "authorizations.yaml").write_text("version: t1\nauthorizations:\n  - sector: [unclosed\n")
    with pytest.raises(NetworkError) as caught:
        load_network(directory)
    assert [(p.code, Path(p.file or "").name) for p in caught.value.details] == [
        ("network.file", "sectors.yaml"),
        ("network.yaml", "authorizations.yaml"),
    ]
    assert caught.value.problems[0] == f"{directory / 'sectors.yaml'}: sectors: file not found [network.file]"
    assert caught.value.details[1].line == 4


def test_a_directory_that_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(NetworkError, match=r"is not a directory holding a network"):
        load_network(tmp_path / "nowhere")


def test_problem_lines_read_well() -> None:
    problem = Problem("network.x", "msg", "authorizations", 3, "CPAS/SOCIAL_AID", "a.yaml", 12)
    assert str(problem) == "a.yaml:12: authorizations[3] CPAS/SOCIAL_AID: msg [network.x]"
    assert str(Problem("network.x", "msg")) == "msg [network.x]"


def test_the_published_authorizations_are_up_to_date(sample: Network) -> None:
    assert PUBLISHED.read_text(encoding="utf-8") == render_markdown(sample), (
        f"docs/authorizations.md is out of date; regenerate it with: {REGENERATE_DOCS}"
    )


def test_the_published_view_lists_every_authorization(sample: Network) -> None:
    page = render_markdown(sample)
    for grant in sample.authorizations:
        assert grant.legal_basis in page
    assert render_markdown(sample, sector="TAX").count("\n## ") == 1


# -- the command line -------------------------------------------------------------------------------------

runner = CliRunner()


def test_check_accepts_the_sample() -> None:
    result = runner.invoke(app, ["check", str(SAMPLE_DIR)])
    assert result.exit_code == 0, result.output
    assert "valid network 2025.1" in result.output
    assert "2 secretariats, 2 mandates, 1 authentic sources" in result.output


def test_check_prints_every_problem_and_fails(tmp_path: Path) -> None:
    docs = documents()
    entries(docs, "institutions")[1]["sector"] = "CHOMAGE"
    entries(docs, "authorizations")[0]["legal_basis"] = ""
    result = runner.invoke(app, ["check", str(write_network(tmp_path / "v1", docs))])
    assert result.exit_code == 1
    assert "[network.unknown_sector]" in result.output and "[network.empty_legal_basis]" in result.output
    assert "2 problem(s)" in result.output


def test_authorizations_filters_and_formats() -> None:
    args = ["authorizations", "--dir", str(SAMPLE_DIR), "--sector", "TAX", "--data-type", "DmfaDeclaration"]
    result = runner.invoke(app, [*args, "--on", "2024-01-01", "--format", "markdown"])
    assert result.exit_code == 0, result.output
    assert "CSSS/KSZ 08/115" in result.output and "CSSS/KSZ 08/116" not in result.output
    table = runner.invoke(app, [*args, "--on", "2007-12-31"])
    assert table.exit_code == 0 and "08/115" not in table.output
    unknown = runner.invoke(app, ["authorizations", "--dir", str(SAMPLE_DIR), "--data-type", "Salary"])
    assert unknown.exit_code != 0


def test_institutions_lists_the_sector() -> None:
    result = runner.invoke(app, ["institutions", "--dir", str(SAMPLE_DIR), "--sector", "PENSIONS"])
    assert result.exit_code == 0, result.output
    assert "0987.406.649" in result.output and "MUTUALITY" not in result.output


def test_a_missing_sectors_document_is_one_problem_not_one_per_reference() -> None:
    docs = documents()
    del docs["sectors"]
    assert the_problem(docs) == "sectors: the sectors document is missing [network.document_missing]"


# -- the senders register: secretariats, mandates, authentic sources ---------------------------------------


def mandate_entry(**changes: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "secretariat": "0448.123.469",
        "employer": "0403.170.701",
        "valid_from": dt.date(2020, 1, 1),
        "valid_to": None,
    }
    return {**entry, **changes}


def test_the_sample_register_holds_a_current_and_an_ended_mandate(sample: Network) -> None:
    assert sample.mandate("0448123469", "0403170701", dt.date(2026, 1, 1)) is not None
    assert sample.mandate("0459246894", "0403170701", dt.date(2026, 1, 1)) is None
    assert sample.mandate("0459246894", "0403170701", dt.date(2019, 12, 31)) is not None
    source = sample.authentic_source("be.crossroads.civil.Death")
    assert source is not None and source.enterprise_number == "0367302178"
    assert sample.authentic_source("be.crossroads.dimona.DimonaIn") is None


def test_a_mandate_of_an_undeclared_secretariat() -> None:
    docs = documents()
    entries(docs, "mandates").append(mandate_entry(secretariat="0459.246.894"))
    problem = the_problem(docs)
    assert "mandates[1]" in problem and "0459.246.894 is not declared in secretariats" in problem
    assert problem.endswith("[network.unknown_secretariat]")


def test_a_mandate_for_an_employer_that_is_no_enterprise_number() -> None:
    docs = documents()
    entries(docs, "mandates")[0]["employer"] = "0403.170.702"
    problem = the_problem(docs)
    assert "mandates[0]" in problem and "employer: invalid enterprise number" in problem


def test_an_inverted_mandate_period() -> None:
    docs = documents()
    entries(docs, "mandates")[0]["valid_to"] = dt.date(2019, 1, 1)
    assert the_problem(docs).endswith("valid_to 2019-01-01 is before valid_from 2020-01-01 [network.period]")


def test_overlapping_mandates_of_one_secretariat_for_one_employer() -> None:
    docs = documents()
    entries(docs, "mandates")[0]["valid_to"] = dt.date(2030, 12, 31)
    entries(docs, "mandates").extend(
        [
            mandate_entry(valid_from=dt.date(2021, 1, 1), valid_to=dt.date(2021, 12, 31)),
            mandate_entry(valid_from=dt.date(2025, 1, 1), valid_to=None),  # overlaps the first, not the second
            mandate_entry(valid_from=dt.date(2031, 1, 1), valid_to=None),  # after the first, but the third is open
        ]
    )
    problems = problems_of(docs)
    assert [p.split(":")[0] for p in problems] == [
        "mandates[1] 0448.123.469 for 0403.170.701",
        "mandates[2] 0448.123.469 for 0403.170.701",
        "mandates[3] 0448.123.469 for 0403.170.701",
    ]
    assert all(p.endswith("[network.overlap]") for p in problems)


def test_successive_mandates_and_other_employers_do_not_overlap() -> None:
    docs = documents()
    entries(docs, "mandates")[0]["valid_to"] = dt.date(2020, 12, 31)
    entries(docs, "mandates").extend(
        [mandate_entry(valid_from=dt.date(2021, 1, 1)), mandate_entry(employer="0477.472.701")]
    )
    assert len(parse_network(docs, "t1").mandates) == 3


def test_a_secretariat_declared_twice_or_mandated_by_itself() -> None:
    docs = documents()
    entries(docs, "secretariats").append({"enterprise_number": "0448123469", "name": "Again"})
    entries(docs, "mandates").append(mandate_entry(employer="0448.123.469"))
    codes = sorted(p.rsplit("[", 1)[1] for p in problems_of(docs))
    assert codes == ["network.duplicate_secretariat]", "network.mandate_self]"]


def test_two_authentic_sources_for_one_kind_of_declaration() -> None:
    docs = documents()
    entries(docs, "authentic_sources").append(
        {"declarations": "be.crossroads.civil.Death", "enterprise_number": "0206731645", "name": "Another"}
    )
    problem = the_problem(docs)
    assert "authentic_sources[1]" in problem and problem.endswith("[network.duplicate_authentic_source]")


def test_an_authentic_source_for_something_that_is_no_declaration_kind() -> None:
    docs = documents()
    entries(docs, "authentic_sources")[0]["declarations"] = "civil"
    assert the_problem(docs).endswith("[network.declarations]")


def test_the_register_files_are_required_and_located(tmp_path: Path) -> None:
    docs = documents()
    entries(docs, "mandates")[0]["valid_to"] = dt.date(2019, 1, 1)
    directory = write_network(tmp_path / "v1", docs)
    with pytest.raises(NetworkError) as caught:
        load_network(directory)
    (problem,) = caught.value.details
    assert (Path(problem.file or "").name, problem.line) == ("mandates.yaml", 3)
    (directory / "authentic_sources.yaml").unlink()
    with pytest.raises(NetworkError, match=r"authentic_sources.yaml: authentic_sources: file not found"):
        load_network(directory)
