"""DescribeProducers (api 61): the producer state of partitions, as Kafka 4.4 answers.

An idempotent producer (confluent-kafka) writes one partition, a
transactional one commits a transaction on another and leaves a second one
open; the raw answer lists each producer's epoch, last sequence,
coordinator epoch and open transaction's first offset, and the errors for a
partition the topic lacks, an unknown topic and invalid names. Every field
compared here was checked against Apache Kafka 4.4 running the same
scenario (compat_tests.reference_kafka). kafka-transactions.sh
describe-producers prints the same state, and kafka-transactions.sh abort
uses it to end a hanging transaction (with WriteTxnMarkers).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka import Producer

from kwire_protocol import messages
from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.messages import ApiKey

from kwire.testing import BrokerProcess

from tests.broker.clients import create_topic
from tests.broker.wire import WireClient

Request = messages.DescribeProducersRequest
TopicRequest = Request.cls.TopicRequest
UNKNOWN_TOPIC_MESSAGE = "This server does not host this topic-partition."


@pytest.fixture
def producers(broker: BrokerProcess, topic_name: str) -> Iterator[Producer]:
    """Partition 0: three idempotent records; partition 1: a committed transaction, then an open one of two records."""
    bootstrap = broker.bootstrap_servers
    create_topic(bootstrap, topic_name, partitions=3)
    idempotent = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 0})
    for _ in range(3):
        idempotent.produce(topic_name, b"x", partition=0)
    assert idempotent.flush(30) == 0
    transactional = Producer({"bootstrap.servers": bootstrap, "transactional.id": f"{topic_name}-tx", "linger.ms": 0})
    transactional.init_transactions(30)
    transactional.begin_transaction()
    transactional.produce(topic_name, b"c", partition=1)
    transactional.commit_transaction(30)
    transactional.begin_transaction()
    transactional.produce(topic_name, b"o", partition=1)
    transactional.produce(topic_name, b"o", partition=1)
    transactional.flush(30)
    yield transactional
    transactional.abort_transaction(30)
    for producer in (idempotent, transactional):
        producer.close()


def describe(port: int, topics: list[tuple[str, list[int]]]) -> list[tuple[Any, ...]]:
    with WireClient.connect(port) as wire:
        body = wire.call(ApiKey.DESCRIBE_PRODUCERS, 0, Request(topics=[TopicRequest(name=n, partition_indexes=p) for n, p in topics]))
    assert body.throttle_time_ms == 0
    return [(topic.name, p.partition_index, p.error_code, p.error_message, p.active_producers)
            for topic in body.topics for p in topic.partitions]


def test_describe_producers_answers_as_kafka(broker: BrokerProcess, topic_name: str, producers: Producer) -> None:
    answer = describe(broker.port, [(topic_name, [0, 1, 2, 7]), ("no-such-topic", [0, 3]), ("bad name!", [0]), ("", [1])])
    states = {index: producers_of for name, index, _, _, producers_of in answer if name == topic_name}
    assert [(s.producer_epoch, s.last_sequence, s.coordinator_epoch, s.current_txn_start_offset) for s in states[0]] == [(0, 2, -1, -1)]
    # Offsets of partition 1: committed record 0, its marker 1, the open transaction from 2.
    assert [(s.producer_epoch, s.last_sequence, s.coordinator_epoch, s.current_txn_start_offset) for s in states[1]] == [(0, 2, 0, 2)]
    assert states[2] == []
    assert all(s.last_timestamp > 0 and s.producer_id >= 0 for s in states[0] + states[1])
    assert [row[:4] for row in answer] == [
        (topic_name, 0, ErrorCode.NONE, None),
        (topic_name, 1, ErrorCode.NONE, None),
        (topic_name, 2, ErrorCode.NONE, None),
        (topic_name, 7, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, None),
        ("no-such-topic", 0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, UNKNOWN_TOPIC_MESSAGE),
        ("no-such-topic", 3, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, UNKNOWN_TOPIC_MESSAGE),
        ("bad name!", 0, ErrorCode.INVALID_TOPIC_EXCEPTION,
         "Topic name is invalid: 'bad name!' contains one or more characters other than ASCII alphanumerics, '.', '_' and '-'"),
        ("", 1, ErrorCode.INVALID_TOPIC_EXCEPTION, "Topic name is invalid: the empty string is not allowed"),
    ]


def test_kafka_transactions_cli_describe_producers(broker: BrokerProcess, topic_name: str, producers: Producer) -> None:
    from tests.broker.test_kafka_cli import MISSING, tool

    if MISSING is not None:
        pytest.skip(f"Kafka's tools cannot run: {MISSING}")
    [(_, _, _, _, [state])] = describe(broker.port, [(topic_name, [1])])
    out = tool("org.apache.kafka.tools.TransactionsCommand",
               ["--bootstrap-server", broker.bootstrap_servers, "describe-producers", "--topic", topic_name, "--partition", "1"]).stdout
    rows = [[cell.strip() for cell in line.rstrip("\t").split("\t")] for line in out.strip().split("\n")]
    assert rows == [
        ["ProducerId", "ProducerEpoch", "LatestCoordinatorEpoch", "LastSequence", "LastTimestamp", "CurrentTransactionStartOffset"],
        [str(state.producer_id), "0", "0", "2", str(state.last_timestamp), "2"],
    ]


def test_kafka_transactions_cli_abort_ends_a_hanging_transaction(broker: BrokerProcess, topic_name: str, producers: Producer) -> None:
    """`kafka-transactions.sh abort` finds the producer with DescribeProducers and writes the abort
    marker with WriteTxnMarkers: the partition's open transaction ends and its LSO reaches the end."""
    from tests.broker.test_kafka_cli import MISSING, tool
    from tests.broker.test_read_committed import READ_COMMITTED, latest

    if MISSING is not None:
        pytest.skip(f"Kafka's tools cannot run: {MISSING}")
    assert latest(broker.port, topic_name, READ_COMMITTED, partition=1) == 2
    tool("org.apache.kafka.tools.TransactionsCommand", ["--bootstrap-server", broker.bootstrap_servers, "abort",
                                                        "--topic", topic_name, "--partition", "1", "--start-offset", "2"])
    [(_, _, error, _, [state])] = describe(broker.port, [(topic_name, [1])])
    assert (error, state.current_txn_start_offset, state.coordinator_epoch) == (ErrorCode.NONE, -1, 0)
    assert latest(broker.port, topic_name, READ_COMMITTED, partition=1) == 5  # the open records at 2-3, the abort marker at 4
