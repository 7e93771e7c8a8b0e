"""The chaos suite's fuzz (bench/chaos/fuzz.py): the generators, the prediction from the platform's own codec and
validation, and the classification of what became of each fuzzed message."""

from __future__ import annotations

import copy
import random
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from chaos import fuzz
from chaos.ids import Ack, DeadLetter, Fact, Outputs, Rejection

from streams.codecs import AvroCodec, SchemaRegistry
from streams.domain.admission import intake_ticket
from streams.domain.kinds import subject_key
from streams.domain.samples import sample
from streams.settings import PROJECT_ROOT

SCHEMAS = (
    fuzz.DIMONA_IN,
    fuzz.DIMONA_OUT,
    fuzz.DIMONA_UPDATE,
    fuzz.DIMONA_CANCEL,
    fuzz.DMFA,
    fuzz.BIRTH,
    fuzz.ADDRESS_CHANGE,
    fuzz.DEATH,
    fuzz.CIVIL_STATUS_CHANGE,
    fuzz.INTEGRATION,
    fuzz.CONSULTATION,
)


@pytest.fixture(scope="module")
def codec() -> AvroCodec:
    return AvroCodec(SchemaRegistry.from_directory(PROJECT_ROOT / "avro_schemas"))


def sources() -> list[tuple[str, dict]]:  # type: ignore[type-arg]
    return [(schema, sample(schema)) for schema in SCHEMAS]


def test_prediction_follows_the_codec_and_the_validation(codec: AvroCodec) -> None:
    good = codec.encode(fuzz.ADDRESS_CHANGE, sample(fuzz.ADDRESS_CHANGE))
    assert fuzz.predict(codec, good).expected == "accepted"
    broken = sample(fuzz.ADDRESS_CHANGE)
    broken["person"] = broken["person"][:10] + ("1" if broken["person"][10] != "1" else "2")
    prediction = fuzz.predict(codec, codec.encode(fuzz.ADDRESS_CHANGE, broken))
    assert prediction.expected == "rejected"
    assert prediction.codes == ("niss.check_digits",)
    assert fuzz.predict(codec, b"").expected == "dead_letter"
    assert fuzz.predict(codec, b"\xc3\x01" + bytes(8) + b"x").expected == "dead_letter"
    assert fuzz.predict(codec, good[:-1]).expected == "dead_letter"


def test_truncation_removes_at_least_one_byte_and_bit_flips_change_one_to_three_bits() -> None:
    rng = random.Random(3)
    data = bytes(range(100))
    for _ in range(200):
        _, cut = fuzz.truncate(rng, data)
        assert len(cut) < len(data) and data.startswith(cut)
        kind, flipped = fuzz.flip_bits(rng, data)
        distance = sum(bin(a ^ b).count("1") for a, b in zip(data, flipped, strict=True))
        assert 1 <= distance <= 3 and kind in ("header", "body")


def _unproven(record: dict[str, Any]) -> bool:
    sender = record["envelope"]["sender"]
    return not (sender.isascii() and sender.isdigit() and len(sender) == 10)


def test_every_absurd_mutation_keeps_valid_avro_or_is_not_applicable(codec: AvroCodec) -> None:
    rng = random.Random(5)
    applied: Counter[str] = Counter()
    for name, mutation in fuzz.ABSURD.items():
        for schema, record in sources():
            mutated = copy.deepcopy(record)
            kind = mutation(rng, schema, mutated)
            if kind is None:
                continue
            value = codec.encode(schema, mutated)
            prediction = fuzz.predict(codec, value)
            # valid Avro: never dead-lettered, unless the mutation broke the envelope's sender, which then
            # proves nobody (the harness seals as the sender the envelope names: docs/security.md)
            assert prediction.expected != "dead_letter" or _unproven(mutated), (name, schema)
            if prediction.expected == "dead_letter":
                assert prediction.codes == ("envelope.sender_not_authenticated",)
            applied[name] += 1
    assert set(applied) == set(fuzz.ABSURD)


def test_the_fuzz_is_seeded_complete_and_never_names_a_forbidden_person(codec: AvroCodec) -> None:
    forbidden = {sample(fuzz.ADDRESS_CHANGE)["person"]}
    first = fuzz.generate(random.Random(11), 400, sources(), codec, forbidden, subject_key)
    again = fuzz.generate(random.Random(11), 400, sources(), codec, forbidden, subject_key)
    assert [m.value for m in first] == [m.value for m in again]
    assert len(first) == 400 and [m.n for m in first] == list(range(400))
    assert {m.family for m in first} == set(fuzz.FAMILIES)
    for message in first:
        decoded = fuzz.predict(codec, message.value)
        if decoded.record is not None:
            assert not forbidden.intersection(fuzz.strings_of(decoded.record))
        if message.family == "absurd":
            assert message.expected in ("rejected", "accepted") or (
                message.expected == "dead_letter" and decoded.record is not None and _unproven(decoded.record)
            )
        if message.family in ("random_bytes", "truncated"):
            assert message.expected == "dead_letter"
        assert message.intake in fuzz.INTAKE_FAMILIES


