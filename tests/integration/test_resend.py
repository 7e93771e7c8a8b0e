"""A resend is refused, not processed twice (envelope.duplicate_reference), on the real pipeline.

A sender that did not get its acknowledgement sends the same declaration again, under the same reference. The
intake tickets each message by its position, so without the rule the resend would be a second fact and a second
round of notifications. Here the resend is refused, naming the first ticket; one fact, one notification per holder.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from streams.settings import Settings
from tests.integration.harness import Platform, ticket_of
from tests.integration.test_scenarios import EMPLOYER, MUTUALITY_A, registered
from tests.support import address_change, dimona_in, integration, niss, with_envelope

pytestmark = pytest.mark.integration

WATCHED = Platform.WATCHED + r"|facts\..*"
DUPLICATE = "envelope.duplicate_reference"


@pytest.fixture(scope="module")
def client(platform: Settings) -> Iterator[Platform]:
    watcher = Platform(platform, watched=WATCHED)
    yield watcher
    watcher.close()


def _acks(p: Platform, reference: str, count: int) -> list[dict[str, Any]]:
    found = p.wait(
        lambda s: s.schema.endswith("Acknowledgement") and s.record["sender_reference"] == reference, count=count
    )
    return [s.record for s in found]


def test_a_resent_address_change_and_dimona_are_refused_once_decided_and_their_holders_told_once(
    client: Platform,
) -> None:
    p, person, worker = client, niss(), niss()
    registered(p, integration(MUTUALITY_A, "MUTUALITY", "TITULAR", person, dt.date(2020, 1, 1)))
    move = address_change(person, dt.date(2026, 3, 1))
    hire = dimona_in(EMPLOYER, worker, dt.date(2026, 3, 1))

    for declaration in (move, hire):
        reference = p.send(*declaration)
        first = ticket_of(p.ack(reference))  # decided before the resend: the intake remembers the reference
        p.send(*declaration)
        accepted, refused = _acks(p, reference, count=2)
        assert accepted["status"] == "ACCEPTED" and ticket_of(accepted) == first
        assert refused["status"] == "REJECTED" and refused["ticket"] != first
        (violation,) = refused["violations"]
        assert violation["code"] == DUPLICATE and first in violation["message"]

    # another reference for the same content is another declaration: not refused as a resend
    again = with_envelope(move[1], sender_reference=f"{move[1]['envelope']['sender_reference']}-2")
    assert p.ack(p.send(move[0], again))["status"] == "ACCEPTED"

    p.wait_caught_up()
    p.settle()
    facts = [s.record for s in p.seen(lambda s: ".facts." in s.topic)]
    by_reference: dict[str, int] = {}
    for fact in facts:
        reference = fact["envelope"]["sender_reference"]
        by_reference[reference] = by_reference.get(reference, 0) + 1
    assert by_reference[move[1]["envelope"]["sender_reference"]] == 1
    assert by_reference[hire[1]["envelope"]["sender_reference"]] == 1
    rejections = p.seen(lambda s: s.schema.endswith("Rejection") and s.record["person"] in (person, worker))
    assert sorted(r.record["violations"][0]["code"] for r in rejections) == [DUPLICATE, DUPLICATE]
    move_ticket = ticket_of(p.ack(move[1]["envelope"]["sender_reference"]))
    assert [n.record["recipient"] for n in p.notifications(move_ticket)] == [MUTUALITY_A]
