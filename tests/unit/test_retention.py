"""The directory's purge rule (`streams.domain.retention`): what leaves a person file past its period, what never
does, and that a purge run again changes nothing."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.codecs import AvroCodec, SchemaRegistry
from streams.domain.audit import AUDIT_SCHEMA, GENESIS, chain, purge_entry, verify_chain, who_received
from streams.domain.directory import Entry, PersonFile, Relation, StoredFact
from streams.domain.retention import (
    DIRECTORY_ACTOR,
    Periods,
    Purge,
    PurgedKind,
    is_open,
    purge,
    years_before,
)
from streams.settings import Settings

TODAY = dt.date(2026, 12, 3)
PERIODS = Periods()  # 10 years for directory entries, 7 for DIMONA and DmfA, 30 after a death
PERSON = "93051822361"
MUTUALITY = "0206731645"
EMPLOYER = "0403170701"
DEATH = "be.crossroads.civil.Death"
ADDRESS = "be.crossroads.civil.AddressChange"
DMFA = "be.crossroads.dmfa.DmfaDeclaration"


def ticket() -> str:
    return str(uuid.uuid4())


def entry(start: dt.date, end: dt.date | None, *, provisional_until: dt.date | None = None) -> Entry:
    status = "PROVISIONAL" if provisional_until else "DEFINITIVE"
    return Entry(MUTUALITY, "MUTUALITY", "TITULAR", start, end, status, ticket(), provisional_until)


def relation(start: dt.date, end: dt.date | None) -> Relation:
    return Relation(EMPLOYER, start, end, "OTHER", "200", ticket(), b"dimona-in", declared_start=start)


def fact(schema: str, effective: dt.date, slot: str | None = None) -> StoredFact:
    return StoredFact(schema, slot or schema, 1, effective, ticket(), b"payload")


def wages(quarter_end: dt.date) -> StoredFact:
    return fact(DMFA, quarter_end, slot=f"{EMPLOYER}/{quarter_end.year}Q4/BLUE_COLLAR/200")


# -- examples ----------------------------------------------------------------------------------------------------


def test_a_directory_entry_closed_more_than_ten_years_ago_goes_the_others_stay() -> None:
    old = entry(dt.date(2001, 1, 1), dt.date(2016, 12, 2))  # its last day is the day before the cutoff
    on_the_cutoff = entry(dt.date(2002, 1, 1), dt.date(2016, 12, 3))
    recent = entry(dt.date(2010, 1, 1), dt.date(2024, 6, 30))
    still_open = entry(dt.date(1990, 1, 1), None)
    file = PersonFile(entries=(old, on_the_cutoff, recent, still_open))

    result = purge(file, TODAY, PERIODS)

    assert result.file == PersonFile(entries=(on_the_cutoff, recent, still_open))
    (item,) = result.items
    assert (item.kind, item.holder, item.ticket, item.ended) == (
        PurgedKind.DIRECTORY_ENTRY,
        MUTUALITY,
        old.ticket,
        dt.date(2016, 12, 2),
    )
    assert item.data_type == "be.crossroads.directory.Integration"
    assert item.reason == "ended on 2016-12-02: past the 10-year retention of closed directory entries"


def test_an_unconfirmed_provisional_file_counts_from_the_last_day_it_was_held() -> None:
    # registered PROVISIONAL without an end, never confirmed: not held since its provisional period ended
    abandoned = entry(dt.date(2010, 1, 1), None, provisional_until=dt.date(2010, 3, 31))
    recent = entry(dt.date(2020, 1, 1), None, provisional_until=dt.date(2020, 3, 30))
    result = purge(PersonFile(entries=(abandoned, recent)), TODAY, PERIODS)
    assert result.file == PersonFile(entries=(recent,))
    assert [i.ended for i in result.items] == [dt.date(2010, 3, 31)]


def test_dimona_relations_ended_more_than_seven_years_ago_go_open_ones_never() -> None:
    old = relation(dt.date(2005, 1, 1), dt.date(2019, 12, 2))
    recent = relation(dt.date(2018, 1, 1), dt.date(2020, 1, 1))
    ancient_but_open = relation(dt.date(1980, 1, 1), None)
    result = purge(PersonFile(relations=(old, recent, ancient_but_open)), TODAY, PERIODS)
    assert result.file == PersonFile(relations=(recent, ancient_but_open))
    (item,) = result.items
    assert (item.kind, item.holder, item.data_type, item.slot) == (
        PurgedKind.EMPLOYMENT_RELATION,
        EMPLOYER,
        "be.crossroads.dimona.DimonaIn",
        f"{EMPLOYER}/2005-01-01",
    )


def test_dmfa_wages_of_a_quarter_started_more_than_seven_years_ago_go_civil_facts_stay() -> None:
    # the cutoff is 2019-12-03: the quarter 2019Q4 started before it (the warehouse's rule), 2020Q1 after
    old_wages, recent_wages = wages(dt.date(2019, 12, 31)), wages(dt.date(2020, 3, 31))
    old_address = fact(ADDRESS, dt.date(1970, 5, 1))
    result = purge(PersonFile(facts=(old_wages, recent_wages, old_address)), TODAY, PERIODS)
    assert result.file == PersonFile(facts=(recent_wages, old_address))
    (item,) = result.items
    assert (item.kind, item.holder, item.data_type) == (PurgedKind.WAGES, EMPLOYER, DMFA)
    assert item.reason == "started on 2019-10-01: past the 7-year retention of DmfA wages"


def test_a_person_dead_longer_than_thirty_years_with_nothing_open_is_deleted_whole() -> None:
    file = PersonFile(
        entries=(entry(dt.date(1980, 1, 1), dt.date(1995, 6, 30)),),
        relations=(relation(dt.date(1985, 1, 1), dt.date(1990, 1, 1)),),
        facts=(fact(ADDRESS, dt.date(1975, 1, 1)), fact(DEATH, dt.date(1995, 6, 1))),
    )
    result = purge(file, TODAY, PERIODS)
    assert result.file is None
    assert sorted(i.kind for i in result.items) == sorted(
        [PurgedKind.DIRECTORY_ENTRY, PurgedKind.EMPLOYMENT_RELATION, PurgedKind.CIVIL_FACT, PurgedKind.CIVIL_FACT]
    )
    assert all("died on 1995-06-01" in i.reason for i in result.items)
    civil = [i for i in result.items if i.kind is PurgedKind.CIVIL_FACT]
    assert {i.holder for i in civil} == {"0367302178"}  # the National Register, their source


def test_a_dead_persons_file_with_an_open_entry_keeps_it_and_loses_only_what_is_past_its_own_period() -> None:
    still_open = entry(dt.date(1980, 1, 1), None)
    closed_long_ago = entry(dt.date(1970, 1, 1), dt.date(1979, 12, 31))
    death = fact(DEATH, dt.date(1990, 1, 1))
    result = purge(PersonFile(entries=(still_open, closed_long_ago), facts=(death,)), TODAY, PERIODS)
    assert result.file == PersonFile(entries=(still_open,), facts=(death,))
    assert [i.ticket for i in result.items] == [closed_long_ago.ticket]


def test_a_recent_death_keeps_the_file() -> None:
    file = PersonFile(
        entries=(entry(dt.date(2000, 1, 1), dt.date(2020, 1, 1)),), facts=(fact(DEATH, dt.date(2020, 1, 1)),)
    )
    assert purge(file, TODAY, PERIODS) == Purge(file, ())


def test_a_file_the_purge_empties_is_deleted() -> None:
    result = purge(PersonFile(entries=(entry(dt.date(2000, 1, 1), dt.date(2005, 1, 1)),)), TODAY, PERIODS)
    assert result.file is None and len(result.items) == 1


def test_nothing_to_purge_leaves_the_very_file() -> None:
    file = PersonFile(entries=(entry(dt.date(2000, 1, 1), None),))
    result = purge(file, TODAY, PERIODS)
    assert result.file is file and not result.changed
    assert purge(PersonFile(), TODAY, PERIODS) == Purge(PersonFile(), ())


def test_the_cutoff_of_a_leap_day_is_the_28th_of_february() -> None:
    assert years_before(dt.date(2028, 2, 29), 10) == dt.date(2018, 2, 28)
    assert years_before(dt.date(2026, 12, 3), 7) == dt.date(2019, 12, 3)


def test_periods_follow_the_settings_and_refuse_less_than_a_year() -> None:
    from topologies.directory_purge import periods_of

    settings = Settings(retention_directory_years=12, retention_dimona_years=5)
    periods = periods_of(settings)
    assert (periods.directory_years, periods.dimona_years, periods.dmfa_years, periods.deceased_years) == (12, 5, 7, 30)
    with pytest.raises(ValueError, match="at least one year"):
        Periods(dmfa_years=0)


def test_a_purge_ticket_names_the_item_not_the_day() -> None:
    file = PersonFile(entries=(entry(dt.date(2000, 1, 1), dt.date(2005, 1, 1)),))
    (today,) = purge(file, TODAY, PERIODS).items
    (later,) = purge(file, TODAY + dt.timedelta(days=400), PERIODS).items
    assert today.purge_ticket == later.purge_ticket
    assert uuid.UUID(today.purge_ticket).version == 5


# -- properties --------------------------------------------------------------------------------------------------

days = st.dates(dt.date(1900, 1, 1), dt.date(2100, 12, 31))
open_or_end = st.none() | days


@st.composite
def entries(draw: st.DrawFn) -> Entry:
    start = draw(days)
    provisional = draw(st.none() | days)
    return entry(start, draw(open_or_end), provisional_until=provisional)


@st.composite
def relations(draw: st.DrawFn) -> Relation:
    return relation(draw(days), draw(open_or_end))


@st.composite
def facts(draw: st.DrawFn) -> StoredFact:
    schema = draw(st.sampled_from([DEATH, ADDRESS, "be.crossroads.civil.Birth", DMFA]))
    effective = draw(days)
    return wages(effective) if schema == DMFA else fact(schema, effective)


person_files = st.builds(
    PersonFile,
    entries=st.lists(entries(), max_size=8).map(tuple),
    relations=st.lists(relations(), max_size=4).map(tuple),
    facts=st.lists(facts(), max_size=5).map(tuple),
)
periods = st.builds(
    Periods,
    directory_years=st.integers(1, 40),
    dimona_years=st.integers(1, 40),
    dmfa_years=st.integers(1, 40),
    deceased_years=st.integers(1, 60),
)


@given(person_files, days, periods)
def test_never_purges_an_open_entry_nor_an_open_relation(file: PersonFile, today: dt.date, rules: Periods) -> None:
    result = purge(file, today, rules)
    kept = result.file or PersonFile()
    assert all(e in kept.entries for e in file.entries if is_open(e))
    assert all(r in kept.relations for r in file.relations if r.end is None)
    if any(is_open(e) for e in file.entries) or any(r.end is None for r in file.relations):
        assert result.file is not None  # a file with something open is never deleted whole


@given(person_files, days, periods)
def test_a_purge_run_again_changes_nothing(file: PersonFile, today: dt.date, rules: Periods) -> None:
    once = purge(file, today, rules)
    # what the table holds after it: the kept file, or no value at all (read back as an empty file)
    again = purge(once.file or PersonFile(), today, rules)
    assert again == Purge(once.file or PersonFile(), ())


@given(person_files, days, periods)
def test_everything_removed_is_listed_and_nothing_else(file: PersonFile, today: dt.date, rules: Periods) -> None:
    result = purge(file, today, rules)
    kept = result.file or PersonFile()
    removed = (
        [e.ticket for e in file.entries if e not in kept.entries]
        + [r.ticket for r in file.relations if r not in kept.relations]
        + [f.ticket for f in file.facts if f not in kept.facts]
    )
    assert sorted(removed) == sorted(i.ticket for i in result.items)
    assert set(kept.entries) <= set(file.entries) and set(kept.facts) <= set(file.facts)
    if result.items:
        assert result.file != PersonFile()  # a file the purge empties is deleted, not kept empty


@given(person_files, days, periods)
def test_a_later_day_purges_at_least_as_much(file: PersonFile, today: dt.date, rules: Periods) -> None:
    sooner = {i.ticket for i in purge(file, today, rules).items}
    later = {i.ticket for i in purge(file, today + dt.timedelta(days=365), rules).items}
    assert sooner <= later


# -- the audit record of a purge ---------------------------------------------------------------------------------

AT = dt.datetime(2026, 12, 3, 9, 30, 0, 123456, tzinfo=dt.UTC)


def _audited(file: PersonFile) -> list[dict[str, object]]:
    return [
        purge_entry(
            ticket=item.purge_ticket,
            actor=DIRECTORY_ACTOR,
            person=PERSON,
            data_type=item.data_type,
            purged=str(item.kind),
            reason=item.reason,
            at=AT,
            source_ticket=item.ticket,
            source=item.holder,
        )
        for item in purge(file, TODAY, PERIODS).items
    ]


def test_a_purge_is_audited_without_the_data_it_removes_and_the_chain_verifies() -> None:
    codec = AvroCodec(SchemaRegistry.from_directory(Settings().schema_dir))
    file = PersonFile(
        entries=(entry(dt.date(2000, 1, 1), dt.date(2005, 1, 1)),),
        facts=(wages(dt.date(2010, 12, 31)),),
    )
    records, head = [], GENESIS
    for unchained in _audited(file):
        linked = chain(head, unchained)
        head = linked["hash"]
        decoded = codec.decode(codec.encode(AUDIT_SCHEMA, linked)).record  # the topic's schema carries it whole
        assert decoded == linked
        records.append(decoded)
    assert verify_chain(enumerate(records)).ok
    assert [r["purged"] for r in records] == ["DIRECTORY_ENTRY", "WAGES"]
    assert all(r["kind"] == "REFUSAL" and str(r["reason"]).startswith("purged: ") for r in records)
    # the removed items' contents are not copied into the audit trail
    assert all(b"payload" not in codec.encode(AUDIT_SCHEMA, r) for r in records)
    assert [r["source"] for r in records] == [MUTUALITY, EMPLOYER]
    assert records[0]["source_ticket"] == file.entries[0].ticket


def test_who_received_shows_a_purge_as_purged_neither_received_nor_refused() -> None:
    file = PersonFile(entries=(entry(dt.date(2000, 1, 1), dt.date(2005, 1, 1)),))
    (record,) = _audited(file)
    (receipt,) = who_received([record, record], PERSON)  # a purge replayed after a crash: the same audit id
    assert receipt.was_purged and not receipt.refused and receipt.purged == "DIRECTORY_ENTRY"
    assert receipt.institution == DIRECTORY_ACTOR and receipt.source == MUTUALITY


def test_a_purge_names_what_and_why() -> None:
    with pytest.raises(ValueError, match="what it removed and why"):
        purge_entry(
            ticket=ticket(),
            actor=DIRECTORY_ACTOR,
            person=PERSON,
            data_type=DMFA,
            purged="WAGES",
            reason="",
            at=AT,
            source_ticket=ticket(),
            source=EMPLOYER,
        )
