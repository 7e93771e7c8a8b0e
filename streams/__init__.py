"""Crossroads: what flows — the domain model and rules, the topic catalog, the codecs."""

from __future__ import annotations

__version__ = "0.1.0"
