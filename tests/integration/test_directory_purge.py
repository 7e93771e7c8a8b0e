"""The directory purges what is past its legal period, audited (issue 15, item 5), on the real pipeline.

The production worker (`crossroads worker`, its own topics and group) is given, through intake, directory
entries and a DIMONA relation that ended long ago, beside others still open or closed recently. Asked to purge
(SIGUSR2, the operator's "purge now"; the periodic sweep is off here, `directory_purge_interval_s=0`), it
removes exactly those past their period:

* `crossroads directory show` (the changelog, the operators' read path) no longer lists them, and a person
  whose file held nothing else has no file at all (a tombstone);
* the audit trail holds one purge record per item, `crossroads audit verify` passes and
  `crossroads audit who-received` lists the purge;
* restarted, the worker recovers its table from the changelog without them: an integration (and a DIMONA IN)
  overlapping a purged period is accepted, while one overlapping an entry still there is refused -- the same
  probes, sent before the purge, were refused.

The dates are real days in the past: the worker's own clock decides, as in production.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.catalog import platform_topics
from streams.domain.retention import DIRECTORY_ACTOR
from streams.kafka.admin import TopicAdmin, wait_for_group
from streams.network_files import load_network
from streams.settings import Settings
from streams.stack.workers import PlatformWorkers
from tests.integration.harness import Platform, Seen, drop_topics, eventually, own_run
from tests.integration.test_scenarios import EMPLOYER, MUTUALITY_A, MUTUALITY_B, accepted, cli
from tests.support import dimona_in, integration, niss

pytestmark = pytest.mark.integration

LONG_AGO = (dt.date(2001, 1, 1), dt.date(2012, 12, 31))  # closed more than 10 years before any day from 2023 on
RECENTLY = (dt.date(2015, 1, 1), dt.date(2024, 6, 30))
OPEN_SINCE = dt.date(2014, 1, 1)
OVERLAPPING = (dt.date(2005, 1, 1), dt.date(2006, 12, 31))  # within LONG_AGO, before OPEN_SINCE


@pytest.fixture
def purge_settings(topics: Settings, tmp_path: Path) -> Iterator[Settings]:
    settings = own_run(
        topics,
        "purge",
        web_port=topics.web_port + 7,
        directory_purge_interval_s=0.0,  # only on demand: nothing is purged before the test asks
        audit_seal_file=tmp_path / "audit" / "verified-heads.json",
    )
    TopicAdmin(settings).apply(platform_topics(load_network(settings.network_dir).institutions))
    yield settings
    if not os.environ.get("CROSSROADS_KEEP_TEST_DATA"):
        drop_topics(settings)


def refused_codes(p: Platform, declaration: tuple[str, dict[str, object]]) -> list[str]:
    ack = p.ack(p.send(*declaration))
    return [v["code"] for v in ack["violations"]] if ack["status"] == "REJECTED" else []


def purge_records(p: Platform) -> list[dict[str, object]]:
    return [s.record for s in p.seen(_is_purge)]


def _is_purge(s: Seen) -> bool:
    return s.schema.endswith("AuditRecord") and s.record.get("purged") is not None


def shown(settings: Settings, person: str) -> str:
    result = cli(settings, "directory", "show", person)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.timeout(900)
def test_the_directory_purges_what_is_past_its_period_audited_and_a_restart_does_not_bring_it_back(
    purge_settings: Settings,
) -> None:
    settings = purge_settings
    workers = PlatformWorkers(settings, commands=("worker",))
    workers.start()
    p = Platform(settings, watched=r"mailbox\..*|outcomes\.rejections|audit\.exchanges")
    try:
        wait_for_group(settings, settings.app_id, timeout=120, check=workers.check)
        kept_and_purged, only_purged, recent, worker = niss(), niss(), niss(), niss()
        closed_long_ago = accepted(p, integration(MUTUALITY_A, "MUTUALITY", "TITULAR", kept_and_purged, *LONG_AGO))
        still_open = accepted(p, integration(MUTUALITY_A, "MUTUALITY", "TITULAR", kept_and_purged, OPEN_SINCE))
        alone = accepted(p, integration(MUTUALITY_A, "MUTUALITY", "TITULAR", only_purged, *LONG_AGO))
        recently_closed = accepted(p, integration(MUTUALITY_A, "MUTUALITY", "TITULAR", recent, *RECENTLY))
        ended_job = accepted(p, dimona_in(EMPLOYER, worker, dt.date(2008, 3, 3), dt.date(2015, 6, 30)))
        accepted(p, dimona_in(EMPLOYER, worker, dt.date(2020, 1, 6)))  # open: kept

        # the probes, before the purge: another institution of the sector in an overlapping period, another
        # relation of the same employer over the ended one -- refused while the old ones are in the files
        overlap_old = integration(
            MUTUALITY_B, "MUTUALITY", "TITULAR", kept_and_purged, dt.date(2005, 1, 1), dt.date(2006, 12, 31)
        )
        assert refused_codes(p, overlap_old) == ["directory.overlap"]
        assert refused_codes(p, dimona_in(EMPLOYER, worker, dt.date(2009, 1, 5), dt.date(2009, 6, 30))) == [
            "dimona.relation_overlap"
        ]
        assert purge_records(p) == []

        os.kill(workers.processes["worker"].pid() or 0, signal.SIGUSR2)  # purge now

        eventually("the purge's audit records", lambda: len(p.seen(_is_purge)) >= 3)
        p.wait_caught_up()
        purged = purge_records(p)
        by_source_ticket = {r["source_ticket"]: r for r in purged}
        assert sorted(by_source_ticket) == sorted([closed_long_ago, alone, ended_job]), purged
        assert len({r["audit_id"] for r in purged}) == 3
        assert {r["purged"] for r in purged} == {"DIRECTORY_ENTRY", "EMPLOYMENT_RELATION"}
        entry_record = by_source_ticket[closed_long_ago]
        assert (entry_record["person"], entry_record["actor"], entry_record["source"], entry_record["kind"]) == (
            kept_and_purged,
            DIRECTORY_ACTOR,
            MUTUALITY_A,
            "REFUSAL",
        )
        assert str(entry_record["reason"]).startswith("purged: ended on 2012-12-31")
        assert (by_source_ticket[ended_job]["person"], by_source_ticket[ended_job]["source"]) == (worker, EMPLOYER)

        # the operators' read path (the changelog): the old entries are gone, the others stay
        eventually("the purged files in the changelog", lambda: "2001-01-01" not in shown(settings, kept_and_purged))
        kept = shown(settings, kept_and_purged)
        assert still_open in kept and closed_long_ago not in kept
        eventually("the tombstone of the file purged whole", lambda: "no file" in shown(settings, only_purged))
        assert recently_closed in shown(settings, recent)
        jobs = shown(settings, worker)
        assert "2020-01-06" in jobs and "2008-03-03" not in jobs, jobs

        # the audit trail, purge records included, still verifies; the citizen sees the purge
        verified = cli(settings, "audit", "verify")
        assert verified.returncode == 0, verified.stdout + verified.stderr
        answer = cli(settings, "audit", "who-received", kept_and_purged)
        assert answer.returncode == 0, answer.stderr
        assert "purged DIRECTORY_ENTRY" in answer.stdout and "1 item(s) purged" in answer.stdout

        # restarted: the table recovered from the changelog has what the purge left, and only that
        stopped = workers.stop()
        assert stopped == ["worker"], f"the worker died early; see logs in {workers.home}"
        workers.start()
        wait_for_group(settings, settings.app_id, timeout=120, check=workers.check)
        # (new declarations: a resend of the same reference would be another question)
        overlap_old = integration(MUTUALITY_B, "MUTUALITY", "TITULAR", kept_and_purged, *OVERLAPPING)
        assert refused_codes(p, overlap_old) == []  # the purged entry did not come back
        overlap_gone = integration(
            MUTUALITY_B, "MUTUALITY", "TITULAR", only_purged, dt.date(2005, 1, 1), dt.date(2006, 12, 31)
        )
        assert refused_codes(p, overlap_gone) == []  # nor did the file deleted whole
        assert refused_codes(p, dimona_in(EMPLOYER, worker, dt.date(2009, 1, 5), dt.date(2009, 6, 30))) == []
        # what was kept was recovered: an overlap with the open entry is refused as before
        assert refused_codes(
            p, integration(MUTUALITY_B, "MUTUALITY", "TITULAR", kept_and_purged, dt.date(2016, 1, 1))
        ) == ["directory.overlap"]
        assert len(purge_records(p)) == 3  # nothing purged again without being asked
    finally:
        p.close()
        workers.stop()
