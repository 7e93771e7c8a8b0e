"""The result type of every validation rule."""

from __future__ import annotations

from dataclasses import dataclass

from streams.domain.validation.rules import rule


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule.

    ``code`` is stable (documented in docs/contracts.md and listed in :data:`RULES`); ``field`` is the path of
    the offending value (``"worker_lines[3].gross_wage_cents"``, ``""`` for the record as a whole); ``message``
    is for humans and may change.
    """

    code: str
    field: str
    message: str

    def __post_init__(self) -> None:
        rule(self.code)  # only catalogued codes are emitted

    def as_dict(self) -> dict[str, str]:
        """The shape of ``be.crossroads.outputs.Violation``."""
        return {"code": self.code, "field": self.field, "message": self.message}
