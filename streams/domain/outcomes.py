"""What a decision asks the platform to publish: the outcomes both deciding flows (intake, directory) return.

A decision is pure; the agent that made it routes its outcomes (`topologies.outcomes.publish_outcomes`) and
nothing else.  Records are encoded by the shell with the schema each outcome names; a `Forward` carries bytes
already encoded (a fact as received, or encoded once by the decision because a lookup quotes those bytes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

NOTIFICATION = "be.crossroads.outputs.Notification"
ACKNOWLEDGEMENT = "be.crossroads.outputs.Acknowledgement"
REJECTION = "be.crossroads.outputs.Rejection"
REPLY = "be.crossroads.consultation.ConsultationReply"
LOOKUP = "be.crossroads.internal.Lookup"


@dataclass(frozen=True, slots=True)
class ToMailbox:
    """A message for an actor's mailbox (an institution's own topic, or the employers' shared one)."""

    actor: str
    schema: str
    record: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ToRejections:
    """A rejection, with every violation and the declaration's bytes."""

    record: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ToAudit:
    """An audit entry: chained into the trail by the directory (the intake hands it over the pending topic)."""

    record: dict[str, Any]
    person: str | None = None  # the entry's key (the person it is about), when it differs from the event's


@dataclass(frozen=True, slots=True)
class ToDeadLetters:
    """The whole message, kept for the operators: nobody can be told (an unproven sender)."""

    reason: str
    error_type: str


@dataclass(frozen=True, slots=True)
class Forward:
    """An encoded record for a platform topic (area, name of `streams.catalog`), keyed by ``key``."""

    area: str
    name: str
    key: str | None  # None: the event's key
    value: bytes


Outcome = ToMailbox | ToRejections | ToAudit | ToDeadLetters | Forward
