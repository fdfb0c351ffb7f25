"""read_committed through real clients: Fetch and ListOffsets under transactions.

Transactional data comes from confluent-kafka's transactional producer
through the broker's own transaction coordinator (its markers land in the
partitions). Consumers with isolation.level=read_committed (confluent-kafka,
kafka-python, aiokafka) see committed transactions and plain records, never
an aborted transaction's records, and stop at the last stable offset while
a transaction is open; read_uncommitted consumers see everything. Raw
Fetch/ListOffsets requests check the fields behind that: the
last_stable_offset, the aborted_transactions list (read_committed only) and
ListOffsets per isolation level (LATEST is the LSO for read_committed, and
a lookup by timestamp that lands at or past it answers offset -1, as
Kafka's ReplicaManager does).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from confluent_kafka import Producer

from kwire_protocol import messages
from kwire_protocol.messages import ApiKey
from kwire_protocol.records.batch import split_batches

from kwire.testing import BrokerProcess

from tests.broker.clients import consume, create_topic
from tests.broker.wire import WireClient

READ_UNCOMMITTED, READ_COMMITTED = 0, 1
MAX_TIMESTAMP = -3
FetchRequest = messages.FetchRequest
FetchTopic = FetchRequest.cls.FetchTopic
FetchPartition = FetchTopic.FetchPartition
ListOffsetsRequest = messages.ListOffsetsRequest
ListOffsetsTopic = ListOffsetsRequest.cls.ListOffsetsTopic
ListOffsetsPartition = ListOffsetsTopic.ListOffsetsPartition


class Producers:
    """A transactional and a plain confluent-kafka producer on one topic."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self.txn = Producer({"bootstrap.servers": bootstrap, "transactional.id": f"{topic}-tx", "linger.ms": 0})
        self.txn.init_transactions(30)
        self.plain = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})

    def transaction(self, *values: bytes, commit: bool | None, timestamp: int = 0) -> None:
        """Produce `values` in a transaction; commit, abort, or (None) leave it open."""
        self.txn.begin_transaction()
        for value in values:
            self.txn.produce(self.topic, value, partition=0, timestamp=timestamp)
        self.txn.flush(30)
        if commit is True:
            self.txn.commit_transaction(30)
        elif commit is False:
            self.txn.abort_transaction(30)

    def close(self) -> None:
        for producer in (self.txn, self.plain):
            producer.flush(30)
            producer.close()

    def send_plain(self, *values: bytes, timestamp: int = 0) -> None:
        for value in values:
            self.plain.produce(self.topic, value, partition=0, timestamp=timestamp)
        assert self.plain.flush(30) == 0


@pytest.fixture
def producers(broker: BrokerProcess, topic_name: str) -> Iterator[Producers]:
    create_topic(broker.bootstrap_servers, topic_name)
    both = Producers(broker.bootstrap_servers, topic_name)
    yield both
    both.close()


def values(records: list[Any]) -> list[bytes]:
    return [r.value for r in records]


def fetch(port: int, topic: str, offset: int, isolation: int, version: int = 12) -> Any:
    with WireClient.connect(port) as wire:
        body = wire.call(ApiKey.FETCH, version, FetchRequest(
            replica_id=-1, max_wait_ms=0, min_bytes=0, max_bytes=1 << 20, isolation_level=isolation, session_id=0,
            session_epoch=-1, topics=[FetchTopic(topic=topic, partitions=[FetchPartition(
                partition=0, current_leader_epoch=-1, fetch_offset=offset, log_start_offset=-1, partition_max_bytes=1 << 20)])],
            forgotten_topics_data=[], rack_id=""))
    [partition] = body.responses[0].partitions
    return partition


def latest(port: int, topic: str, isolation: int, timestamp: int = -1, partition: int = 0) -> int:
    """ListOffsets v7: LATEST (-1), MAX_TIMESTAMP (-3) or the first offset at or after a timestamp."""
    with WireClient.connect(port) as wire:
        body = wire.call(ApiKey.LIST_OFFSETS, 7, ListOffsetsRequest(replica_id=-1, isolation_level=isolation, topics=[
            ListOffsetsTopic(name=topic, partitions=[
                ListOffsetsPartition(partition_index=partition, current_leader_epoch=-1, timestamp=timestamp)])]))
    [partition] = body.topics[0].partitions
    assert partition.error_code == 0
    return int(partition.offset)


@pytest.mark.parametrize("client", ["confluent", "kafka-python", "aiokafka"])
def test_read_committed_never_sees_aborted_records(broker: BrokerProcess, producers: Producers, client: str) -> None:
    producers.transaction(b"c0", b"c1", commit=True)
    producers.transaction(b"a0", b"a1", commit=False)
    producers.send_plain(b"p0")
    producers.transaction(b"c2", commit=True)
    committed_config = {"isolation.level": "read_committed"} if client == "confluent" else {"isolation_level": "read_committed"}
    # c2 is the last record: a consumer that got aborted records would have them among its first four.
    committed = consume(client, broker.bootstrap_servers, producers.topic, count=4, **committed_config)
    assert values(committed) == [b"c0", b"c1", b"p0", b"c2"]
    uncommitted_config = {"isolation.level": "read_uncommitted"} if client == "confluent" else {}  # librdkafka's default is read_committed
    everything = consume(client, broker.bootstrap_servers, producers.topic, count=6, **uncommitted_config)
    assert values(everything) == [b"c0", b"c1", b"a0", b"a1", b"p0", b"c2"]
    # Offsets: c0 c1 commit-marker a0 a1 abort-marker p0 c2 commit-marker.
    assert [r.offset for r in committed] == [0, 1, 6, 7]


