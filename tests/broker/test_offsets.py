"""ListOffsets through the three clients: earliest, latest, by timestamp, max timestamp.

Kafka's rules (UnifiedLog.fetchOffsetByTimestamp): earliest is the log start
offset; latest is the log end offset (one past the last record; the high
watermark, which with one replica is the same); a timestamp t answers the
first record, in offset order, whose timestamp is >= t, exactly, even in the
middle of a batch, or offset -1 when there is none; max timestamp (KIP-734)
answers the first record carrying the partition's largest timestamp.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiokafka
import confluent_kafka
import kafka
import kafka.errors
import pytest
from confluent_kafka.admin import AdminClient, OffsetSpec
from kafka.admin import OffsetSpec as KafkaPythonOffsetSpec

from kwire.testing import BrokerProcess
from kwire_protocol import messages
from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.messages import ApiKey
from kwire_protocol.records.batch import split_batches
from tests.broker.clients import CLIENTS, LOG_APPEND_TIME, Out, batch_headers, confluent_consumer, consume, create_topic, kafka_python_consumer, produce
from tests.broker.wire import WireClient, fetch_request

T = 1_750_000_000_000
TIMESTAMPS = [T + 10 * i for i in range(10)]  # one batch, offsets 0-9
LATER = [T + 200, T + 300]  # a second batch, offsets 10-11
UNORDERED = [T + 50, T + 10, T + 90, T + 30, T + 90, T + 20]  # a batch whose timestamps go back and forth


@pytest.fixture(scope="module")
def timed_topic(broker: BrokerProcess) -> str:
    """Two batches with known timestamps: offsets 0-9 at T, T+10, ... T+90; 10 at T+200, 11 at T+300."""
    topic = "timed"
    create_topic(broker.bootstrap_servers, topic)
    produce("kafka-python", broker.bootstrap_servers, topic, [Out(None, f"{i}".encode(), [], ts) for i, ts in enumerate(TIMESTAMPS)], linger_ms=200)
    produce("kafka-python", broker.bootstrap_servers, topic, [Out(None, f"{10 + i}".encode(), [], ts) for i, ts in enumerate(LATER)], linger_ms=200)
    assert [(base, delta) for base, delta, _ in batch_headers(broker, topic)] == [(0, 9), (10, 1)]
    return topic


# query timestamp -> (offset, timestamp) of the answer; (-1, -1) is "none"
BY_TIMESTAMP = {
    0: (0, T),
    T - 1: (0, T),
    T: (0, T),
    T + 1: (1, T + 10),
    T + 35: (4, T + 40),
    T + 90: (9, T + 90),
    T + 91: (10, T + 200),  # between batches: the next batch's first record
    T + 250: (11, T + 300),
    T + 300: (11, T + 300),
    T + 301: (-1, -1),  # after every record
}


def test_kafka_python_offsets(broker: BrokerProcess, timed_topic: str) -> None:
    consumer = kafka_python_consumer(broker.bootstrap_servers)
    tp = kafka.TopicPartition(timed_topic, 0)
    try:
        assert consumer.beginning_offsets([tp]) == {tp: 0}
        assert consumer.end_offsets([tp]) == {tp: 12}
        for query, expected in BY_TIMESTAMP.items():
            found = consumer.offsets_for_times({tp: query})[tp]
            assert ((found.offset, found.timestamp) if found is not None else (-1, -1)) == expected, query
    finally:
        consumer.close()


def test_kafka_python_admin_offsets(broker: BrokerProcess, timed_topic: str) -> None:
    admin = kafka.KafkaAdminClient(bootstrap_servers=broker.bootstrap_servers)
    tp = kafka.TopicPartition(timed_topic, 0)
    try:
        def lookup(spec: Any) -> tuple[int, int]:
            found = admin.list_partition_offsets({tp: spec})[tp]
            return found.offset, found.timestamp

        assert lookup(KafkaPythonOffsetSpec.EARLIEST) == (0, -1)
        assert lookup(KafkaPythonOffsetSpec.LATEST) == (12, -1)
        assert lookup(KafkaPythonOffsetSpec.MAX_TIMESTAMP) == (11, T + 300)
        assert lookup(KafkaPythonOffsetSpec.EARLIEST_LOCAL) == (0, -1)
    finally:
        admin.close()


def test_aiokafka_offsets(broker: BrokerProcess, timed_topic: str) -> None:
    async def run() -> None:
        consumer = aiokafka.AIOKafkaConsumer(bootstrap_servers=broker.bootstrap_servers, group_id=None)
        await consumer.start()
        tp = aiokafka.TopicPartition(timed_topic, 0)
        try:
            assert await consumer.beginning_offsets([tp]) == {tp: 0}
            assert await consumer.end_offsets([tp]) == {tp: 12}
            for query, expected in BY_TIMESTAMP.items():
                found = (await consumer.offsets_for_times({tp: query}))[tp]
                assert ((found.offset, found.timestamp) if found is not None else (-1, -1)) == expected, query
        finally:
            await consumer.stop()

    asyncio.run(run())


def test_confluent_consumer_offsets(broker: BrokerProcess, timed_topic: str) -> None:
    consumer = confluent_consumer(broker.bootstrap_servers)
    try:
        assert consumer.get_watermark_offsets(confluent_kafka.TopicPartition(timed_topic, 0), timeout=5, cached=False) == (0, 12)
        for query, (offset, _) in BY_TIMESTAMP.items():
            [found] = consumer.offsets_for_times([confluent_kafka.TopicPartition(timed_topic, 0, query)], timeout=5)
            assert found.error is None
            # librdkafka reports "no such record" as OFFSET_END (-1), the wire value.
            assert found.offset == offset, query
    finally:
        consumer.close()


def test_confluent_admin_offsets(broker: BrokerProcess, timed_topic: str) -> None:
    admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
    tp = confluent_kafka.TopicPartition(timed_topic, 0)

    def lookup(spec: Any) -> tuple[int, int]:
        result = admin.list_offsets({tp: spec}, request_timeout=5)[tp].result(timeout=10)
        return result.offset, result.timestamp

    assert lookup(OffsetSpec.earliest()) == (0, -1)
    assert lookup(OffsetSpec.latest()) == (12, -1)
    assert lookup(OffsetSpec.max_timestamp()) == (11, T + 300)
    for query, expected in BY_TIMESTAMP.items():
        assert lookup(OffsetSpec.for_timestamp(query)) == expected, query


def test_unordered_timestamps(broker: BrokerProcess, topic_name: str) -> None:
    """Timestamps are not monotonic in a batch: by timestamp answers the first record
    in offset order at or after it; max timestamp the first record carrying it."""
    create_topic(broker.bootstrap_servers, topic_name)
    produce("confluent", broker.bootstrap_servers, topic_name, [Out(None, b"x", [], ts) for ts in UNORDERED], linger_ms=200)
    admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
    tp = confluent_kafka.TopicPartition(topic_name, 0)

    def lookup(spec: Any) -> tuple[int, int]:
        result = admin.list_offsets({tp: spec}, request_timeout=5)[tp].result(timeout=10)
        return result.offset, result.timestamp

    assert lookup(OffsetSpec.max_timestamp()) == (2, T + 90)
    assert lookup(OffsetSpec.for_timestamp(T + 5)) == (0, T + 50)
    assert lookup(OffsetSpec.for_timestamp(T + 50)) == (0, T + 50)
    assert lookup(OffsetSpec.for_timestamp(T + 60)) == (2, T + 90)
    assert lookup(OffsetSpec.for_timestamp(T + 91)) == (-1, -1)


def test_log_append_time_offsets(broker: BrokerProcess, topic_name: str) -> None:
    """On a LogAppendTime topic every record of a batch carries the broker's append
    time; lookups use it, not the producer's timestamps."""
    create_topic(broker.bootstrap_servers, topic_name, configs={"message.timestamp.type": "LogAppendTime"})
    first = produce("kafka-python", broker.bootstrap_servers, topic_name, [Out(None, b"a", [], T), Out(None, b"b", [], T)], linger_ms=100)
    time.sleep(0.01)  # the next batch gets a later append time
    second = produce("kafka-python", broker.bootstrap_servers, topic_name, [Out(None, b"c", [], T), Out(None, b"d", [], T)], linger_ms=100)
    first_time, second_time = first[0].timestamp, second[0].timestamp
    assert second_time > first_time > T
    records = consume("confluent", broker.bootstrap_servers, topic_name, count=4)
    assert [(r.offset, r.timestamp, r.timestamp_type) for r in records] == [
        (0, first_time, LOG_APPEND_TIME), (1, first_time, LOG_APPEND_TIME), (2, second_time, LOG_APPEND_TIME), (3, second_time, LOG_APPEND_TIME),
    ]
    admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
    tp = confluent_kafka.TopicPartition(topic_name, 0)

    def lookup(spec: Any) -> tuple[int, int]:
        result = admin.list_offsets({tp: spec}, request_timeout=5)[tp].result(timeout=10)
        return result.offset, result.timestamp

    assert lookup(OffsetSpec.for_timestamp(T)) == (0, first_time)
    assert lookup(OffsetSpec.for_timestamp(first_time + 1)) == (2, second_time)
    assert lookup(OffsetSpec.max_timestamp()) == (2, second_time)


