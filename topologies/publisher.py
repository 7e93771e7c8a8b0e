"""The Publisher port: where flows send their outcomes. Faust topics in production, a recorder in tests."""

from __future__ import annotations

from typing import Protocol

import faust


class Publisher(Protocol):
    async def publish(self, topic: str, key: bytes | None, value: bytes) -> None: ...


class FaustPublisher:
    """Sends through the app's producer, so faust's exactly_once (when enabled) covers these sends too."""

    def __init__(self, app: faust.App) -> None:
        self._app = app
        self._topics: dict[str, faust.TopicT] = {}

    async def publish(self, topic: str, key: bytes | None, value: bytes) -> None:
        channel = self._topics.get(topic)
        if channel is None:
            channel = self._app.topic(topic, key_type=bytes, value_type=bytes)
            # mailboxes are created on first delivery (an actor's first notification); catalog topics exist,
            # for them this is one CreateTopics answered "already exists", once per process
            await channel.maybe_declare()
            self._topics[topic] = channel
        await channel.send(key=key, value=value)


class RecordingPublisher:
    """Keeps what was published, in order: for component tests of the flows."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, bytes]] = []

    async def publish(self, topic: str, key: bytes | None, value: bytes) -> None:
        self.sent.append((topic, key, value))

    def on(self, topic: str) -> list[tuple[bytes | None, bytes]]:
        return [(k, v) for t, k, v in self.sent if t == topic]
