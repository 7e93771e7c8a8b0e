"""The DmfA's pure rules (`streams.domain.dmfa`): the DmfA step's versions, and the wages in a worker's file."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import Any

import pytest

from streams.codecs import AvroCodec, SchemaRegistry, default_schema_dir
from streams.codecs.dmfa_state import decode_dmfa_state, encode_dmfa_state
from streams.domain import dmfa, exchange
from streams.domain.directory import Entry, PersonFile, Relation, StoredFact
from streams.domain.fanout import notification_ticket
from streams.domain.kinds import Lookup
from streams.domain.network import Authorization, DataType, Institution, Network, Sector
from streams.domain.outcomes import LOOKUP, Forward, ToMailbox, ToRejections
from tests import support

CODEC = AvroCodec(SchemaRegistry.from_directory(default_schema_dir()))
EMPLOYER = "0403170701"
SECRETARIAT = "0411868794"
ALICE, BOB = "93051822361", "85073003328"
MUTUALITY = "0206731645"
AT = dt.datetime(2026, 5, 2, 9, tzinfo=dt.UTC)
Q1_END = dt.date(2026, 3, 31)

NETWORK = Network.of(
    "test",
    [Sector("MUTUALITY", "Mutualities", {"TITULAR": "titular"})],
    [Institution(MUTUALITY, "Mutuality", "MUTUALITY")],
    [
        Authorization(
            "MUTUALITY", "TITULAR", frozenset({DataType.DMFA_DECLARATION}), "CSSS/KSZ 04/032", dt.date(2005, 1, 1), None
        )
    ],
)


def line(worker: str, wage: int = 100_000, category: str = "WHITE_COLLAR", committee: str = "200") -> dict[str, Any]:
    return {
        "worker": worker,
        "worker_category": category,
        "joint_committee": committee,
        "days_worked": 60,
        "gross_wage_cents": wage,
        "assimilated_days": [],
    }


_tickets = iter(range(1, 10_000))


def declaration(version: int, *lines: dict[str, Any], ticket: str | None = None, **fields: Any) -> dict[str, Any]:
    ticket = ticket or str(uuid.UUID(int=next(_tickets)))
    record = support.dmfa(EMPLOYER, lines, "2026-Q1", version, sender=SECRETARIAT, ticket=ticket).record
    return {**record, **fields}


def decided(state: dmfa.EmployerDmfa, record: dict[str, Any]) -> dmfa.Decision:
    return dmfa.decide(state, record, CODEC.encode(dmfa.SCHEMA, record), AT, CODEC.encode)


def after(*records: dict[str, Any]) -> dmfa.EmployerDmfa:
    """The employer's state once these declarations were decided, in order."""
    state = dmfa.EmployerDmfa(EMPLOYER)
    for record in records:
        state = decided(state, record).state or state
    return state


def acks(decision: dmfa.Decision) -> list[dict[str, Any]]:
    return [o.record for o in decision.outcomes if isinstance(o, ToMailbox)]


def lookups(decision: dmfa.Decision) -> list[Lookup]:
    return [
        Lookup(**CODEC.decode(o.value).record)
        for o in decision.outcomes
        if isinstance(o, Forward) and (o.area, o.name) == ("directory", "lookups")
    ]


def facts(decision: dmfa.Decision) -> list[bytes]:
    return [o.value for o in decision.outcomes if isinstance(o, Forward) and (o.area, o.name) == ("facts", "dmfa")]


def codes(decision: dmfa.Decision) -> list[str]:
    (ack,) = acks(decision)
    assert ack["status"] == "REJECTED"
    return [v["code"] for v in ack["violations"]]


# -- the DmfA step: versions ----------------------------------------------------------------------------------


def test_an_original_becomes_a_fact_acknowledged_and_each_line_goes_to_its_worker() -> None:
    original = declaration(1, line(ALICE), line(BOB))

    decision = decided(dmfa.EmployerDmfa(EMPLOYER), original)

    assert facts(decision) == [CODEC.encode(dmfa.SCHEMA, original)]
    (ack,) = acks(decision)
    assert (ack["status"], ack["ticket"], ack["recipient"]) == ("ACCEPTED", original["envelope"]["ticket"], SECRETARIAT)
    assert [lk.person for lk in lookups(decision)] == [ALICE, BOB]
    assert decision.state is not None
    quarter = decision.state.quarter("2026-Q1")
    assert [(v.version, v.ticket) for v in quarter.versions] == [(1, original["envelope"]["ticket"])]
    assert quarter.workers == (ALICE, BOB)


