"""The directory table's values: the packed PersonFile format (streams/codecs/packed.py) round-trips every file
exactly (hypothesis), is pinned byte for byte, reads the Avro values written before it, stays compact, and fails
with CorruptMessageError on every truncated or corrupt value."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.codecs import (
    AvroCodec,
    CorruptMessageError,
    InMemorySchemaRegistry,
    InvalidRecordError,
    SchemaRegistry,
    packed,
)
from streams.codecs.person_file import decode_person_file, encode_avro_person_file, encode_person_file
from streams.domain.directory import Entry, PersonFile, Relation, StoredFact
from streams.domain.samples import SAMPLE_EMPLOYER, SAMPLE_NISS
from streams.network_files import load_network
from streams.settings import Settings
from tests.support import dimona_in

REGISTRY = SchemaRegistry.from_directory()
CODEC = AvroCodec(REGISTRY)

# -- strategies: the common values, and anything else the dataclasses accept --------------------------------------

# any text, lone surrogates included (Python strings may hold them; the format keeps them)
any_text = st.text(alphabet=st.characters(codec=None), max_size=40) | st.text(max_size=300)
dates = st.dates() | st.dates(dt.date(1940, 1, 1), dt.date(2140, 1, 1)) | st.sampled_from([dt.date.min, dt.date.max])
numbers = st.integers(0, 9_999_999_999).map(lambda n: f"{n:010d}")
institutions = st.sampled_from(packed.INSTITUTIONS) | numbers | any_text
tickets = (
    st.uuids().map(str)
    | st.uuids().map(lambda u: str(u).upper())
    | st.uuids().map(lambda u: u.hex)
    | st.uuids().map(lambda u: f"{{{u}}}")
    | any_text
)
payloads = st.binary(max_size=600)


@st.composite
def entries(draw: st.DrawFn) -> Entry:
    if draw(st.booleans()):
        sector, capacity, status = draw(st.sampled_from(packed.ROLES))
    else:
        sector, capacity, status = draw(any_text), draw(any_text), draw(any_text | st.just("DEFINITIVE"))
    start = draw(dates)
    until = draw(st.none() | dates)  # a provisional period (any date: the format does not judge it)
    return Entry(draw(institutions), sector, capacity, start, draw(st.none() | dates), status, draw(tickets), until)


@st.composite
def relations(draw: st.DrawFn) -> Relation:
    start = draw(dates)
    return Relation(
        employer=draw(institutions),
        start=start,
        end=draw(st.none() | dates),
        worker_type=draw(st.sampled_from(packed.WORKER_TYPES) | any_text),
        joint_committee=draw(st.sampled_from(["200", "124", "140.03"]) | any_text),
        ticket=draw(tickets),
        payload=draw(payloads),
        declared_start=draw(st.just(start) | dates),  # mostly as declared; moved by an UPDATE otherwise
    )


@st.composite
def facts(draw: st.DrawFn) -> StoredFact:
    schema_name = draw(st.sampled_from(packed.FACT_SCHEMAS) | any_text)
    slot = draw(st.just(schema_name) | any_text)
    version = draw(st.integers(-(2**31), 2**31) | st.integers())
    return StoredFact(schema_name, slot, version, draw(dates), draw(tickets), draw(payloads))


person_files = st.builds(
    PersonFile,
    entries=st.lists(entries(), max_size=25).map(tuple),
    relations=st.lists(relations(), max_size=4).map(tuple),
    facts=st.lists(facts(), max_size=4).map(tuple),
)


def typical(n: int = 11) -> PersonFile:
    """A person as the directory holds most of them: n entries in the network's vocabulary, half closed."""
    roles = [r for r in packed.ROLES if r[2] == "DEFINITIVE"]
    return PersonFile(
        entries=tuple(
            Entry(
                packed.INSTITUTIONS[i % len(packed.INSTITUTIONS)],
                *roles[i % len(roles)][:2],
                dt.date(2001, 3, 1) + dt.timedelta(days=400 * i),
                None if i % 2 else dt.date(2001, 3, 1) + dt.timedelta(days=400 * i + 190),
                "DEFINITIVE",
                str(uuid.uuid5(uuid.NAMESPACE_URL, f"entry/{i}")),
            )
            for i in range(n)
        )
    )


