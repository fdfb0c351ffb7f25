"""Model-based properties of transactions in the log.

Random appends from several producers (plain, idempotent, transactional)
and commit/abort markers, then, against a model replayed from the list of
what was appended:

* the last stable offset is the first offset of the oldest open
  transaction (else the log end);
* `aborted_transactions` lists every aborted transaction, in marker order;
* a read_committed consumer (Kafka's client algorithm: fetches up to the
  LSO, each with the aborted transactions of its range, dropping aborted
  producers' transactional batches until their abort marker) sees exactly
  the committed records below the LSO, whatever its fetch size.

The same holds after a clean close and reopen, after a crash whose active
segment is torn at a random byte (the model is then what lies below the
recovered log end), and after truncation; the reopened log then ends every
open transaction correctly. After compaction (cleanup.policy=compact, any
number of cleaning rounds) a read_committed consumer still sees, for every
key, its latest committed record below the LSO, and no aborted record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kwire_protocol.records.batch import split_batches
from kwire_protocol.records.builder import build_batch
from kwire_protocol.records.control import ABORT, control_type
from kwire_protocol.records.record import NewRecord

from kwire_storage.cleaner import clean_log
from kwire_storage.errors import InvalidTxnStateError
from kwire_storage.log import Log

from tests.storage.helpers import Clock, small_config

T0 = 1_700_000_000_000
PRODUCERS = (1, 2, 3)


@dataclass
class Appended:
    """One append as the model sees it."""

    producer_id: int  # -1: a plain batch
    first_offset: int
    last_offset: int
    values: list[bytes] = field(default_factory=list)
    transactional: bool = False
    marker: bool | None = None  # commit (True) / abort (False) for a marker


@dataclass
class Expected:
    last_stable_offset: int
    aborted: list[tuple[int, int]]
    visible: list[tuple[int, bytes]]
    open_producers: list[int]


def replay(appended: list[Appended], end: int) -> Expected:
    """What a log holding `appended` below `end` must answer."""
    open_txns: dict[int, tuple[int, list[tuple[int, bytes]]]] = {}
    visible: list[tuple[int, bytes]] = []
    aborted: list[tuple[int, int]] = []
    for a in appended:
        if a.last_offset >= end:
            break
        records = [(a.first_offset + i, v) for i, v in enumerate(a.values)]
        if a.marker is not None:
            txn = open_txns.pop(a.producer_id, None)
            if txn is not None:
                if a.marker:
                    visible.extend(txn[1])
                else:
                    aborted.append((a.producer_id, txn[0]))
        elif a.transactional:
            open_txns.setdefault(a.producer_id, (a.first_offset, []))[1].extend(records)
        else:
            visible.extend(records)
    lso = min((first for first, _ in open_txns.values()), default=end)
    return Expected(lso, aborted, sorted((o, v) for o, v in visible if o < lso), sorted(open_txns))


def read_committed(log: Log, max_bytes: int) -> list[tuple[int, bytes]]:
    """A read_committed consumer from offset 0, fetching as the broker answers (fetch.py)."""
    seen: list[tuple[int, bytes]] = []
    offset = 0
    for _ in range(10_000):
        lso = log.last_stable_offset
        chunk = log.read(offset, max_bytes, max_offset=lso)
        if not chunk.size:
            break
        aborted = sorted(log.aborted_transactions(offset, min(lso, log.offset_after(chunk))), key=lambda t: t[1])
        aborted_producers: set[int] = set()
        for batch in split_batches(chunk.read()):
            while aborted and aborted[0][1] <= batch.last_offset:
                aborted_producers.add(aborted.pop(0)[0])
            if batch.is_control:
                if batch.records_count and control_type(batch) == ABORT:  # the cleaner may leave it empty
                    aborted_producers.discard(batch.producer_id)
            elif not (batch.is_transactional and batch.producer_id in aborted_producers):
                seen.extend((r.offset, r.value) for r in batch.records() if r.offset >= offset)
            offset = batch.next_offset
    return seen


def check(log: Log, appended: list[Appended], max_bytes: int) -> Expected:
    log.update_high_watermark(log.log_end_offset)
    expected = replay(appended, log.log_end_offset)
    assert log.last_stable_offset == expected.last_stable_offset
    assert log.aborted_transactions(0, log.log_end_offset) == expected.aborted
    assert sorted(log.producer_state.ongoing) == expected.open_producers
    assert read_committed(log, max_bytes) == expected.visible
    return expected


def finish_open_transactions(log: Log, appended: list[Appended], expected: Expected) -> None:
    """Abort what is still open: the reloaded state must know each transaction's first offset."""
    for producer_id in expected.open_producers:
        info = log.append_marker(producer_id, 0, 0, commit=False)
        appended.append(Appended(producer_id, info.first_offset, info.last_offset, marker=False))


op = st.one_of(
    st.tuples(st.just("data"), st.sampled_from(PRODUCERS), st.booleans(), st.integers(1, 4)),
    st.tuples(st.just("plain"), st.just(-1), st.just(False), st.integers(1, 3)),
    st.tuples(st.just("marker"), st.sampled_from(PRODUCERS), st.booleans(), st.just(0)),
    st.tuples(st.just("roll"), st.just(-1), st.just(False), st.just(0)),
)


def key_of(value: bytes) -> bytes:
    """Three keys, so compaction has work: the record number picks one."""
    return b"k%d" % (int(value.split(b"-")[1].split(b".")[0]) % 3)


