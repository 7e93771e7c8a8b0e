"""What a partner folder holds, by state: waiting (a data file not yet processed), archived, in error, cancelled.

One count for `crossroads connectors status` and for the inbound connector's `crossroads_connector_files` gauge.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from streams.domain.filedrop import DropKind, parse_drop_name

STATES = ("waiting", "archived", "error", "cancelled")


@dataclass(frozen=True)
class Inventory:
    partner: str
    waiting: int
    archived: int
    cancelled: int
    failed: tuple[str, ...]  # the data files in error/, by name

    def count(self, state: str) -> int:
        return {"waiting": self.waiting, "archived": self.archived, "error": len(self.failed)}.get(
            state, self.cancelled
        )


def _data_files(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    return sorted(
        p.name for p in folder.iterdir() if (n := parse_drop_name(p.name)) is not None and n.kind is DropKind.DATA
    )


def partner_inventory(folder: Path) -> Inventory:
    return Inventory(
        partner=folder.name,
        waiting=len(_data_files(folder)),
        archived=len(_data_files(folder / "archive")),
        cancelled=len(_data_files(folder / "cancelled")),
        failed=tuple(_data_files(folder / "error")),
    )


def inventories(root: Path) -> list[Inventory]:
    """One per partner folder under the inbound root (none when the root does not exist yet)."""
    if not root.is_dir():
        return []
    return [partner_inventory(p) for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith(".")]


def totals(root: Path) -> dict[str, int]:
    found = inventories(root)
    return {state: sum(i.count(state) for i in found) for state in STATES}
