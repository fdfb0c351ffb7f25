import os
import threading

import pytest

from kwire_protocol.records.builder import build_batch
from kwire_protocol.records.record import NewRecord

from kwire_storage.cleaner import LogCleaner, clean_log, dirty_ratio, needs_cleaning
from kwire_storage.errors import OutOfOrderSequenceError
from kwire_storage.log import Log
from kwire_storage.recovery import CLEANED_SUFFIX

from tests.storage.helpers import Clock, check_indexes, make_batch, read_all, small_config

T0 = 1_700_000_000_000


def records(log):
    return [(r.offset, r.key, r.value) for b in read_all(log) for r in b.records()]


def compacted_log(tmp_path, clock, **overrides):
    config = small_config(**{"cleanup.policy": "compact", "delete.retention.ms": 10_000, **overrides})
    return Log(tmp_path / "compact-0", config, clock=clock)


def fill(log, clock, n, keys=10, tombstone_every=0):
    latest = {}
    for i in range(n):
        key = b"k%d" % (i % keys)
        value = None if tombstone_every and i % tombstone_every == tombstone_every - 1 else b"v%d" % i
        offset = log.append(make_batch([value], key=key, timestamp=clock.now)).first_offset
        latest[key] = (offset, value)
        clock.advance(1)
    log.update_high_watermark(log.log_end_offset)
    return latest


def test_latest_value_per_key_stays_at_its_offset(tmp_path):
    clock = Clock(T0)
    log = compacted_log(tmp_path, clock)
    latest = fill(log, clock, 300, keys=17)
    active_base = log.active_segment.base_offset
    result = clean_log(log, clock.now)
    assert result is not None and result.records_removed > 0
    after = records(log)
    kept = {key: (offset, value) for offset, key, value in after}
    for key, (offset, value) in latest.items():
        assert kept[key] == (offset, value)
        assert log.read(offset, 1).base_offset <= offset
    # Below the active segment each key appears once; the active segment is untouched.
    cleaned = [(o, k) for o, k, _ in after if o < active_base]
    assert len({k for _, k in cleaned}) == len(cleaned)
    assert [r for r in after if r[0] >= active_base] == [
        (o, b"k%d" % (o % 17), b"v%d" % o) for o in range(active_base, 300)]
    offsets = [o for o, _, _ in after]
    assert offsets == sorted(offsets) and offsets[-1] == 299
    check_indexes(log)
    # A reader can still start at any offset, including ones removed (gaps).
    assert log.read(0, 10**6).size > 0
    assert log.log_end_offset == 300


def test_tombstones_survive_delete_retention_then_go(tmp_path):
    clock = Clock(T0)
    log = compacted_log(tmp_path, clock, **{"delete.retention.ms": 10_000})
    for i in range(60):
        log.append(make_batch([b"v%d" % i], key=b"k%d" % (i % 6), timestamp=clock.now))
    doomed = log.append(make_batch([None], key=b"k0", timestamp=clock.now)).first_offset
    for i in range(60):  # push the tombstone out of the active segment
        log.append(make_batch([b"w%d" % i], key=b"other%d" % i, timestamp=clock.now))
    log.update_high_watermark(log.log_end_offset)
    assert clean_log(log, clock.now, force=True) is not None
    assert (doomed, b"k0", None) in records(log)
    assert not [r for r in records(log) if r[1] == b"k0" and r[0] != doomed]
    clock.advance(9_999)
    clean_log(log, clock.now, force=True)
    assert (doomed, b"k0", None) in records(log)
    assert log.earliest_delete_horizon == T0 + 10_000
    assert needs_cleaning(log, clock.now + 1)
    clock.advance(1)
    result = clean_log(log, clock.now)
    assert result is not None and result.tombstones_removed == 1
    assert not [r for r in records(log) if r[1] == b"k0"]
    check_indexes(log)


