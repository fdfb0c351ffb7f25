"""Transactions (KIP-98, KIP-890) through real clients against `kwire serve`.

Expected answers are Apache Kafka 4.4's (compat_tests.reference_kafka,
compared by hand: DescribeTransactions/ListTransactions fields, the epoch
after a fence, kafka-transactions.sh output). read_committed reads are
bounded by a committed sentinel: an aborted record that showed up would
take its place in the expected list.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from typing import Any

import confluent_kafka
import kafka
import pytest
from aiokafka import AIOKafkaProducer

from kwire_protocol import messages
from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.messages import ApiKey
from kwire_protocol.records.builder import build_batch
from kwire_protocol.records.record import NewRecord

from kwire.testing import BrokerProcess, wait_until
from tests.broker.clients import consume_partitions, create_topic
from tests.broker.wire import WireClient

BrokerFactory = Callable[..., BrokerProcess]
TRANSACTION_KEY = 1


def values(records: list[Any]) -> list[bytes]:
    return sorted(r.value for r in records)


def confluent_producer(bootstrap: str, transactional_id: str, **config: Any) -> confluent_kafka.Producer:
    return confluent_kafka.Producer({"bootstrap.servers": bootstrap, "transactional.id": transactional_id, "linger.ms": 5, **config})


def find_transaction_coordinator(wire: WireClient, transactional_id: str) -> Any:
    return wire.call(ApiKey.FIND_COORDINATOR, 3, messages.FindCoordinatorRequest(key=transactional_id, key_type=TRANSACTION_KEY))


def describe(port: int, transactional_id: str) -> Any:
    with WireClient.connect(port) as wire:
        [state] = wire.call(ApiKey.DESCRIBE_TRANSACTIONS, 0,
                            messages.DescribeTransactionsRequest(transactional_ids=[transactional_id])).transaction_states
    return state


def init_producer_id(wire: WireClient, version: int, transactional_id: str | None, timeout_ms: int = 60000,
                     producer_id: int = -1, producer_epoch: int = -1) -> Any:
    return wire.call(ApiKey.INIT_PRODUCER_ID, version, messages.InitProducerIdRequest(
        transactional_id=transactional_id, transaction_timeout_ms=timeout_ms, producer_id=producer_id, producer_epoch=producer_epoch))


def produce_transactional(wire: WireClient, version: int, transactional_id: str, topic: str, partition: int, producer_id: int,
                          epoch: int, sequence: int, value: bytes) -> int:
    batch = build_batch([NewRecord(None, value)], producer_id=producer_id, producer_epoch=epoch, base_sequence=sequence, is_transactional=True)
    Request = messages.ProduceRequest
    data = Request.cls.TopicProduceData(name=topic, partition_data=[Request.cls.TopicProduceData.PartitionProduceData(index=partition, records=batch)])
    answer = wire.call(ApiKey.PRODUCE, version, Request(transactional_id=transactional_id, acks=-1, timeout_ms=10000, topic_data=[data]))
    return answer.responses[0].partition_responses[0].error_code


def test_confluent_commit_visible_to_read_committed_abort_not(broker: BrokerProcess, topic_name: str) -> None:
    bootstrap = broker.bootstrap_servers
    create_topic(bootstrap, topic_name, partitions=3)
    producer = confluent_producer(bootstrap, f"{topic_name}-tx")
    producer.init_transactions(30)
    for kind, commit in (("c", True), ("a", False), ("end", True)):
        producer.begin_transaction()
        for i in range(6 if kind != "end" else 3):
            producer.produce(topic_name, value=f"{kind}{i}".encode(), partition=i % 3)
        producer.flush(30)  # so the aborted records are in the log, not dropped by the client
        producer.commit_transaction(30) if commit else producer.abort_transaction(30)
    committed = [f"c{i}".encode() for i in range(6)] + [f"end{i}".encode() for i in range(3)]
    for client, isolation in (("confluent", {"isolation.level": "read_committed"}), ("kafka-python", {"isolation_level": "read_committed"}),
                              ("aiokafka", {"isolation_level": "read_committed"})):
        assert values(consume_partitions(client, bootstrap, topic_name, [0, 1, 2], count=9, **isolation)) == sorted(committed), client
    uncommitted = consume_partitions("kafka-python", bootstrap, topic_name, [0, 1, 2], count=15, isolation_level="read_uncommitted")
    assert values(uncommitted) == sorted(committed + [f"a{i}".encode() for i in range(6)])
    # Each partition: 2 committed records, a commit marker, 2 aborted, an abort marker, the sentinel.
    assert sorted(r.offset for r in uncommitted if r.partition == 0) == [0, 1, 3, 4, 6]
    state = describe(broker.port, f"{topic_name}-tx")
    assert (state.error_code, state.transaction_state, state.topics) == (ErrorCode.NONE, "CompleteCommit", [])


def test_kafka_python_and_aiokafka_transactional_producers(broker: BrokerProcess, topic_name: str) -> None:
    bootstrap = broker.bootstrap_servers
    create_topic(bootstrap, topic_name, partitions=2)
    producer = kafka.KafkaProducer(bootstrap_servers=bootstrap, transactional_id=f"{topic_name}-kp")
    producer.init_transactions()
    producer.begin_transaction()
    for i in range(4):
        producer.send(topic_name, value=f"kp{i}".encode(), partition=i % 2)
    producer.commit_transaction()
    producer.begin_transaction()
    producer.send(topic_name, value=b"kp-aborted", partition=0)
    producer.flush()
    producer.abort_transaction()
    producer.close()

    async def aiokafka_transactions() -> None:
        # aiokafka speaks InitProducerId v0/v1 and EndTxn v0/v1.
        aio = AIOKafkaProducer(bootstrap_servers=bootstrap, transactional_id=f"{topic_name}-aio")
        await aio.start()
        try:
            async with aio.transaction():
                for i in range(4):
                    await aio.send_and_wait(topic_name, value=f"aio{i}".encode(), partition=i % 2)
            await aio.begin_transaction()
            await aio.send_and_wait(topic_name, value=b"aio-aborted", partition=1)
            await aio.abort_transaction()
            async with aio.transaction():
                await aio.send_and_wait(topic_name, value=b"end", partition=1)
        finally:
            await aio.stop()

    asyncio.run(aiokafka_transactions())
    expected = sorted([f"kp{i}".encode() for i in range(4)] + [f"aio{i}".encode() for i in range(4)] + [b"end"])
    got = consume_partitions("confluent", bootstrap, topic_name, [0, 1], count=9, **{"isolation.level": "read_committed"})
    assert values(got) == expected


def test_zombie_producer_is_fenced(broker: BrokerProcess, topic_name: str) -> None:
    bootstrap = broker.bootstrap_servers
    create_topic(bootstrap, topic_name, partitions=1)
    transactional_id = f"{topic_name}-tx"
    zombie = confluent_producer(bootstrap, transactional_id)
    zombie.init_transactions(30)
    zombie.begin_transaction()
    zombie.produce(topic_name, value=b"zombie", partition=0)
    zombie.flush(30)
    before = describe(broker.port, transactional_id)
    assert (before.transaction_state, [(t.topic, t.partitions) for t in before.topics]) == ("Ongoing", [(topic_name, [0])])

    # The new instance's InitProducerId aborts the zombie's transaction and bumps the epoch.
    successor = confluent_producer(bootstrap, transactional_id)
    successor.init_transactions(30)
    after = describe(broker.port, transactional_id)
    assert after.producer_id == before.producer_id and after.producer_epoch == before.producer_epoch + 2
    # The zombie's late write with its old epoch is refused by the partition's producer checks.
    with WireClient.connect(broker.port) as wire:
        assert produce_transactional(wire, 9, transactional_id, topic_name, 0, before.producer_id, before.producer_epoch, 1,
                                     b"late") == ErrorCode.INVALID_PRODUCER_EPOCH
    zombie.produce(topic_name, value=b"zombie-2", partition=0)
    with pytest.raises(confluent_kafka.KafkaException) as fenced:
        zombie.commit_transaction(30)
    assert fenced.value.args[0].fatal() or fenced.value.args[0].code() in (
        confluent_kafka.KafkaError._FENCED, confluent_kafka.KafkaError.PRODUCER_FENCED, confluent_kafka.KafkaError.INVALID_PRODUCER_EPOCH)

    successor.begin_transaction()
    successor.produce(topic_name, value=b"successor", partition=0)
    successor.commit_transaction(30)
    got = consume_partitions("kafka-python", bootstrap, topic_name, [0], count=1, isolation_level="read_committed")
    assert values(got) == [b"successor"]
    uncommitted = consume_partitions("kafka-python", bootstrap, topic_name, [0], count=2, isolation_level="read_uncommitted")
    assert values(uncommitted) == [b"successor", b"zombie"]


def test_transaction_older_than_its_timeout_is_aborted(broker_factory: BrokerFactory, topic_name: str) -> None:
    broker = broker_factory({"transaction.abort.timed.out.transaction.cleanup.interval.ms": "100"})
    bootstrap = broker.bootstrap_servers
    create_topic(bootstrap, topic_name, partitions=1)
    transactional_id = f"{topic_name}-tx"
    slow = confluent_producer(bootstrap, transactional_id, **{"transaction.timeout.ms": 1000, "message.timeout.ms": 1000})
    slow.init_transactions(30)
    slow.begin_transaction()
    slow.produce(topic_name, value=b"timed-out", partition=0)
    slow.flush(30)
    epoch = describe(broker.port, transactional_id).producer_epoch
    aborted = wait_until(lambda: describe(broker.port, transactional_id).transaction_state == "CompleteAbort", timeout=20)
    assert aborted
    assert describe(broker.port, transactional_id).producer_epoch == epoch + 1  # fenced
    with pytest.raises(confluent_kafka.KafkaException):
        slow.commit_transaction(30)
    other = confluent_producer(bootstrap, f"{topic_name}-other")
    other.init_transactions(30)
    other.begin_transaction()
    other.produce(topic_name, value=b"end", partition=0)
    other.commit_transaction(30)
    assert values(consume_partitions("kafka-python", bootstrap, topic_name, [0], count=1, isolation_level="read_committed")) == [b"end"]


def test_init_producer_id_with_a_transactional_id(broker: BrokerProcess) -> None:
    with WireClient.connect(broker.port) as wire:
        found = find_transaction_coordinator(wire, "ipi-tx")
        assert (found.error_code, found.node_id) == (ErrorCode.NONE, 1)
        # v0/v1 (aiokafka, kafkajs): each call bumps the epoch of the same producer id.
        first = init_producer_id(wire, 0, "ipi-tx")
        second = init_producer_id(wire, 1, "ipi-tx")
        assert (first.error_code, first.producer_epoch, second.error_code, second.producer_epoch) == (0, 0, 0, 1)
        assert second.producer_id == first.producer_id
        # v3+ (KIP-360): the current id and epoch bump it; a stale epoch is fenced.
        bumped = init_producer_id(wire, 3, "ipi-tx", producer_id=first.producer_id, producer_epoch=1)
        assert (bumped.error_code, bumped.producer_id, bumped.producer_epoch) == (0, first.producer_id, 2)
        assert init_producer_id(wire, 3, "ipi-tx", producer_id=first.producer_id, producer_epoch=0).error_code == ErrorCode.INVALID_PRODUCER_EPOCH
        assert init_producer_id(wire, 4, "ipi-tx", producer_id=first.producer_id, producer_epoch=0).error_code == ErrorCode.PRODUCER_FENCED
        assert init_producer_id(wire, 4, "ipi-tx", producer_id=first.producer_id).error_code == ErrorCode.INVALID_REQUEST
        assert init_producer_id(wire, 5, "ipi-tx", timeout_ms=900001).error_code == ErrorCode.INVALID_TRANSACTION_TIMEOUT
        assert init_producer_id(wire, 5, "").error_code == ErrorCode.INVALID_REQUEST
        # EndTxn/AddPartitionsToTxn of an unknown id: INVALID_PRODUCER_ID_MAPPING.
        end = wire.call(ApiKey.END_TXN, 3, messages.EndTxnRequest(transactional_id="nobody", producer_id=5, producer_epoch=0, committed=True))
        assert end.error_code == ErrorCode.INVALID_PRODUCER_ID_MAPPING
        state = wire.call(ApiKey.DESCRIBE_TRANSACTIONS, 0, messages.DescribeTransactionsRequest(transactional_ids=["ipi-tx", "nobody", ""]))
    assert [(s.transactional_id, s.error_code) for s in state.transaction_states] == [
        ("ipi-tx", 0), ("nobody", ErrorCode.TRANSACTIONAL_ID_NOT_FOUND), ("", ErrorCode.INVALID_REQUEST)]
    empty = state.transaction_states[0]
    assert (empty.transaction_state, empty.producer_epoch, empty.transaction_start_time_ms, empty.topics) == ("Empty", 2, -1, [])


def test_transactions_v2_bump_the_epoch_and_fence_a_late_write(broker: BrokerProcess, topic_name: str) -> None:
    """KIP-890 part 2 over the wire, as a Java 4.x producer does it: no
    AddPartitionsToTxn (Produce v12+ adds the partition), EndTxn v5 answers
    the next epoch, and a write of the finished transaction is fenced."""
    create_topic(broker.bootstrap_servers, topic_name, partitions=1)
    tid = f"{topic_name}-tx"
    with WireClient.connect(broker.port) as wire:
        find_transaction_coordinator(wire, tid)
        init = init_producer_id(wire, 5, tid)
        pid, epoch = init.producer_id, init.producer_epoch
        assert produce_transactional(wire, 12, tid, topic_name, 0, pid, epoch, 0, b"first") == ErrorCode.NONE
        assert describe(broker.port, tid).transaction_state == "Ongoing"
        end = wire.call(ApiKey.END_TXN, 5, messages.EndTxnRequest(transactional_id=tid, producer_id=pid, producer_epoch=epoch, committed=True))
        assert (end.error_code, end.producer_id, end.producer_epoch) == (ErrorCode.NONE, pid, epoch + 1)
        # A late write of the committed transaction (old epoch) cannot join the next one.
        assert produce_transactional(wire, 12, tid, topic_name, 0, pid, epoch, 1, b"late") == ErrorCode.INVALID_PRODUCER_EPOCH
        # The next transaction runs at the bumped epoch, from sequence 0.
        assert produce_transactional(wire, 12, tid, topic_name, 0, pid, epoch + 1, 0, b"second") == ErrorCode.NONE
        end = wire.call(ApiKey.END_TXN, 5, messages.EndTxnRequest(transactional_id=tid, producer_id=pid, producer_epoch=epoch + 1, committed=False))
        assert (end.error_code, end.producer_epoch) == (ErrorCode.NONE, epoch + 2)
        # A produce v11 (transactions v1) outside any transaction is refused by verification.
        assert produce_transactional(wire, 11, tid, topic_name, 0, pid, epoch + 2, 0, b"unverified") == ErrorCode.TRANSACTION_ABORTABLE
        assert produce_transactional(wire, 9, tid, topic_name, 0, pid, epoch + 2, 0, b"unverified") == ErrorCode.INVALID_TXN_STATE
    got = consume_partitions("kafka-python", broker.bootstrap_servers, topic_name, [0], count=2, isolation_level="read_uncommitted")
    assert values(got) == [b"first", b"second"]
    assert values(consume_partitions("kafka-python", broker.bootstrap_servers, topic_name, [0], count=1,
                                     isolation_level="read_committed")) == [b"first"]


def test_list_transactions_filters(broker: BrokerProcess, topic_name: str) -> None:
    create_topic(broker.bootstrap_servers, topic_name, partitions=1)
    producer = confluent_producer(broker.bootstrap_servers, f"{topic_name}-open")
    producer.init_transactions(30)
    producer.begin_transaction()
    producer.produce(topic_name, value=b"x", partition=0)
    producer.flush(30)
    with WireClient.connect(broker.port) as wire:
        def listed(version: int, **filters: Any) -> tuple[list[str], list[tuple[str, str]]]:
            answer = wire.call(ApiKey.LIST_TRANSACTIONS, version, messages.ListTransactionsRequest(**filters))
            assert answer.error_code == ErrorCode.NONE
            ours = [(t.transactional_id, t.transaction_state) for t in answer.transaction_states if t.transactional_id.startswith(topic_name)]
            return answer.unknown_state_filters, ours

        assert listed(0, state_filters=["Ongoing", "Bogus"]) == (["Bogus"], [(f"{topic_name}-open", "Ongoing")])
        assert listed(0, state_filters=["CompleteAbort"]) == ([], [])
        assert listed(2, transactional_id_pattern=f"{topic_name}-o.*")[1] == [(f"{topic_name}-open", "Ongoing")]
        assert listed(2, transactional_id_pattern="nothing-.*")[1] == []
        assert listed(1, duration_filter=3_600_000)[1] == []  # not running for an hour
        assert listed(1, duration_filter=-1)[1] == [(f"{topic_name}-open", "Ongoing")]
    producer.abort_transaction(30)


def test_kafka_transactions_cli_list_and_describe(broker: BrokerProcess, topic_name: str) -> None:
    """kafka-transactions.sh (Kafka's TransactionsCommand) as against Kafka 4.4:
    list shows id, coordinator, producer id and state; describe adds the
    epoch, timeout, start time and the partitions of the open transaction."""
    from tests.broker.test_kafka_cli import tool

    bootstrap = broker.bootstrap_servers
    create_topic(bootstrap, topic_name, partitions=2)
    tid = f"{topic_name}-tx"
    producer = confluent_producer(bootstrap, tid)
    producer.init_transactions(30)
    producer.begin_transaction()
    producer.produce(topic_name, value=b"x", partition=0)
    producer.produce(topic_name, value=b"y", partition=1)
    producer.flush(30)
    state = describe(broker.port, tid)

    def table(args: list[str]) -> list[list[str]]:
        out = tool("org.apache.kafka.tools.TransactionsCommand", ["--bootstrap-server", bootstrap, *args]).stdout
        return [[cell.strip() for cell in line.rstrip("\t").split("\t")] for line in out.strip().split("\n")]

    listed = table(["list"])
    assert listed[0] == ["TransactionalId", "Coordinator", "ProducerId", "TransactionState"]
    assert [tid, "1", str(state.producer_id), "Ongoing"] in listed[1:]
    [header, row] = table(["describe", "--transactional-id", tid])
    assert header == ["CoordinatorId", "TransactionalId", "ProducerId", "ProducerEpoch", "TransactionState", "TransactionTimeoutMs",
                      "CurrentTransactionStartTimeMs", "TransactionDurationMs", "TopicPartitions"]
    assert row[:7] == ["1", tid, str(state.producer_id), str(state.producer_epoch), "Ongoing", "60000", str(state.transaction_start_time_ms)]
    assert int(row[7]) >= 0 and sorted(row[8].split(",")) == [f"{topic_name}-0", f"{topic_name}-1"]
    producer.commit_transaction(30)
    [_, row] = table(["describe", "--transactional-id", tid])
    assert row[4] == "CompleteCommit" and row[8:] in ([], [""])


def test_java_producer_uses_transactions_v2(broker: BrokerProcess, topic_name: str) -> None:
    """kafka-clients 4.4 sees transaction.version 2 finalized and runs
    transactions v2: no AddPartitionsToTxn (the partitions join on produce),
    EndTxn v5 bumping the epoch once per transaction. Offsets go through
    AddOffsetsToTxn and TxnOffsetCommit."""
    from tests.broker.test_java_clients import Driver, build_driver

    bootstrap = broker.bootstrap_servers
    create_topic(bootstrap, topic_name, partitions=2)
    tid = f"{topic_name}-java"
    group = f"{topic_name}-g"
    driver = Driver(build_driver(), bootstrap)

    def txn(name: str, commit: bool, **extra: Any) -> dict[str, Any]:
        records = [{"partition": i % 2, "value": base64.b64encode(f"{name}{i}".encode()).decode()} for i in range(4)]
        return {"records": records, "commit": commit, **extra}

    [written] = driver.ok({"op": "transactions", "topic": topic_name, "config": {"transactional.id": tid}, "transactions": [
        txn("one", True), txn("two", False), txn("three", True, group=group, offsets={"0": 7, "1": 9})]})
    assert [len(w) for w in written] == [4, 4, 4]
    state = describe(broker.port, tid)
    # InitProducerId gave epoch 0; each of the three EndTxn v5 bumped it.
    assert (state.transaction_state, state.producer_epoch) == ("CompleteCommit", 3)
    got = consume_partitions("confluent", bootstrap, topic_name, [0, 1], count=8, **{"isolation.level": "read_committed"})
    assert values(got) == sorted([f"one{i}".encode() for i in range(4)] + [f"three{i}".encode() for i in range(4)])
    # Markers are written with the bumped epochs: a write of the first transaction's epoch is fenced.
    with WireClient.connect(broker.port) as wire:
        assert produce_transactional(wire, 12, tid, topic_name, 0, state.producer_id, 0, 2, b"late") == ErrorCode.INVALID_PRODUCER_EPOCH
        fetched = wire.call(ApiKey.OFFSET_FETCH, 7, messages.OffsetFetchRequest(group_id=group, topics=None, require_stable=True))
    assert sorted((p.partition_index, p.committed_offset) for t in fetched.topics for p in t.partitions) == [(0, 7), (1, 9)]


def test_add_partitions_batched_verify_only_and_write_txn_markers(broker: BrokerProcess, topic_name: str) -> None:
    """The broker-to-broker forms: AddPartitionsToTxn v4+ (batched, verify_only)
    and WriteTxnMarkers, answered per partition as Kafka does."""
    create_topic(broker.bootstrap_servers, topic_name, partitions=2)
    tid = f"{topic_name}-tx"
    Request = messages.AddPartitionsToTxnRequest
    Topic = Request.cls.AddPartitionsToTxnTopic

    def add(wire: WireClient, version: int, *transactions: tuple[str, int, int, bool, dict[str, list[int]]]) -> dict[str, dict[tuple[str, int], int]]:
        body = Request(transactions=[Request.cls.AddPartitionsToTxnTransaction(
            transactional_id=t, producer_id=p, producer_epoch=e, verify_only=v, topics=[Topic(name=n, partitions=ps) for n, ps in topics.items()])
            for t, p, e, v, topics in transactions])
        answer = wire.call(ApiKey.ADD_PARTITIONS_TO_TXN, version, body)
        assert answer.error_code == ErrorCode.NONE
        return {r.transactional_id: {(t.name, p.partition_index): p.partition_error_code for t in r.topic_results for p in t.results_by_partition}
                for r in answer.results_by_transaction}

    with WireClient.connect(broker.port) as wire:
        find_transaction_coordinator(wire, tid)
        init = init_producer_id(wire, 4, tid)
        pid, epoch = init.producer_id, init.producer_epoch
        # v3: one transaction, as producers send it; an unknown partition fails the whole transaction.
        v3 = wire.call(ApiKey.ADD_PARTITIONS_TO_TXN, 3, Request(
            v3_and_below_transactional_id=tid, v3_and_below_producer_id=pid, v3_and_below_producer_epoch=epoch,
            v3_and_below_topics=[Topic(name=topic_name, partitions=[0]), Topic(name="no-such-topic", partitions=[0])]))
        assert {(t.name, p.partition_index): p.partition_error_code for t in v3.results_by_topic_v3_and_below for p in t.results_by_partition} == {
            (topic_name, 0): ErrorCode.OPERATION_NOT_ATTEMPTED, ("no-such-topic", 0): ErrorCode.UNKNOWN_TOPIC_OR_PARTITION}
        assert add(wire, 4, (tid, pid, epoch, False, {topic_name: [0]})) == {tid: {(topic_name, 0): ErrorCode.NONE}}
        assert add(wire, 5, (tid, pid, epoch, True, {topic_name: [0, 1]}), ("nobody", 1, 0, True, {topic_name: [0]})) == {
            tid: {(topic_name, 0): ErrorCode.NONE, (topic_name, 1): ErrorCode.TRANSACTION_ABORTABLE},
            "nobody": {(topic_name, 0): ErrorCode.INVALID_PRODUCER_ID_MAPPING}}
        assert add(wire, 5, (tid, pid, epoch + 1, True, {topic_name: [0]})) == {tid: {(topic_name, 0): ErrorCode.PRODUCER_FENCED}}
        assert produce_transactional(wire, 9, tid, topic_name, 0, pid, epoch, 0, b"in-txn") == ErrorCode.NONE

        # WriteTxnMarkers: what a coordinator elsewhere would send; here it commits the open transaction on partition 0.
        Markers = messages.WriteTxnMarkersRequest
        marker = Markers.cls.WritableTxnMarker(producer_id=pid, producer_epoch=epoch, transaction_result=True, coordinator_epoch=0, topics=[
            Markers.cls.WritableTxnMarker.WritableTxnMarkerTopic(name=topic_name, partition_indexes=[0]),
            Markers.cls.WritableTxnMarker.WritableTxnMarkerTopic(name="no-such-topic", partition_indexes=[3])])
        answer = wire.call(ApiKey.WRITE_TXN_MARKERS, 1, Markers(markers=[marker]))
        assert [(r.producer_id, [(t.name, [(p.partition_index, p.error_code) for p in t.partitions]) for t in r.topics]) for r in answer.markers] == [
            (pid, [(topic_name, [(0, ErrorCode.NONE)]), ("no-such-topic", [(3, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)])])]
    assert values(consume_partitions("kafka-python", broker.bootstrap_servers, topic_name, [0], count=1,
                                     isolation_level="read_committed")) == [b"in-txn"]


def test_kafka_transactions_cli_aborts_a_hanging_transaction(broker: BrokerProcess, topic_name: str) -> None:
    """A transaction its producer abandoned (long timeout, never ended) holds
    the last stable offset back; kafka-transactions.sh abort finds its
    producer (DescribeProducers) and writes the abort marker
    (WriteTxnMarkers) to the partition, as against Kafka."""
    from tests.broker.test_kafka_cli import tool

    create_topic(broker.bootstrap_servers, topic_name, partitions=1)
    tid = f"{topic_name}-abandoned"
    with WireClient.connect(broker.port) as wire:
        find_transaction_coordinator(wire, tid)
        hanging = init_producer_id(wire, 5, tid, timeout_ms=900_000)
        assert produce_transactional(wire, 12, tid, topic_name, 0, hanging.producer_id, hanging.producer_epoch, 0, b"hanging") == ErrorCode.NONE
    result = tool("org.apache.kafka.tools.TransactionsCommand",
                  ["--bootstrap-server", broker.bootstrap_servers, "abort", "--topic", topic_name, "--partition", "0", "--start-offset", "0"])
    assert result.returncode == 0, result.stderr
    producer = confluent_producer(broker.bootstrap_servers, f"{topic_name}-after")
    producer.init_transactions(30)
    producer.begin_transaction()
    producer.produce(topic_name, value=b"after", partition=0)
    producer.commit_transaction(30)
    assert values(consume_partitions("kafka-python", broker.bootstrap_servers, topic_name, [0], count=1,
                                     isolation_level="read_committed")) == [b"after"]


def test_transactional_batch_without_transactional_id_is_refused_for_every_partition(broker: BrokerProcess, topic_name: str) -> None:
    """Kafka refuses a Produce that carries transactional batches but no
    transactional id with TRANSACTIONAL_ID_AUTHORIZATION_FAILED on every
    partition, and writes nothing."""
    create_topic(broker.bootstrap_servers, topic_name, partitions=2)
    with WireClient.connect(broker.port) as wire:
        pid = init_producer_id(wire, 4, None).producer_id
        Request = messages.ProduceRequest
        Data = Request.cls.TopicProduceData.PartitionProduceData
        partitions = [Data(index=0, records=build_batch([NewRecord(None, b"plain")])),
                      Data(index=1, records=build_batch([NewRecord(None, b"txn")], producer_id=pid, producer_epoch=0, base_sequence=0, is_transactional=True))]
        answer = wire.call(ApiKey.PRODUCE, 9, Request(transactional_id=None, acks=-1, timeout_ms=10000,
                                                      topic_data=[Request.cls.TopicProduceData(name=topic_name, partition_data=partitions)]))
        assert [(p.index, p.error_code) for p in answer.responses[0].partition_responses] == [
            (0, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED), (1, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED)]
    assert consume_partitions("kafka-python", broker.bootstrap_servers, topic_name, [0, 1], count=1, timeout=2) == []
