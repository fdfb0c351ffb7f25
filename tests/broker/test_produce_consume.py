"""Produce and consume with kafka-python, aiokafka and confluent-kafka against `kwire serve`.

Every test writes with one client and reads with the others, comparing exact
records (offsets, keys, values, headers, timestamps) and, for failures, the
exact Kafka error code each client surfaces. One broker serves the module;
tests that need other broker settings start their own.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Callable

import aiokafka
import aiokafka.errors
import confluent_kafka
import kafka
import kafka.errors
import pytest
from confluent_kafka.admin import AdminClient

from kwire.testing import BrokerProcess
from kwire_protocol import messages
from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.messages import ApiKey
from tests.broker.clients import (
    CLIENTS,
    COMPRESSIONS,
    CREATE_TIME,
    LOG_APPEND_TIME,
    Out,
    Record,
    batch_headers,
    confluent_consumer,
    confluent_record,
    consume,
    consume_partitions,
    create_topic,
    kafka_python_consumer,
    produce,
)
from tests.broker.wire import WireClient, metadata_request

UNKNOWN_TOPIC_OR_PARTITION, MESSAGE_TOO_LARGE, INVALID_TOPIC_EXCEPTION, RECORD_LIST_TOO_LARGE = 3, 10, 17, 18
OFFSET_OUT_OF_RANGE = 1
CODEC_IDS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
EXPLICIT_TIMESTAMP = 1_700_000_000_123


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def others(client: str) -> list[str]:
    return [c for c in CLIENTS if c != client]


# -- record fields ----------------------------------------------------------------

FIELDS = [
    Out(b"key-1", b"value-1"),
    Out(None, b"null key"),
    Out(b"null value", None),
    Out(b"empty value", b""),
    Out(b"", b"empty key"),
    Out(b"headers", b"h", [("h1", b"one"), ("h2", b""), ("h1", b"repeated"), ("unicode-\u00e9", b"\x00\xff")]),
    Out(b"explicit timestamp", b"t", [], EXPLICIT_TIMESTAMP),
]


@pytest.mark.parametrize("producer", CLIENTS)
def test_record_fields_round_trip(broker: BrokerProcess, topic_name: str, producer: str) -> None:
    create_topic(broker.bootstrap_servers, topic_name)
    before = now_ms()
    sent = produce(producer, broker.bootstrap_servers, topic_name, FIELDS)
    after = now_ms()
    assert [(s.partition, s.offset) for s in sent] == [(0, i) for i in range(len(FIELDS))]

    for consumer in CLIENTS:
        records = consume(consumer, broker.bootstrap_servers, topic_name, count=len(FIELDS))
        assert [(r.offset, r.key, r.value, r.headers, r.timestamp_type) for r in records] == [
            (i, f.key, f.value, list(f.headers), CREATE_TIME) for i, f in enumerate(FIELDS)
        ], consumer
        assert records[-1].timestamp == EXPLICIT_TIMESTAMP
        assert all(before <= r.timestamp <= after for r in records[:-1]), consumer


@pytest.mark.parametrize("producer", CLIENTS)
def test_log_append_time_topic(broker: BrokerProcess, topic_name: str, producer: str) -> None:
    create_topic(broker.bootstrap_servers, topic_name, configs={"message.timestamp.type": "LogAppendTime"})
    records = [Out(b"a", b"1", [], EXPLICIT_TIMESTAMP), Out(b"b", b"2"), Out(b"c", b"3", [], EXPLICIT_TIMESTAMP + 5)]
    before = now_ms()
    sent = produce(producer, broker.bootstrap_servers, topic_name, records)
    after = now_ms()
    append_times = {s.timestamp for s in sent}
    assert len(append_times) == 1 and before <= append_times.pop() <= after, sent  # the broker's time, from the response

    for consumer in CLIENTS:
        got = consume(consumer, broker.bootstrap_servers, topic_name, count=3)
        assert [(r.offset, r.value, r.timestamp_type, r.timestamp) for r in got] == [
            (i, r.value, LOG_APPEND_TIME, sent[i].timestamp) for i, r in enumerate(records)
        ], consumer


def test_one_megabyte_record(broker: BrokerProcess, topic_name: str) -> None:
    """A record whose batch is just under message.max.bytes (1048588) is accepted
    and every client reads it back (the first batch is returned whole even when
    larger than the fetch limits)."""
    create_topic(broker.bootstrap_servers, topic_name)
    value = bytes(range(256)) * 4093 + b"end"  # 1048 KiB: a batch of 1048083 bytes
    sent = produce("kafka-python", broker.bootstrap_servers, topic_name, [Out(b"big", value), Out(b"after", b"small")],
                   linger_ms=0, max_request_size=2_000_000)
    assert [s.offset for s in sent] == [0, 1]
    batches = batch_headers(broker, topic_name)
    assert [b[0] for b in batches] == [0, 1]
    small_fetches = {"kafka-python": {"max_partition_fetch_bytes": 1024, "fetch_max_bytes": 1024},
                     "aiokafka": {"max_partition_fetch_bytes": 1024, "fetch_max_bytes": 1024},
                     "confluent": {"max.partition.fetch.bytes": 1024, "fetch.max.bytes": 1024, "message.max.bytes": 1024}}
    for consumer in CLIENTS:
        got = consume(consumer, broker.bootstrap_servers, topic_name, count=2)
        assert [(r.offset, r.key, r.value) for r in got] == [(0, b"big", value), (1, b"after", b"small")], consumer
        # Fetch limits far below the batch: the first batch still comes whole (KIP-74).
        got = consume(consumer, broker.bootstrap_servers, topic_name, count=2, **small_fetches[consumer])
        assert [(r.offset, r.key, r.value) for r in got] == [(0, b"big", value), (1, b"after", b"small")], consumer


# -- compression ------------------------------------------------------------------


def compressible_records(count: int) -> list[Out]:
    return [Out(f"key-{i}".encode(), (f"value {i} " * 40).encode(), [("n", str(i).encode())]) for i in range(count)]


MATRIX = [(producer, compression) for producer in CLIENTS for compression in COMPRESSIONS]


@pytest.mark.parametrize(("producer", "compression"), MATRIX)
def test_compression_matrix(broker: BrokerProcess, topic_name: str, producer: str, compression: str) -> None:
    """Each client's batches, in each codec, are stored as sent and read by the other two clients."""
    create_topic(broker.bootstrap_servers, topic_name)
    records = compressible_records(30)
    sent = produce(producer, broker.bootstrap_servers, topic_name, records, compression=compression, linger_ms=200)
    assert [s.offset for s in sent] == list(range(30))
    for consumer in others(producer):
        got = consume(consumer, broker.bootstrap_servers, topic_name, count=30)
        assert [(r.offset, r.key, r.value, r.headers) for r in got] == [
            (i, r.key, r.value, list(r.headers)) for i, r in enumerate(records)
        ], consumer
    batches = batch_headers(broker, topic_name)
    assert sum(delta + 1 for _, delta, _ in batches) == 30
    # (librdkafka compresses with lz4 only when the broker advertises
    # FindCoordinator, its probe for the "LZ4" feature.)
    assert {attributes & 7 for _, _, attributes in batches} == {CODEC_IDS[compression]}  # stored as the client compressed it


