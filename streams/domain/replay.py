"""Dead letters: naming them, and replaying one back to its intake (docs/operations.md, "Dead letters").

A dead letter (``be.crossroads.outputs.DeadLetter``, built by ``streams.dead_letters``) keeps an undecodable
message whole: its origin (topic, partition, offset, timestamp), key, headers and raw bytes, with why it was
refused.  Its id is its own position in the dead-letter topic, ``partition:offset``: short, and stable for the
topic's lifetime (the topic is kept forever).

A replay sends the letter's raw bytes, key and original headers back to an intake topic, plus provenance headers:

* ``crossroads-replay-of``: the letter's id;
* ``crossroads-replay-origin``: the *root* origin ``topic/partition/offset`` -- the intake position the message
  was first read at.  A letter that is itself the dead letter of a replay (the cause was not fixed yet) keeps
  the root origin its headers already carry, so every replay of one sender's message names the same origin;
* ``crossroads-replay-ticket``: the replay's own ticket, the one its audit record carries.

The root origin is what the intake remembers (`first_admission`): one message admitted once, however many
letters it produced (a crash may dead-letter it twice) and however many replays of them race.

What may be replayed where (`replay_target`): only a letter whose origin is an intake topic.  The other
dead-lettering steps (the directory, the DmfA step) read what the platform itself wrote after its intake admitted
a declaration: replaying that to an intake would admit the declaration a second time.  By default a letter goes
back to its origin topic and partition; ``--to`` names another intake topic of the catalog.

The seal (``streams.domain.seal``) binds the intake topic and the value.  Back on its origin topic, nothing it
binds changed: the original headers keep a valid seal.  On another intake topic the seal would no longer hold, so
`replay_headers` seals again *as the producer the original seal proves*, and only then: a letter whose seal
proved nobody keeps its headers, and the intake refuses it as it would have (nobody is made a sender by a
replay).

Pure: keys, the catalog's intake topics, the clock and the tickets are given.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from streams.domain.errors import DeadLetterError
from streams.domain.references import Sent, SentReferences
from streams.domain.seal import SEAL_HEADER, SENDER_HEADER, Headers, proven_producer, seal_headers

__all__ = [
    "REPLAY_HEADERS",
    "REPLAY_OF_HEADER",
    "REPLAY_ORIGIN_HEADER",
    "REPLAY_TICKET_HEADER",
    "Letter",
    "first_admission",
    "hexdump",
    "letter_id",
    "letter_of",
    "parse_letter_id",
    "proven_sender",
    "remembered_admission",
    "replay_headers",
    "replay_key",
    "replay_letter",
    "replay_origin",
    "replay_partition",
    "replay_target",
    "selected",
]

REPLAY_OF_HEADER = "crossroads-replay-of"
REPLAY_ORIGIN_HEADER = "crossroads-replay-origin"
REPLAY_TICKET_HEADER = "crossroads-replay-ticket"
REPLAY_HEADERS = frozenset({REPLAY_OF_HEADER, REPLAY_ORIGIN_HEADER, REPLAY_TICKET_HEADER})

# the intake's references table holds subjects (digits); a replayed origin's entry cannot collide with one
_REPLAY_KEY_PREFIX = "replay/"
_ID = re.compile(r"^(0|[1-9][0-9]{0,9}):(0|[1-9][0-9]{0,18})$")


def letter_id(partition: int, offset: int) -> str:
    """A dead letter's id: its position in the dead-letter topic."""
    return f"{partition}:{offset}"


def parse_letter_id(text: str) -> tuple[int, int]:
    """``partition:offset`` back to its numbers; anything else is a `DeadLetterError` ``bad_id``."""
    match = _ID.match(text.strip())
    if match is None:
        raise DeadLetterError("bad_id", f"{text!r} is not a dead letter id: partition:offset, e.g. 0:17")
    return int(match[1]), int(match[2])


