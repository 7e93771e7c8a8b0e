"""One `Kind` per declaration type: everything else reads it, and what must agree with it does."""

from __future__ import annotations

import datetime as dt

from streams.codecs import SchemaRegistry, default_schema_dir
from streams.codecs.packed import FACT_SCHEMAS, pack, unpack
from streams.domain.directory import PersonFile, StoredFact
from streams.domain.filedrop import FILE_TYPES
from streams.domain.kinds import (
    ADDRESS_CHANGE,
    BIRTH,
    DMFA_DECLARATION,
    FAMILIES,
    KINDS,
    Decider,
    kinds_of,
    own_lookups,
    routed,
)
from streams.domain.network import DataType
from streams.domain.samples import sample
from tests.support import with_envelope


def test_every_kind_has_its_schema_and_a_sample_its_own_validator_accepts() -> None:
    registry = SchemaRegistry.from_directory(default_schema_dir())
    for name, kind in KINDS.items():
        assert registry.get(name) is not None, name
        assert kind.validate(sample(name)) == [], name


def test_every_pushed_data_type_is_some_kinds_and_each_kind_says_how_it_is_decided() -> None:
    pushed = {k.data_type for k in KINDS.values() if k.data_type is not None}
    consultation = {m for m in DataType if m.value.startswith("be.crossroads.consultation.")}
    assert pushed == set(DataType) - consultation
    for kind in KINDS.values():
        if kind.batch:
            continue
        # decided by the directory, or final at intake and then routed to the directories concerned
        assert (kind.decider is not None) != kind.final_at_intake, kind.schema
        if kind.final_at_intake:
            assert kind.route is not None and kind.effective is not None, kind.schema
        if kind.decider is Decider.DIMONA:
            assert kind.effective is not None and kind.data_type is not None, kind.schema


def test_the_file_types_and_families_are_the_kinds() -> None:
    assert {t.family for t in FILE_TYPES.values()} == {f.name for f in FAMILIES}
    for family in FAMILIES:
        assert FILE_TYPES[family.file_type].schemas == {k.schema for k in kinds_of(family)}


def test_a_kept_kind_the_packed_format_does_not_list_is_kept_by_name() -> None:
    # the packed format's code table is an optimisation (appended to, never reordered): a new kind needs no
    # entry there, its facts are stored by name (the 0xFF escape)
    assert "be.crossroads.civil.NotListed" not in FACT_SCHEMAS
    fact = StoredFact(
        "be.crossroads.civil.NotListed", "be.crossroads.civil.NotListed", 0, dt.date(2026, 1, 1), "t", b"p"
    )
    assert unpack(pack(PersonFile(facts=(fact,)))).facts == (fact,)


def test_facts_topics_hold_only_what_was_accepted() -> None:
    for kind in KINDS.values():
        family = kind.family
        if kind.final_at_intake:
            assert family.admitted_to == family.facts
        elif family.facts is not None and not kind.batch:  # decided by a stateful step: admitted to it, made a
            assert kind.decider is not None, kind.schema  # fact by it (a batch is split into its items at intake)
            step = ("directory", "declarations") if kind.decider.by_directory else ("dmfa", "declarations")
            assert family.admitted_to == step, kind.schema


def test_the_directory_handles_what_its_rules_decide_and_not_the_dmfa() -> None:
    from streams.domain.exchange import HANDLED

    assert KINDS["be.crossroads.dmfa.DmfaDeclaration"].decider is Decider.DMFA
    assert "be.crossroads.dmfa.DmfaDeclaration" not in HANDLED
    assert {"be.crossroads.dimona.DimonaIn", "be.crossroads.directory.Integration"} <= HANDLED


def test_a_civil_fact_is_read_by_its_subjects_directory_and_only_the_other_persons_get_a_lookup() -> None:
    move = with_envelope(sample(ADDRESS_CHANGE.schema), ticket="t-move")
    assert ADDRESS_CHANGE.read_in_facts and not DMFA_DECLARATION.read_in_facts
    assert routed(ADDRESS_CHANGE, move, "t-move", b"fact", lambda s, r: b"") == []
    (own,) = own_lookups(ADDRESS_CHANGE, move, b"fact", lambda s, r: b"")
    assert (own.person, own.keep, own.notify, own.payload) == (move["person"], True, True, b"fact")

    born = with_envelope(sample(BIRTH.schema), ticket="t-birth")
    parents = routed(BIRTH, born, "t-birth", b"fact", lambda s, r: b"")
    assert [lk.person for lk in parents] == list(dict.fromkeys(born["parents"]))
    assert [lk.person for lk in own_lookups(BIRTH, born, b"fact", lambda s, r: b"")] == [born["child"]]