# -- acks -------------------------------------------------------------------------


@pytest.mark.parametrize("acks", [0, 1, "all"])
@pytest.mark.parametrize("producer", CLIENTS)
def test_acks(broker: BrokerProcess, topic_name: str, producer: str, acks: int | str) -> None:
    create_topic(broker.bootstrap_servers, topic_name)
    records = [Out(None, f"acks-{acks}-{i}".encode()) for i in range(10)]
    if producer == "aiokafka" and acks == 0:
        # aiokafka resolves acks=0 sends with None instead of metadata.
        sent = asyncio.run(_aiokafka_send_no_ack(broker.bootstrap_servers, topic_name, records))
    else:
        sent = produce(producer, broker.bootstrap_servers, topic_name, records, acks=acks)
        if acks != 0:  # with acks=0 there is no response, so offsets are the client's guess
            assert [s.offset for s in sent] == list(range(10))
    got = consume(others(producer)[0], broker.bootstrap_servers, topic_name, count=10)
    assert [(r.offset, r.value) for r in got] == [(i, r.value) for i, r in enumerate(records)]


def test_acks_all_with_min_insync_above_replication_factor(broker: BrokerProcess, topic_name: str) -> None:
    """Kafka 4.x caps min.insync.replicas at the replication factor (KIP-966's
    effective min ISR), so acks=all on a one-replica topic with
    min.insync.replicas=2 succeeds (checked against Kafka 4.4)."""
    create_topic(broker.bootstrap_servers, topic_name, configs={"min.insync.replicas": "2"})
    sent = produce("confluent", broker.bootstrap_servers, topic_name, [Out(None, b"a"), Out(None, b"b")], acks="all")
    assert [s.offset for s in sent] == [0, 1]