@pytest.mark.parametrize("client", CLIENTS)
def test_empty_partition_offsets(broker: BrokerProcess, topic_name: str, client: str) -> None:
    create_topic(broker.bootstrap_servers, topic_name)
    if client == "confluent":
        consumer = confluent_consumer(broker.bootstrap_servers)
        try:
            tp = confluent_kafka.TopicPartition(topic_name, 0)
            assert consumer.get_watermark_offsets(tp, timeout=5, cached=False) == (0, 0)
            [found] = consumer.offsets_for_times([confluent_kafka.TopicPartition(topic_name, 0, 0)], timeout=5)
            assert found.offset == -1
        finally:
            consumer.close()
    elif client == "kafka-python":
        kp = kafka_python_consumer(broker.bootstrap_servers)
        try:
            ktp = kafka.TopicPartition(topic_name, 0)
            assert (kp.beginning_offsets([ktp]), kp.end_offsets([ktp])) == ({ktp: 0}, {ktp: 0})
            assert kp.offsets_for_times({ktp: 0}) == {ktp: None}
        finally:
            kp.close()
    else:
        async def run() -> None:
            consumer = aiokafka.AIOKafkaConsumer(bootstrap_servers=broker.bootstrap_servers, group_id=None)
            await consumer.start()
            atp = aiokafka.TopicPartition(topic_name, 0)
            try:
                assert (await consumer.beginning_offsets([atp]), await consumer.end_offsets([atp])) == ({atp: 0}, {atp: 0})
                assert await consumer.offsets_for_times({atp: 0}) == {atp: None}
            finally:
                await consumer.stop()

        asyncio.run(run())


