"""Operating it: the platform's metrics, scraped by a real Prometheus, equal a known workload; `crossroads status`
reports a killed projector as down with a non-zero exit.

The test runs its own Prometheus (the same `PrometheusService` as `crossroads stack up --with-monitoring`) on a
free port, over this session's state directory, where the worker and the projector it starts announce
themselves.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
from collections.abc import Iterator

import pytest
from confluent_kafka import Producer

from connectors.clickhouse import connect, migrate
from streams.catalog import platform_topics
from streams.kafka.admin import TopicAdmin, wait_drained, wait_for_group
from streams.kafka.security import client_config
from streams.network_files import load_network
from streams.observability import prometheus_api
from streams.settings import Settings
from streams.stack.process import free_ports
from streams.stack.prometheus import PrometheusService
from streams.stack.workers import PlatformWorkers, crossroads_argv
from tests.integration.harness import Platform, drop_topics, eventually, own_run
from tests.support import address_change, integration, niss
from topologies.app import create_app, source_topics

pytestmark = pytest.mark.integration

PEOPLE = 200
UNDECODABLE = 3
REJECTED = 4
MUTUALITY = "0206731645"


@pytest.fixture
def monitored(topics: Settings) -> Iterator[tuple[Settings, PrometheusService]]:
    settings = own_run(
        topics,
        "metrics",
        prometheus_port=free_ports(1),
        prometheus_scrape_interval_s=1.0,
        metrics_lag_interval_s=1.0,
    )
    TopicAdmin(settings).apply(platform_topics(load_network(settings.network_dir).institutions))
    migrate(connect(settings, database="default"), settings)
    prometheus = PrometheusService(settings)
    prometheus.up()
    try:
        yield settings, prometheus
    finally:
        prometheus.down()
        if not os.environ.get("CROSSROADS_KEEP_TEST_DATA"):
            drop_topics(settings)


def _value(url: str, expression: str) -> float | None:
    samples = prometheus_api.query(url, expression)
    return samples[0].value if samples else None


@pytest.mark.timeout(900)
def test_prometheus_scrapes_the_workload_and_status_reports_a_dead_projector(
    monitored: tuple[Settings, PrometheusService],
) -> None:
    settings, prometheus = monitored
    app = settings.app_id
    p = Platform(settings, watched=r"mailbox\..*")
    people = [niss() for _ in range(PEOPLE)]
    p.send_many([integration(MUTUALITY, "MUTUALITY", "TITULAR", person, dt.date(2020, 1, 1)) for person in people])
    p.send_many([address_change(person, dt.date(2025, 1, 1)) for person in people])
    # refused by the intake's rules (a national number whose check digits are wrong), and undecodable bytes
    p.send_many([address_change("12345678901", dt.date(2025, 1, 1)) for _ in range(REJECTED)])
    producer = Producer(client_config(settings))
    civil = f"{settings.topic_prefix}.intake.civil.v1"
    for n in range(UNDECODABLE):
        producer.produce(civil, key=people[n].encode(), value=b"\x00not avro at all %d" % n)
    assert producer.flush(30) == 0

    workers = PlatformWorkers(settings)
    workers.start()
    try:
        wait_for_group(settings, app, timeout=120, check=workers.check)
        wait_drained(settings, app, source_topics(create_app(settings)), timeout=600, check=workers.check)
        p.wait_caught_up(timeout=120)
        workers.check()
        url = prometheus.url
        expected = {
            f'sum(crossroads_outcomes_total{{app_id="{app}",kind="accepted",code="integrations"}})': PEOPLE,
            f'sum(crossroads_outcomes_total{{app_id="{app}",kind="accepted",code="civil"}})': PEOPLE,
            f'sum(crossroads_outcomes_total{{app_id="{app}",kind="rejected"}})': REJECTED,
            f'sum(crossroads_outcomes_total{{app_id="{app}",kind="dead_lettered"}})': UNDECODABLE,
            # every address change notifies the mutuality, whose file is older
            f'sum(crossroads_notification_latency_seconds_count{{app_id="{app}",declaration_type="civil",'
            f'message="Notification"}})': PEOPLE,
            # and each address change, refused or not, is acknowledged to its sender
            f'sum(crossroads_notification_latency_seconds_count{{app_id="{app}",declaration_type="civil",'
            f'message="Acknowledgement"}})': PEOPLE + REJECTED,
            f'sum(crossroads_consumed_records_total{{app_id="{app}",flow="intake-civil"}})': PEOPLE
            + REJECTED
            + UNDECODABLE,
            f'sum(crossroads_projector_rows_total{{app_id="{app}",table="journey"}})': 2 * PEOPLE,
        }

        last: dict[str, float | None] = {}

        def scraped() -> bool:
            last.update({expression: _value(url, expression) for expression in expected})
            return last == expected

        try:
            eventually("Prometheus to scrape the workload's counts", scraped, timeout=120)
        except AssertionError:
            assert last == expected  # shows which series differ
            raise
        lag = f'max(crossroads_consumer_lag_records{{app_id="{app}",group="{app}"}})'
        eventually("the worker's lag back to 0 in Prometheus", lambda: _value(url, lag) == 0, timeout=120)
        projector_lag = f'max(crossroads_consumer_lag_records{{app_id="{app}",group="{app}-projector"}})'
        eventually("the projector's lag back to 0", lambda: _value(url, projector_lag) == 0, timeout=120)
        roles = {s.labels["role"] for s in prometheus_api.query(url, f'up{{app_id="{app}"}} == 1')}
        assert roles == {"worker", "projector"}

        healthy = _status(settings)
        assert all(process["running"] for process in healthy["processes"]), healthy["processes"]
        assert healthy["exit_code"] != 3 and healthy["prometheus"] == url
        assert {g["group"]: g["lag"] for g in healthy["lags"]} == {app: 0, f"{app}-projector": 0}
        assert healthy["dead_letters_last_hour"] == UNDECODABLE
        assert healthy["rejections_last_hour"] == REJECTED

        projector = workers.processes["projector"].recorded_pid()
        assert projector is not None
        os.kill(projector, signal.SIGKILL)
        # reaped (a child of this test): no zombie left for `status` to take for a live process
        eventually("the projector to die", lambda: workers.processes["projector"].exit_status(), timeout=30)
        down = _status(settings, expect_exit=3)
        projector_state = {s["role"]: s for s in down["processes"]}["projector"]
        assert projector_state["running"] is False and str(projector) in projector_state["detail"]
        assert any("projector is down" in problem for problem in down["problems"])
    finally:
        workers.stop()
        p.close()


def _status(settings: Settings, expect_exit: int | None = None) -> dict[str, object]:
    done = subprocess.run(
        [*crossroads_argv(), "status", "--json", "--sample", "1"],
        env={**os.environ, **settings.as_env()},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report: dict[str, object] = json.loads(done.stdout)
    assert done.returncode == report["exit_code"], done.stderr
    if expect_exit is not None:
        assert done.returncode == expect_exit, report
    return report