# -- round trip --------------------------------------------------------------------------------------------------


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(person_files)
def test_every_person_file_round_trips_exactly(file: PersonFile) -> None:
    data = encode_person_file(CODEC, file)
    assert data[0] == packed.MAGIC_V2
    assert decode_person_file(CODEC, data) == file
    assert encode_person_file(CODEC, decode_person_file(CODEC, data)) == data  # deterministic


def test_the_edges_round_trip() -> None:
    file = PersonFile(
        entries=(
            Entry("0206731645", "MUTUALITY", "TITULAR", dt.date(1950, 1, 1), None, "DEFINITIVE", str(uuid.UUID(int=0))),
            Entry("9999999999", "X" * 1000, "", dt.date.min, dt.date.max, "", ""),
            Entry("", "TAX", "TAXPAYER", dt.date.max, dt.date.min, "PROVISIONAL", "T-123"),
            Entry("0206.731.645", "TAX", "TAXPAYER", dt.date(2129, 6, 4), dt.date(2129, 6, 5), "DEFINITIVE", "\ud800"),
        ),
        relations=(
            Relation("0000000000", dt.date(1900, 1, 1), None, "OTH", "", "", b"", dt.date(1900, 1, 1)),
            Relation("0000000000", dt.date.max, dt.date.min, "OTH", "", "", b"", dt.date.min),
        ),
        facts=(StoredFact("", "", -(2**70), dt.date.min, str(uuid.uuid4()).upper(), b"\x00" * 70_000),),
    )
    assert decode_person_file(CODEC, encode_person_file(CODEC, file)) == file


def test_no_value_is_an_empty_file() -> None:
    assert decode_person_file(CODEC, None) == PersonFile()
    assert decode_person_file(CODEC, b"") == PersonFile()
    assert decode_person_file(CODEC, encode_person_file(CODEC, PersonFile())) == PersonFile()


# -- the values written before: Avro -------------------------------------------------------------------------------


@settings(max_examples=50, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([typical(1), typical(11), typical(30)]), st.sampled_from(["single-object", "confluent"]))
def test_values_written_in_avro_still_decode(file: PersonFile, framing: str) -> None:
    codec = CODEC if framing == "single-object" else AvroCodec(REGISTRY, confluent_client=InMemorySchemaRegistry())
    old = encode_avro_person_file(codec, file)
    assert old[:2] == b"\xc3\x01" if framing == "single-object" else old[:1] == b"\x00"
    assert decode_person_file(codec, old) == file
    assert decode_person_file(codec, encode_person_file(codec, decode_person_file(codec, old))) == file


def test_an_avro_value_with_relations_and_facts_still_decodes() -> None:
    file = PersonFile(
        entries=typical(3).entries,
        relations=(
            Relation(
                "0206731645", dt.date(2024, 1, 1), None, "STU", "302", str(uuid.uuid4()), b"\x01in", dt.date(2024, 1, 1)
            ),
        ),
        facts=(StoredFact("be.crossroads.civil.Birth", "be.crossroads.civil.Birth", 0, dt.date(2000, 1, 1), "t", b""),),
    )
    assert decode_person_file(CODEC, encode_avro_person_file(CODEC, file)) == file


def _dimona_in_payload(start: dt.date) -> bytes:
    """The bytes a relation keeps of its DIMONA IN (the sample's relation, from ``start``)."""
    return CODEC.encode(*dimona_in(SAMPLE_EMPLOYER, SAMPLE_NISS, start))


