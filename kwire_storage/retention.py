"""Retention: which whole segments may go, for cleanup.policy=delete.

Three rules, applied in Kafka's order, each removing a prefix of segments:

* log start offset breached (every policy): a segment all of whose offsets
  are below the log start offset (moved by DeleteRecords) is dead.
* retention.ms (policy delete): a segment whose largest timestamp is older
  than now - retention.ms. A segment without timestamps uses its file's
  modification time, as Kafka does.
* retention.bytes (policy delete): oldest segments go while the log would
  still be at least retention.bytes without them.

Never removed: the active segment, and any segment holding offsets at or
above the high watermark (so log start offset <= high watermark holds).
The log start offset moves to the first remaining segment. Files are renamed
``*.deleted`` and unlinked once file.delete.delay.ms has passed (each run
also unlinks whatever is due).
"""

from __future__ import annotations

import os
from collections.abc import Callable

from kwire_storage.log import Log
from kwire_storage.segment import LogSegment

Predicate = Callable[[LogSegment, LogSegment], bool]


def _deletable(log: Log, predicate: Predicate) -> list[LogSegment]:
    segments = log.segments
    deletable: list[LogSegment] = []
    for segment, following in zip(segments, segments[1:]):
        if following.base_offset > log.high_watermark or not predicate(segment, following):
            break
        deletable.append(segment)
    return deletable


def _largest_timestamp(segment: LogSegment) -> int:
    timestamp = segment.max_timestamp
    if timestamp >= 0:
        return timestamp
    return os.fstat(segment.log.fd).st_mtime_ns // 1_000_000


def retention_ms_breached(log: Log, now: int) -> list[LogSegment]:
    retention_ms = log.config.retention_ms
    if retention_ms < 0:
        return []
    return _deletable(log, lambda segment, _: now - _largest_timestamp(segment) > retention_ms)


def retention_size_breached(log: Log) -> list[LogSegment]:
    retention_bytes = log.config.retention_bytes
    if retention_bytes < 0:
        return []
    excess = log.size - retention_bytes

    def over(segment: LogSegment, _: LogSegment) -> bool:
        nonlocal excess
        if excess - segment.size >= 0:
            excess -= segment.size
            return True
        return False

    return _deletable(log, over)


def log_start_offset_breached(log: Log) -> list[LogSegment]:
    start = log.log_start_offset
    return _deletable(log, lambda _, following: following.base_offset <= start)


def delete_old_segments(log: Log, now: int | None = None) -> int:
    """Apply every retention rule once; returns the number of segments removed."""
    now = log.now() if now is None else now
    removed = 0
    with log.lock:
        if log.closed:
            return 0
        removed += log.delete_segments(log_start_offset_breached(log), "log start offset breach")
        if log.config.delete:
            removed += log.delete_segments(retention_ms_breached(log, now), "retention.ms breach")
            removed += log.delete_segments(retention_size_breached(log), "retention.bytes breach")
    log.delete_pending_files(now)
    return removed
