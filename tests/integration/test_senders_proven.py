"""Senders proven at intake, on the real broker with `crossroads worker` running: the intake believes the seal
of a record, never the sender its envelope names (docs/security.md, "Senders proven at intake")."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from streams.settings import Settings
from tests.integration.harness import Platform
from tests.support import death, dimona_in, niss

pytestmark = pytest.mark.integration

MUTUALITY = "0206731645"  # an institution of the network: its own mailbox topic
EMPLOYER = "0403170701"
MANDATED = "0448123469"  # SD Worx: mandated by EMPLOYER since 2020 (deploy/network/v1/mandates.yaml)
ENDED = "0459246894"  # Partena: its mandate of EMPLOYER ended on 2019-12-31
DIMONA_IN = "be.crossroads.dimona.DimonaIn"
BORN = dt.date(1990, 5, 18)  # the workers' birth date


@pytest.fixture(scope="module")
def client(platform: Settings) -> Iterator[Platform]:
    watcher = Platform(platform)
    yield watcher
    watcher.close()


def refusal(p: Platform, reference: str, ticket: str) -> dict[str, Any]:
    """The audit REFUSAL of the declaration refused under ``ticket``, once the directory has chained it."""
    found = p.wait(
        lambda s: s.schema.endswith("AuditRecord") and s.record["ticket"] == ticket and s.record["kind"] == "REFUSAL",
        timeout=120,
    )
    assert found, f"no audit REFUSAL for {reference} (ticket {ticket}) within 120s"
    return found[0].record


def codes(ack: dict[str, Any]) -> list[str]:
    return [v["code"] for v in ack["violations"]]


def test_a_declaration_forged_in_another_senders_name_is_refused_audited_and_told_to_the_real_producer(
    client: Platform,
) -> None:
    record = dimona_in(EMPLOYER, niss(BORN)).record  # the employer's name, produced (sealed) by the mutuality
    reference = client.send_as(MUTUALITY, DIMONA_IN, record)

    ack = client.ack(reference, timeout=120)
    assert (ack["status"], ack["recipient"]) == ("REJECTED", MUTUALITY)
    assert codes(ack) == ["envelope.sender_not_authenticated"]
    in_mutuality = client.in_mailbox_of(MUTUALITY)
    assert client.seen(lambda s: in_mutuality(s) and s.record.get("sender_reference") == reference)
    in_employer = client.in_mailbox_of(EMPLOYER)
    assert not client.seen(lambda s: in_employer(s) and s.record.get("sender_reference") == reference)
    rejected = client.wait(lambda s: s.schema.endswith("Rejection") and s.record["sender_reference"] == reference)
    assert rejected and rejected[0].record["sender"] == MUTUALITY
    audit = refusal(client, reference, ack["ticket"])
    assert (audit["actor"], audit["person"], audit["data_type"]) == (MUTUALITY, record["worker"], DIMONA_IN)
    assert audit["reason"].startswith("envelope.sender_not_authenticated")
    # refused at intake, never a fact: no acknowledgement from the directory follows the intake's
    acks = client.seen(lambda s: s.schema.endswith("Acknowledgement") and s.record["sender_reference"] == reference)
    assert [a.record["status"] for a in acks] == ["REJECTED"]


def test_a_dimona_from_a_secretariat_whose_mandate_ended_is_not_mandated(client: Platform) -> None:
    reference = client.send(*dimona_in(EMPLOYER, niss(BORN), sender=ENDED))

    ack = client.ack(reference, timeout=120)
    assert (ack["status"], ack["recipient"], codes(ack)) == ("REJECTED", ENDED, ["envelope.sender_not_mandated"])
    in_secretariat = client.in_mailbox_of(ENDED)  # not an institution: the employers' mailbox, under its key
    assert client.seen(lambda s: in_secretariat(s) and s.record.get("sender_reference") == reference)
    assert refusal(client, reference, ack["ticket"])["actor"] == ENDED


def test_a_death_declared_by_an_institution_is_not_from_the_authentic_source(client: Platform) -> None:
    schema, record = death(niss(dt.date(1940, 2, 2)), dt.date(2026, 11, 1), sender=MUTUALITY)
    reference = client.send(schema, record)

    ack = client.ack(reference, timeout=120)
    assert (ack["status"], ack["recipient"], codes(ack)) == ("REJECTED", MUTUALITY, ["envelope.not_authentic_source"])
    assert refusal(client, reference, ack["ticket"])["person"] == record["person"]


def test_a_mandated_secretariats_dimona_is_accepted(client: Platform) -> None:
    reference = client.send(*dimona_in(EMPLOYER, niss(BORN), sender=MANDATED))

    ack = client.ack(reference, timeout=120)
    assert (ack["status"], ack["recipient"], ack["violations"]) == ("ACCEPTED", MANDATED, [])
    in_secretariat = client.in_mailbox_of(MANDATED)
    assert client.seen(lambda s: in_secretariat(s) and s.record.get("sender_reference") == reference)