def _varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def test_a_version_1_value_recovers_each_relations_declared_start_from_its_dimona_in() -> None:
    """Version 1 kept only the current start: an UPDATE written then may have moved it off the declared one."""
    declared, moved, ticket = dt.date(2024, 7, 1), dt.date(2024, 8, 1), uuid.uuid4()
    payload = _dimona_in_payload(declared)
    days = (moved - packed.EPOCH).days
    v1 = (
        b"\xd1\x00\x02"  # version 1, no entry, 2 relations
        + b"\x01\x00" + days.to_bytes(2, "little") + b"\x00\x03200" + ticket.bytes + _varint(len(payload)) + payload
        + b"\x01\x00" + days.to_bytes(2, "little") + b"\x00\x03200" + ticket.bytes + b"\x02in"  # no DIMONA IN
        + b"\x00"
    )  # fmt: skip

    file = decode_person_file(CODEC, v1)

    assert [(r.start, r.declared_start) for r in file.relations] == [(moved, declared), (moved, moved)]
    assert decode_person_file(CODEC, encode_person_file(CODEC, file)) == file  # and version 2 keeps it


def test_an_avro_value_recovers_each_relations_declared_start_from_its_dimona_in() -> None:
    declared, moved = dt.date(2024, 7, 1), dt.date(2024, 8, 1)
    relation = Relation(
        "0206731645", moved, None, "OTH", "200", str(uuid.uuid4()), _dimona_in_payload(declared), declared
    )
    old = encode_avro_person_file(CODEC, PersonFile(relations=(relation,)))  # the Avro record has no declared start
    assert decode_person_file(CODEC, old).relations == (relation,)


def test_an_avro_value_of_another_record_is_refused() -> None:
    from streams.domain.samples import sample_dimona_in

    other = CODEC.encode("be.crossroads.dimona.DimonaIn", sample_dimona_in())
    with pytest.raises(CorruptMessageError, match=r"not a be\.crossroads\.internal\.PersonFile"):
        decode_person_file(CODEC, other)


# -- the format, byte for byte --------------------------------------------------------------------------------------


def test_the_layout_is_pinned() -> None:
    """Changing these bytes breaks every changelog already written: that takes a new version byte instead."""
    ticket = "00112233-4455-6677-8899-aabbccddeeff"
    file = PersonFile(
        entries=(
            Entry(
                "0915943977",
                "MUTUALITY",
                "DEPENDANT",
                dt.date(1950, 1, 3),
                None,
                "PROVISIONAL",
                ticket,
                provisional_until=dt.date(1950, 4, 2),
            ),
            Entry(
                "0123456789",
                "UNEMPLOYMENT",
                "TEMPORARY",
                dt.date(2000, 1, 1),
                dt.date(1999, 12, 31),
                "DEFINITIVE",
                ticket,
            ),
            Entry("x", "S", "C", dt.date(1949, 12, 31), dt.date(2000, 1, 1), "DEFINITIVE", "t"),
        ),
        relations=(
            Relation(
                "0206731645", dt.date(1950, 1, 2), dt.date(1950, 1, 4), "STU", "200", ticket, b"p", dt.date(1950, 1, 2)
            ),
            Relation("0206731645", dt.date(1950, 1, 2), None, "OTH", "200", ticket, b"", dt.date(1950, 1, 1)),
        ),
        facts=(
            StoredFact("be.crossroads.civil.Death", "be.crossroads.civil.Death", 2, dt.date(1950, 1, 1), "t", b""),
            StoredFact(
                "be.crossroads.dmfa.DmfaDeclaration", "0206731645/2025Q1", -1, dt.date(1950, 1, 1), ticket, b"w"
            ),
        ),
    )
    t = "00112233445566778899aabbccddeeff"  # the ticket's 16 bytes
    expected = (
        "d2"  # magic: packed, version 2
        "03"  # 3 entries
        f"43 01 0200 {t}"  # role 3 (MUTUALITY/DEPENDANT/PROVISIONAL) | open; institution 1; day 2
        f"08 fe 5647 15cd5b0700 {t} 01"  # role 8; a 10-digit number in 5 bytes; day 18262; end - start = -1
        "bf ff ffff 0178 b1b92b 0174 ae9d02 0153 0143 0a444546494e4954495645"  # every escape: role 63, str
        # institution, date by ordinal, str ticket; then end - start (zigzag), sector, capacity, status
        "02"  # 2 relations
        f"00 00 0100 04 01 03323030 {t} 0170"  # flags, institution 0, day 1, end + 2, STU, "200", ticket, payload
        f"05 00 0100 0000 00 03323030 {t} 00"  # open | declared start differs; day 1, declared day 0; OTH; no payload
        "02"  # 2 facts
        "03 02 04 0000 0174 00"  # str ticket | slot = schema; Death; version 2; day 0; "t"; no payload
        f"00 05 11303230363733313634352f323032355131 01 0000 {t} 0177"  # DmfA, its slot, version -1, ..., b"w"
        "01"  # 1 provisional entry
        "00 b201"  # entry 0, held until start + 89 days (zigzag 178)
    )
    data = encode_person_file(CODEC, file)
    assert data.hex() == expected.replace(" ", "")
    assert decode_person_file(CODEC, data) == file


