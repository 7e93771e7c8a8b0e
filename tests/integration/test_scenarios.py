"""The heart, given / when / then, on the real broker with `crossroads worker` running.

Each scenario uses fresh people, so scenarios never see each other's files.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from streams.settings import Settings
from streams.stack.workers import crossroads_argv
from tests.integration.harness import Platform, ticket_of
from tests.support import (
    address_change,
    birth,
    civil_status_change,
    consultation,
    death,
    dimona_in,
    dimona_out,
    dmfa,
    integration,
    niss,
    worker_line,
)

pytestmark = pytest.mark.integration

MUTUALITY_A = "0206731645"  # Mutualités chrétiennes
MUTUALITY_B = "0915943977"  # Solidaris
UNEMPLOYMENT_CSC = "0924751082"
CPAS_BRUSSELS = "0432837160"
FAMIWAL = "0269277740"
TAX = "0676660320"
EMPLOYER = "0403170701"
OTHER_EMPLOYER = "0477472701"


@pytest.fixture(scope="module")
def platform_client(platform: Settings) -> Iterator[Platform]:
    client = Platform(platform)
    yield client
    client.close()


def registered(p: Platform, *integrations: tuple[str, dict[str, Any]]) -> list[str]:
    """Given these integrations were accepted: their tickets."""
    refs = [p.send(schema, record) for schema, record in integrations]
    return [ticket_of(p.ack(ref)) for ref in refs]


def accepted(p: Platform, declaration: tuple[str, dict[str, Any]]) -> str:
    return ticket_of(p.ack(p.send(*declaration)))


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **settings.as_env(), "COLUMNS": "250"}
    return subprocess.run(
        [*crossroads_argv(), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_register_then_the_directory_shows_the_file(platform_client: Platform) -> None:
    p, person = platform_client, niss()

    registered(p, integration(MUTUALITY_A, "MUTUALITY", "TITULAR", person, dt.date(2020, 1, 1)))

    shown = cli(p.settings, "directory", "show", person)
    assert shown.returncode == 0, shown.stderr
    assert MUTUALITY_A in shown.stdout and "TITULAR" in shown.stdout and "2020-01-01" in shown.stdout


def test_same_capacity_overlapping_period_at_a_second_institution_of_the_sector_is_refused(
    platform_client: Platform,
) -> None:
    p, person = platform_client, niss()
    registered(p, integration(MUTUALITY_A, "MUTUALITY", "TITULAR", person, dt.date(2020, 1, 1)))

    reference = p.send(*integration(MUTUALITY_B, "MUTUALITY", "TITULAR", person, dt.date(2024, 1, 1)))

    ack = p.ack(reference)
    assert ack["status"] == "REJECTED"
    assert [v["code"] for v in ack["violations"]] == ["directory.overlap"]
    assert MUTUALITY_A in ack["violations"][0]["message"]
    rejections = p.wait(lambda s: s.schema.endswith("Rejection") and s.record["sender_reference"] == reference)
    assert rejections and rejections[0].record["stage"] == "directory"


def test_unregister_and_as_of(platform_client: Platform) -> None:
    p, person = platform_client, niss()
    registered(p, integration(MUTUALITY_A, "MUTUALITY", "TITULAR", person, dt.date(2020, 1, 1)))

    registered(
        p,
        integration(
            MUTUALITY_A, "MUTUALITY", "TITULAR", person, dt.date(2020, 1, 1), dt.date(2024, 6, 30), action="UNREGISTER"
        ),
    )

    during = cli(p.settings, "directory", "show", person, "--as-of", "2024-06-30")
    after = cli(p.settings, "directory", "show", person, "--as-of", "2024-07-01")
    assert MUTUALITY_A in during.stdout
    assert MUTUALITY_A not in after.stdout and "no file active on 2024-07-01" in after.stdout
    # the fan-out is evaluated as of each fact's date
    before_end = accepted(p, address_change(person, dt.date(2024, 5, 1)))
    after_end = accepted(p, address_change(person, dt.date(2024, 8, 1)))
    assert [
        n.record["recipient"]
        for n in p.wait(lambda s: s.schema.endswith("Notification") and s.record["source_ticket"] == before_end)
    ] == [MUTUALITY_A]
    p.settle()
    assert p.notifications(after_end) == []


def test_an_address_change_reaches_exactly_the_authorized_holders_and_everything_is_audited(
    platform_client: Platform,
) -> None:
    p, person = platform_client, niss()
    registered(
        p,
        integration(MUTUALITY_A, "MUTUALITY", "TITULAR", person, dt.date(2020, 1, 1)),
        integration(UNEMPLOYMENT_CSC, "UNEMPLOYMENT", "BENEFICIARY", person, dt.date(2025, 1, 1)),
        integration(CPAS_BRUSSELS, "CPAS", "HEATING_ALLOWANCE", person, dt.date(2025, 1, 1)),  # not authorized
        integration(MUTUALITY_B, "MUTUALITY", "DEPENDANT", person, dt.date(2010, 1, 1), dt.date(2012, 1, 1)),  # ended
    )

    source = accepted(p, address_change(person, dt.date(2026, 3, 1)))

    delivered = p.wait(lambda s: s.schema.endswith("Notification") and s.record["source_ticket"] == source, count=2)
    audits = p.wait(lambda s: s.schema.endswith("AuditRecord") and s.record["source_ticket"] == source, count=3)
    p.settle()
    assert sorted(n.record["recipient"] for n in p.notifications(source)) == sorted([MUTUALITY_A, UNEMPLOYMENT_CSC])
    assert all(p.in_mailbox_of(n.record["recipient"])(n) for n in delivered)
    assert all(n.record["person"] == person and n.record["legal_basis"] for n in delivered)
    assert sorted((a.record["actor"], a.record["kind"]) for a in p.seen(lambda s: s in audits) or audits) == sorted(
        [(MUTUALITY_A, "DELIVERY"), (UNEMPLOYMENT_CSC, "DELIVERY"), (CPAS_BRUSSELS, "REFUSAL")]
    )
    delivery_tickets = {a.record["ticket"] for a in audits if a.record["kind"] == "DELIVERY"}
    assert delivery_tickets == {n.record["ticket"] for n in delivered}


def test_a_death_reaches_the_authorized_holders(platform_client: Platform) -> None:
    p, person = platform_client, niss()
    registered(
        p,
        integration(MUTUALITY_A, "MUTUALITY", "TITULAR", person, dt.date(2020, 1, 1)),
        integration(CPAS_BRUSSELS, "CPAS", "HEATING_ALLOWANCE", person, dt.date(2025, 1, 1)),
    )

    source = accepted(p, death(person, dt.date(2026, 10, 2)))

    p.wait(lambda s: s.schema.endswith("AuditRecord") and s.record["source_ticket"] == source, count=2)
    p.settle()
    assert [n.record["recipient"] for n in p.notifications(source)] == [MUTUALITY_A]
    assert sorted(a["kind"] for a in p.audits(source)) == ["DELIVERY", "REFUSAL"]


def test_a_birth_reaches_the_holders_of_the_parents_files(platform_client: Platform) -> None:
    p = platform_client
    mother, father, child = niss(female=True), niss(), niss(dt.date(2026, 9, 1))
    registered(
        p,
        integration(FAMIWAL, "FAMILY_ALLOWANCES", "ALLOCATAIRE", mother, dt.date(2024, 1, 1)),
        integration(MUTUALITY_B, "MUTUALITY", "TITULAR", father, dt.date(2015, 1, 1)),
    )

    source = accepted(p, birth(child, [mother, father], dt.date(2026, 9, 1)))

    p.wait(lambda s: s.schema.endswith("Notification") and s.record["source_ticket"] == source, count=2)
    p.settle()
    notified = {n.record["recipient"]: n.record for n in p.notifications(source)}
    assert set(notified) == {FAMIWAL, MUTUALITY_B}
    assert all(n["person"] == child for n in notified.values())


def reply_to(p: Platform, request: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    p.send(*request)
    requester, person, as_of = request[1]["requester"], request[1]["person"], request[1]["as_of"]
    found = p.wait(
        lambda s: (
            s.schema.endswith("ConsultationReply")
            and s.record["requester"] == requester
            and s.record["person"] == person
            and s.record["data_type"] == request[1]["data_type"]
            and s.offset >= 0
            and s.record["ticket"] not in _answered
        ),
    )
    assert found, "no consultation reply"
    _answered.add(found[0].record["ticket"])
    assert p.in_mailbox_of(requester)(found[0]), found[0].topic
    return found[0].record | {"_as_of": as_of}


_answered: set[str] = set()


def test_dimona_in_out_and_the_employers_consultation_allowed_then_refused(platform_client: Platform) -> None:
    p, worker = platform_client, niss()
    registered(p, integration(UNEMPLOYMENT_CSC, "UNEMPLOYMENT", "BENEFICIARY", worker, dt.date(2025, 6, 1)))
    employment = "be.crossroads.consultation.Employment"

    hired = accepted(p, dimona_in(EMPLOYER, worker, dt.date(2026, 1, 5)))
    allowed = reply_to(p, consultation(EMPLOYER, "EMPLOYER", worker, employment, dt.date(2026, 2, 1)))
    stranger = reply_to(p, consultation(OTHER_EMPLOYER, "EMPLOYER", worker, employment, dt.date(2026, 2, 1)))
    accepted(p, dimona_out(EMPLOYER, worker, dt.date(2026, 1, 5), dt.date(2026, 3, 31)))
    after = reply_to(p, consultation(EMPLOYER, "EMPLOYER", worker, employment, dt.date(2026, 4, 15)))

    assert allowed["status"] == "GRANTED" and len(allowed["payloads"]) == 1
    assert p.codec.decode(allowed["payloads"][0]).record["employer"] == EMPLOYER
    assert stranger["status"] == "REFUSED"
    assert after["status"] == "REFUSED" and "no employment relation" in after["reason"]
    # the unemployment body learns that its beneficiary started work
    assert [
        n.record["recipient"]
        for n in p.wait(lambda s: s.schema.endswith("Notification") and s.record["source_ticket"] == hired)
    ] == [UNEMPLOYMENT_CSC]
    audits = p.wait(
        lambda s: (
            s.schema.endswith("AuditRecord")
            and s.record["kind"].startswith("CONSULTATION")
            and s.record["person"] == worker
        ),
        count=3,
    )
    assert sorted(a.record["kind"] for a in audits) == [
        "CONSULTATION_GRANTED",
        "CONSULTATION_REFUSED",
        "CONSULTATION_REFUSED",
    ]


def test_a_dimona_out_without_in_is_refused_by_the_directory(platform_client: Platform) -> None:
    p, worker = platform_client, niss()

    ack = p.ack(p.send(*dimona_out(EMPLOYER, worker, dt.date(2026, 1, 5), dt.date(2026, 3, 31))))

    assert ack["status"] == "REJECTED"
    assert [v["code"] for v in ack["violations"]] == ["dimona.out_without_in"]


def test_a_dmfa_correction_supersedes_the_original(platform_client: Platform) -> None:
    p, worker = platform_client, niss()
    registered(p, integration(TAX, "TAX", "TAXPAYER", worker, dt.date(2020, 1, 1)))

    original = accepted(p, dmfa(EMPLOYER, [worker_line(worker, 900_000)], "2026-Q1", 1))
    correction = accepted(p, dmfa(EMPLOYER, [worker_line(worker, 1_000_000)], "2026-Q1", 2))
    p.wait(lambda s: s.schema.endswith("Notification") and s.record["source_ticket"] in (original, correction), count=2)
    reply = reply_to(p, consultation(TAX, "TAXPAYER", worker, "be.crossroads.consultation.Wages", dt.date(2026, 6, 30)))

    assert reply["status"] == "GRANTED"
    lines = [line for payload in reply["payloads"] for line in p.codec.decode(payload).record["worker_lines"]]
    assert [line["gross_wage_cents"] for line in lines] == [1_000_000]


def test_an_invalid_declaration_is_rejected_with_every_violation(platform_client: Platform) -> None:
    p = platform_client
    schema, record = dimona_in(EMPLOYER, "93051822362", dt.date(2026, 1, 5))  # bad check digits
    record["joint_committee"] = "abc"

    ack = p.ack(p.send(schema, record))

    assert ack["status"] == "REJECTED"
    assert {v["field"] for v in ack["violations"]} >= {"worker", "joint_committee"}


def test_the_audit_trail_verifies(platform_client: Platform) -> None:
    p = platform_client
    p.settle()

    result = cli(p.settings, "audit", "verify")

    assert result.returncode == 0, result.stdout + result.stderr


IDENTITY = "be.crossroads.consultation.Identity"
EMPLOYMENT = "be.crossroads.consultation.Employment"


def _delivered(p: Platform, *sources: str) -> None:
    """Wait until the directory has applied these routed facts: each reached its one holder's mailbox."""
    for source in sources:
        assert p.wait(
            lambda s, source=source: s.schema.endswith("Notification") and s.record["source_ticket"] == source
        )


