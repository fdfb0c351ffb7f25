"""What survives a broker restart: clean (SIGTERM) and crash (SIGKILL).

A clean restart keeps topics (ids, partitions), topic configs and every
record. After SIGKILL every record a producer saw acknowledged with acks=1
is still readable at the offset it was acknowledged with, in order per
partition: the process dies, the page cache does not, and kwire_storage
recovers the log tails on start-up.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import confluent_kafka
import kafka
from confluent_kafka.admin import AdminClient, ConfigResource

from kwire.testing import BrokerProcess
from tests.broker.clients import CLIENTS, CREATE_TIME, LOG_APPEND_TIME, Out, consume_partitions, create_topic, kafka_python_consumer, produce

BrokerFactory = Callable[..., BrokerProcess]


def topic_configs(bootstrap: str, topic: str) -> dict[str, tuple[str, int]]:
    """name -> (value, source) of a topic's configs, by DescribeConfigs."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    entries = admin.describe_configs([resource], request_timeout=5)[resource].result(timeout=10)
    return {name: (entry.value, entry.source) for name, entry in entries.items()}


def topic_ids(bootstrap: str) -> dict[str, Any]:
    admin = kafka.KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        return {t["name"]: (t["topic_id"], len(t["partitions"])) for t in admin.describe_topics()}
    finally:
        admin.close()


def test_clean_restart_keeps_topics_configs_and_records(broker_factory: BrokerFactory) -> None:
    first = broker_factory()
    bootstrap = first.bootstrap_servers
    overrides = {"message.timestamp.type": "LogAppendTime", "retention.ms": "987654321", "max.message.bytes": "1500000"}
    create_topic(bootstrap, "configured", partitions=3, configs=overrides)
    create_topic(bootstrap, "plain", partitions=1)
    records = {c: [Out(f"{c}-{i}".encode(), f"value {i}".encode(), [("h", c.encode())], None, i % 3) for i in range(12)] for c in CLIENTS}
    for client, compression in zip(CLIENTS, ("gzip", "zstd", "snappy")):
        produce(client, bootstrap, "configured", records[client], compression=compression)
    produce("kafka-python", bootstrap, "plain", [Out(b"plain", b"record")])
    before = consume_partitions("confluent", bootstrap, "configured", [0, 1, 2], count=36)
    assert len(before) == 36 and {r.timestamp_type for r in before} == {LOG_APPEND_TIME}
    ids_before = topic_ids(bootstrap)
    configs_before = topic_configs(bootstrap, "configured")
    assert {name: configs_before[name][0] for name in overrides} == overrides

    assert first.stop() == 0  # SIGTERM: a clean shutdown
    second = broker_factory(data_dir=first.data_dir)
    bootstrap = second.bootstrap_servers

    assert topic_ids(bootstrap) == ids_before
    assert topic_configs(bootstrap, "configured") == configs_before
    for consumer in CLIENTS:
        after = consume_partitions(consumer, bootstrap, "configured", [0, 1, 2], count=36)
        assert sorted(after) == sorted(before), consumer
    [stored] = consume_partitions("aiokafka", bootstrap, "plain", [0], count=1)
    assert (stored.offset, stored.key, stored.value, stored.timestamp_type) == (0, b"plain", b"record", CREATE_TIME)

    # The logs go on where they stopped, with the topic's configs still applied.
    sent = produce("confluent", bootstrap, "configured", [Out(b"after", b"restart", [], 1_000, 1)])
    assert (sent[0].partition, sent[0].offset) == (1, 12)
    [new] = consume_partitions("kafka-python", bootstrap, "configured", [1], offset=12, count=1)
    assert (new.value, new.timestamp_type) == (b"restart", LOG_APPEND_TIME) and new.timestamp > 1_000
    # 1.4 MB: allowed only by the topic's max.message.bytes.
    sent = produce("kafka-python", bootstrap, "configured", [Out(None, b"C" * 1_400_000, [], None, 2)], max_request_size=2_000_000)
    assert (sent[0].partition, sent[0].offset) == (2, 12)


def test_sigkill_keeps_every_acknowledged_record(broker_factory: BrokerFactory) -> None:
    broker = broker_factory()
    partitions = 3
    create_topic(broker.bootstrap_servers, "crash", partitions=partitions)
    producer = confluent_kafka.Producer({
        "bootstrap.servers": broker.bootstrap_servers, "acks": "1", "linger.ms": 2, "enable.idempotence": False,
        "message.timeout.ms": 5000, "retries": 0, "reconnect.backoff.max.ms": 100,
    })
    acked: dict[int, list[tuple[int, bytes]]] = {p: [] for p in range(partitions)}
    failed: list[Any] = []
    lock = threading.Lock()

    def on_delivery(error: Any, message: Any) -> None:
        with lock:
            if error is None:
                acked[message.partition()].append((message.offset(), message.value()))
            else:
                failed.append(error)

    def count_acked() -> int:
        with lock:
            return sum(len(v) for v in acked.values())

    sequence = 0
    deadline = time.monotonic() + 20
    killed = False
    while time.monotonic() < deadline:
        for _ in range(50 if len(producer) < 1000 else 0):  # a steady stream, not a flood of the local queue
            partition = sequence % partitions
            try:
                producer.produce("crash", value=f"{partition}:{sequence:08d}".encode(), partition=partition, on_delivery=on_delivery)
            except BufferError:
                break
            sequence += 1
        producer.poll(0.001)
        if not killed and count_acked() >= 3000:
            broker.kill()  # SIGKILL, mid-stream: requests are in flight
            killed = True
            kill_time = time.monotonic()
        if killed and time.monotonic() - kill_time > 1.0:
            break
    assert killed, f"only {count_acked()} records acknowledged in 20 s"
    producer.purge()
    producer.flush(5)
    assert failed, "records produced after the kill cannot all have been acknowledged"

    restarted = broker_factory(data_dir=broker.data_dir)
    expected = {p: list(v) for p, v in acked.items()}
    for p, records in expected.items():
        assert [offset for offset, _ in records] == sorted(offset for offset, _ in records)
    watermarks = kafka_python_consumer(restarted.bootstrap_servers)
    try:
        tps = [kafka.TopicPartition("crash", p) for p in range(partitions)]
        end_offsets = watermarks.end_offsets(tps)
        ends = [end_offsets[tp] for tp in tps]
    finally:
        watermarks.close()
    assert all(end >= len(expected[p]) for p, end in enumerate(ends)), (ends, {p: len(v) for p, v in expected.items()})
    got = consume_partitions("confluent", restarted.bootstrap_servers, "crash", list(range(partitions)), count=sum(ends), timeout=15)
    assert len(got) == sum(ends)
    by_partition: dict[int, list[tuple[int, bytes | None]]] = {p: [] for p in range(partitions)}
    for r in got:
        by_partition[r.partition].append((r.offset, r.value))
    for p in range(partitions):
        read = dict(by_partition[p])
        # Every acknowledged record, at the offset it was acknowledged with.
        missing = [(offset, value) for offset, value in expected[p] if read.get(offset) != value]
        assert not missing, f"partition {p}: {len(missing)} acknowledged records lost, first {missing[:3]}"
        # What was stored (acknowledged or not) is dense and in the order produced.
        offsets = [offset for offset, _ in by_partition[p]]
        assert offsets == list(range(len(offsets)))
        sequences = [int(value.split(b":")[1]) for _, value in by_partition[p] if value is not None]
        assert sequences == sorted(sequences) and all(s % partitions == p for s in sequences)
