"""Every table the worker keeps lives in a compacted platform topic, declared the way faust declares its own
changelogs: without acks (nobody acks what recovery and the standby replicas read)."""

from __future__ import annotations

import uuid

from streams.catalog import Cleanup, platform_topics
from streams.codecs import AvroCodec, SchemaRegistry
from streams.domain.kinds import FAMILIES
from streams.network_files import load_network
from streams.settings import Settings
from tests.component.fakes import COMPONENT_TRANSPORT
from topologies.app import create_app
from topologies.deps import Deps
from topologies.publisher import RecordingPublisher


def test_each_table_is_kept_in_a_compacted_platform_topic_read_without_acks() -> None:
    settings = Settings(
        app_id=f"component-{uuid.uuid4().hex[:6]}", store="memory://", kafka_security=COMPONENT_TRANSPORT
    )
    deps = Deps(
        settings,
        AvroCodec(SchemaRegistry.from_directory(settings.schema_dir)),
        publisher=RecordingPublisher(),
        loaded_network=load_network(settings.network_dir),
    )
    app = create_app(settings, deps=deps)
    compacted = {spec.topic(settings.topic_prefix) for spec in platform_topics() if spec.cleanup is Cleanup.COMPACT}

    changelogs = {table.name: table.changelog_topic for table in app.tables.values()}

    assert set(changelogs) == {"directory", "dmfa", *(f"references-{family.name}" for family in FAMILIES)}
    for name, topic in changelogs.items():
        assert topic.acks is False, name
        (topic_name,) = topic.topics
        assert topic_name in compacted, (name, topic_name)
