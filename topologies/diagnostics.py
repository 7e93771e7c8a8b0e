"""A running worker's inner state, written to its log on SIGUSR1: what faust's consumer fetches, pauses, has
acked and committed per partition, and what each agent's buffer holds.

An operator's tool for a worker that is alive but does not move: `kill -USR1 <pid>`, then read the log.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

import faust

log = logging.getLogger("crossroads.diagnostics")


def install(app: faust.App) -> None:
    loop = asyncio.get_event_loop()
    loop.add_signal_handler(signal.SIGUSR1, lambda: log.warning("diagnostics\n%s", describe(app)))


def describe(app: faust.App) -> str:
    consumer: Any = app.consumer
    lines = [
        f"flow_control active={app.flow_control.is_active()} consumer.flow_active={consumer.flow_active} "
        f"in_recovery={getattr(app, 'in_recovery', None)} rebalancing={app.rebalancing} "
        f"generation={app.consumer_generation_id} unacked={len(consumer._unacked_messages)}"
    ]
    try:
        assignment = sorted(consumer.assignment())
    except Exception as exc:  # diagnostics must not raise
        assignment = []
        lines.append(f"assignment unavailable: {exc!r}")
    active = consumer._active_partitions or set()
    thread = getattr(consumer, "_thread", None)
    aio = getattr(thread, "_consumer", None)
    paused_in_client = set()
    if aio is not None:
        try:
            paused_in_client = set(aio.paused())
        except Exception as exc:
            lines.append(f"aiokafka paused() unavailable: {exc!r}")
    for tp in assignment:
        acked = consumer._acked.get(tp) or []
        position: Any = "?"
        highwater: Any = "?"
        if aio is not None:
            try:
                position = aio._fetcher._subscriptions.subscription.assignment.state_value(tp).position
                highwater = aio.highwater(tp)
            except Exception:
                pass
        lines.append(
            f"{tp.topic}[{tp.partition}] active={tp in active} paused={tp in consumer._paused_partitions} "
            f"buffered={tp in consumer._buffered_partitions} client_paused={tp in paused_in_client} "
            f"position={position} highwater={highwater} read={consumer._read_offset.get(tp)} "
            f"committed={consumer._committed_offset.get(tp)} acked={len(acked)}"
            + (f" [{min(acked)}..{max(acked)}]" if acked else "")
            + f" gaps={list(consumer._gap.get(tp, []))[:3]}"
        )
    for agent in app.agents.values():
        channel: Any = agent.channel
        queue = getattr(channel, "queue", None)
        if queue is not None:
            lines.append(
                f"agent {agent.name}: queue {queue.qsize()}/{queue.maxsize} "
                f"pending_drop_callbacks={len(queue._pending_pressure_drop_callbacks)}"
            )
        for actor in getattr(agent, "_actors", []):
            task = getattr(actor, "actor_task", None)
            if task is not None:
                frames = task.get_stack(limit=8)
                where = " <- ".join(f"{f.f_code.co_name}:{f.f_lineno}" for f in reversed(frames))
                lines.append(f"  actor task done={task.done()} at {where}")
    buffer = app.producer.buffer
    lines.append(f"producer buffer size={buffer.size}")
    return "\n".join(lines)
