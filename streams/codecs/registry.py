"""Loading the contracts: every ``.avsc`` under ``avro_schemas/``, parsed once, references resolved.

Each file holds one named type (record or enum) and may refer to types defined in other files by full name.
For every type the registry keeps a *standalone* schema, with the types it uses inlined at first use: that is
what the codec writes with, what the parsing canonical form and fingerprint are computed from, what a Confluent
registry is sent and what the compatibility checker reads.

Released versions live under ``avro_schemas/history/<full name>/v<N>.avsc``, already standalone.  The registry
knows their fingerprints too, so a message written with an older release still decodes (resolved to the current
schema by Avro's schema resolution).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

from streams.codecs.errors import SchemaLoadError, UnknownSchemaError

__all__ = ["HISTORY_DIR", "SchemaEntry", "SchemaRegistry", "default_schema_dir", "expand", "fingerprint_of"]

HISTORY_DIR = "history"
_PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
_NAMED = frozenset({"record", "error", "enum", "fixed"})
_VERSION_FILE = re.compile(r"v(\d+)\.avsc")


def default_schema_dir() -> Path:
    """``avro_schemas/`` of the source tree this package runs from (the project installs editable)."""
    return Path(__file__).resolve().parents[2] / "avro_schemas"


def fingerprint_of(standalone: Any) -> bytes:
    """CRC-64-AVRO fingerprint of the parsing canonical form, 8 bytes little-endian (the single-object form)."""
    return bytes.fromhex(fingerprint(to_parsing_canonical_form(standalone), "CRC-64-AVRO"))


def _full_name(name: str, namespace: str | None) -> str:
    return name if "." in name or not namespace else f"{namespace}.{name}"


def _namespace_of(full_name: str) -> str | None:
    return full_name.rsplit(".", 1)[0] if "." in full_name else None


def expand(full_name: str, definitions: Mapping[str, Any]) -> Any:
    """A standalone copy of ``definitions[full_name]``: every named type it uses is inlined at its first use,
    later uses refer to it by full name, and every name is written fully qualified."""
    defined: set[str] = set()

    def walk(node: Any, namespace: str | None) -> Any:
        if isinstance(node, str):
            if node in _PRIMITIVES:
                return node
            name = _full_name(node, namespace)
            if name in defined:
                return name
            if name not in definitions:
                raise SchemaLoadError(f"{full_name}: unknown type {name!r}")
            return walk(definitions[name], _namespace_of(name))
        if isinstance(node, list):
            return [walk(branch, namespace) for branch in node]
        if not isinstance(node, dict):
            raise SchemaLoadError(f"{full_name}: unexpected schema node {node!r}")
        kind = node.get("type")
        if kind in _NAMED:
            name = _full_name(node["name"], node.get("namespace", namespace))
            if name in defined:
                raise SchemaLoadError(f"{full_name}: type {name} defined twice")
            defined.add(name)
            out = {k: v for k, v in node.items() if k != "namespace"}
            out["name"] = name
            inner = _namespace_of(name)
            if kind in ("record", "error"):
                out["fields"] = [{**f, "type": walk(f["type"], inner)} for f in node["fields"]]
            return out
        out = dict(node)
        if kind == "array":
            out["items"] = walk(node["items"], namespace)
        elif kind == "map":
            out["values"] = walk(node["values"], namespace)
        elif not isinstance(kind, str) or kind not in _PRIMITIVES:
            out["type"] = walk(kind, namespace)
        return out

    return walk(full_name, None)


@dataclass(frozen=True, slots=True)
class SchemaEntry:
    """One schema version, ready to use: ``parsed`` is fastavro's, ``standalone`` the expanded JSON."""

    full_name: str
    standalone: Any = field(repr=False)
    parsed: Any = field(repr=False)
    canonical: str = field(repr=False)
    fingerprint: bytes
    version: int | None  # the released version it equals, None when the current schema is not released yet
    path: Path

    @property
    def json(self) -> str:
        """The standalone schema as JSON text (docs included), as registered with a Confluent registry."""
        return json.dumps(self.standalone, ensure_ascii=False, separators=(",", ":"))


def _parse(full_name: str, standalone: Any) -> Any:
    try:
        # A fresh named_schemas per schema: fastavro otherwise shares named types between parses.
        return fastavro.parse_schema(copy.deepcopy(standalone), named_schemas={})
    except Exception as exc:  # fastavro raises several unrelated types for a bad schema
        raise SchemaLoadError(f"{full_name}: invalid schema: {exc}") from exc


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SchemaLoadError(f"{path}: {exc}") from exc