@dataclass(frozen=True, slots=True)
class Letter:
    """One dead letter, as read back from the dead-letter topic."""

    id: str
    topic: str  # where the message was read from
    partition: int
    offset: int
    timestamp: datetime | None
    key: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]
    raw: bytes
    reason: str
    error_type: str
    dead_lettered_at: datetime

    @property
    def origin(self) -> str:
        """The root origin ``topic/partition/offset``: the one its replay headers name, else its own."""
        return replay_origin(self.headers) or f"{self.topic}/{self.partition}/{self.offset}"

    def as_dict(self, *, raw: bool = True) -> dict[str, Any]:
        """JSON-ready: bytes as base64 (``*_b64``) and, when they are text, as text too."""
        view: dict[str, Any] = {
            "id": self.id,
            "reason": self.reason,
            "error_type": self.error_type,
            "dead_lettered_at": self.dead_lettered_at.isoformat(),
            "origin": {
                "topic": self.topic,
                "partition": self.partition,
                "offset": self.offset,
                "timestamp": None if self.timestamp is None else self.timestamp.isoformat(),
                "root": self.origin,
            },
            "key": _text(self.key),
            "key_b64": None if self.key is None else _b64(self.key),
            "headers": [
                {"key": k, "value": _text(v), "value_b64": None if v is None else _b64(v)} for k, v in self.headers
            ],
            "size": len(self.raw),
        }
        if raw:
            view["raw_b64"] = _b64(self.raw)
        return view


def letter_of(partition: int, offset: int, record: Mapping[str, Any]) -> Letter:
    """The decoded DeadLetter record found at ``partition:offset`` of the dead-letter topic."""
    return Letter(
        id=letter_id(partition, offset),
        topic=str(record["topic"]),
        partition=int(record["partition"]),
        offset=int(record["offset"]),
        timestamp=record.get("timestamp"),
        key=record.get("key"),
        headers=tuple((str(h["key"]), h.get("value")) for h in record.get("headers") or ()),
        raw=bytes(record.get("raw") or b""),
        reason=str(record["reason"]),
        error_type=str(record["error_type"]),
        dead_lettered_at=record["dead_lettered_at"],
    )


def selected(
    letters: Iterable[Letter],
    *,
    since: datetime | None = None,
    topic: str | None = None,
    error_type: str | None = None,
    limit: int | None = None,
) -> list[Letter]:
    """The letters dead-lettered at or after ``since``, from origin ``topic``, of ``error_type``, oldest first;
    ``limit``: only the most recent so many of them."""
    kept = [
        letter
        for letter in letters
        if (since is None or letter.dead_lettered_at >= since)
        and (topic is None or letter.topic == topic)
        and (error_type is None or letter.error_type == error_type)
    ]
    kept.sort(key=lambda letter: (letter.dead_lettered_at, letter.id))
    return kept[-limit:] if limit else kept


def hexdump(data: bytes, width: int = 16) -> str:
    """``offset  hex bytes  |printable|``, ``width`` bytes a line, like ``hexdump -C``."""
    lines = []
    for start in range(0, len(data), width):
        chunk = data[start : start + width]
        hexed = " ".join(f"{b:02x}" for b in chunk)
        printable = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{start:08x}  {hexed:<{width * 3 - 1}}  |{printable}|")
    return "\n".join(lines)


# -- where a replay goes -------------------------------------------------------------------------------------
def replay_target(
    letter: Letter, to: str | None, intake_topics: Collection[str], catalog_topics: Collection[str]
) -> str:
    """The intake topic ``letter`` is replayed to: its origin, or ``to`` (a catalog topic's full name, or the
    family name of an intake topic: ``civil``); `DeadLetterError` when it may not be replayed there."""
    root_topic = letter.origin.rsplit("/", 2)[0]
    if root_topic not in intake_topics:
        raise DeadLetterError(
            "not_intake_origin",
            f"dead letter {letter.id} came from {root_topic}, not an intake topic: that step read what the platform "
            "wrote after its intake admitted the declaration, so a replay would admit it a second time; "
            "fix the step and let it read that offset again (docs/operations.md, 'Dead letters')",
        )
    if to is None:
        return root_topic
    by_family = {topic.split(".")[-2]: topic for topic in intake_topics}
    target = by_family.get(to, to)
    if target in intake_topics:
        return target
    if target in catalog_topics:
        raise DeadLetterError(
            "not_intake_topic",
            f"{to} is not an intake topic: a replay goes through the intake's validation, never around it "
            f"(intake topics: {', '.join(sorted(intake_topics))})",
        )
    raise DeadLetterError(
        "unknown_topic",
        f"{to} is no topic of the catalog (intake topics: {', '.join(sorted(intake_topics))})",
    )


