"""Per-actor secrets derived from one platform secret (docs/security.md).

Every actor's Kafka password and intake seal key is ``HMAC-SHA256(access_secret, "<use>|<actor>")``: the
platform can recompute any of them (so `crossroads access apply` and the intake need no secret store of their
own), an actor's secret tells nothing about another's, and rotating the platform secret rotates them all.

Pure: the secret is passed in.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["derived_password", "derived_seal_key"]


def _derive(secret: str, use: str, actor: str) -> bytes:
    if not secret:
        raise ValueError("the access secret is empty: set CROSSROADS_ACCESS_SECRET")
    return hmac.new(secret.encode(), f"{use}|{actor}".encode(), hashlib.sha256).digest()


def derived_password(secret: str, principal: str) -> str:
    """The SCRAM password of a Kafka principal (64 hex characters)."""
    return _derive(secret, "kafka-password", principal).hex()


def derived_seal_key(secret: str, actor: str) -> bytes:
    """The key an actor (enterprise number) seals its intake records with (32 bytes)."""
    return _derive(secret, "intake-seal", actor)
