"""Transactions across a broker SIGKILL: after the restart a read_committed
consumer sees every transaction the producer saw committed, whole, and no
aborted or half-written one (an in-doubt transaction, whose commit was
under way at the kill, is either whole or absent).

A child process runs a confluent-kafka transactional producer in a loop
(every fourth transaction aborted, each one 5 records over 3 partitions)
and prints each outcome; the broker is SIGKILLed once enough are
committed. On restart the coordinator reloads __transaction_state,
finishes transactions stored in PrepareCommit/PrepareAbort, and a new
producer with the same transactional.id fences and aborts what was still
open, then commits a sentinel that bounds the read.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable

import confluent_kafka
import kafka

from kwire.testing import BrokerProcess
from tests.broker.clients import create_topic
from tests.broker.group_clients import child_process

BrokerFactory = Callable[..., BrokerProcess]
RECORDS_PER_TRANSACTION = 5
PARTITIONS = 3

CHILD_PRODUCER = """
import sys
import confluent_kafka
producer = confluent_kafka.Producer({"bootstrap.servers": sys.argv[1], "transactional.id": sys.argv[3], "linger.ms": 1,
                                     "transaction.timeout.ms": 60000, "message.timeout.ms": 10000})
producer.init_transactions(30)
for i in range(100000):
    try:
        producer.begin_transaction()
        for j in range(5):
            producer.produce(sys.argv[2], value=f"{i}:{j}".encode(), partition=j % 3)
        print("begun", i, flush=True)
        if i % 4 == 3:
            producer.flush(10)  # the aborted records reach the log
            producer.abort_transaction(10)
            print("aborted", i, flush=True)
        else:
            producer.commit_transaction(10)
            print("committed", i, flush=True)
    except confluent_kafka.KafkaException as e:
        print("failed", i, e, flush=True)
        sys.exit(0)
"""


def read_outcomes(child: subprocess.Popen[str], outcomes: dict[str, set[int]]) -> None:
    assert child.stdout is not None
    while line := child.stdout.readline():
        kind, number = line.split()[:2]
        outcomes.setdefault(kind, set()).add(int(number))


def test_sigkill_mid_transactions_keeps_committed_ones_whole(broker_factory: BrokerFactory, topic_name: str) -> None:
    broker = broker_factory()
    create_topic(broker.bootstrap_servers, topic_name, partitions=PARTITIONS)
    transactional_id = f"{topic_name}-tx"
    outcomes: dict[str, set[int]] = {}
    with child_process(CHILD_PRODUCER, broker.bootstrap_servers, topic_name, transactional_id) as child:
        deadline = time.monotonic() + 60
        while len(outcomes.get("committed", ())) < 30 and time.monotonic() < deadline and child.poll() is None:
            read_outcomes(child, outcomes)
            time.sleep(0.005)
        broker.kill()
        time.sleep(0.2)
        read_outcomes(child, outcomes)
    committed, aborted = outcomes.get("committed", set()), outcomes.get("aborted", set())
    assert len(committed) >= 30, outcomes
    in_doubt = outcomes.get("begun", set()) - committed - aborted

    restarted = broker_factory(data_dir=broker.data_dir)
    bootstrap = restarted.bootstrap_servers
    successor = confluent_kafka.Producer({"bootstrap.servers": bootstrap, "transactional.id": transactional_id})
    successor.init_transactions(60)
    successor.begin_transaction()
    for p in range(PARTITIONS):
        successor.produce(topic_name, value=b"end", partition=p)
    successor.commit_transaction(30)

    consumer = kafka.KafkaConsumer(bootstrap_servers=bootstrap, isolation_level="read_committed", enable_auto_commit=False,
                                   fetch_max_wait_ms=100)
    try:
        consumer.assign([kafka.TopicPartition(topic_name, p) for p in range(PARTITIONS)])
        consumer.seek_to_beginning()
        seen: dict[int, list[int]] = {}
        ends = 0
        deadline = time.monotonic() + 30
        while ends < PARTITIONS and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=200).values():
                for message in batch:
                    if message.value == b"end":
                        ends += 1
                    else:
                        number, index = map(int, message.value.split(b":"))
                        seen.setdefault(number, []).append(index)
    finally:
        consumer.close()
    assert ends == PARTITIONS, f"the sentinel transaction was not read: {ends}"
    assert committed <= set(seen), f"acknowledged commits missing: {sorted(committed - set(seen))}"
    assert set(seen) <= committed | in_doubt, f"aborted or unknown transactions visible: {sorted(set(seen) - committed - in_doubt)}"
    assert not set(seen) & aborted
    half = {number: sorted(indexes) for number, indexes in seen.items() if sorted(indexes) != list(range(RECORDS_PER_TRANSACTION))}
    assert not half, f"transactions not whole: {half}"
    assert all(number % 4 != 3 for number in seen)
    print(f"{len(committed)} committed, {len(aborted)} aborted, in doubt {sorted(in_doubt)}", file=sys.stderr)
