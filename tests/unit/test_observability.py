"""The metrics' definitions, a flow's meter, the status screen's judgement, and the targets' announcements."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

from prometheus_client import CollectorRegistry, generate_latest

from streams.domain.outcomes import ACKNOWLEDGEMENT, Forward, ToDeadLetters, ToMailbox, ToRejections
from streams.observability.exporter import announced, prune_dead, serve
from streams.observability.metrics import SERVICE_LEVEL_SECONDS, PlatformMetrics
from streams.observability.status import (
    DOWN,
    OK,
    SLO_MISSED,
    ProcessState,
    Report,
    ServiceLevel,
    parse_scrape,
    rates_between,
)
from streams.settings import Settings
from topologies.alignment import EVENT_TIME_HEADER
from topologies.meters import FlowMeter


def _message(time_ms: int, family: str = "civil") -> SimpleNamespace:
    return SimpleNamespace(
        headers=[(EVENT_TIME_HEADER, f"{time_ms} {family}".encode())], timestamp=None, topic="x.directory.y.v1"
    )


def test_every_metric_is_named_by_the_conventions_and_explained() -> None:
    registry = CollectorRegistry()
    PlatformMetrics.on(registry)
    families = list(registry.collect())
    assert families
    for family in families:
        assert family.name.startswith("crossroads_"), family.name
        assert family.documentation.strip(), family.name
        if family.type == "histogram":
            assert family.name.endswith("_seconds"), family.name


def test_the_service_level_is_a_bucket_of_the_latency_histogram() -> None:
    from streams.observability.metrics import LATENCY_BUCKETS

    assert SERVICE_LEVEL_SECONDS in LATENCY_BUCKETS


def test_a_meter_counts_outcomes_and_observes_latencies_only_once_released() -> None:
    registry = CollectorRegistry()
    meter = FlowMeter(PlatformMetrics.on(registry), "directory")
    sample = registry.get_sample_value
    meter.outcome(Forward("facts", "civil", None, b""), _message(0))
    meter.outcome(ToRejections({"violations": [{"code": "NISS_CHECKSUM"}, {"code": "OTHER"}]}), _message(0))
    meter.outcome(ToDeadLetters("bad", "CodecError"), _message(0))
    meter.outcome(ToMailbox("0206731645", "be.crossroads.outputs.Notification", {}), _message(1_000))
    meter.outcome(ToMailbox("0206731645", ACKNOWLEDGEMENT, {}), _message(1_000))
    assert sample("crossroads_outcomes_total", {"flow": "directory", "kind": "accepted", "code": "civil"}) == 1
    assert sample("crossroads_outcomes_total", {"flow": "directory", "kind": "rejected", "code": "NISS_CHECKSUM"}) == 1
    assert (
        sample("crossroads_outcomes_total", {"flow": "directory", "kind": "dead_lettered", "code": "CodecError"}) == 1
    )
    labels = {"declaration_type": "civil", "message": "Notification"}
    assert sample("crossroads_notification_latency_seconds_count", labels) is None  # not written yet
    meter.released(0.01)
    assert sample("crossroads_notification_latency_seconds_count", labels) == 1
    assert sample("crossroads_notification_latency_seconds_count", {**labels, "message": "Acknowledgement"}) == 1
    assert sample("crossroads_batch_release_seconds_count", {"flow": "directory"}) == 1
    meter.released(0.01)  # nothing new: observed once
    assert sample("crossroads_notification_latency_seconds_count", labels) == 1


def test_a_scrape_gives_the_rates_and_the_service_level() -> None:
    registry = CollectorRegistry()
    metrics = PlatformMetrics.on(registry)
    metrics.consumed.labels("intake-civil", "t").inc(10)
    for seconds in (0.1, 3.9, 4.0, 5.0):
        metrics.notification_latency.labels("civil", "Notification").observe(seconds)
    before = parse_scrape(generate_latest(registry).decode())
    metrics.consumed.labels("intake-civil", "t").inc(20)
    after = parse_scrape(generate_latest(registry).decode())
    assert (after.latency_within, after.latency_total) == (3, 4)
    assert rates_between([before], [after], 2.0) == {"intake-civil": 10.0}


def _report(processes: list[ProcessState], level: ServiceLevel | None) -> Report:
    stack = [{"name": "kafka", "running": True, "pid": 1, "version": "4", "ours": True}]
    return Report(stack, processes, [], {}, "last 2 s", level, 0, 0, [], None)


def test_status_exits_3_when_a_process_is_down_and_4_when_the_service_level_is_missed() -> None:
    up = ProcessState("worker", True, 1, None, None)
    down = ProcessState("projector", False, 2, None, None, "pid 2 is gone")
    held = ServiceLevel(99, 100, 0.9868, "last hour")
    missed = ServiceLevel(98, 100, 0.9868, "last hour")
    assert _report([up], held).exit_code() == OK
    assert _report([up, down], held).exit_code() == DOWN
    assert _report([up, down], held).problems() == ["projector is down: pid 2 is gone"]
    assert _report([up], missed).exit_code() == SLO_MISSED
    assert _report([up], ServiceLevel(0, 0, 0.9868, "last hour")).exit_code() == OK  # nothing measured
    assert _report([up, down], missed).as_json()["exit_code"] == DOWN


def test_a_process_announces_itself_and_a_killed_ones_announcement_is_pruned_by_its_successor(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, app_id="unit")
    metrics = PlatformMetrics.on(CollectorRegistry())
    target = serve(settings, "worker", 0, metrics)
    assert target is not None
    assert [(t.role, t.pid, t.address) for t in announced(settings)] == [("worker", os.getpid(), target.address)]
    dead = target.path.with_name("worker-999999999.json")
    dead.write_text(target.path.read_text().replace(str(os.getpid()), "999999999"))
    other = target.path.with_name("projector-999999998.json")
    other.write_text(target.path.read_text().replace(str(os.getpid()), "999999998").replace("worker", "projector"))
    assert [t.pid for t in prune_dead(settings, "worker")] == [999999999]
    assert sorted(t.role for t in announced(settings)) == ["projector", "worker"]


def test_a_partner_folders_files_are_counted_by_state(tmp_path: Path) -> None:
    from connectors.files.inventory import totals

    partner = tmp_path / "0123456749"
    for folder in ("", "archive", "archive", "error", "cancelled"):
        (partner / folder).mkdir(parents=True, exist_ok=True)
    names = iter(f"FI.DIMONA.0123456749.20261201.{n:05d}.T" for n in range(1, 10))
    (partner / next(names)).write_text("")
    (partner / "archive" / next(names)).write_text("")
    (partner / "archive" / next(names)).write_text("")
    (partner / "error" / next(names)).write_text("")
    (partner / "error" / "not-a-drop.reason").write_text("")
    assert totals(tmp_path) == {"waiting": 1, "archived": 2, "error": 1, "cancelled": 0}
    assert totals(tmp_path / "absent") == {"waiting": 0, "archived": 0, "error": 0, "cancelled": 0}