async def _aiokafka_send_no_ack(bootstrap: str, topic: str, records: list[Out]) -> list[object]:
    producer = aiokafka.AIOKafkaProducer(bootstrap_servers=bootstrap, acks=0, linger_ms=50)
    await producer.start()
    try:
        futures = [await producer.send(topic, value=r.value, partition=0) for r in records]
        return list(await asyncio.gather(*futures))
    finally:
        await producer.stop()


# -- fetching inside a batch, long polls --------------------------------------------


@pytest.mark.parametrize("consumer", CLIENTS)
def test_fetch_from_an_offset_inside_a_batch(broker: BrokerProcess, topic_name: str, consumer: str) -> None:
    create_topic(broker.bootstrap_servers, topic_name)
    records = [Out(f"k{i}".encode(), f"v{i}".encode()) for i in range(10)]
    produce("kafka-python", broker.bootstrap_servers, topic_name, records, linger_ms=200, compression="lz4")
    produce("kafka-python", broker.bootstrap_servers, topic_name, [Out(b"k10", b"v10")])
    assert [(base, delta) for base, delta, _ in batch_headers(broker, topic_name)] == [(0, 9), (10, 0)]

    got = consume(consumer, broker.bootstrap_servers, topic_name, offset=6, count=5)
    assert [(r.offset, r.key, r.value) for r in got] == [(i, f"k{i}".encode(), f"v{i}".encode()) for i in range(6, 11)]


@pytest.mark.parametrize("consumer", CLIENTS)
def test_long_poll_returns_a_record_produced_while_waiting(broker: BrokerProcess, topic_name: str, consumer: str) -> None:
    """With fetch max wait 10 s, a record produced while the fetch waits comes back
    at once: the append wakes the waiting fetch."""
    create_topic(broker.bootstrap_servers, topic_name)
    produce("kafka-python", broker.bootstrap_servers, topic_name, [Out(None, b"before")])
    produced_at: list[float] = []

    def produce_later() -> None:
        time.sleep(1.0)  # the consumer has sent its fetch and is parked on the broker
        produce("confluent", broker.bootstrap_servers, topic_name, [Out(None, b"while waiting")], linger_ms=0)
        produced_at.append(time.monotonic())

    thread = threading.Thread(target=produce_later)
    wait = {"kafka-python": {"fetch_max_wait_ms": 10_000}, "aiokafka": {"fetch_max_wait_ms": 10_000},
            "confluent": {"fetch.wait.max.ms": 10_000}}[consumer]
    thread.start()
    try:
        got = consume(consumer, broker.bootstrap_servers, topic_name, offset=1, count=1, timeout=8, **wait)
        received_at = time.monotonic()
    finally:
        thread.join(15)
    assert [(r.offset, r.value) for r in got] == [(1, b"while waiting")]
    assert produced_at and received_at - produced_at[0] < 2.0, received_at - produced_at[0]  # far below the 10 s wait


def timed_fetch(broker: BrokerProcess, partitions: list[tuple[str, int, int]], max_wait_ms: int) -> tuple[float, list[tuple[int, int]]]:
    """A raw Fetch v12 of (topic, partition, offset)s: (seconds it took, [(partition, error code)])."""
    fetch_topic = messages.FetchRequest.cls.FetchTopic
    request = messages.FetchRequest(max_wait_ms=max_wait_ms, min_bytes=1, max_bytes=1 << 20, session_id=0, session_epoch=-1, topics=[
        fetch_topic(topic=topic, partitions=[fetch_topic.FetchPartition(partition=p, fetch_offset=offset, partition_max_bytes=1 << 20)])
        for topic, p, offset in partitions
    ])
    with WireClient.connect(broker.port) as wire:
        start = time.monotonic()
        body = wire.call(ApiKey.FETCH, 12, request)
        took = time.monotonic() - start
    return took, [(p.partition_index, p.error_code) for t in body.responses for p in t.partitions]


