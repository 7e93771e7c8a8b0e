"""Re-identification (seed 4.14, OASIS): pseudonyms back to national numbers, with one audit record per
pseudonym asked about — granted or refused.

A pseudonym is resolved only for a requester granted the purpose asked for, only when it is a pseudonym of that
purpose's space, and only when the OASIS indicators of the quarter named flagged it — which, flags being
anti-fraud pseudonyms, means under the anti-fraud purpose only (`streams.domain.pseudonyms.decide_pseudonyms`).
The seed: "pour les personnes soupçonnées de fraude c'est à dire celles pour lesquelles un ou plusieurs des
indices prédéfinis clignotent, la BCSS ré-identifie les données".

The mapping lives in `<database>_reid.pseudonyms` (written by the projector, one space per purpose), never in
a pseudonymised database. The audit entries (`CONSULTATION_GRANTED` / `CONSULTATION_REFUSED`, data type
`be.crossroads.warehouse.Reidentification`) go to the platform's pending audit topic, keyed by the person,
where the directory chains them into the audit trail like every other exchange. A refused pseudonym is still
resolved internally, in whichever purpose's space it is, so the refusal is recorded against the person
concerned (the citizen can see it); the requester receives nothing about it but the reason.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from connectors.clickhouse.client import Executor, WarehouseError, execute, quote_identifier
from connectors.clickhouse.oasis import oasis_flagged_persons, thresholds_from
from streams.composition import codec_for
from streams.domain.audit import AUDIT_SCHEMA, consultation_entry
from streams.domain.pseudonyms import (
    REIDENTIFICATION_DATA_TYPE,
    Mapped,
    decide_pseudonyms,
    decide_reidentification,
)
from streams.domain.sources import source_of
from streams.domain.validation import parse_quarter
from streams.settings import Settings

Publish = Callable[[list[dict[str, Any]]], None]

_NAMESPACE = uuid.UUID("0b7c5d52-3f7e-5c59-8a0e-6e1f0f3d9a21")  # fixed: entry tickets derive from it


class AuditNotWritten(WarehouseError):
    """The audit entries of a re-identification did not reach the audit topic: nothing is answered."""


@dataclass(frozen=True)
class Reidentification:
    ticket: str
    granted: bool  # every pseudonym asked was resolved
    reason: str | None  # why the request as a whole was refused (no grant for requester and purpose)
    persons: dict[str, str] = field(default_factory=dict)  # pseudonym -> NISS, the granted ones only
    refused: dict[str, str] = field(default_factory=dict)  # pseudonym -> why it was not resolved
    audit_entries: tuple[dict[str, Any], ...] = ()


def lookup(client: Executor, database: str, pseudonyms: Sequence[str]) -> dict[str, Mapped]:
    """What the mapping store knows of `pseudonyms`, in every purpose's space (the decision keeps to one)."""
    db = quote_identifier(database)
    rows = execute(
        client,
        f"SELECT purpose, pseudonym, any(person) FROM {db}_reid.pseudonyms FINAL "
        "WHERE pseudonym IN %(pseudonyms)s GROUP BY purpose, pseudonym",
        {"pseudonyms": tuple(pseudonyms)},
        what="reading the pseudonym mapping",
    )
    return {str(value): Mapped(str(purpose), str(person)) for purpose, value, person in rows}


def reidentify(
    client: Executor,
    settings: Settings,
    *,
    requester: str,
    purpose: str,
    quarter: str,
    pseudonyms: Sequence[str],
    publish: Publish,
    at: dt.datetime | None = None,
    ticket: str | None = None,
) -> Reidentification:
    """Decide, resolve, audit (always, before answering), then answer."""
    if not pseudonyms:
        raise ValueError("name at least one pseudonym to re-identify")
    if parse_quarter(quarter) is None:
        raise ValueError(f"not a quarter: {quarter!r} (expected YYYY-Qn): the OASIS flags are a quarter's")
    at = at or dt.datetime.now(dt.UTC)
    ticket = ticket or str(uuid.uuid4())
    grant = decide_reidentification(settings.reidentification_grants, requester, purpose)
    mapped = lookup(client, settings.clickhouse.database, pseudonyms)
    # the indicators are computed only when some pseudonym could still be granted: flags are the anti-fraud
    # space's, so no other purpose ever needs them
    flagged: set[str] = set()
    if grant.granted and purpose == settings.oasis_purpose and any(m.purpose == purpose for m in mapped.values()):
        _, persons = oasis_flagged_persons(client, settings.clickhouse.database, quarter, thresholds_from(settings))
        flagged = set(persons)
    decisions = decide_pseudonyms(grant, purpose, quarter, pseudonyms, mapped, flagged)
    entries = [
        consultation_entry(
            granted=d.granted,
            ticket=str(uuid.uuid5(_NAMESPACE, f"{ticket}|{d.pseudonym}")),
            source_ticket=ticket,
            actor=requester,
            person=d.person or f"pseudonym:{d.pseudonym}",
            data_type=REIDENTIFICATION_DATA_TYPE,
            source=source_of(REIDENTIFICATION_DATA_TYPE),
            at=at,
            legal_basis=grant.legal_basis if d.granted else None,
            reason=None if d.granted else f"{d.reason} (purpose {purpose})",
        )
        for d in decisions
    ]
    publish(entries)  # the audit trail first: an answer that could not be logged is not given
    return Reidentification(
        ticket,
        all(d.granted for d in decisions),
        None if grant.granted else grant.reason,
        {d.pseudonym: d.person for d in decisions if d.granted and d.person},
        {d.pseudonym: d.reason for d in decisions if not d.granted and d.reason},
        tuple(entries),
    )


def kafka_publisher(settings: Settings) -> Publish:
    """Publish audit entries to `<prefix>.audit.pending.v1`, keyed by the person, and wait for the broker."""
    from confluent_kafka import KafkaException, Producer

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

        try:
            for entry in entries:
                producer.produce(
                    topic, key=entry["person"].encode(), value=codec.encode(AUDIT_SCHEMA, entry), on_delivery=delivered
                )
        except (KafkaException, BufferError) as exc:  # the client's errors stop at this boundary
            raise AuditNotWritten(f"audit entries not written to {topic}: {exc}") from exc
        remaining = producer.flush(30)
        if remaining or failures:
            raise AuditNotWritten(f"audit entries not written to {topic}: {failures or f'{remaining} undelivered'}")

    return publish
