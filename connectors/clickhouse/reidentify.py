"""Re-identification (seed 4.14, OASIS): pseudonyms back to national numbers, for an authorized requester and
purpose only, with one audit record per pseudonym asked about — granted or refused.

The mapping lives in `<database>_reid.pseudonyms` (written by the projector), never in the statistics
database. The audit entries (`CONSULTATION_GRANTED` / `CONSULTATION_REFUSED`, data type
`be.crossroads.warehouse.Reidentification`) go to the platform's pending audit topic, keyed by the person,
where the directory chains them into the audit trail like every other exchange. A refused request still
resolves the pseudonyms internally so the refusal is recorded against the person concerned (the citizen can
see it); the requester receives nothing.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from connectors.clickhouse.client import Executor, execute, quote_identifier
from streams.composition import codec_for
from streams.domain.audit import AUDIT_SCHEMA, consultation_entry
from streams.domain.pseudonyms import REIDENTIFICATION_DATA_TYPE, decide_reidentification
from streams.domain.sources import source_of
from streams.settings import Settings

Publish = Callable[[list[dict[str, Any]]], None]

_NAMESPACE = uuid.UUID("0b7c5d52-3f7e-5c59-8a0e-6e1f0f3d9a21")  # fixed: entry tickets derive from it


@dataclass(frozen=True)
class Reidentification:
    ticket: str
    granted: bool
    reason: str | None
    persons: dict[str, str | None] = field(default_factory=dict)  # pseudonym -> NISS (empty when refused)
    audit_entries: tuple[dict[str, Any], ...] = ()


def lookup(client: Executor, database: str, purpose: str, pseudonyms: Sequence[str]) -> dict[str, str]:
    db = quote_identifier(database)
    rows = execute(
        client,
        f"SELECT pseudonym, any(person) FROM {db}_reid.pseudonyms FINAL "
        "WHERE purpose = %(purpose)s AND pseudonym IN %(pseudonyms)s GROUP BY pseudonym",
        {"purpose": purpose, "pseudonyms": tuple(pseudonyms)},
        what="reading the pseudonym mapping",
    )
    return {str(p): str(n) for p, n in rows}


def reidentify(
    client: Executor,
    settings: Settings,
    *,
    requester: str,
    purpose: str,
    pseudonyms: Sequence[str],
    publish: Publish,
    at: dt.datetime | None = None,
    ticket: str | None = None,
) -> Reidentification:
    """Decide, resolve, audit (always, before answering), then answer."""
    if not pseudonyms:
        raise ValueError("name at least one pseudonym to re-identify")
    at = at or dt.datetime.now(dt.UTC)
    ticket = ticket or str(uuid.uuid4())
    decision = decide_reidentification(settings.reidentification_grants, requester, purpose)
    mapping = lookup(client, settings.clickhouse.database, settings.warehouse_purpose, pseudonyms)
    entries = []
    for value in dict.fromkeys(pseudonyms):
        person = mapping.get(value)
        granted = decision.granted and person is not None
        reason = decision.reason if not decision.granted else (None if person else "unknown pseudonym")
        entries.append(
            consultation_entry(
                granted=granted,
                ticket=str(uuid.uuid5(_NAMESPACE, f"{ticket}|{value}")),
                source_ticket=ticket,
                actor=requester,
                person=person or f"pseudonym:{value}",
                data_type=REIDENTIFICATION_DATA_TYPE,
                source=source_of(REIDENTIFICATION_DATA_TYPE),
                at=at,
                legal_basis=decision.legal_basis if granted else None,
                reason=None if granted else f"{reason} (purpose {purpose})",
            )
        )
    publish(entries)  # the audit trail first: an answer that could not be logged is not given
    persons = {value: mapping.get(value) for value in dict.fromkeys(pseudonyms)} if decision.granted else {}
    return Reidentification(ticket, decision.granted, decision.reason, persons, tuple(entries))


def kafka_publisher(settings: Settings) -> Publish:
    """Publish audit entries to `<prefix>.audit.pending.v1`, keyed by the person, and wait for the broker."""
    from confluent_kafka import Producer

    from streams.catalog import Area, by_key
    from streams.kafka.producer import producer_config

    codec = codec_for(settings)
    topic = by_key(Area.AUDIT, "pending").topic(settings.topic_prefix)

    def publish(entries: list[dict[str, Any]]) -> None:
        producer = Producer(producer_config(settings))
        failures: list[str] = []

        def delivered(error: Any, _message: Any) -> None:
            if error is not None:
                failures.append(str(error))

        for entry in entries:
            producer.produce(
                topic, key=entry["person"].encode(), value=codec.encode(AUDIT_SCHEMA, entry), on_delivery=delivered
            )
        remaining = producer.flush(30)
        if remaining or failures:
            raise RuntimeError(f"audit entries not written to {topic}: {failures or f'{remaining} undelivered'}")

    return publish
