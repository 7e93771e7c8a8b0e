"""Producing declarations to the platform's intake topics, the way every client of ours does it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from streams.catalog import Area, by_key
from streams.codecs import AvroCodec
from streams.kafka import KafkaAdapterError
from streams.kafka.partitioner import PRODUCER_PARTITIONER
from streams.kafka.sealing import intake_headers
from streams.kafka.security import client_config
from streams.settings import Settings

# Schema namespace -> intake topic name. One intake topic per declaration family.
INTAKE_BY_NAMESPACE = {
    "be.crossroads.dimona": "dimona",
    "be.crossroads.dmfa": "dmfa",
    "be.crossroads.civil": "civil",
    "be.crossroads.directory": "integrations",
    "be.crossroads.consultation": "consultations",
}


def intake_topic(settings: Settings, schema_name: str) -> str:
    namespace = schema_name.rpartition(".")[0]
    try:
        return by_key(Area.INTAKE, INTAKE_BY_NAMESPACE[namespace]).topic(settings.topic_prefix)
    except KeyError:
        raise KafkaAdapterError(f"{schema_name} is not a declaration the platform takes in") from None


def producer_config(settings: Settings, **overrides: Any) -> dict[str, Any]:
    return {
        **client_config(settings),
        "enable.idempotence": True,
        "partitioner": PRODUCER_PARTITIONER,
        "linger.ms": 5,
        **overrides,
    }


class DeclarationProducer:
    """Encodes with our codec, keys by the record's subject, counts deliveries and failures."""

    def __init__(self, settings: Settings, codec: AvroCodec, **overrides: Any) -> None:
        self._settings = settings
        self._codec = codec
        self._producer = Producer(producer_config(settings, **overrides))
        self.delivered = 0
        self.failed: list[str] = []

    def send(
        self, schema_name: str, record: Mapping[str, Any], key: str | None, *, as_actor: str | None = None
    ) -> None:
        """Produce ``record`` sealed as ``as_actor`` (default: the sender its envelope names, see
        streams.kafka.sealing)."""
        value = self._codec.encode(schema_name, dict(record))
        topic = intake_topic(self._settings, schema_name)
        actor = as_actor if as_actor is not None else str((record.get("envelope") or {}).get("sender") or "")
        headers = intake_headers(self._settings, actor, topic, value)
        while True:
            try:
                self._producer.produce(
                    topic,
                    key=key.encode() if key else None,
                    value=value,
                    headers=headers,
                    on_delivery=self._on_delivery,
                )
                break
            except BufferError:  # local queue full: let deliveries drain, then retry
                self._producer.poll(0.1)
        self._producer.poll(0)

    def _on_delivery(self, error: KafkaError | None, message: Message) -> None:
        if error is not None:
            self.failed.append(f"{message.topic()}: {error}")
        else:
            self.delivered += 1

    def flush(self, timeout: float = 60.0) -> None:
        remaining = self._producer.flush(timeout)
        if remaining:
            raise KafkaAdapterError(f"{remaining} declarations not delivered within {timeout:.0f}s")
        if self.failed:
            raise KafkaAdapterError(f"{len(self.failed)} declarations failed: {self.failed[0]}")
