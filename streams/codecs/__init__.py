"""Avro codecs of the contracts in ``avro_schemas/``: schema loading, single-object and Confluent framing,
compatibility checks.  See :mod:`streams.codecs.codec` for the wire formats."""

from __future__ import annotations

from streams.codecs.codec import CONFLUENT_MAGIC, SINGLE_OBJECT_MAGIC, AvroCodec, Decoded, Framing
from streams.codecs.confluent import HttpSchemaRegistryClient, InMemorySchemaRegistry, SchemaRegistryClient
from streams.codecs.errors import (
    CodecError,
    CorruptMessageError,
    InvalidRecordError,
    SchemaLoadError,
    SchemaRegistryUnavailableError,
    UnknownSchemaError,
)
from streams.codecs.registry import SchemaEntry, SchemaRegistry, default_schema_dir

__all__ = [
    "CONFLUENT_MAGIC",
    "SINGLE_OBJECT_MAGIC",
    "AvroCodec",
    "CodecError",
    "CorruptMessageError",
    "Decoded",
    "Framing",
    "HttpSchemaRegistryClient",
    "InMemorySchemaRegistry",
    "InvalidRecordError",
    "SchemaEntry",
    "SchemaLoadError",
    "SchemaRegistry",
    "SchemaRegistryClient",
    "SchemaRegistryUnavailableError",
    "UnknownSchemaError",
    "default_schema_dir",
]
