"""Every topic on the broker has the retention docs/warehouse.md ("Retention of every store") promises, after
`topics apply` -- including a topic created earlier with the old keep-forever config, which `apply` alters."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from confluent_kafka.admin import NewTopic

from streams.catalog import DAY_MS, LOG_APPEND_TIME, TIMESTAMP_TYPE, YEAR_MS, Area, by_key
from streams.kafka.admin import TopicAdmin, _quiet_admin
from streams.settings import PROJECT_ROOT, Settings
from streams.topics import needed_topics
from tests.integration.harness import drop_topics, own_run

pytestmark = pytest.mark.integration

TABLE = PROJECT_ROOT / "docs" / "warehouse.md"


def documented() -> list[tuple[re.Pattern[str], str]]:
    """(topic pattern without prefix and version, "kept") for each row of the Kafka table."""
    text = TABLE.read_text()
    section = text.split("### Retention of every store", 1)[1].split("| other stores |", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`"):
            continue
        for name in re.findall(r"`([a-z.*-]+)`", cells[0]):
            rows.append((re.compile(re.escape(name).replace(r"\*", "[a-z0-9-]+") + "$"), cells[2]))
    assert len(rows) > 10, f"the retention table in {TABLE} was not found"
    return rows


def expected_config(kept: str) -> dict[str, str]:
    if kept == "compacted":
        return {"cleanup.policy": "compact"}
    number, unit = kept.split()
    ms = int(number) * (DAY_MS if unit == "days" else int(YEAR_MS))
    config = {"cleanup.policy": "delete", "retention.ms": str(ms)}
    if ms <= 30 * DAY_MS:
        config["segment.ms"] = str(DAY_MS)
    return config


@pytest.fixture
def run_settings(stack_settings: Settings) -> Iterator[Settings]:
    settings = own_run(stack_settings, "retention")
    yield settings
    drop_topics(settings)


def test_every_topic_on_the_broker_keeps_what_the_documented_table_says(run_settings: Settings) -> None:
    settings = run_settings
    # a topic from before: kept forever, CreateTime
    old = by_key(Area.OUTCOMES, "rejections").topic(settings.topic_prefix)
    old_intake = by_key(Area.INTAKE, "civil").topic(settings.topic_prefix)
    admin = _quiet_admin(settings)
    created = admin.create_topics(
        [
            NewTopic(old, 1, settings.replication_factor, config={"retention.ms": "-1"}),
            NewTopic(old_intake, 1, settings.replication_factor, config={TIMESTAMP_TYPE: "CreateTime"}),
        ]
    )
    for future in created.values():
        future.result(30)

    changes = {c.topic: c for c in TopicAdmin(settings).apply(needed_topics(settings))}
    assert changes[old].action == "config" and "retention.ms" in changes[old].detail
    assert changes[old_intake].action == "config" and TIMESTAMP_TYPE in changes[old_intake].detail

    rows = documented()
    prefix = re.escape(settings.topic_prefix)
    states = TopicAdmin(settings).states(needed_topics(settings))
    assert states
    for state in states:
        name = re.sub(rf"^{prefix}\.(.*)\.v1$", r"\1", state.topic)
        kept = [k for pattern, k in rows if pattern.match(name)]
        assert len(kept) == 1, f"{name}: {len(kept)} rows of the documented table match it"
        want = expected_config(kept[0])
        assert {k: state.config.get(k) for k in want} == want, name
        if name.startswith("intake."):
            assert state.config[TIMESTAMP_TYPE] == LOG_APPEND_TIME, name
    assert all(s.actual_partitions is not None for s in states)
    # a second apply changes nothing
    assert {c.action for c in TopicAdmin(settings).apply(needed_topics(settings))} == {"unchanged"}
