from __future__ import annotations

from streams.cli import main

main()
