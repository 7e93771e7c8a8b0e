"""A second worker joining the group takes its share of the partitions while the first is busy with a backlog,
and nothing is lost (topologies/faust_overrides.py, override 9).

The first worker starts on a backlog: integrations, then one address change per person. Its directory's gate is
made to hold every event until the stall guard lets it go (`alignment_max_hold_s`, 75 s here; an alignment
grace of an hour, so that the intake partitions that never receive anything do not count as done), so it
surely holds events when the second worker joins. faust's revoke waited for those held events -- here until the
stall guard, in production until the broker evicted the worker, which then stayed alive and a member of nothing
for good while the second did all the work. With the override the group shares the partitions within seconds;
the bound below (45 s) is far above that and far below the stall guard.

Once the rebalance gave the first worker back partitions whose every message it had written before was
committed, its gate also waited for those messages for good (nothing is delivered again below the committed
offset): the drain below never ended.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterator

import pytest

from streams.catalog import Area, by_key, platform_topics
from streams.kafka.admin import TopicAdmin, group_assignment, wait_drained, wait_for_group
from streams.network_files import load_network
from streams.settings import Settings
from streams.stack.workers import PlatformWorkers
from tests.integration.harness import Platform, drop_topics, own_run
from tests.support import address_change, integration, niss
from topologies.app import create_app, source_topics

pytestmark = pytest.mark.integration

PEOPLE = 1_000
GRACE_MS = 3_600_000
MAX_HOLD_S = 75.0
SHARED_WITHIN_S = 45.0
MUTUALITY = "0206731645"


@pytest.fixture
def scale_settings(topics: Settings) -> Iterator[Settings]:
    settings = own_run(
        topics, "scale", web_port=topics.web_port + 4, alignment_grace_ms=GRACE_MS, alignment_max_hold_s=MAX_HOLD_S
    )
    TopicAdmin(settings).apply(platform_topics(load_network(settings.network_dir).institutions))
    yield settings
    if not os.environ.get("CROSSROADS_KEEP_TEST_DATA"):
        drop_topics(settings)


def _both_members_hold_partitions(settings: Settings, directory_topic: str, timeout: float) -> dict[str, int]:
    """Wait until the group is stable with two members, each holding partitions of the directory's input."""
    deadline = time.monotonic() + timeout
    last: dict[str, set[tuple[str, int]]] | None = None
    while time.monotonic() < deadline:
        last = group_assignment(settings, settings.app_id)
        if last is not None and len(last) == 2:
            shares = {member: sum(1 for t, _ in tps if t == directory_topic) for member, tps in last.items()}
            if all(shares.values()):
                return shares
        time.sleep(0.5)
    raise AssertionError(f"the group never shared the directory's partitions between two workers: {last}")


@pytest.mark.timeout(900)
def test_a_worker_joining_during_a_backlog_gets_its_share_and_nothing_is_lost(scale_settings: Settings) -> None:
    settings = scale_settings
    p = Platform(settings, watched=r"mailbox\..*")
    people = [niss() for _ in range(PEOPLE)]
    p.send_many([integration(MUTUALITY, "MUTUALITY", "TITULAR", person, dt.date(2020, 1, 1)) for person in people])
    p.send_many([address_change(person, dt.date(2025, 1, 1)) for person in people])
    first = PlatformWorkers(settings, commands=("worker",))
    second = PlatformWorkers(
        settings.model_copy(update={"state_dir": settings.state_dir / "second-worker"}), commands=("worker",)
    )
    directory_topic = by_key(Area("facts"), "civil").topic(settings.topic_prefix)

    def both_alive() -> None:
        first.check()
        second.check()

    first.start()
    try:
        wait_for_group(settings, settings.app_id, timeout=120, check=first.check)
        # the intake acknowledges the address changes while the directory's gate holds the integrations and the facts
        # when the second
        # worker joins
        p.wait(lambda s: s.schema.endswith("Acknowledgement"), count=PEOPLE // 2, timeout=120)
        second.start()
        shares = _both_members_hold_partitions(settings, directory_topic, timeout=SHARED_WITHIN_S)
        both_alive()
        wait_drained(
            settings,
            settings.app_id,
            source_topics(create_app(settings)),
            timeout=600,
            check=both_alive,
        )
        p.wait_caught_up(timeout=120)
        notified = {
            n.record["person"]
            for n in p.seen(lambda s: s.schema.endswith("Notification") and s.record["recipient"] == MUTUALITY)
        }
        # both still members with their share: neither was evicted or left idle after the rebalance
        assert group_assignment(settings, settings.app_id) is not None
        assert len(group_assignment(settings, settings.app_id) or {}) == 2
    finally:
        second.stop()
        first.stop()
        p.close()
    assert sum(shares.values()) == settings.default_partitions
    missing = set(people) - notified
    assert not missing, f"{len(missing)} of {PEOPLE} address changes never notified the mutuality"
