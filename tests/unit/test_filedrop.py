"""The batch file protocol's pure rules: names, formal checks, identity, replies, envelopes."""

from __future__ import annotations

import datetime as dt

import pytest

from streams.domain.filedrop import (
    FILE_TYPES,
    DropKind,
    FileScan,
    IdentityDecision,
    acrf,
    decide_identity,
    envelope_anomalies,
    formal_check,
    noti_line,
    origin,
    parse_drop_name,
    reply_name,
    trailer_count,
)
from streams.domain.validation import Violation

OWNER = "0403170701"
GOOD = f"FI.DIMN.{OWNER}.20260127.00001.R"


def codes(reasons: list[Violation]) -> set[str]:
    return {r.code for r in reasons}


def test_names_pair_data_go_and_cancel_by_their_tail() -> None:
    data = parse_drop_name(GOOD + ".jsonl")
    go = parse_drop_name(f"GO.DIMN.{OWNER}.20260127.00001.R")
    cancel = parse_drop_name(f"TD.DIMN.{OWNER}.20260127.00001.R")
    assert data is not None and go is not None and cancel is not None
    assert (data.kind, go.kind, cancel.kind) == (DropKind.DATA, DropKind.GO, DropKind.CANCEL)
    assert data.tail == go.tail == cancel.tail == f"DIMN.{OWNER}.20260127.00001.R"
    assert data.extension == "jsonl" and go.extension is None
    identity = data.identity()
    assert identity is not None and identity.key == f"{OWNER}.20260127.000001.R"


@pytest.mark.parametrize("name", ["README.txt", ".FI.DIMN.x.tmp", "FI.DIMN.0403170701.20260127", "XX.A.B.C.D.E"])
def test_files_outside_the_protocol_are_ignored(name: str) -> None:
    assert parse_drop_name(name) is None


def test_a_good_file_passes_the_formal_checks() -> None:
    name = parse_drop_name(GOOD)
    assert name is not None
    assert (
        formal_check(name, OWNER, FileScan("jsonl", 10, trailer=10, trailers=1), platform_environment="production")
        == []
    )


def test_formal_checks_report_every_reason_at_once() -> None:
    name = parse_drop_name("FI.XXXX.0403170702.20261341.1234567.T")
    assert name is not None
    scan = FileScan("jsonl", 3, trailer=4, trailers=1, truncated="line 4 is cut short")
    reasons = formal_check(name, OWNER, scan, platform_environment="production")
    assert codes(reasons) == {
        "file.type",
        "file.sender",
        "file.date",
        "file.seq",
        "file.environment",
        "file.truncated",
        "file.trailer_count",
    }
    assert all(r.message for r in reasons)


def test_trailer_rules() -> None:
    name = parse_drop_name(GOOD)
    assert name is not None

    def check(scan: FileScan) -> set[str]:
        return codes(formal_check(name, OWNER, scan, platform_environment="production"))

    assert check(FileScan("jsonl", 5)) == set()  # a trailer is optional
    assert check(FileScan("jsonl", 5, trailer=6, trailers=1)) == {"file.trailer_count"}
    assert check(FileScan("jsonl", 5, trailer=5, trailers=1, trailer_last=False)) == {"file.trailer"}
    assert check(FileScan("jsonl", 5, trailer=5, trailers=2)) == {"file.trailer"}
    assert check(FileScan("jsonl", 5, trailers=1, trailer_problem="not a number")) == {"file.trailer"}
    assert check(FileScan("jsonl", 0)) == {"file.empty"}
    assert check(FileScan(None, 0, unreadable="binary garbage")) == {"file.unreadable"}


def test_a_test_file_is_refused_by_the_production_platform_and_accepted_by_the_test_one() -> None:
    name = parse_drop_name(f"FI.DIMN.{OWNER}.20260127.00001.T")
    assert name is not None
    scan = FileScan("csv", 1)
    assert codes(formal_check(name, OWNER, scan, platform_environment="production")) == {"file.environment"}
    assert formal_check(name, OWNER, scan, platform_environment="test") == []


