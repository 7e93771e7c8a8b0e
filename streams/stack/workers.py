"""The platform's own processes on the local stack: the faust worker and the ClickHouse projector.

The demo and the integration tests run them exactly as an operator would (`crossroads worker`,
`crossroads projector`), as child processes tracked by pid files, with the settings passed as CROSSROADS_*
variables.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from streams.deployment import grant_deployment
from streams.settings import Settings
from streams.stack.process import ManagedProcess

COMMANDS = ("worker", "projector")


def crossroads_argv() -> list[str]:
    """The console script of this very environment (a venv's bin/), else `python -m streams.cli`."""
    script = Path(sys.executable).with_name("crossroads")
    if script.exists():
        return [str(script)]
    found = shutil.which("crossroads")
    return [found] if found else [sys.executable, "-m", "streams.cli"]


class PlatformWorkers:
    def __init__(self, settings: Settings, commands: tuple[str, ...] = COMMANDS) -> None:
        self._settings = settings
        home = settings.state_dir / "workers" / settings.app_id
        self.processes = {
            command: ManagedProcess(command, home / f"{command}.pid", home / f"{command}.log") for command in commands
        }
        self.home = home

    def start(self) -> dict[str, int]:
        """Start what is not running, after granting the deployment its access (the services log in as their
        own principals, which need this deployment's ACLs); returns the pids."""
        grant_deployment(self._settings)
        env = self._settings.as_env()
        pids = {}
        for command, process in self.processes.items():
            pid = process.pid()
            if pid is None:
                pid = process.start([*crossroads_argv(), command], cwd=self.home, env=env)
            pids[command] = pid
        return pids

    def check(self) -> None:
        """Raise ProcessDied, with how it ended and its log's last lines, if any of the processes is not running."""
        for process in self.processes.values():
            process.check()

    def stop(self) -> list[str]:
        return [command for command, process in self.processes.items() if process.stop(timeout=30.0)]
