import logging
import os

import pytest

from kwire_protocol.errors import CorruptRecordError
from kwire_protocol.records.batch import RecordBatch, split_batches

from kwire_storage.config import LogConfig
from kwire_storage.errors import (
    LogClosedError,
    OffsetOutOfRangeError,
    RecordBatchTooLargeError,
    UnexpectedAppendOffsetError,
)
from kwire_storage.log import Log
from kwire_storage.retention import delete_old_segments

from tests.storage.helpers import Clock, check_indexes, make_batch, read_all, segment_files, small_config

T0 = 1_700_000_000_000


def values_of(batches):
    return [(r.offset, r.value) for b in batches for r in b.records()]


@pytest.fixture
def clock():
    return Clock(T0)


def open_log(tmp_path, config=None, clock=None, **kwargs):
    return Log(tmp_path / "topic-0", config or small_config(), clock=clock or Clock(T0), **kwargs)


def test_append_assigns_offsets_and_patches_in_place(tmp_path, clock):
    log = open_log(tmp_path, clock=clock)
    first = bytearray(make_batch([b"a", b"b", b"c"], timestamp=T0))
    info = log.append(first)
    assert (info.first_offset, info.last_offset, info.records_count) == (0, 2, 3)
    assert (info.max_timestamp, info.offset_of_max_timestamp, info.log_append_time) == (T0 + 2, 2, -1)
    second = make_batch([b"d"], timestamp=T0)  # read-only input: copied, then patched
    info = log.append(second)
    assert (info.first_offset, info.last_offset) == (3, 3)
    assert RecordBatch(memoryview(first)).base_offset == 0
    assert log.log_end_offset == 4
    assert values_of(read_all(log)) == [(0, b"a"), (1, b"b"), (2, b"c"), (3, b"d")]
    # The caller's bytearray was patched in place, and the file holds exactly those bytes.
    assert log.read(0, 10**6).read() == bytes(first) + bytes(log.read(3, 10**6).read())


def test_multi_batch_append_is_one_write_with_consecutive_offsets(tmp_path):
    log = open_log(tmp_path)
    blob = make_batch([b"x"] * 2) + make_batch([b"y"] * 3)
    info = log.append(blob)
    assert (info.first_offset, info.last_offset, info.size) == (0, 4, len(blob))
    assert [b.base_offset for b in read_all(log)] == [0, 2]


def test_corrupt_append_is_rejected_and_nothing_is_written(tmp_path):
    log = open_log(tmp_path)
    log.append(make_batch([b"ok"]))
    bad = bytearray(make_batch([b"bad"]))
    bad[-1] ^= 0xFF
    with pytest.raises(CorruptRecordError, match="CRC"):
        log.append(bytes(make_batch([b"fine"])) + bytes(bad))
    with pytest.raises(CorruptRecordError):
        log.append(make_batch([b"torn"])[:-3])
    with pytest.raises(CorruptRecordError):
        log.append(b"")
    assert log.log_end_offset == 1 and log.size == len(make_batch([b"ok"]))


def test_append_larger_than_a_segment_is_rejected(tmp_path):
    log = open_log(tmp_path)
    with pytest.raises(RecordBatchTooLargeError):
        log.append(make_batch([b"z" * 5000]))
    assert log.log_end_offset == 0


def test_log_append_time_patches_timestamp_and_crc(tmp_path, clock):
    log = open_log(tmp_path, small_config(**{"message.timestamp.type": "LogAppendTime"}), clock=clock)
    clock.advance(5000)
    info = log.append(make_batch([b"a", b"b"], timestamp=T0))
    assert info.log_append_time == T0 + 5000 and info.max_timestamp == T0 + 5000
    (batch,) = read_all(log)
    batch.validate()
    assert batch.timestamp_type == 1 and batch.max_timestamp == T0 + 5000
    assert [r.timestamp for r in batch.records()] == [T0 + 5000] * 2


def test_leader_epoch_is_stamped_and_cached(tmp_path):
    log = open_log(tmp_path)
    log.append(make_batch([b"a"]), leader_epoch=3)
    log.append(make_batch([b"b"]), leader_epoch=3)
    log.append(make_batch([b"c"]), leader_epoch=5)
    assert [b.partition_leader_epoch for b in read_all(log)] == [3, 3, 5]
    assert log.leader_epoch_cache.entries == [(3, 0), (5, 2)]
    assert (tmp_path / "topic-0" / "leader-epoch-checkpoint").read_text() == "0\n2\n3 0\n5 2\n"
    log.truncate_to(2)
    assert log.leader_epoch_cache.entries == [(3, 0)]


