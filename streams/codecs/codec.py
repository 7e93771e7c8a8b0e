"""Avro encode/decode in the two wire framings the platform speaks.

* **single-object** (Avro spec): ``C3 01`` + 8-byte little-endian CRC-64-AVRO fingerprint of the writer
  schema's parsing canonical form + the binary body.  Self-describing against ``avro_schemas/``: no server.
* **confluent**: ``00`` + 4-byte big-endian schema id + body; used for writing when a Schema Registry is
  configured, so that off-the-shelf Kafka tooling can read the topics.

``decode`` reads both, whatever was configured: the first byte tells them apart.  A message written with an
earlier released schema version is resolved to the current one (Avro schema resolution).

Records are plain dicts.  ``date`` fields are ``datetime.date``, ``timestamp-millis`` fields aware
``datetime`` (UTC).  A union of several record types (DIMONA batch items) is read and written as a
``(full name, record)`` tuple, so that the type survives the round trip.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any, Literal

import fastavro

from streams.codecs.confluent import HttpSchemaRegistryClient, SchemaRegistryClient
from streams.codecs.errors import CorruptMessageError, InvalidRecordError, UnknownSchemaError
from streams.codecs.registry import SchemaEntry, SchemaRegistry, fingerprint_of

__all__ = ["CONFLUENT_MAGIC", "SINGLE_OBJECT_MAGIC", "AvroCodec", "Decoded", "Framing"]

SINGLE_OBJECT_MAGIC = b"\xc3\x01"
CONFLUENT_MAGIC = b"\x00"
_SINGLE_HEADER = len(SINGLE_OBJECT_MAGIC) + 8
_CONFLUENT_HEADER = len(CONFLUENT_MAGIC) + 4

Framing = Literal["single-object", "confluent"]
SubjectStrategy = Literal["topic", "record"]


@dataclass(frozen=True, slots=True)
class Decoded:
    schema_name: str
    record: dict[str, Any]
    framing: Framing


@dataclass(frozen=True, slots=True)
class _Writer:
    """How to read a body: the writer's parsed schema, and the reader's when it differs (resolution)."""

    schema_name: str
    writer: Any
    reader: Any | None


class AvroCodec:
    """Encode records to, and decode them from, Kafka message values.

    ``confluent_registry_url`` (or an injected ``confluent_client``, e.g. the in-memory fake) switches *writing*
    to the Confluent framing.  Subjects follow the TopicNameStrategy ``<topic>-value`` when ``encode`` is given a
    topic, else the RecordNameStrategy (the full record name); ``subject_strategy="record"`` forces the latter.
    """

    def __init__(
        self,
        registry: SchemaRegistry,
        confluent_registry_url: str | None = None,
        *,
        confluent_client: SchemaRegistryClient | None = None,
        subject_strategy: SubjectStrategy = "topic",
    ) -> None:
        self.registry = registry
        if confluent_client is None and confluent_registry_url:
            confluent_client = HttpSchemaRegistryClient(confluent_registry_url)
        self.confluent = confluent_client
        self.subject_strategy = subject_strategy
        self._ids: dict[tuple[str, str], int] = {}  # (subject, full name) -> schema id
        self._confluent_writers: dict[int, _Writer] = {}
        self._single_writers: dict[bytes, _Writer] = {}

    @property
    def framing(self) -> Framing:
        """The framing ``encode`` writes."""
        return "confluent" if self.confluent is not None else "single-object"

    # -- encoding ------------------------------------------------------------------------------------------
    def encode(self, full_name: str, record: dict[str, Any], *, topic: str | None = None) -> bytes:
        """Encode ``record`` with the current schema ``full_name`` in the configured framing."""
        entry = self.registry.get(full_name)
        if self.confluent is None:
            header = SINGLE_OBJECT_MAGIC + entry.fingerprint
        else:
            header = CONFLUENT_MAGIC + self._schema_id(entry, topic).to_bytes(4, "big")
        return header + self.encode_body(entry, record)

    def encode_body(self, entry: SchemaEntry, record: dict[str, Any]) -> bytes:
        """The bare Avro binary body (no framing)."""
        buffer = io.BytesIO()
        try:
            # strict_allow_default: a misspelt field is an error instead of being silently dropped.
            fastavro.schemaless_writer(buffer, entry.parsed, record, strict_allow_default=True)
        except Exception as exc:  # fastavro signals a bad datum with many exception types
            raise InvalidRecordError(f"record does not match {entry.full_name}: {type(exc).__name__}: {exc}") from exc
        return buffer.getvalue()

    def _schema_id(self, entry: SchemaEntry, topic: str | None) -> int:
        assert self.confluent is not None
        subject = f"{topic}-value" if topic and self.subject_strategy == "topic" else entry.full_name
        key = (subject, entry.full_name)
        schema_id = self._ids.get(key)
        if schema_id is None:
            schema_id = self._ids[key] = self.confluent.register(subject, entry.json)
            self._confluent_writers[schema_id] = _Writer(entry.full_name, entry.parsed, None)
        return schema_id

    # -- decoding ------------------------------------------------------------------------------------------
    def decode(self, data: bytes | None) -> Decoded:
        """Decode a message value in either framing; :class:`CodecError` subclasses on any failure."""
        framing: Framing
        if data is None:  # a tombstone: Kafka lets any producer write one to any topic
            raise CorruptMessageError("null value (a tombstone): there is no declaration to decode")
        if data[:2] == SINGLE_OBJECT_MAGIC:
            framing, header = "single-object", _SINGLE_HEADER
            if len(data) < header:
                raise CorruptMessageError(f"truncated single-object header: {len(data)} bytes, need {header}")
            writer = self._single_writer(bytes(data[2:header]))
        elif data[:1] == CONFLUENT_MAGIC:
            framing, header = "confluent", _CONFLUENT_HEADER
            if len(data) < header:
                raise CorruptMessageError(f"truncated Confluent header: {len(data)} bytes, need {header}")
            writer = self._confluent_writer(int.from_bytes(data[1:header], "big"))
        elif not data:
            raise CorruptMessageError("empty message")
        else:
            raise CorruptMessageError(
                f"bad magic byte(s) {bytes(data[:2]).hex()}: neither single-object (c301) nor Confluent (00)"
            )
        return Decoded(writer.schema_name, self._read_body(writer, data, header), framing)

    def decode_as(self, schema_name: str, data: bytes) -> dict[str, Any]:
        """Decode a value that must be a ``schema_name`` (a table's own values): anything else is corrupt."""
        decoded = self.decode(data)
        if decoded.schema_name != schema_name:
            raise CorruptMessageError(f"a {decoded.schema_name}, not a {schema_name}")
        return dict(decoded.record)

    def _read_body(self, writer: _Writer, data: bytes, offset: int) -> dict[str, Any]:
        buffer = io.BytesIO(data)
        buffer.seek(offset)
        try:
            record = fastavro.schemaless_reader(
                buffer, writer.writer, writer.reader, return_record_name=True, return_record_name_override=True
            )
        except Exception as exc:  # schemas are valid (checked at load): any failure here means bad bytes
            raise CorruptMessageError(
                f"body does not decode as {writer.schema_name}: {type(exc).__name__}: {exc}"
            ) from exc
        if buffer.tell() != len(data):
            raise CorruptMessageError(f"{len(data) - buffer.tell()} trailing bytes after a {writer.schema_name} body")
        if not isinstance(record, dict):
            raise CorruptMessageError(f"{writer.schema_name} body did not decode to a record")
        return record

    def _single_writer(self, fp: bytes) -> _Writer:
        writer = self._single_writers.get(fp)
        if writer is None:
            entry = self.registry.by_fingerprint(fp)
            current = self.registry.get(entry.full_name)
            writer = _Writer(entry.full_name, entry.parsed, None if current is entry else current.parsed)
            self._single_writers[fp] = writer
        return writer

    def _confluent_writer(self, schema_id: int) -> _Writer:
        writer = self._confluent_writers.get(schema_id)
        if writer is None:
            if self.confluent is None:
                raise UnknownSchemaError(
                    f"Confluent-framed message (schema id {schema_id}) but no schema registry is configured"
                )
            text = self.confluent.get_schema(schema_id)
            try:
                standalone = json.loads(text)
                parsed = fastavro.parse_schema(standalone, named_schemas={})
            except Exception as exc:
                raise UnknownSchemaError(f"schema id {schema_id} is not a usable Avro schema: {exc}") from exc
            name = parsed.get("name") if isinstance(parsed, dict) else None
            if not isinstance(name, str) or name not in self.registry:
                raise UnknownSchemaError(f"schema id {schema_id} ({name}) is not a be.crossroads contract")
            current = self.registry.get(name)
            same = fingerprint_of(standalone) == current.fingerprint
            writer = _Writer(name, current.parsed if same else parsed, None if same else current.parsed)
            self._confluent_writers[schema_id] = writer
        return writer
