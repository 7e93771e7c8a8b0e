"""Stateless (intake) validation of declarations: pure functions that return *all* violations.

Each declaration type's validator is named by its kind (`streams.domain.kinds`), whose ``validate`` serves the intake
agents and ``crossroads check file`` alike, so that a provider sees exactly what the platform will say.  Records
must conform to their Avro schema (see ``checker`` for why); the rules check content.  Which rules are
stateless and which need state is listed in :data:`RULES` and docs/contracts.md.
"""

from __future__ import annotations

from streams.domain.validation.civil import (
    validate_address_change,
    validate_birth,
    validate_civil_status_change,
    validate_death,
)
from streams.domain.validation.consultation import validate_consultation_request
from streams.domain.validation.dimona import (
    MAX_BATCH,
    validate_dimona_batch,
    validate_dimona_cancel,
    validate_dimona_in,
    validate_dimona_out,
    validate_dimona_update,
)
from streams.domain.validation.directory import validate_integration
from streams.domain.validation.dmfa import parse_quarter, validate_dmfa
from streams.domain.validation.rules import RULES, Rule
from streams.domain.validation.violation import Violation

__all__ = [
    "MAX_BATCH",
    "RULES",
    "Rule",
    "Violation",
    "parse_quarter",
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
