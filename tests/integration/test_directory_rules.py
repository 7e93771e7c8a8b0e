"""The reference directory's rules on the real pipeline: declarations sent like an institution or an employer
would, through intake, the directory, the senders' mailboxes, the holders' notifications and the warehouse.

* a refused declaration is told every rule it breaks, in its acknowledgement and its rejection record;

Each test uses fresh people, so tests never see each other's files.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from streams.settings import Settings
from tests.integration.harness import Platform, envelope, integration, niss
from tests.integration.test_scenarios import (
    MUTUALITY_A,
    MUTUALITY_B,
    UNEMPLOYMENT_CSC,
    registered,
)

pytestmark = pytest.mark.integration

EMPLOYMENT = "be.crossroads.consultation.Employment"


@pytest.fixture(scope="module")
def p(platform: Settings) -> Iterator[Platform]:
    client = Platform(platform)
    yield client
    client.close()


def _eventually(what: str, probe: Callable[[], Any], timeout: float = 180.0) -> Any:
    """The first truthy answer of ``probe``: a loaded machine may take long, so this only bounds a hang."""
    deadline = time.monotonic() + timeout
    while not (answer := probe()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)
    return answer


def dimona_update(employer: str, worker: str, relation_start: dt.date, **changes: Any) -> tuple[str, dict[str, Any]]:
    return (
        "be.crossroads.dimona.DimonaUpdate",
        {
            "envelope": envelope(employer),
            "employer": employer,
            "worker": worker,
            "relation_start_date": relation_start,
            "new_start_date": changes.get("new_start_date"),
            "new_end_date": changes.get("new_end_date"),
            "new_joint_committee": changes.get("new_joint_committee"),
            "new_worker_type": changes.get("new_worker_type"),
        },
    )


def rejected_with(p: Platform, reference: str) -> tuple[list[str], list[str]]:
    """The violation codes of a refused declaration: (its acknowledgement's, its rejection record's)."""
    ack = p.ack(reference)
    assert ack["status"] == "REJECTED", ack
    found = p.wait(lambda s: s.schema.endswith("Rejection") and s.record["sender_reference"] == reference)
    assert found, f"no rejection record for {reference}"
    assert found[0].record["stage"] == "directory"
    return [v["code"] for v in ack["violations"]], [v["code"] for v in found[0].record["violations"]]


# -- D8: every refusal, not only the first --------------------------------------------------------------------


def test_a_refused_integration_is_told_every_rule_it_breaks(p: Platform) -> None:
    person = niss()
    registered(p, integration(MUTUALITY_A, "MUTUALITY", "TITULAR", person, dt.date(2020, 1, 1)))
    # the unemployment body registers, in its own name, a file of another institution that overlaps A's
    schema, record = integration(MUTUALITY_B, "MUTUALITY", "TITULAR", person, dt.date(2024, 1, 1))
    record["envelope"] = envelope(UNEMPLOYMENT_CSC)

    in_ack, in_rejection = rejected_with(p, p.send(schema, record))

    assert in_ack == in_rejection == ["directory.not_own_file", "directory.overlap"]


def test_a_refused_unregistration_is_told_every_rule_it_breaks(p: Platform) -> None:
    person = niss()

    reference = p.send(
        *integration(MUTUALITY_A, "MUTUALITY", "PENSIONER", person, dt.date(2020, 1, 1), action="UNREGISTER")
    )

    in_ack, in_rejection = rejected_with(p, reference)
    expected = ["directory.unknown_capacity", "directory.unregister_without_end", "directory.not_registered"]
    assert in_ack == in_rejection == expected
