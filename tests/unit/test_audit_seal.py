"""Seals: `crossroads audit verify` against the verified heads it recorded (pure verdicts, the seal file, the CLI's
exit codes over an in-memory partition).  Milliseconds, no Kafka."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

import streams.cli.audit as audit_cli
from streams.audit_seal import SealFileError, load_seals, save_seals, seal_file
from streams.codecs import AvroCodec, SchemaRegistry, default_schema_dir
from streams.domain.audit import (
    AUDIT_BATCH_SCHEMA,
    AUDIT_SCHEMA,
    EDITED,
    GENESIS,
    RELINKED,
    PartitionVerdict,
    ProblemKind,
    Seal,
    Unreadable,
    audit_hash,
    audit_records,
    chain,
    delivery_entry,
    partition_gone,
    read_from,
    verify_partition,
)
from streams.kafka import KafkaAdapterError
from streams.kafka.audit_log import LogRecord, TopicMissingError
from streams.settings import Settings

TOPIC = "crossroads.audit.exchanges.v1"
SEALED_AT = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
ANNA = "93051822361"


def records(
    count: int, tag: str = "r", start: str = GENESIS, first_at: datetime = SEALED_AT - timedelta(days=1)
) -> list[dict[str, Any]]:
    chained, head = [], start
    for i in range(count):
        record = chain(
            head,
            delivery_entry(
                ticket=f"{tag}-{i}",
                actor="0212344876",
                person=ANNA,
                data_type="be.crossroads.dimona.DimonaIn",
                legal_basis="CSSS/11/042",
                at=first_at + timedelta(minutes=i),
            ),
        )
        chained.append(record)
        head = record["hash"]
    return chained


Partition = list[tuple[int, list[dict[str, Any]] | Unreadable]]


def at(chained: list[dict[str, Any]], start: int = 0) -> Partition:
    """One message per audit record (the AuditRecord messages written before AuditBatch)."""
    return [(start + i, [r]) for i, r in enumerate(chained)]


def batched(chained: list[dict[str, Any]], sizes: list[int], start: int = 0) -> Partition:
    """The records as AuditBatch messages of ``sizes`` records each."""
    partition: Partition = []
    for offset, size in enumerate(sizes, start):
        partition.append((offset, chained[:size]))
        chained = chained[size:]
    assert not chained
    return partition


def check(
    partition: Partition,
    seal: Seal | None,
    *,
    low: int | None = None,
    high: int | None = None,
    full: bool = False,
    kept_forever: bool = True,
) -> PartitionVerdict:
    """What the CLI does over Kafka: watermarks, then the records from read_from() up to high."""
    if low is None:
        low = partition[0][0] if partition else 0
    if high is None:
        high = partition[-1][0] + 1 if partition else low
    begin = read_from(seal, low=low, full=full)
    wanted = [(o, r) for o, r in partition if begin <= o < high]
    return verify_partition(
        wanted, topic=TOPIC, partition=3, seal=seal, low=low, high=high, now=NOW, full=full, kept_forever=kept_forever
    )


def sealed(partition: Partition) -> Seal:
    """The seal a first verification of ``partition`` records (dated SEALED_AT)."""
    verdict = check(partition, None)
    assert verdict.seal is not None, verdict.problem
    return replace(verdict.seal, verified_at=SEALED_AT)


def never_read() -> Iterator[tuple[int, dict[str, Any]]]:
    raise AssertionError("the watermarks alone decide this: nothing must be read")
    yield  # pragma: no cover


# -- first verification and incremental ones -------------------------------------------------------------------
def test_a_first_verification_seals_the_head_of_the_whole_chain() -> None:
    chained = records(5)
    verdict = check(at(chained), None)
    assert verdict.ok and verdict.read == 5
    assert verdict.seal == Seal(TOPIC, 3, 0, 4, chained[-1]["hash"], 5, NOW)


def test_an_empty_partition_is_sealed_as_empty_from_its_start() -> None:
    verdict = check([], None, low=0, high=0)
    assert verdict.ok and verdict.seal == Seal(TOPIC, 3, 0, None, GENESIS, 0, NOW)


def test_a_later_verification_starts_from_the_sealed_record_and_advances_the_seal() -> None:
    chained = records(8)
    seal = sealed(at(chained[:5]))
    assert read_from(seal, low=0, full=False) == 4 and read_from(seal, low=0, full=True) == 0

    verdict = check(at(chained), seal)

    assert verdict.ok and verdict.read == 4  # the sealed record again, then the three new ones
    assert verdict.seal == Seal(TOPIC, 3, 0, 7, chained[-1]["hash"], 8, NOW)
    assert check(at(chained), seal, full=True).seal == verdict.seal


def test_nothing_new_keeps_the_head_and_dates_the_seal_again() -> None:
    partition = at(records(3))
    verdict = check(partition, sealed(partition))
    assert verdict.ok and verdict.seal == replace(sealed(partition), verified_at=NOW)


def test_a_partition_sealed_empty_must_start_its_chain_at_genesis() -> None:
    seal = sealed([])
    assert check(at(records(2)), seal).ok
    foreign = records(3)[1:]  # a chain whose first record links to something before it
    verdict = check(at(foreign), seal)
    assert verdict.problem is not None and (verdict.problem.kind, verdict.problem.offset) == (
        ProblemKind.BAD_RECORD,
        0,
    )


# -- AuditBatch messages: several records per message ---------------------------------------------------------
def test_batches_and_single_records_are_one_chain_sealed_at_the_last_message() -> None:
    chained = records(9)
    partition = [*at(chained[:2]), *batched(chained[2:], [3, 1, 3], start=2)]  # the upgrade: singles, then batches
    verdict = check(partition, None)
    assert verdict.ok and verdict.read == 5
    assert verdict.seal == Seal(TOPIC, 3, 0, 4, chained[-1]["hash"], 9, NOW)


def test_a_later_verification_re_reads_the_sealed_batch_and_counts_the_new_records() -> None:
    chained = records(10)
    seal = sealed(batched(chained[:5], [2, 3]))
    assert (seal.offset, seal.hash, seal.records) == (1, chained[4]["hash"], 5)
    verdict = check(batched(chained, [2, 3, 4, 1]), seal)
    assert verdict.ok and verdict.read == 3  # the sealed batch, then the two new ones
    assert verdict.seal == Seal(TOPIC, 3, 0, 3, chained[-1]["hash"], 10, NOW)
    assert check(batched(chained, [2, 3, 4, 1]), seal, full=True).seal == verdict.seal


def test_an_edited_record_inside_a_batch_is_named_with_its_place() -> None:
    chained = records(6)
    edited = [*chained[:4], {**chained[4], "actor": "0000000097"}, chained[5]]
    verdict = check(batched(edited, [2, 4]), None)
    assert verdict.problem is not None and verdict.seal is None
    assert (verdict.problem.kind, verdict.problem.offset, verdict.problem.audit_id) == (
        ProblemKind.BAD_RECORD,
        1,
        chained[4]["audit_id"],
    )
    assert verdict.problem.reason == f"{EDITED}, its audit record 3 of 4"


def test_records_reordered_inside_a_batch_are_relinked() -> None:
    chained = records(4)
    verdict = check(batched([chained[0], chained[2], chained[1], chained[3]], [4]), None)
    assert verdict.problem is not None and verdict.problem.reason == f"{RELINKED}, its audit record 2 of 4"


def test_a_sealed_batch_edited_anywhere_is_rewritten() -> None:
    chained = records(5)
    seal = sealed(batched(chained, [2, 3]))
    edited = [*chained[:2], {**chained[2], "data_type": "other"}, *chained[3:]]
    verdict = check(batched(edited, [2, 3]), seal)
    assert verdict.problem is not None and verdict.problem.kind is ProblemKind.REWRITTEN


def test_a_message_without_audit_records_is_unreadable() -> None:
    assert audit_records(AUDIT_BATCH_SCHEMA, {"records": []}) == Unreadable("an AuditBatch without records")
    assert isinstance(audit_records("be.crossroads.outputs.Notification", {}), Unreadable)
    record = records(1)[0]
    assert audit_records(AUDIT_SCHEMA, record) == [record]
    assert audit_records(AUDIT_BATCH_SCHEMA, {"records": [record]}) == [record]


@given(st.integers(1, 12), st.integers(0, 12), st.booleans())
def test_incremental_and_full_runs_reach_the_seal_a_fresh_verification_would(first: int, more: int, full: bool) -> None:
    chained = records(first + more)
    verdict = check(at(chained), sealed(at(chained[:first])), full=full)
    assert verdict.seal == check(at(chained), None).seal


# -- truncation, rewriting, deletion at the start --------------------------------------------------------------
def test_records_removed_at_the_end_are_a_truncation_named_with_the_sealed_day() -> None:
    chained = records(8)
    seal = sealed(at(chained))
    verdict = verify_partition(never_read(), topic=TOPIC, partition=3, seal=seal, low=0, high=5, now=NOW)
    assert verdict.problem is not None and verdict.seal is None
    assert (verdict.problem.kind, verdict.problem.offset) == (ProblemKind.TRUNCATED, 7)
    assert verdict.problem.reason == "truncated: the partition ends at offset 4 but offset 7 was verified on " + (
        "2026-11-30T08:00:00Z"
    )


def test_an_emptied_or_recreated_empty_partition_is_a_truncation() -> None:
    seal = sealed(at(records(3)))
    verdict = check([], seal, low=0, high=0)
    assert verdict.problem is not None
    assert (
        verdict.problem.reason == "truncated: the partition is empty but offset 2 was verified on 2026-11-30T08:00:00Z"
    )


@given(st.integers(2, 10), st.data())
def test_any_shorter_partition_fails_even_as_a_valid_chain(count: int, data: st.DataObject) -> None:
    chained = records(count)
    keep = data.draw(st.integers(0, count - 1))
    for full in (False, True):
        verdict = check(at(chained[:keep]), sealed(at(chained)), low=0, high=keep, full=full)
        assert verdict.problem is not None and verdict.problem.kind is ProblemKind.TRUNCATED


def test_a_topic_recreated_with_another_chain_as_long_or_longer_is_caught_at_the_sealed_offset() -> None:
    seal = sealed(at(records(5)))
    impostor = at(records(7, tag="forged"))  # a perfectly valid chain, from GENESIS
    for full in (False, True):
        verdict = check(impostor, seal, full=full)
        assert verdict.problem is not None
        assert (verdict.problem.kind, verdict.problem.offset) == (ProblemKind.REWRITTEN, 4)
        assert verdict.problem.reason.startswith("record at offset 4 was rewritten: it now has hash ")
        assert verdict.problem.audit_id == records(7, tag="forged")[4]["audit_id"]


def test_the_sealed_record_edited_in_place_is_rewritten_even_if_its_hash_field_is_kept() -> None:
    chained = records(5)
    seal = sealed(at(chained))
    tampered = [*chained[:4], {**chained[4], "actor": "0000000097"}]
    verdict = check(at(tampered), seal)
    assert verdict.problem is not None and verdict.problem.kind is ProblemKind.REWRITTEN
    assert "its content no longer hashes to the hash it carries" in verdict.problem.reason
    # from the start, the same record is named for what it is: an edit
    full = check(at(tampered), seal, full=True)
    assert full.problem is not None and (full.problem.kind, full.problem.reason) == (ProblemKind.BAD_RECORD, EDITED)


def test_a_sealed_record_missing_from_its_offset_is_rewritten() -> None:
    chained = records(6)
    seal = sealed(at(chained[:4]))
    holed = [(o, r) for o, r in at(chained) if o != 3]  # e.g. compacted away
    verdict = check(holed, seal)
    assert verdict.problem is not None and (verdict.problem.kind, verdict.problem.offset) == (ProblemKind.REWRITTEN, 3)
    assert "it is gone (the next record is at offset 4)" in verdict.problem.reason
    unread = check(at(chained[:3]), seal, low=0, high=6)  # the range read back holds nothing from offset 3 on
    assert unread.problem is not None and "it is gone (nothing follows)" in unread.problem.reason


def test_records_gone_from_the_start_of_a_topic_kept_forever_are_deleted_at_the_start() -> None:
    chained = records(8)
    seal = sealed(at(chained[:6]))
    for full in (False, True):
        verdict = check(at(chained)[3:], seal, full=full)
        assert verdict.problem is not None and verdict.seal is None
        assert (verdict.problem.kind, verdict.problem.offset) == (ProblemKind.DELETED_AT_START, 0)
        assert verdict.problem.reason == (
            "deleted at the start: offsets 0-2 are gone (the partition now starts at offset 3); "
            "the audit topic is kept forever"
        )
    # never verified: a partition starts at offset 0 all the same
    never = check(at(chained)[3:], None)
    assert never.problem is not None and never.problem.kind is ProblemKind.DELETED_AT_START


def test_a_retention_explains_records_expired_before_the_sealed_record_never_the_sealed_record() -> None:
    chained = records(8)
    seal = sealed(at(chained[:6]))
    expired = at(chained)[3:]
    incremental = check(expired, seal, kept_forever=False)
    assert incremental.ok and incremental.seal is not None and incremental.seal.offset == 7
    full = check(expired, seal, kept_forever=False, full=True)  # the first kept record's link is taken on trust
    assert full.ok and full.seal is not None and (full.seal.start_offset, full.seal.offset) == (3, 7)
    assert full.seal.hash == chained[-1]["hash"]
    too_far = check(at(chained)[7:], seal, kept_forever=False)
    assert too_far.problem is not None and too_far.problem.kind is ProblemKind.DELETED_AT_START
    assert "the sealed record at offset 5 with them, which no retention explains" in too_far.problem.reason


def test_an_operator_accepts_a_deleted_start_by_sealing_where_the_chain_now_starts() -> None:
    # docs/directory.md: the deliberate edit of the seal file after an incident
    chained = records(6)
    accepted = Seal(TOPIC, 3, 2, None, GENESIS, 0, SEALED_AT)
    verdict = check(at(chained)[2:], accepted)
    assert verdict.ok and verdict.seal is not None
    assert (verdict.seal.start_offset, verdict.seal.offset, verdict.seal.records) == (2, 5, 4)
    assert check(at(chained)[3:], verdict.seal).problem is not None  # and the next deletion is caught again


# -- broken chains, with a seal ---------------------------------------------------------------------------------
def test_an_edit_after_the_seal_is_the_first_bad_record_and_nothing_is_sealed() -> None:
    chained = records(8)
    seal = sealed(at(chained[:4]))
    tampered = [*chained[:6], {**chained[6], "legal_basis": "none"}, chained[7]]
    verdict = check(at(tampered), seal)
    assert verdict.seal is None and verdict.problem is not None
    assert (verdict.problem.kind, verdict.problem.offset, verdict.problem.reason) == (ProblemKind.BAD_RECORD, 6, EDITED)
    assert verdict.problem.audit_id == chained[6]["audit_id"]


def test_a_record_appended_with_a_wrong_hash_is_named() -> None:
    chained = records(4)
    seal = sealed(at(chained))
    forged = {**chain(chained[-1]["hash"], records(1, tag="x")[0]), "hash": "f" * 64}
    verdict = check(at([*chained, forged]), seal)
    assert verdict.problem is not None
    assert (verdict.problem.kind, verdict.problem.offset, verdict.problem.reason) == (ProblemKind.BAD_RECORD, 4, EDITED)


def test_a_record_after_the_seal_that_links_elsewhere_is_relinked() -> None:
    chained = records(4)
    seal = sealed(at(chained))
    elsewhere = chain(chained[1]["hash"], records(1, tag="x")[0])
    verdict = check(at([*chained, elsewhere]), seal)
    assert verdict.problem is not None and (verdict.problem.offset, verdict.problem.reason) == (4, RELINKED)


def test_an_edit_before_the_seal_is_found_by_a_full_run_only() -> None:
    # an append-only partition cannot change there; --full is the check that it did not
    chained = records(6)
    seal = sealed(at(chained))
    tampered = [chained[0], {**chained[1], "person": "85073003328"}, *chained[2:]]
    assert check(at(tampered), seal).ok
    full = check(at(tampered), seal, full=True)
    assert full.problem is not None and (full.problem.kind, full.problem.offset) == (ProblemKind.BAD_RECORD, 1)


def test_what_is_no_audit_record_is_a_bad_record_or_at_the_sealed_offset_a_rewrite() -> None:
    chained = records(4)
    seal = sealed(at(chained[:2]))
    after: Partition = [*at(chained[:3]), (3, Unreadable("undecodable: bad magic"))]
    verdict = check(after, seal)
    assert verdict.problem is not None
    assert (verdict.problem.kind, verdict.problem.offset, verdict.problem.reason) == (
        ProblemKind.BAD_RECORD,
        3,
        "undecodable: bad magic",
    )
    there: Partition = [*at(chained[:1]), (1, Unreadable("not an AuditRecord: x")), *at(chained[2:], 2)]
    rewritten = check(there, seal)
    assert rewritten.problem is not None and rewritten.problem.kind is ProblemKind.REWRITTEN


def test_a_sealed_partition_that_no_longer_exists_was_truncated_unless_nothing_was_sealed() -> None:
    gone = partition_gone(sealed(at(records(3))))
    assert gone.problem is not None and gone.problem.kind is ProblemKind.TRUNCATED
    assert (
        gone.problem.reason
        == "truncated: the partition does not exist but offset 2 was verified on 2026-11-30T08:00:00Z"
    )
    empty = sealed([])
    assert partition_gone(empty) == PartitionVerdict(0, seal=empty)


# -- the seal file ---------------------------------------------------------------------------------------------
def test_seals_survive_the_file_which_is_private_and_replaced_whole(tmp_path: Path) -> None:
    path = tmp_path / "audit" / "verified-heads.json"
    assert load_seals(path) == {}
    seals = [sealed(at(records(3))), replace(sealed([]), partition=0), replace(sealed([]), topic="other")]
    save_seals(path, seals)
    assert load_seals(path) == {(s.topic, s.partition): s for s in seals}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["verified-heads.json"]
    assert [(s["topic"], s["partition"]) for s in json.loads(path.read_text())["seals"]] == [
        (TOPIC, 0),
        (TOPIC, 3),
        ("other", 3),
    ]  # sorted: diffable


def test_a_failed_write_leaves_the_old_seals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "heads.json"
    old = sealed(at(records(2)))
    save_seals(path, [old])

    def refuse(*_: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("streams.audit_seal.os.replace", refuse)
    with pytest.raises(SealFileError, match="disk full"):
        save_seals(path, [replace(old, offset=9)])
    assert load_seals(path) == {(TOPIC, 3): old}
    assert [p.name for p in tmp_path.iterdir()] == ["heads.json"]


def test_a_seal_file_others_may_write_or_that_is_not_a_seal_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "heads.json"
    save_seals(path, [sealed([])])
    path.chmod(0o620)
    with pytest.raises(SealFileError, match="may be written by others"):
        load_seals(path)
    path.chmod(0o600)
    tmp_path.chmod(0o777)
    try:
        with pytest.raises(SealFileError, match="may be written by others"):
            load_seals(path)
    finally:
        tmp_path.chmod(0o700)
    for content in ("{", '{"format": 2, "seals": []}', '{"format": 1, "seals": [{"topic": "t"}]}'):
        path.write_text(content)
        with pytest.raises(SealFileError):
            load_seals(path)


def test_the_seal_file_is_the_operators_state_unless_configured(tmp_path: Path) -> None:
    assert seal_file(Settings(state_dir=tmp_path)) == tmp_path / "audit" / "verified-heads.json"
    assert seal_file(Settings(state_dir=tmp_path, audit_seal_file=tmp_path / "x.json")) == tmp_path / "x.json"


# -- the command: exit codes, lines, what is recorded (Kafka replaced by an in-memory topic) --------------------
CODEC = AvroCodec(SchemaRegistry.from_directory(default_schema_dir()))


@dataclass
class FakeTopic:
    """Partitions as lists of (offset, value), with their low watermarks; ``exists`` False: deleted."""

    partitions: dict[int, list[tuple[int, bytes]]] = field(default_factory=dict)
    low: dict[int, int] = field(default_factory=dict)
    exists: bool = True
    reads: list[tuple[int, int]] = field(default_factory=list)

    def append(self, partition: int, chained: list[dict[str, Any]]) -> None:
        log = self.partitions.setdefault(partition, [])
        for record in chained:
            log.append((log[-1][0] + 1 if log else self.low.get(partition, 0), CODEC.encode(AUDIT_SCHEMA, record)))

    def append_batch(self, partition: int, chained: list[dict[str, Any]]) -> None:
        log = self.partitions.setdefault(partition, [])
        offset = log[-1][0] + 1 if log else self.low.get(partition, 0)
        log.append((offset, CODEC.encode(AUDIT_BATCH_SCHEMA, {"records": chained})))

    def partition_count(self, _bootstrap: str, topic: str) -> int:
        if not self.exists:
            raise TopicMissingError(f"topic {topic} does not exist")
        return len(self.partitions)

    def watermarks(self, _bootstrap: str, _topic: str, partition: int) -> tuple[int, int]:
        log = self.partitions[partition]
        low = self.low.get(partition, 0)
        return low, (log[-1][0] + 1 if log else low)

    def read_range(self, _bootstrap: str, _topic: str, partition: int, start: int, end: int) -> Iterator[LogRecord]:
        self.reads.append((partition, start))
        for offset, value in self.partitions[partition]:
            if start <= offset < end and offset >= self.low.get(partition, 0):
                yield LogRecord(partition, offset, None, value)


@pytest.fixture
def kafka(monkeypatch: pytest.MonkeyPatch) -> FakeTopic:
    fake = FakeTopic()
    for name in ("partition_count", "watermarks", "read_range"):
        monkeypatch.setattr(audit_cli, name, getattr(fake, name))
    return fake


def run(tmp_path: Path, *args: str) -> Any:
    env = {"CROSSROADS_AUDIT_SEAL_FILE": str(tmp_path / "seals" / "heads.json"), "COLUMNS": "400"}
    return CliRunner().invoke(audit_cli.app, ["verify", "--topic", TOPIC, *args], env=env)


def heads(tmp_path: Path) -> dict[int, int | None]:
    return {p: s.offset for (_, p), s in load_seals(tmp_path / "seals" / "heads.json").items()}


def test_verify_seals_then_advances_from_the_seals(kafka: FakeTopic, tmp_path: Path) -> None:
    zero, one = records(6, "a"), records(3, "b")
    kafka.append(0, zero[:4])
    kafka.append(1, one)
    first = run(tmp_path)
    assert first.exit_code == 0, first.output
    assert "all 7 records verify (7 messages read, from the first record)" in first.output
    assert heads(tmp_path) == {0: 3, 1: 2}

    kafka.append(0, zero[4:])
    kafka.reads.clear()
    second = run(tmp_path)
    assert second.exit_code == 0, second.output
    # the 2 sealed ones again + 2 new
    assert "all 9 records verify (4 messages read, from the seals on)" in second.output
    assert kafka.reads == [(0, 3), (1, 2)]
    assert heads(tmp_path) == {0: 5, 1: 2}

    kafka.reads.clear()
    full = run(tmp_path, "--full")
    assert full.exit_code == 0 and "all 9 records verify (9 messages read, from the first record)" in full.output
    assert kafka.reads == [(0, 0), (1, 0)]


def test_a_truncation_exits_1_on_one_line_and_keeps_that_partitions_seal(kafka: FakeTopic, tmp_path: Path) -> None:
    kafka.append(0, records(5, "a"))
    kafka.append(1, records(2, "b"))
    assert run(tmp_path).exit_code == 0
    before = load_seals(tmp_path / "seals" / "heads.json")
    kafka.partitions[0] = kafka.partitions[0][:2]  # the topic recreated with fewer records
    kafka.append(1, records(3, "b")[2:])

    result = run(tmp_path)

    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if "partition=" in line]
    assert lines == [
        f"TRUNCATED partition=0 offset=4 audit_id=? reason: truncated: the partition ends at offset 1 but offset 4 "
        f"was verified on {before[(TOPIC, 0)].verified_at.strftime('%Y-%m-%dT%H:%M:%SZ')}"
    ]
    after = load_seals(tmp_path / "seals" / "heads.json")
    assert after[(TOPIC, 0)] == before[(TOPIC, 0)]  # not advanced: the next run fails the same way
    assert after[(TOPIC, 1)].offset == 2  # the partition that verifies advances
    assert run(tmp_path).exit_code == 1


def test_a_deleted_topic_that_was_sealed_is_truncated_and_one_never_sealed_an_error(
    kafka: FakeTopic, tmp_path: Path
) -> None:
    kafka.exists = False
    assert run(tmp_path).exit_code == 2
    kafka.exists = True
    kafka.append(0, records(2))
    assert run(tmp_path).exit_code == 0
    kafka.exists = False
    result = run(tmp_path)
    assert result.exit_code == 1, result.output
    assert "TRUNCATED partition=0 offset=1 audit_id=? reason: truncated: the partition does not exist" in result.output


def test_verify_reads_batches_and_names_a_bad_record_inside_one(kafka: FakeTopic, tmp_path: Path) -> None:
    chained = records(7)
    kafka.append(0, chained[:1])
    kafka.append_batch(0, chained[1:4])
    assert run(tmp_path).exit_code == 0 and heads(tmp_path) == {0: 1}
    kafka.append_batch(0, [chained[4], {**chained[5], "person": "85073003328"}, chained[6]])
    result = run(tmp_path)
    assert result.exit_code == 1
    assert (
        f"FIRST BAD RECORD partition=0 offset=2 audit_id={chained[5]['audit_id']} reason: {EDITED}, its audit record"
        " 2 of 3"
    ) in result.output
    assert heads(tmp_path) == {0: 1}


def test_records_deleted_at_the_start_exit_1(kafka: FakeTopic, tmp_path: Path) -> None:
    kafka.append(0, records(4))
    assert run(tmp_path).exit_code == 0
    kafka.low[0] = 2  # AdminClient.delete_records up to offset 2
    result = run(tmp_path)
    assert result.exit_code == 1
    assert "DELETED AT START partition=0 offset=0 audit_id=? reason: deleted at the start: offsets 0-1 are gone" in (
        result.output
    )


def test_records_older_than_the_audit_retention_may_go_from_the_start(kafka: FakeTopic, tmp_path: Path) -> None:
    # the audit topic keeps Settings.retention_audit_years (10): what was recorded 11 years ago may expire
    kafka.append(0, records(4, first_at=datetime.now(UTC) - timedelta(days=11 * 366)))
    assert run(tmp_path).exit_code == 0
    kafka.low[0] = 2
    result = run(tmp_path)
    assert result.exit_code == 0, result.output
    kafka.low[0] = 4  # the sealed record too: no retention explains that
    assert run(tmp_path).exit_code == 1


def test_no_seal_checks_against_the_seals_but_records_nothing(kafka: FakeTopic, tmp_path: Path) -> None:
    chained = records(4)
    kafka.append(0, chained[:2])
    assert run(tmp_path, "--no-seal").exit_code == 0
    assert not (tmp_path / "seals" / "heads.json").exists()
    assert run(tmp_path).exit_code == 0
    kafka.append(0, chained[2:])
    assert run(tmp_path, "--no-seal").exit_code == 0
    assert heads(tmp_path) == {0: 1}


def test_a_bad_record_exits_1_naming_it_and_infrastructure_exits_2(
    kafka: FakeTopic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chained = records(3)
    kafka.append(0, [*chained[:2], {**chained[2], "actor": "0000000097"}])
    result = run(tmp_path)
    assert result.exit_code == 1
    assert f"FIRST BAD RECORD partition=0 offset=2 audit_id={chained[2]['audit_id']} reason: {EDITED}" in result.output
    assert heads(tmp_path) == {}

    def unreachable(*_: Any) -> tuple[int, int]:
        raise KafkaAdapterError("no broker")

    monkeypatch.setattr(audit_cli, "watermarks", unreachable)
    assert run(tmp_path).exit_code == 2
    (tmp_path / "seals" / "heads.json").write_text("not json")
    monkeypatch.setattr(audit_cli, "watermarks", kafka.watermarks)
    broken_file = run(tmp_path)
    assert broken_file.exit_code == 2 and "cannot read the seals" in broken_file.output


def test_the_sealed_hash_is_the_chain_hash_of_the_record() -> None:
    # the seal stores the record's own hash: what a later run recomputes from its content
    record = records(1)[0]
    assert sealed(at([record])).hash == record["hash"] == audit_hash(GENESIS, record)
