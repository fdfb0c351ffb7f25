"""Fencing of a transactional producer over the wire, with the answers Apache
Kafka 4.4 gave to the same raw requests (compat_tests.reference_kafka, compared
step by step: InitProducerId, Produce, EndTxn and DescribeTransactions fields).

A transactions-v2 producer (InitProducerId v5, Produce v12, EndTxn v5, as Java
4.x clients send) is fenced once per abort: by its timeout or by a second
producer's InitProducerId the epoch moves by one, and the fenced producer's
own retries of the abort are answered as retries.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kwire_protocol import messages
from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.messages import ApiKey

from kwire.testing import BrokerProcess, wait_until
from tests.broker.test_transactions import describe, find_transaction_coordinator, init_producer_id, produce_transactional
from tests.broker.wire import WireClient, create_topic


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    with BrokerProcess(tmp_path_factory.mktemp("broker"), {"transaction.abort.timed.out.transaction.cleanup.interval.ms": "100"}) as process:
        yield process


def end_txn(wire: WireClient, transactional_id: str, producer_id: int, epoch: int, commit: bool) -> tuple[int, int, int]:
    answer = wire.call(ApiKey.END_TXN, 5, messages.EndTxnRequest(transactional_id=transactional_id, producer_id=producer_id,
                                                                  producer_epoch=epoch, committed=commit))
    return answer.error_code, answer.producer_id, answer.producer_epoch


def summary(state: Any) -> tuple[str, int, list[tuple[str, list[int]]]]:
    return state.transaction_state, state.producer_epoch, [(t.topic, t.partitions) for t in state.topics]


def test_transactions_v2_timeout_abort(broker: BrokerProcess, topic_name: str) -> None:
    create_topic(broker.port, topic_name)
    tid = f"{topic_name}-tx"
    with WireClient.connect(broker.port) as wire:
        find_transaction_coordinator(wire, tid)
        init = init_producer_id(wire, 5, tid, timeout_ms=1000)
        pid = init.producer_id
        assert (init.error_code, init.producer_epoch) == (ErrorCode.NONE, 0)
        assert produce_transactional(wire, 12, tid, topic_name, 0, pid, 0, 0, b"a") == ErrorCode.NONE
        assert summary(describe(broker.port, tid)) == ("Ongoing", 0, [(topic_name, [0])])
        assert wait_until(lambda: describe(broker.port, tid).transaction_state == "CompleteAbort", timeout=30)
        assert summary(describe(broker.port, tid)) == ("CompleteAbort", 1, [])
        assert produce_transactional(wire, 12, tid, topic_name, 0, pid, 0, 1, b"zombie") == ErrorCode.INVALID_PRODUCER_EPOCH
        assert end_txn(wire, tid, pid, 0, True) == (ErrorCode.INVALID_TXN_STATE, -1, -1)
        assert end_txn(wire, tid, pid, 0, False) == (ErrorCode.NONE, pid, 1)  # a retry of the abort
        # KIP-360: the fenced producer recovers at the epoch the abort gave it.
        recovered = init_producer_id(wire, 5, tid, timeout_ms=1000, producer_id=pid, producer_epoch=0)
        assert (recovered.error_code, recovered.producer_id, recovered.producer_epoch) == (ErrorCode.NONE, pid, 1)
        assert summary(describe(broker.port, tid)) == ("Empty", 1, [])
        fresh = init_producer_id(wire, 5, tid)
        assert (fresh.error_code, fresh.producer_epoch) == (ErrorCode.NONE, 2)


def test_transactions_v2_producer_fenced_by_a_second_init(broker: BrokerProcess, topic_name: str) -> None:
    create_topic(broker.port, topic_name)
    tid = f"{topic_name}-tx"
    with WireClient.connect(broker.port) as wire:
        find_transaction_coordinator(wire, tid)
        pid = init_producer_id(wire, 5, tid).producer_id
        assert produce_transactional(wire, 12, tid, topic_name, 0, pid, 0, 0, b"a") == ErrorCode.NONE
        assert init_producer_id(wire, 5, tid).error_code == ErrorCode.CONCURRENT_TRANSACTIONS  # aborting the open one
        assert wait_until(lambda: init_producer_id(wire, 5, tid).error_code != ErrorCode.CONCURRENT_TRANSACTIONS, timeout=30)
        # The retry that got through answered epoch 2; DescribeTransactions agrees.
        assert summary(describe(broker.port, tid)) == ("Empty", 2, [])
        assert produce_transactional(wire, 12, tid, topic_name, 0, pid, 0, 1, b"zombie") == ErrorCode.INVALID_PRODUCER_EPOCH
        assert end_txn(wire, tid, pid, 0, True) == (ErrorCode.PRODUCER_FENCED, -1, -1)
        assert end_txn(wire, tid, pid, 0, False) == (ErrorCode.PRODUCER_FENCED, -1, -1)
        assert init_producer_id(wire, 5, tid, producer_id=pid, producer_epoch=0).error_code == ErrorCode.PRODUCER_FENCED
        assert produce_transactional(wire, 12, tid, topic_name, 0, pid, 2, 0, b"b") == ErrorCode.NONE
        assert end_txn(wire, tid, pid, 2, True) == (ErrorCode.NONE, pid, 3)
