"""The packed binary format of the directory table's values (`PersonFile`), version 2 (version 1 still read).

Why not Avro: the directory holds ~11 entries per person (170 M in production); as an Avro single-object record
a file costs ~90 bytes per entry in memory and ~50 µs to decode + re-encode per event.  This format keeps an
entry in ~21 bytes (16 of them the ticket) and round-trips exactly (``unpack(pack(f)) == f`` for every
`PersonFile`): every compact field has an escape to a plain inline form for the values it cannot represent.

Layout (little-endian; ``varint`` = unsigned LEB128, ``zigzag`` = signed LEB128 via zigzag, ``str`` = varint
byte length + UTF-8 with surrogatepass, ``bytes`` = varint length + raw bytes)::

    file      := 0xD2                       magic + version (never 0x00 nor 0xC3, the Avro framings)
                 varint n  entry{n}  varint n  relation{n}  varint n  fact{n}
                 varint n  provisional{n}   (version 2)
    entry     := u8 head                    bits 0-5: ROLES index of (sector, capacity, status),
                                              63 = not in the table (three strs at the end of the entry)
                                            bit 6: end is None (open)    bit 7: ticket is not a canonical UUID
                 u8 institution             < 0xF0: INSTITUTIONS index; 0xF0-0xFD: index 240 + (b - 0xF0) * 256
                                            + the u8 that follows; 0xFE: 5-byte integer of a 10-digit number
                                            follows; 0xFF: str follows
                 u16 start                  days since 1950-01-01; 0xFFFF: varint date ordinal follows
                 [institution, start escapes]
                 ticket                     16 raw UUID bytes, or str (bit 7)
                 [zigzag end - start]       unless open
                 [str sector, str capacity, str status]   role 63
    relation  := u8 flags                   bit 0: end is None   bit 1: ticket is a str
                                            bit 2: declared_start differs from start (an UPDATE moved it)
                 institution(employer)  date(start)  [date(declared_start)]  [zigzag end - start]
                 coded(worker_type, WORKER_TYPES)  str joint_committee  ticket  bytes payload
    fact      := u8 flags                   bit 0: ticket is a str   bit 1: slot == schema_name (not stored)
                 coded(schema_name, FACT_SCHEMAS)  [str slot]  zigzag version  date(effective)  ticket
                 bytes payload
    provisional := varint i  zigzag until - start
                                            entry i (increasing) is provisional until that day; the other
                                            entries have no provisional period (definitive files, mostly)
    coded     := u8 < 0xFF: table index; 0xFF: str follows

Version 1 (0xD1) is version 2 without relation flag bit 2 and without the provisional section: it did not know
a relation's declared start nor a provisional file's period, so `unpack` gives each of its relations
``declared_start = start`` and each entry ``provisional_until = None``;
:func:`streams.codecs.person_file.decode_person_file` then recovers the declared start from the DIMONA IN the
relation keeps (its payload).

The code tables below are part of the format: **append only**, never reorder or remove (a value written with
index i must keep meaning the same string).  A value missing from a table is still stored, inline; extending a
table only makes new writes smaller.  A change of layout takes a new version byte (0xD2, ...), with this
version kept readable.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import struct
from typing import Final

from streams.codecs.errors import CorruptMessageError, InvalidRecordError
from streams.domain.directory import Entry, PersonFile, Relation, StoredFact

MAGIC_V1: Final = 0xD1  # read only
MAGIC_V2: Final = 0xD2  # written
MAGICS: Final = frozenset({MAGIC_V1, MAGIC_V2})

# -- the code tables (append only) -------------------------------------------------------------------------------

# (sector, capacity) of deploy/network/v1/sectors.yaml; ROLES crosses them with the two statuses.
_ROLE_PAIRS: Final = (
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
)
# index 2i: pair i DEFINITIVE, 2i + 1: pair i PROVISIONAL (so appending a pair keeps every older index)
ROLES: Final[tuple[tuple[str, str, str], ...]] = tuple(
    (sector, capacity, status) for sector, capacity in _ROLE_PAIRS for status in ("DEFINITIVE", "PROVISIONAL")
)
_ROLE_ESCAPE: Final = 63

# enterprise numbers (digits only) of deploy/network/v1/institutions.yaml, in file order
INSTITUTIONS: Final[tuple[str, ...]] = (
    "0206731645",
    "0915943977",
    "0501415665",
    "0346557046",
    "0350219686",
    "0377085916",
    "0605733029",
    "0570880434",
    "0783817111",
    "0924751082",
    "0246779579",
    "0461498284",
    "0260680966",
    "0269277740",
    "0298366456",
    "0213303790",
    "0479862463",
    "0432104019",
    "0432837160",
    "0527079192",
    "0552032740",
    "0957194317",
    "0339892453",
    "0637056408",
    "0874832409",
    "0987406649",
    "0707743375",
    "0537940719",
    "0960831421",
    "0467384701",
    "1009473159",
    "0676660320",
)
_INSTITUTION_WIDE: Final = 0xF0  # 240 institutions in one byte, 3,584 more in two
_INSTITUTION_NUMBER: Final = 0xFE
_INSTITUTION_STR: Final = 0xFF
_MAX_NUMBER: Final = 9_999_999_999

WORKER_TYPES: Final[tuple[str, ...]] = ("OTH", "STU", "FLX", "EXT", "A17", "IVT")
FACT_SCHEMAS: Final[tuple[str, ...]] = (
    "be.crossroads.civil.Birth",
    "be.crossroads.civil.AddressChange",
    "be.crossroads.civil.Death",
    "be.crossroads.civil.CivilStatusChange",
    "be.crossroads.civil.CivilStatus",
    "be.crossroads.dmfa.DmfaDeclaration",
)
_CODED_STR: Final = 0xFF

_INSTITUTION_CODES: Final = _INSTITUTION_WIDE + (_INSTITUTION_NUMBER - _INSTITUTION_WIDE) * 256  # 3,824

if len(ROLES) > _ROLE_ESCAPE or len(INSTITUTIONS) > _INSTITUTION_CODES:
    raise AssertionError("a packed code table outgrew its field: that takes a new format version")
if len(WORKER_TYPES) >= _CODED_STR or len(FACT_SCHEMAS) >= _CODED_STR:
    raise AssertionError("a packed code table outgrew its field: that takes a new format version")

_ROLE_INDEX: Final = {role: i for i, role in enumerate(ROLES)}
_INSTITUTION_INDEX: Final = {number: i for i, number in enumerate(INSTITUTIONS)}
_WORKER_TYPE_INDEX: Final = {name: i for i, name in enumerate(WORKER_TYPES)}
_FACT_SCHEMA_INDEX: Final = {name: i for i, name in enumerate(FACT_SCHEMAS)}

# -- field encodings -------------------------------------------------------------------------------------------

EPOCH: Final = dt.date(1950, 1, 1)
_EPOCH_ORDINAL: Final = EPOCH.toordinal()
_DAY_ESCAPE: Final = 0xFFFF  # u16 days cover 1950-01-01 .. 2129-06-04; other dates: varint ordinal

_HEAD: Final = struct.Struct("<BBH")  # entry head, institution byte, start days
_U16: Final = struct.Struct("<H")
_TICKET: Final = struct.Struct("16s")

_OPEN: Final = 0x40
_TICKET_STR: Final = 0x80
_R_OPEN: Final = 0x01
_R_TICKET_STR: Final = 0x02
_R_DECLARED: Final = 0x04  # version 2
_F_TICKET_STR: Final = 0x01
_F_SLOT_IS_SCHEMA: Final = 0x02

_HYPHENS: Final = (8, 13, 18, 23)


def _put_varint(out: bytearray, n: int) -> None:
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def _put_zigzag(out: bytearray, n: int) -> None:
    _put_varint(out, n << 1 if n >= 0 else ((-n) << 1) - 1)


def _put_str(out: bytearray, s: str) -> None:
    raw = s.encode("utf-8", "surrogatepass")
    _put_varint(out, len(raw))
    out += raw


def _put_bytes(out: bytearray, raw: bytes) -> None:
    _put_varint(out, len(raw))
    out += raw


def _uuid_bytes(ticket: str) -> bytes | None:
    """The 16 bytes of a canonical (lower-case, hyphenated) UUID string, else None (stored as a str)."""
    if len(ticket) != 36 or ticket[8] != "-" or ticket[13] != "-" or ticket[18] != "-" or ticket[23] != "-":
        return None
    if ticket != ticket.lower():
        return None
    try:
        raw = bytes.fromhex(ticket.replace("-", ""))
    except ValueError:
        return None
    return raw if len(raw) == 16 else None  # fromhex skips whitespace: " " in the string shortens it


def _uuid_str(raw: bytes) -> str:
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _put_institution(out: bytearray, number: str) -> int:
    """Writes the escape part (if any); returns the institution byte."""
    code = _INSTITUTION_INDEX.get(number)
    if code is not None:
        if code < _INSTITUTION_WIDE:
            return code
        high, low = divmod(code - _INSTITUTION_WIDE, 256)
        out.append(low)
        return _INSTITUTION_WIDE + high
    if len(number) == 10 and number.isascii() and number.isdigit():
        out += int(number).to_bytes(5, "little")
        return _INSTITUTION_NUMBER
    _put_str(out, number)
    return _INSTITUTION_STR


def _put_date(out: bytearray, day: dt.date) -> None:
    days = day.toordinal() - _EPOCH_ORDINAL
    if 0 <= days < _DAY_ESCAPE:
        out += _U16.pack(days)
    else:
        out += _U16.pack(_DAY_ESCAPE)
        _put_varint(out, day.toordinal())


def _put_coded(out: bytearray, value: str, index: dict[str, int]) -> None:
    code = index.get(value)
    if code is None:
        out.append(_CODED_STR)
        _put_str(out, value)
    else:
        out.append(code)


def _put_ticket(out: bytearray, ticket: str, raw: bytes | None) -> None:
    if raw is None:
        _put_str(out, ticket)
    else:
        out += raw


# -- encode ----------------------------------------------------------------------------------------------------


def pack(file: PersonFile) -> bytes:
    """A `PersonFile` in the packed format (raises `InvalidRecordError` if a field has the wrong type)."""
    try:
        return _pack(file)
    except (AttributeError, TypeError, ValueError, OverflowError) as exc:
        raise InvalidRecordError(f"person file cannot be packed: {exc}") from exc


def _pack(file: PersonFile) -> bytes:
    out = bytearray((MAGIC_V2,))
    put_varint, put_str, role_index = _put_varint, _put_str, _ROLE_INDEX
    put_varint(out, len(file.entries))
    for e in file.entries:
        role = role_index.get((e.sector, e.capacity, e.status), _ROLE_ESCAPE)
        raw = _uuid_bytes(e.ticket)
        head = role | (_OPEN if e.end is None else 0) | (_TICKET_STR if raw is None else 0)
        at = len(out)
        out += b"\x00\x00\x00\x00"  # head, institution byte, start: filled in below, after their escapes
        start = e.start.toordinal()
        days = start - _EPOCH_ORDINAL
        institution = _put_institution(out, e.institution)
        if not 0 <= days < _DAY_ESCAPE:
            days = _DAY_ESCAPE
            put_varint(out, start)
        _HEAD.pack_into(out, at, head, institution, days)
        if raw is None:
            put_str(out, e.ticket)
        else:
            out += raw
        if e.end is not None:
            _put_zigzag(out, e.end.toordinal() - start)
        if role == _ROLE_ESCAPE:
            put_str(out, e.sector)
            put_str(out, e.capacity)
            put_str(out, e.status)
    put_varint(out, len(file.relations))
    for r in file.relations:
        raw = _uuid_bytes(r.ticket)
        moved = r.declared_start != r.start  # only a relation an UPDATE moved pays for its declared start
        out.append(
            (_R_OPEN if r.end is None else 0) | (_R_TICKET_STR if raw is None else 0) | (_R_DECLARED if moved else 0)
        )
        at = len(out)
        out.append(0)
        out[at] = _put_institution(out, r.employer)
        _put_date(out, r.start)
        if moved:
            _put_date(out, r.declared_start)
        if r.end is not None:
            _put_zigzag(out, r.end.toordinal() - r.start.toordinal())
        _put_coded(out, r.worker_type, _WORKER_TYPE_INDEX)
        put_str(out, r.joint_committee)
        _put_ticket(out, r.ticket, raw)
        _put_bytes(out, r.payload)
    put_varint(out, len(file.facts))
    for f in file.facts:
        raw = _uuid_bytes(f.ticket)
        same_slot = f.slot == f.schema_name
        out.append((_F_TICKET_STR if raw is None else 0) | (_F_SLOT_IS_SCHEMA if same_slot else 0))
        _put_coded(out, f.schema_name, _FACT_SCHEMA_INDEX)
        if not same_slot:
            put_str(out, f.slot)
        _put_zigzag(out, f.version)
        _put_date(out, f.effective)
        _put_ticket(out, f.ticket, raw)
        _put_bytes(out, f.payload)
    # after everything else, so that a file without provisional entries (most) pays one byte for them
    provisional = [
        (i, e.provisional_until.toordinal() - e.start.toordinal())
        for i, e in enumerate(file.entries)
        if e.provisional_until is not None
    ]
    put_varint(out, len(provisional))
    for i, days in provisional:
        put_varint(out, i)
        _put_zigzag(out, days)
    return bytes(out)


# -- decode ----------------------------------------------------------------------------------------------------


class _Reader:
    """A cursor over one value; every read checks the bounds (slices alone would silently come back short)."""

    __slots__ = ("data", "end", "pos")

    def __init__(self, data: bytes, pos: int) -> None:
        self.data, self.pos, self.end = data, pos, len(data)

    def varint(self) -> int:
        data, pos = self.data, self.pos
        b = data[pos]
        pos += 1
        n, shift = b & 0x7F, 7
        while b & 0x80:
            b = data[pos]
            pos += 1
            n |= (b & 0x7F) << shift
            shift += 7
        self.pos = pos
        return n

    def zigzag(self) -> int:
        n = self.varint()
        return -((n + 1) >> 1) if n & 1 else n >> 1

    def count(self) -> int:
        n = self.varint()
        if n > self.end - self.pos:  # every item takes at least one byte
            raise CorruptMessageError(f"packed person file: count {n} beyond the value's end")
        return n

    def raw(self, n: int) -> bytes:
        pos = self.pos
        stop = pos + n
        if stop > self.end:
            raise CorruptMessageError("packed person file: truncated")
        self.pos = stop
        return self.data[pos:stop]

    def bytes_(self) -> bytes:
        return self.raw(self.varint())

    def str_(self) -> str:
        return self.raw(self.varint()).decode("utf-8", "surrogatepass")

    def u8(self) -> int:
        b = self.data[self.pos]
        self.pos += 1
        return b

    def institution(self, code: int) -> str:
        if code < _INSTITUTION_WIDE:
            return INSTITUTIONS[code]
        if code < _INSTITUTION_NUMBER:
            return INSTITUTIONS[_INSTITUTION_WIDE + ((code - _INSTITUTION_WIDE) << 8) + self.u8()]
        if code == _INSTITUTION_NUMBER:
            number = int.from_bytes(self.raw(5), "little")
            if number > _MAX_NUMBER:
                raise CorruptMessageError(f"packed person file: institution number {number} has over 10 digits")
            return f"{number:010d}"
        return self.str_()

    def day(self, days: int) -> dt.date:
        return dt.date.fromordinal(self.varint() if days == _DAY_ESCAPE else _EPOCH_ORDINAL + days)

    def date(self) -> dt.date:
        (days,) = _U16.unpack_from(self.data, self.pos)
        self.pos += 2
        return self.day(days)

    def ticket(self, inline: bool) -> str:
        return self.str_() if inline else _uuid_str(self.raw(16))

    def coded(self, table: tuple[str, ...]) -> str:
        code = self.u8()
        return self.str_() if code == _CODED_STR else table[code]


def unpack(data: bytes) -> PersonFile:
    """Decode a packed value; raises `CorruptMessageError` if it is truncated, has trailing bytes or is corrupt.
    A version 1 value's relations come back with ``declared_start = start`` (version 1 did not keep it)."""
    if not data or data[0] not in MAGICS:
        raise CorruptMessageError(f"not a packed person file (first byte {data[:1].hex() or 'missing'})")
    try:
        file = _unpack(data)
    except CorruptMessageError:
        raise
    except struct.error as exc:
        raise CorruptMessageError(f"packed person file: truncated ({exc})") from exc
    except (IndexError, ValueError, OverflowError) as exc:  # short data, bad table index, bad date, bad UTF-8
        raise CorruptMessageError(f"corrupt packed person file: {type(exc).__name__}: {exc}") from exc
    return file