def test_fetch_answers_lso_and_aborted_transactions(broker: BrokerProcess, producers: Producers) -> None:
    producers.transaction(b"c0", commit=True)            # 0, marker 1
    producers.transaction(b"a0", b"a1", commit=False)    # 2-3, marker 4
    producers.send_plain(b"p0")                          # 5
    committed = fetch(broker.port, producers.topic, 0, READ_COMMITTED)
    batches = list(split_batches(committed.records))
    producer_id = batches[0].producer_id
    assert (committed.error_code, committed.high_watermark, committed.last_stable_offset) == (0, 6, 6)
    assert [(t.producer_id, t.first_offset) for t in committed.aborted_transactions] == [(producer_id, 2)]
    assert [(b.base_offset, b.is_control) for b in batches] == [(0, False), (1, True), (2, False), (4, True), (5, False)]
    # From inside the aborted transaction: still listed (its marker is ahead); after the marker: not.
    assert [t.first_offset for t in fetch(broker.port, producers.topic, 3, READ_COMMITTED).aborted_transactions] == [2]
    assert fetch(broker.port, producers.topic, 5, READ_COMMITTED).aborted_transactions == []
    uncommitted = fetch(broker.port, producers.topic, 0, READ_UNCOMMITTED)
    assert uncommitted.aborted_transactions is None
    assert uncommitted.last_stable_offset == 6
    assert fetch(broker.port, producers.topic, 0, READ_COMMITTED, version=4).aborted_transactions == [
        messages.FetchResponse.cls.FetchableTopicResponse.PartitionData.AbortedTransaction(producer_id=producer_id, first_offset=2)]


@pytest.mark.parametrize("client", ["confluent", "kafka-python"])
def test_consumer_stops_at_the_lso_while_a_transaction_is_open(broker: BrokerProcess, producers: Producers, client: str) -> None:
    start = int(time.time() * 1000) - 60_000
    producers.send_plain(b"p0", timestamp=start)                    # 0
    producers.transaction(b"o0", commit=None, timestamp=start + 10)  # 1, open
    producers.send_plain(b"p1", timestamp=start + 20)               # 2
    isolation = {"isolation.level": "read_committed"} if client == "confluent" else {"isolation_level": "read_committed"}
    assert values(consume(client, broker.bootstrap_servers, producers.topic, count=3, timeout=3, **isolation)) == [b"p0"]
    uncommitted = {"isolation.level": "read_uncommitted"} if client == "confluent" else {}  # librdkafka's default is read_committed
    assert values(consume(client, broker.bootstrap_servers, producers.topic, count=3, **uncommitted)) == [b"p0", b"o0", b"p1"]
    assert latest(broker.port, producers.topic, READ_COMMITTED) == 1
    assert latest(broker.port, producers.topic, READ_UNCOMMITTED) == 3
    # By timestamp: an answer at or past the LSO is not given to read_committed (offset -1).
    assert [latest(broker.port, producers.topic, READ_COMMITTED, t) for t in (start, start + 5, MAX_TIMESTAMP)] == [0, -1, -1]
    assert [latest(broker.port, producers.topic, READ_UNCOMMITTED, t) for t in (start, start + 5, MAX_TIMESTAMP)] == [0, 1, 2]
    partition = fetch(broker.port, producers.topic, 0, READ_COMMITTED)
    assert (partition.high_watermark, partition.last_stable_offset) == (3, 1)
    assert [b.base_offset for b in split_batches(partition.records)] == [0]
    producers.txn.commit_transaction(30)                 # marker at 3
    assert values(consume(client, broker.bootstrap_servers, producers.topic, count=3, **isolation)) == [b"p0", b"o0", b"p1"]
    assert latest(broker.port, producers.topic, READ_COMMITTED) == 4
    assert latest(broker.port, producers.topic, READ_COMMITTED, start + 5) == 1


def test_transactions_survive_sigkill(broker_factory: Callable[..., BrokerProcess], topic_name: str) -> None:
    """After SIGKILL and restart the partition still knows the open transaction (LSO at its first
    offset) and the aborted one (rebuilt .txnindex); the producer then commits through the restarted broker."""
    broker = broker_factory()
    create_topic(broker.bootstrap_servers, topic_name)
    producers = Producers(broker.bootstrap_servers, topic_name)
    try:
        producers.transaction(b"c0", commit=True)      # 0, marker 1
        producers.transaction(b"a0", commit=False)     # 2, marker 3
        producers.transaction(b"o0", commit=None)      # 4, open
        producers.send_plain(b"p0")                    # 5
        broker.kill()
        broker.restart()
        assert latest(broker.port, topic_name, READ_COMMITTED) == 4
        partition = fetch(broker.port, topic_name, 0, READ_COMMITTED)
        assert (partition.high_watermark, partition.last_stable_offset) == (6, 4)
        assert [t.first_offset for t in partition.aborted_transactions] == [2]
        producers.txn.commit_transaction(30)
        got = consume("confluent", broker.bootstrap_servers, topic_name, count=3, **{"isolation.level": "read_committed"})
        assert values(got) == [b"c0", b"o0", b"p0"]
    finally:
        producers.close()
