"""Retention and compaction run by themselves on a live broker.

Segments are rolled by record timestamps (segment.ms counts from the first
batch's timestamp, as in Kafka), so a test needs no sleeps to get inactive
segments: a record an hour newer than the segment's first one rolls it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

from kwire.testing import BrokerProcess, wait_until

HOUR_MS = 3_600_000
FAST = {"log.retention.check.interval.ms": "100", "log.cleaner.backoff.ms": "100"}


def create_topic(bootstrap: str, name: str, configs: dict[str, str]) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(name, 1, 1, topic_configs=configs)])
    finally:
        admin.close()


def produce(bootstrap: str, topic: str, records: list[tuple[bytes | None, bytes | None, int]]) -> None:
    """Each record (key, value, timestamp) in a batch of its own."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks=1, linger_ms=0)
    try:
        for key, value, timestamp in records:
            producer.send(topic, key=key, value=value, timestamp_ms=timestamp, partition=0).get(timeout=10)
    finally:
        producer.close()


def read_all(bootstrap: str, topic: str) -> tuple[int, list[tuple[int, bytes | None, bytes | None]]]:
    """(log start offset, [(offset, key, value)]) of partition 0."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, consumer_timeout_ms=2000)
    tp = TopicPartition(topic, 0)
    try:
        consumer.assign([tp])
        start = consumer.beginning_offsets([tp])[tp]
        end = consumer.end_offsets([tp])[tp]
        consumer.seek_to_beginning(tp)
        records = []
        deadline = time.monotonic() + 10
        while consumer.position(tp) < end and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                records += [(r.offset, r.key, r.value) for r in batch]
        return start, records
    finally:
        consumer.close()


def test_retention_ms_deletes_old_segments(broker_factory: Callable[..., BrokerProcess]) -> None:
    broker = broker_factory(FAST)
    now = int(time.time() * 1000)
    create_topic(broker.bootstrap_servers, "old-data", {"retention.ms": str(HOUR_MS), "segment.ms": str(HOUR_MS)})
    produce(broker.bootstrap_servers, "old-data", [
        (None, b"three hours old", now - 3 * HOUR_MS),
        (None, b"two hours old", now - 2 * HOUR_MS + 1),  # a new segment: an hour after the first
        (None, b"fresh", now),  # a new active segment; the two before are past retention.ms
    ])

    def start_offset() -> int:
        return read_all(broker.bootstrap_servers, "old-data")[0]

    assert wait_until(lambda: start_offset() == 2, timeout=15), start_offset()
    assert read_all(broker.bootstrap_servers, "old-data") == (2, [(2, None, b"fresh")])


def test_compaction_keeps_the_latest_value_per_key(broker_factory: Callable[..., BrokerProcess]) -> None:
    broker = broker_factory(FAST)
    now = int(time.time() * 1000)
    create_topic(broker.bootstrap_servers, "compacted", {
        "cleanup.policy": "compact", "segment.ms": str(HOUR_MS), "min.cleanable.dirty.ratio": "0.01",
    })
    start = now - 4 * HOUR_MS
    produce(broker.bootstrap_servers, "compacted", [
        (b"k1", b"v1", start),
        (b"k2", b"a", start),
        (b"k1", b"v2", start),
        (b"k3", b"x", start + HOUR_MS + 1),  # rolls: offsets 0-2 are now an inactive segment
        (b"k2", b"b", start + 2 * HOUR_MS + 2),  # rolls again
        (b"k4", b"y", start + 3 * HOUR_MS + 3),  # and again: only this one is in the active segment
    ])
    expected = [(2, b"k1", b"v2"), (3, b"k3", b"x"), (4, b"k2", b"b"), (5, b"k4", b"y")]

    def records() -> list[tuple[int, bytes | None, bytes | None]]:
        return read_all(broker.bootstrap_servers, "compacted")[1]

    assert wait_until(lambda: records() == expected, timeout=15), records()
