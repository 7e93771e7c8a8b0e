"""Pseudonym purposes for real (seed 4.12, 4.14), through the running platform: intake -> facts -> projector ->
ClickHouse -> OASIS -> `crossroads warehouse reidentify`.

Given `crossroads worker` and `crossroads projector` running (the session's platform), an employer that hires
ten workers in one week of a quarter (massive hiring: OASIS flags it) and another that hires one (nothing fires),
then

* each person has one pseudonym per purpose: the statistics tables (`<db>`) carry the statistics purpose's, the
  OASIS tables (`<db>_oasis`) the anti-fraud purpose's, and the two differ;
* the OASIS indicators name the flagged employer and, in the anti-fraud space, the workers they are about;
* re-identification resolves a flagged worker's anti-fraud pseudonym for the inspection service's anti-fraud
  grant, and refuses, with a specific reason, the pseudonym of a worker OASIS did not flag, a pseudonym of the
  other purpose's space, and a request under the statistics purpose; every attempt is chained into the audit
  trail (granted or refused) against the person concerned.

The quarter (2029-Q2) is one no other test of the session declares anything in, so the indicators see only
these two employers.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from connectors.clickhouse.warehouse import settings_pseudonymizer
from streams.settings import Settings
from streams.stack.workers import crossroads_argv
from streams.synthetic.numbers import enterprise_number
from tests.integration.harness import Platform, eventually, ticket_of
from tests.support import dimona_in, niss

pytestmark = pytest.mark.integration

QUARTER = "2029-Q2"
HIRING = enterprise_number(7_000_001)  # ten hires in the week of 2 April 2029: massive hiring
QUIET = enterprise_number(7_000_002)  # one hire in May 2029: no indicator
INSPECTION = "0403170701"  # the settings' development grant: re-identification for the anti-fraud purpose
REIDENTIFICATION = "be.crossroads.warehouse.Reidentification"


@dataclass(frozen=True)
class Hired:
    settings: Settings
    platform: Platform
    flagged: list[str]  # the ten workers HIRING hired
    quiet: str  # the one QUIET hired


def _cli(settings: Settings, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, **settings.as_env(), "COLUMNS": "250", **(env or {})}
    return subprocess.run(
        [*crossroads_argv(), *args], env=environment, capture_output=True, text=True, timeout=300, check=False
    )


def _client(settings: Settings) -> Any:
    from clickhouse_driver import Client

    address = settings.clickhouse
    return Client(host=address.host, port=address.port, user=address.user, password=address.password)


@pytest.fixture(scope="module")
def hired(platform: Settings) -> Iterator[Hired]:
    """The eleven DIMONA IN declarations sent to intake, accepted, and projected into both purposes' tables."""
    p = Platform(platform)
    try:
        flagged = [niss() for _ in range(10)]
        quiet = niss()
        week = dt.date(2029, 4, 2)
        declarations = [dimona_in(HIRING, worker, week + dt.timedelta(days=n % 5)) for n, worker in enumerate(flagged)]
        declarations.append(dimona_in(QUIET, quiet, dt.date(2029, 5, 14)))
        p.send_many(declarations)
        for _, record in declarations:
            ticket_of(p.ack(str(record["envelope"]["sender_reference"]), timeout=180))

        client, database = _client(platform), platform.clickhouse.database
        eventually(
            "the projector's rows of both purposes",
            lambda: all(
                client.execute(f"SELECT count() FROM {table} WHERE employer IN %(e)s", {"e": (HIRING, QUIET)})[0][0]
                == 11
                for table in (f"{database}.dimona_events", f"{database}_oasis.dimona_events")
            ),
        )
        yield Hired(platform, p, flagged, quiet)
    finally:
        p.close()


def _pseudonyms(settings: Settings, purpose: str) -> Callable[[str], str]:
    return settings_pseudonymizer(settings, purpose)


def _reidentify(settings: Settings, purpose: str, *pseudonyms: str) -> tuple[int, dict[str, Any]]:
    shown = _cli(
        settings,
        "warehouse",
        "reidentify",
        *pseudonyms,
        "--requester",
        INSPECTION,
        "--purpose",
        purpose,
        "--quarter",
        QUARTER,
        "--json",
    )
    assert shown.returncode in (0, 2), shown.stdout + shown.stderr
    return shown.returncode, json.loads(shown.stdout)


def _audited(hired: Hired, ticket: str) -> dict[str, Any]:
    """The audit record the worker chained for the re-identification request `ticket` (one pseudonym asked)."""
    found = hired.platform.wait(
        lambda s: s.schema.endswith("AuditRecord") and s.record["source_ticket"] == ticket, timeout=240
    )
    assert len(found) == 1, f"expected one audit record for {ticket}, got {len(found)}"
    return found[0].record


