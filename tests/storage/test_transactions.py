"""Transactions in the storage engine: markers, producer checks by origin, LSO, .txnindex.

Unit tests on one Log with an injected clock; the model-based properties
are in test_transaction_properties.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kwire_protocol.records.batch import RecordBatch, split_batches
from kwire_protocol.records.builder import build_batch
from kwire_protocol.records.control import ABORT, COMMIT, build_control_batch, read_end_txn_marker
from kwire_protocol.records.record import NewRecord

from kwire_storage.errors import (
    InvalidProducerEpochError,
    InvalidTxnStateError,
    OutOfOrderSequenceError,
    TransactionCoordinatorFencedError,
)
from kwire_storage.log import AppendOrigin, Log
from kwire_storage.producer_state import decode_snapshot
from kwire_storage.transaction_index import ENTRY_SIZE, AbortedTxn

from tests.storage.helpers import Clock, make_batch, read_all, small_config

T0 = 1_700_000_000_000


def txn_batch(producer_id: int, epoch: int, sequence: int, count: int = 1, *, transactional: bool = True,
              size: int = 10) -> bytes:
    return build_batch(
        [NewRecord(key=None, value=b"v" * size, timestamp=T0) for _ in range(count)],
        producer_id=producer_id, producer_epoch=epoch, base_sequence=sequence, is_transactional=transactional,
    )


def open_log(path: Path, clock: Clock, **kwargs: object) -> Log:
    return Log(path / "t-0", small_config(), clock=clock, **kwargs)  # type: ignore[arg-type]


def committed(log: Log) -> None:
    log.update_high_watermark(log.log_end_offset)


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


def test_marker_is_a_control_batch_as_kafka_writes_it(tmp_path: Path, clock: Clock) -> None:
    log = open_log(tmp_path, clock)
    log.append(txn_batch(7, 2, 0, 2))
    info = log.append_marker(7, 2, 5, commit=True, leader_epoch=3)
    assert (info.first_offset, info.last_offset) == (2, 2)
    marker = read_all(log)[-1]
    assert marker.is_control and marker.is_transactional
    assert (marker.producer_id, marker.producer_epoch, marker.base_sequence) == (7, 2, -1)
    assert (marker.partition_leader_epoch, marker.max_timestamp) == (3, T0)
    assert read_end_txn_marker(marker) == (COMMIT, 5)
    entry = log.producer_state.producers[7]
    assert (entry.coordinator_epoch, entry.current_txn_first_offset) == (5, -1)


def test_lso_follows_open_transactions(tmp_path: Path, clock: Clock) -> None:
    log = open_log(tmp_path, clock)
    log.append(make_batch([b"plain"]))
    log.append(txn_batch(1, 0, 0))            # offset 1: producer 1 opens
    log.append(txn_batch(2, 0, 0, 2))         # 2-3: producer 2 opens
    log.append(txn_batch(1, 0, 1))            # 4
    committed(log)
    assert log.producer_state.ongoing == {1: 1, 2: 2}
    assert log.last_stable_offset == 1
    log.append_marker(1, 0, 0, commit=True)   # 5
    committed(log)
    assert log.last_stable_offset == 2
    log.append_marker(2, 0, 0, commit=False)  # 6
    assert log.last_stable_offset == 2, "unstable until the high watermark covers the marker"
    committed(log)
    assert log.last_stable_offset == log.high_watermark == 7
    assert log.aborted_transactions(0, 7) == [(2, 2)]


def test_completed_transaction_is_unstable_until_its_marker_is_below_the_high_watermark(tmp_path: Path, clock: Clock) -> None:
    log = open_log(tmp_path, clock)
    for _ in range(3):
        log.append(make_batch([b"x"]))
    log.append(txn_batch(1, 0, 0, 3))          # 3-5
    log.append_marker(1, 0, 0, commit=True)    # 6
    log.update_high_watermark(5)
    assert log.last_stable_offset == 3, "Kafka's unreplicated transactions keep the LSO at their first offset"
    log.update_high_watermark(7)
    assert log.last_stable_offset == 7


def test_abort_writes_a_kafka_txnindex_entry_in_the_markers_segment(tmp_path: Path, clock: Clock) -> None:
    log = open_log(tmp_path, clock)
    log.append(txn_batch(1, 0, 0))                   # 0: producer 1
    log.append(txn_batch(2, 0, 0))                   # 1: producer 2
    log.roll()
    log.append_marker(2, 0, 0, commit=False)         # 2: abort producer 2; producer 1 still open
    log.append_marker(1, 0, 0, commit=False)         # 3
    segment = log.active_segment
    assert segment.base_offset == 2
    assert not log.segments[0].txn_index.path.exists(), "the file exists only once it has an entry"
    data = segment.txn_index.path.read_bytes()
    assert len(data) == 2 * ENTRY_SIZE
    assert data[:ENTRY_SIZE] == bytes.fromhex("0000" + "0000000000000002" + "0000000000000001"
                                               + "0000000000000002" + "0000000000000000")
    assert segment.txn_index.entries == [AbortedTxn(2, 1, 2, 0), AbortedTxn(1, 0, 3, 4)]
    assert log.aborted_transactions(0, 4) == [(2, 1), (1, 0)]
    assert log.aborted_transactions(3, 4) == [(1, 0)]
    assert log.aborted_transactions(0, 1) == [(1, 0)]


def test_commit_and_marker_without_transaction_write_no_index_entry(tmp_path: Path, clock: Clock) -> None:
    log = open_log(tmp_path, clock)
    log.append(txn_batch(1, 0, 0))
    log.append_marker(1, 0, 0, commit=True)
    log.append_marker(1, 0, 0, commit=False)  # no open transaction: written, harmless
    log.append_marker(9, 0, 0, commit=False)  # a producer the partition never saw
    assert log.log_end_offset == 4
    assert not log.active_segment.txn_index.path.exists()
    assert log.producer_state.ongoing == {}


def test_marker_epoch_checks(tmp_path: Path, clock: Clock) -> None:
    log = open_log(tmp_path, clock)
    log.append(txn_batch(1, 3, 0))
    end = log.log_end_offset
    with pytest.raises(InvalidProducerEpochError):
        log.append_marker(1, 2, 0, commit=False)
    log.append_marker(1, 3, 4, commit=False)
    log.append(txn_batch(1, 3, 1))
    with pytest.raises(TransactionCoordinatorFencedError):
        log.append_marker(1, 3, 3, commit=True)
    assert log.log_end_offset == end + 2, "refused markers write nothing"
    log.append_marker(1, 4, 4, commit=True)  # a newer producer epoch (a bump) and the same coordinator epoch
    assert log.producer_state.producers[1].epoch == 4


def test_non_transactional_write_inside_a_transaction_is_refused(tmp_path: Path, clock: Clock) -> None:
    log = open_log(tmp_path, clock)
    log.append(txn_batch(1, 0, 0))
    with pytest.raises(InvalidTxnStateError):
        log.append(txn_batch(1, 0, 1, transactional=False))
    assert log.log_end_offset == 1, "the refused batch writes nothing"
    log.append(txn_batch(1, 0, 1))
    log.append_marker(1, 0, 0, commit=True)
    # After the marker (offset 2) the same producer may write outside a transaction.
    assert log.append(txn_batch(1, 0, 2, transactional=False)).first_offset == 3


def test_origins(tmp_path: Path, clock: Clock) -> None:
    log = open_log(tmp_path, clock)
    log.append(txn_batch(1, 2, 0))
    # COORDINATOR: no sequence (-1) and no sequence check, but the epoch is checked.
    log.append(txn_batch(1, 2, -1, 2), origin=AppendOrigin.COORDINATOR)
    with pytest.raises(InvalidProducerEpochError):
        log.append(txn_batch(1, 1, -1), origin=AppendOrigin.COORDINATOR)
    with pytest.raises(OutOfOrderSequenceError):
        log.append(txn_batch(1, 2, 9))
    # REPLICATION: nothing is checked, the state still follows.
    log.append(txn_batch(1, 1, 9), origin=AppendOrigin.REPLICATION)
    marker = build_control_batch(False, producer_id=1, producer_epoch=2, coordinator_epoch=0, timestamp=T0)
    log.append(marker, origin=AppendOrigin.REPLICATION)
    assert log.producer_state.ongoing == {}
    assert log.aborted_transactions(0, log.log_end_offset) == [(1, 0)]


def test_open_transactions_survive_clean_restart_and_crash(tmp_path: Path, clock: Clock) -> None:
    log = open_log(tmp_path, clock)
    log.append(txn_batch(1, 0, 0, size=300))
    for i in range(20):
        log.append(make_batch([b"x" * 300]))
    log.append(txn_batch(2, 0, 0, size=300))
    log.append_marker(1, 0, 7, commit=False)
    assert len(log.segments) > 2
    log.close()
    snapshot = decode_snapshot(log.producer_state.snapshot_path(log.log_end_offset).read_bytes())
    assert {e.producer_id: (e.coordinator_epoch, e.current_txn_first_offset) for e in snapshot} == {1: (7, -1), 2: (-1, 21)}
    reopened = open_log(tmp_path, clock, clean_shutdown=True, recovery_point=log.log_end_offset)
    committed(reopened)
    assert reopened.producer_state.ongoing == {2: 21}
    assert reopened.last_stable_offset == 21
    assert reopened.aborted_transactions(0, reopened.log_end_offset) == [(1, 0)]
    reopened.append_marker(2, 0, 7, commit=False)
    reopened.close_unclean()
    crashed = open_log(tmp_path, clock, recovery_point=0)
    committed(crashed)
    assert crashed.producer_state.ongoing == {}
    assert crashed.last_stable_offset == crashed.log_end_offset
    assert crashed.aborted_transactions(0, crashed.log_end_offset) == [(1, 0), (2, 21)]
    assert [len(s.txn_index.entries) for s in crashed.segments if s.txn_index.entries] == [2]
    crashed.close()


def test_torn_txnindex_is_rebuilt(tmp_path: Path, clock: Clock) -> None:
    log = open_log(tmp_path, clock)
    log.append(txn_batch(1, 0, 0))
    log.append_marker(1, 0, 0, commit=False)
    for i in range(20):
        log.append(make_batch([b"x" * 300]))
    path = log.segments[0].txn_index.path
    log.close()
    path.write_bytes(path.read_bytes()[:-3])
    reopened = open_log(tmp_path, clock, clean_shutdown=True, recovery_point=log.log_end_offset)
    assert reopened.segments[0].txn_index.entries == [AbortedTxn(1, 0, 1, 2)]
    assert len(path.read_bytes()) == ENTRY_SIZE
    reopened.close()


def test_truncation_cuts_txnindex_and_reopens_transactions(tmp_path: Path, clock: Clock) -> None:
    log = open_log(tmp_path, clock)
    log.append(txn_batch(1, 0, 0))
    log.append_marker(1, 0, 0, commit=False)  # 1
    log.append(txn_batch(1, 0, 1))            # 2
    log.append_marker(1, 0, 0, commit=False)  # 3
    assert log.aborted_transactions(0, 4) == [(1, 0), (1, 2)]
    log.truncate_to(3)
    assert log.active_segment.txn_index.entries == [AbortedTxn(1, 0, 1, 2)]
    assert log.producer_state.ongoing == {1: 2}
    committed(log)
    assert log.last_stable_offset == 2
    log.append_marker(1, 0, 0, commit=True)
    assert log.aborted_transactions(0, 4) == [(1, 0)]


def test_segment_files_move_together(tmp_path: Path, clock: Clock) -> None:
    log = open_log(tmp_path, clock)
    log.append(txn_batch(1, 0, 0, size=300))
    log.append_marker(1, 0, 0, commit=False)
    for i in range(20):
        log.append(make_batch([b"x" * 300]))
    committed(log)
    first = log.segments[0]
    assert first.txn_index.path.exists()
    log.delete_segments([first], "test")
    assert not first.txn_index.path.exists()
    assert not list((tmp_path / "t-0").glob("*.txnindex*"))


def test_control_batches_are_what_consumers_decode(tmp_path: Path, clock: Clock) -> None:
    log = open_log(tmp_path, clock)
    log.append(txn_batch(1, 0, 0))
    log.append_marker(1, 0, 3, commit=False)
    data = log.read(0, 1 << 20).read()
    batches: list[RecordBatch] = list(split_batches(data))
    assert [b.is_control for b in batches] == [False, True]
    assert read_end_txn_marker(batches[1]) == (ABORT, 3)


def test_producer_with_open_transaction_does_not_expire(tmp_path: Path, clock: Clock) -> None:
    log = open_log(tmp_path, clock, producer_id_expiration_ms=1000)
    log.append(txn_batch(1, 0, 0))
    log.append(txn_batch(2, 0, 0, transactional=False))
    clock.advance(5000)
    assert log.remove_expired_producers() == 1
    assert list(log.producer_state.producers) == [1]
    log.append_marker(1, 0, 0, commit=True)
    clock.advance(1000)
    assert log.remove_expired_producers() == 1
    assert log.producer_state.producers == {}
