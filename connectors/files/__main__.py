"""``python -m connectors.files inbound|outbound|replay|status``: the same commands as ``crossroads connectors``."""

from __future__ import annotations

from streams.cli.connectors import app

if __name__ == "__main__":
    app()
