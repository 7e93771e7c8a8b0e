"""`crossroads check`: identifiers, and files of 1,000 records with a known set of broken ones."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import fastavro
from typer.testing import CliRunner

from streams.cli.check import app
from streams.codecs import SchemaRegistry
from streams.domain.samples import sample_dimona_in, sample_dimona_out, sample_dmfa
from streams.synthetic.numbers import break_niss
from tests.support import niss, person_number, to_json, with_envelope

runner = CliRunner()
LINE = re.compile(r"^record (\d+)  (\S+)  (\S+)  .+$")
REGISTRY = SchemaRegistry.from_directory()


# Each breakage: (type, record builder, the exact violations expected as {(field, code)}).
BREAKAGES: list[tuple[str, Any, set[tuple[str, str]]]] = [
    (
        "DimonaIn",
        lambda i: {**sample_dimona_in(worker=break_niss(niss()))},
        {("worker", "niss.check_digits")},
    ),
    (
        "DimonaIn",
        lambda i: {
            **sample_dimona_in(worker=niss()),
            "employer": "2403170701",
            "planned_end_date": dt.date(2024, 1, 1),
        },
        {("employer", "enterprise.first_digit"), ("planned_end_date", "dimona.planned_end_before_start")},
    ),
    (
        "DimonaIn",
        lambda i: {**sample_dimona_in(worker=niss()), "worker_type": "STU"},
        {("planned_end_date", "dimona.student_end_required"), ("planned_hours", "dimona.planned_hours")},
    ),
    (
        "DimonaIn",
        lambda i: {**sample_dimona_in(worker=niss()), "start_date": "2024-02-30", "wokrer": "x"},
        {("start_date", "schema.type"), ("wokrer", "schema.unknown_field")},
    ),
    (
        "DimonaIn",
        lambda i: with_envelope(sample_dimona_in(worker=niss()), sender_reference="", ticket="T-1"),
        {("envelope.sender_reference", "envelope.sender_reference"), ("envelope.ticket", "envelope.ticket")},
    ),
    (
        "DimonaOut",
        lambda i: {**sample_dimona_out(worker=niss()), "end_date": dt.date(2024, 6, 30)},
        {("end_date", "dimona.end_before_start")},
    ),
    ("DmfaDeclaration", lambda i: {**sample_dmfa(lines=2), "version": 3}, {("version", "dmfa.version")}),
]


def valid_record(i: int) -> tuple[str, dict[str, Any]]:
    kind = i % 3
    if kind == 0:
        return "DimonaIn", sample_dimona_in(worker=niss())
    if kind == 1:
        return "be.crossroads.dimona.DimonaOut", sample_dimona_out(worker=niss())
    return "DmfaDeclaration", sample_dmfa(lines=1 + i % 4)


def build(count: int = 1000) -> tuple[list[tuple[str, dict[str, Any]]], dict[int, set[tuple[str, str]]]]:
    records, expected = [], {}
    for i in range(count):
        if i % 37 == 5:  # 27 broken records spread through the file, every breakage several times
            type_name, make, violations = BREAKAGES[(i // 37) % len(BREAKAGES)]
            records.append((type_name, make(i)))
            expected[i + 1] = violations
        else:
            records.append(valid_record(i))
    return records, expected


def reported(output: str) -> dict[int, set[tuple[str, str]]]:
    found: dict[int, set[tuple[str, str]]] = {}
    for line in output.splitlines():
        match = LINE.match(line)
        if match:
            found.setdefault(int(match[1]), set()).add((match[2], match[3]))
    return found


def test_a_1000_record_file_reports_exactly_the_broken_records(tmp_path: Path) -> None:
    records, expected = build()
    path = tmp_path / "declarations.jsonl"
    path.write_text("".join(json.dumps({"type": t, **r}, default=to_json) + "\n" for t, r in records))
    result = runner.invoke(app, ["file", str(path)])
    assert result.exit_code == 1, result.output
    assert reported(result.output) == expected
    violations = sum(len(v) for v in expected.values())
    assert (
        f"1000 records checked: {1000 - len(expected)} valid, {len(expected)} invalid, {violations} violations"
        in result.output
    )


def test_a_clean_file_exits_0(tmp_path: Path) -> None:
    path = tmp_path / "ok.jsonl"
    path.write_text("\n".join(json.dumps(sample_dimona_in(worker=niss()), default=to_json) for _ in range(5)))
    result = runner.invoke(app, ["file", str(path), "--type", "DimonaIn"])
    assert result.exit_code == 0, result.output
    assert "5 records checked: 5 valid, 0 invalid" in result.output


def test_type_missing_bad_json_and_unknown_type(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_text('{"worker": "1"}\nnot json\n{"type": "Nope"}\n')
    result = runner.invoke(app, ["file", str(path)])
    assert result.exit_code == 1
    assert reported(result.output) == {
        1: {("type", "file.type_missing")},
        2: {("-", "file.json")},
        3: {("type", "declaration.unknown_type")},
    }


def test_csv_with_nested_columns(tmp_path: Path) -> None:
    path = tmp_path / "dimona.csv"
    rows = []
    for i in range(4):
        record = sample_dimona_in(worker=niss() if i != 2 else "12345678901")
        flat = {f"envelope.{k}": v for k, v in record.pop("envelope").items()}
        rows.append({"type": "DimonaIn", **flat, **record})
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {k: to_json(v) if isinstance(v, dt.date) else ("" if v is None else v) for k, v in row.items()}
            )
    result = runner.invoke(app, ["file", str(path)])
    assert result.exit_code == 1, result.output
    assert reported(result.output) == {3: {("worker", "niss.check_digits")}}


def test_avro_container_says_its_own_type(tmp_path: Path) -> None:
    path = tmp_path / "dimona.avro"
    records = [sample_dimona_in(worker=niss()) for _ in range(3)]
    records[1]["joint_committee"] = "2OO"
    with path.open("wb") as handle:
        fastavro.writer(handle, REGISTRY.get("be.crossroads.dimona.DimonaIn").parsed, records)
    result = runner.invoke(app, ["file", str(path)])
    assert result.exit_code == 1, result.output
    assert reported(result.output) == {2: {("joint_committee", "joint_committee.format")}}


def test_check_niss_prints_the_facts() -> None:
    result = runner.invoke(app, ["niss", "93.05.18-223.61"])
    assert result.exit_code == 0
    assert "1993-05-18" in result.output and "national_register" in result.output and "M" in result.output


def test_check_bis_and_enterprise() -> None:
    assert runner.invoke(app, ["bis", "93.05.18-223.61"]).exit_code == 1
    ok = runner.invoke(app, ["enterprise", "BE 0403.170.701"])
    assert ok.exit_code == 0 and "0403.170.701" in ok.output
    bad = runner.invoke(app, ["enterprise", "0403.170.702"])
    assert bad.exit_code == 1 and "enterprise.check_digits" in bad.output


def test_check_niss_invalid_says_why() -> None:
    number = person_number(1993, 2, 30, 223)  # 30 February, with correct check digits: only the date is wrong
    result = runner.invoke(app, ["niss", number])
    assert result.exit_code == 1
    assert "niss.birth_date" in result.output and "impossible" in result.output


def test_check_enterprise_reads_the_legacy_nine_digit_form_and_says_so() -> None:
    result = runner.invoke(app, ["enterprise", "403.170.701"])

    assert result.exit_code == 0, result.output
    assert result.output.startswith("valid")
    assert "0403170701" in result.output and "0403.170.701" in result.output
    assert "note" in result.output and "read as 0403170701" in result.output


def test_a_record_with_a_nine_digit_enterprise_number_passes_with_a_note(tmp_path: Path) -> None:
    legacy = {**sample_dimona_in(worker=niss()), "employer": "403170701"}
    modern = sample_dimona_in(worker=niss())
    path = tmp_path / "legacy.jsonl"
    path.write_text("".join(json.dumps(r, default=to_json) + "\n" for r in (modern, legacy)))

    result = runner.invoke(app, ["file", str(path), "--type", "DimonaIn"])

    assert result.exit_code == 0, result.output
    assert reported(result.output) == {}  # no violation
    notes = [line for line in result.output.splitlines() if line.startswith("note")]
    assert notes == ["note  record 2  employer  '403170701' read as 0403170701 (the legacy 9-digit form, 0 prefixed)"]
    assert "2 records checked: 2 valid, 0 invalid, 0 violations, 1 note" in result.output