def test_the_version_1_layout_still_reads() -> None:
    """The bytes version 1 wrote (the pinned layout before version 2): no declared start, no provisional period."""
    ticket = "00112233-4455-6677-8899-aabbccddeeff"
    t = ticket.replace("-", "")
    v1 = (
        f"d1 03 43 01 0200 {t} 08 fe 5647 15cd5b0700 {t} 01"
        " bf ff ffff 0178 b1b92b 0174 ae9d02 0153 0143 0a444546494e4954495645"
        f" 01 00 00 0100 04 01 03323030 {t} 0170"
        f" 02 03 02 04 0000 0174 00 00 05 11303230363733313634352f323032355131 01 0000 {t} 0177"
    )
    file = decode_person_file(CODEC, bytes.fromhex(v1.replace(" ", "")))
    assert file.entries[0] == Entry(
        "0915943977", "MUTUALITY", "DEPENDANT", dt.date(1950, 1, 3), None, "PROVISIONAL", ticket
    )
    assert file.relations == (
        Relation(
            "0206731645", dt.date(1950, 1, 2), dt.date(1950, 1, 4), "STU", "200", ticket, b"p", dt.date(1950, 1, 2)
        ),
    )
    assert len(file.entries) == 3 and len(file.facts) == 2


def test_institutions_beyond_240_take_two_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    table = tuple(f"{n:010d}" for n in range(3824))
    monkeypatch.setattr(packed, "INSTITUTIONS", table)
    monkeypatch.setattr(packed, "_INSTITUTION_INDEX", {x: i for i, x in enumerate(table)})
    ticket = str(uuid.uuid4())
    for index, code in [(239, "ef"), (240, "f000"), (241, "f001"), (496, "f100"), (3823, "fdff")]:
        file = PersonFile(
            entries=(Entry(table[index], "TAX", "TAXPAYER", dt.date(2000, 1, 1), None, "DEFINITIVE", ticket),),
            relations=(
                Relation(table[index], dt.date(2000, 1, 1), None, "OTH", "200", ticket, b"", dt.date(2000, 1, 1)),
            ),
        )
        data = encode_person_file(CODEC, file)
        assert data[3] == int(code[:2], 16)
        assert data[6 : 6 + len(code) // 2 - 1].hex() == code[2:]
        assert decode_person_file(CODEC, data) == file


def test_a_typical_file_is_small() -> None:
    """~21 bytes an entry: 1 head, 1 institution, 2 start, 16 ticket, 0-2 end; 4 bytes of header and counts."""
    data = encode_person_file(CODEC, typical(11))
    assert len(data) <= 4 + 11 * 22
    assert len(data) * 3 < len(encode_avro_person_file(CODEC, typical(11)))


def test_the_code_tables_are_append_only() -> None:
    """The index of a value is written in every changelog record: these prefixes must never change."""
    assert packed.ROLES[:36] == tuple(
        (s, c, st)
        for s, c in [
            ("MUTUALITY", "TITULAR"),
            ("MUTUALITY", "DEPENDANT"),
            ("MUTUALITY", "INCAPACITY"),
            ("UNEMPLOYMENT", "BENEFICIARY"),
            ("UNEMPLOYMENT", "TEMPORARY"),
            ("UNEMPLOYMENT", "CAREER_BREAK"),
            ("FAMILY_ALLOWANCES", "CHILD"),
            ("FAMILY_ALLOWANCES", "ALLOCATAIRE"),
            ("FAMILY_ALLOWANCES", "ATTRIBUTAIRE"),
            ("CPAS", "INTEGRATION_INCOME"),
            ("CPAS", "SOCIAL_AID"),
            ("CPAS", "HEATING_ALLOWANCE"),
            ("PENSIONS", "PENSIONER"),
            ("PENSIONS", "FUTURE_PENSIONER"),
            ("PENSIONS", "INCOME_GUARANTEE"),
            ("EMPLOYMENT_OFFICE", "JOB_SEEKER"),
            ("EMPLOYMENT_OFFICE", "SCHOOL_LEAVER"),
            ("TAX", "TAXPAYER"),
        ]
        for st in ("DEFINITIVE", "PROVISIONAL")
    )
    assert packed.INSTITUTIONS[:32] == (
        *("0206731645", "0915943977", "0501415665", "0346557046", "0350219686", "0377085916", "0605733029"),
        *("0570880434", "0783817111", "0924751082", "0246779579", "0461498284", "0260680966", "0269277740"),
        *("0298366456", "0213303790", "0479862463", "0432104019", "0432837160", "0527079192", "0552032740"),
        *("0957194317", "0339892453", "0637056408", "0874832409", "0987406649", "0707743375", "0537940719"),
        *("0960831421", "0467384701", "1009473159", "0676660320"),
    )
    assert packed.WORKER_TYPES[:6] == ("OTH", "STU", "FLX", "EXT", "A17", "IVT")
    assert packed.FACT_SCHEMAS[:6] == (
        "be.crossroads.civil.Birth",
        "be.crossroads.civil.AddressChange",
        "be.crossroads.civil.Death",
        "be.crossroads.civil.CivilStatusChange",
        "be.crossroads.civil.CivilStatus",
        "be.crossroads.dmfa.DmfaDeclaration",
    )


def test_the_network_vocabulary_has_codes() -> None:
    """Not needed for correctness (unknown values are stored inline) but for size: a sector, capacity or
    institution added to the network should be appended to the tables of streams/codecs/packed.py."""
    network = load_network(Settings().network_dir)
    roles = set(packed.ROLES)
    missing_roles = [
        (sector.code, capacity, status)
        for sector in network.sectors.values()
        for capacity in sector.capacities
        for status in ("DEFINITIVE", "PROVISIONAL")
        if (sector.code, capacity, status) not in roles
    ]
    assert missing_roles == [], "append these (sector, capacity) pairs to packed._ROLE_PAIRS"
    missing = sorted(set(network.institutions) - set(packed.INSTITUTIONS))
    assert missing == [], "append these enterprise numbers to packed.INSTITUTIONS"


# -- bad values fail loudly -------------------------------------------------------------------------------------


def test_every_truncation_is_refused() -> None:
    file = PersonFile(
        entries=(*typical(4).entries, Entry("x", "S", "C", dt.date.min, dt.date.max, "?", "t")),
        relations=(
            Relation("y", dt.date(2024, 1, 1), dt.date(2024, 2, 1), "Z", "200", "t", b"payload", dt.date(2023, 1, 1)),
        ),
        facts=(StoredFact("s", "slot", 3, dt.date(2024, 1, 1), str(uuid.uuid4()), b"fact"),),
    )
    data = encode_person_file(CODEC, file)
    for cut in range(1, len(data)):
        with pytest.raises(CorruptMessageError):
            decode_person_file(CODEC, data[:cut])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xd1\x00\x00\x00\x00", "trailing"),
        (b"\xd1\x05\x00", "count 5 beyond"),
        (b"\xd1\x01\x40\x40\x00\x00" + b"t" * 16, "IndexError"),  # institution 64: beyond the table
        (b"\xd1\x01\x64\x00\x00\x00" + b"t" * 16, "IndexError"),  # role 36: beyond the table
        (b"\xd1\x01\x40\xf0\x00\x00\x05" + b"t" * 16, "IndexError"),  # institution 245: beyond the table
        (b"\xd1\x01\x40\x00\x00\x00" + b"t" * 15, "truncated"),
        (b"\xd1\x01\x40\xfe\x00\x00" + b"\xff" * 5, "over 10 digits"),
        (b"\xd1\x01\x40\xfe\xff\xff" + b"\x00" * 5 + b"\xff\xff\xff\x7f", "ValueError"),  # ordinal beyond 9999
        (b"\xd2\x00\x01\x08", "unknown relation flags"),
        (b"\xd2\x00\x00\x00\x01\x00\x00", "provisional entry 0 out of order or range"),
        (b"\xd2\x00\x00\x00\x00\x00", "trailing"),
        (b"\xd1\x00\x01\x04", "unknown relation flags"),  # version 1 had no declared start
        (b"\xd1\x00\x00\x01\x80", "unknown fact flags"),
        (b"\xd1\x01\xc0\x00\x00\x00\x02\xc3\x28", "UnicodeDecodeError"),  # ticket str: invalid UTF-8
        (b"\x7f\x01", "unknown person file format"),
        (b"\xd3", "unknown person file format"),
    ],
)
def test_corrupt_values_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(CorruptMessageError, match=message):
        decode_person_file(CODEC, data)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200), st.data())