def test_follower_append_keeps_offsets_and_checks_order(tmp_path):
    leader = open_log(tmp_path / "leader")
    for i in range(3):
        leader.append(make_batch([b"v%d" % i] * 2))
    data = leader.read(0, 10**6).read()
    follower = open_log(tmp_path / "follower")
    batches = list(split_batches(data))
    follower.append(bytes(batches[0].buffer), assign_offsets=False)
    with pytest.raises(UnexpectedAppendOffsetError):
        follower.append(bytes(batches[0].buffer), assign_offsets=False)
    follower.append(bytes(batches[1].buffer) + bytes(batches[2].buffer), assign_offsets=False)
    assert follower.read(0, 10**6).read() == data
    assert follower.log_end_offset == 6


def test_read_returns_whole_batches_within_max_bytes(tmp_path):
    log = open_log(tmp_path, small_config(**{"internal.segment.bytes": 1 << 20}))
    sizes = []
    for i in range(10):
        batch = make_batch([b"v" * (10 * i + 1)])
        sizes.append(len(batch))
        log.append(batch)
    # Exactly the first three batches fit.
    limit = sum(sizes[:3]) + sizes[3] - 1
    s = log.read(0, limit)
    assert (s.position, s.size, s.base_offset) == (0, sum(sizes[:3]), 0)
    # Starting mid-log.
    s = log.read(4, sizes[4] + sizes[5])
    assert (s.position, s.size, s.base_offset) == (sum(sizes[:4]), sizes[4] + sizes[5], 4)
    # The first batch comes back whole even above max_bytes (Kafka's rule) ...
    s = log.read(9, 1)
    assert s.size == sizes[9]
    # ... unless min_one_message is off.
    assert log.read(9, 1, min_one_message=False).size == 0
    # Bounded by an upper offset (the high watermark).
    assert log.read(0, 10**6, max_offset=3).size == sum(sizes[:3])
    assert log.read(3, 10**6, max_offset=3).size == 0
    # At the end: empty; past it or before the start: out of range.
    assert log.read(10, 100).size == 0
    with pytest.raises(OffsetOutOfRangeError) as exc:
        log.read(11, 100)
    assert (exc.value.log_start_offset, exc.value.log_end_offset) == (0, 10)


def test_read_slice_can_be_sendfiled(tmp_path):
    log = open_log(tmp_path)
    log.append(make_batch([b"hello"]))
    s = log.read(0, 1000)
    r, w = os.pipe()
    try:
        assert s.sendfile(w) == s.size
        assert os.read(r, 10000) == s.read()
    finally:
        os.close(r)
        os.close(w)


def test_roll_on_segment_bytes_with_kafka_layout(tmp_path):
    log = open_log(tmp_path, small_config(**{"internal.segment.bytes": 1000}))
    batch_size = len(make_batch([b"x" * 200]))
    for _ in range(10):
        log.append(make_batch([b"x" * 200]))
    per_segment = 1000 // batch_size
    assert [s.base_offset for s in log.segments] == list(range(0, 10, per_segment))
    assert all(s.size <= 1000 for s in log.segments)
    names = segment_files(tmp_path / "topic-0")
    assert "00000000000000000000.log" in names and f"{per_segment:020d}.index" in names
    # Rolled segments have trimmed indexes; the active one is preallocated.
    assert log.segments[0].offset_index.path.stat().st_size == 8 * log.segments[0].offset_index.entries
    assert log.active_segment.offset_index.path.stat().st_size == 10485760
    check_indexes(log)


def test_roll_on_segment_ms_uses_batch_timestamps(tmp_path, clock):
    log = open_log(tmp_path, small_config(**{"segment.ms": 1000}), clock=clock)
    log.append(make_batch([b"a"], timestamp=T0))
    log.append(make_batch([b"b"], timestamp=T0 + 1000))
    assert len(log.segments) == 1
    log.append(make_batch([b"c"], timestamp=T0 + 1001))
    assert [s.base_offset for s in log.segments] == [0, 2]


