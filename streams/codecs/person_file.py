"""The directory table's values: a `PersonFile`, written in the packed binary format of
:mod:`streams.codecs.packed` (first byte 0xD1).

Values written before it (a `be.crossroads.internal.PersonFile` Avro record, single-object ``C3 01`` or Confluent
``00`` framed) are still read: a changelog is rewritten only as persons change, so both coexist in it.
See docs/directory.md, "How a person file is stored".
"""

from __future__ import annotations

from typing import Any

from streams.codecs import packed
from streams.codecs.codec import CONFLUENT_MAGIC, SINGLE_OBJECT_MAGIC, AvroCodec
from streams.codecs.errors import CorruptMessageError
from streams.domain.directory import Entry, PersonFile, Relation, StoredFact

PERSON_FILE = "be.crossroads.internal.PersonFile"

_ENTRY = Entry.__slots__
_RELATION = Relation.__slots__
_FACT = StoredFact.__slots__
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
        relations=tuple(Relation(**r) for r in record["relations"]),
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
    if data[0] == packed.MAGIC_V1:
        return packed.unpack(data)
    if data[0] in _AVRO_FIRST_BYTES:
        decoded = codec.decode(data)
        if decoded.schema_name != PERSON_FILE:
            raise CorruptMessageError(f"directory value is a {decoded.schema_name}, not a {PERSON_FILE}")
        return from_record(decoded.record)
    raise CorruptMessageError(f"unknown person file format (first byte {data[0]:#04x})")


def encode_avro_person_file(codec: AvroCodec, file: PersonFile) -> bytes:
    """The format written before the packed one; kept to measure it (bench) and to test that old values read."""
    return codec.encode(PERSON_FILE, to_record(file))
