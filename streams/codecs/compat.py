"""Schema evolution guard with the reference implementation's checker (``avro.compatibility``).

*Backward*: a reader on the new schema reads data written with the old one.  *Forward*: a reader still on the
old schema reads data written with the new one.  Every current schema must be both, against every released
version of itself (``avro_schemas/history``): producers and consumers then upgrade in any order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

import avro.schema
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType

from streams.codecs.registry import SchemaRegistry

__all__ = ["Incompatibility", "check_history", "incompatibilities"]

Direction = Literal["backward", "forward"]


@dataclass(frozen=True, slots=True)
class Incompatibility:
    full_name: str
    version: int
    direction: Direction
    details: str


def _avro(standalone: Any) -> avro.schema.Schema:
    return avro.schema.parse(json.dumps(standalone))


def _details(reader: avro.schema.Schema, writer: avro.schema.Schema) -> str | None:
    checker = ReaderWriterCompatibilityChecker()  # type: ignore[no-untyped-call]  # avro ships no annotations
    result = checker.get_compatibility(reader, writer)
    if result.compatibility is SchemaCompatibilityType.compatible:
        return None
    return "; ".join(sorted(str(m) for m in result.messages)) or "incompatible"


def incompatibilities(new: Any, old: Any) -> list[tuple[Direction, str]]:
    """How two standalone schemas (JSON values) fail to be mutually compatible; empty when they are."""
    new_schema, old_schema = _avro(new), _avro(old)
    found: list[tuple[Direction, str]] = []
    if (why := _details(reader=new_schema, writer=old_schema)) is not None:
        found.append(("backward", why))
    if (why := _details(reader=old_schema, writer=new_schema)) is not None:
        found.append(("forward", why))
    return found


def check_history(registry: SchemaRegistry) -> list[Incompatibility]:
    """Every current schema against every released version of itself."""
    problems = []
    for entry in registry:
        for released in registry.history(entry.full_name):
            if released.fingerprint == entry.fingerprint:
                continue
            for direction, why in incompatibilities(entry.standalone, released.standalone):
                problems.append(Incompatibility(entry.full_name, released.version or 0, direction, why))
    return problems
