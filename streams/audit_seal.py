"""The seal file: the audit partitions' verified heads, kept by the operator outside Kafka (docs/directory.md).

``crossroads audit verify`` reads it before checking and rewrites it after a successful check.  It is a plain
JSON file, ``{"format": 1, "seals": [{topic, partition, start_offset, offset, hash, records, verified_at}, ...]}``,
so that an operator can read it, diff it, and copy it somewhere safer still.

What makes it worth anything is who can write it: the operator only, never the worker that writes the audit
topic.  So it is created 0600 in a 0700 directory, replaced atomically (a crash leaves the old seal or the new
one, never half of one), and a file or directory that others may write is refused when read: a seal anyone
could rewrite would prove nothing.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from streams.domain.audit import Seal
from streams.settings import Settings

__all__ = ["FORMAT", "SealFileError", "SealKey", "load_seals", "save_seals", "seal_file"]

FORMAT = 1

SealKey = tuple[str, int]  # (topic, partition)


class SealFileError(Exception):
    """The seal file cannot be read, trusted or written."""


def seal_file(settings: Settings) -> Path:
    """Where the seals are: ``CROSSROADS_AUDIT_SEAL_FILE``, else ``<state dir>/audit/verified-heads.json``."""
    return settings.audit_seal_file or settings.state_dir / "audit" / "verified-heads.json"


def _refuse_if_others_may_write(path: Path) -> None:
    info = path.stat()
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise SealFileError(f"{path} may be written by others (mode {stat.filemode(info.st_mode)}): refusing its seals")
    if info.st_uid != os.geteuid():
        raise SealFileError(f"{path} belongs to uid {info.st_uid}, not to this operator (uid {os.geteuid()})")


def _seal(raw: Mapping[str, Any]) -> Seal:
    offset = raw["offset"]
    verified_at = datetime.fromisoformat(str(raw["verified_at"]))
    if verified_at.tzinfo is None:
        raise ValueError(f"verified_at without a time zone: {raw['verified_at']}")
    return Seal(
        topic=str(raw["topic"]),
        partition=int(raw["partition"]),
        start_offset=int(raw["start_offset"]),
        offset=None if offset is None else int(offset),
        hash=str(raw["hash"]),
        records=int(raw["records"]),
        verified_at=verified_at,
    )


def load_seals(path: Path) -> dict[SealKey, Seal]:
    """The seals in ``path`` by (topic, partition); none when the file does not exist yet (first run)."""
    try:
        _refuse_if_others_may_write(path.parent)
        _refuse_if_others_may_write(path)
        document = json.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise SealFileError(f"cannot read the seals in {path}: {exc}") from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise SealFileError(f"{path} is not a format-{FORMAT} seal file")
    try:
        seals = [_seal(raw) for raw in document["seals"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise SealFileError(f"{path} holds a malformed seal: {exc!r}") from exc
    return {(s.topic, s.partition): s for s in seals}


def _raw(seal: Seal) -> dict[str, Any]:
    return {
        "topic": seal.topic,
        "partition": seal.partition,
        "start_offset": seal.start_offset,
        "offset": seal.offset,
        "hash": seal.hash,
        "records": seal.records,
        "verified_at": seal.verified_at.isoformat(),
    }


def save_seals(path: Path, seals: Iterable[Seal]) -> None:
    """Replace the file with ``seals``, atomically: written to a private temporary file in the same directory,
    fsynced, renamed over the old one, and the directory fsynced so that the rename survives a crash."""
    ordered = sorted(seals, key=lambda s: (s.topic, s.partition))
    document = {"format": FORMAT, "seals": [_raw(s) for s in ordered]}
    data = (json.dumps(document, indent=2) + "\n").encode()
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # 0600
        try:
            with os.fdopen(descriptor, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    except OSError as exc:
        raise SealFileError(f"cannot write the seals to {path}: {exc}") from exc
