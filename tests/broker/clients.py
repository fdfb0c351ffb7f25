"""The three Python clients behind one small interface, for broker tests.

    produce("confluent", broker.bootstrap_servers, topic, [Out(b"k", b"v")], compression="zstd")
    consume("aiokafka", broker.bootstrap_servers, topic, 0, offset=0, count=1)

Each call makes its own client and closes it, bounded in time. Records come
back as `Record` tuples normalised across clients (headers as a list of
(str, bytes | None), timestamp type 0 = CreateTime, 1 = LogAppendTime), so
tests compare exact values whatever client read them.

Consumers never join a group (groups are issue 6): kafka-python and
aiokafka run with group_id=None; confluent-kafka insists on a group.id, so
it gets one but only ever uses assign() with explicit offsets and never
commits.
"""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import Sequence
from typing import Any, NamedTuple

import confluent_kafka
import kafka
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition as AioTopicPartition
from kafka.admin import NewTopic

CLIENTS = ("kafka-python", "aiokafka", "confluent")
COMPRESSIONS = ("none", "gzip", "snappy", "lz4", "zstd")
CREATE_TIME, LOG_APPEND_TIME = 0, 1


class Out(NamedTuple):
    """A record to produce."""

    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes | None]] = ()
    timestamp: int | None = None
    partition: int = 0