def replay_partition(letter: Letter, target: str, partitions: int, partition_for: Callable[[bytes, int], int]) -> int:
    """The partition a replay of ``letter`` to ``target`` goes to: the same for every replay of one origin,
    so that racing replays meet in one intake, in order.  Back on its origin topic: the origin partition (where
    its key's other messages, and its references, are); elsewhere: its key's partition, or its origin's hash
    when it has no key."""
    root_topic, root_partition, _ = letter.origin.rsplit("/", 2)
    if target == root_topic and int(root_partition) < partitions:
        return int(root_partition)
    return partition_for(letter.key if letter.key else letter.origin.encode(), partitions)


def replay_headers(
    letter: Letter, target: str, *, ticket: str, key_of: Callable[[str], bytes]
) -> list[tuple[str, bytes | None]]:
    """The letter's original headers (in order, without provenance headers of an earlier replay) and the
    provenance of this replay.  On another intake topic than the one the seal was made for, sealed again as the
    producer the original seal proves (the seal binds the topic); a seal that proves nobody is left as it is."""
    root_topic = letter.origin.rsplit("/", 2)[0]
    original = [(k, v) for k, v in letter.headers if k not in REPLAY_HEADERS]
    if target != root_topic:
        producer = proven_producer(original, root_topic, letter.raw, key_of)
        if producer is not None:
            original = [(k, v) for k, v in original if k not in (SENDER_HEADER, SEAL_HEADER)]
            original += seal_headers(key_of(producer), producer, target, letter.raw)
    return [
        *original,
        (REPLAY_OF_HEADER, letter.id.encode()),
        (REPLAY_ORIGIN_HEADER, letter.origin.encode()),
        (REPLAY_TICKET_HEADER, ticket.encode()),
    ]


def proven_sender(letter: Letter, key_of: Callable[[str], bytes]) -> str | None:
    """Who the letter's seal proves produced it on its root origin topic (None: nobody)."""
    return proven_producer(list(letter.headers), letter.origin.rsplit("/", 2)[0], letter.raw, key_of)


# -- the intake's side ---------------------------------------------------------------------------------------
def replay_origin(headers: Headers | Sequence[tuple[str, bytes | None]]) -> str | None:
    """The root origin a replayed message names; None for every message that is no replay.  On the intake's
    hot path: one pass over a message's (two, usually) headers."""
    return _header(headers, REPLAY_ORIGIN_HEADER)


def replay_letter(headers: Headers | Sequence[tuple[str, bytes | None]]) -> str | None:
    """The id of the dead letter a replayed message was sent from (None: no replay)."""
    return _header(headers, REPLAY_OF_HEADER)


def _header(headers: Headers | Sequence[tuple[str, bytes | None]], name: str) -> str | None:
    if not headers:
        return None
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    for key, value in pairs:
        if key == name and value:
            return value if isinstance(value, str) else value.decode("utf-8", "replace")
    return None


def replay_key(origin: str) -> bytes:
    """The intake's references-table key that remembers one origin's admission."""
    return (_REPLAY_KEY_PREFIX + origin).encode()


def first_admission(remembered: SentReferences, ticket: str) -> Sent | None:
    """The earlier replay of this origin the intake already decided, if any.  The same ticket is not an earlier
    replay but the same message handled again after a crash: it is decided again as the first time."""
    return next((sent for sent in remembered.sent if sent.ticket != ticket), None)


def remembered_admission(origin: str, *, letter: str, ticket: str, at: datetime) -> SentReferences:
    """What the intake keeps once it decided a replay of ``origin`` (admitted or refused, not dead-lettered
    again): the first decided replay, kept for good (dead letters are rare, and kept forever)."""
    return SentReferences(_REPLAY_KEY_PREFIX + origin, (Sent("dead-letter", letter, ticket, at),))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _text(data: bytes | None) -> str | None:
    if data is None:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text if text.isprintable() else None
