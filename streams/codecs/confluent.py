"""The Confluent Schema Registry, behind a Protocol.

Only two calls are needed: register a schema under a subject (get its global id) and fetch a schema by id.
:class:`HttpSchemaRegistryClient` talks to a real registry with urllib (no extra dependency) and caches both
directions; :class:`InMemorySchemaRegistry` is the fake for tests (and for a single-process demo).
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Protocol, runtime_checkable

from streams.codecs.errors import SchemaRegistryUnavailableError, UnknownSchemaError

__all__ = ["HttpSchemaRegistryClient", "InMemorySchemaRegistry", "SchemaRegistryClient"]

_CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


@runtime_checkable
class SchemaRegistryClient(Protocol):
    def register(self, subject: str, schema: str) -> int:
        """Register ``schema`` (Avro JSON text) under ``subject``; return its global id (idempotent)."""
        ...

    def get_schema(self, schema_id: int) -> str:
        """The Avro JSON text of schema ``schema_id``; :class:`UnknownSchemaError` when there is none."""
        ...


class InMemorySchemaRegistry:
    """A faithful-enough fake: ids are global and stable per distinct schema text, as in the real registry."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self._schemas: dict[int, str] = {}
        self.subjects: dict[str, list[int]] = {}
        self._lock = threading.Lock()

    def register(self, subject: str, schema: str) -> int:
        with self._lock:
            key = json.dumps(json.loads(schema), sort_keys=True)
            schema_id = self._ids.get(key)
            if schema_id is None:
                schema_id = self._ids[key] = len(self._ids) + 1
                self._schemas[schema_id] = schema
            versions = self.subjects.setdefault(subject, [])
            if schema_id not in versions:
                versions.append(schema_id)
            return schema_id

    def get_schema(self, schema_id: int) -> str:
        try:
            return self._schemas[schema_id]
        except KeyError:
            raise UnknownSchemaError(f"schema id {schema_id} is not in the registry") from None


class HttpSchemaRegistryClient:
    """Confluent Schema Registry REST client (``POST /subjects/{s}/versions``, ``GET /schemas/ids/{id}``)."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._by_subject: dict[tuple[str, str], int] = {}
        self._by_id: dict[int, str] = {}

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.url}{path}",
            data=data,
            method=method,
            headers={"Content-Type": _CONTENT_TYPE, "Accept": _CONTENT_TYPE},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")
            if exc.code == 404 and path.startswith("/schemas/ids/"):
                raise UnknownSchemaError(f"schema registry has no {path}: {detail}") from None
            raise SchemaRegistryUnavailableError(f"{method} {self.url}{path}: HTTP {exc.code} {detail}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise SchemaRegistryUnavailableError(f"{method} {self.url}{path}: {exc}") from exc

    def register(self, subject: str, schema: str) -> int:
        key = (subject, schema)
        if key not in self._by_subject:
            reply = self._call("POST", f"/subjects/{urllib.parse.quote(subject, safe='')}/versions", {"schema": schema})
            schema_id = int(reply["id"])
            self._by_subject[key] = schema_id
            self._by_id.setdefault(schema_id, schema)
        return self._by_subject[key]

    def get_schema(self, schema_id: int) -> str:
        if schema_id not in self._by_id:
            reply = self._call("GET", f"/schemas/ids/{schema_id}")
            self._by_id[schema_id] = str(reply["schema"])
        return self._by_id[schema_id]
