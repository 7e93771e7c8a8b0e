"""The audit trail's pure core: hashing, chaining, verification, the citizen's question."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from streams.codecs import AvroCodec, SchemaRegistry, default_schema_dir
from streams.domain.audit import (
    AUDIT_SCHEMA,
    EDITED,
    GENESIS,
    RELINKED,
    TRUNCATED,
    AuditKind,
    audit_hash,
    canonical,
    chain,
    consultation_entry,
    delivery_entry,
    refusal_entry,
    verify_chain,
    who_received,
)

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
ANNA, BRAM = "93051822361", "85073003328"
DATA = "be.crossroads.dimona.DimonaIn"

# -- strategies ------------------------------------------------------------------------------------------------
_text = st.text(min_size=1, max_size=12)
_times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)).map(
    lambda t: t.replace(microsecond=t.microsecond // 1000 * 1000)
)


@st.composite
def entries(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(list(AuditKind)))
    common: dict[str, Any] = {
        "ticket": str(draw(st.uuids())),
        "actor": draw(_text),
        "person": draw(st.sampled_from([ANNA, BRAM])),
        "data_type": draw(_text),
        "at": draw(_times),
        "source_ticket": draw(st.none() | _text),
        "source": draw(st.none() | _text),
    }
    if kind is AuditKind.DELIVERY:
        return delivery_entry(legal_basis=draw(_text), **common)
    if kind is AuditKind.REFUSAL:
        return refusal_entry(reason=draw(_text), **common)
    granted = kind is AuditKind.CONSULTATION_GRANTED
    return consultation_entry(granted=granted, legal_basis=draw(_text), reason=draw(_text), **common)


def build(items: list[dict[str, Any]], start: str = GENESIS) -> list[dict[str, Any]]:
    chained, head = [], start
    for item in items:
        record = chain(head, item)
        chained.append(record)
        head = record["hash"]
    return chained


chains = st.lists(entries(), min_size=1, max_size=8).map(build)


def positioned(records: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    # positions deliberately unlike indexes: the verifier must report the caller's position
    return [(1000 + i, r) for i, r in enumerate(records)]


def _changed(value: Any, data: st.DataObject) -> Any:
    if isinstance(value, datetime):
        return value + timedelta(milliseconds=data.draw(st.integers(1, 10**9)))
    if value is None:
        return data.draw(_text)
    replacement = data.draw(st.none() | st.text(max_size=70)) if not isinstance(value, str) else data.draw(_text)
    assume(replacement != value)
    return replacement


# -- hashing ---------------------------------------------------------------------------------------------------
def _fixed() -> dict[str, Any]:
    return delivery_entry(
        ticket="7f1c6a2e-0000-4000-8000-000000000001",
        actor="0212344876",
        person=ANNA,
        data_type=DATA,
        legal_basis="CSSS/11/042",
        at=T0 + timedelta(microseconds=123_456),
    )


def test_the_canonical_form_is_pinned() -> None:
    # A change here changes every hash ever written: it must be a deliberate, versioned decision.
    entry = _fixed()
    assert canonical(entry) == (
        b'{"actor":"0212344876","audit_id":"'
        + entry["audit_id"].encode()
        + b'","data_type":"'
        + DATA.encode()
        + b'","kind":"DELIVERY","legal_basis":"CSSS/11/042","person":"93051822361",'
        b'"recorded_at":"2026-11-27T12:00:00.123Z","ticket":"7f1c6a2e-0000-4000-8000-000000000001"}'
    )
    record = chain(GENESIS, entry)
    assert record["previous_hash"] == GENESIS and len(record["hash"]) == 64
    assert record["hash"] == audit_hash(GENESIS, {**entry, "hash": "whatever", "previous_hash": "ignored"})


def test_a_null_field_is_left_out_so_adding_an_optional_field_later_keeps_old_hashes() -> None:
    record = chain(GENESIS, _fixed())
    evolved = {**record, "some_future_field": None}
    assert audit_hash(GENESIS, evolved) == record["hash"]
    assert audit_hash(GENESIS, {**evolved, "some_future_field": "x"}) != record["hash"]


def test_times_hash_to_the_millisecond_in_utc_whatever_their_zone() -> None:
    entry = _fixed()
    brussels = entry["recorded_at"].astimezone(__import__("zoneinfo").ZoneInfo("Europe/Brussels"))
    assert audit_hash(GENESIS, {**entry, "recorded_at": brussels}) == audit_hash(GENESIS, entry)
    naive = entry["recorded_at"].replace(tzinfo=None, microsecond=123_999)
    assert audit_hash(GENESIS, {**entry, "recorded_at": naive}) == audit_hash(GENESIS, entry)


def test_an_unknown_value_type_is_refused_not_guessed() -> None:
    with pytest.raises(TypeError):
        canonical({"amount": 1.5})


def test_a_chain_survives_the_avro_round_trip() -> None:
    codec = AvroCodec(SchemaRegistry.from_directory(default_schema_dir()))
    records = build([_fixed(), refusal_entry(ticket="t2", actor="a", person=ANNA, data_type=DATA, reason="r", at=T0)])
    decoded = [codec.decode(codec.encode(AUDIT_SCHEMA, r)).record for r in records]
    assert verify_chain(positioned(decoded)).ok


def test_entries_are_unchained_and_their_audit_id_is_deterministic() -> None:
    entry = _fixed()
    assert entry["previous_hash"] == entry["hash"] == ""
    assert entry["recorded_at"].microsecond == 123_000
    assert entry["audit_id"] == _fixed()["audit_id"]
    assert uuid.UUID(entry["audit_id"]).version == 5
    other_kind = refusal_entry(
        ticket=entry["ticket"], actor=entry["actor"], person=ANNA, data_type=DATA, reason="no", at=T0
    )
    assert other_kind["audit_id"] != entry["audit_id"]


def test_consultation_entries_carry_either_a_legal_basis_or_a_reason() -> None:
    granted = consultation_entry(
        granted=True, ticket="t", actor="a", person=ANNA, data_type=DATA, at=T0, legal_basis="CSSS/1", reason="ignored"
    )
    refused = consultation_entry(
        granted=False,
        ticket="t",
        actor="a",
        person=ANNA,
        data_type=DATA,
        at=T0,
        legal_basis="ignored",
        reason="no file",
    )
    assert (granted["kind"], granted["legal_basis"], granted["reason"]) == ("CONSULTATION_GRANTED", "CSSS/1", None)
    assert (refused["kind"], refused["legal_basis"], refused["reason"]) == ("CONSULTATION_REFUSED", None, "no file")
    with pytest.raises(ValueError):
        consultation_entry(granted=True, ticket="t", actor="a", person=ANNA, data_type=DATA, at=T0)


def test_a_consultation_that_found_nothing_is_audited_as_nothing_given_with_the_basis_it_asked_on() -> None:
    nothing = consultation_entry(
        granted=False,
        status="NOT_FOUND",
        ticket="t",
        actor="a",
        person=ANNA,
        data_type=DATA,
        at=T0,
        legal_basis="CSSS/1",
        reason="no wages known",
    )
    assert (nothing["kind"], nothing["consultation_status"]) == ("CONSULTATION_REFUSED", "NOT_FOUND")
    assert (nothing["legal_basis"], nothing["reason"]) == ("CSSS/1", "no wages known")
    assert (
        nothing["audit_id"]
        != consultation_entry(
            granted=True, status="GRANTED", ticket="t", actor="a", person=ANNA, data_type=DATA, at=T0, legal_basis="L"
        )["audit_id"]
    )
    with pytest.raises(ValueError):  # a status that contradicts the grant
        consultation_entry(
            granted=True, status="NOT_FOUND", ticket="t", actor="a", person=ANNA, data_type=DATA, at=T0, legal_basis="L"
        )
    with pytest.raises(ValueError):  # found nothing, yet allowed on no basis
        consultation_entry(granted=False, status="NOT_FOUND", ticket="t", actor="a", person=ANNA, data_type=DATA,
                           at=T0, reason="no wages known")  # fmt: skip


def test_who_received_tells_a_consultation_that_found_nothing_from_a_grant_and_a_refusal() -> None:
    def consulted(ticket: str, status: str | None, granted: bool) -> dict[str, Any]:
        return consultation_entry(
            granted=granted,
            status=status,
            ticket=ticket,
            actor="0206731645",
            person=ANNA,
            data_type=DATA,
            at=T0,
            legal_basis="CSSS/1",
            reason=None if granted else "why",
        )

    records = build(
        [
            consulted("found", "GRANTED", True),
            consulted("nothing", "NOT_FOUND", False),
            consulted("refused", "REFUSED", False),
            consulted("v2-granted", None, True),  # written before AuditRecord v3: no status, the kind says it
            consulted("v2-refused", None, False),
        ]
    )
    for record in records:
        assert verify_chain(positioned([record]), start=record["previous_hash"]).ok

    receipts = {r.ticket: r for r in who_received(records, ANNA)}

    assert {t: (r.nothing_found, r.refused, r.consultation) for t, r in receipts.items()} == {
        "found": (False, False, True),
        "nothing": (True, False, True),
        "refused": (False, True, True),
        "v2-granted": (False, False, True),
        "v2-refused": (False, True, True),
    }
    assert (receipts["nothing"].legal_basis, receipts["nothing"].reason) == ("CSSS/1", "why")


# -- verification: properties ----------------------------------------------------------------------------------
@given(chains)
def test_an_untouched_chain_verifies(records: list[dict[str, Any]]) -> None:
    result = verify_chain(positioned(records), expected_head=records[-1]["hash"])
    assert result.ok and result.checked == len(records) and result.head == records[-1]["hash"]


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(chains, st.data())
def test_any_edit_of_any_field_is_reported_at_that_record_as_an_edit(
    records: list[dict[str, Any]], data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(records) - 1))
    field = data.draw(st.sampled_from(sorted(records[index])))
    tampered = [dict(r) for r in records]
    tampered[index][field] = _changed(records[index][field], data)

    result = verify_chain(positioned(tampered))

    assert result.failure is not None
    assert (result.failure.position, result.failure.reason) == (1000 + index, EDITED)


@given(chains.filter(lambda c: len(c) >= 2), st.data())
def test_any_deletion_is_reported_at_the_record_after_it(records: list[dict[str, Any]], data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(records) - 2))
    tampered = records[:index] + records[index + 1 :]

    result = verify_chain(positioned(tampered))

    assert result.failure is not None
    assert (result.failure.position, result.failure.reason) == (1000 + index, RELINKED)
    assert result.failure.audit_id == records[index + 1]["audit_id"]


@given(chains)
def test_removing_the_last_records_needs_the_anchor_to_be_seen(records: list[dict[str, Any]]) -> None:
    head = records[-1]["hash"]
    truncated = records[:-1]
    assert verify_chain(positioned(truncated)).ok  # a chain alone cannot tell: nothing follows
    result = verify_chain(positioned(truncated), expected_head=head)
    assert result.failure is not None and result.failure.reason == TRUNCATED and result.failure.position is None


@given(chains, chains.filter(lambda c: len(c) >= 2), st.data())
def test_any_inserted_foreign_record_is_reported_where_it_stands(
    records: list[dict[str, Any]], foreign_chain: list[dict[str, Any]], data: st.DataObject
) -> None:
    # a record of another chain, validly hashed there, with a real predecessor (not a genesis record: see below)
    foreign = foreign_chain[data.draw(st.integers(1, len(foreign_chain) - 1))]
    index = data.draw(st.integers(0, len(records)))
    tampered = [*records[:index], foreign, *records[index:]]

    result = verify_chain(positioned(tampered))

    assert result.failure is not None
    assert (result.failure.position, result.failure.reason) == (1000 + index, RELINKED)


def test_a_foreign_genesis_record_put_first_is_caught_on_the_next_record() -> None:
    records = build([_fixed(), _fixed()])
    intruder = chain(GENESIS, refusal_entry(ticket="x", actor="y", person=ANNA, data_type=DATA, reason="z", at=T0))
    result = verify_chain(positioned([intruder, *records]))
    # the intruder is a perfectly valid start of a chain: the break shows where the true start follows it
    assert result.failure is not None and (result.failure.position, result.failure.reason) == (1001, RELINKED)


@given(chains.filter(lambda c: len(c) >= 2), st.data())
def test_any_swap_of_two_records_is_reported_at_the_first_of_them(
    records: list[dict[str, Any]], data: st.DataObject
) -> None:
    i = data.draw(st.integers(0, len(records) - 2))
    j = data.draw(st.integers(i + 1, len(records) - 1))
    tampered = list(records)
    tampered[i], tampered[j] = tampered[j], tampered[i]

    result = verify_chain(positioned(tampered))

    assert result.failure is not None
    assert (result.failure.position, result.failure.reason) == (1000 + i, RELINKED)


@given(chains)
def test_a_replayed_entry_chained_again_keeps_the_chain_valid(records: list[dict[str, Any]]) -> None:
    # what the audit trail does after a crash between writing and committing: append the same entry again
    replay = chain(records[-1]["hash"], {**records[-1], "previous_hash": "", "hash": ""})
    assert replay["audit_id"] == records[-1]["audit_id"]
    assert verify_chain(positioned([*records, replay])).ok


def test_a_chain_may_continue_from_a_known_head() -> None:
    first = build([_fixed()])
    second = build([_fixed()], start=first[-1]["hash"])
    assert verify_chain(positioned(second), start=first[-1]["hash"]).ok
    assert verify_chain(positioned(second)).failure is not None


# -- who received ----------------------------------------------------------------------------------------------
def test_who_received_lists_every_exchange_refusals_included_with_source_once_oldest_first() -> None:
    delivery = delivery_entry(
        ticket="n1",
        actor="0212344876",
        person=ANNA,
        data_type=DATA,
        legal_basis="CSSS/11/042",
        at=T0 + timedelta(hours=2),
        source_ticket="f1",
        source="0403170701",
    )
    consultation = consultation_entry(
        granted=True,
        ticket="r1",
        actor="0206731645",
        person=ANNA,
        data_type="be.crossroads.civil.Birth",
        legal_basis="CSSS/09/001",
        at=T0,
        source="0367302178",
    )
    refusal = refusal_entry(
        ticket="n2", actor="0999999999", person=ANNA, data_type=DATA, reason="no", at=T0, source="0403170701"
    )
    refused_consultation = consultation_entry(
        granted=False,
        ticket="r2",
        actor="0206731645",
        person=ANNA,
        data_type=DATA,
        reason="no file",
        at=T0 + timedelta(minutes=1),
        source="0403170701",
    )
    someone_else = delivery_entry(
        ticket="n3", actor="0212344876", person=BRAM, data_type=DATA, legal_basis="CSSS/11/042", at=T0
    )
    records = build([delivery, consultation, refusal, delivery, refused_consultation, someone_else, delivery])

    receipts = who_received(records, ANNA)

    assert sorted(
        (r.ticket, r.institution, r.data_type, r.source, r.legal_basis, r.reason, r.kind, r.refused)
        for r in receipts
    ) == [
        ("n1", "0212344876", DATA, "0403170701", "CSSS/11/042", None, AuditKind.DELIVERY, False),
        ("n2", "0999999999", DATA, "0403170701", None, "no", AuditKind.REFUSAL, True),
        ("r1", "0206731645", "be.crossroads.civil.Birth", "0367302178", "CSSS/09/001", None,
         AuditKind.CONSULTATION_GRANTED, False),
        ("r2", "0206731645", DATA, "0403170701", None, "no file", AuditKind.CONSULTATION_REFUSED, True),
    ]  # fmt: skip
    assert [r.at for r in receipts] == [T0, T0, T0 + timedelta(minutes=1), T0 + timedelta(hours=2)]
    assert {r.ticket: r.consultation for r in receipts} == {"n1": False, "n2": False, "r1": True, "r2": True}
    assert [r.ticket for r in who_received(records, ANNA, since=T0 + timedelta(hours=1))] == ["n1"]
    assert [r.ticket for r in who_received(records, BRAM)] == ["n3"]


def test_a_record_without_a_source_keeps_its_hash_and_reads_as_unknown_source() -> None:
    # AuditRecord v1 had no source: its records decode with source None, hash as before, and still verify
    old = build([_fixed()])
    assert "source" in old[0] and old[0]["source"] is None
    written_by_v1 = {k: v for k, v in old[0].items() if k != "source"}
    assert audit_hash(GENESIS, written_by_v1) == old[0]["hash"]
    assert verify_chain(positioned([written_by_v1])).ok
    (receipt,) = who_received([written_by_v1], ANNA)
    assert receipt.source is None


def test_the_source_is_hashed_when_there_is_one() -> None:
    (record,) = build([{**_fixed(), "source": "0367302178"}])
    assert b'"source":"0367302178"' in canonical(record)
    assert verify_chain(positioned([{**record, "source": "0403170701"}])).failure is not None


@given(chains, st.sampled_from([ANNA, BRAM]))
def test_who_received_is_the_distinct_records_of_the_person_refusals_included(
    records: list[dict[str, Any]], person: str
) -> None:
    receipts = who_received([*records, *records], person)
    expected = {r["audit_id"] for r in records if r["person"] == person}
    refused = {r["audit_id"] for r in records if r["person"] == person and r["kind"].endswith(("REFUSAL", "REFUSED"))}
    assert {r.audit_id for r in receipts if r.refused} == refused
    assert sorted(r.audit_id for r in receipts) == sorted(expected)
    assert [r.at for r in receipts] == sorted(r.at for r in receipts)