def test_long_poll_and_errors(broker: BrokerProcess, topic_name: str) -> None:
    """As Kafka 4.4: a failed read (out of range) answers at once; an unknown
    partition is set aside and the others still wait; alone it answers at once."""
    create_topic(broker.bootstrap_servers, topic_name)
    produce("kafka-python", broker.bootstrap_servers, topic_name, [Out(None, b"x")])
    took, answers = timed_fetch(broker, [(topic_name, 0, 50)], 5_000)
    assert answers == [(0, ErrorCode.OFFSET_OUT_OF_RANGE)] and took < 1.0
    took, answers = timed_fetch(broker, [(topic_name, 9, 0)], 5_000)
    assert answers == [(9, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)] and took < 1.0
    took, answers = timed_fetch(broker, [(topic_name, 0, 1), ("no-such-topic", 0, 0)], 600)
    assert answers == [(0, ErrorCode.NONE), (0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)] and took >= 0.55


# -- many partitions ----------------------------------------------------------------


def test_fifty_partitions_round_trip(broker: BrokerProcess, topic_name: str) -> None:
    create_topic(broker.bootstrap_servers, topic_name, partitions=50)
    records = [Out(f"p{p}-{i}".encode(), f"{p}:{i}".encode(), partition=p) for i in range(3) for p in range(50)]
    sent = produce("confluent", broker.bootstrap_servers, topic_name, records, compression="snappy")
    assert sorted((s.partition, s.offset) for s in sent) == [(p, i) for p in range(50) for i in range(3)]
    for consumer in CLIENTS:
        got = consume_partitions(consumer, broker.bootstrap_servers, topic_name, list(range(50)), count=150, timeout=15)
        by_partition: dict[int, list[tuple[int, bytes | None]]] = {}
        for r in got:
            by_partition.setdefault(r.partition, []).append((r.offset, r.value))
        assert by_partition == {p: [(i, f"{p}:{i}".encode()) for i in range(3)] for p in range(50)}, consumer


# -- errors -------------------------------------------------------------------------


def test_unknown_topic_without_auto_create(broker_factory: Callable[..., BrokerProcess]) -> None:
    broker = broker_factory({"auto.create.topics.enable": "false"})
    admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
    metadata = admin.list_topics(topic="missing", timeout=5)
    assert metadata.topics["missing"].error.code() == UNKNOWN_TOPIC_OR_PARTITION
    assert "missing" not in admin.list_topics(timeout=5).topics

    with pytest.raises(confluent_kafka.KafkaException) as error:
        produce("confluent", broker.bootstrap_servers, "missing", [Out(None, b"x")], timeout=3,
                **{"topic.metadata.propagation.max.ms": 100})
    assert error.value.args[0].code() == UNKNOWN_TOPIC_OR_PARTITION
    with pytest.raises(aiokafka.errors.UnknownTopicOrPartitionError):
        produce("aiokafka", broker.bootstrap_servers, "missing", [Out(None, b"x")], timeout=1)
    assert "missing" not in admin.list_topics(timeout=5).topics


def test_auto_create_on_produce(broker: BrokerProcess, topic_name: str) -> None:
    sent = produce("confluent", broker.bootstrap_servers, topic_name, [Out(None, b"created")])
    assert [(s.partition, s.offset) for s in sent] == [(0, 0)]
    metadata = AdminClient({"bootstrap.servers": broker.bootstrap_servers}).list_topics(topic=topic_name, timeout=5)
    assert metadata.topics[topic_name].error is None and list(metadata.topics[topic_name].partitions) == [0]