def test_dirty_ratio_and_compaction_lags(tmp_path):
    clock = Clock(T0)
    log = compacted_log(tmp_path, clock, **{"min.cleanable.dirty.ratio": 0.9})
    fill(log, clock, 200)
    assert dirty_ratio(log, clock.now) == 1.0
    assert clean_log(log, clock.now) is not None
    assert log.cleaner_checkpoint == log.active_segment.base_offset
    fill(log, clock, 60)
    assert 0 < dirty_ratio(log, clock.now) < 0.9
    assert needs_cleaning(log, clock.now) is False and clean_log(log, clock.now) is None
    # max.compaction.lag.ms forces a clean whatever the ratio.
    log.update_config(log.config.with_overrides({"max.compaction.lag.ms": 1000}))
    clock.advance(2000)
    assert needs_cleaning(log, clock.now)
    # min.compaction.lag.ms keeps young segments out.
    log.update_config(log.config.with_overrides({"min.compaction.lag.ms": 10**9}))
    before = records(log)
    result = clean_log(log, clock.now, force=True)
    assert result is None or (result.bytes_read, result.records_removed) == (0, 0)  # only empty segments
    assert records(log) == before


def test_crash_mid_clean_leaves_old_or_new_segments(tmp_path):
    clock = Clock(T0)
    config = small_config(**{"cleanup.policy": "compact"})
    log = Log(tmp_path / "compact-0", config, clock=clock)
    fill(log, clock, 200, keys=7)
    before = records(log)
    log.close()
    directory = tmp_path / "compact-0"
    # A cleaning that never committed: .cleaned output is discarded.
    (directory / f"{0:020d}.log{CLEANED_SUFFIX}").write_bytes(b"partial output")
    log = Log(directory, config, clock=clock)
    assert records(log) == before
    assert not list(directory.glob("*.cleaned"))
    # A committed swap whose renames were interrupted: recovery finishes it.
    log.update_high_watermark(log.log_end_offset)
    clean_log(log, clock.now)
    after = records(log)
    cleaned_base = log.segments[0].base_offset
    log.close()
    swapped = directory / f"{cleaned_base:020d}.log"
    os.replace(swapped, directory / f"{cleaned_base:020d}.log.swap")
    (directory / f"{cleaned_base:020d}.index").unlink()
    # Put an old, uncleaned segment back under the final name, as before the swap's last rename.
    old = Log(tmp_path / "scratch-0", config, clock=Clock(T0))
    fill(old, Clock(T0), 200, keys=7)
    first_old = old.segments[0]
    os.replace(first_old.log.path, swapped)
    old.close_unclean()
    log = Log(directory, config, clock=clock)
    assert records(log) == after
    check_indexes(log)


def test_cleaner_thread_does_not_block_appends_or_reads(tmp_path):
    clock = Clock(T0)
    log = compacted_log(tmp_path, clock, **{"internal.segment.bytes": 8192})
    fill(log, clock, 600, keys=5)
    cleaner = LogCleaner(lambda: [log], backoff_ms=1)
    stop = threading.Event()
    errors = []

    def reader():
        while not stop.is_set():
            try:
                assert log.read(log.log_start_offset, 10**6).size >= 0
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    cleaner.start()
    try:
        for i in range(300):
            log.append(make_batch([b"late%d" % i], key=b"k%d" % (i % 5), timestamp=clock.now))
            log.update_high_watermark(log.log_end_offset)
    finally:
        stop.set()
        thread.join()
        cleaner.stop()
    assert not errors
    assert cleaner.rounds >= 1
    final = {k: (o, v) for o, k, v in records(log)}
    assert final == {b"k%d" % j: (600 + 295 + j, b"late%d" % (295 + j)) for j in range(5)}
    check_indexes(log)


# -- transactions --------------------------------------------------------------------------


def keyed(key, value, producer_id=-1, sequence=-1, transactional=False, timestamp=T0):
    return build_batch([NewRecord(key=key, value=value, timestamp=timestamp)], producer_id=producer_id,
                       producer_epoch=0 if producer_id >= 0 else -1, base_sequence=sequence, is_transactional=transactional)


def push_out_of_active(log, clock, n=40):
    for i in range(n):
        log.append(make_batch([b"f" * 200], key=b"filler%d" % i, timestamp=clock.now))
    log.update_high_watermark(log.log_end_offset)


def batches_of(log, producer_id):
    return [b for b in read_all(log) if b.producer_id == producer_id]


