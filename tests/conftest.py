"""Service fixtures: a real Kafka broker and a real ClickHouse server for the integration tests.

Where each comes from, in order:
1. the environment: CROSSROADS_KAFKA_BOOTSTRAP / CROSSROADS_CLICKHOUSE_URL when set (a secured stack: TLS
   against CROSSROADS_KAFKA_CA_FILE or <state_dir>/tls/ca.crt, the operator's SCRAM login);
2. for ClickHouse, testcontainers when a Docker engine answers (Kafka always comes from 1 or 3: the
   testcontainers image is not secured);
3. the project's local stack (`crossroads stack up`), started once per test session and stopped at the end
   only if this session started it.
Each session works under its own topic prefix and ClickHouse database, removed at the end, so runs never
see each other's data (nor the demo's).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from pydantic import SecretStr

from streams.settings import Settings

# No timed assertion in a test (the machine is shared and noisy): hypothesis's per-example deadline and its
# "input generation is slow" health check both fail a correct test under load.
hypothesis_settings.register_profile("crossroads", deadline=None, suppress_health_check=[HealthCheck.too_slow])
hypothesis_settings.load_profile("crossroads")

SESSION_TAG = uuid.uuid4().hex[:8]


def _docker_answers() -> bool:
    try:
        import docker  # testcontainers depends on it
    except ImportError:
        return False
    try:
        docker.from_env(timeout=3).ping()
    except Exception:
        return False
    return True


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    if address := os.environ.get("CROSSROADS_KAFKA_BOOTSTRAP"):
        yield address
        return
    # No testcontainers Kafka: its image listens in PLAINTEXT without an authorizer, and every test runs on the
    # secured stack (docs/security.md), which the local stack is.
    from streams.stack.kafka import KafkaService

    service = KafkaService(Settings())
    started = service.up()
    try:
        yield Settings().kafka_bootstrap
    finally:
        if started:
            service.down()


@pytest.fixture(scope="session")
def clickhouse_url() -> Iterator[str]:
    if url := os.environ.get("CROSSROADS_CLICKHOUSE_URL"):
        yield url
        return
    if _docker_answers():
        from testcontainers.clickhouse import ClickHouseContainer

        with ClickHouseContainer("clickhouse/clickhouse-server:25.8") as container:
            host, port = container.get_container_host_ip(), container.get_exposed_port(9000)
            yield f"clickhouse://{container.username}:{container.password}@{host}:{port}/crossroads"
        return
    from streams.stack.clickhouse import ClickHouseService

    service = ClickHouseService(Settings())
    started = service.up()
    try:
        yield Settings().clickhouse_url
    finally:
        if started:
            service.down()


class WarehouseRoles:
    """The local server's roles (analyst, auditor, projector) on a test warehouse: `users.xml` names only the
    stack's own warehouse, so each test database is granted by a file of its own (ClickHouseService.grant)."""

    def __init__(self, stack: Settings) -> None:
        from streams.stack.clickhouse import ClickHouseService

        self._stack = stack
        # the project started the server from this state dir, so its users.d/ is ours to write
        self.available = ClickHouseService(stack).process.pid() is not None

    def grant(self, settings: Settings) -> Settings:
        """`settings` once the roles may use its warehouse; on a server without our roles (testcontainers,
        someone else's), `settings` with the projector writing as the URL's user, the only one there is."""
        if self.available:
            from streams.stack.clickhouse import grant_roles

            grant_roles(self._stack, settings.clickhouse.database)
            return settings
        address = settings.clickhouse
        as_admin = {
            "clickhouse_projector_user": address.user,
            "clickhouse_projector_password": SecretStr(address.password),
        }
        return settings.model_copy(update=as_admin)

    def revoke(self, settings: Settings) -> None:
        if self.available:
            from streams.stack.clickhouse import revoke_roles

            revoke_roles(self._stack, settings.clickhouse.database)


@pytest.fixture(scope="session")
def warehouse_roles(kafka_bootstrap: str, clickhouse_url: str) -> WarehouseRoles:
    return WarehouseRoles(Settings(kafka_bootstrap=kafka_bootstrap, clickhouse_url=clickhouse_url))


@pytest.fixture(scope="session")
def stack_settings(kafka_bootstrap: str, clickhouse_url: str, warehouse_roles: WarehouseRoles) -> Iterator[Settings]:
    """Settings for this test session: the live services, a private topic prefix and database (and the
    roles' rights on it)."""
    base = Settings(kafka_bootstrap=kafka_bootstrap, clickhouse_url=clickhouse_url)
    address = base.clickhouse
    database = f"crossroads_test_{SESSION_TAG}"
    url = f"clickhouse://{address.user}:{address.password}@{address.host}:{address.port}/{database}"
    settings = base.model_copy(
        update={
            "clickhouse_url": url,
            "topic_prefix": f"test{SESSION_TAG}",
            "app_id": f"crossroads-test-{SESSION_TAG}",
            "web_port": 16066,
            "state_dir": base.state_dir / "test-sessions" / SESSION_TAG,
        }
    )
    settings = warehouse_roles.grant(settings)
    yield settings
    if os.environ.get("CROSSROADS_KEEP_TEST_DATA"):  # to look at what a failed run left (topics, warehouse)
        return
    from tests.integration.harness import drop_topics

    drop_topics(settings)
    _drop_database(settings)
    warehouse_roles.revoke(settings)


@pytest.fixture(scope="session")
def clickhouse(stack_settings: Settings) -> Iterator[object]:
    """A clickhouse-driver Client connected to the server (no default database assumed)."""
    from clickhouse_driver import Client

    address = stack_settings.clickhouse
    client = Client(host=address.host, port=address.port, user=address.user, password=address.password)
    yield client
    client.disconnect()


@pytest.fixture(scope="session")
def topics(stack_settings: Settings) -> Settings:
    """The catalog and the network's mailboxes, applied under this session's prefix."""
    from streams.catalog import platform_topics
    from streams.deployment import grant_deployment
    from streams.kafka.admin import TopicAdmin
    from streams.network_files import load_network

    TopicAdmin(stack_settings).apply(platform_topics(load_network(stack_settings.network_dir).institutions))
    grant_deployment(stack_settings)  # the services' and institutions' ACLs under this session's prefix
    return stack_settings


def _drop_database(settings: Settings) -> None:
    with contextlib.suppress(Exception):
        from clickhouse_driver import Client

        from connectors.clickhouse import warehouse_databases

        address = settings.clickhouse
        client = Client(host=address.host, port=address.port, user=address.user, password=address.password)
        for name in warehouse_databases(address.database):  # the statistics database and its siblings
            client.execute(f"DROP DATABASE IF EXISTS {name}")
        client.disconnect()


@pytest.fixture(scope="session")
def platform(topics: Settings) -> Iterator[Settings]:
    """The platform running for real: `crossroads worker` and `crossroads projector` as child processes,
    their consumer groups stable, the warehouse migrated."""
    from connectors.clickhouse import connect, migrate
    from streams.kafka.admin import wait_for_group
    from streams.stack.workers import PlatformWorkers

    settings = topics
    migrate(connect(settings, database="default"), settings)
    workers = PlatformWorkers(settings)
    workers.start()
    try:
        wait_for_group(settings, settings.app_id, timeout=120, check=workers.check)
        wait_for_group(settings, f"{settings.app_id}-projector", timeout=120, check=workers.check)
        yield settings
    finally:
        stopped = workers.stop()
        assert set(stopped) == {"worker", "projector"}, f"a worker died early; see logs in {workers.home}"
