"""Intake validation: all violations, stable codes, and the rule catalogue."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from streams.codecs import default_schema_dir
from streams.domain.kinds import DECLARATION_TYPES, validate
from streams.domain.samples import SAMPLE_NISS, sample, sample_dimona_in, sample_dmfa
from streams.domain.validation import RULES, parse_quarter

DOCS = (default_schema_dir().parent / "docs" / "contracts.md").read_text(encoding="utf-8")


def codes(schema_name: str, record: dict[str, Any]) -> set[tuple[str, str]]:
    found = {(v.field, v.code) for v in validate(schema_name, record)}
    assert {code for _, code in found} <= set(RULES), "every emitted code is catalogued"
    return found


def changed(name: str, **fields: Any) -> dict[str, Any]:
    return {**sample(name), **fields}


@pytest.mark.parametrize("name", DECLARATION_TYPES)
def test_samples_are_valid(name: str) -> None:
    assert validate(name, sample(name)) == []


def test_all_violations_not_the_first() -> None:
    record = changed(
        "be.crossroads.dimona.DimonaIn",
        worker="93051822362",
        employer="2403170701",
        planned_end_date=dt.date(2024, 6, 1),
        joint_committee="20",
        planned_hours=10,
    )
    record["envelope"] = {**record["envelope"], "sender_reference": " ", "ticket": "nope", "schema_version": 0}
    assert codes("be.crossroads.dimona.DimonaIn", record) == {
        ("worker", "niss.check_digits"),
        ("employer", "enterprise.first_digit"),
        ("planned_end_date", "dimona.planned_end_before_start"),
        ("joint_committee", "joint_committee.format"),
        ("planned_hours", "dimona.planned_hours_not_student"),
        ("envelope.sender_reference", "envelope.sender_reference"),
        ("envelope.ticket", "envelope.ticket"),
        ("envelope.schema_version", "envelope.schema_version"),
    }


def test_student_rules() -> None:
    record = changed("be.crossroads.dimona.DimonaIn", worker_type="STU")
    assert codes("be.crossroads.dimona.DimonaIn", record) == {
        ("planned_end_date", "dimona.student_end_required"),
        ("planned_hours", "dimona.planned_hours"),
    }
    ok = changed(
        "be.crossroads.dimona.DimonaIn", worker_type="STU", planned_end_date=dt.date(2024, 8, 31), planned_hours=120
    )
    assert validate("be.crossroads.dimona.DimonaIn", ok) == []


def test_out_update_cancel() -> None:
    assert codes(
        "be.crossroads.dimona.DimonaOut", changed("be.crossroads.dimona.DimonaOut", end_date=dt.date(2024, 6, 30))
    ) == {("end_date", "dimona.end_before_start")}
    empty = changed("be.crossroads.dimona.DimonaUpdate", new_end_date=None)
    assert codes("be.crossroads.dimona.DimonaUpdate", empty) == {("", "dimona.update_empty")}
    backwards = changed("be.crossroads.dimona.DimonaUpdate", new_start_date=dt.date(2025, 1, 1))
    assert codes("be.crossroads.dimona.DimonaUpdate", backwards) == {("new_end_date", "dimona.update_end_before_start")}
    cancel = changed("be.crossroads.dimona.DimonaCancel", cancelled_ticket="x", relation_start_date=dt.date(1800, 1, 1))
    assert codes("be.crossroads.dimona.DimonaCancel", cancel) == {
        ("cancelled_ticket", "uuid.format"),
        ("relation_start_date", "date.range"),
    }


def test_batch_size_and_items() -> None:
    name = "be.crossroads.dimona.DimonaBatch"
    item = ("be.crossroads.dimona.DimonaIn", sample_dimona_in())
    assert codes(name, changed(name, declarations=[item] * 21)) == {("declarations", "dimona.batch_size")}
    assert codes(name, changed(name, declarations=[])) == {("declarations", "dimona.batch_size")}
    assert validate(name, changed(name, declarations=[item] * 20)) == []
    foreign = sample_dimona_in(worker="93051822362")
    foreign["envelope"] = {**foreign["envelope"], "environment": "PRODUCTION"}
    assert codes(name, changed(name, declarations=[item, ("be.crossroads.dimona.DimonaIn", foreign)])) == {
        ("declarations[1].worker", "niss.check_digits"),
        ("declarations[1].envelope", "dimona.batch_sender"),
    }


def test_dmfa_rules() -> None:
    record = sample_dmfa(lines=3)
    lines = record["worker_lines"]
    lines[0]["gross_wage_cents"] = -1
    lines[1]["days_worked"] = 90  # + 6 assimilated > 92 days of 2024-Q3
    lines[2]["assimilated_days"] = [{"reason": "SICKNESS", "days": 0}, {"reason": "SICKNESS", "days": 2}]
    lines.append(dict(lines[0]))
    record.update(nature="CORRECTION", version=1)
    assert codes("be.crossroads.dmfa.DmfaDeclaration", record) == {
        ("worker_lines[0].gross_wage_cents", "dmfa.amount_negative"),
        ("worker_lines[3].gross_wage_cents", "dmfa.amount_negative"),
        ("worker_lines[1]", "dmfa.days_exceed_quarter"),
        ("worker_lines[2].assimilated_days[0].days", "dmfa.days_negative"),
        ("worker_lines[2].assimilated_days[1].reason", "dmfa.duplicate_reason"),
        ("worker_lines[3]", "dmfa.duplicate_line"),
        ("version", "dmfa.version"),
    }
    assert codes("be.crossroads.dmfa.DmfaDeclaration", {**sample_dmfa(), "quarter": "2024-Q5", "worker_lines": []}) == {
        ("quarter", "dmfa.quarter_format"),
        ("worker_lines", "dmfa.no_worker_lines"),
    }


@pytest.mark.parametrize(("text", "days"), [("2024-Q1", 91), ("2023-Q1", 90), ("2024-Q4", 92), ("2024-Q2", 91)])
def test_quarters(text: str, days: int) -> None:
    first, last = parse_quarter(text) or (None, None)
    assert first is not None and last is not None and (last - first).days + 1 == days
    assert parse_quarter("2024Q1") is None and parse_quarter("2024-Q0") is None


def test_civil_rules() -> None:
    birth = changed(
        "be.crossroads.civil.Birth",
        birth_date=dt.date(2000, 1, 2),
        parents=["00010101588", SAMPLE_NISS, SAMPLE_NISS],
        municipality_nis="123",
    )
    assert codes("be.crossroads.civil.Birth", birth) == {
        ("birth_date", "civil.birth_date_mismatch"),
        ("parents", "civil.parents_count"),
        ("parents[0]", "civil.parent_is_child"),
        ("parents[2]", "civil.parents_duplicate"),
        ("municipality_nis", "municipality.format"),
    }
    death = changed("be.crossroads.civil.Death", date_of_death=dt.date(1985, 7, 29))
    assert codes("be.crossroads.civil.Death", death) == {("date_of_death", "civil.death_before_birth")}
    status = changed("be.crossroads.civil.CivilStatusChange", partner=None)
    assert codes("be.crossroads.civil.CivilStatusChange", status) == {("partner", "civil.partner_required")}
    itself = changed("be.crossroads.civil.CivilStatusChange", partner=SAMPLE_NISS)
    assert codes("be.crossroads.civil.CivilStatusChange", itself) == {("partner", "civil.partner_is_person")}
    moved = sample("be.crossroads.civil.AddressChange")
    moved["address"] = {**moved["address"], "postal_code": "0999", "municipality_nis": None, "street": ""}
    assert codes("be.crossroads.civil.AddressChange", moved) == {
        ("address.postal_code", "address.postal_code"),
        ("address.municipality_nis", "address.municipality_required"),
        ("address.street", "text.blank"),
    }


def test_directory_and_consultation_rules() -> None:
    integration = changed(
        "be.crossroads.directory.Integration",
        sector="mutuality",
        capacity="",
        period={"start": dt.date(2024, 1, 1), "end": dt.date(2023, 12, 31)},
    )
    assert codes("be.crossroads.directory.Integration", integration) == {
        ("sector", "directory.sector_format"),
        ("capacity", "directory.capacity_format"),
        ("period.end", "period.end_before_start"),
    }
    request = changed("be.crossroads.consultation.ConsultationRequest", requester="0403170701", data_type="dmfa")
    assert codes("be.crossroads.consultation.ConsultationRequest", request) == {
        ("requester", "consultation.requester_not_sender"),
        ("data_type", "consultation.data_type"),
    }


def test_unknown_type_is_a_violation() -> None:
    assert codes("be.crossroads.x.Nope", {}) == {("", "declaration.unknown_type")}


def test_every_rule_is_documented_with_its_scope() -> None:
    documented = dict(re.findall(r"^\| `([a-z_]+\.[a-z_]+)` \| (intake|state|file) \|", DOCS, re.MULTILINE))
    assert documented == {code: rule.scope for code, rule in RULES.items()}, "docs/contracts.md and the catalogue"
