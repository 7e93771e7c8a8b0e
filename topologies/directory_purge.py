"""The directory's purge: what is past its legal period leaves the person files, each item audited (issue 15).

The rule is `streams.domain.retention.purge`; this module runs it over the person files of the partitions this
worker holds, as an `Interlude` of the directory's flow (`topologies.batches`): between two batches, under the
flow's lock, so that no batch in progress holds a file the purge changes. It goes through the directory's own
release: the purge's audit entries are chained and written first, then each changed file (or, for a file that
goes whole, a tombstone) to the table's changelog, then the table's store -- so a crash in the middle leaves
at worst an audit record of a purge whose file is still there, purged again (same tickets, same audit ids) by
the next sweep; never a purged file without its audit record.

A sweep runs every `directory_purge_interval_s` (the first one interval after the worker starts, not at once: a
worker started on a backlog, or replaying, builds its files first) and on SIGUSR2 (`kill -USR2 <pid>`: an
operator's, or a test's, "purge now"); with an interval of 0, only on SIGUSR2. It takes a snapshot of the keys of
the partitions assigned, then handles them `batch_max_events` files at a time, letting the directory's events in
between. A rebalance or a recovery during a sweep stops it; it starts again once the worker's partitions are
settled. The day is the worker's clock (`Deps.clock`), read once per sweep.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import signal
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

import faust

from streams.domain import retention
from streams.domain.audit import purge_entry
from streams.domain.directory import PersonFile
from streams.kafka.partitioner import partition_for
from streams.settings import Settings
from topologies.batches import BatchedTable, standin
from topologies.deps import Deps

log = logging.getLogger("crossroads.directory.purge")

AuditEntries = list[tuple[int, bytes | None, dict[str, Any]]]

_PURGERS: weakref.WeakKeyDictionary[faust.App, Purger] = weakref.WeakKeyDictionary()


def periods_of(settings: Settings) -> retention.Periods:
    """The directory's periods: the warehouse's retention settings, so both forget after the same time."""
    return retention.Periods(
        directory_years=settings.retention_directory_years,
        dimona_years=settings.retention_dimona_years,
        dmfa_years=settings.retention_dmfa_years,
        deceased_years=settings.retention_deceased_years,
    )


class Purger:
    """The directory's sweep (an `topologies.batches.Interlude`). `request()` asks for one now."""

    READY_POLL_S = 1.0  # how often a requested sweep looks whether the worker's partitions are settled

    def __init__(
        self,
        app: faust.App,
        deps: Deps,
        topic: str,
        files: BatchedTable[PersonFile],
        audits: AuditEntries,
        release: Callable[[], Awaitable[None]],
        keys: Callable[[], list[bytes]],
    ) -> None:
        self._app, self._deps, self._topic = app, deps, topic
        self._files, self._audits, self._release, self._all_keys = files, audits, release, keys
        self._periods = periods_of(deps.settings)
        self._interval = deps.settings.directory_purge_interval_s
        self._slice = deps.settings.batch_max_events
        self._requested: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._asked = False  # the first sweep one interval after the start, or on demand
        self._keys: list[bytes] | None = None  # the sweep's snapshot, handled from self._next on
        self._next = 0
        self._sweep: _Sweep | None = None
        _PURGERS[app] = self

    def request(self) -> None:
        self._asked = True
        if self._requested is not None:
            self._requested.set()

    async def wait(self) -> None:
        loop = asyncio.get_running_loop()
        if self._requested is None or self._loop is not loop:  # an event is bound to the loop it is first used in
            self._requested, self._loop = asyncio.Event(), loop
        while True:
            if not self._asked:
                timeout = self._interval if self._interval > 0 else None
                with contextlib.suppress(TimeoutError):  # the interval is up: a sweep is due
                    await asyncio.wait_for(self._requested.wait(), timeout=timeout)
            self._requested.clear()
            self._asked = False
            while self._partitions() is None:
                await asyncio.sleep(self.READY_POLL_S)
            self._keys, self._next = None, 0
            return

    async def step(self) -> bool:
        partitions = self._partitions()
        if partitions is None:  # a rebalance or a recovery began: sweep again once it is over
            log.info("directory purge interrupted by a rebalance; it starts again once the partitions are settled")
            self._keys, self._next = None, 0
            self.request()
            return False
        assigned, count = partitions
        if self._keys is None:
            self._sweep = _Sweep(self._deps.clock())
            self._keys, self._next = [k for k in self._all_keys() if partition_for(k, count) in assigned], 0
        sweep = self._sweep
        assert sweep is not None
        batch = self._keys[self._next : self._next + self._slice]
        self._next += len(batch)
        for key in batch:
            partition = partition_for(key, count)
            if partition not in assigned:
                continue
            at = standin(self._topic, partition)
            file = self._files.get(key, at)
            outcome = retention.purge(file, sweep.now.date(), self._periods)
            if not outcome.changed:
                continue
            person = key.decode()
            for item in outcome.items:
                self._audits.append((partition, key, _audit(item, person, sweep)))
            if outcome.file is None:
                self._files.delete(key, at)
                sweep.deleted += 1
            else:
                self._files.put(key, outcome.file, at)
            sweep.files += 1
            sweep.items += len(outcome.items)
        await self._release()  # the directory's own: audit records, then the changelog, then the store
        if self._next < len(self._keys):
            return True
        log.info(
            "directory purge of %s: %d item(s) from %d person file(s), %d file(s) deleted whole",
            sweep.now.date(),
            sweep.items,
            sweep.files,
            sweep.deleted,
        )
        self._keys, self._next, self._sweep = None, 0, None
        return False

    def _partitions(self) -> tuple[set[int], int] | None:
        """The partitions of the directory's topic this worker holds and its partition count; None while a
        rebalance or a recovery is under way (the table is not what the changelog says yet)."""
        if self._deps.held_partitions is not None:
            return self._deps.held_partitions(self._app, self._topic)
        return held_partitions(self._app, self._topic)


def held_partitions(faust_app: faust.App, topic: str) -> tuple[set[int], int] | None:
    """What the app's consumer holds of `topic`, and its partition count (see `Purger._partitions`)."""
    app: Any = faust_app
    if app.rebalancing or getattr(app, "in_recovery", False):
        return None
    try:
        assignment = app.consumer.assignment()
        count = app.consumer.topic_partitions(topic)
    except Exception:  # no consumer yet (the worker is starting)
        return None
    assigned = {tp.partition for tp in assignment if tp.topic == topic}
    if not assigned or not count:
        return None
    return assigned, count


class _Sweep:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now
        self.files = self.items = self.deleted = 0


def _audit(item: retention.Purged, person: str, sweep: _Sweep) -> dict[str, Any]:
    return purge_entry(
        ticket=item.purge_ticket,
        actor=retention.DIRECTORY_ACTOR,
        person=person,
        data_type=item.data_type,
        purged=str(item.kind),
        reason=item.reason,
        at=sweep.now,
        source_ticket=item.ticket,
        source=item.holder,
    )


def install(app: faust.App) -> None:
    """SIGUSR2 asks the app's directory for a purge now (the worker's signal; USR1 is the diagnostics')."""
    purger = _PURGERS.get(app)
    if purger is None:
        return
    asyncio.get_event_loop().add_signal_handler(signal.SIGUSR2, purger.request)
