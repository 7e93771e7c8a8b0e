"""Warehouse pieces that need no server: projections (no NISS leaves them), OASIS rules, dimensions,
small-cell suppression, the auditor user of the local server's config."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path

import pytest

from connectors.clickhouse.dimensions import DimensionError, municipality_rows, nace_rows, parse_employers, section_of
from connectors.clickhouse.journey import JourneyProjection
from connectors.clickhouse.projector import Origin
from connectors.clickhouse.statistics import published, suppress
from connectors.clickhouse.warehouse import persons_of, warehouse_projections
from streams.codecs import Decoded
from streams.domain.errors import InvalidIdentifierError
from streams.domain.identifiers import parse_niss
from streams.domain.oasis import (
    CANCELLATION,
    EXIT,
    HIRE,
    SICKNESS_OR_ACCIDENT,
    TEMPORARY_UNEMPLOYMENT,
    EmployerQuarter,
    Flag,
    Involvement,
    OasisThresholds,
    flag_employers,
    flagged_persons,
)
from streams.domain.pseudonyms import pseudonym
from streams.settings import Settings
from tests.support import niss
from tests.unit.test_warehouse_dataset import generate

ORIGIN = Origin("crossroads.facts.x.v1", 0, 0, 0)
TOPICS = {"civil": "facts.civil", "dimona": "facts.dimona", "dmfa": "facts.dmfa", "directory": "facts.integrations"}


def _is_person_number(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parse_niss(value)
    except InvalidIdentifierError:
        return False
    return True


def test_statistics_rows_carry_pseudonyms_and_the_mapping_keeps_the_numbers_apart() -> None:
    data = generate(persons=40)
    projections = warehouse_projections(Settings())
    # every table but the mapping and the audit log holds coded data: the statistics' and the OASIS tables
    statistics = [
        p for p in projections if p.table not in ("{database}_reid.pseudonyms", "{database}_audit.audit_records")
    ]
    mapping = next(p for p in projections if p.table == "{database}_reid.pseudonyms")
    produced = 0
    for schema, record in data.facts:
        fact = Decoded(schema, record, "single-object")
        topic = TOPICS[schema.split(".")[2]]
        for projection in statistics:
            if topic in projection.topics:
                for row in projection.rows(fact, ORIGIN, 1.8e9):
                    produced += 1
                    assert len(row) == len(projection.columns)
                    assert not [v for v in row if _is_person_number(v)], (projection.table, row)
        persons = persons_of(fact)
        rows = mapping.rows(fact, ORIGIN, 1.8e9)
        assert [r[2] for r in rows] == [parse_niss(p).digits for p in persons]
        assert all(len(r[1]) == 64 for r in rows)
    assert produced > len(data.facts)


def test_each_purpose_is_projected_in_its_own_space() -> None:
    """Statistics tables carry the statistics purpose's pseudonyms, the OASIS tables (`<db>_oasis`) the
    anti-fraud purpose's; the mapping keeps each under its purpose, the anti-fraud one for employment only."""
    settings = Settings()
    keys = {p: k.get_secret_value().encode() for p, k in settings.pseudonym_keys.items()}
    statistics, oasis = settings.warehouse_purpose, settings.oasis_purpose
    projections = {p.table: p for p in warehouse_projections(settings)}
    assert {"{database}_oasis.dimona_events", "{database}_oasis.dmfa_lines"} <= set(projections)
    mappings = [p for p in warehouse_projections(settings) if p.table == "{database}_reid.pseudonyms"]
    assert {frozenset(p.topics) for p in mappings} == {
        frozenset(TOPICS.values()),
        frozenset({"facts.dimona", "facts.dmfa"}),
    }

    data = generate(persons=40)
    schema, record = next((s, r) for s, r in data.facts if s.endswith("DimonaIn"))
    fact = Decoded(schema, record, "single-object")
    worker = record["worker"]
    ((stats_row,), (oasis_row,)) = (
        projections[t].rows(fact, ORIGIN, 1.8e9) for t in ("dimona_events", "{database}_oasis.dimona_events")
    )
    column = projections["dimona_events"].columns.index("worker")
    assert stats_row[column] == pseudonym(worker, keys[statistics], statistics)
    assert oasis_row[column] == pseudonym(worker, keys[oasis], oasis)
    assert stats_row[column] != oasis_row[column]
    assert stats_row[:column] + stats_row[column + 1 :] == oasis_row[:column] + oasis_row[column + 1 :]
    mapped = {row[:3] for projection in mappings for row in projection.rows(fact, ORIGIN, 1.8e9)}
    assert mapped == {
        (statistics, pseudonym(worker, keys[statistics], statistics), worker),
        (oasis, pseudonym(worker, keys[oasis], oasis), worker),
    }
    # a civil fact is no OASIS input: its persons get no anti-fraud pseudonym
    schema, record = next((s, r) for s, r in data.facts if s.endswith("AddressChange"))
    civil = Decoded(schema, record, "single-object")
    civil_mappings = [p for p in mappings if "facts.civil" in p.topics]  # the projector dispatches by topic
    assert {row[0] for projection in civil_mappings for row in projection.rows(civil, ORIGIN, 1.8e9)} == {statistics}


