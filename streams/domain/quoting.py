"""How outcomes quote what a sender wrote.

A refused declaration may carry strings of any length (a 600,000-character reference is refused for its length).
Acknowledgements, rejections and violation messages quote at most QUOTE_LIMIT characters of each, so that a
rejection stays about the size of the declaration it carries whole and an acknowledgement stays small; valid
values are far shorter (a sender reference is at most 100 characters).
"""

from __future__ import annotations

QUOTE_LIMIT = 200
# a violation's message for humans, which may itself quote a value
MESSAGE_LIMIT = 1_000


def quoted(value: str, limit: int = QUOTE_LIMIT) -> str:
    """The value whole up to `limit` characters, else its start and its length."""
    if len(value) <= limit:
        return value
    return f"{value[:limit]}...[{len(value):,} characters]"