class Record(NamedTuple):
    """A consumed record, the same whichever client read it."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]]
    timestamp: int
    timestamp_type: int


class Sent(NamedTuple):
    """What the producer was told about one record (offset -1 with acks=0)."""

    partition: int
    offset: int
    timestamp: int


# -- producing -----------------------------------------------------------------


def produce(client: str, bootstrap: str, topic: str, records: Sequence[Out], *, compression: str = "none",
            acks: int | str = 1, linger_ms: int = 50, timeout: float = 15.0, **config: Any) -> list[Sent]:
    """Produce `records` (batched, as the client does with linger) and wait for every ack."""
    if client == "kafka-python":
        return _produce_kafka_python(bootstrap, topic, records, compression, acks, linger_ms, timeout, config)
    if client == "aiokafka":
        return asyncio.run(_produce_aiokafka(bootstrap, topic, records, compression, acks, linger_ms, timeout, config))
    if client == "confluent":
        return _produce_confluent(bootstrap, topic, records, compression, acks, linger_ms, timeout, config)
    raise ValueError(client)


def _produce_kafka_python(bootstrap: str, topic: str, records: Sequence[Out], compression: str, acks: int | str,
                          linger_ms: int, timeout: float, config: dict[str, Any]) -> list[Sent]:
    producer = kafka.KafkaProducer(
        bootstrap_servers=bootstrap, acks=acks, linger_ms=linger_ms, max_block_ms=int(timeout * 1000),
        compression_type=None if compression == "none" else compression, **config,
    )
    try:
        futures = [
            producer.send(topic, key=r.key, value=r.value, headers=list(r.headers), timestamp_ms=r.timestamp, partition=r.partition)
            for r in records
        ]
        producer.flush(timeout)
        out = []
        for future in futures:
            metadata = future.get(timeout)
            out.append(Sent(metadata.partition, metadata.offset, metadata.timestamp))
        return out
    finally:
        producer.close(timeout=5)


async def _produce_aiokafka(bootstrap: str, topic: str, records: Sequence[Out], compression: str, acks: int | str,
                            linger_ms: int, timeout: float, config: dict[str, Any]) -> list[Sent]:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks=acks, linger_ms=linger_ms, request_timeout_ms=int(timeout * 1000),
        compression_type=None if compression == "none" else compression, **config,
    )
    await asyncio.wait_for(producer.start(), timeout)
    try:
        futures = [
            await producer.send(topic, key=r.key, value=r.value, headers=list(r.headers), timestamp_ms=r.timestamp, partition=r.partition)
            for r in records
        ]
        results = await asyncio.wait_for(asyncio.gather(*futures), timeout)
        return [Sent(m.partition, m.offset, m.timestamp) for m in results]
    finally:
        await asyncio.wait_for(producer.stop(), 10)


def _produce_confluent(bootstrap: str, topic: str, records: Sequence[Out], compression: str, acks: int | str,
                       linger_ms: int, timeout: float, config: dict[str, Any]) -> list[Sent]:
    producer = confluent_kafka.Producer({
        "bootstrap.servers": bootstrap, "acks": str(acks), "linger.ms": linger_ms, "compression.type": compression,
        "message.timeout.ms": int(timeout * 1000), **config,
    })
    results: list[Any] = [None] * len(records)

    def report(index: int) -> Any:
        def on_delivery(error: Any, message: Any) -> None:
            results[index] = error if error is not None else Sent(message.partition(), message.offset(), message.timestamp()[1])
        return on_delivery

    for i, r in enumerate(records):
        kwargs: dict[str, Any] = {"key": r.key, "value": r.value, "partition": r.partition, "on_delivery": report(i)}
        if r.headers:
            kwargs["headers"] = list(r.headers)
        if r.timestamp is not None:
            kwargs["timestamp"] = r.timestamp
        producer.produce(topic, **kwargs)
    remaining = producer.flush(timeout)
    assert remaining == 0, f"{remaining} records not delivered within {timeout}s"
    errors = [r for r in results if not isinstance(r, Sent)]
    if errors:
        raise confluent_kafka.KafkaException(errors[0])
    return results


# -- consuming -----------------------------------------------------------------


def consume(client: str, bootstrap: str, topic: str, partition: int = 0, *, offset: int | str = "earliest", count: int,
            timeout: float = 10.0, **config: Any) -> list[Record]:
    """Read `count` records of one partition from `offset` (an offset, "earliest" or
    "latest"), without a group. Returns what arrived within `timeout`."""
    return consume_partitions(client, bootstrap, topic, [partition], offset=offset, count=count, timeout=timeout, **config)


def consume_partitions(client: str, bootstrap: str, topic: str, partitions: Sequence[int], *, offset: int | str = "earliest",
                       count: int, timeout: float = 10.0, **config: Any) -> list[Record]:
    if client == "kafka-python":
        return _consume_kafka_python(bootstrap, topic, partitions, offset, count, timeout, config)
    if client == "aiokafka":
        return asyncio.run(_consume_aiokafka(bootstrap, topic, partitions, offset, count, timeout, config))
    if client == "confluent":
        return _consume_confluent(bootstrap, topic, partitions, offset, count, timeout, config)
    raise ValueError(client)


def kafka_python_consumer(bootstrap: str, **config: Any) -> kafka.KafkaConsumer:
    settings = {"bootstrap_servers": bootstrap, "group_id": None, "enable_auto_commit": False, "fetch_max_wait_ms": 100, **config}
    return kafka.KafkaConsumer(**settings)


def _consume_kafka_python(bootstrap: str, topic: str, partitions: Sequence[int], offset: int | str, count: int,
                          timeout: float, config: dict[str, Any]) -> list[Record]:
    consumer = kafka_python_consumer(bootstrap, **config)
    try:
        tps = [kafka.TopicPartition(topic, p) for p in partitions]
        consumer.assign(tps)
        for tp in tps:
            if offset == "earliest":
                consumer.seek_to_beginning(tp)
            elif offset == "latest":
                consumer.seek_to_end(tp)
            else:
                consumer.seek(tp, offset)
        out: list[Record] = []
        deadline = time.monotonic() + timeout
        while len(out) < count and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=200).values():
                out += [Record(m.partition, m.offset, m.key, m.value, [(k, v) for k, v in m.headers], m.timestamp, m.timestamp_type) for m in batch]
        return out
    finally:
        consumer.close()


async def _consume_aiokafka(bootstrap: str, topic: str, partitions: Sequence[int], offset: int | str, count: int,
                            timeout: float, config: dict[str, Any]) -> list[Record]:
    settings = {"bootstrap_servers": bootstrap, "group_id": None, "enable_auto_commit": False, "fetch_max_wait_ms": 100, **config}
    consumer = AIOKafkaConsumer(**settings)
    await asyncio.wait_for(consumer.start(), timeout)
    try:
        tps = [AioTopicPartition(topic, p) for p in partitions]
        consumer.assign(tps)
        for tp in tps:
            if offset == "earliest":
                await consumer.seek_to_beginning(tp)
            elif offset == "latest":
                await consumer.seek_to_end(tp)
            else:
                consumer.seek(tp, offset)
        out: list[Record] = []
        deadline = time.monotonic() + timeout
        while len(out) < count and time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                out += [Record(m.partition, m.offset, m.key, m.value, [(k, v) for k, v in m.headers], m.timestamp, m.timestamp_type) for m in batch]
        return out
    finally:
        await asyncio.wait_for(consumer.stop(), 10)


def confluent_consumer(bootstrap: str, **config: Any) -> confluent_kafka.Consumer:
    return confluent_kafka.Consumer({
        "bootstrap.servers": bootstrap, "group.id": "kwire-tests-assign-only", "enable.auto.commit": False,
        "enable.auto.offset.store": False, "fetch.wait.max.ms": 100, **config,
    })


_CONFLUENT_TIMESTAMP_TYPES = {confluent_kafka.TIMESTAMP_CREATE_TIME: CREATE_TIME, confluent_kafka.TIMESTAMP_LOG_APPEND_TIME: LOG_APPEND_TIME}


def confluent_record(m: Any) -> Record:
    timestamp_type, timestamp = m.timestamp()
    return Record(m.partition(), m.offset(), m.key(), m.value(), list(m.headers() or []), timestamp,
                  _CONFLUENT_TIMESTAMP_TYPES.get(timestamp_type, -1))


def _consume_confluent(bootstrap: str, topic: str, partitions: Sequence[int], offset: int | str, count: int,
                       timeout: float, config: dict[str, Any]) -> list[Record]:
    consumer = confluent_consumer(bootstrap, **config)
    try:
        start = {"earliest": confluent_kafka.OFFSET_BEGINNING, "latest": confluent_kafka.OFFSET_END}.get(offset, offset)  # type: ignore[call-overload]
        consumer.assign([confluent_kafka.TopicPartition(topic, p, start) for p in partitions])
        out: list[Record] = []
        deadline = time.monotonic() + timeout
        while len(out) < count and time.monotonic() < deadline:
            for m in consumer.consume(num_messages=max(1, count - len(out)), timeout=0.2):
                if m.error() is not None:
                    raise confluent_kafka.KafkaException(m.error())
                out.append(confluent_record(m))
        return out
    finally:
        consumer.close()


# -- admin -----------------------------------------------------------------------


def create_topic(bootstrap: str, name: str, partitions: int = 1, configs: dict[str, str] | None = None, *,
                 records_per_partition: int = 0) -> None:
    """Create the topic; with `records_per_partition`, fill each partition p
    with values b"p-0", b"p-1", ..."""
    admin = kafka.KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(name, partitions, 1, topic_configs=configs or {})])
    finally:
        admin.close()
    if records_per_partition:
        producer = confluent_kafka.Producer({"bootstrap.servers": bootstrap})
        for p in range(partitions):
            for i in range(records_per_partition):
                producer.produce(name, value=f"{p}-{i}".encode(), partition=p)
        assert producer.flush(10) == 0


# -- what the broker stored --------------------------------------------------------


def batch_headers(broker: Any, topic: str, partition: int = 0) -> list[tuple[int, int, int]]:
    """(base offset, last offset delta, attributes) of every batch in the partition's
    first segment, read from the file kwire wrote (the v2 batch header layout)."""
    data = (broker.data_dir / f"{topic}-{partition}" / "00000000000000000000.log").read_bytes()
    out, position = [], 0
    while position + 61 <= len(data):
        base_offset, length = struct.unpack_from(">qi", data, position)
        attributes, last_offset_delta = struct.unpack_from(">hi", data, position + 21)
        out.append((base_offset, last_offset_delta, attributes))
        position += 12 + length
    return out
