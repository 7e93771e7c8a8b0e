"""The directory table's values: a `PersonFile`, written in the packed binary format of
:mod:`streams.codecs.packed` (first byte 0xD1).

Values written before it are still read: a changelog is rewritten only as persons change, so the formats
coexist in it. Those are packed version 1 (0xD1) and, before that, a `be.crossroads.internal.PersonFile` Avro
record (single-object ``C3 01`` or Confluent ``00`` framed). Neither kept a relation's declared start (the
start its DIMONA IN declared, which names the relation once an UPDATE has moved its start); it is recovered
from the DIMONA IN the relation keeps as its payload. See docs/directory.md, "How a person file is stored".
"""

from __future__ import annotations

import dataclasses
from typing import Any

from streams.codecs import packed
from streams.codecs.codec import CONFLUENT_MAGIC, SINGLE_OBJECT_MAGIC, AvroCodec
from streams.codecs.errors import CodecError, CorruptMessageError
from streams.domain.directory import Entry, PersonFile, Relation, StoredFact

PERSON_FILE = "be.crossroads.internal.PersonFile"

# the fields of the Avro record be.crossroads.internal.DirectoryEntry (it has no provisional period: a value of
# that format read back has none, as when it was written)
_ENTRY = ("institution", "sector", "capacity", "start", "end", "status", "ticket")
# the fields of the Avro record be.crossroads.internal.EmploymentRelation (it has no declared start)
_RELATION = ("employer", "start", "end", "worker_type", "joint_committee", "ticket", "payload")
_FACT = StoredFact.__slots__
_DIMONA_IN = "be.crossroads.dimona.DimonaIn"
_AVRO_FIRST_BYTES = (SINGLE_OBJECT_MAGIC[0], CONFLUENT_MAGIC[0])


def to_record(file: PersonFile) -> dict[str, Any]:
    return {
        "entries": [{name: getattr(e, name) for name in _ENTRY} for e in file.entries],
        "relations": [{name: getattr(r, name) for name in _RELATION} for r in file.relations],
        "facts": [{name: getattr(f, name) for name in _FACT} for f in file.facts],
    }


def from_record(record: dict[str, Any]) -> PersonFile:
    return PersonFile(
        entries=tuple(Entry(**e) for e in record["entries"]),
        relations=tuple(Relation(**r, declared_start=r["start"]) for r in record["relations"]),
        facts=tuple(StoredFact(**f) for f in record["facts"]),
    )


def encode_person_file(codec: AvroCodec, file: PersonFile) -> bytes:
    """The table value of `file` (packed; `codec` is no longer used, kept for the callers' signature)."""
    return packed.pack(file)


def decode_person_file(codec: AvroCodec, data: bytes | None) -> PersonFile:
    """A table value back to its `PersonFile`: packed, or Avro as written before (`codec` reads those).
    No value (or an empty one) is an empty file; bad bytes raise `CorruptMessageError`."""
    if not data:
        return PersonFile()
    if data[0] == packed.MAGIC_V2:
        return packed.unpack(data)
    if data[0] == packed.MAGIC_V1:
        return _declared_starts(codec, packed.unpack(data))
    if data[0] in _AVRO_FIRST_BYTES:
        return _declared_starts(codec, from_record(codec.decode_as(PERSON_FILE, data)))
    raise CorruptMessageError(f"unknown person file format (first byte {data[0]:#04x})")


def _declared_starts(codec: AvroCodec, file: PersonFile) -> PersonFile:
    """A file of a format without declared starts, each relation's recovered from its DIMONA IN (an UPDATE
    written then may have moved `start`); a payload that is no DIMONA IN leaves `start`, the best left."""
    if not file.relations:
        return file
    return dataclasses.replace(file, relations=tuple(_declared_start(codec, r) for r in file.relations))


def _declared_start(codec: AvroCodec, relation: Relation) -> Relation:
    try:
        decoded = codec.decode(relation.payload)
    except CodecError:
        return relation
    if decoded.schema_name != _DIMONA_IN:
        return relation
    return dataclasses.replace(relation, declared_start=decoded.record["start_date"])


def encode_avro_person_file(codec: AvroCodec, file: PersonFile) -> bytes:
    """The format written before the packed one; kept to measure it (bench) and to test that old values read."""
    return codec.encode(PERSON_FILE, to_record(file))
