"""Least privilege in the warehouse, on the real ClickHouse 18.16 of the local stack (docs/warehouse.md, "Access").

* `analyst` reads the statistics database, read-only, and neither the pseudonym mapping (`<db>_reid`), the
  audit log (`<db>_audit`) nor the OASIS tables (`<db>_oasis`, the anti-fraud purpose's pseudonyms);
* `auditor` reads the audit log only, read-only;
* `projector` inserts into the four databases the projections write, changes no schema, and may use no other
  database; `crossroads projector` writes as that user, not as the URL's;
* the rights on a warehouse other than the stack's own come from a file of their own in users.d/: they add up
  with the others and go away with it.

The module works in a warehouse of its own (`<session db>_roles`), granted like every test session's.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from clickhouse_driver import Client
from clickhouse_driver.errors import ServerException
from confluent_kafka import Producer

from connectors.clickhouse import connect, migrate, warehouse_databases
from streams.codecs import AvroCodec, SchemaRegistry
from streams.domain.samples import sample_dimona_in
from streams.kafka.admin import TopicAdmin
from streams.kafka.security import client_config
from streams.settings import Settings
from streams.stack.workers import PlatformWorkers
from streams.topics import needed_topics
from tests.integration.harness import drop_topics, own_run

if TYPE_CHECKING:
    from tests.conftest import WarehouseRoles

pytestmark = pytest.mark.integration

ACCESS_DENIED = 291
READONLY = 164
QUERY_IS_PROHIBITED = 392  # a DDL statement under allow_ddl = 0
# the development passwords of the local server's users.xml (streams/stack/templates/clickhouse-users.xml)
ANALYST = ("analyst", "analyst")
AUDITOR = ("auditor", "auditor")


@pytest.fixture(scope="module")
def roles(stack_settings: Settings, warehouse_roles: WarehouseRoles) -> Iterator[Settings]:
    """A migrated warehouse of the module's own, the roles granted on it, one row in each of its databases."""
    if not warehouse_roles.available:
        pytest.skip("the roles are the local stack's users.xml: this ClickHouse server was not started by it")
    address = stack_settings.clickhouse
    database = f"{address.database}_roles"
    settings = own_run(
        stack_settings,
        "roles",
        clickhouse_url=f"clickhouse://{address.user}:{address.password}@{address.host}:{address.port}/{database}",
    )
    settings = warehouse_roles.grant(settings)
    admin = _admin(settings)
    migrate(connect(settings, "default"), settings)
    admin.execute(f"INSERT INTO {database}.journey (ticket, kind) VALUES", [("seeded", "dimona")])
    admin.execute(f"INSERT INTO {database}_audit.audit_records (audit_id, kind) VALUES", [("seeded", "DELIVERY")])
    admin.execute(f"INSERT INTO {database}_reid.pseudonyms (purpose, pseudonym) VALUES", [("statistics", "seeded")])
    yield settings
    warehouse_roles.revoke(settings)
    for name in (*warehouse_databases(database), f"{database}_ungranted"):
        admin.execute(f"DROP DATABASE IF EXISTS {name}")
    admin.disconnect()
    drop_topics(settings)


def test_the_analyst_reads_the_statistics_database_and_nothing_else(roles: Settings) -> None:
    db = roles.clickhouse.database
    analyst = _as(roles, *ANALYST)

    assert ("seeded",) in analyst.execute(f"SELECT ticket FROM {db}.journey")
    for refused in (
        f"{db}_reid.pseudonyms",
        f"{db}_audit.audit_records",
        f"{db}_oasis.dimona_events",
        "default.anything",
    ):
        assert _code(analyst, f"SELECT count() FROM {refused}") == ACCESS_DENIED, refused
    assert _code(analyst, f"INSERT INTO {db}.journey (ticket) VALUES ('x')") == READONLY
    assert _code(analyst, f"DROP TABLE {db}.journey") == READONLY
    assert _admin(roles).execute(f"SELECT count() FROM {db}.journey WHERE ticket = 'x'") == [(0,)]


