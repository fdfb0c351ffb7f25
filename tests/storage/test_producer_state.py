"""Producer state (kwire_storage/producer_state.py): sequence checks, snapshots, reload.

The model for the hypothesis tests is a plain list of every batch a
producer had accepted: a duplicate is one of its last five with the same
epoch and sequences, anything else must continue the last one.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kwire_protocol.records.builder import build_batch
from kwire_protocol.records.record import NewRecord

from kwire_storage.errors import InvalidProducerEpochError, OutOfOrderSequenceError
from kwire_storage.log import Log
from kwire_storage.producer_state import (
    INT32_MAX,
    ProducerStateManager,
    decode_snapshot,
    decrement_sequence,
    encode_snapshot,
    increment_sequence,
)

from tests.storage.helpers import Clock, make_batch, small_config

T0 = 1_700_000_000_000


def pbatch(producer_id: int, epoch: int, sequence: int, count: int = 1, *, timestamp: int = T0, size: int = 10) -> bytes:
    return build_batch(
        [NewRecord(key=None, value=b"v" * size, timestamp=timestamp) for _ in range(count)],
        producer_id=producer_id, producer_epoch=epoch, base_sequence=sequence,
    )


def open_log(path: Path, clock: Clock, **kwargs: object) -> Log:
    return Log(path / "t-0", small_config(), clock=clock, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


def test_in_sequence_appends_and_duplicate_returns_original_offsets(tmp_path: Path, clock: Clock) -> None:
    log = open_log(tmp_path, clock)
    log.append(make_batch([b"plain"]))
    first = log.append(pbatch(7, 0, 0, 3))
    second = log.append(pbatch(7, 0, 3, 2))
    assert (first.first_offset, first.last_offset, second.first_offset) == (1, 3, 4)
    end = log.log_end_offset
    again = log.append(pbatch(7, 0, 0, 3))
    assert (again.first_offset, again.last_offset) == (1, 3)
    assert log.log_end_offset == end, "a duplicate must not be written"


def test_gap_stale_epoch_and_new_epoch(tmp_path: Path, clock: Clock) -> None:
    log = open_log(tmp_path, clock)
    log.append(pbatch(7, 3, 0))
    with pytest.raises(OutOfOrderSequenceError):
        log.append(pbatch(7, 3, 5))
    with pytest.raises(InvalidProducerEpochError):
        log.append(pbatch(7, 2, 1))
    with pytest.raises(OutOfOrderSequenceError):
        log.append(pbatch(7, 4, 1))  # a new epoch starts at 0
    log.append(pbatch(7, 4, 0))
    with pytest.raises(InvalidProducerEpochError):
        log.append(pbatch(7, 3, 1))
    assert log.log_end_offset == 2


def test_unknown_producer_accepted_at_any_sequence(tmp_path: Path, clock: Clock) -> None:
    """KIP-360: no UNKNOWN_PRODUCER_ID for an unknown producer with a non-zero sequence."""
    log = open_log(tmp_path, clock)
    first = log.append(pbatch(9, 0, 42))
    second = log.append(pbatch(9, 0, 43))
    assert (first.first_offset, second.first_offset) == (0, 1)
    with pytest.raises(OutOfOrderSequenceError):
        log.append(pbatch(9, 0, 45))
    assert log.log_end_offset == 2, "a refused batch must not be written"


def test_sequence_wraps_at_int32_max(tmp_path: Path, clock: Clock) -> None:
    log = open_log(tmp_path, clock)
    log.append(pbatch(5, 0, INT32_MAX - 1, 2))  # INT32_MAX - 1, INT32_MAX
    assert log.append(pbatch(5, 0, 0, 1)).first_offset == 2  # after Int32 max comes 0
    assert log.append(pbatch(5, 0, 0, 1)).first_offset == 2  # a duplicate
    with pytest.raises(OutOfOrderSequenceError):
        log.append(pbatch(5, 0, 2, 1))
    assert increment_sequence(INT32_MAX, 2) == 1
    assert decrement_sequence(1, 2) == INT32_MAX


def test_sequence_wrap_straddling_batch(tmp_path: Path, clock: Clock) -> None:
    log = open_log(tmp_path, clock)
    log.append(pbatch(5, 0, INT32_MAX - 1, 3))  # INT32_MAX - 1, INT32_MAX, 0
    log.append(pbatch(5, 0, 1, 1))
    with pytest.raises(OutOfOrderSequenceError):
        log.append(pbatch(5, 0, 0, 1))
    dup = log.append(pbatch(5, 0, INT32_MAX - 1, 3))
    assert (dup.first_offset, dup.last_offset) == (0, 2)


def test_only_last_five_batches_are_duplicates(tmp_path: Path, clock: Clock) -> None:
    log = open_log(tmp_path, clock)
    for sequence in range(6):
        log.append(pbatch(1, 0, sequence))
    assert log.append(pbatch(1, 0, 1)).first_offset == 1
    with pytest.raises(OutOfOrderSequenceError):
        log.append(pbatch(1, 0, 0))


def test_restart_after_clean_close_and_after_crash(tmp_path: Path, clock: Clock) -> None:
    log = open_log(tmp_path, clock)
    offsets = [log.append(pbatch(3, 0, i * 2, 2, size=300)).first_offset for i in range(40)]
    assert len(log.segments) > 2
    log.close()
    assert (tmp_path / "t-0" / f"{log.log_end_offset:020d}.snapshot").exists()
    reopened = open_log(tmp_path, clock, clean_shutdown=True)
    assert reopened.append(pbatch(3, 0, 78, 2, size=300)).first_offset == offsets[-1]
    reopened.append(pbatch(3, 0, 80, 2, size=300))
    reopened.close_unclean()
    crashed = open_log(tmp_path, clock, recovery_point=0)
    assert crashed.append(pbatch(3, 0, 80, 2, size=300)).first_offset == 80
    with pytest.raises(OutOfOrderSequenceError):
        crashed.append(pbatch(3, 0, 90, 1))
    crashed.close()


def test_reload_scans_only_from_the_latest_snapshot(tmp_path: Path, clock: Clock) -> None:
    log = open_log(tmp_path, clock)
    for i in range(40):
        log.append(pbatch(3, 0, i, 1, size=300))
    snapshots = log.producer_state.snapshot_offsets()
    assert snapshots and snapshots[-1] == log.active_segment.base_offset
    log.close_unclean()
    reopened = open_log(tmp_path, clock, recovery_point=0)
    assert reopened.load_report is not None
    state = ProducerStateManager(tmp_path / "t-0")
    start = state.load(reopened.segments, reopened.log_end_offset, clock())
    assert start == snapshots[-1]
    assert state.producers == reopened.producer_state.producers
    reopened.close()


def test_truncation_reloads_state(tmp_path: Path, clock: Clock) -> None:
    log = open_log(tmp_path, clock)
    for i in range(30):
        log.append(pbatch(3, 0, i, 1, size=300))
    log.truncate_to(10)
    assert log.log_end_offset == 10
    assert all(offset <= 10 for offset in log.producer_state.snapshot_offsets())
    assert log.append(pbatch(3, 0, 10, 1)).first_offset == 10
    log.truncate_fully_and_start_at(100)
    assert log.producer_state.producers == {}
    assert log.producer_state.snapshot_offsets() == []
    log.append(pbatch(3, 0, 77, 1))  # unknown again: any sequence


def test_segment_deletion_keeps_producers_and_drops_old_snapshots(tmp_path: Path, clock: Clock) -> None:
    log = open_log(tmp_path, clock)
    for i in range(30):
        log.append(pbatch(3, 0, i, 1, size=300))
    log.update_high_watermark(log.log_end_offset)
    log.delete_segments(list(log.segments[:-1]), "test")
    # Snapshots were taken at the rolls (11, 22); only the one at the remaining segment's base stays.
    assert [s.base_offset for s in log.segments] == [22]
    assert log.producer_state.snapshot_offsets() == [22]
    with pytest.raises(OutOfOrderSequenceError):
        log.append(pbatch(3, 0, 0, 1))
    assert log.append(pbatch(3, 0, 30, 1)).first_offset == 30


def test_expiry(tmp_path: Path, clock: Clock) -> None:
    log = open_log(tmp_path, clock, producer_id_expiration_ms=1000)
    log.append(pbatch(3, 0, 0, 1, timestamp=clock()))
    clock.advance(999)
    assert log.remove_expired_producers() == 0
    clock.advance(1)
    assert log.remove_expired_producers() == 1
    log.append(pbatch(3, 0, 50, 1))  # forgotten: accepted at any sequence


def test_snapshot_is_kafka_layout(tmp_path: Path, clock: Clock) -> None:
    log = open_log(tmp_path, clock)
    log.append(pbatch(3, 1, 0, 2))
    log.append(pbatch(3, 1, 2, 1))
    path = log.producer_state.take_snapshot()
    data = path.read_bytes()
    assert data[:2] == b"\x00\x01" and len(data) == 10 + 2 * 46
    entries = decode_snapshot(data)
    assert [(b.first_sequence, b.last_sequence, b.first_offset, b.last_offset) for b in entries[0].batches] == [(0, 1, 0, 1), (2, 2, 2, 2)]
    corrupt = bytearray(data)
    corrupt[-1] ^= 1
    log.close()
    path.write_bytes(bytes(corrupt))
    # A corrupt snapshot is ignored (and deleted); state comes from a scan.
    reopened = open_log(tmp_path, clock, recovery_point=0)
    assert reopened.append(pbatch(3, 1, 0, 2)).first_offset == 0
    reopened.close()


# -- hypothesis: the checks against a model, and snapshot/reload equivalence ----------------------

operation = st.tuples(
    st.integers(0, 2),  # producer id
    st.integers(0, 2),  # epoch
    st.sampled_from(["next", "dup", "gap", "zero", "near_max"]),
    st.integers(1, 3),  # records
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(operation, max_size=40))
def test_checks_match_model(tmp_path_factory: pytest.TempPathFactory, ops: list[tuple[int, int, str, int]]) -> None:
    clock = Clock(T0)
    log = Log(tmp_path_factory.mktemp("p") / "t-0", small_config(), clock=clock)
    model: dict[int, tuple[int, list[tuple[int, int, int, int]]]] = {}  # pid -> (epoch, [(first seq, last seq, first off, last off)])
    for producer_id, epoch, kind, count in ops:
        known = model.get(producer_id)
        last_seq = known[1][-1][1] if known and known[1] else -1
        if kind == "next":
            sequence = increment_sequence(last_seq, 1) if known and epoch == known[0] else 0
        elif kind == "dup" and known and known[1]:
            sequence, count = known[1][-1][0], 0
        elif kind == "gap":
            sequence = increment_sequence(last_seq, 2)
        elif kind == "near_max":
            sequence = INT32_MAX - 1
        else:
            sequence = 0
        if count == 0:  # duplicate of the last batch, same size
            first, last = known[1][-1][0], known[1][-1][1]  # type: ignore[index]
            count = (last - first) % (INT32_MAX + 1) + 1
            epoch = known[0]  # type: ignore[index]
        data = pbatch(producer_id, epoch, sequence, count)
        last_sequence = increment_sequence(sequence, count - 1)
        # The model's verdict.
        expected: object
        if known is None:
            expected = "append"
        else:
            k_epoch, batches = known
            duplicate = next((b for b in batches[-5:] if epoch == k_epoch and (b[0], b[1]) == (sequence, last_sequence)), None)
            if duplicate is not None:
                expected = ("dup", duplicate[2], duplicate[3])
            elif epoch < k_epoch:
                expected = InvalidProducerEpochError
            elif epoch != k_epoch:
                expected = "append" if sequence == 0 else OutOfOrderSequenceError
            else:
                previous = batches[-1][1] if batches else -1
                ok = sequence == previous + 1 or (sequence == 0 and previous == INT32_MAX)
                expected = "append" if ok else OutOfOrderSequenceError
        if isinstance(expected, type):
            with pytest.raises(expected):
                log.append(data)
            continue
        info = log.append(data)
        if expected == "append":
            batches = [] if known is None or known[0] != epoch else known[1]
            model[producer_id] = (epoch, batches + [(sequence, last_sequence, info.first_offset, info.last_offset)])
        else:
            assert isinstance(expected, tuple)
            assert (info.first_offset, info.last_offset) == expected[1:]
    # Snapshot/reload equivalence: a clean reopen, a crash reopen and a snapshot round trip agree.
    state = {pid: entry.copy() for pid, entry in log.producer_state.producers.items()}
    assert {e.producer_id: e for e in decode_snapshot(encode_snapshot(state.values()))} == state
    directory = log.dir
    log.close()
    assert Log(directory, small_config(), clock=clock, clean_shutdown=True).producer_state.producers == state


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(1, 4), st.integers(10, 600)), min_size=1, max_size=40),
       st.booleans())
def test_reload_equals_state_before(tmp_path_factory: pytest.TempPathFactory, appends: list[tuple[int, int, int]], crash: bool) -> None:
    clock = Clock(T0)
    directory = tmp_path_factory.mktemp("r") / "t-0"
    log = Log(directory, small_config(), clock=clock)
    sequences: dict[int, int] = {}
    for producer_id, count, size in appends:
        sequence = sequences.get(producer_id, 0)
        log.append(pbatch(producer_id, 0, sequence, count, size=size))
        sequences[producer_id] = sequence + count
    state = {pid: entry.copy() for pid, entry in log.producer_state.producers.items()}
    if crash:
        log.close_unclean()
        reopened = Log(directory, small_config(), clock=clock, recovery_point=0)
    else:
        log.close()
        reopened = Log(directory, small_config(), clock=clock, clean_shutdown=True)
    assert reopened.producer_state.producers == state
    reopened.close()


def test_clean_close_snapshots_do_not_pile_up(tmp_path: Path, clock: Clock) -> None:
    directory = tmp_path / "t-0"
    for round_ in range(4):
        log = Log(directory, small_config(), clock=clock, clean_shutdown=round_ > 0)
        log.append(pbatch(3, 0, round_))
        log.close()
    log = Log(directory, small_config(), clock=clock, clean_shutdown=True)
    assert log.producer_state.snapshot_offsets() == [4]
    assert log.append(pbatch(3, 0, 3)).first_offset == 3
    log.close()
