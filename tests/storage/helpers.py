"""Shared helpers for the storage tests: batch building and invariant checks."""

from __future__ import annotations

from pathlib import Path

from kwire_protocol.records.batch import RecordBatch, split_batches
from kwire_protocol.records.builder import build_batch
from kwire_protocol.records.record import NewRecord

from kwire_storage.config import LogConfig
from kwire_storage.log import Log


class Clock:
    """An injected millisecond clock that only moves when told to."""

    def __init__(self, start: int = 1_700_000_000_000) -> None:
        self.now = start

    def __call__(self) -> int:
        return self.now

    def advance(self, ms: int) -> None:
        self.now += ms


def make_batch(values: list[bytes], *, timestamp: int = 1_700_000_000_000, key: bytes | None = None,
               keys: list[bytes | None] | None = None, compression: int = 0) -> bytes:
    keys = keys if keys is not None else [key] * len(values)
    return build_batch(
        [NewRecord(key=k, value=v, timestamp=timestamp + i) for i, (k, v) in enumerate(zip(keys, values))],
        compression=compression,
    )


def small_config(**overrides: object) -> LogConfig:
    base: dict[str, object] = {"internal.segment.bytes": 4096, "index.interval.bytes": 256,
                               "file.delete.delay.ms": 0}
    base.update(overrides)
    return LogConfig(base)


def read_all(log: Log, start: int | None = None) -> list[RecordBatch]:
    """Every batch from `start` (default log start) to the log end, by repeated reads."""
    offset = log.log_start_offset if start is None else start
    batches: list[RecordBatch] = []
    while offset < log.log_end_offset:
        data = log.read(offset, 1 << 20).read()
        if not data:
            break
        found = list(split_batches(data))
        batches.extend(found)
        offset = found[-1].next_offset
    return batches


def check_indexes(log: Log) -> None:
    """Every index entry points at the start of the batch it names; segments are ordered."""
    previous_end = -1
    for segment in log.segments:
        starts = {h.position: h for h in segment.log.headers(0)}
        covered = sum(h.size for h in starts.values())
        assert covered == segment.size, f"segment {segment.base_offset}: batches cover {covered} of {segment.size} bytes"
        for n in range(segment.offset_index.entries):
            relative, position = segment.offset_index.entry(n)
            header = starts.get(position)
            assert header is not None, f"index entry {n} of {segment.base_offset} points inside a batch"
            assert header.last_offset == segment.base_offset + relative
        for n in range(segment.time_index.entries):
            timestamp, relative = segment.time_index.entry(n)
            offset = segment.base_offset + relative
            assert any(h.last_offset >= offset and h.max_timestamp <= timestamp for h in starts.values()) or not starts
        for header in starts.values():
            assert header.base_offset >= segment.base_offset
            assert header.base_offset > previous_end
        if starts:
            previous_end = max(h.last_offset for h in starts.values())


def segment_files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.suffix in (".log", ".index", ".timeindex"))
