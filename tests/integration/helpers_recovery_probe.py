"""A faust worker with one probe flow, for tests/integration/test_faust_recovery.py.

Run as ``python tests/integration/helpers_recovery_probe.py OUT [stock]`` with the settings in CROSSROADS_*
variables. The flow is shaped like the directory: a table (so recovery runs `on_recovery_completed`) and one
agent over the probe topic, handling events one by one and releasing them in batches
(`topologies.batches.handle_then_release`); it appends "partition offset" to OUT for every event it handles.

`perform_seek` is slowed down by 1.5 s, so that the window between "the stream partitions may be fetched" and
"the seek is done" is wide open whatever the machine's speed. With ``stock``, faust's own TableManager (its
recovery order) is used instead of the platform's (topologies/faust_overrides.py).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

import faust
from faust.tables.manager import TableManager as FaustTableManager
from faust.transport import consumer as faust_consumer
from faust.types import EventT
from faust.worker import Worker

import topologies.app
from streams.settings import Settings
from topologies.app import create_app
from topologies.batches import handle_then_release
from topologies.deps import Deps

TOPIC = "probe.events.v1"


class ProbeFlow:
    def __init__(self, out: Path) -> None:
        self.out = out

    def register(self, app: faust.App, deps: Deps) -> None:
        prefix = deps.settings.topic_prefix
        app.Table("probe", key_type=bytes, value_type=bytes)
        source = app.topic(f"{prefix}.{TOPIC}", key_type=bytes, value_type=bytes)
        out = self.out.open("a", buffering=1)

        async def handle(event: EventT[bytes]) -> None:
            await asyncio.sleep(0.001)  # ~1,000 events/s: a backlog outlives the seek
            out.write(f"{event.message.partition} {event.message.offset}\n")

        async def flush() -> None:
            await asyncio.sleep(0)

        async def probe(stream: faust.StreamT[bytes]) -> None:
            await handle_then_release(stream, handle, flush, 200, 0.01)

        app.agent(source, name="probe")(probe)


def main() -> None:
    out, stock = Path(sys.argv[1]), sys.argv[2:] == ["stock"]
    if stock:
        topologies.app.TableManager = FaustTableManager  # type: ignore[misc]

    original = faust_consumer.Consumer.perform_seek

    async def slow_seek(self: Any) -> None:
        await asyncio.sleep(1.5)
        await original(self)

    faust_consumer.Consumer.perform_seek = slow_seek  # type: ignore[method-assign]
    settings = Settings()
    deps = Deps.from_settings(settings)
    app = create_app(settings, flows=[ProbeFlow(out)], deps=deps)
    app.conf.broker_session_timeout = 6.0
    app.conf.broker_heartbeat_interval = 1.0
    logging.getLogger("aiokafka").setLevel(logging.WARNING)

    async def install_diagnostics() -> None:
        from topologies import diagnostics

        diagnostics.install(app)

    app.task(install_diagnostics)
    Worker(app, loglevel="info", quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main()
