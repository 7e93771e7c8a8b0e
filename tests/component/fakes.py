"""Fakes shared by the component tests of the flows: the audit topic behind the audit trail's two ports, and a
recording publisher that notes when each message was published relative to the audit records."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from streams.catalog import Area, by_key
from streams.codecs import AvroCodec
from streams.domain.audit import GENESIS, Unreadable, audit_records
from streams.kafka.sealing import Headers, intake_headers
from streams.settings import Settings
from topologies.audit_trail import Outgoing
from topologies.publisher import RecordingPublisher

# Component tests drive the agents through faust's test harness, with no broker at all: no login to make. The
# secured transport (TLS, SCRAM) is exercised by the integration tests on the real broker.
COMPONENT_TRANSPORT = "plaintext"

# what happened, in order, across the fakes that share one log: ("audit", partition, ticket) for a record that
# reached the audit topic, ("publish", topic, ticket, schema) for a published message, ("flush", acked) for a flush
# with whether any watched message was already acked at that moment
Log = list[tuple[Any, ...]]


def sealed(settings: Settings, codec: AvroCodec, family: str, value: bytes) -> Headers:
    """The headers of an intake record sealed by the sender its envelope names, as every platform producer
    seals (streams.kafka.sealing): put them with the record, or the intake proves nobody produced it."""
    sender = str(codec.decode(value).record["envelope"]["sender"])
    return intake_headers(settings, sender, by_key(Area.INTAKE, family).topic(settings.topic_prefix), value)


class FakeAuditTopic:
    """Both ports over one in-memory audit topic: what is published is what the head reader sees.

    ``lose_acks``: partitions whose records reach the topic but whose deliveries are reported failed (the
    worst case: written, but we never heard back).  ``refuse``: partitions whose records never reach it.
    Both apply to the next ``publish_batch`` only."""

    def __init__(self, heads: dict[int, str] | None = None, *, log: Log | None = None) -> None:
        self.written: list[tuple[str, int, bytes | None, bytes]] = []
        self.batches: list[list[Outgoing]] = []
        self.initial = heads or {}
        self.reads: list[int] = []
        self.lose_acks: set[int] = set()
        self.refuse: set[int] = set()
        self.codec: AvroCodec | None = None
        self.log = log

    async def publish_batch(self, topic: str, records: Sequence[Outgoing]) -> Mapping[int, BaseException]:
        self.batches.append(list(records))
        failed: dict[int, BaseException] = {}
        for partition, key, value in records:
            if partition in self.refuse:
                failed.setdefault(partition, ConnectionError("broker gone"))
                continue
            self.written.append((topic, partition, key, value))
            if self.log is not None:
                for record in self._records_in(value):
                    self.log.append(("audit", partition, record["ticket"]))
            if partition in self.lose_acks:
                failed.setdefault(partition, TimeoutError("delivery report lost"))
        self.lose_acks, self.refuse = set(), set()
        return failed

    def read_head(self, topic: str, partition: int) -> str:
        self.reads.append(partition)
        mine = [v for t, p, _, v in self.written if t == topic and p == partition]
        if mine:
            return str(self._records_in(mine[-1])[-1]["hash"])
        return self.initial.get(partition, GENESIS)

    def records(self, partition: int) -> list[dict[str, Any]]:
        """The audit records written to ``partition``, each message's in order."""
        return [r for _, p, _, v in self.written if p == partition for r in self._records_in(v)]

    def record_count(self) -> int:
        """The audit records written, all partitions (an AuditBatch message holds several)."""
        return sum(len(self._records_in(v)) for _, _, _, v in self.written)

    def _records_in(self, value: bytes) -> Sequence[Mapping[str, Any]]:
        assert self.codec is not None
        decoded = self.codec.decode(value)
        records = audit_records(decoded.schema_name, decoded.record)
        assert not isinstance(records, Unreadable), records
        return records


class LoggingPublisher(RecordingPublisher):
    """A RecordingPublisher that also writes what it publishes and each flush to a shared log; ``watched``
    messages are checked at each flush (none of them may be acked before the batch is flushed)."""

    def __init__(self, codec: AvroCodec, log: Log) -> None:
        super().__init__()
        self.codec, self.log = codec, log
        self.watched: list[Any] = []

    async def publish(self, topic: str, key: bytes | None, value: bytes, headers: Any = None) -> None:
        await super().publish(topic, key, value, headers)
        decoded = self.codec.decode(value)
        self.log.append(("publish", topic, decoded.record.get("ticket"), decoded.schema_name))

    async def publish_state(self, topic: str, partition: int, key: bytes, value: bytes | None) -> None:
        await super().publish_state(topic, partition, key, value)
        self.log.append(("state", topic, key, value is None))

    async def flush(self) -> None:
        await super().flush()
        self.log.append(("flush", any(m.acked for m in self.watched)))