def test_the_auditor_reads_the_audit_database_only(roles: Settings) -> None:
    db = roles.clickhouse.database
    auditor = _as(roles, *AUDITOR)

    assert ("seeded",) in auditor.execute(f"SELECT audit_id FROM {db}_audit.audit_records")
    for refused in (f"{db}.journey", f"{db}_reid.pseudonyms", f"{db}_oasis.dimona_events", "default.anything"):
        assert _code(auditor, f"SELECT count() FROM {refused}") == ACCESS_DENIED, refused
    assert _code(auditor, f"INSERT INTO {db}_audit.audit_records (audit_id) VALUES ('x')") == READONLY


def test_the_projector_inserts_into_its_four_databases_and_changes_no_schema(roles: Settings) -> None:
    db = roles.clickhouse.database
    address = roles.clickhouse_projector
    projector = _as(roles, address.user, address.password)
    admin = _admin(roles)
    admin.execute(f"CREATE DATABASE IF NOT EXISTS {db}_ungranted")
    admin.execute(f"CREATE TABLE IF NOT EXISTS {db}_ungranted.t (x UInt8) ENGINE = Memory")

    projector.execute(f"INSERT INTO {db}.journey (ticket, kind) VALUES", [("by-projector", "dimona")])
    projector.execute(f"INSERT INTO {db}_audit.audit_records (audit_id) VALUES", [("by-projector",)])
    projector.execute(f"INSERT INTO {db}_reid.pseudonyms (purpose, pseudonym) VALUES", [("statistics", "by-proj")])
    projector.execute(f"INSERT INTO {db}_oasis.dimona_events (event_id, worker) VALUES", [("by-projector", "p")])

    assert admin.execute(f"SELECT count() FROM {db}.journey WHERE ticket = 'by-projector'") == [(1,)]
    assert admin.execute(f"SELECT count() FROM {db}_audit.audit_records WHERE audit_id = 'by-projector'") == [(1,)]
    assert admin.execute(f"SELECT count() FROM {db}_reid.pseudonyms WHERE pseudonym = 'by-proj'") == [(1,)]
    assert admin.execute(f"SELECT count() FROM {db}_oasis.dimona_events WHERE event_id = 'by-projector'") == [(1,)]
    for refused in (f"{db}_ungranted.t", "default.anything"):
        assert _code(projector, f"INSERT INTO {refused} (x) VALUES (1)") == ACCESS_DENIED, refused
        assert _code(projector, f"SELECT count() FROM {refused}") == ACCESS_DENIED, refused
    assert _code(projector, f"DROP TABLE {db}.journey") == QUERY_IS_PROHIBITED
    assert _code(projector, f"CREATE TABLE {db}.t (x UInt8) ENGINE = Memory") == QUERY_IS_PROHIBITED
    assert _code(projector, f"ALTER TABLE {db}_reid.pseudonyms DELETE WHERE 1") == QUERY_IS_PROHIBITED
    assert _code(projector, f"CREATE DATABASE {db}_by_projector") == QUERY_IS_PROHIBITED
    # What 18.16 cannot take away: a database a user may write, it may read. The projector writes the mapping
    # beside each pseudonymised row, so it can read <db>_reid too; only the analyst is kept out of it.
    assert projector.execute(f"SELECT person FROM {db}_reid.pseudonyms WHERE pseudonym = 'by-proj'") == [("",)]


