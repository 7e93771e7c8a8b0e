"""Installing the stack's system packages with the machine's package manager (Debian's apt)."""

from __future__ import annotations

import os
import subprocess

from streams.stack.errors import InstallError


def apt_install(*packages: str) -> None:
    """`apt-get update` then `apt-get install -y`; sudo when not root. Raises InstallError with apt's output."""
    # sudo drops the environment, so DEBIAN_FRONTEND goes on its command line
    prefix = ["env"] if os.geteuid() == 0 else ["sudo"]
    prefix.append("DEBIAN_FRONTEND=noninteractive")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in ([*prefix, "apt-get", "update", "-qq"], [*prefix, "apt-get", "install", "-y", "-qq", *packages]):
        result = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
        if result.returncode != 0:
            raise InstallError(f"{' '.join(argv)} failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