def test_two_lines_of_one_worker_travel_under_tickets_of_their_own_derived_from_the_declaration() -> None:
    record = declaration(1, line(ALICE, 900_000), line(ALICE, 300_000, "BLUE_COLLAR", "124"))

    first, again = (
        lookups(decided(dmfa.EmployerDmfa(EMPLOYER), record)),
        lookups(decided(dmfa.EmployerDmfa(EMPLOYER), record)),
    )

    assert [lk.person for lk in first] == [ALICE, ALICE]
    assert len({lk.source_ticket for lk in first}) == 2 and len({lk.slot for lk in first}) == 2
    assert [lk.source_ticket for lk in first] == [lk.source_ticket for lk in again]  # a replay: the same tickets
    assert record["envelope"]["ticket"] not in {lk.source_ticket for lk in first}
    payloads = [CODEC.decode(lk.payload).record for lk in first]
    assert [p["worker_lines"] for p in payloads] == [[record["worker_lines"][0]], [record["worker_lines"][1]]]
    assert all(p["envelope"]["ticket"] == record["envelope"]["ticket"] for p in payloads)  # which declaration


def test_a_correction_without_an_accepted_original_is_refused_with_that_rule_only() -> None:
    correction = declaration(2, line(ALICE))

    decision = decided(dmfa.EmployerDmfa(EMPLOYER), correction)

    assert codes(decision) == ["dmfa.correction_without_original"]
    (rejection,) = [o.record for o in decision.outcomes if isinstance(o, ToRejections)]
    assert rejection["stage"] == "dmfa" and rejection["declaration"] == CODEC.encode(dmfa.SCHEMA, correction)
    assert facts(decision) == [] and lookups(decision) == []


@pytest.mark.parametrize(
    ("versions", "why"),
    [((1, 3), "version 1 is the latest accepted"), ((1, 2, 1), "version 1 is superseded: version 2 is accepted")],
)
def test_a_version_that_is_not_the_next_is_refused(versions: tuple[int, ...], why: str) -> None:
    *earlier, last = versions
    state = after(*(declaration(v, line(ALICE, 100 * v)) for v in earlier))

    decision = decided(state, declaration(last, line(BOB), nature="CORRECTION" if last > 1 else "ORIGINAL"))

    assert codes(decision) == ["dmfa.version_not_next"]
    assert why in acks(decision)[0]["violations"][0]["message"]
    assert facts(decision) == []


def test_the_latest_version_again_with_another_content_is_refused() -> None:
    state = after(declaration(1, line(ALICE, 100_000)))

    decision = decided(state, declaration(1, line(ALICE, 200_000)))

    assert codes(decision) == ["dmfa.version_not_next"]
    assert "already accepted with another content" in acks(decision)[0]["violations"][0]["message"]


def test_the_latest_version_again_identical_is_a_duplicate_acknowledged_with_its_ticket_and_nothing_else() -> None:
    original = declaration(1, line(ALICE))
    state = after(original)
    resent = declaration(1, line(ALICE))  # another ticket, reference and envelope: the same declaration

    decision = decided(state, resent)

    (ack,) = acks(decision)
    assert (ack["status"], ack["ticket"]) == ("ACCEPTED", original["envelope"]["ticket"])
    assert ack["sender_reference"] == resent["envelope"]["sender_reference"]
    assert len(decision.outcomes) == 1
    assert (
        decision.state is not None and decision.state.quarter("2026-Q1").versions == state.quarter("2026-Q1").versions
    )


def test_a_replay_of_any_decided_declaration_yields_nothing_even_on_a_later_state() -> None:
    original, correction = declaration(1, line(ALICE)), declaration(2, line(ALICE, 5))
    refused_early = declaration(2, line(BOB))  # before the original: no original yet
    state = after(refused_early, original, correction)

    for record in (refused_early, original, correction):
        decision = decided(state, record)
        assert decision == dmfa.Decision(None, ()), record["envelope"]["ticket"]