def test_any_bytes_decode_or_raise_corrupt(tail: bytes, data: st.DataObject) -> None:
    value = bytes([packed.MAGIC_V1]) + tail
    if data.draw(st.booleans()):  # or flip one byte of a valid value
        valid = bytearray(encode_person_file(CODEC, typical(data.draw(st.integers(1, 5)))))
        at = data.draw(st.integers(1, len(valid) - 1))
        valid[at] ^= data.draw(st.integers(1, 255))
        value = bytes(valid)
    try:
        file = decode_person_file(CODEC, value)
    except CorruptMessageError:
        return
    assert isinstance(file, PersonFile)


def test_a_file_that_is_not_one_is_refused_on_encode() -> None:
    bad = PersonFile(entries=(Entry(None, "S", "C", dt.date(2024, 1, 1), None, "D", "t"),))  # type: ignore[arg-type]
    with pytest.raises(InvalidRecordError):
        encode_person_file(CODEC, bad)
    with pytest.raises(InvalidRecordError):
        encode_person_file(CODEC, PersonFile(facts=(StoredFact("s", "s", 1, dt.date(2024, 1, 1), "t", "text"),)))  # type: ignore[arg-type]


def test_a_civil_history_is_stored_in_the_same_format_and_files_written_before_it_still_answer() -> None:
    # the history of civil facts (D5) is several facts of one slot: no new layout, old values read as they were
    address = "be.crossroads.civil.AddressChange"
    moves = tuple(
        StoredFact(address, address, 0, dt.date(2020 + i, 1, 1), str(uuid.uuid4()), f"move {i}".encode())
        for i in range(3)
    )
    history = PersonFile(facts=moves)
    assert decode_person_file(CODEC, encode_person_file(CODEC, history)) == history
    assert decode_person_file(CODEC, encode_avro_person_file(CODEC, history)) == history
    before = decode_person_file(CODEC, encode_person_file(CODEC, PersonFile(facts=moves[-1:])))  # one per slot
    assert [f.payload for f in before.in_force("be.crossroads.civil.", dt.date(2023, 1, 1))] == [b"move 2"]
    assert before.in_force("be.crossroads.civil.", dt.date(2021, 6, 1)) == []  # what it did not keep is unknown
