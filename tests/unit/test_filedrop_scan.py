"""The connector's first pass over a data file (no Kafka): formats, trailers, truncation, hashes."""

from __future__ import annotations

import json
from pathlib import Path

from connectors.files.samples import dimona_records, write_avro, write_csv, write_jsonl
from connectors.files.scan import scan_file
from streams.codecs import SchemaRegistry
from streams.codecs.quality import read_records
from streams.settings import Settings

EMPLOYER = "0403170701"


def test_jsonl_with_trailer(tmp_path: Path) -> None:
    path = tmp_path / "f"
    write_jsonl(path, dimona_records(7, EMPLOYER))
    scanned, file_format = scan_file(path, None)
    assert file_format == "jsonl"
    assert (scanned.scan.records, scanned.scan.trailer, scanned.scan.trailers) == (7, 7, 1)
    assert scanned.trailer_at == 8 and scanned.scan.truncated is None
    numbers = [r.number for r in read_records(path, "jsonl") if r.number != scanned.trailer_at]
    assert numbers == list(range(1, 8))  # the second pass numbers records like the first


def test_a_file_cut_mid_line_is_truncated(tmp_path: Path) -> None:
    path = tmp_path / "f"
    write_jsonl(path, dimona_records(5, EMPLOYER), trailer=False)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 40])
    scanned, _ = scan_file(path, None)
    assert scanned.scan.truncated is not None and "line 5" in scanned.scan.truncated
    assert scanned.scan.records == 4


def test_a_last_line_without_newline_but_whole_is_not_truncated(tmp_path: Path) -> None:
    path = tmp_path / "f"
    write_jsonl(path, dimona_records(3, EMPLOYER), trailer=False)
    path.write_bytes(path.read_bytes().rstrip(b"\n"))
    scanned, _ = scan_file(path, None)
    assert scanned.scan.truncated is None and scanned.scan.records == 3


def test_a_wrong_trailer_is_seen(tmp_path: Path) -> None:
    path = tmp_path / "f"
    write_jsonl(path, dimona_records(5, EMPLOYER), trailer=6)
    scanned, _ = scan_file(path, None)
    assert (scanned.scan.records, scanned.scan.trailer) == (5, 6)


def test_same_content_same_hash(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    write_jsonl(a, dimona_records(5, EMPLOYER))
    write_jsonl(b, dimona_records(5, EMPLOYER))
    write_jsonl(c, dimona_records(5, EMPLOYER, first=1))
    assert scan_file(a, None)[0].sha256 == scan_file(b, None)[0].sha256 != scan_file(c, None)[0].sha256


def test_csv_with_trailer_row(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    write_csv(path, list(dimona_records(4, EMPLOYER)))
    scanned, file_format = scan_file(path, "csv")
    assert file_format == "csv"
    assert (scanned.scan.records, scanned.scan.trailer, scanned.trailer_at) == (4, 4, 5)
    assert scanned.scan.truncated is None


def test_csv_cut_mid_row_is_truncated(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    write_csv(path, list(dimona_records(4, EMPLOYER)), trailer=False)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 60])
    scanned, _ = scan_file(path, "csv")
    assert scanned.scan.truncated is not None


def test_avro_container_with_count_in_its_header(tmp_path: Path) -> None:
    registry = SchemaRegistry.from_directory(Settings().schema_dir)
    schema = registry.get("be.crossroads.dimona.DimonaIn").standalone
    records = [json.loads(json.dumps(r)) for r in dimona_records(3, EMPLOYER)]
    path = tmp_path / "f"
    from streams.codecs.conform import conform

    conformed = []
    for r in records:
        r.pop("type")
        r["envelope"]["ticket"] = None
        value, violations = conform(registry, "be.crossroads.dimona.DimonaIn", r)
        assert violations == []
        conformed.append(value)
    write_avro(path, schema, conformed, count=3)
    scanned, file_format = scan_file(path, None)  # sniffed from the magic bytes
    assert file_format == "avro"
    assert (scanned.scan.records, scanned.scan.trailer) == (3, 3)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    broken, _ = scan_file(path, None)
    assert broken.scan.truncated is not None


def test_an_empty_file_cannot_be_read(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"")
    scanned, file_format = scan_file(path, None)
    assert file_format is None and scanned.scan.unreadable is not None
