"""The reference directory's rules on the real pipeline: declarations sent like an institution or an employer
would, through intake, the directory, the senders' mailboxes, the holders' notifications and the warehouse.

* a DIMONA relation keeps its identity (employer + the start it was declared with) when an UPDATE moves its
  start: later declarations quote that start, and the warehouse groups every event of the relation together;
* a refused declaration is told every rule it breaks, in its acknowledgement and its rejection record;
* a DIMONA IN that overlaps a relation of the same employer is refused (dimona.relation_overlap);
* a provisional file is held for the network's provisional period unless its institution confirms it.

Each test uses fresh people, so tests never see each other's files.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from connectors.clickhouse import connect
from connectors.clickhouse.statistics import relations_sql
from connectors.clickhouse.warehouse import settings_pseudonymizer
from streams.domain.network import DEFAULT_PROVISIONAL_DAYS
from streams.settings import Settings
from tests.integration.harness import Platform, eventually
from tests.integration.test_scenarios import (
    EMPLOYER,
    MUTUALITY_A,
    MUTUALITY_B,
    UNEMPLOYMENT_CSC,
    accepted,
    registered,
    reply_to,
)
from tests.support import (
    address_change,
    consultation,
    dimona_in,
    dimona_out,
    dimona_update,
    envelope,
    integration,
    niss,
)

pytestmark = pytest.mark.integration

EMPLOYMENT = "be.crossroads.consultation.Employment"


@pytest.fixture(scope="module")
def p(platform: Settings) -> Iterator[Platform]:
    client = Platform(platform)
    yield client
    client.close()


def rejected_with(p: Platform, reference: str) -> tuple[list[str], list[str]]:
    """The violation codes of a refused declaration: (its acknowledgement's, its rejection record's)."""
    ack = p.ack(reference)
    assert ack["status"] == "REJECTED", ack
    found = p.wait(lambda s: s.schema.endswith("Rejection") and s.record["sender_reference"] == reference)
    assert found, f"no rejection record for {reference}"
    assert found[0].record["stage"] == "directory"
    return [v["code"] for v in ack["violations"]], [v["code"] for v in found[0].record["violations"]]


# -- D7: a relation keeps its identity when its start moves ---------------------------------------------------


def test_a_relation_whose_start_moved_is_closed_by_quoting_its_declared_start_and_stays_one_in_the_warehouse(
    p: Platform,
) -> None:
    worker, declared, moved, last_day = niss(), dt.date(2026, 1, 5), dt.date(2026, 2, 2), dt.date(2026, 4, 30)

    hired = accepted(p, dimona_in(EMPLOYER, worker, declared))
    updated = accepted(p, dimona_update(EMPLOYER, worker, declared, new_start=moved, new_end=None))
    out = p.ack(p.send(*dimona_out(EMPLOYER, worker, declared, last_day)))  # quotes the start it was declared with

    assert out["status"] == "ACCEPTED", out["violations"]
    # the directory applied all three to one relation: employed from the moved start to the OUT's end
    before = reply_to(p, consultation(EMPLOYER, "EMPLOYER", worker, EMPLOYMENT, dt.date(2026, 1, 20)))
    during = reply_to(p, consultation(EMPLOYER, "EMPLOYER", worker, EMPLOYMENT, dt.date(2026, 3, 1)))
    after = reply_to(p, consultation(EMPLOYER, "EMPLOYER", worker, EMPLOYMENT, dt.date(2026, 5, 1)))
    assert (before["status"], during["status"], after["status"]) == ("REFUSED", "GRANTED", "REFUSED")

    # the warehouse names the relation by the same start in every event, so its statistics see one relation
    settings = p.settings
    client, database = connect(settings), settings.clickhouse.database
    tickets = {hired, updated, str(out["ticket"])}
    rows = eventually(
        "the three DIMONA events in the warehouse",
        lambda: (
            found
            if len(
                found := client.execute(
                    f"SELECT DISTINCT event_id, kind, relation_start FROM {database}.dimona_events "
                    "WHERE event_id IN %(tickets)s",
                    {"tickets": tuple(tickets)},
                )
            )
            == 3
            else None
        ),
    )
    assert sorted((kind, start) for _, kind, start in rows) == [
        ("IN", declared),
        ("OUT", declared),
        ("UPDATE", declared),
    ]
    pseudonym = settings_pseudonymizer(settings)(worker)
    relations = client.execute(
        f"SELECT relation_start, declared, cancelled, began, has_end, ended FROM ({relations_sql(database)}) "
        "WHERE employer = %(employer)s AND worker = %(worker)s",
        {"employer": EMPLOYER, "worker": pseudonym},
    )
    assert relations == [(declared, 1, 0, moved, 1, last_day)]


def test_a_declaration_quoting_the_moved_start_is_refused_and_told_the_start_to_quote(p: Platform) -> None:
    worker, declared, moved = niss(), dt.date(2026, 1, 5), dt.date(2026, 2, 2)
    accepted(p, dimona_in(EMPLOYER, worker, declared))
    accepted(p, dimona_update(EMPLOYER, worker, declared, new_start=moved, new_end=None))

    reference = p.send(*dimona_out(EMPLOYER, worker, moved, dt.date(2026, 4, 30)))

    in_ack, in_rejection = rejected_with(p, reference)
    assert in_ack == in_rejection == ["dimona.out_without_in"]
    assert declared.isoformat() in p.ack(reference)["violations"][0]["message"]


# -- D8: every refusal, not only the first --------------------------------------------------------------------


def test_a_refused_integration_is_told_every_rule_it_breaks(p: Platform) -> None:
    person = niss()
    registered(p, integration(MUTUALITY_A, "MUTUALITY", "TITULAR", person, dt.date(2020, 1, 1)))
    # the unemployment body registers, in its own name, a file of another institution that overlaps A's
    schema, record = integration(MUTUALITY_B, "MUTUALITY", "TITULAR", person, dt.date(2024, 1, 1))
    record["envelope"] = envelope(UNEMPLOYMENT_CSC)

    in_ack, in_rejection = rejected_with(p, p.send(schema, record))

    assert in_ack == in_rejection == ["directory.not_own_file", "directory.overlap"]


def test_a_refused_unregistration_is_told_every_rule_it_breaks(p: Platform) -> None:
    person = niss()

    reference = p.send(
        *integration(MUTUALITY_A, "MUTUALITY", "PENSIONER", person, dt.date(2020, 1, 1), action="UNREGISTER")
    )

    in_ack, in_rejection = rejected_with(p, reference)
    expected = ["directory.unknown_capacity", "directory.unregister_without_end", "directory.not_registered"]
    assert in_ack == in_rejection == expected


# -- dimona.relation_overlap --------------------------------------------------------------------------------


def test_a_dimona_in_overlapping_a_relation_of_the_same_employer_is_refused(p: Platform) -> None:
    worker = niss()
    registered(p, integration(UNEMPLOYMENT_CSC, "UNEMPLOYMENT", "BENEFICIARY", worker, dt.date(2025, 6, 1)))
    accepted(p, dimona_in(EMPLOYER, worker, dt.date(2026, 1, 5)))  # open-ended

    overlapping = p.send(*dimona_in(EMPLOYER, worker, dt.date(2026, 3, 1)))
    in_ack, in_rejection = rejected_with(p, overlapping)
    assert in_ack == in_rejection == ["dimona.relation_overlap"]

    # once the first relation has ended, the employer declares the next one
    accepted(p, dimona_out(EMPLOYER, worker, dt.date(2026, 1, 5), dt.date(2026, 2, 28)))
    rehired = accepted(p, dimona_in(EMPLOYER, worker, dt.date(2026, 3, 1)))
    notified = p.wait(lambda s: s.schema.endswith("Notification") and s.record["source_ticket"] == rehired)
    assert [n.record["recipient"] for n in notified] == [UNEMPLOYMENT_CSC]
    # the refused IN was never delivered to the holder
    assert p.notifications(str(p.ack(overlapping)["ticket"])) == []


# -- provisional files expire unless confirmed --------------------------------------------------------------


def test_a_provisional_file_is_held_for_the_provisional_period_unless_confirmed(p: Platform) -> None:
    unconfirmed, confirmed, start = niss(), niss(), dt.date(2026, 1, 1)
    last_day = start + dt.timedelta(days=DEFAULT_PROVISIONAL_DAYS - 1)  # the sample network's sectors keep the default
    registered(
        p,
        integration(UNEMPLOYMENT_CSC, "UNEMPLOYMENT", "BENEFICIARY", unconfirmed, start, status="PROVISIONAL"),
        integration(UNEMPLOYMENT_CSC, "UNEMPLOYMENT", "BENEFICIARY", confirmed, start, status="PROVISIONAL"),
        integration(UNEMPLOYMENT_CSC, "UNEMPLOYMENT", "BENEFICIARY", confirmed, start),  # the same file, DEFINITIVE
    )

    # per person, the later fact first: both are handled in order (same key, same partitions), so once the
    # second one's notification is out, the first one has been decided too
    expired = accepted(p, address_change(unconfirmed, last_day + dt.timedelta(days=1)))
    within = accepted(p, address_change(unconfirmed, last_day))
    kept = accepted(p, address_change(confirmed, last_day + dt.timedelta(days=1)))

    assert [
        n.record["recipient"]
        for n in p.wait(lambda s: s.schema.endswith("Notification") and s.record["source_ticket"] == within)
    ] == [UNEMPLOYMENT_CSC]
    assert [
        n.record["recipient"]
        for n in p.wait(lambda s: s.schema.endswith("Notification") and s.record["source_ticket"] == kept)
    ] == [UNEMPLOYMENT_CSC]
    assert p.notifications(expired) == []
    # nor may the institution consult the person once its provisional file has expired
    identity = "be.crossroads.consultation.Identity"
    held = reply_to(p, consultation(UNEMPLOYMENT_CSC, "BENEFICIARY", unconfirmed, identity, last_day))
    gone = reply_to(
        p, consultation(UNEMPLOYMENT_CSC, "BENEFICIARY", unconfirmed, identity, last_day + dt.timedelta(days=1))
    )
    assert held["status"] != "REFUSED" and gone["status"] == "REFUSED"