def test_invalid_topic_name(broker: BrokerProcess) -> None:
    name = "not valid!"
    admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
    assert admin.list_topics(topic=name, timeout=5).topics[name].error.code() == INVALID_TOPIC_EXCEPTION
    with pytest.raises(confluent_kafka.KafkaException) as error:
        produce("confluent", broker.bootstrap_servers, name, [Out(None, b"x")], timeout=3)
    assert error.value.args[0].code() == INVALID_TOPIC_EXCEPTION
    with pytest.raises(kafka.errors.InvalidTopicError):
        create_topic(broker.bootstrap_servers, name)
    with pytest.raises(kafka.errors.InvalidTopicError):
        create_topic(broker.bootstrap_servers, "x" * 250)
    assert name not in admin.list_topics(timeout=5).topics


def test_record_too_large(broker: BrokerProcess, topic_name: str) -> None:
    """A batch over max.message.bytes (default message.max.bytes 1048588) is
    MESSAGE_TOO_LARGE, whatever the client allows itself."""
    create_topic(broker.bootstrap_servers, topic_name)
    value = b"x" * 1_048_600
    with pytest.raises(kafka.errors.MessageSizeTooLargeError):
        produce("kafka-python", broker.bootstrap_servers, topic_name, [Out(None, value)], max_request_size=2_000_000, retries=0)
    with pytest.raises(confluent_kafka.KafkaException) as error:
        produce("confluent", broker.bootstrap_servers, topic_name, [Out(None, value)], **{"message.max.bytes": 2_000_000})
    assert error.value.args[0].code() == MESSAGE_TOO_LARGE
    # Nothing was appended; a record within the limit still goes through.
    assert [s.offset for s in produce("confluent", broker.bootstrap_servers, topic_name, [Out(None, b"fits")])] == [0]


def test_batch_larger_than_a_segment(broker: BrokerProcess, topic_name: str) -> None:
    """Kafka refuses a batch larger than segment.bytes with RECORD_LIST_TOO_LARGE
    (UnifiedLog.append), even when max.message.bytes allows it."""
    create_topic(broker.bootstrap_servers, topic_name, configs={"segment.bytes": "1048576", "max.message.bytes": "3000000"})
    with pytest.raises(confluent_kafka.KafkaException) as error:
        produce("confluent", broker.bootstrap_servers, topic_name, [Out(None, b"y" * 1_100_000)], **{"message.max.bytes": 2_000_000})
    assert error.value.args[0].code() == RECORD_LIST_TOO_LARGE


# -- out-of-range offsets -------------------------------------------------------------


@pytest.fixture(scope="module")
def three_records(broker: BrokerProcess) -> str:
    topic = "out-of-range"
    create_topic(broker.bootstrap_servers, topic)
    produce("kafka-python", broker.bootstrap_servers, topic, [Out(None, f"r{i}".encode()) for i in range(3)])
    return topic


@pytest.mark.parametrize("consumer", CLIENTS)
def test_out_of_range_resets_to_earliest(broker: BrokerProcess, three_records: str, consumer: str) -> None:
    reset = {"confluent": {"auto.offset.reset": "earliest"}}.get(consumer, {"auto_offset_reset": "earliest"})
    got = consume(consumer, broker.bootstrap_servers, three_records, offset=100, count=3, **reset)
    assert [(r.offset, r.value) for r in got] == [(0, b"r0"), (1, b"r1"), (2, b"r2")]


@pytest.mark.parametrize("consumer", CLIENTS)
def test_out_of_range_resets_to_latest(broker: BrokerProcess, three_records: str, consumer: str) -> None:
    reset = {"confluent": {"auto.offset.reset": "latest"}}.get(consumer, {"auto_offset_reset": "latest"})
    got = consume(consumer, broker.bootstrap_servers, three_records, offset=100, count=1, timeout=1.0, **reset)
    assert got == []  # reset to the end: nothing new to read


def test_out_of_range_without_reset_kafka_python(broker: BrokerProcess, three_records: str) -> None:
    consumer = kafka_python_consumer(broker.bootstrap_servers, auto_offset_reset="none")
    try:
        tp = kafka.TopicPartition(three_records, 0)
        consumer.assign([tp])
        consumer.seek(tp, 100)
        with pytest.raises(kafka.errors.OffsetOutOfRangeError):
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                consumer.poll(timeout_ms=200)
    finally:
        consumer.close()


