"""The reference directory's rules, fan-out and consultations as pure functions (given / when / then)."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest

from streams.domain import exchange
from streams.domain.directory import Changed, PersonFile, apply_dimona, apply_integration
from streams.domain.fanout import notification_ticket, plan
from streams.domain.kinds import INTEGRATION, Lookup
from streams.domain.kinds import lookups as route
from streams.domain.network import DEFAULT_PROVISIONAL_DAYS, Authorization, DataType, Institution, Network, Sector
from tests.support import (
    Declaration,
    birth,
    consultation,
    dimona_cancel,
    dimona_in,
    dimona_out,
    dimona_update,
    dmfa,
    envelope,
    integration,
)

MUTUALITY_A = "0206731645"
MUTUALITY_B = "0915943977"
JOB_OFFICE = "0570880434"
EMPLOYER = "0403170701"
PERSON = "93051822361"
PARENT = "85073003328"
CHILD = "00010101588"
AT = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)

NETWORK = Network.of(
    "test",
    [
        Sector("MUTUALITY", "Mutualities", {"TITULAR": "titular", "DEPENDANT": "dependant"}),
        Sector("EMPLOYMENT_OFFICE", "Employment offices", {"JOB_SEEKER": "job seeker"}, provisional_days=30),
    ],
    [
        Institution(MUTUALITY_A, "Mutuality A", "MUTUALITY"),
        Institution(MUTUALITY_B, "Mutuality B", "MUTUALITY"),
        Institution(JOB_OFFICE, "Job office", "EMPLOYMENT_OFFICE"),
    ],
    [
        Authorization(
            "MUTUALITY",
            "TITULAR",
            frozenset({DataType.ADDRESS_CHANGE, DataType.DEATH, DataType.BIRTH, DataType.WAGES, DataType.IDENTITY}),
            "Délibération n° 96/047",
            dt.date(1997, 1, 1),
            None,
        ),
        Authorization(
            "EMPLOYMENT_OFFICE",
            "JOB_SEEKER",
            frozenset({DataType.DIMONA_IN}),
            "CSSS/KSZ 10/001",
            dt.date(2010, 1, 1),
            dt.date(2030, 12, 31),
        ),
    ],
)


def given(*integrations: Declaration) -> PersonFile:
    file = PersonFile()
    for i, (_, record) in enumerate(integrations):
        outcome = apply_integration(file, record, f"t-{i}", NETWORK)
        assert isinstance(outcome, Changed), outcome
        file = outcome.file
    return file


def codes(outcome: object) -> list[str]:
    """The codes of a refusal (every broken rule, in the order the rules are checked)."""
    assert isinstance(outcome, tuple), outcome
    return [r.code for r in outcome]


# -- integrations --------------------------------------------------------------------------------------------


def test_register_then_as_of_queries_answer_who_held_a_file() -> None:
    file = given(
        integration(MUTUALITY_A, "MUTUALITY", "TITULAR", PERSON, dt.date(2020, 1, 1), dt.date(2022, 12, 31)),
        integration(MUTUALITY_B, "MUTUALITY", "TITULAR", PERSON, dt.date(2023, 1, 1)),
    )
    assert [e.institution for e in file.holders(dt.date(2021, 6, 1))] == [MUTUALITY_A]
    assert [e.institution for e in file.holders(dt.date(2022, 12, 31))] == [MUTUALITY_A]  # inclusive end
    assert [e.institution for e in file.holders(dt.date(2024, 1, 1))] == [MUTUALITY_B]
    assert file.holders(dt.date(2019, 12, 31)) == []


def test_same_capacity_overlapping_period_at_two_institutions_of_a_sector_is_refused() -> None:
    file = given(integration(MUTUALITY_A, "MUTUALITY", "TITULAR", PERSON, dt.date(2020, 1, 1)))

    outcome = apply_integration(
        file, integration(MUTUALITY_B, "MUTUALITY", "TITULAR", PERSON, dt.date(2024, 1, 1)).record, "t-x", NETWORK
    )

    assert codes(outcome) == ["directory.overlap"]
    assert isinstance(outcome, tuple) and MUTUALITY_A in outcome[0].message


def test_other_capacity_or_adjacent_period_is_not_an_overlap() -> None:
    file = given(
        integration(MUTUALITY_A, "MUTUALITY", "TITULAR", PERSON, dt.date(2020, 1, 1), dt.date(2020, 12, 31)),
        integration(MUTUALITY_B, "MUTUALITY", "TITULAR", PERSON, dt.date(2021, 1, 1)),
        integration(MUTUALITY_A, "MUTUALITY", "DEPENDANT", PERSON, dt.date(2021, 1, 1)),
    )
    assert len(file.entries) == 3


def test_unregister_closes_the_file_and_keeps_its_history() -> None:
    file = given(integration(MUTUALITY_A, "MUTUALITY", "TITULAR", PERSON, dt.date(2020, 1, 1)))

    outcome = apply_integration(
        file,
        integration(
            MUTUALITY_A, "MUTUALITY", "TITULAR", PERSON, dt.date(2020, 1, 1), dt.date(2024, 6, 30), action="UNREGISTER"
        ).record,
        "t-u",
        NETWORK,
    )

    assert isinstance(outcome, Changed)
    assert [e.institution for e in outcome.file.holders(dt.date(2024, 6, 30))] == [MUTUALITY_A]
    assert outcome.file.holders(dt.date(2024, 7, 1)) == []
    # now another mutuality may take over
    later = apply_integration(
        outcome.file, integration(MUTUALITY_B, "MUTUALITY", "TITULAR", PERSON, dt.date(2024, 7, 1)).record, "t", NETWORK
    )
    assert isinstance(later, Changed)


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (
            integration("0403170701", "MUTUALITY", "TITULAR", PERSON, dt.date(2020, 1, 1)).record,
            ["directory.unknown_institution"],
        ),
        (
            integration(MUTUALITY_A, "CPAS", "TITULAR", PERSON, dt.date(2020, 1, 1)).record,
            ["directory.sector_mismatch", "directory.unknown_capacity"],  # CPAS has no TITULAR either
        ),
        (
            integration(MUTUALITY_A, "MUTUALITY", "PENSIONER", PERSON, dt.date(2020, 1, 1)).record,
            ["directory.unknown_capacity"],
        ),
        (
            integration(
                MUTUALITY_A,
                "MUTUALITY",
                "TITULAR",
                PERSON,
                dt.date(2020, 1, 1),
                dt.date(2021, 1, 1),
                action="UNREGISTER",
            ).record,
            ["directory.not_registered"],
        ),
        (
            integration(MUTUALITY_A, "MUTUALITY", "TITULAR", PERSON, dt.date(2020, 1, 1), action="UNREGISTER").record,
            ["directory.unregister_without_end", "directory.not_registered"],
        ),
    ],
)
def test_refusals_have_stable_codes(record: dict[str, Any], expected: list[str]) -> None:
    outcome = apply_integration(PersonFile(), record, "t", NETWORK)
    assert codes(outcome) == expected


def test_an_unregistration_without_end_of_a_held_file_breaks_that_rule_only() -> None:
    file = given(integration(MUTUALITY_A, "MUTUALITY", "TITULAR", PERSON, dt.date(2020, 1, 1)))
    record = integration(MUTUALITY_A, "MUTUALITY", "TITULAR", PERSON, dt.date(2020, 1, 1), action="UNREGISTER").record
    assert codes(apply_integration(file, record, "t", NETWORK)) == ["directory.unregister_without_end"]


def test_an_institution_cannot_register_a_file_for_another() -> None:
    record = integration(MUTUALITY_A, "MUTUALITY", "TITULAR", PERSON, dt.date(2020, 1, 1)).record
    record["envelope"] = envelope(MUTUALITY_B)
    outcome = apply_integration(PersonFile(), record, "t", NETWORK)
    assert codes(outcome) == ["directory.not_own_file"]


def test_an_integration_is_refused_with_every_rule_it_breaks_not_only_the_first() -> None:
    record = integration(MUTUALITY_A, "MUTUALITY", "PENSIONER", PERSON, dt.date(2020, 1, 1)).record
    record["envelope"] = envelope(MUTUALITY_B)  # and not its own file

    outcome = apply_integration(PersonFile(), record, "t", NETWORK)

    assert codes(outcome) == ["directory.unknown_capacity", "directory.not_own_file"]


def test_not_own_file_and_the_anti_fraud_overlap_are_reported_together() -> None:
    file = given(integration(MUTUALITY_A, "MUTUALITY", "TITULAR", PERSON, dt.date(2020, 1, 1)))
    record = integration(MUTUALITY_B, "MUTUALITY", "TITULAR", PERSON, dt.date(2024, 1, 1)).record
    record["envelope"] = envelope(JOB_OFFICE)

    outcome = apply_integration(file, record, "t", NETWORK)

    assert codes(outcome) == ["directory.not_own_file", "directory.overlap"]


def test_every_overlapping_file_is_named() -> None:
    file = given(
        integration(MUTUALITY_A, "MUTUALITY", "TITULAR", PERSON, dt.date(2020, 1, 1), dt.date(2021, 12, 31)),
        integration(MUTUALITY_B, "MUTUALITY", "TITULAR", PERSON, dt.date(2022, 1, 1)),
    )
    outcome = apply_integration(
        file,
        integration(JOB_OFFICE, "EMPLOYMENT_OFFICE", "JOB_SEEKER", PERSON, dt.date(2019, 1, 1)).record,
        "t",
        NETWORK,
    )
    assert isinstance(outcome, Changed)  # another sector: no overlap

    record = integration(MUTUALITY_A, "MUTUALITY", "TITULAR", PERSON, dt.date(2021, 6, 1)).record
    refused = apply_integration(file, record, "t", NETWORK)
    assert codes(refused) == ["directory.overlap_same_institution", "directory.overlap"]
    assert isinstance(refused, tuple) and MUTUALITY_B in refused[1].message


def test_an_unregistration_without_end_of_an_unknown_file_breaks_two_rules() -> None:
    record = integration(MUTUALITY_A, "MUTUALITY", "TITULAR", PERSON, dt.date(2020, 1, 1), action="UNREGISTER").record
    outcome = apply_integration(PersonFile(), record, "t", NETWORK)
    assert codes(outcome) == ["directory.unregister_without_end", "directory.not_registered"]


def test_the_rejection_and_the_acknowledgement_carry_every_violation() -> None:
    record = integration(MUTUALITY_A, "MUTUALITY", "PENSIONER", PERSON, dt.date(2020, 1, 1)).record
    record["envelope"] = envelope(MUTUALITY_B)

    decision = exchange.on_integration(PersonFile(), NETWORK, INTEGRATION, record, "t", b"bytes", AT)

    assert decision.file is None
    rejection = next(o.record for o in decision.outcomes if isinstance(o, exchange.ToRejections))
    ack = next(o for o in decision.outcomes if isinstance(o, exchange.ToMailbox))
    expected = ["directory.unknown_capacity", "directory.not_own_file"]
    assert [v["code"] for v in rejection["violations"]] == expected
    assert (ack.actor, ack.record["status"]) == (MUTUALITY_B, "REJECTED")
    assert [v["code"] for v in ack.record["violations"]] == expected
    assert rejection["stage"] == "directory" and rejection["declaration"] == b"bytes"


# -- provisional files: held for the sector's provisional period unless confirmed -------------------------------


def test_a_provisional_file_is_held_for_the_provisional_period_only() -> None:
    start = dt.date(2026, 1, 1)
    last_day = start + dt.timedelta(days=DEFAULT_PROVISIONAL_DAYS - 1)  # MUTUALITY keeps the default

    file = given(integration(MUTUALITY_A, "MUTUALITY", "TITULAR", PERSON, start, status="PROVISIONAL"))

    assert [e.institution for e in file.holders(start)] == [MUTUALITY_A]
    assert [e.institution for e in file.holders(last_day)] == [MUTUALITY_A]
    assert file.holders(last_day + dt.timedelta(days=1)) == []
    assert file.entries[0].provisional_until == last_day


def test_a_sector_sets_its_own_provisional_period() -> None:
    file = given(
        integration(JOB_OFFICE, "EMPLOYMENT_OFFICE", "JOB_SEEKER", PERSON, dt.date(2026, 1, 1), status="PROVISIONAL")
    )
    assert file.holders(dt.date(2026, 1, 30)) != []
    assert file.holders(dt.date(2026, 1, 31)) == []


def test_a_provisional_file_ends_at_its_own_end_if_that_comes_first() -> None:
    file = given(
        integration(
            MUTUALITY_A, "MUTUALITY", "TITULAR", PERSON, dt.date(2026, 1, 1), dt.date(2026, 1, 10), status="PROVISIONAL"
        )
    )
    assert file.holders(dt.date(2026, 1, 10)) != [] and file.holders(dt.date(2026, 1, 11)) == []


def test_a_definitive_registration_of_the_same_file_confirms_it_for_its_whole_period() -> None:
    start = dt.date(2026, 1, 1)
    file = given(
        integration(MUTUALITY_A, "MUTUALITY", "TITULAR", PERSON, start, status="PROVISIONAL"),
        integration(MUTUALITY_A, "MUTUALITY", "TITULAR", PERSON, start),
    )

    assert [e.institution for e in file.holders(dt.date(2030, 1, 1))] == [MUTUALITY_A]
    assert [(e.status, e.provisional_until) for e in file.entries] == [("DEFINITIVE", None)]


def test_confirming_late_brings_the_file_back_for_the_whole_period() -> None:
    """The directory answers as of a date: once confirmed, the file was held all along."""
    start = dt.date(2026, 1, 1)
    file = given(integration(MUTUALITY_A, "MUTUALITY", "TITULAR", PERSON, start, status="PROVISIONAL"))
    assert file.holders(dt.date(2026, 6, 1)) == []
    confirmed = apply_integration(
        file, integration(MUTUALITY_A, "MUTUALITY", "TITULAR", PERSON, start).record, "t-late", NETWORK
    )
    assert isinstance(confirmed, Changed) and confirmed.file.holders(dt.date(2026, 6, 1)) != []


def test_registering_it_provisionally_again_does_not_extend_the_period() -> None:
    start = dt.date(2026, 1, 1)
    file = given(
        integration(MUTUALITY_A, "MUTUALITY", "TITULAR", PERSON, start, status="PROVISIONAL"),
        integration(MUTUALITY_A, "MUTUALITY", "TITULAR", PERSON, start, status="PROVISIONAL"),
    )
    assert file.holders(start + dt.timedelta(days=DEFAULT_PROVISIONAL_DAYS)) == []


def test_an_expired_provisional_file_does_not_block_another_institution_of_the_sector() -> None:
    start = dt.date(2026, 1, 1)
    file = given(integration(MUTUALITY_A, "MUTUALITY", "TITULAR", PERSON, start, status="PROVISIONAL"))
    after = start + dt.timedelta(days=DEFAULT_PROVISIONAL_DAYS)

    assert codes(
        apply_integration(
            file,
            integration(MUTUALITY_B, "MUTUALITY", "TITULAR", PERSON, after - dt.timedelta(days=1)).record,
            "t",
            NETWORK,
        )
    ) == ["directory.overlap"]  # while it is held, the anti-fraud rule applies
    taken_over = apply_integration(
        file, integration(MUTUALITY_B, "MUTUALITY", "TITULAR", PERSON, after).record, "t", NETWORK
    )
    assert isinstance(taken_over, Changed)
    # and A can no longer confirm a file that would now overlap B's
    late = apply_integration(
        taken_over.file, integration(MUTUALITY_A, "MUTUALITY", "TITULAR", PERSON, start).record, "t-late", NETWORK
    )
    assert codes(late) == ["directory.overlap"]


def test_an_expired_provisional_file_receives_nothing_and_may_not_consult() -> None:
    start = dt.date(2026, 1, 1)
    file = given(integration(MUTUALITY_A, "MUTUALITY", "TITULAR", PERSON, start, status="PROVISIONAL"))
    last_day = start + dt.timedelta(days=DEFAULT_PROVISIONAL_DAYS - 1)

    def recipients(effective: dt.date) -> list[str]:
        lookup = Lookup(PERSON, PERSON, DataType.DEATH, b"d", "src", effective, True, False, DataType.DEATH, 0)
        decision = exchange.on_lookup(file, NETWORK, lookup, AT)
        return [o.actor for o in decision.outcomes if isinstance(o, exchange.ToMailbox)]

    def status(as_of: dt.date) -> str:
        decision = exchange.on_consultation(
            file,
            NETWORK,
            consultation(MUTUALITY_A, "TITULAR", PERSON, DataType.IDENTITY, as_of).record,
            "req",
            AT,
            lambda e: b"",
        )
        return str(next(o.record for o in decision.outcomes if isinstance(o, exchange.ToMailbox))["status"])

    assert recipients(last_day) == [MUTUALITY_A]
    assert recipients(last_day + dt.timedelta(days=1)) == []
    assert status(last_day) != "REFUSED"
    assert status(last_day + dt.timedelta(days=1)) == "REFUSED"


# -- DIMONA: the employment relation ------------------------------------------------------------------------


def test_dimona_in_then_out_maintains_the_employer_relation() -> None:
    schema, record = dimona_in(EMPLOYER, PERSON, dt.date(2026, 1, 5))
    started = apply_dimona(PersonFile(), schema, record, "t-in", b"in")
    assert isinstance(started, Changed)
    assert started.file.relation(EMPLOYER, dt.date(2026, 3, 1)) is not None

    schema, out = dimona_out(EMPLOYER, PERSON, dt.date(2026, 1, 5), dt.date(2026, 2, 28))
    ended = apply_dimona(started.file, schema, out, "t-out", b"out")
    assert isinstance(ended, Changed)
    assert ended.file.relation(EMPLOYER, dt.date(2026, 2, 28)) is not None
    assert ended.file.relation(EMPLOYER, dt.date(2026, 3, 1)) is None


def test_a_dimona_in_delivered_again_is_recognised_by_its_ticket_not_refused_as_a_duplicate() -> None:
    schema, record = dimona_in(EMPLOYER, PERSON, dt.date(2026, 1, 5))
    started = apply_dimona(PersonFile(), schema, record, "t-in", b"in")
    assert isinstance(started, Changed)
    # at-least-once: the same declaration (same ticket) replayed on the file it already changed
    again = apply_dimona(started.file, schema, record, "t-in", b"in")
    assert isinstance(again, Changed) and again.file == started.file
    # another declaration of the same relation is still refused
    other = apply_dimona(started.file, schema, record, "t-other", b"in")
    assert codes(other) == ["dimona.duplicate_in"]


def test_dimona_out_without_in_is_the_directorys_refusal() -> None:
    schema, out = dimona_out(EMPLOYER, PERSON, dt.date(2026, 1, 5), dt.date(2026, 2, 28))
    outcome = apply_dimona(PersonFile(), schema, out, "t", b"")
    assert codes(outcome) == ["dimona.out_without_in"]


def moved_to_2_february() -> PersonFile:
    """A relation declared from 5 January whose start an UPDATE then moved to 2 February."""
    schema, record = dimona_in(EMPLOYER, PERSON, dt.date(2026, 1, 5))
    started = apply_dimona(PersonFile(), schema, record, "t-in", b"in")
    assert isinstance(started, Changed)
    schema, update = dimona_update(EMPLOYER, PERSON, dt.date(2026, 1, 5), new_start=dt.date(2026, 2, 2), new_end=None)
    moved = apply_dimona(started.file, schema, update, "t-update", b"update")
    assert isinstance(moved, Changed), moved
    return moved.file


def test_an_update_moves_the_start_but_the_relation_keeps_the_start_it_was_declared_with() -> None:
    file = moved_to_2_february()

    assert file.relation(EMPLOYER, dt.date(2026, 1, 20)) is None  # no longer employed before the new start
    relation = file.relation(EMPLOYER, dt.date(2026, 2, 2))
    assert relation is not None and (relation.start, relation.declared_start) == (
        dt.date(2026, 2, 2),
        dt.date(2026, 1, 5),
    )
    # the OUT quotes the start the relation was declared with, as every later declaration does
    schema, out = dimona_out(EMPLOYER, PERSON, dt.date(2026, 1, 5), dt.date(2026, 4, 30))
    ended = apply_dimona(file, schema, out, "t-out", b"out")
    assert isinstance(ended, Changed), ended
    assert ended.file.relation(EMPLOYER, dt.date(2026, 4, 30)) is not None
    assert ended.file.relation(EMPLOYER, dt.date(2026, 5, 1)) is None


def test_later_updates_and_the_cancel_quote_the_declared_start_too() -> None:
    file = moved_to_2_february()
    schema, update = dimona_update(
        EMPLOYER, PERSON, dt.date(2026, 1, 5), new_start=dt.date(2026, 2, 9), new_end=dt.date(2026, 6, 30)
    )
    again = apply_dimona(file, schema, update, "t-update-2", b"update")
    assert isinstance(again, Changed), again
    relation = again.file.relations[0]
    assert (relation.declared_start, relation.start, relation.end) == (
        dt.date(2026, 1, 5),
        dt.date(2026, 2, 9),
        dt.date(2026, 6, 30),
    )
    schema, cancel = dimona_cancel(EMPLOYER, PERSON, dt.date(2026, 1, 5), reason=None)
    cancelled = apply_dimona(again.file, schema, cancel, "t-cancel", b"cancel")
    assert isinstance(cancelled, Changed) and cancelled.file.relations == ()


def test_quoting_the_moved_start_is_refused_and_names_the_start_to_quote() -> None:
    schema, out = dimona_out(EMPLOYER, PERSON, dt.date(2026, 2, 2), dt.date(2026, 4, 30))

    outcome = apply_dimona(moved_to_2_february(), schema, out, "t-out", b"out")

    assert codes(outcome) == ["dimona.out_without_in"]
    assert isinstance(outcome, tuple) and "2026-01-05" in outcome[0].message


def test_an_update_that_moved_the_start_delivered_again_changes_nothing() -> None:
    file = moved_to_2_february()
    schema, update = dimona_update(EMPLOYER, PERSON, dt.date(2026, 1, 5), new_start=dt.date(2026, 2, 2), new_end=None)
    # at-least-once: the same UPDATE replayed on the file it already changed
    again = apply_dimona(file, schema, update, "t-update", b"update")
    assert isinstance(again, Changed) and again.file == file


def test_a_new_in_at_the_declared_start_of_a_moved_relation_is_a_duplicate() -> None:
    """The declared start names the relation for good: another relation from that day would be ambiguous."""
    schema, record = dimona_in(EMPLOYER, PERSON, dt.date(2026, 1, 5))
    record["planned_end_date"] = dt.date(2026, 1, 20)  # before the moved relation's new start: no overlap
    outcome = apply_dimona(moved_to_2_february(), schema, record, "t-in-2", b"in")
    assert codes(outcome) == ["dimona.duplicate_in"]


_tickets = itertools.count()


def hired(file: PersonFile, start: dt.date, planned_end: dt.date | None = None, *, employer: str = EMPLOYER) -> object:
    schema, record = dimona_in(employer, PERSON, start, planned_end)
    return apply_dimona(file, schema, record, f"t-in-{next(_tickets)}", b"in")  # each IN a declaration of its own


def employed(*periods: tuple[dt.date, dt.date | None]) -> PersonFile:
    file = PersonFile()
    for start, end in periods:
        outcome = hired(file, start, end)
        assert isinstance(outcome, Changed), outcome
        file = outcome.file
    return file


def test_a_dimona_in_overlapping_an_open_relation_of_the_same_employer_is_refused() -> None:
    outcome = hired(employed((dt.date(2026, 1, 5), None)), dt.date(2026, 3, 1))

    assert codes(outcome) == ["dimona.relation_overlap"]
    assert isinstance(outcome, tuple) and outcome[0].field == "start_date" and "2026-01-05" in outcome[0].message


def test_a_dimona_in_overlapping_a_closed_relation_of_the_same_employer_is_refused() -> None:
    file = employed((dt.date(2026, 1, 5), dt.date(2026, 2, 28)))
    assert codes(hired(file, dt.date(2025, 12, 1))) == ["dimona.relation_overlap"]  # open: runs into it
    assert codes(hired(file, dt.date(2026, 2, 28), dt.date(2026, 3, 31))) == ["dimona.relation_overlap"]  # last day


def test_relations_that_do_not_overlap_or_are_with_another_employer_are_accepted() -> None:
    file = employed((dt.date(2026, 1, 5), dt.date(2026, 2, 28)))
    assert isinstance(hired(file, dt.date(2026, 3, 1)), Changed)  # the day after
    assert isinstance(hired(file, dt.date(2025, 11, 1), dt.date(2026, 1, 4)), Changed)  # ends the day before
    assert isinstance(hired(file, dt.date(2026, 2, 1), employer="0477472701"), Changed)  # two employers at once


def test_the_overlap_is_judged_on_the_relations_current_period() -> None:
    file = moved_to_2_february()  # declared from 5 January, now from 2 February
    assert isinstance(hired(file, dt.date(2026, 1, 10), dt.date(2026, 2, 1)), Changed)
    assert codes(hired(file, dt.date(2026, 1, 10))) == ["dimona.relation_overlap"]


def test_a_dimona_in_is_told_both_a_duplicate_start_and_an_overlap_with_another_relation() -> None:
    file = employed((dt.date(2026, 1, 5), dt.date(2026, 1, 31)), (dt.date(2026, 3, 1), None))

    outcome = hired(file, dt.date(2026, 1, 5))  # the first one's start, open-ended: runs into the second

    assert codes(outcome) == ["dimona.duplicate_in", "dimona.relation_overlap"]
    assert isinstance(outcome, tuple) and "2026-03-01" in outcome[1].message


# -- fan-out ------------------------------------------------------------------------------------------------


def test_address_change_goes_to_exactly_the_authorized_active_holders() -> None:
    file = given(
        integration(MUTUALITY_A, "MUTUALITY", "TITULAR", PERSON, dt.date(2020, 1, 1)),
        # active but not authorized for addresses
        integration(JOB_OFFICE, "EMPLOYMENT_OFFICE", "JOB_SEEKER", PERSON, dt.date(2020, 1, 1)),
        # authorized? no; ended
        integration(MUTUALITY_B, "MUTUALITY", "DEPENDANT", PERSON, dt.date(2010, 1, 1), dt.date(2015, 1, 1)),
    )

    result = plan(file, NETWORK, DataType.ADDRESS_CHANGE, dt.date(2026, 3, 1), "src")

    assert [d.recipient for d in result.deliveries] == [MUTUALITY_A]
    assert result.deliveries[0].legal_basis == "Délibération n° 96/047"
    assert result.deliveries[0].ticket == notification_ticket("src", MUTUALITY_A)
    assert [w.institution for w in result.withheld] == [JOB_OFFICE]


def test_notification_tickets_are_deterministic_and_distinct_per_recipient() -> None:
    assert notification_ticket("s", MUTUALITY_A) == notification_ticket("s", MUTUALITY_A)
    assert notification_ticket("s", MUTUALITY_A) != notification_ticket("s", MUTUALITY_B)
    assert notification_ticket("s", MUTUALITY_A) != notification_ticket("s2", MUTUALITY_A)


def test_a_birth_is_looked_up_at_each_parent_and_kept_for_the_child() -> None:
    schema, record = birth(CHILD, [PARENT, PERSON, PARENT], dt.date(2000, 1, 1), sender="0000000097")
    lookups = route(schema, record, "t-birth", b"payload", lambda s, r: b"")
    assert [(lk.person, lk.subject, lk.notify, lk.keep) for lk in lookups] == [
        (CHILD, CHILD, False, True),
        (PARENT, CHILD, True, False),
        (PERSON, CHILD, True, False),
    ]


def test_a_dmfa_is_split_so_that_each_worker_line_travels_alone() -> None:
    lines = [
        {"worker": PERSON, "worker_category": "WHITE_COLLAR", "joint_committee": "200", "n": 1},
        {"worker": PARENT, "worker_category": "WHITE_COLLAR", "joint_committee": "200", "n": 2},
    ]
    _, declaration = dmfa(EMPLOYER, lines, "2026-Q1", 2)
    encoded: list[dict[str, Any]] = []

    def encode(schema: str, record: dict[str, Any]) -> bytes:
        encoded.append(record)
        return str(len(encoded)).encode()

    lookups = route("be.crossroads.dmfa.DmfaDeclaration", declaration, "t", b"whole", encode)

    assert [lk.person for lk in lookups] == [PERSON, PARENT]
    assert [r["worker_lines"] for r in encoded] == [[lines[0]], [lines[1]]]
    assert all(lk.effective == dt.date(2026, 3, 31) and lk.version == 2 for lk in lookups)


def test_exchange_audits_every_delivery_and_every_refusal() -> None:
    file = given(
        integration(MUTUALITY_A, "MUTUALITY", "TITULAR", PERSON, dt.date(2020, 1, 1)),
        integration(JOB_OFFICE, "EMPLOYMENT_OFFICE", "JOB_SEEKER", PERSON, dt.date(2020, 1, 1)),
    )
    lookup = Lookup(PERSON, PERSON, DataType.DEATH, b"fact", "src", dt.date(2026, 1, 1), True, True, DataType.DEATH, 0)

    decision = exchange.on_lookup(file, NETWORK, lookup, AT)

    mail = [o for o in decision.outcomes if isinstance(o, exchange.ToMailbox)]
    audits = [o.record for o in decision.outcomes if isinstance(o, exchange.ToAudit)]
    assert [(m.actor, m.record["payload"]) for m in mail] == [(MUTUALITY_A, b"fact")]
    assert sorted((a["actor"], a["kind"]) for a in audits) == [(MUTUALITY_A, "DELIVERY"), (JOB_OFFICE, "REFUSAL")]
    assert decision.file is not None and decision.file.facts[0].payload == b"fact"


# -- consultations ------------------------------------------------------------------------------------------


def test_consultation_needs_an_active_file_and_an_authorization() -> None:
    file = given(
        integration(MUTUALITY_A, "MUTUALITY", "TITULAR", PERSON, dt.date(2020, 1, 1)),
        integration(JOB_OFFICE, "EMPLOYMENT_OFFICE", "JOB_SEEKER", PERSON, dt.date(2020, 1, 1)),
    )
    lookup = Lookup(
        PERSON, PERSON, DataType.DEATH, b"death", "src", dt.date(2025, 1, 1), False, True, DataType.DEATH, 0
    )
    file = exchange.on_lookup(file, NETWORK, lookup, AT).file or file

    def answer(requester: str, capacity: str, data_type: str) -> dict[str, Any]:
        decision = exchange.on_consultation(
            file,
            NETWORK,
            consultation(requester, capacity, PERSON, data_type, dt.date(2026, 1, 1)).record,
            "req",
            AT,
            lambda e: b"",
        )
        return next(o.record for o in decision.outcomes if isinstance(o, exchange.ToMailbox))

    granted = answer(MUTUALITY_A, "TITULAR", DataType.IDENTITY)
    assert (granted["status"], granted["payloads"], granted["legal_basis"]) == (
        "GRANTED",
        [b"death"],
        "Délibération n° 96/047",
    )
    assert answer(MUTUALITY_A, "DEPENDANT", DataType.IDENTITY)["status"] == "REFUSED"  # no file in that capacity
    assert answer(MUTUALITY_B, "TITULAR", DataType.IDENTITY)["status"] == "REFUSED"  # no file at all
    assert answer(JOB_OFFICE, "JOB_SEEKER", DataType.IDENTITY)["status"] == "REFUSED"  # not authorized


def test_an_employer_consults_its_own_personnel_only_while_employed() -> None:
    schema, record = dimona_in(EMPLOYER, PERSON, dt.date(2026, 1, 5))
    started = apply_dimona(PersonFile(), schema, record, "t-in", b"dimona-in")
    assert isinstance(started, Changed)
    file = started.file

    def status(employer: str, as_of: dt.date) -> str:
        decision = exchange.on_consultation(
            file,
            NETWORK,
            consultation(employer, "EMPLOYER", PERSON, DataType.EMPLOYMENT, as_of).record,
            "req",
            AT,
            lambda e: b"",
        )
        return str(next(o.record for o in decision.outcomes if isinstance(o, exchange.ToMailbox))["status"])

    assert status(EMPLOYER, dt.date(2026, 2, 1)) == "GRANTED"
    assert status(EMPLOYER, dt.date(2025, 12, 31)) == "REFUSED"  # before the relation
    assert status("0477472701", dt.date(2026, 2, 1)) == "REFUSED"  # somebody else's worker


def test_intake_tickets_are_derived_from_the_message_position() -> None:
    from streams.domain.admission import intake_ticket

    assert intake_ticket("t", 1, 7) == intake_ticket("t", 1, 7)  # a redelivery gets the same ticket
    assert (
        len({intake_ticket("t", 1, 7), intake_ticket("t", 1, 8), intake_ticket("t", 2, 7), intake_ticket("u", 1, 7)})
        == 4
    )