def test_roll_when_index_fills(tmp_path):
    log = open_log(tmp_path, small_config(**{"segment.index.bytes": 40, "index.interval.bytes": 0,
                                            "internal.segment.bytes": 1 << 20}))
    for i in range(12):
        log.append(make_batch([b"v"]))
    assert len(log.segments) > 1
    for segment in log.segments:
        assert segment.offset_index.entries <= 5
    check_indexes(log)
    assert values_of(read_all(log)) == [(i, b"v") for i in range(12)]


def test_index_lookups_land_on_batches(tmp_path):
    log = open_log(tmp_path, small_config(**{"internal.segment.bytes": 1 << 20, "index.interval.bytes": 100}))
    for i in range(200):
        log.append(make_batch([b"%d" % i] * (1 + i % 3)))
    assert log.active_segment.offset_index.entries > 10
    check_indexes(log)
    offset = 0
    for batch in read_all(log):
        for o in range(batch.base_offset, batch.next_offset):
            s = log.read(o, 1)
            assert s.base_offset == batch.base_offset
        offset = batch.next_offset
    assert offset == log.log_end_offset


def test_offset_for_timestamp(tmp_path, clock):
    log = open_log(tmp_path, small_config(**{"index.interval.bytes": 0}), clock=clock)
    for i in range(100):
        log.append(make_batch([b"a", b"b"], timestamp=T0 + 10 * i))  # records at T0+10i, T0+10i+1
    assert log.offset_for_timestamp(T0 + 500).offset == 100
    assert log.offset_for_timestamp(T0 + 501).timestamp == T0 + 501
    assert log.offset_for_timestamp(T0 + 501).offset == 101
    assert log.offset_for_timestamp(T0 + 502).offset == 102
    assert log.offset_for_timestamp(0).offset == 0
    assert log.offset_for_timestamp(T0 + 10**6) is None
    assert log.offset_for_timestamp(-2).offset == 0
    assert log.offset_for_timestamp(-1).offset == 200
    top = log.offset_for_timestamp(-3)
    assert (top.timestamp, top.offset) == (T0 + 991, 199)
    log.update_high_watermark(200)
    log.delete_records(150)
    assert log.offset_for_timestamp(T0).offset == 150
    assert log.offset_for_timestamp(-2).offset == 150


def test_truncate_to(tmp_path):
    log = open_log(tmp_path, small_config(**{"internal.segment.bytes": 600}))
    for i in range(20):
        log.append(make_batch([b"%02d" % i] * 2))
    log.update_high_watermark(40)
    assert len(log.segments) == 3
    assert log.truncate_to(41) is False
    assert log.truncate_to(20) is True
    assert (log.log_end_offset, log.high_watermark) == (20, 20)
    assert values_of(read_all(log))[-1] == (19, b"09")
    check_indexes(log)
    # Mid-batch: the straddling batch goes.
    log.truncate_to(15)
    assert log.log_end_offset == 14
    # Appends continue from the new end.
    assert log.append(make_batch([b"new"])).first_offset == 14
    log.truncate_to(0)
    assert (log.log_start_offset, log.log_end_offset, len(log.segments)) == (0, 0, 1)
    assert log.append(make_batch([b"again"])).first_offset == 0


def test_truncate_fully_and_start_at(tmp_path):
    log = open_log(tmp_path)
    log.append(make_batch([b"a"] * 5))
    log.truncate_fully_and_start_at(1000)
    assert (log.log_start_offset, log.high_watermark, log.log_end_offset) == (1000, 1000, 1000)
    assert log.append(make_batch([b"b"])).first_offset == 1000
    assert segment_files(tmp_path / "topic-0")[0] == "00000000000000001000.index"


def test_delete_records_moves_log_start_offset(tmp_path):
    log = open_log(tmp_path, small_config(**{"internal.segment.bytes": 600}))
    for i in range(20):
        log.append(make_batch([b"v"] * 2))
    with pytest.raises(OffsetOutOfRangeError, match="high watermark"):
        log.delete_records(10)
    log.update_high_watermark(30)
    assert log.delete_records(25) == 25
    assert log.delete_records(5) == 25  # never backwards
    with pytest.raises(OffsetOutOfRangeError):
        log.read(24, 100)
    assert log.read(25, 10**6).base_offset == 24  # the batch holding 25 starts at 24
    removed = delete_old_segments(log)
    assert removed > 0 and log.segments[0].base_offset <= 25
    assert log.log_start_offset == 25


