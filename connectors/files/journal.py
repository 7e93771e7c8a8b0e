"""The progress journal of one file: which records are on the intake topic, at which position.

One append-only text file per file identity, in the partner folder's state directory, fsynced at every
step that matters::

    S <json {partition: end offset}>   a chunk begins: records may now reach the topic without a D line;
                                       a restart scans the topic from these offsets for this file's records
    D <record> <partition> <offset>    record delivered (delivery report of the idempotent producer)
    C                                  every record sent since the last S has its D line: nothing to scan

A torn last line (SIGKILL mid-write) is ignored: what it would have said is found again by the scan.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Progress:
    delivered: dict[int, tuple[int, int]] = field(default_factory=dict)  # record -> (partition, offset)
    open_from: dict[int, int] | None = None  # the last S without its C: where the topic must be scanned


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> Progress:
        progress = Progress()
        if not self.path.exists():
            return progress
        with self.path.open(encoding="utf-8") as handle:
            for line in handle:
                if not line.endswith("\n"):
                    break  # torn write
                parts = line.split(" ", 1)
                if parts[0] == "S":
                    progress.open_from = {int(p): int(o) for p, o in json.loads(parts[1]).items()}
                elif parts[0] == "D":
                    number, partition, offset = (int(x) for x in parts[1].split())
                    progress.delivered[number] = (partition, offset)
                elif parts[0] == "C\n":
                    progress.open_from = None
        return progress

    def _append(self, text: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())

    def open_chunk(self, end_offsets: dict[int, int]) -> None:
        self._append(f"S {json.dumps({str(p): o for p, o in sorted(end_offsets.items())})}\n")

    def close_chunk(self, deliveries: Iterable[tuple[int, int, int]]) -> None:
        self._append("".join(f"D {n} {p} {o}\n" for n, p, o in deliveries) + "C\n")
