"""Kafka's default partitioner: murmur2 exactly as the Java client, so a reader can find a NISS's partition.

Vectors: Apache Kafka's ``UtilsTest.testMurmur2`` (clients/src/test/java/org/apache/kafka/common/utils) and
librdkafka's ``rdmurmur2.c`` unit test (which were themselves taken from the Java client).  The second,
independent implementation is aiokafka's (faust's producer), checked on random keys.  That librdkafka's
``murmur2_random`` producer agrees on a real broker is in tests/integration/test_audit_trail.py.
"""

from __future__ import annotations

import pytest
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as aiokafka_murmur2
from hypothesis import given
from hypothesis import strategies as st

from streams.kafka.partitioner import PRODUCER_PARTITIONER, murmur2, partition_for, to_positive

JAVA_UTILS_TEST = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    bytes([ord("a"), ord("b"), ord("c")]): 479470107,
}
LIBRDKAFKA = {  # rd_murmur2 unittest, expected values as unsigned 32-bit
    b"kafka": 0xD067CF64,
    b"giberish123456789": 0x8F552B0C,
    b"1234": 0x9FC97B14,
    b"234": 0xE7C009CA,
    b"34": 0x873930DA,
    b"4": 0x5A4B5CA1,
    b"PreAmbleWillBeRemoved,ThePrePartThatIs": 0x78424F1C,
    b"reAmbleWillBeRemoved,ThePrePartThatIs": 0x4A62B377,
    b"eAmbleWillBeRemoved,ThePrePartThatIs": 0xE0E4E09E,
    b"AmbleWillBeRemoved,ThePrePartThatIs": 0x62B8B43F,
    b"": 0x106E08D9,
}


@pytest.mark.parametrize(("key", "expected"), JAVA_UTILS_TEST.items(), ids=lambda v: repr(v)[:20])
def test_murmur2_matches_the_java_clients_utils_test(key: bytes, expected: int) -> None:
    assert murmur2(key) == expected


@pytest.mark.parametrize(("key", "expected"), LIBRDKAFKA.items(), ids=lambda v: repr(v)[:20])
def test_murmur2_matches_librdkafkas_vectors(key: bytes, expected: int) -> None:
    assert murmur2(key) & 0xFFFFFFFF == expected


@given(st.binary(max_size=64))
def test_murmur2_agrees_with_aiokafka_the_producer_faust_uses(key: bytes) -> None:
    assert murmur2(key) & 0xFFFFFFFF == aiokafka_murmur2(key) & 0xFFFFFFFF
    assert -(2**31) <= murmur2(key) < 2**31


@given(st.binary(min_size=1, max_size=32), st.integers(1, 64))
def test_partition_for_is_where_aiokafka_and_faust_put_the_key(key: bytes, partitions: int) -> None:
    every = list(range(partitions))
    assert partition_for(key, partitions) == DefaultPartitioner()(key, every, every)


def test_to_positive_masks_the_sign_bit_like_java_and_not_abs() -> None:
    assert to_positive(-790332482) == 1357151166
    assert partition_for(b"foobar", 50) == 16  # not abs(-790332482) % 50 == 32
    assert to_positive(-(2**31)) == 0


def test_a_topic_needs_a_partition() -> None:
    with pytest.raises(ValueError):
        partition_for(b"x", 0)


def test_the_producer_setting_is_librdkafkas_java_compatible_partitioner() -> None:
    assert PRODUCER_PARTITIONER == "murmur2_random"