def test_out_of_range_without_reset_aiokafka(broker: BrokerProcess, three_records: str) -> None:
    async def run() -> None:
        consumer = aiokafka.AIOKafkaConsumer(bootstrap_servers=broker.bootstrap_servers, group_id=None, auto_offset_reset="none")
        await consumer.start()
        try:
            tp = aiokafka.TopicPartition(three_records, 0)
            consumer.assign([tp])
            consumer.seek(tp, 100)
            with pytest.raises(aiokafka.errors.OffsetOutOfRangeError):
                await asyncio.wait_for(consumer.getone(), 5)
        finally:
            await consumer.stop()

    asyncio.run(run())


def test_out_of_range_without_reset_confluent(broker: BrokerProcess, three_records: str) -> None:
    consumer = confluent_consumer(broker.bootstrap_servers, **{"auto.offset.reset": "error"})
    try:
        consumer.assign([confluent_kafka.TopicPartition(three_records, 0, 100)])
        errors = []
        deadline = time.monotonic() + 5
        while not errors and time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is not None:
                assert message.error() is not None, confluent_record(message)
                errors.append(message.error())
        assert [e.code() for e in errors] == [confluent_kafka.KafkaError._AUTO_OFFSET_RESET]
        assert "Broker: Offset out of range" in errors[0].str()
    finally:
        consumer.close()


def test_reset_to_latest_then_reads_new_records(broker: BrokerProcess, topic_name: str) -> None:
    create_topic(broker.bootstrap_servers, topic_name)
    produce("kafka-python", broker.bootstrap_servers, topic_name, [Out(None, b"old")])
    consumer = kafka_python_consumer(broker.bootstrap_servers, auto_offset_reset="latest")
    try:
        tp = kafka.TopicPartition(topic_name, 0)
        consumer.assign([tp])
        consumer.seek(tp, 50)
        deadline = time.monotonic() + 5
        while consumer.position(tp) != 1 and time.monotonic() < deadline:
            consumer.poll(timeout_ms=100)
        assert consumer.position(tp) == 1
        produce("aiokafka", broker.bootstrap_servers, topic_name, [Out(None, b"new")])
        got: list[Record] = []
        while not got and time.monotonic() < deadline + 5:
            for batch in consumer.poll(timeout_ms=200).values():
                got += [Record(m.partition, m.offset, m.key, m.value, [], m.timestamp, m.timestamp_type) for m in batch]
        assert [(r.offset, r.value) for r in got] == [(1, b"new")]
    finally:
        consumer.close()



# -- what the broker checks and rewrites in a batch (Kafka's LogValidator) ---------------

BATCH_REJECTED = "Failed to append record because it was part of a batch which had one more more invalid records"


def kafka_python_outcomes(bootstrap: str, topic: str, records: list[Out]) -> list[tuple[str, str]]:
    """Send `records` as one batch with kafka-python; per record ("ok", offset) or (exception, message)."""
    producer = kafka.KafkaProducer(bootstrap_servers=bootstrap, acks=1, linger_ms=100, retries=0)
    try:
        futures = [producer.send(topic, key=r.key, value=r.value, timestamp_ms=r.timestamp, partition=0) for r in records]
        producer.flush(10)
        outcomes = []
        for future in futures:
            try:
                outcomes.append(("ok", str(future.get(10).offset)))
            except kafka.errors.KafkaError as e:
                outcomes.append((type(e).__name__, str(e)))
        return outcomes
    finally:
        producer.close(5)


def test_invalid_timestamp_names_the_record(broker: BrokerProcess, topic_name: str) -> None:
    """Kafka answers INVALID_TIMESTAMP with a record error for each bad record (v8+),
    and kafka-python fails that record with the broker's message, the others of the
    batch with a generic error; nothing is appended."""
    create_topic(broker.bootstrap_servers, topic_name)
    now = now_ms()
    outcomes = kafka_python_outcomes(broker.bootstrap_servers, topic_name, [
        Out(None, b"ok", [], now), Out(None, b"two hours ahead", [], now + 7_200_000), Out(None, b"ok too", [], now),
    ])
    assert outcomes[0] == outcomes[2] == ("KafkaError", f"KafkaError: {BATCH_REJECTED}")
    name, message = outcomes[1]
    assert name == "InvalidTimestampError"
    assert re.fullmatch(rf"\[Error 32\] InvalidTimestampError: Timestamp {now + 7_200_000} of message with offset 1 is out of range\. "
                        rf"The timestamp should be within \[-\d+, (\d+)\]", message), message
    assert consume("aiokafka", broker.bootstrap_servers, topic_name, count=1, timeout=0.5) == []