def test_each_purpose_has_its_own_pseudonyms_in_the_warehouse(hired: Hired) -> None:
    settings, database = hired.settings, hired.settings.clickhouse.database
    client = _client(settings)
    statistics, oasis = settings.warehouse_purpose, settings.oasis_purpose
    assert statistics != oasis
    stats_of, oasis_of = _pseudonyms(settings, statistics), _pseudonyms(settings, oasis)

    in_statistics = {
        row[0]
        for row in client.execute(f"SELECT worker FROM {database}.dimona_events WHERE employer = %(e)s", {"e": HIRING})
    }
    in_oasis = {
        row[0]
        for row in client.execute(
            f"SELECT worker FROM {database}_oasis.dimona_events WHERE employer = %(e)s", {"e": HIRING}
        )
    }
    assert in_statistics == {stats_of(w) for w in hired.flagged}
    assert in_oasis == {oasis_of(w) for w in hired.flagged}
    assert not in_statistics & in_oasis  # one person, two pseudonyms that cannot be joined
    assert all(stats_of(w) != oasis_of(w) for w in hired.flagged)

    # the mapping keeps each pseudonym under its own purpose
    worker = hired.flagged[0]
    mapped = client.execute(
        f"SELECT purpose, pseudonym FROM {database}_reid.pseudonyms FINAL WHERE person = %(p)s ORDER BY purpose",
        {"p": worker},
    )
    assert sorted(mapped) == sorted([(statistics, stats_of(worker)), (oasis, oasis_of(worker))])


def test_oasis_flags_the_hiring_employer_and_names_its_workers_in_the_anti_fraud_space(hired: Hired) -> None:
    settings = hired.settings
    shown = _cli(settings, "warehouse", "oasis", "--quarter", QUARTER, "--persons", "--json")
    assert shown.returncode == 0, shown.stdout + shown.stderr
    flags = {f["employer"]: f for f in json.loads(shown.stdout)}
    assert QUIET not in flags
    assert "massive_hiring" in flags[HIRING]["indicators"]
    oasis_of = _pseudonyms(settings, settings.oasis_purpose)
    assert set(flags[HIRING]["persons"]) == {oasis_of(w) for w in hired.flagged}


def test_a_person_not_flagged_by_oasis_is_refused_and_the_refusal_is_audited(hired: Hired) -> None:
    settings = hired.settings
    pseudonym = _pseudonyms(settings, settings.oasis_purpose)(hired.quiet)

    code, answer = _reidentify(settings, settings.oasis_purpose, pseudonym)

    assert code == 2
    assert answer["granted"] is False and answer["persons"] == {}
    assert f"not flagged by the OASIS indicators of {QUARTER}" in answer["refused"][pseudonym]
    assert hired.quiet not in json.dumps(answer)
    entry = _audited(hired, answer["ticket"])
    assert (entry["kind"], entry["actor"], entry["person"], entry["data_type"]) == (
        "CONSULTATION_REFUSED",
        INSPECTION,
        hired.quiet,
        REIDENTIFICATION,
    )
    assert f"not flagged by the OASIS indicators of {QUARTER}" in entry["reason"]
    assert entry["legal_basis"] is None


def test_a_flagged_persons_pseudonym_resolves_under_the_anti_fraud_grant_and_not_under_statistics(
    hired: Hired,
) -> None:
    settings = hired.settings
    worker = hired.flagged[3]
    oasis, statistics = settings.oasis_purpose, settings.warehouse_purpose
    in_oasis, in_statistics = _pseudonyms(settings, oasis)(worker), _pseudonyms(settings, statistics)(worker)

    # the anti-fraud purpose's grant, the anti-fraud pseudonym of a flagged worker: resolved, audited as granted
    code, granted = _reidentify(settings, oasis, in_oasis)
    assert code == 0, granted
    assert granted["granted"] is True and granted["persons"] == {in_oasis: worker} and granted["refused"] == {}
    entry = _audited(hired, granted["ticket"])
    assert (entry["kind"], entry["actor"], entry["person"]) == ("CONSULTATION_GRANTED", INSPECTION, worker)
    assert entry["legal_basis"] == settings.reidentification_grants[INSPECTION][oasis]

    # the same person's statistics pseudonym under the anti-fraud grant: not of that purpose's space
    code, other_space = _reidentify(settings, oasis, in_statistics)
    assert code == 2 and other_space["persons"] == {}
    assert f"not a pseudonym of purpose {oasis!r}" in other_space["refused"][in_statistics]
    entry = _audited(hired, other_space["ticket"])
    assert (entry["kind"], entry["person"]) == ("CONSULTATION_REFUSED", worker)
    assert f"not a pseudonym of purpose {oasis!r}" in entry["reason"]

    # under the statistics purpose: the inspection service holds no such grant, and none can be configured
    for pseudonym in (in_oasis, in_statistics):
        code, refused = _reidentify(settings, statistics, pseudonym)
        assert code == 2 and refused["persons"] == {}
        assert f"may not re-identify for purpose {statistics!r}" in refused["refused"][pseudonym]
        entry = _audited(hired, refused["ticket"])
        assert (entry["kind"], entry["person"]) == ("CONSULTATION_REFUSED", worker)
    grants = {INSPECTION: {statistics: "a deliberation for statistics", oasis: "dev-only"}}
    configured = _cli(
        settings,
        "warehouse",
        "reidentify",
        in_statistics,
        "--requester",
        INSPECTION,
        "--purpose",
        statistics,
        "--quarter",
        QUARTER,
        env={"CROSSROADS_REIDENTIFICATION_GRANTS": json.dumps(grants)},
    )
    assert configured.returncode != 0
    assert f"only the anti-fraud purpose {oasis!r} re-identifies" in configured.stdout + configured.stderr
