"""The inbound file connector judges a partner's records by the sender rules, with the folder's owner as the
producer: what its NOTI says is what the intake will decide."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from connectors.files.inbound import InboundConnector
from connectors.files.samples import dimona_in
from streams.domain.filedrop import FILE_TYPES
from streams.settings import Settings

EMPLOYER = "0403170701"
MANDATED = "0448123469"  # SD Worx: mandated by EMPLOYER since 2020
ENDED = "0459246894"  # Partena: its mandate of EMPLOYER ended 2019-12-31


def judged(tmp_path: Path, folder_owner: str, record: dict[str, Any]) -> list[str]:
    connector = InboundConnector(Settings(), tmp_path)
    verdict = connector.judge(1, record.pop("type"), record, None, FILE_TYPES["DIMN"], folder_owner, "R")
    return [v.code for v in verdict.anomalies]


def for_employer(sender: str | None) -> dict[str, Any]:
    """A DIMONA IN for EMPLOYER whose envelope names ``sender`` (None: left out, the file says it)."""
    record = dimona_in(1, EMPLOYER)
    if sender is None:
        del record["envelope"]["sender"]
    else:
        record["envelope"]["sender"] = sender
    return record


def test_a_mandated_secretariats_folder_declares_for_its_employer(tmp_path: Path) -> None:
    assert judged(tmp_path, MANDATED, for_employer(None)) == []
    assert judged(tmp_path, EMPLOYER, for_employer(EMPLOYER)) == []


def test_a_secretariat_whose_mandate_ended_is_refused_in_the_noti(tmp_path: Path) -> None:
    assert judged(tmp_path, ENDED, for_employer(None)) == ["envelope.sender_not_mandated"]


def test_a_record_claiming_another_sender_than_the_folders_owner_is_refused_once(tmp_path: Path) -> None:
    assert judged(tmp_path, MANDATED, for_employer(EMPLOYER)) == ["file.sender"]
