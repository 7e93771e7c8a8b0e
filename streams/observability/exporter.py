"""Serve a process's metrics on a loopback port and announce it to the local Prometheus.

Each process writes `<state_dir>/monitoring/targets/<role>-<pid>.json`, a Prometheus file_sd target list with
its address and role: with port 0 (the default) every process gets a free port, so that several workers on
one machine never collide, and Prometheus and `crossroads status` find them all. A clean exit removes the
file; one left by a killed process names a dead pid, which `crossroads status` reports as down.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import start_http_server

from streams.observability.metrics import PlatformMetrics
from streams.settings import Settings


class ExporterError(Exception):
    """The metrics endpoint could not be served (its port taken, most likely)."""


@dataclass(frozen=True)
class Target:
    role: str
    pid: int
    address: str  # host:port
    app_id: str
    path: Path

    @property
    def url(self) -> str:
        return f"http://{self.address}/metrics"


def targets_dir(settings: Settings) -> Path:
    return settings.state_dir / "monitoring" / "targets"


def serve(settings: Settings, role: str, port: int, metrics: PlatformMetrics) -> Target | None:
    """Start the endpoint (a daemon thread of prometheus-client) and announce it; None when metrics are off."""
    if not settings.metrics_enabled:
        return None
    try:
        server, _thread = start_http_server(port, addr=settings.metrics_host, registry=metrics.registry)
    except OSError as exc:
        raise ExporterError(f"cannot serve {role} metrics on {settings.metrics_host}:{port}: {exc}") from exc
    bound = int(server.server_address[1])
    prune_dead(settings, role)  # a process restarting after a crash withdraws what its predecessor left
    metrics.up_since.labels(role).set(time.time())
    host = settings.metrics_host if settings.metrics_host not in ("0.0.0.0", "::") else "127.0.0.1"
    target = Target(
        role, os.getpid(), f"{host}:{bound}", settings.app_id, targets_dir(settings) / f"{role}-{os.getpid()}.json"
    )
    _announce(target)
    atexit.register(_withdraw, target.path)
    return target


def _announce(target: Target) -> None:
    target.path.parent.mkdir(parents=True, exist_ok=True)
    body = [
        {
            "targets": [target.address],
            "labels": {"role": target.role, "app_id": target.app_id, "pid": str(target.pid)},
        }
    ]
    # atomically: Prometheus re-reads the directory on change and must never see half a file
    partial = target.path.with_suffix(".json.tmp")
    partial.write_text(json.dumps(body))
    partial.replace(target.path)


def _withdraw(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def announced(settings: Settings) -> list[Target]:
    """Every target announced in the state directory, alive or not."""
    found = []
    folder = targets_dir(settings)
    if not folder.is_dir():
        return []
    for path in sorted(folder.glob("*.json")):
        try:
            body: Any = json.loads(path.read_text())
            entry = body[0]
            labels = entry["labels"]
            found.append(
                Target(labels["role"], int(labels["pid"]), entry["targets"][0], labels.get("app_id", ""), path)
            )
        except (OSError, ValueError, KeyError, IndexError, TypeError):
            continue  # not one of ours, or being replaced
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def prune_dead(settings: Settings, role: str) -> list[Target]:
    """Remove the announcements of this role's processes of this app that are gone (killed: no exit handler
    ran); returns them. Another role's stay: `crossroads status` reports them down until they restart."""
    dead = [t for t in announced(settings) if t.role == role and t.app_id == settings.app_id and not alive(t.pid)]
    for target in dead:
        _withdraw(target.path)
    return dead