class SchemaRegistry:
    """All current schemas by full name, and every known version (current and released) by fingerprint."""

    def __init__(
        self, root: Path, current: Mapping[str, SchemaEntry], history: Mapping[str, list[SchemaEntry]]
    ) -> None:
        self.root = root
        self._current = dict(current)
        self._history = {name: list(versions) for name, versions in history.items()}
        self._by_fingerprint: dict[bytes, SchemaEntry] = {}
        for versions in self._history.values():
            for entry in versions:
                self._by_fingerprint[entry.fingerprint] = entry
        for entry in self._current.values():  # the current entry wins over an identical released one
            self._by_fingerprint[entry.fingerprint] = entry

    @classmethod
    def from_directory(cls, path: str | Path | None = None) -> SchemaRegistry:
        """Load every ``.avsc`` under ``path`` (default :func:`default_schema_dir`), and its ``history/``."""
        root = Path(path) if path is not None else default_schema_dir()
        if not root.is_dir():
            raise SchemaLoadError(f"{root}: no such schema directory")
        definitions: dict[str, Any] = {}
        paths: dict[str, Path] = {}
        for file in sorted(root.rglob("*.avsc")):
            if HISTORY_DIR in file.relative_to(root).parts:
                continue
            raw = _read_json(file)
            if not isinstance(raw, dict) or raw.get("type") not in _NAMED or "name" not in raw:
                raise SchemaLoadError(f"{file}: a schema file must hold one named type (record or enum)")
            name = _full_name(raw["name"], raw.get("namespace"))
            if name in definitions:
                raise SchemaLoadError(f"{file}: {name} is already defined in {paths[name]}")
            definitions[name], paths[name] = raw, file

        history = cls._load_history(root / HISTORY_DIR)
        current: dict[str, SchemaEntry] = {}
        for name, file in paths.items():
            standalone = expand(name, definitions)
            parsed = _parse(name, standalone)
            canonical = to_parsing_canonical_form(standalone)
            fp = fingerprint_of(standalone)
            released = next((e.version for e in history.get(name, []) if e.fingerprint == fp), None)
            current[name] = SchemaEntry(name, standalone, parsed, canonical, fp, released, file)
        return cls(root, current, history)

    @staticmethod
    def _load_history(directory: Path) -> dict[str, list[SchemaEntry]]:
        history: dict[str, list[SchemaEntry]] = {}
        if not directory.is_dir():
            return history
        for folder in sorted(p for p in directory.iterdir() if p.is_dir()):
            versions = []
            for file in folder.glob("v*.avsc"):
                match = _VERSION_FILE.fullmatch(file.name)
                if match is None:
                    raise SchemaLoadError(f"{file}: released versions are named v<N>.avsc")
                standalone = _read_json(file)
                if not isinstance(standalone, dict) or standalone.get("name") != folder.name:
                    raise SchemaLoadError(f"{file}: does not define {folder.name}")
                versions.append(
                    SchemaEntry(
                        folder.name,
                        standalone,
                        _parse(folder.name, standalone),
                        to_parsing_canonical_form(standalone),
                        fingerprint_of(standalone),
                        int(match[1]),
                        file,
                    )
                )
            history[folder.name] = sorted(versions, key=lambda e: e.version or 0)
        return history

    # -- lookups -------------------------------------------------------------------------------------------
    def get(self, full_name: str) -> SchemaEntry:
        """The current schema of ``full_name``."""
        try:
            return self._current[full_name]
        except KeyError:
            raise UnknownSchemaError(f"unknown schema name {full_name!r}") from None

    def by_fingerprint(self, fp: bytes) -> SchemaEntry:
        """The schema version (current or released) with this 8-byte CRC-64-AVRO fingerprint."""
        try:
            return self._by_fingerprint[fp]
        except KeyError:
            raise UnknownSchemaError(f"unknown schema fingerprint {fp.hex()}") from None

    def history(self, full_name: str) -> list[SchemaEntry]:
        """The released versions of ``full_name``, oldest first (empty when never released)."""
        return list(self._history.get(full_name, []))

    def released_names(self) -> list[str]:
        return sorted(self._history)

    def names(self) -> list[str]:
        """Full names of every current named type (records and enums), sorted."""
        return sorted(self._current)

    def records(self) -> list[str]:
        """Full names of every current record, sorted."""
        return [n for n in self.names() if self._current[n].standalone.get("type") == "record"]

    def resolve(self, name: str) -> str:
        """A full name, or a short name (``"DimonaIn"``) when it is unique, to the full name."""
        if name in self._current:
            return name
        matches = [n for n in self._current if n.rsplit(".", 1)[-1] == name]
        if len(matches) == 1:
            return matches[0]
        raise UnknownSchemaError(
            f"unknown schema name {name!r}"
            if not matches
            else f"ambiguous schema name {name!r}: {', '.join(sorted(matches))}"
        )

    def __contains__(self, full_name: object) -> bool:
        return full_name in self._current

    def __iter__(self) -> Iterator[SchemaEntry]:
        return iter(self._current[name] for name in self.names())

    def __len__(self) -> int:
        return len(self._current)