def test_compacted_topic_refuses_records_without_key(broker: BrokerProcess, topic_name: str) -> None:
    create_topic(broker.bootstrap_servers, topic_name, configs={"cleanup.policy": "compact"})
    outcomes = kafka_python_outcomes(broker.bootstrap_servers, topic_name, [Out(b"k", b"keyed"), Out(None, b"no key"), Out(None, b"no key either")])
    no_key = f"[Error 87] InvalidRecordError: Compacted topic cannot accept message without key in topic partition {topic_name}-0"
    assert outcomes == [("KafkaError", f"KafkaError: {BATCH_REJECTED}"), ("InvalidRecordError", no_key), ("InvalidRecordError", no_key)]
    assert [s.offset for s in produce("confluent", broker.bootstrap_servers, topic_name, [Out(b"k", b"keyed")])] == [0]


@pytest.mark.parametrize(("topic_compression", "sent_as"), [
    ("gzip", "none"), ("snappy", "zstd"), ("lz4", "gzip"), ("zstd", "snappy"), ("uncompressed", "lz4"), ("producer", "zstd"),
])
def test_topic_compression_type_recompresses(broker: BrokerProcess, topic_name: str, topic_compression: str, sent_as: str) -> None:
    """A topic's compression.type other than "producer" makes the broker store
    batches in that codec, whatever the producer used (Kafka's LogValidator)."""
    create_topic(broker.bootstrap_servers, topic_name, configs={"compression.type": topic_compression})
    records = compressible_records(10)
    sent = produce("kafka-python", broker.bootstrap_servers, topic_name, records, compression=sent_as, linger_ms=100)
    assert [s.offset for s in sent] == list(range(10))
    stored = {"uncompressed": "none", "producer": sent_as}.get(topic_compression, topic_compression)
    assert {attributes & 7 for _, _, attributes in batch_headers(broker, topic_name)} == {CODEC_IDS[stored]}
    for consumer in ("aiokafka", "confluent"):
        got = consume(consumer, broker.bootstrap_servers, topic_name, count=10)
        assert [(r.offset, r.key, r.value, r.headers) for r in got] == [(i, r.key, r.value, list(r.headers)) for i, r in enumerate(records)]


def test_log_append_time_with_recompression(broker: BrokerProcess, topic_name: str) -> None:
    """Rebuilt batches keep the records' own timestamps inside; the batch carries
    the append time as LogAppendTime, which is what consumers see."""
    create_topic(broker.bootstrap_servers, topic_name, configs={"message.timestamp.type": "LogAppendTime", "compression.type": "gzip"})
    sent = produce("confluent", broker.bootstrap_servers, topic_name, [Out(None, b"a", [], 1_000), Out(None, b"b", [], 2_000)])
    append_time = sent[0].timestamp
    assert append_time > 2_000 and sent[1].timestamp == append_time
    assert [(attributes & 7, attributes & 8) for _, _, attributes in batch_headers(broker, topic_name)] == [(CODEC_IDS["gzip"], 8)]
    got = consume("kafka-python", broker.bootstrap_servers, topic_name, count=2)
    assert [(r.offset, r.value, r.timestamp, r.timestamp_type) for r in got] == [(0, b"a", append_time, LOG_APPEND_TIME), (1, b"b", append_time, LOG_APPEND_TIME)]


def test_metadata_answers_each_topic_once(broker: BrokerProcess, topic_name: str) -> None:
    """Kafka reads the requested names as a set: duplicates are answered once,
    topics that exist before names that do not (checked against Kafka 4.4)."""
    create_topic(broker.bootstrap_servers, topic_name)
    with WireClient.connect(broker.port) as wire:
        body = wire.call(ApiKey.METADATA, 12, metadata_request(["bad name!", topic_name, topic_name], allow_auto_topic_creation=False))
    assert [(t.name, t.error_code, len(t.partitions)) for t in body.topics] == [
        (topic_name, ErrorCode.NONE, 1), ("bad name!", ErrorCode.INVALID_TOPIC_EXCEPTION, 0),
    ]
