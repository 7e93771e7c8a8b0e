"""Release the current schemas: copy each changed one to ``avro_schemas/history/<full name>/v<N+1>.avsc``.

    python -m streams.codecs.release           # release every new or changed schema
    python -m streams.codecs.release --check   # exit 1 when something is unreleased (for CI / pre-commit)

A schema is "changed" when its parsing canonical form differs from the latest release: a doc-only edit does
not make a new version.  The copy is the standalone schema (references inlined), so a release never changes
when another file is edited later.  Release only after the compatibility test passes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from streams.codecs.registry import HISTORY_DIR, SchemaRegistry

__all__ = ["main", "unreleased"]


def unreleased(registry: SchemaRegistry) -> list[str]:
    return [entry.full_name for entry in registry if entry.version is None]


def release(registry: SchemaRegistry) -> list[Path]:
    written = []
    for name in unreleased(registry):
        entry = registry.get(name)
        history = registry.history(name)
        version = (history[-1].version or 0) + 1 if history else 1
        path = registry.root / HISTORY_DIR / name / f"v{version}.avsc"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(entry.standalone, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    registry = SchemaRegistry.from_directory(next((a for a in args if not a.startswith("-")), None))
    if "--check" in args:
        pending = unreleased(registry)
        for name in pending:
            print(f"unreleased: {name}")
        return 1 if pending else 0
    for path in release(registry):
        print(f"released {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