def test_retention_by_time_keeps_active_and_respects_high_watermark(tmp_path, clock):
    config = small_config(**{"internal.segment.bytes": 600, "retention.ms": 10000})
    log = open_log(tmp_path, config, clock=clock)
    for i in range(20):
        log.append(make_batch([b"v"] * 2, timestamp=T0 + i * 1000))
    segments = len(log.segments)
    clock.advance(100_000)
    # Nothing above the high watermark may go.
    assert delete_old_segments(log) == 0
    log.update_high_watermark(log.log_end_offset)
    assert delete_old_segments(log) == segments - 1
    assert len(log.segments) == 1 and log.log_start_offset == log.active_segment.base_offset
    assert log.log_start_offset <= log.high_watermark <= log.log_end_offset


def test_retention_by_bytes(tmp_path):
    config = small_config(**{"internal.segment.bytes": 600, "retention.bytes": 1000})
    log = open_log(tmp_path, config)
    for i in range(30):
        log.append(make_batch([b"v"] * 2))
    log.update_high_watermark(log.log_end_offset)
    assert delete_old_segments(log) > 0
    assert log.size >= 1000 and log.size - log.segments[0].size < 1000


def test_compacted_log_is_not_deleted_by_retention(tmp_path, clock):
    config = small_config(**{"internal.segment.bytes": 600, "retention.ms": 1, "cleanup.policy": "compact"})
    log = open_log(tmp_path, config, clock=clock)
    for i in range(20):
        log.append(make_batch([b"v"] * 2, key=b"k"))
    log.update_high_watermark(log.log_end_offset)
    clock.advance(10**9)
    assert delete_old_segments(log) == 0


def test_deleted_files_wait_for_file_delete_delay(tmp_path, clock):
    config = small_config(**{"internal.segment.bytes": 600, "retention.bytes": 0, "file.delete.delay.ms": 60000})
    log = open_log(tmp_path, config, clock=clock)
    for i in range(10):
        log.append(make_batch([b"v"] * 2))
    log.update_high_watermark(log.log_end_offset)
    held = log.read(0, 10**6)
    delete_old_segments(log)
    deleted = [p for p in os.listdir(tmp_path / "topic-0") if p.endswith(".deleted")]
    assert deleted and "00000000000000000000.log.deleted" in deleted
    assert len(held.read()) == held.size  # a slice taken before deletion still reads
    clock.advance(60000)
    delete_old_segments(log)
    assert not [p for p in os.listdir(tmp_path / "topic-0") if p.endswith(".deleted")]


def test_clean_reopen_reads_no_log_data(tmp_path, clock):
    config = small_config(**{"internal.segment.bytes": 600})
    log = open_log(tmp_path, config, clock=clock)
    for i in range(30):
        log.append(make_batch([b"%d" % i]))
    expected = values_of(read_all(log))
    log.close()
    with pytest.raises(LogClosedError):
        log.append(make_batch([b"late"]))
    reopened = open_log(tmp_path, config, clock=clock, recovery_point=30, clean_shutdown=True)
    assert reopened.load_report.truncations == [] and reopened.load_report.rebuilt_indexes == []
    assert reopened.log_end_offset == 30
    assert values_of(read_all(reopened)) == expected
    assert reopened.append(make_batch([b"more"])).first_offset == 30
    check_indexes(reopened)


def test_torn_tail_is_truncated_and_logged(tmp_path, caplog):
    config = small_config(**{"internal.segment.bytes": 1 << 20})
    log = open_log(tmp_path, config)
    for i in range(5):
        log.append(make_batch([b"%d" % i]))
    good_size = log.size
    log.close_unclean()
    torn = make_batch([b"torn write"])
    with open(tmp_path / "topic-0" / "00000000000000000000.log", "ab") as f:
        f.write(torn[: len(torn) - 7])
    with caplog.at_level(logging.ERROR, logger="kwire_storage"):
        reopened = open_log(tmp_path, config)
    (truncation,) = reopened.load_report.truncations
    assert (truncation.position, truncation.bytes_truncated, truncation.last_valid_offset) == (
        good_size, len(torn) - 7, 4)
    assert "torn write" in truncation.reason
    assert f"truncated {len(torn) - 7} bytes at position {good_size} (last valid offset 4)" in caplog.text
    assert reopened.log_end_offset == 5 and reopened.size == good_size
    check_indexes(reopened)


