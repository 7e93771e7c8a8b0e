"""Dead-letter replay decisions (streams.domain.replay) and its audit entry: pure, no broker."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from streams.domain.audit import REPLAY_LEGAL_BASIS, AuditKind, audit_hash, replay_entry, who_received
from streams.domain.credentials import derived_seal_key
from streams.domain.errors import DeadLetterError
from streams.domain.references import SentReferences
from streams.domain.replay import (
    REPLAY_OF_HEADER,
    REPLAY_ORIGIN_HEADER,
    REPLAY_TICKET_HEADER,
    first_admission,
    hexdump,
    letter_id,
    parse_letter_id,
    proven_sender,
    remembered_admission,
    replay_headers,
    replay_key,
    replay_letter,
    replay_origin,
    replay_partition,
    replay_target,
    selected,
)
from streams.domain.seal import proven_producer, seal_headers
from streams.kafka.partitioner import partition_for
from tests.support import LETTER_AT, letter

CIVIL, DIMONA = "crossroads.intake.civil.v1", "crossroads.intake.dimona.v1"
INTAKE = {CIVIL, DIMONA}
CATALOG = {*INTAKE, "crossroads.facts.civil.v1", "crossroads.directory.declarations.v1"}
SENDER = "0123456749"


def key_of(actor: str) -> bytes:
    return derived_seal_key("test-secret", actor)


def sealed(topic: str = CIVIL, raw: bytes = b"\xc3\x01body") -> list[tuple[str, bytes | None]]:
    return [("trace", b"abc"), *seal_headers(key_of(SENDER), SENDER, topic, raw)]


# -- ids -----------------------------------------------------------------------------------------------------
def test_an_id_is_the_letters_position_and_reads_back() -> None:
    assert letter_id(3, 1234) == "3:1234"
    assert parse_letter_id(" 3:1234 ") == (3, 1234)


@pytest.mark.parametrize("text", ["", "3", "3:", ":4", "a:1", "3:-1", "03:1", "1:2:3", "3/4"])
def test_a_malformed_id_is_refused_by_name(text: str) -> None:
    with pytest.raises(DeadLetterError) as refused:
        parse_letter_id(text)
    assert refused.value.code == "dead_letter.bad_id" and "partition:offset" in refused.value.message


# -- reading -------------------------------------------------------------------------------------------------
def test_a_letter_read_back_keeps_origin_key_headers_and_bytes() -> None:
    read = letter(at=(1, 9), headers=[("h", b"v"), ("empty", None)])
    assert (read.id, read.topic, read.partition, read.offset) == ("1:9", CIVIL, 2, 17)
    assert read.key == b"85073100123" and read.headers == (("h", b"v"), ("empty", None))
    assert read.origin == f"{CIVIL}/2/17"
    view = read.as_dict()
    assert base64.b64decode(view["raw_b64"]) == read.raw and view["key"] == "85073100123"
    assert view["headers"][1] == {"key": "empty", "value": None, "value_b64": None}
    assert view["origin"]["root"] == f"{CIVIL}/2/17"


def test_a_letter_of_a_replay_names_the_root_origin() -> None:
    again = letter(topic=CIVIL, partition=4, offset=900, headers=[(REPLAY_ORIGIN_HEADER, f"{CIVIL}/2/17".encode())])
    assert again.origin == f"{CIVIL}/2/17"


def test_selection_filters_and_keeps_the_most_recent() -> None:
    old = letter(at=(0, 1), dead_lettered_at=LETTER_AT - timedelta(days=2))
    new = letter(at=(1, 1), dead_lettered_at=LETTER_AT, topic=DIMONA, error_type="CorruptMessageError")
    newest = letter(at=(0, 2), dead_lettered_at=LETTER_AT + timedelta(hours=1))
    letters = [newest, old, new]
    assert [x.id for x in selected(letters)] == ["0:1", "1:1", "0:2"]
    assert [x.id for x in selected(letters, since=LETTER_AT)] == ["1:1", "0:2"]
    assert [x.id for x in selected(letters, topic=DIMONA)] == ["1:1"]
    assert [x.id for x in selected(letters, error_type="UnknownSchemaError")] == ["0:1", "0:2"]
    assert [x.id for x in selected(letters, limit=2)] == ["1:1", "0:2"]


def test_hexdump_shows_offsets_bytes_and_text() -> None:
    dump = hexdump(b"\xc3\x01AB" + bytes(range(14)))
    lines = dump.splitlines()
    assert lines[0].startswith("00000000  c3 01 41 42 00 01") and lines[0].endswith("|..AB............|")
    assert lines[1].startswith("00000010  0c 0d") and len(lines) == 2
    assert hexdump(b"") == ""


# -- where a replay may go -----------------------------------------------------------------------------------
def test_a_letter_goes_back_to_its_origin_intake_by_default() -> None:
    assert replay_target(letter(topic=CIVIL), None, INTAKE, CATALOG) == CIVIL


def test_to_names_another_intake_topic_in_full_or_by_family() -> None:
    assert replay_target(letter(topic=CIVIL), DIMONA, INTAKE, CATALOG) == DIMONA
    assert replay_target(letter(topic=CIVIL), "dimona", INTAKE, CATALOG) == DIMONA


def test_to_a_catalog_topic_that_is_no_intake_is_refused() -> None:
    with pytest.raises(DeadLetterError) as refused:
        replay_target(letter(topic=CIVIL), "crossroads.facts.civil.v1", INTAKE, CATALOG)
    assert refused.value.code == "dead_letter.not_intake_topic" and CIVIL in refused.value.message


def test_to_an_unknown_topic_is_refused() -> None:
    with pytest.raises(DeadLetterError) as refused:
        replay_target(letter(topic=CIVIL), "crossroads.intake.civli.v1", INTAKE, CATALOG)
    assert refused.value.code == "dead_letter.unknown_topic" and "no topic of the catalog" in refused.value.message


@pytest.mark.parametrize("to", [None, CIVIL])
def test_a_letter_from_a_step_after_intake_is_never_replayed(to: str | None) -> None:
    inner = letter(topic="crossroads.directory.declarations.v1")
    with pytest.raises(DeadLetterError) as refused:
        replay_target(inner, to, INTAKE, CATALOG)
    assert refused.value.code == "dead_letter.not_intake_origin" and "second time" in refused.value.message


def test_every_replay_of_one_origin_goes_to_one_partition() -> None:
    home = letter(topic=CIVIL, partition=2, key=b"85073100123")
    assert replay_partition(home, CIVIL, 6, partition_for) == 2
    assert replay_partition(home, DIMONA, 6, partition_for) == partition_for(b"85073100123", 6)
    keyless = letter(topic=CIVIL, partition=2, key=None)
    assert replay_partition(keyless, DIMONA, 6, partition_for) == partition_for(f"{CIVIL}/2/17".encode(), 6)
    assert replay_partition(home, CIVIL, 2, partition_for) == partition_for(b"85073100123", 2)  # shrunk topic


# -- headers and the seal ------------------------------------------------------------------------------------
def test_back_on_its_origin_the_original_headers_keep_a_valid_seal() -> None:
    raw = b"\xc3\x01body"
    home = letter(topic=CIVIL, raw=raw, headers=sealed(CIVIL, raw), at=(0, 5))
    headers = replay_headers(home, CIVIL, ticket="t-1", key_of=key_of)
    assert headers[: len(home.headers)] == list(home.headers)
    assert headers[len(home.headers) :] == [
        (REPLAY_OF_HEADER, b"0:5"),
        (REPLAY_ORIGIN_HEADER, f"{CIVIL}/2/17".encode()),
        (REPLAY_TICKET_HEADER, b"t-1"),
    ]
    assert proven_producer(headers, CIVIL, raw, key_of) == SENDER
    assert replay_origin(headers) == f"{CIVIL}/2/17" and replay_letter(headers) == "0:5"


def test_on_another_intake_it_is_sealed_again_as_the_proven_producer() -> None:
    raw = b"\xc3\x01body"
    home = letter(topic=CIVIL, raw=raw, headers=sealed(CIVIL, raw))
    assert proven_sender(home, key_of) == SENDER
    headers = replay_headers(home, DIMONA, ticket="t-2", key_of=key_of)
    assert proven_producer(headers, DIMONA, raw, key_of) == SENDER
    assert ("trace", b"abc") in headers and sum(1 for k, _ in headers if k == "crossroads-seal") == 1


def test_a_seal_that_proves_nobody_is_not_made_to() -> None:
    raw = b"\xc3\x01body"
    forged = [("crossroads-sender", SENDER.encode()), ("crossroads-seal", b"00" * 32)]
    home = letter(topic=CIVIL, raw=raw, headers=forged)
    assert proven_sender(home, key_of) is None
    headers = replay_headers(home, DIMONA, ticket="t-3", key_of=key_of)
    assert headers[:2] == forged and proven_producer(headers, DIMONA, raw, key_of) is None


def test_a_replay_of_a_replay_names_the_root_origin_once() -> None:
    root = f"{CIVIL}/2/17".encode()
    earlier = [("h", b"v"), (REPLAY_OF_HEADER, b"0:1"), (REPLAY_ORIGIN_HEADER, root), (REPLAY_TICKET_HEADER, b"t")]
    again = letter(topic=CIVIL, partition=2, offset=40, headers=earlier, at=(0, 3))
    headers = replay_headers(again, CIVIL, ticket="t-4", key_of=key_of)
    assert headers == [
        ("h", b"v"),
        (REPLAY_OF_HEADER, b"0:3"),
        (REPLAY_ORIGIN_HEADER, root),
        (REPLAY_TICKET_HEADER, b"t-4"),
    ]


def test_a_message_without_replay_headers_is_no_replay() -> None:
    assert replay_origin(None) is None and replay_origin([]) is None
    assert replay_origin([("crossroads-sender", b"1"), ("crossroads-seal", b"2")]) is None
    assert replay_origin({REPLAY_ORIGIN_HEADER: "t/0/1"}) == "t/0/1"  # faust's tests hand a mapping over


# -- the intake remembers an origin it decided ---------------------------------------------------------------
def test_an_origin_decided_once_is_not_decided_again_but_the_same_message_is() -> None:
    origin = f"{CIVIL}/2/17"
    nothing = SentReferences(replay_key(origin).decode())
    assert first_admission(nothing, "ticket-a") is None
    state = remembered_admission(origin, letter="0:5", ticket="ticket-a", at=LETTER_AT)
    assert state.subject == replay_key(origin).decode() and not state.subject.isdigit()
    earlier = first_admission(state, "ticket-b")
    assert earlier is not None and earlier.ticket == "ticket-a" and earlier.reference == "0:5"
    assert first_admission(state, "ticket-a") is None  # the same message again (after a crash): decided again


# -- the audit entry -----------------------------------------------------------------------------------------
def test_a_replay_is_audited_as_the_operators_and_names_letter_and_target() -> None:
    at = datetime(2026, 3, 2, 10, 0, 0, 123456, tzinfo=UTC)
    entry = replay_entry(
        ticket="r-1",
        operator="operator",
        person="85073100123",
        data_type="be.crossroads.outputs.DeadLetter",
        letter="0:5",
        origin=f"{CIVIL}/2/17",
        target=CIVIL,
        at=at,
        source_ticket="s-1",
        source=SENDER,
    )
    assert entry["kind"] == AuditKind.CONSULTATION_GRANTED and entry["actor"] == "operator"
    assert (
        entry["legal_basis"] == REPLAY_LEGAL_BASIS
        and entry["reason"] == f"dead letter 0:5 ({CIVIL}/2/17) replayed to {CIVIL}"
    )
    assert entry["recorded_at"].microsecond == 123000 and entry["hash"] == ""
    audit_hash("0" * 64, entry)  # every value is one the chain can hash
    again = replay_entry(**{**_args(entry), "ticket": "r-2"})
    assert again["audit_id"] != entry["audit_id"]  # two replays, two records
    receipts = who_received([entry, again], "85073100123")
    assert [r.institution for r in receipts] == ["operator", "operator"] and not receipts[0].refused


def _args(entry: dict[str, object]) -> dict[str, object]:
    return {
        "ticket": entry["ticket"],
        "operator": entry["actor"],
        "person": entry["person"],
        "data_type": entry["data_type"],
        "letter": "0:5",
        "origin": f"{CIVIL}/2/17",
        "target": CIVIL,
        "at": entry["recorded_at"],
        "source_ticket": entry["source_ticket"],
        "source": entry["source"],
    }
