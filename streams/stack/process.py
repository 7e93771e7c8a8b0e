"""Starting and stopping the stack's own processes, tracked by pid files (never by process name)."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from streams.stack.errors import ProcessDied, StartError

# The processes this very process started, by pid file (the last one started under it): only a parent can learn
# how its child ended, and only while it holds the Popen (a dropped Popen is reaped by the subprocess module,
# and its exit status with it).
_CHILDREN: dict[Path, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class ManagedProcess:
    """A long-running process of the project: its pid file, its log, and how to tell it is ours."""

    name: str
    pid_file: Path
    log_file: Path

    def pid(self) -> int | None:
        """The pid recorded in the pid file if that process is still alive, else None (stale files removed)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        if _alive(pid):
            return pid
        self.pid_file.unlink(missing_ok=True)
        return None

    def recorded_pid(self) -> int | None:
        """The pid in the pid file, alive or not, the file left as it is (`crossroads status` reports a dead one)."""
        try:
            return int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def start(self, argv: Sequence[str], *, cwd: Path, env: dict[str, str] | None = None) -> int:
        """Start detached (own session, so it outlives the CLI), output appended to the log file."""
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            proc = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env={**os.environ, **(env or {})},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid_file.write_text(f"{proc.pid}\n")
        _CHILDREN[self.pid_file] = proc
        return proc.pid

    def exit_status(self) -> str | None:
        """How the process ended, if it was started by this process and has ended ("exit code 1", "killed by
        SIGKILL"); None while it runs or when it is not our child."""
        proc = _CHILDREN.get(self.pid_file)
        code = proc.poll() if proc is not None else None
        return _describe(code) if code is not None else None

    def check(self) -> None:
        """Raise ProcessDied (exit status and the last lines of the log) unless the process is alive."""
        if self.pid() is None:
            status = self.exit_status() or "not running"
            raise ProcessDied(
                f"{self.name} is not running ({status}); last lines of {self.log_file}:\n{self.log_tail()}"
            )

    def stop(self, timeout: float = 30.0) -> bool:
        """SIGTERM the recorded process and wait; SIGKILL if it ignores us. True if something was stopped."""
        pid = self.pid()
        if pid is None:
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.2)
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            while _alive(pid):
                time.sleep(0.1)
        self.pid_file.unlink(missing_ok=True)
        return True

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log yet)"


def _describe(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child of ours is dead for our purposes
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return True


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        return sock.connect_ex((host, port)) == 0


def wait_until(ready: Callable[[], bool], *, timeout: float, what: str, process: ManagedProcess | None = None) -> None:
    """Poll `ready` until it holds; fail with the process's log tail if it died or time ran out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        if process is not None and process.pid() is None:
            raise StartError(f"{what} exited during start-up; last lines of {process.log_file}:\n{process.log_tail()}")
        time.sleep(0.5)
    tail = f"; last lines of {process.log_file}:\n{process.log_tail()}" if process else ""
    raise StartError(f"{what} not ready after {timeout:.0f}s{tail}")


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_ports(width: int, taken: set[int] | None = None, rng: random.Random | None = None) -> int:
    """A base port such that it and the `width - 1` after it are free (bound and released now), below the
    ephemeral range (where a client's outgoing connection could take one meanwhile), none in `taken`."""
    top = _ephemeral_low() - width
    for _ in range(500):
        base = (rng or random).randrange(20000, max(20002, top), 2)
        ports = range(base, base + width)
        if taken is not None and taken.intersection(ports):
            continue
        sockets = []
        try:
            for port in ports:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
        if taken is not None:
            taken.update(ports)
        return base
    raise RuntimeError("no free range of ports")
