"""Every topic the platform needs on a broker: the catalog and the mailboxes of the network's institutions.

`crossroads topics apply | list` and `crossroads demo` both take their topics from here, so the demo can never
run on fewer topics than an operator would create.
"""

from __future__ import annotations

from streams.catalog import TopicSpec, platform_topics
from streams.composition import network_for
from streams.settings import Settings


def needed_topics(settings: Settings) -> tuple[TopicSpec, ...]:
    """The catalog plus a mailbox per institution of the network in `settings.network_dir` (loaded and
    validated: a broken network raises `NetworkError`)."""

    return platform_topics(network_for(settings).institutions)
