"""The directory table's values: a `PersonFile` as a `be.crossroads.internal.PersonFile` Avro record.

Single-object encoded like every other message, so the changelog stays readable after the schema evolves.
"""

from __future__ import annotations

from typing import Any

from streams.codecs.codec import AvroCodec
from streams.domain.directory import Entry, PersonFile, Relation, StoredFact

PERSON_FILE = "be.crossroads.internal.PersonFile"

_ENTRY = Entry.__slots__
_RELATION = Relation.__slots__
_FACT = StoredFact.__slots__


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
    return codec.encode(PERSON_FILE, to_record(file))


def decode_person_file(codec: AvroCodec, data: bytes | None) -> PersonFile:
    if not data:
        return PersonFile()
    return from_record(codec.decode(data).record)
