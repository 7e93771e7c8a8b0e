"""Outcomes quote what a sender wrote within bounds: a declaration refused for a huge value gets a rejection
about its own size and a small acknowledgement, never one too big for Kafka."""

from __future__ import annotations

import datetime as dt

from streams.codecs import AvroCodec, SchemaRegistry
from streams.domain.admission import (
    Refused,
    acknowledgement,
    admit,
    rejection,
)
from streams.domain.outcomes import ACKNOWLEDGEMENT as ACKNOWLEDGEMENT_SCHEMA
from streams.domain.outcomes import REJECTION as REJECTION_SCHEMA
from streams.domain.quoting import QUOTE_LIMIT, quoted
from streams.domain.samples import sample

ADDRESS_CHANGE = "be.crossroads.civil.AddressChange"
AT = dt.datetime(2026, 12, 2, tzinfo=dt.UTC)


def test_a_value_within_the_limit_is_quoted_whole_and_a_longer_one_by_its_start_and_length() -> None:
    assert quoted("REF-1") == "REF-1"
    assert quoted("x" * QUOTE_LIMIT) == "x" * QUOTE_LIMIT
    assert quoted("y" * 600_000) == "y" * QUOTE_LIMIT + "...[600,000 characters]"


def test_a_declaration_refused_for_a_600_000_character_reference_gets_outcomes_of_its_own_size() -> None:
    codec = AvroCodec(SchemaRegistry.from_directory())
    record = sample(ADDRESS_CHANGE)
    record["envelope"] = {**record["envelope"], "sender_reference": "R" * 600_000, "sender": "9" * 300_000}
    raw = codec.encode(ADDRESS_CHANGE, record)
    decision = admit(ADDRESS_CHANGE, record, ticket="00000000-0000-0000-0000-000000000001", received_at=AT)
    assert isinstance(decision, Refused)
    assert "envelope.sender_reference" in {v.code for v in decision.violations}
    refusal = codec.encode(REJECTION_SCHEMA, rejection(ADDRESS_CHANGE, record, decision, raw=raw))
    ack = codec.encode(
        ACKNOWLEDGEMENT_SCHEMA, acknowledgement(ADDRESS_CHANGE, record, decision.ticket, AT, decision.violations)
    )
    assert len(raw) < len(refusal) < len(raw) + 10_000  # the declaration whole, the quotes bounded
    assert len(ack) < 10_000
    assert codec.decode(refusal).record["declaration"] == raw
