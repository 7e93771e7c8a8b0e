"""Durable file operations: what is written is on disk (fsynced, directory included) before anyone acts on it."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

import orjson
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition


class FolderLockedError(RuntimeError):
    """Another connector already works on this folder."""


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``path`` whole or not at all: a temporary file, fsync, rename, fsync of the directory. A reader
    never sees half a reply, and a crash leaves either the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def json_default(value: object) -> object:
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def json_line(value: object) -> bytes:
    return orjson.dumps(value, default=json_default) + b"\n"


def json_lines(values: Iterable[object]) -> bytes:
    return b"".join(json_line(v) for v in values)


def unique_target(directory: Path, name: str) -> Path:
    """``directory/name``, or ``name.1``, ``name.2``… when taken (a re-dropped file is archived again)."""
    target = directory / name
    n = 0
    while target.exists():
        n += 1
        target = directory / f"{name}.{n}"
    return target


def move(path: Path, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    target = unique_target(directory, path.name)
    os.replace(path, target)
    fsync_dir(directory)
    fsync_dir(path.parent)
    return target


@contextlib.contextmanager
def exclusive(lock_path: Path) -> Iterator[IO[str]]:
    """An advisory lock held for the life of the process (the kernel drops it when the process dies, even on
    SIGKILL): two connectors never work on the same folder."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    handle = lock_path.open("a+")
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FolderLockedError(f"another connector holds {lock_path}") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield handle
    finally:
        handle.close()


_TRANSIENT = {
    KafkaError.NOT_LEADER_FOR_PARTITION,
    KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.UNKNOWN_TOPIC_OR_PART,
    KafkaError._TIMED_OUT,
    KafkaError._TRANSPORT,
}


def watermarks(consumer: Consumer, topic: str, partition: int, patience: float = 15.0) -> tuple[int, int]:
    """(low, high) of a partition, waiting out what a topic just created or a leader election answers."""
    deadline = time.monotonic() + patience
    while True:
        try:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10, cached=False)
            return int(low), int(high)
        except KafkaException as exc:
            error = exc.args[0]
            if time.monotonic() > deadline or not (error.retriable() or error.code() in _TRANSIENT):
                raise
            time.sleep(0.2)
