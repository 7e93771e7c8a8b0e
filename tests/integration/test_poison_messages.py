"""Messages that once stopped a process for good (found by the chaos suite's poison probes, docs/chaos.md): each
lands where the rules say, and the declaration sent after them is still handled.

- a null value (a tombstone) on an intake topic: dead-lettered (the codec raised TypeError, the agent crashed
  on every restart);
- a declaration refused for a 600,000-character reference: its rejection carries the declaration whole and
  quotes the reference bounded (it was over the broker's message size, the agent crashed on every restart);
- a DIMONA IN recorded in 1950, which intake accepts: projected, its recorded_at stored as DateTime's first
  second (the insert failed on every retry and stopped the projection of every table).
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka import Producer

from connectors.clickhouse import connect
from streams.domain.quoting import QUOTE_LIMIT
from streams.domain.samples import sample, sample_dimona_in
from streams.kafka.security import client_config
from streams.settings import Settings
from tests.integration.harness import Platform
from tests.support import envelope, niss

pytestmark = pytest.mark.integration

ADDRESS_CHANGE = "be.crossroads.civil.AddressChange"


@pytest.fixture(scope="module")
def watcher(platform: Settings) -> Iterator[Platform]:
    watching = Platform(platform)
    yield watching
    watching.close()


def test_poison_messages_land_where_the_rules_say_and_what_follows_is_handled(
    platform: Settings, watcher: Platform
) -> None:
    settings = platform
    civil_intake = f"{settings.topic_prefix}.intake.civil.v1"
    tombstone_key = f"tombstone-{uuid.uuid4().hex}".encode()
    producer = Producer({**client_config(settings)})
    producer.produce(civil_intake, key=tombstone_key, value=None)
    assert producer.flush(10) == 0

    huge = sample(ADDRESS_CHANGE)
    huge["envelope"] = {**huge["envelope"], "sender_reference": "R" * 600_000}
    huge["person"] = niss()
    watcher.send(ADDRESS_CHANGE, huge)

    old = sample_dimona_in()
    old["envelope"] = {**old["envelope"], "sender_reference": f"recorded-1950-{uuid.uuid4().hex[:8]}"}
    old["envelope"]["recorded_at"] = dt.datetime(1950, 1, 1, tzinfo=dt.UTC)
    old["worker"] = niss()
    watcher.send("be.crossroads.dimona.DimonaIn", old)

    after = sample(ADDRESS_CHANGE)
    after["envelope"] = envelope(after["envelope"]["sender"])
    after["person"] = niss()
    reference = watcher.send(ADDRESS_CHANGE, after)
    assert watcher.ack(reference, timeout=120)["status"] == "ACCEPTED"  # the worker is still there

    letters = watcher.wait(lambda s: s.schema.endswith("DeadLetter") and s.record["key"] == tombstone_key, timeout=60)
    assert letters, "the tombstone never reached the dead letters"
    assert "tombstone" in letters[0].record["reason"] and letters[0].record["topic"] == civil_intake

    rejections = watcher.wait(
        lambda s: s.schema.endswith("Rejection") and s.record["person"] == huge["person"], timeout=60
    )
    assert rejections, "the oversized declaration was not rejected"
    refusal = rejections[0].record
    assert "envelope.sender_reference" in {v["code"] for v in refusal["violations"]}
    assert refusal["sender_reference"].startswith("R" * QUOTE_LIMIT + "...[600,000 characters]")
    assert watcher.codec.decode(refusal["declaration"]).record["envelope"]["sender_reference"] == "R" * 600_000

    client = connect(settings)
    query = (
        f"SELECT count() FROM {settings.clickhouse.database}.journey FINAL "
        "WHERE kind = 'dimona' AND recorded_at = toDateTime(0)"
    )
    deadline = time.monotonic() + 60
    while client.execute(query)[0][0] == 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert client.execute(query)[0][0] == 1, "the DIMONA recorded in 1950 never reached the warehouse"