def test_a_correction_that_drops_a_worker_withdraws_that_workers_lines() -> None:
    state = after(declaration(1, line(ALICE), line(BOB), line(BOB, 5, "BLUE_COLLAR", "124")))
    correction = declaration(2, line(ALICE, 200_000))

    decision = decided(state, correction)

    withdrawal, alice = lookups(decision)
    assert (withdrawal.person, withdrawal.slot, withdrawal.version) == (BOB, f"{EMPLOYER}/2026-Q1/withdrawn", 2)
    assert withdrawal.notify and withdrawal.keep and withdrawal.warning is None
    told = CODEC.decode(withdrawal.payload).record
    assert (told["nature"], told["version"], told["worker_lines"]) == ("CORRECTION", 2, [])
    assert withdrawal.source_ticket not in (alice.source_ticket, correction["envelope"]["ticket"])
    assert alice.person == ALICE
    assert decision.state is not None and decision.state.quarter("2026-Q1").workers == (ALICE,)


def test_each_line_carries_the_warning_the_directory_sends_if_its_worker_had_no_dimona() -> None:
    decision = decided(dmfa.EmployerDmfa(EMPLOYER), declaration(1, line(ALICE), line(BOB)))

    warnings = [lk.warning for lk in lookups(decision)]

    assert all(w is not None and w["status"] == "ACCEPTED" and w["recipient"] == SECRETARIAT for w in warnings)
    assert [(w["warnings"][0]["code"], w["warnings"][0]["field"]) for w in warnings if w] == [
        ("dmfa.worker_without_dimona", "worker_lines[0].worker"),
        ("dmfa.worker_without_dimona", "worker_lines[1].worker"),
    ]


def test_the_state_round_trips_through_its_table_value() -> None:
    state = after(declaration(2, line(BOB)), declaration(1, line(ALICE)), declaration(2, line(ALICE, 7)))
    state = state.with_quarter(dmfa.Quarter("2025-Q4", (dmfa.Version(1, "t"),), (BOB,), "d", ()))

    assert decode_dmfa_state(CODEC, EMPLOYER, encode_dmfa_state(CODEC, state)) == state
    assert decode_dmfa_state(CODEC, EMPLOYER, None) == dmfa.EmployerDmfa(EMPLOYER)


def test_the_codes_are_the_documented_state_rules() -> None:
    from streams.domain.validation.rules import RULES

    for code in (dmfa.CORRECTION_WITHOUT_ORIGINAL, dmfa.VERSION_NOT_NEXT, dmfa.WORKER_WITHOUT_DIMONA):
        assert RULES[code].scope == "state", code


# -- the directory's side: wages in the worker's file ---------------------------------------------------------


def wage_lookup(version: int, slot_tail: str | None, ticket: str, *, warning: dict[str, Any] | None = None) -> Lookup:
    slot = f"{EMPLOYER}/2026-Q1/{slot_tail or 'withdrawn'}"
    return Lookup(ALICE, ALICE, dmfa.SCHEMA, ticket.encode(), ticket, Q1_END, True, True, slot, version, warning)


def slots(file: PersonFile) -> list[tuple[str, int]]:
    return sorted((f.slot.split("/", 2)[2] if f.slot.count("/") > 1 else "", f.version) for f in file.facts)


def test_lines_of_one_version_are_all_kept_and_a_correction_supersedes_every_earlier_line() -> None:
    file = PersonFile()
    for lookup in (wage_lookup(1, "WHITE_COLLAR/200", "a"), wage_lookup(1, "BLUE_COLLAR/124", "b")):
        file = dmfa.keep_wages(file, lookup) or file
    assert slots(file) == [("BLUE_COLLAR/124", 1), ("WHITE_COLLAR/200", 1)]

    corrected = dmfa.keep_wages(file, wage_lookup(2, "WHITE_COLLAR/200", "c"))

    assert corrected is not None and slots(corrected) == [("WHITE_COLLAR/200", 2)]  # the dropped line too


