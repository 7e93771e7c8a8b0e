"""What `crossroads status` reads from the brokers: the platform's consumer groups and their lag on every
partition they committed on, and how many records a topic received since a given time."""

from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from streams.kafka import KafkaAdapterError
from streams.kafka.admin import PartitionLag
from streams.kafka.security import client_config
from streams.settings import Settings

TIMEOUT_S = 10.0


@dataclass(frozen=True)
class GroupLag:
    group: str
    partitions: tuple[PartitionLag, ...]

    @property
    def lag(self) -> int:
        return sum(p.lag for p in self.partitions)


class BrokerView:
    """One admin client and one reading consumer for a status screen (opened once, closed by `close`)."""

    def __init__(self, settings: Settings) -> None:
        config = client_config(settings)
        self._admin = AdminClient({**config, "log_level": 3})
        self._consumer = Consumer(
            {**config, "group.id": "crossroads-status-reader", "enable.auto.commit": False, "log_level": 3}
        )

    def close(self) -> None:
        self._consumer.close()

    def groups(self, app_id: str) -> list[str]:
        """The app's consumer groups: the worker's (`app_id`), the projector's and the outbound connectors'
        (another app's id may begin with this one's: `crossroads-test-…` is not `crossroads`'s)."""
        try:
            listed = self._admin.list_consumer_groups(request_timeout=TIMEOUT_S).result()
        except KafkaException as exc:
            raise KafkaAdapterError(f"cannot list the consumer groups: {exc}") from exc
        names = {g.group_id for g in listed.valid}
        return sorted(n for n in names if n in (app_id, f"{app_id}-projector") or n.startswith(f"{app_id}-outbound-"))

    def lag(self, group: str) -> GroupLag:
        """The group's committed offset against the end of every partition it committed on."""
        try:
            futures = self._admin.list_consumer_group_offsets(
                [ConsumerGroupTopicPartitions(group)], request_timeout=TIMEOUT_S
            )
            committed = futures[group].result().topic_partitions or []
            partitions = []
            for tp in committed:
                if tp.offset < 0:
                    continue
                low, high = self._consumer.get_watermark_offsets(
                    TopicPartition(tp.topic, tp.partition), timeout=TIMEOUT_S
                )
                partitions.append(PartitionLag(tp.topic, tp.partition, tp.offset, int(low), int(high)))
        except KafkaException as exc:
            raise KafkaAdapterError(f"cannot read the lag of group {group}: {exc}") from exc
        return GroupLag(group, tuple(sorted(partitions, key=lambda p: (p.topic, p.partition))))

    def end_offsets(self, topic: str) -> dict[int, int]:
        try:
            metadata = self._consumer.list_topics(topic, timeout=TIMEOUT_S).topics.get(topic)
            if metadata is None or metadata.error is not None:
                return {}
            return {
                p: int(self._consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=TIMEOUT_S)[1])
                for p in sorted(metadata.partitions)
            }
        except KafkaException as exc:
            raise KafkaAdapterError(f"cannot read the end of {topic}: {exc}") from exc

    def received_since(self, topic: str, since_ms: int) -> int:
        """Records appended to `topic` at or after `since_ms` (by their timestamps), over every partition."""
        ends = self.end_offsets(topic)
        if not ends:
            return 0
        try:
            found = self._consumer.offsets_for_times(
                [TopicPartition(topic, p, since_ms) for p in ends], timeout=TIMEOUT_S
            )
        except KafkaException as exc:
            raise KafkaAdapterError(f"cannot look up {topic} by time: {exc}") from exc
        # offset -1: nothing at or after that time on the partition
        return sum(ends[tp.partition] - tp.offset for tp in found if tp.offset >= 0)