def test_latest_follows_appends(broker: BrokerProcess, topic_name: str) -> None:
    """Latest is always the last record's offset + 1, batch after batch, whatever the codec."""
    create_topic(broker.bootstrap_servers, topic_name)
    consumer = confluent_consumer(broker.bootstrap_servers)
    tp = confluent_kafka.TopicPartition(topic_name, 0)
    try:
        end = 0
        for round_, (client, compression, size) in enumerate([("kafka-python", "gzip", 3), ("aiokafka", "zstd", 1), ("confluent", "snappy", 7)]):
            sent = produce(client, broker.bootstrap_servers, topic_name, [Out(None, f"{round_}-{i}".encode()) for i in range(size)],
                           compression=compression)
            assert [s.offset for s in sent] == list(range(end, end + size))
            end += size
            assert consumer.get_watermark_offsets(tp, timeout=5, cached=False) == (0, end)
    finally:
        consumer.close()


def test_unknown_partition(broker: BrokerProcess, timed_topic: str) -> None:
    admin = kafka.KafkaAdminClient(bootstrap_servers=broker.bootstrap_servers)
    try:
        with pytest.raises(kafka.errors.UnknownTopicOrPartitionError):
            admin.list_partition_offsets({kafka.TopicPartition(timed_topic, 5): KafkaPythonOffsetSpec.LATEST}, timeout_ms=2000)
    finally:
        admin.close()


# -- exact answers on the wire (checked against Apache Kafka 4.4) ------------------------


def list_offsets_answer(broker: BrokerProcess, topic: str, timestamp: int, version: int) -> tuple[int, int, int]:
    """(error code, timestamp, offset) of a ListOffsets for partition 0."""
    request_topic = messages.ListOffsetsRequest.cls.ListOffsetsTopic
    request = messages.ListOffsetsRequest(replica_id=-1, isolation_level=0, topics=[
        request_topic(name=topic, partitions=[request_topic.ListOffsetsPartition(partition_index=0, timestamp=timestamp, current_leader_epoch=-1)]),
    ])
    with WireClient.connect(broker.port) as wire:
        body = wire.call(ApiKey.LIST_OFFSETS, version, request)
    [answer] = body.topics[0].partitions
    return answer.error_code, answer.timestamp, answer.offset


@pytest.mark.parametrize(("timestamp", "version", "expected"), [
    (-3, 6, (ErrorCode.UNSUPPORTED_VERSION, -1, -1)),  # max timestamp needs v7 (KIP-734)
    (-3, 7, (ErrorCode.NONE, T + 300, 11)),
    (-4, 7, (ErrorCode.UNSUPPORTED_VERSION, -1, -1)),  # earliest local needs v8
    (-4, 8, (ErrorCode.NONE, -1, 0)),
    (-5, 8, (ErrorCode.UNSUPPORTED_VERSION, -1, -1)),  # latest tiered needs v9
    (-5, 9, (ErrorCode.NONE, -1, -1)),
    (-6, 10, (ErrorCode.UNSUPPORTED_VERSION, -1, -1)),  # earliest pending upload needs v11
    (-6, 11, (ErrorCode.NONE, -1, -1)),
    (-7, 11, (ErrorCode.UNSUPPORTED_VERSION, -1, -1)),  # no such special timestamp
    (-100, 1, (ErrorCode.UNSUPPORTED_VERSION, -1, -1)),
    (-2, 1, (ErrorCode.NONE, -1, 0)),
    (-1, 1, (ErrorCode.NONE, -1, 12)),
])
def test_special_timestamps_by_version(broker: BrokerProcess, timed_topic: str, timestamp: int, version: int, expected: tuple[int, int, int]) -> None:
    assert list_offsets_answer(broker, timed_topic, timestamp, version) == expected


