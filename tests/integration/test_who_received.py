"""The citizen's answer for real (seed 6.7): `crossroads audit who-received` names refusals and sources.

Given `crossroads worker` and `crossroads projector` running (the session's platform), a worker whose
unemployment body holds a file, when their employer declares a DIMONA IN, another employer's consultation of
their employment is refused, and a requester without a grant tries to re-identify their warehouse pseudonym,
then `who-received` lists the delivery with its source (the employer) and legal basis, the refused consultation
and the refused re-identification marked REFUSED with their reasons and sources, and the audit projection in
`<db>_audit` carries the same sources.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from connectors.clickhouse.warehouse import settings_pseudonymizer
from streams.domain.sources import WAREHOUSE, describe
from streams.settings import Settings
from streams.stack.workers import crossroads_argv
from tests.integration.harness import Platform, eventually
from tests.integration.test_scenarios import (
    EMPLOYER,
    MUTUALITY_A,
    OTHER_EMPLOYER,
    UNEMPLOYMENT_CSC,
    accepted,
    registered,
    reply_to,
)
from tests.support import consultation, dimona_in, integration, niss

pytestmark = pytest.mark.integration

EMPLOYMENT = "be.crossroads.consultation.Employment"
NO_GRANT = MUTUALITY_A  # granted no re-identification (the settings' development grants)


@pytest.fixture(scope="module")
def p(platform: Settings) -> Iterator[Platform]:
    client = Platform(platform)
    yield client
    client.close()


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    # wide enough that each exchange is one row of the table, reason and source included
    env = {**os.environ, **settings.as_env(), "COLUMNS": "400"}
    return subprocess.run(
        [*crossroads_argv(), *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def _client(settings: Settings) -> Any:
    from clickhouse_driver import Client

    address = settings.clickhouse
    return Client(host=address.host, port=address.port, user=address.user, password=address.password)


def test_who_received_shows_refusals_and_the_source_of_each_exchange(p: Platform) -> None:
    settings, worker = p.settings, niss()
    database = settings.clickhouse.database
    registered(p, integration(UNEMPLOYMENT_CSC, "UNEMPLOYMENT", "BENEFICIARY", worker, dt.date(2025, 6, 1)))
    hired = accepted(p, dimona_in(EMPLOYER, worker, dt.date(2026, 1, 5)))
    stranger = reply_to(p, consultation(OTHER_EMPLOYER, "EMPLOYER", worker, EMPLOYMENT, dt.date(2026, 2, 1)))
    assert stranger["status"] == "REFUSED"

    # the projector has mapped the worker's pseudonym (from the DIMONA fact): re-identification can look it up
    client = _client(settings)
    pseudonym = settings_pseudonymizer(settings)(worker)
    eventually(
        "the pseudonym mapping",
        lambda: client.execute(
            f"SELECT count() FROM {database}_reid.pseudonyms WHERE pseudonym = %(p)s", {"p": pseudonym}
        )[0][0],
    )
    refused = cli(
        settings, "warehouse", "reidentify", pseudonym,
        "--requester", NO_GRANT, "--purpose", "oasis", "--quarter", "2026-Q1", "--json",
    )  # fmt: skip
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert json.loads(refused.stdout)["granted"] is False

    # the three exchanges are chained into the audit topic by the worker
    def audited() -> list[dict[str, Any]]:
        found = p.seen(lambda s: s.schema.endswith("AuditRecord") and s.record["person"] == worker)
        return [s.record for s in found] if len(found) >= 3 else []

    audits = eventually("the audit records about the worker", audited)
    assert sorted((a["kind"], a["actor"], a["source"]) for a in audits) == [
        ("CONSULTATION_REFUSED", NO_GRANT, WAREHOUSE),
        ("CONSULTATION_REFUSED", OTHER_EMPLOYER, EMPLOYER),
        ("DELIVERY", UNEMPLOYMENT_CSC, EMPLOYER),
    ]
    delivery = next(a for a in audits if a["kind"] == "DELIVERY")
    assert delivery["source_ticket"] == hired

    answer = cli(settings, "audit", "who-received", worker)

    assert answer.returncode == 0, answer.stdout + answer.stderr
    lines = {a["ticket"]: _line_of(answer.stdout, a["ticket"]) for a in audits}
    got = lines[delivery["ticket"]]
    assert "received" in got and UNEMPLOYMENT_CSC in got and EMPLOYER in got and delivery["legal_basis"] in got
    assert "REFUSED" not in got
    refused_consultation = lines[next(a["ticket"] for a in audits if a["actor"] == OTHER_EMPLOYER)]
    assert "REFUSED" in refused_consultation and EMPLOYER in refused_consultation
    assert "no employment relation" in refused_consultation
    refused_reid = lines[next(a["ticket"] for a in audits if a["actor"] == NO_GRANT)]
    assert "REFUSED" in refused_reid and describe(WAREHOUSE) in refused_reid
    assert "no re-identification grant" in refused_reid
    assert refused_reid.rstrip(" │").endswith(" re-identification")  # the "how" column
    assert "3 exchange(s): 1 allowed, 0 found nothing, 2 refused" in answer.stdout

    # the audit projection carries the same sources (the citizen's questions may be asked of <db>_audit too)
    rows = eventually(
        "the audit projection",
        lambda: (
            found
            if len(
                found := client.execute(
                    f"SELECT kind, actor, source FROM {database}_audit.audit_records FINAL "
                    "WHERE person = %(person)s ORDER BY kind, actor",
                    {"person": worker},
                )
            )
            >= 3
            else []
        ),
    )
    assert rows == [
        ("CONSULTATION_REFUSED", NO_GRANT, WAREHOUSE),
        ("CONSULTATION_REFUSED", OTHER_EMPLOYER, EMPLOYER),
        ("DELIVERY", UNEMPLOYMENT_CSC, EMPLOYER),
    ]


def _line_of(output: str, ticket: str) -> str:
    """The table row naming ``ticket``: exactly one (each exchange once)."""
    rows = [line for line in output.splitlines() if ticket in line]
    assert len(rows) == 1, f"{ticket} on {len(rows)} lines of:\n{output}"
    return rows[0]


WAGES = "be.crossroads.consultation.Wages"


def test_a_consultation_that_found_nothing_is_not_listed_as_data_received(p: Platform) -> None:
    """An authorized consultation of wages nobody declared: the reply says NOT_FOUND, and the audit trail, its
    projection and the citizen's answer say that nothing was given (not GRANTED, not received)."""
    settings, worker = p.settings, niss()
    database = settings.clickhouse.database
    registered(p, integration(UNEMPLOYMENT_CSC, "UNEMPLOYMENT", "BENEFICIARY", worker, dt.date(2025, 6, 1)))

    reply = reply_to(p, consultation(UNEMPLOYMENT_CSC, "BENEFICIARY", worker, WAGES, dt.date(2026, 2, 1)))
    assert reply["status"] == "NOT_FOUND" and reply["payloads"] == []

    audits = eventually(
        "the consultation's audit record",
        lambda: [s.record for s in p.seen(lambda s: s.schema.endswith("AuditRecord") and s.record["person"] == worker)],
    )
    assert len(audits) == 1
    (audit,) = audits
    assert audit["kind"] != "CONSULTATION_GRANTED"
    assert (audit["consultation_status"], audit["actor"], audit["ticket"]) == (
        "NOT_FOUND",
        UNEMPLOYMENT_CSC,
        reply["ticket"],
    )
    assert audit["legal_basis"]  # it was allowed to ask: on this basis
    assert "no be.crossroads.consultation.Wages known" in audit["reason"]

    answer = cli(settings, "audit", "who-received", worker)

    assert answer.returncode == 0, answer.stdout + answer.stderr
    line = _line_of(answer.stdout, audit["ticket"])
    assert "nothing found" in line and audit["legal_basis"] in line and UNEMPLOYMENT_CSC in line
    assert "received" not in line and "granted" not in line and "REFUSED" not in line
    assert "1 exchange(s): 0 allowed, 1 found nothing, 0 refused" in answer.stdout

    rows = eventually(
        "the audit projection",
        lambda: _client(settings).execute(
            f"SELECT kind, consultation_status FROM {database}_audit.audit_records FINAL WHERE person = %(person)s",
            {"person": worker},
        ),
    )
    assert rows == [(audit["kind"], "NOT_FOUND")]
