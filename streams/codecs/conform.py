"""Turn an untrusted, JSON-ish record (a line of a provider's file) into what the codec encodes, reporting
*every* structural problem at once instead of fastavro's first one.

Accepted spellings, because JSON and CSV cannot say more:

* ``date``: ``datetime.date``, ISO text ``"2024-07-01"`` or days since 1970-01-01;
* ``timestamp-millis``: aware ``datetime``, ISO text (no zone = UTC) or milliseconds since the epoch;
* ``int``/``long``/``float``/``double``/``boolean``: the value, or its text (CSV cells are text);
* arrays and records: the value, or its JSON text (a CSV cell);
* a union of several record types: a ``(full name, record)`` tuple, or a dict naming its type in ``"-type"``
  (fastavro's convention) or ``"type"``, full or short name (``"DimonaOut"``).

Structural codes: ``schema.missing``, ``schema.type``, ``schema.unknown_field``, ``schema.enum``,
``schema.range``, ``schema.union``.  A record with structural violations is not given to the business rules:
the platform could not even decode it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from streams.codecs.registry import SchemaRegistry
from streams.domain.validation import Violation

__all__ = ["conform"]

_EPOCH = dt.date(1970, 1, 1)
_RANGES = {"int": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}
_TYPE_KEYS = ("-type", "type")


class _Walker:
    def __init__(self, standalone: Any) -> None:
        self.named: dict[str, Any] = {}
        self._collect(standalone)
        self.violations: list[Violation] = []

    def _collect(self, node: Any) -> None:
        if isinstance(node, list):
            for branch in node:
                self._collect(branch)
        elif isinstance(node, dict):
            if node.get("type") in ("record", "enum", "fixed"):
                self.named[node["name"]] = node
            for key in ("fields", "items", "values"):
                if key in node:
                    self._collect(node[key])
            if isinstance(node.get("type"), (dict, list)):
                self._collect(node["type"])

    def bad(self, code: str, path: str, message: str) -> None:
        self.violations.append(Violation(code, path, message))

    def value(self, schema: Any, value: Any, path: str) -> Any:
        if isinstance(schema, str) and schema in self.named:
            schema = self.named[schema]
        if isinstance(schema, list):
            return self.union(schema, value, path)
        kind = schema if isinstance(schema, str) else schema["type"]
        logical = schema.get("logicalType") if isinstance(schema, dict) else None
        if isinstance(kind, (dict, list)):
            return self.value(kind, value, path)
        if logical == "date":
            return self.date(value, path)
        if logical == "timestamp-millis":
            return self.timestamp(value, path)
        method = getattr(self, f"k_{kind}", None)
        if method is None:
            raise ValueError(f"unsupported schema node {schema!r}")
        return method(schema, value, path)

    # -- primitives ---------------------------------------------------------------------------------------
    def k_null(self, _: Any, value: Any, path: str) -> Any:
        if value is not None:
            self.bad("schema.type", path, f"expected null, got {value!r}")
        return None

    def k_boolean(self, _: Any, value: Any, path: str) -> Any:
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if not isinstance(value, bool):
            self.bad("schema.type", path, f"expected true/false, got {value!r}")
        return value

    def _integer(self, kind: str, value: Any, path: str) -> Any:
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = int(value.strip())
        if isinstance(value, bool) or not isinstance(value, int):
            self.bad("schema.type", path, f"expected an integer, got {value!r}")
            return value
        low, high = _RANGES[kind]
        if not low <= value <= high:
            self.bad("schema.range", path, f"{value} does not fit an Avro {kind}")
        return value

    def k_int(self, _: Any, value: Any, path: str) -> Any:
        return self._integer("int", value, path)

    def k_long(self, _: Any, value: Any, path: str) -> Any:
        return self._integer("long", value, path)

    def _real(self, value: Any, path: str) -> Any:
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.bad("schema.type", path, f"expected a number, got {value!r}")
            return value
        return float(value)

    def k_float(self, _: Any, value: Any, path: str) -> Any:
        return self._real(value, path)

    def k_double(self, _: Any, value: Any, path: str) -> Any:
        return self._real(value, path)

    def k_string(self, _: Any, value: Any, path: str) -> Any:
        if not isinstance(value, str):
            self.bad("schema.type", path, f"expected text, got {value!r}")
        return value

    def k_bytes(self, _: Any, value: Any, path: str) -> Any:
        if isinstance(value, str):
            return value.encode("utf-8")
        if not isinstance(value, bytes):
            self.bad("schema.type", path, f"expected bytes, got {value!r}")
        return value

    def date(self, value: Any, path: str) -> Any:
        if isinstance(value, dt.datetime):
            self.bad("schema.type", path, f"expected a date without time, got {value!r}")
        elif isinstance(value, dt.date):
            return value
        elif isinstance(value, int) and not isinstance(value, bool):
            try:
                return _EPOCH + dt.timedelta(days=value)
            except OverflowError:
                self.bad("schema.range", path, f"{value} days since 1970-01-01 is not a date")
        elif isinstance(value, str):
            try:
                return dt.date.fromisoformat(value.strip())
            except ValueError:
                self.bad("schema.type", path, f"{value!r} is not a date (YYYY-MM-DD)")
        else:
            self.bad("schema.type", path, f"expected a date (YYYY-MM-DD), got {value!r}")
        return value

    def timestamp(self, value: Any, path: str) -> Any:
        if isinstance(value, str):
            try:
                value = dt.datetime.fromisoformat(value.strip())
            except ValueError:
                self.bad("schema.type", path, f"{value!r} is not an ISO 8601 timestamp")
                return value
        if isinstance(value, int) and not isinstance(value, bool):
            return dt.datetime.fromtimestamp(value / 1000, tz=dt.UTC)
        if isinstance(value, dt.datetime):
            return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
        self.bad("schema.type", path, f"expected a timestamp, got {value!r}")
        return value

    # -- complex ------------------------------------------------------------------------------------------
    def _json(self, value: Any, path: str, expected: type) -> Any:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                self.bad("schema.type", path, f"expected {expected.__name__} or its JSON text, got {value!r}")
                return None
        if not isinstance(value, expected):
            self.bad("schema.type", path, f"expected {expected.__name__}, got {value!r}")
            return None
        return value

    def k_enum(self, schema: Any, value: Any, path: str) -> Any:
        if value not in schema["symbols"]:
            self.bad("schema.enum", path, f"{value!r} is not one of {', '.join(schema['symbols'])}")
        return value

    def k_array(self, schema: Any, value: Any, path: str) -> Any:
        items = self._json(value, path, list)
        if items is None:
            return value
        return [self.value(schema["items"], item, f"{path}[{i}]") for i, item in enumerate(items)]

    def k_map(self, schema: Any, value: Any, path: str) -> Any:
        entries = self._json(value, path, dict)
        if entries is None:
            return value
        return {k: self.value(schema["values"], v, f"{path}.{k}") for k, v in entries.items()}

    def k_record(self, schema: Any, value: Any, path: str) -> Any:
        fields = self._json(value, path, dict)
        if fields is None:
            return value
        out: dict[str, Any] = {}
        known = set()
        for field in schema["fields"]:
            name = field["name"]
            known.add(name)
            sub = f"{path}.{name}" if path else name
            if name in fields:
                out[name] = self.value(field["type"], fields[name], sub)
            elif "default" in field:
                out[name] = field["default"]
            else:
                self.bad("schema.missing", sub, "required field is missing")
        for extra in sorted(set(fields) - known - set(_TYPE_KEYS)):
            self.bad(
                "schema.unknown_field", f"{path}.{extra}" if path else extra, f"no field {extra!r} in {schema['name']}"
            )
        return out

    def k_fixed(self, schema: Any, value: Any, path: str) -> Any:
        value = self.k_bytes(schema, value, path)
        if isinstance(value, bytes) and len(value) != schema["size"]:
            self.bad("schema.type", path, f"expected {schema['size']} bytes, got {len(value)}")
        return value

    def union(self, branches: list[Any], value: Any, path: str) -> Any:
        if value is None or value == "":  # an empty CSV cell is a null when null is allowed
            if "null" in branches:
                return None
            if value is None:
                self.bad("schema.type", path, "must not be null")
                return None
        others = [b for b in branches if b != "null"]
        records = [b for b in others if self._is_record(b)]
        if len(records) > 1:
            return self.named_union(records, value, path)
        if len(others) == 1:
            return self.value(others[0], value, path)
        for branch in others:  # a general union: the first branch that takes the value without complaint
            mark = len(self.violations)
            result = self.value(branch, value, path)
            if len(self.violations) == mark:
                return result
            del self.violations[mark:]
        self.bad("schema.union", path, f"{value!r} fits none of the union's types")
        return value

    def _is_record(self, branch: Any) -> bool:
        node = self.named.get(branch) if isinstance(branch, str) else branch
        return isinstance(node, dict) and node.get("type") == "record"

    def named_union(self, records: list[Any], value: Any, path: str) -> Any:
        names = [r if isinstance(r, str) else r["name"] for r in records]
        if isinstance(value, tuple) and len(value) == 2:
            name, body = value
        elif isinstance(value, Mapping):
            name = next((value[k] for k in _TYPE_KEYS if k in value), None)
            body = value
        else:
            self.bad("schema.union", path, f"expected one of {', '.join(names)}, got {value!r}")
            return value
        full = next((n for n in names if name in (n, n.rsplit(".", 1)[-1])), None)
        if full is None:
            self.bad("schema.union", path, f"say which type this is with '-type' or 'type': one of {', '.join(names)}")
            return value
        return (full, self.value(full, body, path))


def conform(registry: SchemaRegistry, full_name: str, raw: Any) -> tuple[dict[str, Any], list[Violation]]:
    """``raw`` coerced to the shape of ``full_name``'s current schema, and every structural violation."""
    walker = _Walker(registry.get(full_name).standalone)
    record = walker.value(full_name, raw, "")
    return (record if isinstance(record, dict) else {}), walker.violations
