"""What every service of the local stack offers to `crossroads stack up | down | status`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    running: bool
    version: str | None
    pid: int | None
    ports: dict[str, int] = field(default_factory=dict)
    data_dir: Path | None = None
    log_file: Path | None = None
    # False when something answers on the port but it is not a process this project started
    ours: bool = True


class Service(Protocol):
    name: str

    def install(self) -> None:
        """Make the binaries/jars available (idempotent; may download from the package registries)."""

    def up(self) -> bool:
        """Start if not running and wait until ready. True if this call started a process."""

    def down(self) -> bool:
        """Stop the process this project started (by pid file). True if one was stopped."""

    def ready(self) -> bool:
        """Whether the service answers (metadata request / SELECT 1)."""

    def status(self) -> ServiceStatus: ...
