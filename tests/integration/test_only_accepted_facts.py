"""D1: only what the platform accepted is a fact. The facts topics mean what their catalog says ("accepted,
ticketed"), so the warehouse, the statistics and OASIS never count a declaration the directory refused.

On the real pipeline: intake -> directory -> facts -> projector -> ClickHouse.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import pytest

from streams.settings import Settings
from tests.integration.harness import Platform, ticket_of
from tests.integration.test_scenarios import EMPLOYER, MUTUALITY_A, MUTUALITY_B
from tests.support import dimona_in, dimona_out, integration, niss

pytestmark = pytest.mark.integration

WATCHED = Platform.WATCHED + r"|facts\..*"


@pytest.fixture(scope="module")
def client(platform: Settings) -> Iterator[Platform]:
    watcher = Platform(platform, watched=WATCHED)
    yield watcher
    watcher.close()


def _warehouse(settings: Settings) -> Any:
    from clickhouse_driver import Client

    address = settings.clickhouse
    return Client(
        host=address.host, port=address.port, user=address.user, password=address.password, database=address.database
    )


def _projected(settings: Settings, table: str, tickets: list[str], timeout: float = 120.0) -> set[str]:
    """The tickets of ``tickets`` found in ``table``, once every ticket expected there arrived (or time ran out)."""
    client = _warehouse(settings)
    try:
        deadline = time.monotonic() + timeout
        while True:
            query = f"SELECT DISTINCT event_id FROM {table} WHERE event_id IN %(t)s"
            rows = client.execute(query, {"t": tuple(tickets)})
            found = {str(row[0]) for row in rows}
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.5)
    finally:
        client.disconnect()


def test_a_refused_integration_and_a_refused_dimona_are_no_facts_and_never_reach_the_warehouse(
    client: Platform, platform: Settings
) -> None:
    person, worker = niss(), niss()
    start = dt.date(2025, 1, 1)
    # accepted, then refused by the directory's anti-fraud rule: same capacity, overlapping, same sector
    accepted_integration = client.ack(client.send(*integration(MUTUALITY_A, "MUTUALITY", "TITULAR", person, start)))
    refused_integration = client.ack(client.send(*integration(MUTUALITY_B, "MUTUALITY", "TITULAR", person, start)))
    # refused by the directory: an OUT for a relation it does not know; then an accepted IN
    refused_dimona = client.ack(client.send(*dimona_out(EMPLOYER, worker, dt.date(2026, 1, 5), dt.date(2026, 2, 1))))
    accepted_dimona = client.ack(client.send(*dimona_in(EMPLOYER, worker, dt.date(2026, 3, 1))))

    assert [a["status"] for a in (accepted_integration, refused_integration, refused_dimona, accepted_dimona)] == [
        "ACCEPTED",
        "REJECTED",
        "REJECTED",
        "ACCEPTED",
    ]
    client.wait_caught_up()
    seen = client.seen(lambda s: ".facts." in s.topic)
    facts = {s.record["envelope"]["ticket"]: s.topic.split(".")[-2] for s in seen}
    assert facts.get(ticket_of(accepted_integration)) == "integrations"
    assert facts.get(ticket_of(accepted_dimona)) == "dimona"
    assert refused_integration["ticket"] not in facts
    assert refused_dimona["ticket"] not in facts

    integrations = [ticket_of(accepted_integration), refused_integration["ticket"]]
    dimona = [ticket_of(accepted_dimona), refused_dimona["ticket"]]
    assert _projected(platform, "directory_entries", integrations) == {ticket_of(accepted_integration)}
    assert _projected(platform, "dimona_events", dimona) == {ticket_of(accepted_dimona)}