def test_trailer_count_reads_json_and_csv_trailers() -> None:
    assert trailer_count({"records": 12}) == 12
    assert trailer_count({"records": " 12 "}) == 12
    assert trailer_count({"a": "", "b": {"c": "7"}}) == 7  # a CSV row: its only non-empty cell
    assert isinstance(trailer_count({"records": "twelve"}), str)
    assert isinstance(trailer_count({"records": True}), str)
    assert isinstance(trailer_count({"a": "1", "b": "2"}), str)


def test_identity_rules() -> None:
    assert decide_identity(None, False, "abc") is IdentityDecision.NEW
    assert decide_identity("abc", True, "abc") is IdentityDecision.REPLAY
    assert decide_identity("abc", False, "abc") is IdentityDecision.RESUME
    assert decide_identity("abc", True, "def") is IdentityDecision.CONFLICT
    assert decide_identity("abc", False, "def") is IdentityDecision.CONFLICT


def test_reply_names_are_the_same_for_the_same_drop_and_differ_for_other_content() -> None:
    tail = f"DIMN.{OWNER}.20260127.00001.R"
    assert reply_name("ACRF", tail, "a" * 64) == reply_name("ACRF", tail, "a" * 64)
    assert reply_name("ACRF", tail, "a" * 64) != reply_name("ACRF", tail, "b" * 64)
    assert reply_name("NOTI", tail, "a" * 64).startswith("FO.NOTI.DIMN.")


def test_acrf_and_noti_say_accepted_or_refused_with_every_reason() -> None:
    name = parse_drop_name(GOOD)
    assert name is not None
    at = dt.datetime(2026, 1, 27, 10, tzinfo=dt.UTC)
    reason = Violation("file.trailer_count", "trailer", "announces 3, holds 2")
    refused = acrf(GOOD, name, "f" * 64, FileScan("jsonl", 2), [reason], at)
    assert refused["status"] == "REFUSED" and refused["reasons"] == [reason.as_dict()]
    assert acrf(GOOD, name, "f" * 64, FileScan("jsonl", 2), [], at)["status"] == "ACCEPTED"
    ok = noti_line(1, "be.crossroads.dimona.DimonaIn", "R-1", "t-1", [])
    bad = noti_line(2, "be.crossroads.dimona.DimonaIn", "R-2", "t-2", [reason])
    assert (ok["status"], ok["ticket"]) == ("ACCEPTED", "t-1")
    assert (bad["status"], bad["ticket"], bad["anomalies"]) == ("REJECTED", None, [reason.as_dict()])


def test_envelopes_are_completed_from_the_file_and_contradictions_reported() -> None:
    dimona = FILE_TYPES["DIMN"]
    record: dict[str, object] = {"envelope": {"sender_reference": "R-1"}}
    assert envelope_anomalies(dimona, "be.crossroads.dimona.DimonaIn", record, OWNER, "R") == []
    assert record["envelope"] == {
        "sender_reference": "R-1",
        "sender": OWNER,
        "environment": "PRODUCTION",
        "ticket": None,
        "schema_version": 1,
    }
    other = {"envelope": {"sender": "0206731645", "environment": "TEST", "ticket": "x"}}
    found = envelope_anomalies(dimona, "be.crossroads.civil.Death", other, OWNER, "R")
    assert codes(found) == {"file.record_type", "file.sender", "file.environment", "envelope.ticket"}


def test_single_schema_file_types_have_a_default_schema() -> None:
    assert FILE_TYPES["DMFA"].default_schema == "be.crossroads.dmfa.DmfaDeclaration"
    assert FILE_TYPES["DIMN"].default_schema is None
    assert {t.family for t in FILE_TYPES.values()} == {"dimona", "dmfa", "integrations", "civil", "consultations"}


def test_origin_names_identity_and_content() -> None:
    name = parse_drop_name(GOOD)
    assert name is not None and (identity := name.identity()) is not None
    assert origin(identity, "a" * 64) != origin(identity, "b" * 64)
    assert origin(identity, "a" * 64).startswith(identity.key)
