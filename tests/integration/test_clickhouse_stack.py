"""The real ClickHouse server of the stack: it answers, and migrations are applied once and guarded.

Fixtures `stack_settings` (Settings pointing at the server) and `clickhouse` (a connected clickhouse_driver
client, on a database that exists) come from tests/conftest.py. Each test works in its own database.
"""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Iterator
from datetime import datetime
from urllib.parse import urlsplit

import pytest
from clickhouse_driver import Client

from connectors.clickhouse import ChecksumMismatch, applied, discover, migrate, pending
from streams.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def scratch(
    stack_settings: Settings, clickhouse: Client, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    """The stack's settings, with a database of the test's own and a copy of the migrations it may edit."""
    database = f"crossroads_it_{uuid.uuid4().hex[:12]}"
    migrations = tmp_path_factory.mktemp("migrations") / "migrations"
    shutil.copytree(stack_settings.migrations_dir, migrations)
    # swap only the path, so credentials stay spelled exactly as the fixture gave them
    url = urlsplit(stack_settings.clickhouse_url)._replace(path=f"/{database}").geturl()
    try:
        yield stack_settings.model_copy(update={"clickhouse_url": url, "migrations_dir": migrations})
    finally:
        clickhouse.execute(f"DROP DATABASE IF EXISTS {database}")


def test_the_server_answers_select_version(clickhouse: Client) -> None:
    version = clickhouse.execute("SELECT version()")[0][0]
    assert re.match(r"^\d+\.\d+", version), version


def test_migrating_twice_applies_each_file_once(clickhouse: Client, scratch: Settings) -> None:
    files = discover(scratch.migrations_dir)
    database = scratch.clickhouse.database

    assert [m.filename for m in migrate(clickhouse, scratch)] == [m.filename for m in files]
    assert migrate(clickhouse, scratch) == []
    assert pending(clickhouse, scratch) == []

    ledger = clickhouse.execute(f"SELECT version, name, checksum FROM {database}.schema_migrations ORDER BY version")
    assert ledger == [(m.version, m.name, m.checksum) for m in files]
    assert [r.version for r in applied(clickhouse, scratch)] == [m.version for m in files]


def test_journey_keeps_one_row_per_ticket_after_a_redelivery(clickhouse: Client, scratch: Settings) -> None:
    migrate(clickhouse, scratch)
    table = f"{scratch.clickhouse.database}.journey"
    when = datetime(2026, 3, 1, 9, 0, 0)
    for offset, minute in ((41, 1), (42, 5)):
        row = {
            "ticket": "t-1", "kind": "dimona", "sender": "0123456749",
            "recorded_at": when, "accepted_at": when, "projected_at": when.replace(minute=minute),
            "facts_topic": "crossroads.facts.dimona.v1", "facts_partition": 3, "facts_offset": offset,
        }  # fmt: skip
        clickhouse.execute(f"INSERT INTO {table} VALUES", [row])
    assert clickhouse.execute(f"SELECT ticket, facts_offset FROM {table} FINAL") == [("t-1", 42)]


def test_a_tampered_migration_is_refused(clickhouse: Client, scratch: Settings) -> None:
    migrate(clickhouse, scratch)
    first = discover(scratch.migrations_dir)[0]
    first.path.write_text(first.text + "\n-- edited after it was applied\n")

    with pytest.raises(ChecksumMismatch, match=re.escape(first.filename)):
        migrate(clickhouse, scratch)
    ledger = clickhouse.execute(f"SELECT checksum FROM {scratch.clickhouse.database}.schema_migrations")
    assert (first.checksum,) in ledger