def test_a_flag_is_about_the_workers_whose_lines_or_relations_make_it_fire() -> None:
    flags = [
        Flag("e1", "2026-Q1", "47", ("massive_hiring",)),
        Flag("e2", "2026-Q1", "47", ("assimilated_days_above_sector", "cancelled_dimona")),
        Flag("e3", "2026-Q1", "62", ("temporary_unemployment_with_hires", "turnover_above_sector")),
    ]
    involvements = [
        Involvement("e1", "w-hired", HIRE),
        Involvement("e1", "w-left", EXIT),  # massive hiring is about the hires only
        Involvement("e1", "w-sick", SICKNESS_OR_ACCIDENT),
        Involvement("e2", "w-sick", SICKNESS_OR_ACCIDENT),
        Involvement("e2", "w-cancelled", CANCELLATION),
        Involvement("e2", "w-hired-2", HIRE),
        Involvement("e3", "w-tu", TEMPORARY_UNEMPLOYMENT),
        Involvement("e3", "w-left", EXIT),
        Involvement("e4", "w-unflagged", HIRE),  # an employer no indicator fired for
    ]
    flagged = flagged_persons(flags, involvements)
    assert {w: f.reasons for w, f in flagged.items()} == {
        "w-hired": (("e1", "massive_hiring"),),
        "w-sick": (("e2", "assimilated_days_above_sector"),),
        "w-cancelled": (("e2", "cancelled_dimona"),),
        "w-tu": (("e3", "temporary_unemployment_with_hires"),),
        "w-left": (("e3", "turnover_above_sector"),),
    }
    assert all(f.quarter == "2026-Q1" for f in flagged.values())
    assert flagged_persons([], involvements) == {}


def test_dmfa_lines_split_assimilated_days_by_reason() -> None:
    data = generate(persons=40)
    projection = next(p for p in warehouse_projections(Settings()) if p.table == "dmfa_lines")
    schema, record = next((s, r) for s, r in data.facts if s.endswith("DmfaDeclaration"))
    record = {
        **record,
        "worker_lines": [
            {
                **record["worker_lines"][0],
                "assimilated_days": [
                    {"reason": "SICKNESS", "days": 2},
                    {"reason": "WORK_ACCIDENT", "days": 3},
                    {"reason": "OCCUPATIONAL_DISEASE", "days": 1},
                    {"reason": "TEMPORARY_UNEMPLOYMENT", "days": 4},
                    {"reason": "ANNUAL_LEAVE", "days": 5},
                ],
            }
        ],
    }
    (row,) = projection.rows(Decoded(schema, record, "single-object"), ORIGIN, 1.8e9)
    named = dict(zip(projection.columns, row, strict=True))
    assert (named["sickness_days"], named["accident_days"]) == (2, 4)
    assert (named["temporary_unemployment_days"], named["other_assimilated_days"]) == (4, 5)
    assert named["event_id"] == f"{record['envelope']['ticket']}:0"


