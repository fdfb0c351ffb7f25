"""The reference Apache Kafka launcher (compat_tests/reference_kafka.py) works end to end."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from compat_tests import reference_kafka  # noqa: E402

MISSING = reference_kafka.missing_prerequisites()
pytestmark = pytest.mark.skipif(MISSING is not None, reason=f"reference Kafka cannot run: {MISSING}")


def _process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie still answers kill(0); Popen.wait() has reaped ours, so any
    # process left with this PID would be a live one.
    return False


def test_start_produce_consume_stop():
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import KafkaAdminClient, NewTopic

    kafka = reference_kafka.ReferenceKafka(startup_timeout=180)
    with kafka:
        assert kafka.bootstrap_servers.startswith("127.0.0.1:")
        pid = kafka.pid
        directory = kafka.directory
        assert pid is not None and directory is not None and directory.exists()

        admin = KafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers, request_timeout_ms=30000)
        try:
            admin.create_topics([NewTopic("reference-smoke", num_partitions=1, replication_factor=1)])
        finally:
            admin.close()

        producer = KafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all")
        try:
            metadata = producer.send(
                "reference-smoke", key=b"k", value=b"hello kafka", headers=[("h", b"v")], timestamp_ms=1_700_000_000_000
            ).get(timeout=60)
        finally:
            producer.close(timeout=10)
        assert metadata.offset == 0

        consumer = KafkaConsumer(bootstrap_servers=kafka.bootstrap_servers, enable_auto_commit=False,
                                 auto_offset_reset="earliest", consumer_timeout_ms=1000)
        try:
            partition = TopicPartition("reference-smoke", 0)
            consumer.assign([partition])
            records = []
            deadline = time.monotonic() + 60
            while not records and time.monotonic() < deadline:
                for batch in consumer.poll(timeout_ms=1000).values():
                    records.extend(batch)
        finally:
            consumer.close()

        assert len(records) == 1
        record = records[0]
        assert (record.offset, record.key, record.value) == (0, b"k", b"hello kafka")
        assert record.timestamp == 1_700_000_000_000
        assert list(record.headers) == [("h", b"v")]

    assert kafka.process is None
    assert _process_gone(pid), f"Kafka JVM {pid} still running after stop()"
    assert not directory.exists()


def test_tools_classpath_runs_a_kafka_tool():
    """The tools classpath can run a tool main class (it prints its version)."""
    result = reference_kafka.run_tool("org.apache.kafka.tools.TopicCommand", ["--version"], timeout=120)
    assert result.returncode == 0
    assert result.stdout.strip(), result.stderr
