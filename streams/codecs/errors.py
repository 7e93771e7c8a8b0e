"""Errors of ``streams.codecs``.

Two families on purpose, because the intake must treat them differently:

* :class:`CodecError` and its subclasses mean *these bytes (or this record) are bad*: the intake dead-letters
  the message and goes on.  Every instance carries a ``reason`` string meant for the dead letter.
* :class:`SchemaRegistryUnavailableError` and :class:`SchemaLoadError` mean *the platform is broken* (registry
  down, schema files invalid): retried with a bound, then a loud crash.  They are deliberately **not**
  ``CodecError``s so that an ``except CodecError`` around decoding can never dead-letter good messages during
  an outage.
"""

from __future__ import annotations


class CodecError(Exception):
    """Base of the data errors: the message (or the record to encode) is at fault."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnknownSchemaError(CodecError):
    """No known schema for this fingerprint, Confluent schema id or full name."""


class CorruptMessageError(CodecError):
    """Bad magic byte, truncated header or body, trailing bytes, or a body that does not decode."""


class InvalidRecordError(CodecError):
    """A record handed to ``encode`` does not match its schema."""


class SchemaLoadError(Exception):
    """The .avsc files could not be loaded: bad JSON, unknown type reference, duplicate name, invalid schema."""


class SchemaRegistryUnavailableError(Exception):
    """The Confluent Schema Registry could not be reached or refused a request (infrastructure failure)."""