def test_strings_of_walks_records_arrays_and_union_pairs() -> None:
    record = {"a": "x", "b": [{"c": "y"}, ("name", {"d": "z"})], "e": 3}
    assert sorted(fuzz.strings_of(record)) == ["name", "x", "y", "z"]


def _message(n: int, family: str, expected: str, codes: tuple[str, ...] = ()) -> fuzz.FuzzMessage:
    return fuzz.FuzzMessage(n, family, "k", "civil", None, b"v", expected, codes, None)


def test_classification_finds_each_fate_and_what_is_missing() -> None:
    topic = "p.intake.civil.v1"
    messages = [
        _message(0, "random_bytes", "dead_letter"),
        _message(1, "absurd", "rejected", ("niss.check_digits",)),
        _message(2, "bitflip", "accepted"),
        _message(3, "absurd", "rejected", ("date.range",)),
        _message(4, "truncated", "dead_letter"),
        _message(5, "absurd", "rejected", ("date.range",)),
    ]
    positions = {n: (topic, 0, n) for n in range(6)}

    def ticket(n: int) -> str:
        return str(intake_ticket(topic, 0, n))

    out = Outputs()
    out.dead_letters.append(DeadLetter(topic, 0, 0, "bad magic"))
    out.rejections.append(Rejection(ticket(1), "FUZZ-1", "intake", ("niss.check_digits",)))
    out.acks.append(Ack("X", ticket(2), "ACCEPTED"))
    out.facts.append(Fact("civil", ticket(2), "X", 0))
    out.rejections.append(Rejection(ticket(3), "FUZZ-3", "intake", ("text.blank",)))  # not what was predicted
    out.acks.append(Ack("FUZZ-5", ticket(5), "ACCEPTED"))  # predicted rejected, accepted
    verdict = fuzz.classify(messages, positions, out)
    assert verdict.outcomes["random_bytes"] == {"dead_letter": 1}
    assert verdict.outcomes["bitflip"] == {"accepted": 1}
    assert verdict.outcomes["truncated"] == {"missing": 1}
    assert verdict.outcomes["absurd"] == {"rejected_intake": 2, "accepted": 1}
    assert len(verdict.missing) == 1 and verdict.missing[0].startswith("#4 truncated/k")
    assert len(verdict.mismatched) == 2
    assert len(verdict.accepted) == 1
    document = verdict.as_dict()
    assert document["missing"] == 1 and document["prediction_mismatches"] == 2


def test_a_repeat_acknowledged_under_the_ticket_it_repeats_is_not_missing() -> None:
    topic = "p.intake.dmfa.v1"
    first, repeat, lost = (
        fuzz.FuzzMessage(n, "bitflip", "body", "dmfa", None, b"v", "accepted", (), fuzz.DMFA, f"FUZZ-{n}")
        for n in range(3)
    )
    positions = {n: (topic, 0, n) for n in range(3)}
    out = Outputs()
    original = str(intake_ticket(topic, 0, 0))
    out.acks.append(Ack("FUZZ-0", original, "ACCEPTED"))
    out.acks.append(Ack("FUZZ-1", original, "ACCEPTED"))  # the same declaration again: the first one's receipt
    verdict = fuzz.classify([first, repeat, lost], positions, out)
    assert verdict.outcomes["bitflip"] == {"accepted": 1, "accepted_as_repeat": 1, "missing": 1}
    assert len(verdict.missing) == 1 and verdict.missing[0].startswith("#2 bitflip/body")


def test_accepted_messages_recorded_outside_the_warehouse_datetime_are_named(codec: AvroCodec) -> None:
    import datetime as dt

    old = sample(fuzz.DIMONA_IN)
    old["envelope"] = {**old["envelope"], "recorded_at": dt.datetime(1950, 1, 1, tzinfo=dt.UTC)}
    value = codec.encode(fuzz.DIMONA_IN, old)
    assert fuzz.predict(codec, value).expected == "accepted"  # validation allows 1900-2099
    fine = codec.encode(fuzz.DIMONA_IN, sample(fuzz.DIMONA_IN))
    messages = [
        fuzz.FuzzMessage(0, "bitflip", "body", "dimona", None, value, "accepted", (), fuzz.DIMONA_IN),
        fuzz.FuzzMessage(1, "bitflip", "body", "dimona", None, fine, "accepted", (), fuzz.DIMONA_IN),
    ]
    suspects = fuzz.warehouse_range_suspects(codec, messages)
    assert len(suspects) == 1 and suspects[0].startswith("#0 bitflip/body") and value.hex() in suspects[0]