def _streets(p: Platform, reply: dict[str, Any]) -> list[str]:
    records = [p.codec.decode(payload) for payload in reply["payloads"]]
    return [d.record["address"]["street"] for d in records if d.schema_name.endswith("AddressChange")]


def test_an_identity_consultation_as_of_a_date_between_two_moves_gives_the_address_then_in_force(
    platform_client: Platform,
) -> None:
    p, person = platform_client, niss()
    registered(p, integration(MUTUALITY_A, "MUTUALITY", "TITULAR", person, dt.date(2020, 1, 1)))
    # the later move arrives first: the history must not depend on the order facts arrive in
    second = accepted(p, address_change(person, dt.date(2025, 1, 1), street="Rue Neuve"))
    first = accepted(p, address_change(person, dt.date(2024, 1, 1), street="Rue Haute"))
    _delivered(p, first, second)

    before = reply_to(p, consultation(MUTUALITY_A, "TITULAR", person, IDENTITY, dt.date(2023, 6, 1)))
    between = reply_to(p, consultation(MUTUALITY_A, "TITULAR", person, IDENTITY, dt.date(2024, 6, 1)))
    after = reply_to(p, consultation(MUTUALITY_A, "TITULAR", person, IDENTITY, dt.date(2025, 2, 1)))

    assert before["status"] == "NOT_FOUND"
    assert between["status"] == "GRANTED" and _streets(p, between) == ["Rue Haute"]
    assert after["status"] == "GRANTED" and _streets(p, after) == ["Rue Neuve"]