def fetch_answer(broker: BrokerProcess, topic: str, partition: int, offset: int, isolation_level: int) -> Any:
    request = fetch_request(topic, offset, partition)
    request.isolation_level = isolation_level
    with WireClient.connect(broker.port) as wire:
        body = wire.call(ApiKey.FETCH, 12, request)
    [answer] = body.responses[0].partitions
    return answer


@pytest.mark.parametrize("isolation_level", [0, 1])
def test_fetch_out_of_range_answer(broker: BrokerProcess, timed_topic: str, isolation_level: int) -> None:
    """A read that fails answers unknown offsets (-1) and no aborted-transaction list."""
    answer = fetch_answer(broker, timed_topic, 0, 100, isolation_level)
    assert (answer.error_code, answer.high_watermark, answer.last_stable_offset, answer.log_start_offset, answer.aborted_transactions) == (
        ErrorCode.OFFSET_OUT_OF_RANGE, -1, -1, -1, None)
    assert not answer.records


@pytest.mark.parametrize("isolation_level", [0, 1])
def test_fetch_unknown_partition_answer(broker: BrokerProcess, timed_topic: str, isolation_level: int) -> None:
    """A partition refused before reading carries an empty aborted-transaction list."""
    answer = fetch_answer(broker, timed_topic, 9, 0, isolation_level)
    assert (answer.error_code, answer.high_watermark, answer.last_stable_offset, answer.log_start_offset, answer.aborted_transactions) == (
        ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, -1, -1, -1, [])


@pytest.mark.parametrize(("isolation_level", "aborted"), [(0, None), (1, [])])
def test_fetch_inside_a_batch_answer(broker: BrokerProcess, timed_topic: str, isolation_level: int, aborted: list[Any] | None) -> None:
    answer = fetch_answer(broker, timed_topic, 0, 5, isolation_level)
    assert (answer.error_code, answer.high_watermark, answer.last_stable_offset, answer.log_start_offset, answer.aborted_transactions) == (
        ErrorCode.NONE, 12, 12, 0, aborted)
    assert [(b.base_offset, b.last_offset) for b in split_batches(bytes(answer.records))] == [(0, 9), (10, 11)]


HOUR = 3_600_000


def test_lookups_across_segments(broker: BrokerProcess, topic_name: str) -> None:
    """Timestamps an hour apart roll segments (segment.ms counts from record
    timestamps); by-timestamp and max-timestamp lookups and fetches span them.
    The expected answers are worked out from the records alone."""
    create_topic(broker.bootstrap_servers, topic_name, configs={"segment.ms": str(HOUR)})
    batches = [[T, T + 1], [T + 2 * HOUR, T + 2 * HOUR + 1], [T + 4 * HOUR, T + HOUR // 2], [T + 6 * HOUR], [T + 5 * HOUR]]
    for timestamps in batches:
        produce("kafka-python", broker.bootstrap_servers, topic_name, [Out(None, str(ts).encode(), [], ts) for ts in timestamps], linger_ms=50)
    stamps = [ts for timestamps in batches for ts in timestamps]
    assert len(list((broker.data_dir / f"{topic_name}-0").glob("*.log"))) >= 3

    def expected(target: int) -> tuple[int, int]:
        return next(((offset, ts) for offset, ts in enumerate(stamps) if ts >= target), (-1, -1))

    admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
    tp = confluent_kafka.TopicPartition(topic_name, 0)

    def lookup(spec: Any) -> tuple[int, int]:
        result = admin.list_offsets({tp: spec}, request_timeout=5)[tp].result(timeout=10)
        return result.offset, result.timestamp

    targets = sorted({0, *stamps, *(ts + 1 for ts in stamps), T + 3 * HOUR, T + 7 * HOUR})
    assert {t: lookup(OffsetSpec.for_timestamp(t)) for t in targets} == {t: expected(t) for t in targets}
    assert lookup(OffsetSpec.max_timestamp()) == (stamps.index(max(stamps)), max(stamps))
    assert lookup(OffsetSpec.latest()) == (len(stamps), -1)
    got = consume("aiokafka", broker.bootstrap_servers, topic_name, offset=1, count=len(stamps) - 1)
    assert [(r.offset, r.timestamp, r.value) for r in got] == [(i, ts, str(ts).encode()) for i, ts in enumerate(stamps)][1:]
