"""The seal of an intake record: who produced it, proven (docs/security.md, "Senders proven at intake").

Kafka does not tell a consumer who produced a record, and one intake topic per actor would mean thousands of
topics.  So every record on an intake topic carries two headers: ``crossroads-sender``, the producing actor's
enterprise number, and ``crossroads-seal``, the lowercase hex of ``HMAC-SHA256(key, topic ‖ value)`` where
``topic`` is the UTF-8 name of the intake topic, ``value`` the record's bytes exactly as produced, and ``key``
the actor's seal key (:func:`streams.domain.credentials.derived_seal_key`).  Binding the topic stops a sealed
record being replayed onto another intake topic; binding the value, any change of one byte.

The platform derives any actor's key from its own secret, so the intake needs no key store; an actor gets
only its own key (:func:`seal_key_hex`, for ``crossroads access client-config`` to hand out) and so can seal
only as itself.

Pure: keys are passed in (or looked up through a function that is).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping

from streams.domain.credentials import derived_seal_key

__all__ = ["SEAL_HEADER", "SENDER_HEADER", "Headers", "proven_producer", "seal", "seal_headers", "seal_key_hex"]

SENDER_HEADER = "crossroads-sender"
SEAL_HEADER = "crossroads-seal"

# what Kafka clients hand over: a list of (name, value) pairs (librdkafka, aiokafka) or a mapping (faust's tests)
Headers = Iterable[tuple[str, bytes | str | None]] | Mapping[str, bytes | str | None] | None


def seal_key_hex(access_secret: str, actor: str) -> str:
    """The seal key of ``actor`` (an enterprise number, 10 digits) as 64 hex characters, for its client config."""
    return derived_seal_key(access_secret, actor).hex()


def seal(key: bytes, topic: str, value: bytes) -> str:
    """The seal of ``value`` produced on ``topic`` with ``key``: 64 lowercase hex characters."""
    mac = hmac.new(key, topic.encode(), hashlib.sha256)
    mac.update(value)
    return mac.hexdigest()


def seal_headers(key: bytes, actor: str, topic: str, value: bytes) -> list[tuple[str, bytes]]:
    """The two headers ``actor`` adds to ``value`` on ``topic``."""
    return [(SENDER_HEADER, actor.encode()), (SEAL_HEADER, seal(key, topic, value).encode())]


def _header(headers: Headers, name: str) -> bytes | None:
    """The one value of header ``name``; None when it is absent, empty or given more than once (two senders
    on one record prove nothing)."""
    if headers is None:
        return None
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    found = [value for key, value in pairs if key == name]
    if len(found) != 1 or not found[0]:
        return None
    value = found[0]
    return value.encode() if isinstance(value, str) else value


def proven_producer(headers: Headers, topic: str, value: bytes, key_of: Callable[[str], bytes]) -> str | None:
    """The actor that provably produced ``value`` on ``topic``: the ``crossroads-sender`` header's actor when
    the ``crossroads-seal`` header is its seal, else nobody (None).  ``key_of(actor)`` is the actor's key."""
    sender, claimed = _header(headers, SENDER_HEADER), _header(headers, SEAL_HEADER)
    if sender is None or claimed is None:
        return None
    try:
        actor = sender.decode("ascii")
    except UnicodeDecodeError:
        return None
    if not actor.isdigit() or len(actor) != 10:  # an enterprise number: anything else has no key
        return None
    expected = seal(key_of(actor), topic, value).encode()
    return actor if hmac.compare_digest(expected, claimed) else None
