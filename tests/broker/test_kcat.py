"""kcat (librdkafka's command-line client) against a kwire broker.

kcat is a Debian package; scripts/test installs it when it is missing and
it can (root with apt). These tests skip only when kcat is not on PATH.
The expected output is what kcat 1.7.1 prints against Apache Kafka 4.4.0
(compat_tests.reference_kafka.ReferenceKafka, compared by hand).

kcat -P cannot set record timestamps, so the timestamp queries (-Q) use
the timestamps the consumer printed.
"""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest
from kafka import KafkaAdminClient
from kafka.admin import NewTopic

from kwire.testing import BrokerProcess

KCAT = shutil.which("kcat") or shutil.which("kafkacat")
pytestmark = pytest.mark.skipif(
    KCAT is None, reason="kcat is not installed (scripts/test installs the Debian package kcat when run as root with apt)")

TIMEOUT = 30.0
COMPRESSION_TYPES = ["none", "gzip", "snappy", "lz4", "zstd"]


def kcat(bootstrap: str, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
    assert KCAT is not None
    result = subprocess.run([KCAT, "-b", bootstrap, *args], input=input, capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, f"kcat {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result


def create_topic(bootstrap: str, name: str, partitions: int) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    try:
        admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        admin.close()


def test_metadata(broker: BrokerProcess, topic_name: str) -> None:
    create_topic(broker.bootstrap_servers, topic_name, 2)
    out = kcat(broker.bootstrap_servers, "-L", "-t", topic_name).stdout
    address = broker.bootstrap_servers
    assert out.splitlines() == [
        f"Metadata for {topic_name} (from broker 1: {address}/1):",
        " 1 brokers:",
        f"  broker 1 at {address} (controller)",
        " 1 topics:",
        f'  topic "{topic_name}" with 2 partitions:',
        "    partition 0, leader 1, replicas: 1, isrs: 1",
        "    partition 1, leader 1, replicas: 1, isrs: 1",
    ]
    # kcat's handle is a producer, whose own metadata requests allow auto-creation
    # (Kafka creates the topic in the background too, so whether -L lists it is a
    # race there); with that off the topic stays unknown.
    unknown = kcat(broker.bootstrap_servers, "-L", "-t", f"{topic_name}-nope", "-X", "allow.auto.create.topics=false").stdout
    assert unknown.splitlines() == [
        f"Metadata for {topic_name}-nope (from broker 1: {address}/1):",
        " 1 brokers:",
        f"  broker 1 at {address} (controller)",
        " 1 topics:",
        f'  topic "{topic_name}-nope" with 0 partitions: Broker: Unknown topic or partition',
    ]


def test_produce_each_compression_consume_and_query_offsets(broker: BrokerProcess, topic_name: str) -> None:
    bootstrap = broker.bootstrap_servers
    create_topic(bootstrap, topic_name, 2)
    before = int(time.time() * 1000)
    for compression in COMPRESSION_TYPES:
        kcat(bootstrap, "-P", "-t", topic_name, "-p", "0", "-K:", "-z", compression, "-H", "h1=x", "-H", "h2=y",
             input=f"k1:v1-{compression}\nk2:v2-{compression}\n")
        time.sleep(0.005)  # a later timestamp for the next run's records
    kcat(bootstrap, "-P", "-t", topic_name, "-p", "1", "-K:", input="only:one\n")
    after = int(time.time() * 1000)

    consumed = kcat(bootstrap, "-C", "-t", topic_name, "-p", "0", "-o", "beginning", "-e", "-f", "%k %s %h %o %T %p\n")
    assert f"Reached end of topic {topic_name} [0] at offset 10: exiting" in consumed.stderr
    rows = [line.split(" ") for line in consumed.stdout.splitlines()]
    expected = [[f"k{i % 2 + 1}", f"v{i % 2 + 1}-{c}", "h1=x,h2=y", str(i), "0"]
                for i, c in enumerate(c for c in COMPRESSION_TYPES for _ in range(2))]
    assert [row[:4] + row[5:] for row in rows] == expected
    timestamps = [int(row[4]) for row in rows]
    assert before <= timestamps[0] and timestamps[-1] <= after
    assert timestamps == sorted(timestamps)

    # Offsets for times: the first offset whose timestamp is at or after it.
    t_gzip = timestamps[2]
    first_gzip = timestamps.index(t_gzip)
    queried = kcat(bootstrap, "-Q", "-t", f"{topic_name}:0:{t_gzip}", "-t", f"{topic_name}:1:0").stdout
    assert sorted(queried.splitlines()) == [f"{topic_name} [0] offset {first_gzip}", f"{topic_name} [1] offset 0"]
    later = kcat(bootstrap, "-Q", "-t", f"{topic_name}:0:{after + 60_000}").stdout
    assert later.splitlines() == [f"{topic_name} [0] offset -1"]

    # Both partitions, read to their ends, from an offset relative to the end.
    tail = kcat(bootstrap, "-C", "-t", topic_name, "-o", "-1", "-e", "-f", "%p:%o:%k:%s\n").stdout
    assert sorted(tail.splitlines()) == ["0:9:k2:v2-zstd", "1:0:only:one"]


def test_null_values_keys_and_consume_formats(broker: BrokerProcess, topic_name: str) -> None:
    bootstrap = broker.bootstrap_servers
    create_topic(bootstrap, topic_name, 1)
    # -Z sends empty values as NULL (tombstones); a line without the delimiter has no key.
    kcat(bootstrap, "-P", "-t", topic_name, "-K:", "-Z", "-z", "lz4", input="gone:\nnokey\n:empty-key\n")
    out = kcat(bootstrap, "-C", "-t", topic_name, "-o", "beginning", "-e", "-Z",
               "-f", "[%k] [%s] key=%K value=%S %o\n").stdout
    assert out.splitlines() == [
        "[gone] [NULL] key=4 value=-1 0",
        "[NULL] [nokey] key=-1 value=5 1",
        "[NULL] [empty-key] key=-1 value=9 2",
    ]