def test_the_rights_on_a_granted_warehouse_add_up_and_go_with_its_file(
    roles: Settings, stack_settings: Settings, warehouse_roles: WarehouseRoles
) -> None:
    """The session's warehouse and the module's are each granted by a users.d file: the analyst has both; a
    third one granted and revoked comes and goes while the others stay."""
    analyst = _as(roles, *ANALYST)
    session_db, roles_db = stack_settings.clickhouse.database, roles.clickhouse.database
    third = own_run(roles, "third", clickhouse_url=roles.clickhouse_url.replace(roles_db, f"{roles_db}_third"))
    admin = _admin(roles)
    try:
        migrate(connect(third, "default"), third)
        assert _code(analyst, f"SELECT count() FROM {roles_db}_third.journey") == ACCESS_DENIED

        warehouse_roles.grant(third)
        assert analyst.execute(f"SELECT count() FROM {roles_db}_third.journey") == [(0,)]
        assert ("seeded",) in analyst.execute(f"SELECT ticket FROM {roles_db}.journey")
        assert _code(analyst, f"SELECT count() FROM {session_db}.anything") != ACCESS_DENIED

        warehouse_roles.revoke(third)
        _until(
            lambda: _error(analyst, f"SELECT count() FROM {roles_db}_third.journey") == ACCESS_DENIED,
            what="the server to drop the revoked rights",
        )
        assert ("seeded",) in analyst.execute(f"SELECT ticket FROM {roles_db}.journey")
    finally:
        warehouse_roles.revoke(third)
        for name in warehouse_databases(f"{roles_db}_third"):
            admin.execute(f"DROP DATABASE IF EXISTS {name}")


def test_crossroads_projector_writes_as_the_projector_not_as_the_urls_user(roles: Settings) -> None:
    """The URL's user is the read-only analyst here: the fact still lands, so the projector did not use it."""
    address = roles.clickhouse
    settings = own_run(
        roles,
        "asproj",
        clickhouse_url=f"clickhouse://analyst:analyst@{address.host}:{address.port}/{address.database}",
    )
    TopicAdmin(settings).apply(needed_topics(settings))
    workers = PlatformWorkers(settings, commands=("projector",))
    projector = workers.processes["projector"]
    workers.start()
    try:
        ticket = _produce_fact(settings)
        query = f"SELECT kind FROM {address.database}.journey FINAL WHERE ticket = %(t)s"
        _until(lambda: bool(_admin(roles).execute(query, {"t": ticket})), what="the fact's row", check=workers.check)
        assert _admin(roles).execute(query, {"t": ticket}) == [("dimona",)]
    finally:
        stopped = workers.stop()
        drop_topics(settings)
    assert stopped == ["projector"], f"the projector died; see {projector.log_file}: {_log(projector.log_file)}"


# -- helpers ---------------------------------------------------------------------------------------------------


def _as(settings: Settings, user: str, password: str) -> Client:
    # connected to `system`, which every user may use: a refused default database only closes the connection,
    # whereas a refused table of a query is a clean error 291
    address = settings.clickhouse
    return Client(host=address.host, port=address.port, user=user, password=password, database="system")


def _admin(settings: Settings) -> Client:
    address = settings.clickhouse
    return _as(settings, address.user, address.password)


def _code(client: Client, query: str) -> int:
    """The server's error code for `query`, which must fail."""
    code = _error(client, query)
    assert code is not None, f"{query!r} succeeded"
    return code


def _error(client: Client, query: str) -> int | None:
    try:
        client.execute(query)
    except ServerException as exc:
        code: int = exc.code
        return code
    return None


def _produce_fact(settings: Settings) -> str:
    """A DIMONA IN fact on the facts topic, as the worker writes it; its ticket."""
    codec = AvroCodec(SchemaRegistry.from_directory(settings.schema_dir))
    ticket = str(uuid.uuid4())
    record = sample_dimona_in(ticket)
    producer = Producer(client_config(settings))  # the operator stands in for the worker
    value = codec.encode("be.crossroads.dimona.DimonaIn", record)
    producer.produce(f"{settings.topic_prefix}.facts.dimona.v1", key=record["worker"].encode(), value=value)
    assert producer.flush(10) == 0
    return ticket


def _log(path: Path) -> str:
    try:
        return path.read_text(errors="replace")[-3000:]
    except FileNotFoundError:
        return ""


def _until(condition: Callable[[], bool], *, what: str, check: Callable[[], Any] = lambda: None) -> None:
    # a wait, not a timed assertion: generous, for a shared 2-core machine
    deadline = time.monotonic() + 120.0
    while not condition():
        check()
        assert time.monotonic() < deadline, f"no {what} within 120 s"
        time.sleep(0.5)
