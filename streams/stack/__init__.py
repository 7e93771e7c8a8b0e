"""The local stack: a Kafka broker and a ClickHouse server run as processes of the project, without Docker."""

from __future__ import annotations
