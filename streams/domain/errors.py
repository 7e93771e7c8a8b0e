"""The one exception hierarchy of ``streams.domain``.

Every error the pure domain raises derives from :class:`DomainError`, so a caller at the edge (an agent,
the CLI) can tell a domain refusal from a programming error with one ``except``.  Errors carry a stable,
machine-readable ``code`` next to the human message: codes are part of the contract with data providers
(they appear in acknowledgements and in ``crossroads check``), messages may be reworded.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error raised by ``streams.domain``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class InvalidIdentifierError(DomainError, ValueError):
    """A national number, BIS number or enterprise number was refused.

    ``kind`` is ``"niss"``, ``"bis"`` or ``"enterprise"``; ``code`` is ``<kind>.<reason>`` (see
    :mod:`streams.domain.identifiers` for the list).  It is also a ``ValueError`` so that pydantic
    validators and ``int()``-style callers treat it as bad input.
    """

    def __init__(self, kind: str, reason: str, message: str, value: str) -> None:
        super().__init__(f"{kind}.{reason}", message)
        self.kind = kind
        self.reason = reason
        self.value = value


class UnknownDeclarationTypeError(DomainError, LookupError):
    """A schema name that no validation rule set (or sample) is registered for."""

    def __init__(self, schema_name: str) -> None:
        super().__init__("declaration.unknown_type", f"unknown declaration type {schema_name!r}")
        self.schema_name = schema_name


class DeadLetterError(DomainError, ValueError):
    """A dead letter cannot be named or replayed as asked (a malformed id, a target that takes no replay).

    ``code`` is ``dead_letter.<reason>``: ``bad_id``, ``not_intake_origin``, ``unknown_topic``,
    ``not_intake_topic`` (see :mod:`streams.domain.replay`)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"dead_letter.{reason}", message)
        self.reason = reason