def _unpack(data: bytes) -> PersonFile:
    r = _Reader(data, 1)
    unpack_head, unpack_ticket, fromordinal = _HEAD.unpack_from, _TICKET.unpack_from, dt.date.fromordinal
    roles, institutions = ROLES, INSTITUTIONS
    entries = []
    for _ in range(r.count()):
        head, code, days = unpack_head(data, r.pos)
        r.pos += 4
        institution = institutions[code] if code < _INSTITUTION_WIDE else r.institution(code)
        ordinal = _EPOCH_ORDINAL + days if days != _DAY_ESCAPE else r.varint()
        start = fromordinal(ordinal)
        if head & _TICKET_STR:
            ticket = r.str_()
            pos = r.pos
        else:
            pos = r.pos
            h = unpack_ticket(data, pos)[0].hex()
            ticket = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
            pos += 16
        if head & _OPEN:
            end = None
            r.pos = pos
        else:
            b = data[pos]  # end - start, zigzag: one or two bytes for periods up to 22 years
            if b < 0x80:
                zigzag = b
                r.pos = pos + 1
            else:
                r.pos = pos
                zigzag = r.varint()
            end = fromordinal(ordinal + (-((zigzag + 1) >> 1) if zigzag & 1 else zigzag >> 1))
        role = head & 0x3F
        if role == _ROLE_ESCAPE:
            sector, capacity, status = r.str_(), r.str_(), r.str_()
        else:
            sector, capacity, status = roles[role]
        entries.append(Entry(institution, sector, capacity, start, end, status, ticket))
    relations = []
    known_flags = _R_OPEN | _R_TICKET_STR | (_R_DECLARED if data[0] == MAGIC_V2 else 0)
    for _ in range(r.count()):
        flags = r.u8()
        if flags & ~known_flags:
            raise CorruptMessageError(f"packed person file: unknown relation flags {flags:#04x}")
        employer = r.institution(r.u8())
        start = r.date()
        declared_start = r.date() if flags & _R_DECLARED else start
        end = None if flags & _R_OPEN else fromordinal(start.toordinal() + r.zigzag())
        worker_type = r.coded(WORKER_TYPES)
        joint_committee = r.str_()
        ticket = r.ticket(bool(flags & _R_TICKET_STR))
        payload = r.bytes_()
        relations.append(Relation(employer, start, end, worker_type, joint_committee, ticket, payload, declared_start))
    facts = []
    for _ in range(r.count()):
        flags = r.u8()
        if flags & ~(_F_TICKET_STR | _F_SLOT_IS_SCHEMA):
            raise CorruptMessageError(f"packed person file: unknown fact flags {flags:#04x}")
        schema_name = r.coded(FACT_SCHEMAS)
        slot = schema_name if flags & _F_SLOT_IS_SCHEMA else r.str_()
        version = r.zigzag()
        effective = r.date()
        ticket = r.ticket(bool(flags & _F_TICKET_STR))
        facts.append(StoredFact(schema_name, slot, version, effective, ticket, r.bytes_()))
    if data[0] == MAGIC_V2:
        previous = -1
        for _ in range(r.count()):
            i = r.varint()
            if not previous < i < len(entries):
                raise CorruptMessageError(f"packed person file: provisional entry {i} out of order or range")
            previous, entry = i, entries[i]
            until = fromordinal(entry.start.toordinal() + r.zigzag())
            entries[i] = dataclasses.replace(entry, provisional_until=until)
    if r.pos != len(data):
        raise CorruptMessageError(f"packed person file: {len(data) - r.pos} trailing bytes")
    return PersonFile(tuple(entries), tuple(relations), tuple(facts))
