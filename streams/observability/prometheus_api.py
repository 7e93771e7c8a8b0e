"""Asking a Prometheus server (its HTTP API, `/api/v1/query`): the instant vector of a PromQL expression."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any


class PrometheusUnavailable(Exception):
    """The server did not answer, or answered with an error."""


@dataclass(frozen=True)
class Sample:
    labels: dict[str, str]
    value: float


def query(url: str, expression: str, timeout_s: float = 5.0) -> list[Sample]:
    address = f"{url.rstrip('/')}/api/v1/query?{urllib.parse.urlencode({'query': expression})}"
    try:
        with urllib.request.urlopen(address, timeout=timeout_s) as response:
            body: Any = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise PrometheusUnavailable(f"Prometheus at {url} did not answer {expression!r}: {exc}") from exc
    if body.get("status") != "success":
        raise PrometheusUnavailable(f"Prometheus refused {expression!r}: {body.get('error')}")
    data = body["data"]
    if data["resultType"] == "scalar":
        return [Sample({}, float(data["result"][1]))]
    return [Sample(dict(r["metric"]), float(r["value"][1])) for r in data["result"]]


def ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/-/ready", timeout=2.0) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, OSError):
        return False