def run(log: Log, ops: list[tuple[str, int, bool, int]]) -> list[Appended]:
    appended: list[Appended] = []
    sequences = dict.fromkeys(PRODUCERS, 0)
    in_txn = dict.fromkeys(PRODUCERS, False)
    for n, (kind, producer_id, flag, count) in enumerate(ops):
        if kind == "roll":
            log.roll()
        elif kind == "marker":
            info = log.append_marker(producer_id, 0, 0, commit=flag)
            appended.append(Appended(producer_id, info.first_offset, info.last_offset, marker=flag))
            in_txn[producer_id] = False
        else:
            values = [b"%d-%d" % (n, i) + b"." * 90 for i in range(count)]
            records = [NewRecord(key=key_of(v), value=v, timestamp=T0) for v in values]
            if kind == "plain":
                data = build_batch(records)
            else:
                data = build_batch(records, producer_id=producer_id, producer_epoch=0,
                                   base_sequence=sequences[producer_id], is_transactional=flag)
                if in_txn[producer_id] and not flag:
                    with pytest.raises(InvalidTxnStateError):
                        log.append(data)
                    continue
            info = log.append(data)
            if kind == "data":
                sequences[producer_id] += count
                in_txn[producer_id] = in_txn[producer_id] or flag
            appended.append(Appended(producer_id, info.first_offset, info.last_offset, values, transactional=flag))
    return appended


SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
OPS = st.lists(op, min_size=1, max_size=40)


def open_log(directory: Path, clock: Clock, **kwargs: object) -> Log:
    return Log(directory / "t-0", small_config(), clock=clock, **kwargs)  # type: ignore[arg-type]


@SETTINGS
@given(ops=OPS, max_bytes=st.sampled_from([1, 300, 1 << 20]))
def test_live_and_after_clean_reopen(tmp_path_factory: pytest.TempPathFactory, ops: list[tuple[str, int, bool, int]],
                                     max_bytes: int) -> None:
    directory, clock = tmp_path_factory.mktemp("txn"), Clock(T0)
    log = open_log(directory, clock)
    appended = run(log, ops)
    check(log, appended, max_bytes)
    end = log.log_end_offset
    log.close()
    log = open_log(directory, clock, clean_shutdown=True, recovery_point=end)
    expected = check(log, appended, max_bytes)
    finish_open_transactions(log, appended, expected)
    check(log, appended, max_bytes)
    log.close()


@SETTINGS
@given(ops=OPS, cut=st.floats(0, 1), from_start=st.booleans(), max_bytes=st.sampled_from([300, 1 << 20]))
def test_after_crash_with_torn_tail(tmp_path_factory: pytest.TempPathFactory, ops: list[tuple[str, int, bool, int]],
                                    cut: float, from_start: bool, max_bytes: int) -> None:
    directory, clock = tmp_path_factory.mktemp("txn"), Clock(T0)
    log = open_log(directory, clock)
    appended = run(log, ops)
    recovery_point = 0 if from_start else log.recovery_point
    active = log.active_segment.log.path
    log.close_unclean()
    with open(active, "r+b") as f:
        f.truncate(int(f.seek(0, 2) * cut))
    log = open_log(directory, clock, recovery_point=recovery_point)
    assert log.log_end_offset in {0} | {a.last_offset + 1 for a in appended}, "recovery cuts at a batch boundary"
    kept = [a for a in appended if a.last_offset < log.log_end_offset]
    expected = check(log, kept, max_bytes)
    finish_open_transactions(log, kept, expected)
    check(log, kept, max_bytes)
    log.close()


@SETTINGS
@given(ops=OPS, target=st.floats(0, 1), max_bytes=st.sampled_from([300, 1 << 20]))
def test_after_truncation(tmp_path_factory: pytest.TempPathFactory, ops: list[tuple[str, int, bool, int]],
                          target: float, max_bytes: int) -> None:
    directory, clock = tmp_path_factory.mktemp("txn"), Clock(T0)
    log = open_log(directory, clock)
    appended = run(log, ops)
    log.truncate_to(int(log.log_end_offset * target))
    kept = [a for a in appended if a.last_offset < log.log_end_offset]
    expected = check(log, kept, max_bytes)
    finish_open_transactions(log, kept, expected)
    check(log, kept, max_bytes)
    log.close()


@SETTINGS
@given(ops=OPS, rounds=st.integers(1, 3))
def test_compaction_keeps_the_latest_committed_value_of_each_key(tmp_path_factory: pytest.TempPathFactory,
                                                                 ops: list[tuple[str, int, bool, int]], rounds: int) -> None:
    directory, clock = tmp_path_factory.mktemp("txn"), Clock(T0)
    log = Log(directory / "t-0", small_config(**{"cleanup.policy": "compact", "delete.retention.ms": 100}), clock=clock)
    appended = run(log, ops)
    log.roll()
    expected = check(log, appended, 1 << 20)
    for _ in range(rounds):
        clean_log(log, clock(), force=True)
        clock.advance(100)
    seen = read_committed(log, 1 << 20)
    assert latest_per_key(seen) == latest_per_key(expected.visible)
    assert set(seen) <= set(expected.visible), "only committed records, never an aborted one"
    assert log.last_stable_offset == expected.last_stable_offset
    log.close()


def latest_per_key(records: list[tuple[int, bytes]]) -> dict[bytes, tuple[int, bytes]]:
    latest: dict[bytes, tuple[int, bytes]] = {}
    for offset, value in records:
        latest[key_of(value)] = (offset, value)
    return latest