def test_an_employers_identity_consultation_gives_the_workers_address_and_nothing_about_relatives(
    platform_client: Platform,
) -> None:
    p = platform_client
    born = dt.date(1990, 5, 1)
    worker, mother, father, partner = niss(born), niss(female=True), niss(), niss(female=True)
    registered(p, integration(MUTUALITY_A, "MUTUALITY", "TITULAR", worker, dt.date(2020, 1, 1)))
    facts = [
        accepted(p, birth(worker, [mother, father], born)),
        accepted(p, address_change(worker, dt.date(2024, 1, 1), street="Rue Haute")),
        accepted(p, civil_status_change(worker, dt.date(2024, 6, 1), "MARRIED", partner)),
    ]
    accepted(p, dimona_in(EMPLOYER, worker, dt.date(2026, 1, 5)))
    _delivered(p, *facts[1:])  # the birth is kept in the worker's file, delivered to the parents' holders (none)
    # the institution sees the whole identity (its deliberation says so): the birth is kept by now
    full = reply_to(p, consultation(MUTUALITY_A, "TITULAR", worker, IDENTITY, dt.date(2026, 2, 1)))
    assert full["status"] == "GRANTED" and len(full["payloads"]) == 3

    reply = reply_to(p, consultation(EMPLOYER, "EMPLOYER", worker, IDENTITY, dt.date(2026, 2, 1)))

    assert reply["status"] == "GRANTED"
    given = [p.codec.decode(payload) for payload in reply["payloads"]]
    assert [d.schema_name for d in given] == ["be.crossroads.civil.AddressChange"]
    assert given[0].record["person"] == worker and given[0].record["address"]["street"] == "Rue Haute"
    everything = b"".join(reply["payloads"])
    assert not any(relative.encode() in everything for relative in (mother, father, partner))


def test_a_legacy_nine_digit_enterprise_number_is_accepted_and_stored_with_its_leading_zero(
    platform_client: Platform,
) -> None:
    p, worker = platform_client, niss()
    legacy = EMPLOYER[1:]  # 403170701: the KBO's old 9-digit form of 0403170701
    schema, record = dimona_in(legacy, worker, dt.date(2026, 1, 5))

    ack = p.ack(p.send_as(EMPLOYER, schema, record))
    assert ack["status"] == "ACCEPTED", ack["violations"]

    reply = reply_to(p, consultation(EMPLOYER, "EMPLOYER", worker, EMPLOYMENT, dt.date(2026, 2, 1)))
    assert reply["status"] == "GRANTED"
    stored = p.codec.decode(reply["payloads"][0]).record
    assert (stored["employer"], stored["envelope"]["sender"]) == (EMPLOYER, EMPLOYER)