def test_a_withdrawal_empties_the_employers_quarter_and_keeps_other_wages() -> None:
    other = StoredFact(dmfa.SCHEMA, f"{EMPLOYER}/2025-Q4/WHITE_COLLAR/200", 1, dt.date(2025, 12, 31), "x", b"x")
    kept = dmfa.keep_wages(PersonFile(), wage_lookup(1, "WHITE_COLLAR/200", "a"))
    assert kept is not None
    file = dataclasses.replace(kept, facts=(*kept.facts, other))

    withdrawn = dmfa.keep_wages(file, wage_lookup(2, None, "w"))

    assert withdrawn is not None and withdrawn.facts == (other,)
    assert dmfa.keep_wages(withdrawn, wage_lookup(2, None, "w")) is withdrawn  # again: nothing changes


def test_a_lookup_of_before_the_dmfa_step_is_a_line_and_is_superseded_like_one() -> None:
    legacy = dataclasses.replace(wage_lookup(1, None, "old"), slot=f"{EMPLOYER}/2026-Q1")  # Lookup v1, in flight

    kept = dmfa.keep_wages(PersonFile(), legacy)

    assert kept is not None and [f.ticket for f in kept.facts] == ["old"]
    corrected = dmfa.keep_wages(kept, wage_lookup(2, "WHITE_COLLAR/200", "c"))
    assert corrected is not None and [f.ticket for f in corrected.facts] == ["c"]


def test_a_line_of_a_superseded_version_arriving_late_is_neither_kept_nor_delivered() -> None:
    file = dmfa.keep_wages(PersonFile(), wage_lookup(2, "WHITE_COLLAR/200", "c"))
    assert file is not None

    assert dmfa.keep_wages(file, wage_lookup(1, "WHITE_COLLAR/200", "a")) is None
    assert exchange.on_lookup(file, NETWORK, wage_lookup(1, "WHITE_COLLAR/200", "a"), AT) == exchange.Decision(None, ())


def relation(start: dt.date, end: dt.date | None, employer: str = EMPLOYER) -> Relation:
    return Relation(employer, start, end, "OTH", "200", "t-in", b"in", declared_start=start)


@pytest.mark.parametrize(
    ("relations", "employed"),
    [
        ((), False),
        ((relation(dt.date(2026, 3, 31), None),), True),  # from the quarter's last day
        ((relation(dt.date(2020, 1, 1), dt.date(2026, 1, 1)),), True),  # to its first
        ((relation(dt.date(2020, 1, 1), dt.date(2025, 12, 31)),), False),  # ended before it
        ((relation(dt.date(2026, 4, 1), None),), False),  # starts after it
        ((relation(dt.date(2020, 1, 1), None, employer="0477472701"),), False),  # another employer's
    ],
)
def test_employed_during_the_quarter(relations: tuple[Relation, ...], employed: bool) -> None:
    assert dmfa.employed_during(PersonFile(relations=relations), EMPLOYER, "2026-Q1") is employed


def test_the_directory_warns_the_sender_of_a_line_whose_worker_had_no_dimona_and_still_delivers_it() -> None:
    decision = decided(dmfa.EmployerDmfa(EMPLOYER), declaration(1, line(ALICE)))
    (lookup,) = lookups(decision)
    file = PersonFile(entries=(Entry(MUTUALITY, "MUTUALITY", "TITULAR", dt.date(2020, 1, 1), None, "DEFINITIVE", "i"),))

    warned = exchange.on_lookup(file, NETWORK, lookup, AT)
    employed = exchange.on_lookup(
        dataclasses.replace(file, relations=(relation(dt.date(2026, 2, 1), None),)), NETWORK, lookup, AT
    )

    def mail(d: exchange.Decision) -> list[tuple[str, str]]:
        return [(o.actor, o.schema.rpartition(".")[2]) for o in d.outcomes if isinstance(o, ToMailbox)]

    assert mail(warned) == [(SECRETARIAT, "Acknowledgement"), (MUTUALITY, "Notification")]
    (ack,) = [o.record for o in warned.outcomes if isinstance(o, ToMailbox) and o.actor == SECRETARIAT]
    assert ack["warnings"][0]["code"] == "dmfa.worker_without_dimona" and ack["violations"] == []
    assert mail(employed) == [(MUTUALITY, "Notification")]
    (notification,) = [o.record for o in employed.outcomes if isinstance(o, ToMailbox)]
    assert notification["ticket"] == notification_ticket(lookup.source_ticket, MUTUALITY)
    assert CODEC.decode(CODEC.encode(LOOKUP, {**dataclasses.asdict(lookup)})).record["warning"] == lookup.warning
