"""Kafka's own kafka-dump-log --transaction-log-decoder reads what kwire
writes to __transaction_state (the tool from Kafka's tools jar, as in
tests/storage/test_kafka_dump_log.py, whose classpath fixture is reused)."""

from __future__ import annotations

from pathlib import Path

from kwire.transactions import records
from kwire.transactions.metadata import Transit
from kwire.transactions.state import TransactionState

from tests.storage.test_kafka_dump_log import classpath, decode_internal_records  # noqa: F401  (fixture)

T0 = 1_700_000_000_000


def test_dump_log_transaction_log_decoder_reads_kwire_records(tmp_path: Path, classpath: str) -> None:  # noqa: F811
    empty = Transit(4001, -1, -1, 3, -1, 60000, TransactionState.EMPTY, frozenset(), -1, T0, 0)
    ongoing = Transit(4001, 4001, -1, 3, -1, 60000, TransactionState.ONGOING, frozenset({("orders", 0), ("orders", 2), ("audit", 1)}), T0, T0 + 5, 2)
    prepare = Transit(4001, 4001, 4002, 4, 3, 60000, TransactionState.PREPARE_COMMIT, ongoing.partitions, T0, T0 + 9, 2)
    complete = Transit(4001, 4001, -1, 4, 3, 60000, TransactionState.COMPLETE_COMMIT, frozenset(), T0, T0 + 10, 2)
    pairs = [(records.key("my-txn"), records.value(t)) for t in (empty, ongoing, prepare, complete)] + [(records.key("old-txn"), None)]
    out = decode_internal_records(classpath, tmp_path / "__transaction_state-7", pairs, "--transaction-log-decoder").replace(" ", "")
    assert out.count('"transactionalId":"my-txn"') == 4 and '"transactionalId":"old-txn"' in out, out
    assert out.count('"producerId":4001') == 4 and '"producerEpoch":4' in out and '"transactionTimeoutMs":60000' in out, out
    for state in (0, 1, 2, 4):
        assert f'"transactionStatus":{state}' in out, out
    assert '"topic":"orders","partitionIds":[0,2]' in out and '"topic":"audit","partitionIds":[1]' in out, out
    assert '"transactionPartitions":null' in out, out  # Empty stores no partition list, as Kafka
    assert '"nextProducerId":4002' in out and '"clientTransactionVersion":2' in out, out
    assert out.count("payload:<DELETE>") == 1, out
