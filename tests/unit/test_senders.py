"""Senders proven at intake: the seal (who produced a record) and the sender rules (who may send what)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from streams.domain.admission import Refused, acknowledged_to, acknowledgement, admit, refusal_audit, rejection
from streams.domain.audit import AuditKind
from streams.domain.credentials import derived_seal_key
from streams.domain.samples import SAMPLE_EMPLOYER, sample, sample_dimona_in, sample_dmfa
from streams.domain.seal import SEAL_HEADER, SENDER_HEADER, proven_producer, seal, seal_headers, seal_key_hex
from streams.domain.senders import NOT_AUTHENTIC_SOURCE, NOT_AUTHENTICATED, NOT_MANDATED, sender_violations
from streams.domain.validation import RULES
from streams.network_files import load_network
from streams.settings import PROJECT_ROOT
from tests.support import with_envelope

SECRET = "unit-test-secret"
TOPIC = "crossroads.intake.dimona.v1"
NETWORK = load_network(PROJECT_ROOT / "deploy" / "network" / "v1")
NATIONAL_REGISTER = "0367302178"
MANDATED = "0448123469"  # SD Worx: a mandate of SAMPLE_EMPLOYER from 2020, open
ENDED = "0459246894"  # Partena: its mandate of SAMPLE_EMPLOYER ended 2019-12-31
MUTUALITY = "0206731645"
TODAY = dt.date(2026, 11, 27)
AT = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)


def key_of(actor: str) -> bytes:
    return derived_seal_key(SECRET, actor)


# -- the seal -------------------------------------------------------------------------------------------------


def test_a_sealed_record_proves_its_producer() -> None:
    value = b"\xc3\x01some avro bytes"
    headers = seal_headers(key_of(SAMPLE_EMPLOYER), SAMPLE_EMPLOYER, TOPIC, value)
    assert dict(headers)[SENDER_HEADER] == SAMPLE_EMPLOYER.encode()
    assert proven_producer(headers, TOPIC, value, key_of) == SAMPLE_EMPLOYER
    assert proven_producer(dict(headers), TOPIC, value, key_of) == SAMPLE_EMPLOYER  # faust's tests: a mapping


def test_the_seal_is_hmac_sha256_over_topic_then_value_with_the_actors_derived_key() -> None:
    import hashlib
    import hmac

    value = b"payload"
    expected = hmac.new(key_of(MUTUALITY), TOPIC.encode() + value, hashlib.sha256).hexdigest()
    assert seal(key_of(MUTUALITY), TOPIC, value) == expected
    assert seal_key_hex(SECRET, MUTUALITY) == key_of(MUTUALITY).hex() and len(seal_key_hex(SECRET, MUTUALITY)) == 64


@pytest.mark.parametrize(
    "tamper",
    [
        "no headers",
        "no seal",
        "another value",
        "another topic",
        "another actor's name",
        "sealed with another key",
        "two senders",
        "a sender that is no enterprise number",
    ],
)
def test_anything_but_the_producers_own_seal_proves_nobody(tamper: str) -> None:
    value = b"payload"
    good = seal_headers(key_of(SAMPLE_EMPLOYER), SAMPLE_EMPLOYER, TOPIC, value)
    headers: list[tuple[str, bytes]] | None = list(good)
    topic = TOPIC
    if tamper == "no headers":
        headers = None
    elif tamper == "no seal":
        headers = [(SENDER_HEADER, SAMPLE_EMPLOYER.encode())]
    elif tamper == "another value":
        value = b"payloaD"
    elif tamper == "another topic":
        topic = "crossroads.intake.civil.v1"
    elif tamper == "another actor's name":  # the seal is the employer's, the header names the mutuality
        headers = [(SENDER_HEADER, MUTUALITY.encode()), good[1]]
    elif tamper == "sealed with another key":
        headers = seal_headers(key_of(MUTUALITY), SAMPLE_EMPLOYER, TOPIC, value)
    elif tamper == "two senders":
        headers = [*good, (SENDER_HEADER, MUTUALITY.encode())]
    elif tamper == "a sender that is no enterprise number":
        headers = [(SENDER_HEADER, b"../../etc"), (SEAL_HEADER, good[1][1])]
    assert proven_producer(headers, topic, value, key_of) is None


def test_keys_differ_per_actor_and_per_secret() -> None:
    assert derived_seal_key(SECRET, MUTUALITY) != derived_seal_key(SECRET, SAMPLE_EMPLOYER)
    assert derived_seal_key(SECRET, MUTUALITY) != derived_seal_key("another secret", MUTUALITY)


# -- the sender rules ----------------------------------------------------------------------------------------


def codes(schema: str, record: dict[str, Any], proven: str | None, on: dt.date = TODAY) -> list[str]:
    return [v.code for v in sender_violations(schema, record, proven=proven, network=NETWORK, on=on)]


DIMONA_IN = "be.crossroads.dimona.DimonaIn"
DMFA = "be.crossroads.dmfa.DmfaDeclaration"
DEATH = "be.crossroads.civil.Death"


def test_the_three_codes_are_registered() -> None:
    assert {NOT_AUTHENTICATED, NOT_AUTHENTIC_SOURCE, NOT_MANDATED} <= RULES.keys()


def test_an_employer_declares_for_itself() -> None:
    assert codes(DIMONA_IN, sample_dimona_in(), SAMPLE_EMPLOYER) == []
    assert codes(DMFA, sample_dmfa(), SAMPLE_EMPLOYER) == []


def test_no_proven_producer_or_another_name_is_not_authenticated_and_nothing_else_is_judged() -> None:
    record = sample_dimona_in()
    assert codes(DIMONA_IN, record, None) == [NOT_AUTHENTICATED]
    [forged] = sender_violations(DIMONA_IN, record, proven=MUTUALITY, network=NETWORK, on=TODAY)
    assert forged.code == NOT_AUTHENTICATED and forged.field == "envelope.sender"
    assert SAMPLE_EMPLOYER in forged.message and MUTUALITY in forged.message


def test_civil_events_only_from_their_authentic_source() -> None:
    death = sample(DEATH)
    assert death["envelope"]["sender"] == NATIONAL_REGISTER
    assert codes(DEATH, death, NATIONAL_REGISTER) == []
    assert codes(DEATH, with_envelope(death, sender=MUTUALITY), MUTUALITY) == [NOT_AUTHENTIC_SOURCE]
    for schema in ("be.crossroads.civil.Birth", "be.crossroads.civil.AddressChange"):
        assert codes(schema, with_envelope(sample(schema), sender=MUTUALITY), MUTUALITY) == [NOT_AUTHENTIC_SOURCE]


def test_a_secretariat_declares_for_an_employer_while_its_mandate_holds() -> None:
    dimona = with_envelope(sample_dimona_in(), sender=MANDATED)
    assert codes(DIMONA_IN, dimona, MANDATED) == []
    assert codes(DMFA, with_envelope(sample_dmfa(), sender=MANDATED), MANDATED) == []
    assert codes(DIMONA_IN, dimona, MANDATED, on=dt.date(2019, 12, 31)) == [NOT_MANDATED]  # not yet


def test_a_secretariat_whose_mandate_ended_or_an_institution_is_not_mandated() -> None:
    assert codes(DIMONA_IN, with_envelope(sample_dimona_in(), sender=ENDED), ENDED) == [NOT_MANDATED]
    assert codes(DIMONA_IN, with_envelope(sample_dimona_in(), sender=ENDED), ENDED, on=dt.date(2019, 12, 31)) == []
    [violation] = sender_violations(
        DMFA, with_envelope(sample_dmfa(), sender=MUTUALITY), proven=MUTUALITY, network=NETWORK, on=TODAY
    )
    assert (violation.code, violation.field) == (NOT_MANDATED, "employer")


def test_a_malformed_employer_is_left_to_the_content_rules() -> None:
    dimona = with_envelope({**sample_dimona_in(), "employer": "0403170702"}, sender=MANDATED)
    assert codes(DIMONA_IN, dimona, MANDATED) == []


def test_each_declaration_of_a_dimona_batch_is_judged() -> None:
    other = "0477472701"  # an employer that gave SD Worx no mandate
    items = [
        ("be.crossroads.dimona.DimonaIn", with_envelope(sample_dimona_in(), sender=MANDATED)),
        ("be.crossroads.dimona.DimonaIn", with_envelope(sample_dimona_in(employer=other), sender=MANDATED)),
    ]
    batch = {"envelope": {**sample_dimona_in()["envelope"], "sender": MANDATED}, "declarations": items}
    violations = sender_violations(
        "be.crossroads.dimona.DimonaBatch", batch, proven=MANDATED, network=NETWORK, on=TODAY
    )
    assert [(v.code, v.field) for v in violations] == [(NOT_MANDATED, "declarations[1].employer")]


# -- the refusal: told to the proven producer, audited ----------------------------------------------------


def test_a_forged_declaration_is_refused_to_and_audited_for_its_real_producer() -> None:
    import uuid

    record = sample_dimona_in()  # names SAMPLE_EMPLOYER, produced by the mutuality
    senders = sender_violations(DIMONA_IN, record, proven=MUTUALITY, network=NETWORK, on=TODAY)
    ticket = uuid.UUID("00000000-0000-4000-8000-000000000009")
    refused = admit(DIMONA_IN, record, ticket=ticket, received_at=AT, senders=senders, producer=MUTUALITY)
    assert isinstance(refused, Refused) and refused.sender_refused
    assert acknowledged_to(record, refused) == MUTUALITY
    ack = acknowledgement(DIMONA_IN, record, ticket, AT, refused.violations, recipient=MUTUALITY)
    assert ack["recipient"] == MUTUALITY and ack["status"] == "REJECTED"
    assert rejection(DIMONA_IN, record, refused, raw=b"raw")["sender"] == MUTUALITY
    audit = refusal_audit(DIMONA_IN, refused)
    assert (audit["kind"], audit["actor"], audit["person"], audit["ticket"]) == (
        AuditKind.REFUSAL,
        MUTUALITY,
        record["worker"],
        str(ticket),
    )
    assert audit["reason"].startswith(NOT_AUTHENTICATED)


def test_a_content_refusal_still_goes_to_the_envelopes_sender() -> None:
    import uuid

    record = {**sample_dimona_in(), "worker": "93051822362"}
    refused = admit(DIMONA_IN, record, ticket=uuid.uuid4(), received_at=AT, producer=SAMPLE_EMPLOYER)
    assert isinstance(refused, Refused) and not refused.sender_refused
    assert acknowledged_to(record, refused) == SAMPLE_EMPLOYER
