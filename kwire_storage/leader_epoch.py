"""The leader epoch cache of one partition: which epoch started at which offset.

Replication (OffsetsForLeaderEpoch, follower truncation) needs to know, for
each leader epoch, the first offset written in it. The cache is a short
list of ``(epoch, start_offset)`` pairs, strictly increasing in both fields,
kept in memory and written through to ``leader-epoch-checkpoint`` in the
partition directory on every change (Kafka's format, see checkpoints.py)::

    0
    2
    0 0
    3 1200

It follows the log: truncating the log's end drops entries at or after the
new end; moving the log start offset forward clamps the first kept entry's
start offset up to it.
"""

from __future__ import annotations

import bisect
import threading
from pathlib import Path

from kwire_storage.checkpoints import LEADER_EPOCH_CHECKPOINT, LeaderEpochCheckpointFile
from kwire_storage.errors import CorruptCheckpointError

UNDEFINED_EPOCH = -1
UNDEFINED_EPOCH_OFFSET = -1


class LeaderEpochFileCache:
    def __init__(self, partition_dir: Path) -> None:
        self._file = LeaderEpochCheckpointFile(Path(partition_dir) / LEADER_EPOCH_CHECKPOINT)
        self._lock = threading.Lock()
        try:
            entries = self._file.read()
        except CorruptCheckpointError:
            # Losing the cache only costs replication a wider truncation; the
            # log itself is intact. Start over rather than refuse to open.
            entries = []
        self._entries: list[tuple[int, int]] = []
        for epoch, start in entries:
            self._assign_locked(epoch, start)

    @property
    def entries(self) -> list[tuple[int, int]]:
        return list(self._entries)

    @property
    def latest_epoch(self) -> int | None:
        return self._entries[-1][0] if self._entries else None

    @property
    def earliest_entry(self) -> tuple[int, int] | None:
        return self._entries[0] if self._entries else None

    def assign(self, epoch: int, start_offset: int) -> None:
        """Record that `epoch` began at `start_offset` (no-op if it is already known)."""
        if epoch < 0:
            raise ValueError(f"leader epoch must be non-negative, got {epoch}")
        with self._lock:
            if self._assign_locked(epoch, start_offset):
                self._flush()

    def _assign_locked(self, epoch: int, start_offset: int) -> bool:
        if self._entries:
            last_epoch, last_start = self._entries[-1]
            if last_epoch == epoch and last_start <= start_offset:
                return False
        # A new entry supersedes any entry it contradicts: later or equal epochs,
        # or epochs that claimed to start at or after this offset.
        self._entries = [(e, s) for e, s in self._entries if e < epoch and s < start_offset]
        self._entries.append((epoch, start_offset))
        return True

    def epoch_for_offset(self, offset: int) -> int | None:
        index = bisect.bisect_right([s for _, s in self._entries], offset) - 1
        return self._entries[index][0] if index >= 0 else None

    def end_offset_for(self, requested_epoch: int, log_end_offset: int) -> tuple[int, int]:
        """OffsetsForLeaderEpoch: (largest epoch <= requested, the offset where the next epoch began)."""
        entries = self._entries
        if requested_epoch == UNDEFINED_EPOCH:
            return UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET
        if entries and entries[-1][0] == requested_epoch:
            return requested_epoch, log_end_offset
        epochs = [e for e, _ in entries]
        higher = bisect.bisect_right(epochs, requested_epoch)
        if higher == len(entries):
            return UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET
        if higher == 0:
            return requested_epoch, entries[0][1]
        return entries[higher - 1][0], entries[higher][1]

    def truncate_from_end(self, end_offset: int) -> None:
        """Drop entries starting at or after `end_offset` (the log was truncated there)."""
        with self._lock:
            kept = [(e, s) for e, s in self._entries if s < end_offset]
            if kept != self._entries:
                self._entries = kept
                self._flush()

    def truncate_from_start(self, start_offset: int) -> None:
        """The log now starts at `start_offset`: the epoch covering it starts there."""
        with self._lock:
            before = [(e, s) for e, s in self._entries if s <= start_offset]
            after = [(e, s) for e, s in self._entries if s > start_offset]
            kept = ([(before[-1][0], start_offset)] if before else []) + after
            if kept != self._entries:
                self._entries = kept
                self._flush()

    def clear(self) -> None:
        with self._lock:
            self._entries = []
            self._flush()

    def _flush(self) -> None:
        if self._file.path.parent.exists():
            self._file.write_entries(self._entries)
