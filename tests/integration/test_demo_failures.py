"""`crossroads demo` when a process it depends on dies: it stops at once, non-zero, saying which process ended,
how, and the last lines of its log; it writes no report; and it leaves alone the processes it did not start."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from clickhouse_driver import Client
from confluent_kafka.admin import AdminClient

from connectors.clickhouse import connect, migrate, warehouse_databases
from streams.deployment import grant_deployment
from streams.kafka.admin import TopicAdmin
from streams.kafka.security import client_config
from streams.settings import Settings
from streams.stack.workers import PlatformWorkers, crossroads_argv
from streams.topics import needed_topics

if TYPE_CHECKING:
    from tests.conftest import WarehouseRoles

pytestmark = pytest.mark.integration


@pytest.fixture
def own_settings(stack_settings: Settings, warehouse_roles: WarehouseRoles) -> Iterator[Settings]:
    """The session's services under a topic prefix, app id and database of their own: the demo starts a worker
    of its own, which must not share its inputs with the session's platform."""
    tag = uuid.uuid4().hex[:6]
    address = stack_settings.clickhouse
    database = f"{address.database}_dk{tag}"
    settings = stack_settings.model_copy(
        update={
            "topic_prefix": f"{stack_settings.topic_prefix}-dk{tag}",
            "app_id": f"{stack_settings.app_id}-dk{tag}",
            "clickhouse_url": f"clickhouse://{address.user}:{address.password}@{address.host}:{address.port}/{database}",
        }
    )
    settings = warehouse_roles.grant(settings)  # the projectors write as the projector's user
    TopicAdmin(settings).apply(needed_topics(settings))
    grant_deployment(settings)
    migrate(connect(settings, database="default"), settings)
    yield settings
    PlatformWorkers(settings).stop()
    _drop(settings)
    warehouse_roles.revoke(settings)


@pytest.mark.parametrize(
    "moment",
    [
        "consumer groups stable",  # the journey follows
        "the walking skeleton walks",  # the population is generated, streamed, waited for
    ],
)
def test_the_demo_fails_at_once_with_the_log_of_the_worker_that_was_killed(
    moment: str, own_settings: Settings, tmp_path: Path
) -> None:
    settings = own_settings
    # a projector the demo finds running: not the demo's to stop
    theirs = PlatformWorkers(settings, commands=("projector",))
    theirs.start()
    out = tmp_path / "report"
    output = tmp_path / "demo.out"
    env = {**os.environ, **settings.as_env(), "COLUMNS": "200"}
    argv = [*crossroads_argv(), "demo", "--citizens", "300", "--max-records", "2000", "--seed", "7", "--out", str(out)]
    with open(output, "wb") as sink:
        demo = subprocess.Popen(argv, env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while moment not in output.read_text(errors="replace"):
            assert demo.poll() is None, f"the demo ended before {moment!r}:\n{output.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"the demo never printed {moment!r}:\n{output.read_text()[-3000:]}"
            time.sleep(0.1)
        worker = PlatformWorkers(settings, commands=("worker",)).processes["worker"]
        pid = worker.pid()
        assert pid is not None, f"the demo's worker is not running:\n{output.read_text()[-3000:]}"
        os.kill(pid, signal.SIGKILL)
        returncode = demo.wait(timeout=300)  # a hang guard, not a timing assertion
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    text = output.read_text(errors="replace")

    assert returncode != 0, text[-3000:]
    assert "worker is not running (killed by SIGKILL)" in text, text[-3000:]
    assert f"last lines of {worker.log_file}" in text, text[-3000:]
    last_line = next(line for line in reversed(worker.log_tail().splitlines()) if line.strip())
    assert last_line.strip() in text, text[-3000:]
    assert not (out / "report.json").exists()
    assert not (out / "report.html").exists()
    # the projector the demo did not start keeps running
    theirs.check()
    assert theirs.stop() == ["projector"]


def _drop(settings: Settings) -> None:
    with contextlib.suppress(Exception):
        admin = AdminClient({**client_config(settings)})
        names = [
            t
            for t in admin.list_topics(timeout=10).topics
            if t.startswith(f"{settings.topic_prefix}.") or t.startswith(f"{settings.app_id}-")
        ]
        if names:
            for future in admin.delete_topics(names, operation_timeout=30).values():
                with contextlib.suppress(Exception):
                    future.result(timeout=30)
    with contextlib.suppress(Exception):
        address = settings.clickhouse
        client = Client(host=address.host, port=address.port, user=address.user, password=address.password)
        for name in warehouse_databases(address.database):
            client.execute(f"DROP DATABASE IF EXISTS {name}")
        client.disconnect()
