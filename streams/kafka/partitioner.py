"""Which partition a key lands on: Kafka's default partitioner (murmur2), as the Java client computes it.

The platform keys every record by NISS and relies on one rule everywhere: ``partition = toPositive(murmur2(
key)) % partitions`` — the Java client's ``BuiltInPartitioner.partitionForKey`` and aiokafka's (so faust's)
``DefaultPartitioner``.  librdkafka (confluent-kafka) defaults to ``consistent_random`` (CRC32) instead, so
every confluent-kafka producer of the platform must set :data:`PRODUCER_PARTITIONER`.  Knowing the rule lets
a reader go straight to the one partition that holds a person's records.
"""

from __future__ import annotations

__all__ = ["PRODUCER_PARTITIONER", "murmur2", "partition_for", "to_positive"]

# librdkafka's name for the Java-compatible partitioner (random partition for a null key, as Java's sticky one
# is not available); use it in every confluent-kafka producer configuration: {"partitioner": ...}.
PRODUCER_PARTITIONER = "murmur2_random"

_SEED = 0x9747B28C
_M = 0x5BD1E995
_R = 24
_MASK = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """``org.apache.kafka.common.utils.Utils.murmur2``: MurmurHash2, seed 0x9747b28c, as a signed 32-bit int."""
    length = len(data)
    h = (_SEED ^ length) & _MASK
    whole = length - length % 4
    for i in range(0, whole, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * _M) & _MASK
        k ^= k >> _R
        k = (k * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    tail = length % 4
    # the Java switch falls through: 3 bytes left mixes all three
    if tail == 3:
        h ^= data[whole + 2] << 16
    if tail >= 2:
        h ^= data[whole + 1] << 8
    if tail >= 1:
        h ^= data[whole]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def to_positive(number: int) -> int:
    """``Utils.toPositive``: clear the sign bit (not ``abs``: that would send -n and n to one partition)."""
    return number & 0x7FFFFFFF


def partition_for(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner (Java, aiokafka/faust, librdkafka ``murmur2*``) picks."""
    if partitions < 1:
        raise ValueError(f"a topic has at least one partition, not {partitions}")
    return to_positive(murmur2(key)) % partitions