def test_corrupt_batch_cuts_the_log_there_and_drops_later_segments(tmp_path, caplog):
    config = small_config(**{"internal.segment.bytes": 600})
    log = open_log(tmp_path, config)
    for i in range(20):
        log.append(make_batch([b"%02d" % i]))
    bases = [s.base_offset for s in log.segments]
    assert len(bases) >= 3
    second = log.segments[1]
    position = second.log.headers(0).__next__().size  # corrupt the second batch of segment 2
    log.close_unclean()
    path = tmp_path / "topic-0" / f"{bases[1]:020d}.log"
    data = bytearray(path.read_bytes())
    data[position + 63] ^= 0x55  # inside the records, covered by the CRC
    path.write_bytes(bytes(data))
    with caplog.at_level(logging.ERROR, logger="kwire_storage"):
        reopened = open_log(tmp_path, config)
    (truncation,) = reopened.load_report.truncations
    assert truncation.segment_base_offset == bases[1] and truncation.position == position
    assert "CRC" in truncation.reason
    assert [r.base_offset for r in reopened.load_report.removed_segments] == bases[2:]
    assert reopened.log_end_offset == bases[1] + 1
    assert f"removing segment {bases[2]}" in caplog.text
    assert values_of(read_all(reopened)) == [(i, b"%02d" % i) for i in range(bases[1] + 1)]


def test_missing_and_damaged_indexes_are_rebuilt(tmp_path):
    config = small_config(**{"internal.segment.bytes": 600, "index.interval.bytes": 0})
    log = open_log(tmp_path, config)
    for i in range(20):
        log.append(make_batch([b"%02d" % i]))
    log.close()
    directory = tmp_path / "topic-0"
    (directory / "00000000000000000000.index").unlink()
    second = sorted(directory.glob("*.index"))[0]
    second.write_bytes(second.read_bytes()[:-3])  # not a whole number of entries
    reopened = open_log(tmp_path, config, recovery_point=20, clean_shutdown=True)
    assert len(reopened.load_report.rebuilt_indexes) == 2
    check_indexes(reopened)
    assert values_of(read_all(reopened)) == [(i, b"%02d" % i) for i in range(20)]


def test_flush_messages_moves_recovery_point(tmp_path):
    log = open_log(tmp_path, small_config(**{"flush.messages": 3}))
    log.append(make_batch([b"a"]))
    log.append(make_batch([b"b"]))
    assert log.recovery_point == 0
    log.append(make_batch([b"c"]))
    assert log.recovery_point == 3


def test_flush_ms(tmp_path, clock):
    log = open_log(tmp_path, small_config(**{"flush.ms": 1000}), clock=clock)
    log.append(make_batch([b"a"]))
    assert log.flush_if_due() is False
    clock.advance(1000)
    assert log.flush_if_due() is True and log.recovery_point == 1


def test_recovery_point_moves_on_roll(tmp_path):
    log = open_log(tmp_path)
    log.append(make_batch([b"a"] * 4))
    assert log.recovery_point == 0
    log.roll()
    assert log.recovery_point == 4 and log.active_segment.base_offset == 4
    assert log.roll() is log.active_segment  # rolling an empty active segment is a no-op


def test_high_watermark_is_clamped(tmp_path):
    log = open_log(tmp_path)
    log.append(make_batch([b"a"] * 4))
    assert log.update_high_watermark(100) == 4
    assert log.update_high_watermark(-5) == 0
    assert log.maybe_increment_high_watermark(2) is True
    assert log.maybe_increment_high_watermark(1) is False and log.high_watermark == 2


def test_partition_dir_name_must_be_topic_dash_partition(tmp_path):
    with pytest.raises(ValueError):
        Log(tmp_path / "nodash", LogConfig())
    log = Log(tmp_path / "my-topic-12", LogConfig())
    assert (log.topic, log.partition) == ("my-topic", 12)
    log.close()
