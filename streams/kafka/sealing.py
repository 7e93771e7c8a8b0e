"""Sealing intake records: the one helper every platform producer of declarations uses (docs/security.md,
"Senders proven at intake").

A platform tool (``crossroads send``, the demo, the synthetic traffic, the benches, the file connector) holds
the platform secret, so it can seal as any actor: it seals as the actor it sends for, never as anyone else.
An outside producer is to get only its own key (``streams.domain.seal.seal_key_hex``, for ``crossroads access
client-config``, not built yet) and seal the same way.
"""

from __future__ import annotations

from functools import lru_cache

from streams.domain.credentials import derived_seal_key
from streams.domain.seal import seal_headers
from streams.settings import Settings

__all__ = ["Headers", "intake_headers"]


@lru_cache(maxsize=4096)
def _key(secret: str, actor: str) -> bytes:
    return derived_seal_key(secret, actor)


# the type Kafka clients take headers as (a list is invariant: list[tuple[str, bytes]] would not do)
Headers = list[tuple[str, str | bytes | None]]


def intake_headers(settings: Settings, actor: str, topic: str, value: bytes) -> Headers:
    """The headers that prove ``actor`` produced ``value`` on intake ``topic``: add them to the record."""
    headers: Headers = [*seal_headers(_key(settings.access_secret.get_secret_value(), actor), actor, topic, value)]
    return headers
