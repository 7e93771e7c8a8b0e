"""librdkafka's admin requests, run in a child process.

An AdminClient request that times out while its broker is down can abort the whole process: librdkafka's
``rd_kafka_enq_once_del_source_return: Assertion `eonce->refcnt > 0' failed`` (confluentinc/librdkafka#4605,
open; seen here with librdkafka 2.16.0 when the private broker was SIGKILLed). The harness must outlive the
faults it injects, so every admin request it makes while faults may be under way -- committed offsets, end
offsets, group members, "drained" -- goes through a `Remote`: a one-process pool (spawned, so nothing of librdkafka
is shared) that is replaced when its process dies or hangs, the call then reported as failed.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from streams.settings import Settings

T = TypeVar("T")

_admins: dict[str, Any] = {}
_outputs: dict[tuple[str, str], list[Any]] = {}


class RemoteFailed(RuntimeError):
    """The child process died or did not answer in time (it was replaced)."""


class Remote:
    """Calls functions of this module in a child process of its own; one call at a time."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.crashes = 0
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def call(self, fn: Callable[..., T], *args: Any, timeout: float = 30.0) -> T:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
            pool = self._pool
            try:
                return pool.submit(fn, *args).result(timeout=timeout)
            except BrokenProcessPool as exc:
                self.crashes += 1
                self._discard(pool)
                raise RemoteFailed(f"{self.name}: the admin child process died ({exc})") from exc
            except FutureTimeout as exc:
                self._discard(pool)
                raise RemoteFailed(f"{self.name}: no answer within {timeout:.0f}s") from exc

    def _discard(self, pool: ProcessPoolExecutor) -> None:
        processes = list(getattr(pool, "_processes", {}).values())
        for process in processes:
            with contextlib.suppress(Exception):
                process.kill()
        with contextlib.suppress(Exception):
            pool.shutdown(wait=False, cancel_futures=True)
        self._pool = None

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._discard(self._pool)


# -- what runs in the child ------------------------------------------------------------------------------------


def _admin(settings: Settings) -> Any:
    from confluent_kafka.admin import AdminClient

    from streams.kafka.security import client_config

    admin = _admins.get(settings.kafka_bootstrap)
    if admin is None:
        admin = _admins[settings.kafka_bootstrap] = AdminClient(client_config(settings, log_level=0))
    return admin


def committed(settings: Settings, group: str) -> int | None:
    """The sum of the group's committed offsets (None: the broker did not answer)."""
    from confluent_kafka import ConsumerGroupTopicPartitions

    try:
        futures = _admin(settings).list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)], request_timeout=5)
        result = futures[group].result(timeout=8)
    except Exception:
        return None
    return int(sum(tp.offset for tp in result.topic_partitions or [] if tp.offset >= 0))


def written(settings: Settings, prefix: str, skip: list[str]) -> int | None:
    """The sum of the high watermarks of every partition of the topics under `prefix` but those in `skip`."""
    from confluent_kafka import TopicPartition
    from confluent_kafka.admin import OffsetSpec

    admin = _admin(settings)
    try:
        partitions = _outputs.get((settings.kafka_bootstrap, prefix))
        if not partitions:
            metadata = admin.list_topics(timeout=8)
            partitions = _outputs[(settings.kafka_bootstrap, prefix)] = [
                TopicPartition(name, p)
                for name, meta in sorted(metadata.topics.items())
                if name.startswith(prefix + ".") and name not in skip
                for p in meta.partitions
            ]
        latest = OffsetSpec.latest()  # type: ignore[no-untyped-call]
        futures = admin.list_offsets({tp: latest for tp in partitions}, request_timeout=5)
        return int(sum(future.result(timeout=8).offset for future in futures.values()))
    except Exception:
        return None


def members(settings: Settings, group: str) -> int:
    """Members of the group once it is stable, else 0 (streams.kafka.admin.group_members)."""
    from streams.kafka.admin import group_members

    try:
        return group_members(settings, group, _admin(settings))
    except Exception:
        return 0


def lag(settings: Settings, group: str, topics: list[str]) -> int | None:
    """How many records of `topics` the group has not committed yet (streams.kafka.admin.group_lag)."""
    from streams.kafka.admin import group_lag

    try:
        return sum(partition.lag for partition in group_lag(settings, group, topics))
    except Exception:
        return None


def drained(settings: Settings, group: str, topics: list[str], timeout: float) -> str | None:
    """`streams.kafka.admin.wait_drained` for at most `timeout` seconds: None once drained, else why not."""
    from streams.kafka.admin import wait_drained

    try:
        wait_drained(settings, group, topics, timeout=timeout)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None
