"""ListOffsets lookups: earliest, latest, max timestamp, and by timestamp.

By timestamp, the answer is the first record (by offset, at or after the log
start offset) whose timestamp is >= the target, as in Kafka. The time index
of the first segment whose largest timestamp reaches the target gives an
offset at most one index interval before the batch; a short header scan
finds the first batch whose max timestamp reaches the target, and only that
batch is decoded to pick the record. With LogAppendTime every record's
timestamp is its batch's append time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kwire_protocol.records.batch import RecordBatch

from kwire_storage.errors import InvalidTimestampError

if TYPE_CHECKING:
    from kwire_storage.log import Log, TimestampAndOffset
    from kwire_storage.segment import LogSegment

# Kafka's ListOffsets sentinels.
LATEST_TIMESTAMP = -1
EARLIEST_TIMESTAMP = -2
MAX_TIMESTAMP = -3
EARLIEST_LOCAL_TIMESTAMP = -4
NO_TIMESTAMP = -1


def _result(log: Log, timestamp: int, offset: int) -> TimestampAndOffset:
    from kwire_storage.log import TimestampAndOffset

    return TimestampAndOffset(timestamp, offset, log.leader_epoch_cache.epoch_for_offset(offset))


def _first_record_at_or_after(log: Log, segment: LogSegment, timestamp: int, start_offset: int) -> TimestampAndOffset | None:
    header = segment.find_batch_by_timestamp(timestamp, start_offset)
    while header is not None:
        data = segment.log.read_exact(header.size, header.position)
        for record in RecordBatch(memoryview(data)).records():
            if record.offset >= start_offset and record.timestamp >= timestamp:
                return _result(log, record.timestamp, record.offset)
        # Only possible if every matching record is below the start offset.
        header = segment.translate_offset(header.next_offset)
        while header is not None and header.max_timestamp < timestamp:
            header = segment.translate_offset(header.next_offset)
    return None


def fetch_offset_by_timestamp(log: Log, timestamp: int) -> TimestampAndOffset | None:
    """ListOffsets for one partition; None means no record has such a timestamp."""
    if timestamp in (EARLIEST_TIMESTAMP, EARLIEST_LOCAL_TIMESTAMP):
        return _result(log, NO_TIMESTAMP, log.log_start_offset)
    if timestamp == LATEST_TIMESTAMP:
        end = log.log_end_offset
        return _result(log, NO_TIMESTAMP, end)
    if timestamp == MAX_TIMESTAMP:
        return max_timestamp_offset(log)
    if timestamp < 0:
        raise InvalidTimestampError(f"unsupported ListOffsets timestamp {timestamp}")
    start = log.log_start_offset
    for segment in log.segments:
        if segment.size and segment.max_timestamp >= timestamp:
            found = _first_record_at_or_after(log, segment, timestamp, start)
            if found is not None:
                return found
    return None


def max_timestamp_offset(log: Log) -> TimestampAndOffset | None:
    """The record with the largest timestamp (the first such by offset), KIP-734."""
    best: LogSegment | None = None
    for segment in log.segments:
        if segment.size and (best is None or segment.max_timestamp > best.max_timestamp):
            best = segment
    if best is None or best.max_timestamp < 0:
        return None
    return _first_record_at_or_after(log, best, best.max_timestamp, log.log_start_offset)