def test_aborted_records_go_and_markers_follow_once_their_transaction_is_gone(tmp_path):
    clock = Clock(T0)
    log = compacted_log(tmp_path, clock, **{"delete.retention.ms": 10_000})
    log.append(keyed(b"k", b"committed", 1, 0, True))
    log.append_marker(1, 0, 0, commit=True)
    aborted_at = log.append(keyed(b"k", b"aborted", 2, 0, True)).first_offset
    abort_marker = log.append_marker(2, 0, 0, commit=False).first_offset
    log.append(keyed(b"later", b"x", 2, 1, True))   # producer 2's last batch is a later one
    log.append_marker(2, 0, 0, commit=True)
    push_out_of_active(log, clock)
    assert log.aborted_transactions(0, log.log_end_offset) == [(2, aborted_at)]

    clean_log(log, clock.now, force=True)
    # The aborted record is gone and did not shadow the committed value of its key.
    assert [(o, k, v) for o, k, v in records(log) if k == b"k"] == [(0, b"k", b"committed")]
    # Its marker stays this round (the round still removed its batch), with its .txnindex entry.
    marker = next(b for b in read_all(log) if b.base_offset == abort_marker)
    assert marker.is_control and not marker.has_delete_horizon
    assert log.aborted_transactions(0, log.log_end_offset) == [(2, aborted_at)]
    assert log.segments[0].txn_index.path.exists()

    clean_log(log, clock.now, force=True)
    # Nothing of the transaction is left: the marker gets a delete horizon, the index entry goes.
    marker = next(b for b in read_all(log) if b.base_offset == abort_marker)
    assert marker.has_delete_horizon and marker.base_timestamp == clock.now + 10_000
    assert log.aborted_transactions(0, log.log_end_offset) == []
    assert log.earliest_delete_horizon == clock.now + 10_000
    clock.advance(10_000)
    assert needs_cleaning(log, clock.now)
    clean_log(log, clock.now)
    assert abort_marker not in [b.base_offset for b in read_all(log)]
    # The committed transactions' markers still guard their records.
    assert [b.is_control for b in batches_of(log, 1)] == [False, True]
    check_indexes(log)


def test_open_transaction_and_what_follows_are_not_cleaned(tmp_path):
    clock = Clock(T0)
    log = compacted_log(tmp_path, clock)
    log.append(keyed(b"k", b"v0"))
    log.roll()
    open_at = log.append(keyed(b"k", b"open", 3, 0, True)).first_offset
    log.roll()
    log.append(keyed(b"k", b"v1"))
    push_out_of_active(log, clock)
    assert log.last_stable_offset == open_at
    clean_log(log, clock.now, force=True)
    assert [(o, v) for o, k, v in records(log) if k == b"k"] == [(0, b"v0"), (open_at, b"open"), (open_at + 1, b"v1")]
    log.append_marker(3, 0, 0, commit=True)
    log.roll()
    log.update_high_watermark(log.log_end_offset)
    clean_log(log, clock.now, force=True)
    assert [(o, v) for o, k, v in records(log) if k == b"k"] == [(open_at + 1, b"v1")]


def test_each_producers_last_batch_is_kept_empty(tmp_path):
    """Kafka's RETAIN_EMPTY: the header keeps the producer's epoch and sequences through cleaning."""
    clock = Clock(T0)
    log = compacted_log(tmp_path, clock)
    log.append(keyed(b"k", b"idempotent", 5, 0))       # then shadowed by a plain record
    log.append(keyed(b"j", b"aborted", 6, 0, True))    # aborted, and producer 6's last batch
    log.append_marker(6, 0, 0, commit=False)
    log.append(keyed(b"k", b"plain"))
    push_out_of_active(log, clock)
    before = {pid: entry.copy() for pid, entry in log.producer_state.producers.items()}
    clean_log(log, clock.now, force=True)
    for producer_id in (5, 6):
        [kept] = [b for b in batches_of(log, producer_id) if not b.is_control]
        assert (kept.records_count, kept.base_sequence, kept.last_offset_delta) == (0, 0, 0)
    assert not [r for r in records(log) if r[2] in (b"idempotent", b"aborted")]
    # The state reloads from the emptied batches alone.
    for offset in log.producer_state.snapshot_offsets():
        log.producer_state.snapshot_path(offset).unlink()
    log.close()
    reopened = Log(log.dir, log.config, clock=clock)
    assert {pid: e.last_sequence for pid, e in reopened.producer_state.producers.items() if pid in (5, 6)} == {5: 0, 6: 0}
    assert reopened.producer_state.producers[5] == before[5]
    with pytest.raises(OutOfOrderSequenceError):
        reopened.append(keyed(b"k", b"gap", 5, 5))
    reopened.append(keyed(b"k", b"next", 5, 1))
