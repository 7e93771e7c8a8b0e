"""`crossroads projector` waits out what heals by itself and stops on what does not.

* Started before its topics exist (a fresh broker, `make demo`'s first run): librdkafka reports "Subscribed
  topic not available"; the projector logs it, keeps running, and projects as soon as the topics are there.
* ClickHouse unreachable (here: a port nothing listens on, then a forwarder to the real server on it): the
  insert is retried with the batch pending and nothing committed; once the server answers the row lands and
  the offset is committed. With a short retry bound the projector stops instead, non-zero, nothing committed.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from connectors.clickhouse import connect, migrate
from streams.codecs import AvroCodec, SchemaRegistry
from streams.domain.samples import sample_dimona_in
from streams.kafka.admin import TopicAdmin, group_lag
from streams.kafka.security import client_config
from streams.settings import Settings
from streams.stack.workers import PlatformWorkers
from streams.topics import needed_topics
from tests.integration.harness import drop_topics, own_run

pytestmark = pytest.mark.integration


@pytest.fixture
def bare_settings(stack_settings: Settings) -> Iterator[Settings]:
    """The session's services and warehouse, under a topic prefix and app id of their own (no topic yet)."""
    settings = own_run(stack_settings, "proj")
    migrate(connect(settings, database="default"), settings)
    yield settings
    PlatformWorkers(settings, commands=("projector",)).stop()
    drop_topics(settings)


def test_a_projector_started_before_its_topics_exist_projects_once_they_do(bare_settings: Settings) -> None:
    settings = bare_settings
    admin = AdminClient({**client_config(settings)})
    assert not [t for t in admin.list_topics(timeout=10).topics if t.startswith(f"{settings.topic_prefix}.")]
    workers = PlatformWorkers(settings, commands=("projector",))
    projector = workers.processes["projector"]
    workers.start()
    try:
        # librdkafka's report of the missing topics, logged while the projector keeps consuming
        _until(lambda: "UNKNOWN_TOPIC_OR_PART" in _log(projector.log_file), check=workers.check, what="the warning")
        workers.check()

        TopicAdmin(settings).apply(needed_topics(settings))
        ticket = _produce_fact(settings)
        _until(lambda: _journey_row(settings, ticket) is not None, check=workers.check, what="the fact's row")
        assert _journey_row(settings, ticket) == ("dimona", _facts(settings))
        workers.check()
    finally:
        stopped = workers.stop()
    assert stopped == ["projector"], f"the projector died; see {projector.log_file}"


def test_an_insert_waits_for_an_unreachable_warehouse_with_nothing_committed(bare_settings: Settings) -> None:
    port = _free_port()
    address = bare_settings.clickhouse
    settings = bare_settings.model_copy(
        update={
            "clickhouse_url": f"clickhouse://{address.user}:{address.password}@127.0.0.1:{port}/{address.database}",
            "projector_retry_for_s": 300.0,
        }
    )
    group = f"{settings.app_id}-projector"
    TopicAdmin(settings).apply(needed_topics(settings))
    workers = PlatformWorkers(settings, commands=("projector",))
    projector = workers.processes["projector"]
    workers.start()
    forwarder: Forwarder | None = None
    try:
        ticket = _produce_fact(settings)
        # nothing listens on the port: the insert fails, is retried, and its offset stays uncommitted
        _until(lambda: "retrying in" in _log(projector.log_file), check=workers.check, what="a retried insert")
        assert [lag.committed for lag in group_lag(settings, group, [_facts(settings)]) if lag.end] == [None]
        assert _journey_row(bare_settings, ticket) is None

        forwarder = Forwarder(port, (address.host, address.port))
        _until(lambda: _journey_row(bare_settings, ticket) is not None, check=workers.check, what="the row")
        _until(
            lambda: all(lag.lag == 0 for lag in group_lag(settings, group, [_facts(settings)])),
            check=workers.check,
            what="the commit after the insert",
        )
        workers.check()
    finally:
        stopped = workers.stop()
        if forwarder is not None:
            forwarder.close()
    assert stopped == ["projector"], f"the projector died; see {projector.log_file}"


def test_the_projector_stops_once_the_warehouse_stayed_unreachable_past_its_bound(bare_settings: Settings) -> None:
    address = bare_settings.clickhouse
    settings = bare_settings.model_copy(
        update={
            "clickhouse_url": f"clickhouse://{address.user}:{address.password}@127.0.0.1:{_free_port()}/x",
            "projector_retry_for_s": 3.0,
        }
    )
    TopicAdmin(settings).apply(needed_topics(settings))
    workers = PlatformWorkers(settings, commands=("projector",))
    projector = workers.processes["projector"]
    workers.start()
    _produce_fact(settings)
    _until(lambda: projector.pid() is None, check=lambda: None, what="the projector's end")
    assert projector.exit_status() == "exit code 1"
    log = _log(projector.log_file)
    assert "retrying in" in log
    assert "gave up after" in log
    lags = group_lag(settings, f"{settings.app_id}-projector", [_facts(settings)])
    assert [lag.committed for lag in lags if lag.end] == [None]


class Forwarder:
    """Listens on `port` and relays every connection to `upstream`: the server answering on a new address."""

    def __init__(self, port: int, upstream: tuple[str, int]) -> None:
        self._upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", port))
        self._listener.settimeout(0.2)
        self._stop = threading.Event()
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            server = socket.create_connection(self._upstream)
            self._sockets += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _facts(settings: Settings) -> str:
    return f"{settings.topic_prefix}.facts.dimona.v1"


def _produce_fact(settings: Settings) -> str:
    """A DIMONA IN fact on the facts topic, as the worker writes it; its ticket."""
    codec = AvroCodec(SchemaRegistry.from_directory(settings.schema_dir))
    ticket = str(uuid.uuid4())
    record = sample_dimona_in(ticket)
    producer = Producer({**client_config(settings)})
    value = codec.encode("be.crossroads.dimona.DimonaIn", record)
    producer.produce(_facts(settings), key=record["worker"].encode(), value=value)
    assert producer.flush(10) == 0
    return ticket


def _journey_row(settings: Settings, ticket: str) -> tuple[object, ...] | None:
    client = connect(settings)
    try:
        rows = client.execute(
            f"SELECT kind, facts_topic FROM {settings.clickhouse.database}.journey FINAL WHERE ticket = %(ticket)s",
            {"ticket": ticket},
        )
    finally:
        client.disconnect()
    return tuple(rows[0]) if rows else None


def _log(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


def _until(condition: Callable[[], bool], *, check: Callable[[], None], what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        check()
        assert time.monotonic() < deadline, f"no {what} within {timeout:.0f}s"
        time.sleep(0.2)
