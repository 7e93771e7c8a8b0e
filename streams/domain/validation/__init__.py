"""Stateless (intake) validation of declarations: pure functions that return *all* violations.

The same :func:`validate` serves the intake agents and ``crossroads check file`` so that a provider sees exactly
what the platform will say.  Records must conform to their Avro schema (see ``checker`` for why); the rules check
content.  Which rules are stateless and which need state is listed in :data:`RULES` and docs/contracts.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from streams.domain.validation.civil import (
    ADDRESS_CHANGE,
    BIRTH,
    CIVIL_STATUS_CHANGE,
    DEATH,
    validate_address_change,
    validate_birth,
    validate_civil_status_change,
    validate_death,
)
from streams.domain.validation.consultation import CONSULTATION_REQUEST, validate_consultation_request
from streams.domain.validation.dimona import (
    DIMONA_BATCH,
    DIMONA_CANCEL,
    DIMONA_IN,
    DIMONA_OUT,
    DIMONA_UPDATE,
    MAX_BATCH,
    validate_dimona_batch,
    validate_dimona_cancel,
    validate_dimona_in,
    validate_dimona_out,
    validate_dimona_update,
)
from streams.domain.validation.directory import INTEGRATION, validate_integration
from streams.domain.validation.dmfa import DMFA_DECLARATION, parse_quarter, validate_dmfa
from streams.domain.validation.rules import RULES, Rule
from streams.domain.validation.violation import Violation

__all__ = [
    "DECLARATION_TYPES",
    "MAX_BATCH",
    "RULES",
    "VALIDATORS",
    "Rule",
    "Violation",
    "parse_quarter",
    "validate",
    "validate_address_change",
    "validate_birth",
    "validate_civil_status_change",
    "validate_consultation_request",
    "validate_death",
    "validate_dimona_batch",
    "validate_dimona_cancel",
    "validate_dimona_in",
    "validate_dimona_out",
    "validate_dimona_update",
    "validate_dmfa",
    "validate_integration",
]

Validator = Callable[[Mapping[str, Any]], list[Violation]]

#: Every declaration type the platform accepts at intake, by full Avro name.
VALIDATORS: Mapping[str, Validator] = {
    DIMONA_IN: validate_dimona_in,
    DIMONA_OUT: validate_dimona_out,
    DIMONA_UPDATE: validate_dimona_update,
    DIMONA_CANCEL: validate_dimona_cancel,
    DIMONA_BATCH: validate_dimona_batch,
    DMFA_DECLARATION: validate_dmfa,
    BIRTH: validate_birth,
    ADDRESS_CHANGE: validate_address_change,
    DEATH: validate_death,
    CIVIL_STATUS_CHANGE: validate_civil_status_change,
    INTEGRATION: validate_integration,
    CONSULTATION_REQUEST: validate_consultation_request,
}

DECLARATION_TYPES: tuple[str, ...] = tuple(VALIDATORS)


def validate(schema_name: str, record: Mapping[str, Any]) -> list[Violation]:
    """All intake violations of ``record``, a declaration of type ``schema_name`` (full Avro name).

    An unknown type is itself a violation (``declaration.unknown_type``) rather than an exception: both the
    intake and the file checker then report it like any other refusal.
    """
    validator = VALIDATORS.get(schema_name)
    if validator is None:
        return [
            Violation(
                "declaration.unknown_type",
                "",
                f"no declaration type {schema_name!r}; known: " + ", ".join(DECLARATION_TYPES),
            )
        ]
    return validator(record)
