"""The pure domain of Crossroads: identifiers, validation rules, samples.

Imports no faust, confluent_kafka, clickhouse_driver or fastavro: everything here is unit-testable in
milliseconds.  All errors derive from :class:`streams.domain.errors.DomainError`.
"""

from __future__ import annotations

from streams.domain.errors import DomainError, InvalidIdentifierError, UnknownDeclarationTypeError
from streams.domain.identifiers import (
    BisNumber,
    EnterpriseNumber,
    NationalNumber,
    PersonNumber,
    Register,
    Sex,
    parse_enterprise,
    parse_niss,
)

__all__ = [
    "BisNumber",
    "DomainError",
    "EnterpriseNumber",
    "InvalidIdentifierError",
    "NationalNumber",
    "PersonNumber",
    "Register",
    "Sex",
    "UnknownDeclarationTypeError",
    "parse_enterprise",
    "parse_niss",
]
