"""Sender references (streams.domain.references): a resend is refused naming its first ticket, a replay is not
a resend, the window bounds both the rule and what is kept; and the intake's table value round-trips."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from streams.codecs import AvroCodec, SchemaRegistry
from streams.codecs.references_state import decode_references, encode_references
from streams.domain import admission
from streams.domain.outcomes import ToRejections
from streams.domain.references import DUPLICATE_REFERENCE, Sent, SentReferences
from streams.domain.samples import sample_dimona_in
from streams.settings import Settings

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
WINDOW = timedelta(days=30)
DIMONA_IN = "be.crossroads.dimona.DimonaIn"


def _codec() -> AvroCodec:
    return AvroCodec(SchemaRegistry.from_directory(Settings().schema_dir))


def _decide(record: dict, ticket: int, references: SentReferences | None, at: datetime = NOW):  # type: ignore[no-untyped-def]
    return admission.decide(
        DIMONA_IN,
        record,
        ticket=uuid.UUID(int=ticket),
        received_at=at,
        raw=b"raw",
        encode=_codec().encode,
        references=references,
        window=WINDOW,
    )


def _codes(decision: admission.IntakeDecision) -> list[str]:
    rejections = [o for o in decision.outcomes if isinstance(o, ToRejections)]
    return [v["code"] for o in rejections for v in o.record["violations"]]


def test_an_admitted_declaration_is_remembered_and_its_resend_refused_naming_the_first_ticket() -> None:
    record = sample_dimona_in()
    first = _decide(record, 1, SentReferences(record["worker"]))
    assert _codes(first) == [] and first.references is not None
    resend = _decide(record, 2, first.references, NOW + timedelta(hours=1))
    assert _codes(resend) == [DUPLICATE_REFERENCE]
    assert resend.references is None  # a refused declaration changes nothing the intake remembers
    (rejection,) = [o for o in resend.outcomes if isinstance(o, ToRejections)]
    (violation,) = rejection.record["violations"]
    assert str(uuid.UUID(int=1)) in violation["message"] and violation["field"] == "envelope.sender_reference"


def test_a_replay_is_decided_as_the_first_time_and_remembered_once() -> None:
    record = sample_dimona_in()
    first = _decide(record, 1, SentReferences(record["worker"]))
    replay = _decide(record, 1, first.references)
    assert _codes(replay) == [] and replay.references == first.references


def test_every_violation_is_reported_with_the_duplicate() -> None:
    record = sample_dimona_in()
    first = _decide(record, 1, SentReferences(record["worker"]))
    bad = {**record, "employer": "0403170702"}  # wrong check digits, same envelope
    codes = _codes(_decide(bad, 2, first.references))
    assert DUPLICATE_REFERENCE in codes and "enterprise.check_digits" in codes


def test_another_reference_another_sender_or_a_refused_first_sending_is_no_resend() -> None:
    record = sample_dimona_in()
    first = _decide(record, 1, SentReferences(record["worker"]))
    other_reference = {**record, "envelope": {**record["envelope"], "sender_reference": "REF-other"}}
    assert _codes(_decide(other_reference, 2, first.references)) == []
    refused = _decide({**record, "employer": "0403170702"}, 3, SentReferences(record["worker"]))
    assert refused.references is None  # refused, so not remembered: it may be sent again, corrected
    assert _codes(_decide(record, 4, SentReferences(record["worker"]))) == []


def test_the_window_bounds_the_rule_and_what_is_kept() -> None:
    references = SentReferences("k", (Sent("s", "r", "t1", NOW - WINDOW - timedelta(seconds=1)),))
    assert references.first_sending("s", "r", "t2", NOW, WINDOW) is None
    kept = references.remembered(Sent("s", "r2", "t2", NOW), WINDOW)
    assert [s.ticket for s in kept.sent] == ["t2"]
    inside = SentReferences("k", (Sent("s", "r", "t1", NOW - WINDOW),))
    assert inside.first_sending("s", "r", "t2", NOW, WINDOW) == inside.sent[0]


def test_without_references_nothing_is_checked_or_remembered() -> None:
    record = sample_dimona_in()
    decision = _decide(record, 1, None)
    assert _codes(decision) == [] and decision.references is None


def test_the_table_value_round_trips() -> None:
    codec = _codec()
    state = SentReferences("93051822361", (Sent("0403170701", "REF-1", str(uuid.UUID(int=1)), NOW),))
    assert decode_references(codec, "93051822361", encode_references(codec, state)) == state
    assert decode_references(codec, "x", None) == SentReferences("x")