def test_dates_before_1970_are_stored_as_1970() -> None:
    projection = next(p for p in warehouse_projections(Settings()) if p.table == "civil_events")
    record = {
        "envelope": {"ticket": "t", "recorded_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC)},
        "person": niss(dt.date(1945, 1, 1), serial=1),
        "effective_date": dt.date(1965, 3, 1),
        "address": {"municipality_nis": "21004", "country": "BE"},
    }
    (row,) = projection.rows(Decoded("be.crossroads.civil.AddressChange", record, "single-object"), ORIGIN, 1.8e9)
    named = dict(zip(projection.columns, row, strict=True))
    assert named["effective_date"] == dt.date(1970, 1, 1)
    assert (named["birth_year"], named["birth_month_day"], named["sex"]) == (1945, 101, "M")


@pytest.mark.parametrize(
    ("recorded", "stored"),
    [
        (dt.datetime(1950, 1, 1, tzinfo=dt.UTC), dt.datetime(1970, 1, 1, tzinfo=dt.UTC)),
        (dt.datetime(2099, 12, 31, 23, 59, tzinfo=dt.UTC), dt.datetime(2099, 12, 31, 23, 59, tzinfo=dt.UTC)),
        (dt.datetime(2200, 1, 1, tzinfo=dt.UTC), dt.datetime(2106, 2, 7, 6, 28, 15, tzinfo=dt.UTC)),
    ],
)
def test_a_recorded_at_outside_datetime_is_stored_as_the_nearest_end(
    recorded: dt.datetime, stored: dt.datetime
) -> None:
    # intake accepts 1900-2099; ClickHouse's DateTime holds 1970-2106: an insert out of it would fail on every
    # retry and stop every table's projection
    record = {
        "envelope": {"ticket": "t", "sender": "0123456749", "recorded_at": recorded},
        "person": niss(dt.date(1945, 1, 1), serial=1),
        "effective_date": dt.date(2026, 3, 1),
        "address": {"municipality_nis": "21004", "country": "BE"},
    }
    fact = Decoded("be.crossroads.civil.AddressChange", record, "single-object")
    for projection in (
        next(p for p in warehouse_projections(Settings()) if p.table == "civil_events"),
        JourneyProjection(),
    ):
        (row,) = projection.rows(fact, ORIGIN, 1.8e9)
        assert dict(zip(projection.columns, row, strict=True))["recorded_at"] == stored


def _eq(employer: str, sector: str = "47", **values: int) -> EmployerQuarter:
    return EmployerQuarter(employer=employer, quarter="2026-Q1", sector=sector, **values)


def test_oasis_rules_fire_on_their_thresholds_only() -> None:
    t = OasisThresholds(factor=Fraction(3, 2), tu_days=20, hires_with_tu=1, massive_hires=10, cancellations=5)
    flags = flag_employers(
        [
            _eq("a", workers=10, days_worked=600, sickness_accident_days=100, hires=1),
            _eq("b", workers=10, days_worked=600, sickness_accident_days=5, hires=1),
            _eq("c", workers=10, days_worked=600, temporary_unemployment_days=20, hires=1),
            _eq("d", workers=10, days_worked=600, temporary_unemployment_days=19, hires=1),
            _eq("e", "62", workers=10, hires=10, max_hires_in_window=10),
            _eq("f", "62", workers=10, hires=2, max_hires_in_window=9, cancellations=5),
            _eq("g", "62", workers=10, hires=2, cancellations=4),
        ],
        t,
    )
    fired = {f.employer: set(f.indicators) for f in flags}
    assert fired == {
        "a": {"assimilated_days_above_sector"},
        "c": {"temporary_unemployment_with_hires"},
        "e": {"massive_hiring", "turnover_above_sector"},
        "f": {"cancelled_dimona"},
    }
    assert flag_employers([_eq("alone", workers=1, days_worked=1, sickness_accident_days=50)], t) == []


def test_small_cells_are_suppressed_but_zero_and_large_cells_are_published() -> None:
    assert [suppress(n, 5) for n in (0, 1, 4, 5, 6)] == [0, None, None, 5, 6]
    cells = published([("b", 3), ("a", 7)], 5)
    assert [(c.key, c.count) for c in cells] == [(("a",), 7), (("b",), None)]


def test_municipality_and_nace_dimensions_come_from_the_packages() -> None:
    rows = municipality_rows(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    assert len(rows) == 565
    by_code = {r[0]: r for r in rows}
    assert by_code["21004"][3:5] == ("21000", "04000") and by_code["21004"][6] == "04000"
    assert by_code["62063"][3:7:3] == ("62000", "03000")
    assert {r[6] for r in rows} == {"02000", "03000", "04000"}
    divisions = {r[0]: r for r in nace_rows(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))}
    assert divisions["47"][1] == "G" and divisions["62"][1] == "J" and len(divisions) > 80
    assert section_of("01") == "A" and section_of("99") == "U"


def test_the_employer_csv_is_checked_line_by_line() -> None:
    good = parse_employers(["enterprise_number,nace_code,municipality_nis\n", "0403.170.701,47.110,21004\n"])
    assert [(e.employer, e.nace_code, e.division) for e in good] == [("0403170701", "47110", "47")]
    with pytest.raises(DimensionError) as bad:
        parse_employers(
            ["enterprise_number,nace_code,municipality_nis\n", "0403170702,47110,21004\n", "0403170701,x,1\n"]
        )
    assert ":2:" in str(bad.value) and ":3:" in str(bad.value)
    with pytest.raises(DimensionError):
        parse_employers(["employer,nace\n"])


def test_the_local_server_has_a_read_only_auditor_on_the_audit_database(tmp_path: Path) -> None:
    from streams.stack.clickhouse import ClickHouseService

    ClickHouseService(Settings(state_dir=tmp_path)).configure()
    users = ET.parse(tmp_path / "clickhouse" / "users.d" / "roles.xml").getroot()
    auditor = users.find("users/auditor")
    assert auditor is not None
    assert auditor.findtext("profile") == "readonly"
    assert [d.text for d in auditor.findall("allow_databases/database")] == ["crossroads_audit"]
    assert users.findtext("profiles/readonly/readonly") == "1"


def _databases(user: ET.Element) -> list[str | None]:
    return [d.text for d in user.findall("allow_databases/database")]


def test_the_local_server_has_least_privilege_roles_on_its_warehouse(tmp_path: Path) -> None:
    import hashlib

    from pydantic import SecretStr

    from streams.stack.clickhouse import ClickHouseService

    settings = Settings(
        state_dir=tmp_path,
        clickhouse_url="clickhouse://default:@127.0.0.1:9000/stats",
        clickhouse_projector_password=SecretStr("s3cret"),
    )
    ClickHouseService(settings).configure()
    users = ET.parse(tmp_path / "clickhouse" / "users.xml").getroot()
    # the server merges users.d/*.xml into users.xml
    roles = ET.parse(tmp_path / "clickhouse" / "users.d" / "roles.xml").getroot()

    analyst, auditor, projector = (roles.find(f"users/{name}") for name in ("analyst", "auditor", "projector"))
    assert analyst is not None and auditor is not None and projector is not None
    assert (analyst.findtext("profile"), _databases(analyst)) == ("readonly", ["stats"])
    assert (auditor.findtext("profile"), _databases(auditor)) == ("readonly", ["stats_audit"])
    assert _databases(projector) == ["stats", "stats_audit", "stats_reid", "stats_oasis"]
    assert projector.findtext("password_sha256_hex") == hashlib.sha256(b"s3cret").hexdigest()
    assert analyst.findtext("password_sha256_hex") == hashlib.sha256(b"analyst").hexdigest()
    assert [ip.text for ip in analyst.findall("networks/ip")] == ["::1", "127.0.0.1"]
    writer = roles.find(f"profiles/{projector.findtext('profile')}")
    assert writer is not None and writer.findtext("allow_ddl") == "0" and writer.findtext("readonly") is None
    # the administrator keeps every database: no allow_databases
    admin = users.find("users/default")
    assert admin is not None and admin.find("allow_databases") is None
    assert users.find("users/analyst") is None
    # roles.xml has the stack's own warehouse already: granting it again writes nothing (and asks no server)
    ClickHouseService(settings).grant("stats")
    assert sorted(p.name for p in (tmp_path / "clickhouse" / "users.d").iterdir()) == ["roles.xml"]


def test_docker_compose_mounts_the_same_roles_for_its_warehouse() -> None:
    from streams.settings import PROJECT_ROOT
    from streams.stack.clickhouse import compose_roles_xml

    mounted = PROJECT_ROOT / "deploy" / "clickhouse" / "users.d" / "crossroads-roles.xml"
    assert mounted.read_text() == compose_roles_xml(), f"regenerate {mounted}: see compose_roles_xml's docstring"
    projector = ET.fromstring(compose_roles_xml()).find("users/projector")
    assert projector is not None
    assert _databases(projector) == ["crossroads", "crossroads_audit", "crossroads_reid", "crossroads_oasis"]
    assert [ip.text for ip in projector.findall("networks/ip")] == ["::/0", "0.0.0.0/0"]


def test_a_further_warehouse_is_granted_by_a_file_whose_entries_cannot_replace_another_files(tmp_path: Path) -> None:
    from streams.stack.clickhouse import ClickHouseService

    service = ClickHouseService(Settings(state_dir=tmp_path))
    path = service.grant_file("crossroads_test_x")
    assert path.parent == tmp_path / "clickhouse" / "users.d" and path.suffix == ".xml"

    grants = ET.fromstring(service.grants_xml("crossroads_test_x"))
    analyst, auditor, projector = (grants.find(f"users/{name}") for name in ("analyst", "auditor", "projector"))
    assert analyst is not None and auditor is not None and projector is not None
    assert _databases(analyst) == ["crossroads_test_x"]
    assert _databases(auditor) == ["crossroads_test_x_audit"]
    assert _databases(projector) == [
        "crossroads_test_x",
        "crossroads_test_x_audit",
        "crossroads_test_x_reid",
        "crossroads_test_x_oasis",
    ]
    # ClickHouse merges users.d/ elements by name and attributes: the attribute keeps two warehouses apart
    assert {d.get("warehouse") for d in grants.iter("database")} == {"crossroads_test_x"}
    with pytest.raises(Exception, match="identifier"):
        service.grant_file("x; DROP")
