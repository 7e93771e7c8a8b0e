"""A replay from offset 0 decides in event-time order: a worker that finds the integrations and the facts that
follow them already on the broker notifies every holder, as the live run did (topologies/alignment.py).

Everything is produced before the worker starts: the integrations first, then one address change per person.
Without the directory's gate, the worker reads intake.integrations and intake.civil side by side and decides
many address changes before their person's file exists (the mutuality is then not notified).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator

import pytest

from streams.catalog import INTAKE_TOPICS, LOG_APPEND_TIME, TIMESTAMP_TYPE, platform_topics
from streams.kafka.admin import TopicAdmin, wait_drained, wait_for_group
from streams.network_files import load_network
from streams.settings import Settings
from streams.stack.workers import PlatformWorkers
from tests.integration.harness import Platform, drop_topics, own_run
from tests.support import address_change, integration, niss
from topologies.app import create_app, source_topics

pytestmark = pytest.mark.integration

PEOPLE = 3_000
MUTUALITY = "0206731645"


@pytest.fixture
def replay_settings(topics: Settings) -> Iterator[Settings]:
    settings = own_run(topics, "align", web_port=topics.web_port + 3)
    TopicAdmin(settings).apply(platform_topics(load_network(settings.network_dir).institutions))
    yield settings
    if not os.environ.get("CROSSROADS_KEEP_TEST_DATA"):
        drop_topics(settings)


def test_the_intake_topics_stamp_the_brokers_append_time() -> None:
    assert all(spec.config()[TIMESTAMP_TYPE] == LOG_APPEND_TIME for spec in INTAKE_TOPICS)


@pytest.mark.timeout(900)
def test_a_replay_from_offset_0_notifies_every_holder_registered_before_the_fact(replay_settings: Settings) -> None:
    settings = replay_settings
    p = Platform(settings, watched=r"mailbox\..*")
    people = [niss() for _ in range(PEOPLE)]
    # the whole history before any worker runs: what a replay from offset 0 finds
    p.send_many([integration(MUTUALITY, "MUTUALITY", "TITULAR", person, dt.date(2020, 1, 1)) for person in people])
    moves = [address_change(person, dt.date(2025, 1, 1)) for person in people]
    p.send_many(moves)
    workers = PlatformWorkers(settings, commands=("worker",))
    workers.start()
    try:
        wait_for_group(settings, settings.app_id, timeout=120, check=workers.check)
        wait_drained(settings, settings.app_id, source_topics(create_app(settings)), timeout=600, check=workers.check)
        p.wait_caught_up(timeout=120)
        workers.check()
        notified = {
            n.record["person"]
            for n in p.seen(lambda s: s.schema.endswith("Notification") and s.record["recipient"] == MUTUALITY)
        }
    finally:
        workers.stop()
        p.close()
    missing = set(people) - notified
    assert not missing, f"{len(missing)} of {PEOPLE} address changes were decided before their person's file existed"
