"""Adapters to the Kafka broker (confluent-kafka), with its errors wrapped at this boundary."""

from __future__ import annotations


class KafkaAdapterError(Exception):
    """The broker refused or could not be reached for an administrative or produce operation."""
