"""The harness as the platform's process supervisor (what docker compose's `restart: unless-stopped` is in
production): a worker or projector that exits is restarted and counted, with how it ended and its log's last
lines; the suite's own SIGKILLs are restarted at once. One that keeps dying -- `max_fruitless` exits in a row
that were not ours, without the platform making progress in between -- is given up on, loudly.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from streams.stack.process import ManagedProcess

FIRST_DELAY_S = 0.5
LONGEST_DELAY_S = 8.0
POLL_S = 0.25


class SupervisionFailed(RuntimeError):
    """A process of the platform keeps dying."""


class Decision(NamedTuple):
    fruitless: int  # exits in a row not caused by us and without progress
    delay_s: float  # wait before the restart
    give_up: bool


def restart_policy(*, ours: bool, progressed: bool, fruitless: int, max_fruitless: int) -> Decision:
    """What to do when a supervised process has exited. Our own kill: restart now (it does not count). Any other
    exit counts, and resets the count when the platform progressed since the previous one; restarts back off
    (0.5 s, 1 s, 2 s ... 8 s) so that an outage of a few seconds is not `max_fruitless` restarts."""
    if ours:
        return Decision(fruitless, 0.0, False)
    fruitless = 1 if progressed else fruitless + 1
    if fruitless >= max_fruitless:
        return Decision(fruitless, 0.0, True)
    return Decision(fruitless, min(LONGEST_DELAY_S, FIRST_DELAY_S * 2 ** (fruitless - 1)), False)


def crash_reason(lines: Sequence[str]) -> str:
    """The line of a log tail that says why a process ended: faust's first "Crashed reason=...", else the last
    "SomethingError: ..." lines of a traceback."""
    for line in lines:  # the first agent that crashed: the others are cancelled because of it
        if "Crashed reason=" in line:
            return line.split("Crashed reason=", 1)[1].strip()[:400]
    errors = [line.strip() for line in lines if re.match(r"^\s*[\w.]*(Error|Exception)\b", line)]
    return " ".join(errors[-2:])[:400] if errors else "(not in the log's last lines)"


@dataclass
class Supervised:
    name: str
    process: ManagedProcess
    argv: Sequence[str]
    cwd: Path
    env: dict[str, str]
    progress: Callable[[], int | None]
    fatal: bool = True  # giving up on it ends the scenario (False: it stays down, the scenario goes on)
    held: bool = False
    ours: int = 0  # exits we caused and have not seen yet
    fruitless: int = 0
    progress_at_exit: int | None = None
    restart_at: float | None = None
    gave_up: str | None = None
    restarts: int = 0
    log_offset: int = 0  # where this incarnation's lines start in the (appended) log

    def launch(self) -> None:
        try:
            self.log_offset = self.process.log_file.stat().st_size
        except FileNotFoundError:
            self.log_offset = 0
        self.process.start(list(self.argv), cwd=self.cwd, env=self.env)

    def own_log(self, lines: int) -> list[str]:
        """The last `lines` lines this incarnation wrote (not its predecessors')."""
        try:
            with open(self.process.log_file, "rb") as log:
                log.seek(self.log_offset)
                text = log.read().decode(errors="replace")
        except FileNotFoundError:
            return []
        return text.splitlines()[-lines:]


@dataclass
class Supervisor:
    max_fruitless: int = 5
    processes: dict[str, Supervised] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._began = time.monotonic()

    def add(self, supervised: Supervised) -> None:
        with self._lock:
            self.processes[supervised.name] = supervised

    def start(self, *names: str) -> None:
        with self._lock:
            for name in names or tuple(self.processes):
                p = self.processes[name]
                p.held = False
                if p.process.pid() is None and not p.gave_up:
                    p.launch()
                    if p.restart_at is not None:  # it was down, waiting for this
                        p.restart_at = None
                        p.restarts += 1
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="chaos-supervisor", daemon=True)
            self._thread.start()

    def pid(self, name: str) -> int | None:
        return self.processes[name].process.pid()

    def kill(self, name: str, sig: signal.Signals = signal.SIGKILL, *, hold: bool = False) -> int | None:
        """Signal the process (ours: restarted at once unless `hold`); its pid, None if it was not running."""
        with self._lock:
            p = self.processes[name]
            pid = p.process.pid()
            if pid is None:
                return None
            p.ours += 1
            p.held = p.held or hold
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        return pid

    def hold(self, name: str) -> None:
        with self._lock:
            self.processes[name].held = True

    def release(self, name: str) -> None:
        self.start(name)

    def elapsed(self) -> float:
        return time.monotonic() - self._began

    def check(self) -> None:
        """Raise SupervisionFailed if a fatal process was given up on."""
        with self._lock:
            for p in self.processes.values():
                if p.gave_up and p.fatal:
                    raise SupervisionFailed(p.gave_up)

    def given_up(self) -> list[str]:
        with self._lock:
            return [p.gave_up for p in self.processes.values() if p.gave_up]

    @property
    def restarts(self) -> int:
        return sum(p.restarts for p in self.processes.values())

    @property
    def unexpected_exits(self) -> int:
        return sum(1 for e in self.events if e["cause"] == "crash")

    def _loop(self) -> None:
        while not self._stop.wait(POLL_S):
            for p in list(self.processes.values()):
                # the progress probe may wait for a broker that is down: never while holding the lock
                exited = not p.gave_up and p.restart_at is None and p.process.pid() is None
                progress = p.progress() if exited else None
                with self._lock:
                    self._tend(p, progress)

    def _tend(self, p: Supervised, now_progress: int | None) -> None:
        if p.gave_up:
            return
        if p.restart_at is not None:
            if time.monotonic() >= p.restart_at and not p.held:
                p.restart_at = None
                p.launch()
                p.restarts += 1
            return
        if p.process.pid() is not None:
            return
        status = p.process.exit_status() or "not running"
        ours = p.ours > 0
        p.ours = max(0, p.ours - 1)
        progressed = now_progress is not None and now_progress != p.progress_at_exit
        p.progress_at_exit = now_progress
        decision = restart_policy(
            ours=ours, progressed=progressed, fruitless=p.fruitless, max_fruitless=self.max_fruitless
        )
        p.fruitless = decision.fruitless
        event: dict[str, Any] = {
            "process": p.name,
            "at_s": round(self.elapsed(), 1),
            "cause": "fault" if ours else "crash",
            "exit_status": status,
        }
        if not ours:
            tail = p.own_log(400)
            event["reason"] = crash_reason(tail)
            event["log_tail"] = tail[-30:]
        if decision.give_up:
            p.gave_up = (
                f"{p.name} keeps dying: {decision.fruitless} exits in a row without progress, the last {status}"
                f" ({event.get('reason')}); last lines of {p.process.log_file}:\n" + "\n".join(p.own_log(30))
            )
            event["gave_up"] = True
        elif p.held:
            event["held"] = True
            p.restart_at = time.monotonic()  # started when released
        else:
            p.restart_at = time.monotonic() + decision.delay_s
            event["restart_in_s"] = decision.delay_s
        self.events.append(event)

    def stop_all(self) -> list[str]:
        """Stop the supervision, then every process (SIGTERM, SIGKILL after 30 s), by pid file."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        stopped = []
        with self._lock:
            for p in self.processes.values():
                if p.process.stop(timeout=30.0):
                    stopped.append(p.name)
                p.process.exit_status()  # reaps it: no zombie left behind
        return stopped
