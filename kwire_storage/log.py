"""Log: the storage of one partition, a directory ``<topic>-<partition>/``.

A log is an ordered list of segments (segment.py) covering increasing
offset ranges; the last one is active. The directory holds the segment
files and ``leader-epoch-checkpoint`` (leader_epoch.py). The per-directory
checkpoints (recovery point, log start offset, high watermark, cleaner
offset) and the clean shutdown marker live one level up and are written by
`LogManager` (manager.py), as in Kafka.

Offsets the log maintains, with ``log_start_offset <= high_watermark <=
log_end_offset`` at all times:

* log start offset: the first offset a reader may ask for. Moved by
  retention (to the first remaining segment) and DeleteRecords.
* high watermark: set by the replication layer; reads can be bounded by it.
* log end offset (LEO): the offset the next append gets.
* recovery point: everything below it is fsynced; only what is above it is
  re-checked after a crash.

Appends: one thread at a time (the broker's writer). The batch bytes are
CRC-checked, base offsets are patched in place (and max_timestamp with the
CRC when message.timestamp.type=LogAppendTime), the segment is rolled if
needed and the bytes go to the file in one pwrite. Nothing per record.

Reads: any thread, without a lock: they take a snapshot of the segment list
(which is only ever replaced, never mutated in place) and return a
`FileSlice` of whole batches. Structural changes (roll, retention, truncation,
the cleaner's swap) take the log's lock. Files of removed segments are
renamed ``*.deleted`` and unlinked after file.delete.delay.ms; their open
descriptors stay valid for slices already handed out.

Transactions: the producer state (producer_state.py) tracks open
transactions; the last stable offset (LSO) is the first offset of the
oldest one that is not complete, capped by the high watermark. A
transaction counts as incomplete until its marker is below the high
watermark, as Kafka's unreplicated transactions (on one node the high
watermark follows every append at once). `append_marker` writes a commit or
abort control batch; an abort adds an entry to the transaction index
(transaction_index.py) of the segment the marker lands in, which
`aborted_transactions` reads for read_committed fetches. Loading rebuilds
the indexes of recovered segments by scanning from a producer snapshot at
or below the first of them.

Durability follows Kafka's defaults: no fsync per append (flush.messages
and flush.ms are effectively infinite) but fsync on roll and on close.
"""

from __future__ import annotations

import bisect
import logging
import os
import random
import shutil
import struct
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from crc32c import crc32c

from kwire_protocol.errors import CorruptRecordError
from kwire_protocol.records.batch import (
    CRC_START,
    TIMESTAMP_TYPE_MASK,
    RecordBatch,
    set_base_offset,
    set_partition_leader_epoch,
    validate_batches,
)
from kwire_protocol.records.control import build_control_batch

from kwire_storage.config import LogConfig
from kwire_storage.errors import (
    KafkaStorageError,
    LogClosedError,
    OffsetOutOfRangeError,
    RecordBatchTooLargeError,
    UnexpectedAppendOffsetError,
)
from kwire_storage.file_records import FileSlice
from kwire_storage.leader_epoch import LeaderEpochFileCache
from kwire_storage.producer_state import (
    DEFAULT_PRODUCER_ID_EXPIRATION_MS,
    AppendOrigin,
    CompletedTxn,
    ProducerBatch,
    ProducerStateManager,
    end_txn_marker,
)
from kwire_storage.recovery import DELETED_SUFFIX, LoadedLog, load_log
from kwire_storage.segment import LogSegment
from kwire_storage.transaction_index import AbortedTxn

__all__ = ["AppendInfo", "AppendOrigin", "Log", "TimestampAndOffset"]

logger = logging.getLogger("kwire_storage.log")

_ATTRIBUTES = struct.Struct(">h")
_INT64 = struct.Struct(">q")
_UINT32 = struct.Struct(">I")
_ATTRIBUTES_AT, _MAX_TIMESTAMP_AT, _CRC_AT = 21, 35, 17


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


def parse_partition_dir(name: str) -> tuple[str, int]:
    """``orders-3`` -> ("orders", 3). Topic names may contain dashes; the partition is after the last."""
    topic, sep, partition = name.rpartition("-")
    if not sep or not topic or not partition.isdigit():
        raise ValueError(f"{name!r} is not a <topic>-<partition> directory name")
    return topic, int(partition)


class AppendInfo(NamedTuple):
    first_offset: int
    last_offset: int
    max_timestamp: int
    offset_of_max_timestamp: int
    log_append_time: int  # -1 unless message.timestamp.type=LogAppendTime
    log_start_offset: int
    records_count: int
    size: int


@dataclass(frozen=True)
class TimestampAndOffset:
    timestamp: int
    offset: int
    leader_epoch: int | None


class Log:
    def __init__(
        self,
        directory: Path | str,
        config: LogConfig | None = None,
        *,
        recovery_point: int = 0,
        log_start_offset: int = 0,
        high_watermark: int = 0,
        clean_shutdown: bool = False,
        clock: Callable[[], int] = wall_clock_ms,
        rng: random.Random | None = None,
        producer_id_expiration_ms: int = DEFAULT_PRODUCER_ID_EXPIRATION_MS,
    ) -> None:
        """Open (or create) the partition directory and load it.

        The offsets come from the log directory's checkpoints (LogManager
        passes them). `clean_shutdown` skips recovery; without it every
        segment from the recovery point on is CRC-checked and a torn or
        corrupt tail is cut (and logged). `clock` returns milliseconds.
        """
        self.dir = Path(directory)
        self.topic, self.partition = parse_partition_dir(self.dir.name)
        self.config = config or LogConfig()
        self._clock = clock
        self._rng = rng or random.Random()
        self._lock = threading.RLock()
        self._closed = False
        self._pending_deletes: list[tuple[int, list[Path]]] = []
        self.dir.mkdir(parents=True, exist_ok=True)
        now = clock()
        loaded: LoadedLog = load_log(
            self.dir, self.config, recovery_point=recovery_point, log_start_offset=log_start_offset,
            clean_shutdown=clean_shutdown, now=now,
        )
        self.load_report = loaded
        self._segments: tuple[LogSegment, ...] = tuple(loaded.segments)
        self._segments[-1].roll_jitter_ms = self._jitter()
        self._next_offset = loaded.next_offset
        self._recovery_point = loaded.recovery_point
        self._log_start_offset = min(max(log_start_offset, self._segments[0].base_offset), self._next_offset)
        self._high_watermark = min(max(high_watermark, self._log_start_offset), self._next_offset)
        self._last_flush_ms = now
        # First offset not yet cleaned; owned by the cleaner, checkpointed by LogManager.
        self.cleaner_checkpoint: int | None = None
        # Earliest tombstone delete horizon the cleaner left behind (KIP-534).
        self.earliest_delete_horizon: int | None = None
        self.leader_epoch_cache = LeaderEpochFileCache(self.dir)
        self.leader_epoch_cache.truncate_from_end(self._next_offset)
        self.leader_epoch_cache.truncate_from_start(self._log_start_offset)
        # Idempotent and transactional producers (producer_state.py): from the latest
        # snapshot plus a header scan, which also covers every recovered segment so
        # their transaction indexes are rebuilt.
        self.producer_state = ProducerStateManager(self.dir, producer_id_expiration_ms)
        # (first offset, marker offset) of completed transactions whose marker is not below the high watermark yet.
        self._unreplicated_txns: list[tuple[int, int]] = []
        self.producer_state.load(self._segments, self._next_offset, now, scan_from=min(loaded.recovered, default=None),
                                 on_completed=self._index_completed_txn)
        for segment in self._segments:
            # Rebuilt entries lie below the recovery point: durable before anything counts on them.
            segment.txn_index.flush()

    # -- offsets and state ---------------------------------------------------

    @property
    def log_start_offset(self) -> int:
        return self._log_start_offset

    @property
    def log_end_offset(self) -> int:
        return self._next_offset

    @property
    def high_watermark(self) -> int:
        return self._high_watermark

    @property
    def recovery_point(self) -> int:
        return self._recovery_point

    @property
    def segments(self) -> tuple[LogSegment, ...]:
        return self._segments

    @property
    def active_segment(self) -> LogSegment:
        return self._segments[-1]

    @property
    def size(self) -> int:
        return sum(s.size for s in self._segments)

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    @property
    def closed(self) -> bool:
        return self._closed

    def now(self) -> int:
        return self._clock()

    def update_config(self, config: LogConfig) -> None:
        self.config = config

    @property
    def first_unstable_offset(self) -> int | None:
        """First offset of the oldest transaction not yet complete (Kafka's firstUnstableOffset), or None."""
        first = self.producer_state.first_unstable_offset
        if self._unreplicated_txns:
            oldest = min(first_offset for first_offset, _ in self._unreplicated_txns)
            first = oldest if first is None else min(first, oldest)
        return None if first is None else max(first, self._log_start_offset)

    @property
    def last_stable_offset(self) -> int:
        """LSO: read_committed readers see offsets below it. The first unstable offset, at most the high watermark."""
        with self._lock:  # the cleaner thread asks too, while appends change the open transactions
            first = self.first_unstable_offset
            return self._high_watermark if first is None else min(first, self._high_watermark)

    def update_high_watermark(self, offset: int) -> int:
        """Set the high watermark, clamped to [log start offset, log end offset]; returns it."""
        with self._lock:
            self._high_watermark = min(max(offset, self._log_start_offset), self._next_offset)
            if self._unreplicated_txns:
                self._unreplicated_txns = [t for t in self._unreplicated_txns if t[1] >= self._high_watermark]
            return self._high_watermark

    def maybe_increment_high_watermark(self, offset: int) -> bool:
        with self._lock:
            if offset > self._high_watermark:
                self.update_high_watermark(offset)
                return True
            return False

    def _jitter(self) -> int:
        jitter = self.config.segment_jitter_ms
        return self._rng.randrange(min(jitter, self.config.segment_ms)) if jitter > 0 else 0

    def _check_open(self) -> None:
        if self._closed:
            raise LogClosedError(f"log {self.dir.name} is closed")

    # -- append ------------------------------------------------------------------

    def append(self, records: bytes | bytearray | memoryview, *, leader_epoch: int | None = None,
               assign_offsets: bool = True, origin: AppendOrigin = AppendOrigin.CLIENT,
               validated: list[RecordBatch] | None = None) -> AppendInfo:
        """Append a records blob of one or more v2 batches; returns where it went.

        As leader (`assign_offsets`), base offsets are assigned from the log
        end offset by patching the buffer in place (a read-only buffer is
        copied once first) and `leader_epoch`, if given, is stamped into each
        batch. As follower, the batches keep their offsets, which must start
        at or after the log end offset and increase. `origin` decides the
        producer checks (producer_state.py): CLIENT epoch, sequence and
        duplicates; COORDINATOR epochs only; REPLICATION none.

        `validated` is what validate_batches returned for these very
        `records`, from a caller that ran it already (the produce handler,
        whose checks read the same headers); the batches are then not parsed
        and checked a second time. Every other caller leaves it out and the
        batches are checked here.

        Raises CorruptRecordError (bad CRC, length, magic),
        UnexpectedAppendOffsetError, RecordBatchTooLargeError, LogClosedError,
        or a producer check's error before anything is written;
        KafkaStorageError if the write fails.
        """
        view = memoryview(records)
        if view.format != "B" or view.ndim != 1:
            view = view.cast("B")
        log_append_time = self.config.log_append_time
        if view.readonly and (assign_offsets or leader_epoch is not None or log_append_time):
            view = memoryview(bytearray(view))
        # Below, batches lend header fields (and a marker's bytes, the same in
        # a copy), so those of `validated` serve when `view` copies `records`.
        batches = validate_batches(view) if validated is None else validated
        if not batches:
            raise CorruptRecordError("append of an empty records blob")
        total = len(view)
        if total > self.config.segment_size:
            raise RecordBatchTooLargeError(
                f"append of {total} bytes is larger than segment.bytes {self.config.segment_size} of {self.dir.name}"
            )
        with self._lock:
            self._check_open()
            now = self._clock()
            next_offset = self._next_offset
            duplicate = self.producer_state.check(batches, origin)
            if duplicate is not None:
                return AppendInfo(
                    first_offset=duplicate.first_offset, last_offset=duplicate.last_offset,
                    max_timestamp=duplicate.timestamp, offset_of_max_timestamp=duplicate.last_offset,
                    log_append_time=duplicate.timestamp if log_append_time else -1,
                    log_start_offset=self._log_start_offset, records_count=0, size=0,
                )
            if not assign_offsets:
                expected = next_offset
                for batch in batches:
                    if batch.base_offset < expected:
                        raise UnexpectedAppendOffsetError(
                            f"{self.dir.name}: batch at offset {batch.base_offset} does not follow {expected - 1}"
                        )
                    expected = batch.next_offset
            position = 0
            first_offset = batches[0].base_offset if not assign_offsets else next_offset
            index_info: list[tuple[int, int, int]] = []
            max_timestamp, offset_of_max, records_count = -1, first_offset, 0
            epochs: list[tuple[int, int]] = []
            producer_batches: list[ProducerBatch] = []
            for batch in batches:
                size = batch.size
                at = view[position:position + size]
                if assign_offsets:
                    set_base_offset(at, next_offset)
                    base = next_offset
                else:
                    base = batch.base_offset
                last = base + batch.last_offset_delta
                if leader_epoch is not None:
                    set_partition_leader_epoch(at, leader_epoch)
                    epoch = leader_epoch
                else:
                    epoch = batch.partition_leader_epoch
                if epoch >= 0 and (not epochs or epochs[-1][0] != epoch):
                    epochs.append((epoch, base))
                batch_max = batch.max_timestamp
                if log_append_time:
                    _ATTRIBUTES.pack_into(at, _ATTRIBUTES_AT, batch.attributes | TIMESTAMP_TYPE_MASK)
                    _INT64.pack_into(at, _MAX_TIMESTAMP_AT, now)
                    _UINT32.pack_into(at, _CRC_AT, crc32c(at[CRC_START:]))
                    batch_max = now
                if batch_max > max_timestamp:
                    max_timestamp, offset_of_max = batch_max, last
                index_info.append((last, batch_max, size))
                if batch.producer_id >= 0:
                    producer_batches.append(ProducerBatch(
                        batch.producer_id, batch.producer_epoch, batch.base_sequence, batch.last_offset_delta,
                        batch.is_control, base, batch_max, batch.is_transactional,
                        end_txn_marker(batch) if batch.is_control else None,
                    ))
                records_count += batch.records_count
                next_offset = last + 1
                position += size
            self._maybe_roll(total, batches[0].max_timestamp if not log_append_time else now, first_offset,
                             next_offset - 1, len(batches), now)
            try:
                self._segments[-1].append(view, index_info)
            except KafkaStorageError:
                logger.error("%s: append failed; closing the log to writes", self.dir.name)
                self._closed = True
                raise
            self._next_offset = next_offset
            for producer_batch in producer_batches:
                completed = self.producer_state.update(producer_batch)
                if completed is not None:
                    self._index_completed_txn(completed)
                    if completed.last_offset >= self._high_watermark:
                        self._unreplicated_txns.append((completed.first_offset, completed.last_offset))
            for epoch, start in epochs:
                self.leader_epoch_cache.assign(epoch, start)
            if self._next_offset - self._recovery_point >= self.config.flush_messages:
                self.flush()
            return AppendInfo(
                first_offset=first_offset,
                last_offset=next_offset - 1,
                max_timestamp=max_timestamp,
                offset_of_max_timestamp=offset_of_max,
                log_append_time=now if log_append_time else -1,
                log_start_offset=self._log_start_offset,
                records_count=records_count,
                size=total,
            )

    def append_marker(self, producer_id: int, producer_epoch: int, coordinator_epoch: int, commit: bool, *,
                      leader_epoch: int | None = None) -> AppendInfo:
        """Write a commit or abort marker for the producer's transaction (Kafka's EndTransactionMarker).

        Completes the producer's open transaction (an abort gets a
        transaction index entry); without one the marker is still written,
        as Kafka does. Raises InvalidProducerEpochError for an epoch older
        than the partition knows for the producer and
        TransactionCoordinatorFencedError for a coordinator epoch older than
        its last marker's.
        """
        batch = build_control_batch(
            commit, producer_id=producer_id, producer_epoch=producer_epoch, coordinator_epoch=coordinator_epoch,
            timestamp=self._clock(),
        )
        return self.append(batch, leader_epoch=leader_epoch, origin=AppendOrigin.COORDINATOR)

    def _index_completed_txn(self, txn: CompletedTxn) -> None:
        """An abort goes in the transaction index of the marker's segment, unless it is there
        already (a load rescans markers a clean shutdown had indexed)."""
        if not txn.is_aborted:
            return
        segments = self._segments
        index = segments[self._floor_segment_index(segments, txn.last_offset)].txn_index
        last = index.last_offset
        if last is None or txn.last_offset > last:
            index.append(AbortedTxn(txn.producer_id, txn.first_offset, txn.last_offset, txn.last_stable_offset))

    def aborted_transactions(self, start_offset: int, upper_offset: int) -> list[tuple[int, int]]:
        """(producer id, first offset) of every aborted transaction with its marker at or after
        `start_offset` and its first offset below `upper_offset`."""
        return [(txn.producer_id, txn.first_offset) for txn in self.collect_aborted_transactions(start_offset, upper_offset)]

    def collect_aborted_transactions(self, start_offset: int, upper_offset: int) -> list[AbortedTxn]:
        """The transaction index entries behind `aborted_transactions` (Kafka's collectAbortedTransactions)."""
        segments = self._segments
        found: list[AbortedTxn] = []
        for segment in segments[self._floor_segment_index(segments, start_offset):]:
            txns, complete = segment.txn_index.collect(start_offset, upper_offset)
            found.extend(txns)
            if complete:
                break
        return found

    def _maybe_roll(self, size: int, first_batch_timestamp: int, first_offset: int, last_offset: int,
                    batches: int, now: int) -> None:
        segment = self._segments[-1]
        reason = segment.should_roll(
            messages_size=size, max_timestamp=first_batch_timestamp, max_offset=last_offset, batches=batches,
            segment_bytes=self.config.segment_size, segment_ms=self.config.max_segment_ms, now=now,
        )
        if reason is None and first_offset - segment.base_offset > 2**31 - 1:
            reason = "relative offset overflow"
        if reason is not None:
            logger.debug("%s: rolling segment %d (%s)", self.dir.name, segment.base_offset, reason)
            self.roll(first_offset)

    def roll(self, new_base_offset: int | None = None) -> LogSegment:
        """Start a new active segment at max(new_base_offset, log end offset).

        The old active segment gets its final time index entry, trimmed
        indexes and an fsync; everything before the new segment is then
        durable, so the recovery point moves up to it.
        """
        with self._lock:
            self._check_open()
            base = max(new_base_offset or 0, self._next_offset)
            active = self._segments[-1]
            keep = self._segments
            if active.size == 0:
                if active.base_offset == base:
                    return active
                # An empty active segment below a gap (follower append) is just replaced.
                keep = self._segments[:-1]
                self.schedule_delete([active])
            else:
                active.on_become_inactive()
            segment = LogSegment(
                self.dir, base,
                index_interval_bytes=self.config.index_interval_bytes,
                max_index_size=self.config.segment_index_bytes,
                created_ms=self._clock(), roll_jitter_ms=self._jitter(), create=True, active=True,
            )
            if active.size > 0:
                # The state as of the new segment's start, so a restart scans no further back.
                self.producer_state.map_end_offset = self._next_offset
                self.producer_state.take_snapshot()
            _fsync_dir(self.dir)
            self._segments = keep + (segment,)
            self._recovery_point = max(self._recovery_point, self._next_offset)
            return segment

    # -- flush ---------------------------------------------------------------------

    def flush(self) -> None:
        """fsync everything appended so far and move the recovery point to the log end."""
        with self._lock:
            self._check_open()
            end = self._next_offset
            segments = self._segments
            for i, segment in enumerate(segments):
                next_base = segments[i + 1].base_offset if i + 1 < len(segments) else end + 1
                if next_base > self._recovery_point:
                    segment.flush()
            self._recovery_point = max(self._recovery_point, end)
            self._last_flush_ms = self._clock()

    def flush_if_due(self, now: int | None = None) -> bool:
        """flush.ms: flush if unflushed data exists and the last flush is that old."""
        now = self._clock() if now is None else now
        if self._next_offset > self._recovery_point and now - self._last_flush_ms >= self.config.flush_ms:
            self.flush()
            return True
        return False

    # -- read ------------------------------------------------------------------------

    def _floor_segment_index(self, segments: tuple[LogSegment, ...], offset: int) -> int:
        bases = [s.base_offset for s in segments] if len(segments) < 64 else None
        if bases is not None:
            return max(bisect.bisect_right(bases, offset) - 1, 0)
        lo, hi = 0, len(segments) - 1
        while lo < hi:
            mid = (lo + hi + 1) >> 1
            if segments[mid].base_offset <= offset:
                lo = mid
            else:
                hi = mid - 1
        return lo

    def read(self, offset: int, max_bytes: int, *, max_offset: int | None = None,
             min_one_message: bool = True) -> FileSlice:
        """Whole batches starting with the one that holds `offset`, as a file slice.

        At most `max_bytes`, except that the first batch is returned whole
        when `min_one_message` is set. Batches at or after `max_offset` (e.g.
        the high watermark) are not returned. The slice is empty when
        `offset` is the end. Raises OffsetOutOfRangeError outside
        [log start offset, log end offset].
        """
        segments = self._segments
        end_offset = self._next_offset
        start_offset = self._log_start_offset
        if offset < start_offset or offset > end_offset:
            raise OffsetOutOfRangeError(
                f"offset {offset} is out of range for {self.dir.name} [{start_offset}, {end_offset}]",
                offset=offset, log_start_offset=start_offset, log_end_offset=end_offset,
            )
        upper = end_offset if max_offset is None else min(max_offset, end_offset)
        i = self._floor_segment_index(segments, offset)
        while i < len(segments) and offset < upper:
            segment = segments[i]
            next_base = segments[i + 1].base_offset if i + 1 < len(segments) else None
            max_position = None
            if upper < end_offset and (next_base is None or upper < next_base):
                header = segment.translate_offset(upper)
                max_position = header.position if header is not None else segment.size
            result = segment.read(offset, max_bytes, max_position, min_one_message)
            if result is not None:
                return result
            i += 1
        return segments[-1].log.slice(segments[-1].size, 0, offset)

    def offset_after(self, records: FileSlice) -> int:
        """The offset following the batches of a non-empty slice `read` returned: the upper
        bound for their aborted transactions (Kafka's fetchUpperBoundOffset, but exact)."""
        segments = self._segments
        i = self._floor_segment_index(segments, records.base_offset)
        segment = segments[i]
        if segment.log.handle is not records.handle:
            return self._next_offset  # the segment was replaced since: a bound that is still safe
        header = segment.log.read_header(records.position + records.size)
        if header is not None:
            return header.base_offset
        return segments[i + 1].base_offset if i + 1 < len(segments) else self._next_offset

    def read_bytes(self, offset: int, max_bytes: int, **kwargs: object) -> bytes:
        return self.read(offset, max_bytes, **kwargs).read()  # type: ignore[arg-type]

    # -- truncation ------------------------------------------------------------------

    def truncate_to(self, target_offset: int) -> bool:
        """Remove every batch holding an offset >= target (replication's truncation).

        A batch that straddles the target goes whole, so the new log end
        offset is the target or that batch's base offset. Returns False if
        there was nothing to remove.
        """
        if target_offset < 0:
            raise ValueError(f"cannot truncate {self.dir.name} to negative offset {target_offset}")
        with self._lock:
            self._check_open()
            if target_offset >= self._next_offset:
                return False
            if target_offset < self._segments[0].base_offset or target_offset < self._log_start_offset:
                self.truncate_fully_and_start_at(target_offset)
                return True
            keep = [s for s in self._segments if s.base_offset <= target_offset]
            removed = [s for s in self._segments if s.base_offset > target_offset]
            floor = keep[-1]
            header = floor.translate_offset(target_offset)
            new_end = target_offset if header is None else min(target_offset, header.base_offset)
            if removed:
                self.schedule_delete(removed)
                floor.make_active()
            floor.truncate_to(target_offset)
            self._segments = tuple(keep)
            if new_end < self._log_start_offset:
                self._next_offset = new_end
                self.truncate_fully_and_start_at(self._log_start_offset)
                return True
            self._set_end_offset(new_end)
            self._unreplicated_txns = []
            self.producer_state.load(self._segments, new_end, self._clock(), on_completed=self._index_completed_txn)
            return True

    def _set_end_offset(self, end: int) -> None:
        self._next_offset = end
        self._high_watermark = min(self._high_watermark, end)
        self._recovery_point = min(self._recovery_point, end)
        if self.cleaner_checkpoint is not None:
            self.cleaner_checkpoint = min(self.cleaner_checkpoint, end)
        self.leader_epoch_cache.truncate_from_end(end)

    def truncate_fully_and_start_at(self, offset: int) -> None:
        """Drop every segment and start empty at `offset` (all four offsets become it)."""
        if offset < 0:
            raise ValueError(f"cannot start {self.dir.name} at negative offset {offset}")
        with self._lock:
            self._check_open()
            self.schedule_delete(list(self._segments))
            segment = LogSegment(
                self.dir, offset,
                index_interval_bytes=self.config.index_interval_bytes,
                max_index_size=self.config.segment_index_bytes,
                created_ms=self._clock(), roll_jitter_ms=self._jitter(), create=True, active=True,
            )
            _fsync_dir(self.dir)
            self._segments = (segment,)
            self._next_offset = self._log_start_offset = self._high_watermark = self._recovery_point = offset
            self.cleaner_checkpoint = offset if self.cleaner_checkpoint is not None else None
            self.leader_epoch_cache.clear()
            self.producer_state.delete_snapshots_after(-1)
            self.producer_state.clear(offset)
            self._unreplicated_txns = []

    # -- log start offset and segment deletion ------------------------------------

    def delete_records(self, offset: int) -> int:
        """DeleteRecords: move the log start offset up to `offset` (at most the high watermark).

        Returns the new log start offset. Whole segments below it are removed
        by the next retention run.
        """
        with self._lock:
            self._check_open()
            if offset > self._high_watermark or offset < 0:
                raise OffsetOutOfRangeError(
                    f"cannot move the log start offset of {self.dir.name} to {offset}: "
                    f"high watermark is {self._high_watermark}",
                    offset=offset, log_start_offset=self._log_start_offset, log_end_offset=self._next_offset,
                )
            if offset > self._log_start_offset:
                self._log_start_offset = offset
                self.leader_epoch_cache.truncate_from_start(offset)
                if self.cleaner_checkpoint is not None:
                    self.cleaner_checkpoint = max(self.cleaner_checkpoint, offset)
            return self._log_start_offset

    def delete_segments(self, segments: list[LogSegment], reason: str) -> int:
        """Remove leading, non-active segments; the log start offset moves past them.

        Returns how many were removed; segments no longer at the head of the
        log (a concurrent change) are skipped.
        """
        with self._lock:
            self._check_open()
            current = self._segments
            n = 0
            while n < len(segments) and n < len(current) - 1 and current[n] is segments[n]:
                n += 1
            if n == 0:
                return 0
            removed, keep = current[:n], current[n:]
            for segment in removed:
                logger.info("%s: deleting segment %d (%d bytes) due to %s", self.dir.name, segment.base_offset,
                            segment.size, reason)
            self._segments = keep
            self.schedule_delete(list(removed))
            # Producers stay (KIP-360); only the snapshots of removed segments go.
            self.producer_state.delete_snapshots_before(keep[0].base_offset)
            new_start = max(self._log_start_offset, keep[0].base_offset)
            if new_start > self._log_start_offset:
                self._log_start_offset = new_start
                self._high_watermark = max(self._high_watermark, new_start)
                self.leader_epoch_cache.truncate_from_start(new_start)
            return n

    def replace_segments(self, old: list[LogSegment], new: LogSegment) -> bool:
        """Swap `new` in for the consecutive segments `old` (the cleaner's commit, in memory).

        False, and nothing changes, if `old` are no longer in the log as
        they were (retention or truncation got there first).
        """
        with self._lock:
            self._check_open()
            current = self._segments
            try:
                start = current.index(old[0])
            except ValueError:
                return False
            if tuple(current[start:start + len(old)]) != tuple(old) or start + len(old) >= len(current):
                return False
            self._segments = current[:start] + (new,) + current[start + len(old):]
            return True

    def schedule_delete(self, segments: list[LogSegment]) -> None:
        """Rename the segments' files to *.deleted; unlink them after file.delete.delay.ms."""
        paths: list[Path] = []
        for segment in segments:
            segment.change_suffix("", DELETED_SUFFIX)
            paths.extend(segment.paths())
        self._pending_deletes.append((self._clock() + self.config.file_delete_delay_ms, paths))
        if self.config.file_delete_delay_ms == 0:
            self.delete_pending_files()

    def delete_pending_files(self, now: int | None = None, force: bool = False) -> int:
        """Unlink *.deleted files whose delay is over; returns how many files went."""
        now = self._clock() if now is None else now
        with self._lock:
            due = [p for when, p in self._pending_deletes if force or when <= now]
            self._pending_deletes = [(when, p) for when, p in self._pending_deletes if not (force or when <= now)]
        count = 0
        for paths in due:
            for path in paths:
                try:
                    path.unlink()
                    count += 1
                except FileNotFoundError:
                    pass
        return count

    def remove_expired_producers(self, now: int | None = None) -> int:
        """producer.id.expiration.ms: forget producers idle that long; returns how many."""
        with self._lock:
            return self.producer_state.remove_expired_producers(self._clock() if now is None else now)

    # -- timestamps ---------------------------------------------------------------------

    def largest_timestamp(self) -> TimestampAndOffset | None:
        from kwire_storage.timestamps import max_timestamp_offset

        return max_timestamp_offset(self)

    def offset_for_timestamp(self, timestamp: int) -> TimestampAndOffset | None:
        """ListOffsets: see timestamps.fetch_offset_by_timestamp."""
        from kwire_storage.timestamps import fetch_offset_by_timestamp

        return fetch_offset_by_timestamp(self, timestamp)

    # -- lifecycle ----------------------------------------------------------------------

    def close(self) -> None:
        """Clean close: fsync, trim indexes, release files. The log then refuses all calls."""
        with self._lock:
            if self._closed:
                return
            self.producer_state.map_end_offset = self._next_offset
            try:
                self.producer_state.take_snapshot()
            except OSError as exc:
                logger.error("%s: producer state snapshot failed at close: %s", self.dir.name, exc)
            for segment in self._segments:
                segment.close()
            self._recovery_point = self._next_offset
            self._closed = True
        self.delete_pending_files(force=True)

    def close_unclean(self) -> None:
        """Release descriptors without flushing or trimming (tests: as if the process died)."""
        with self._lock:
            if self._closed:
                return
            for segment in self._segments:
                segment.close_handles()
            self._closed = True

    def delete(self) -> None:
        """Remove the partition directory and everything in it (topic deletion)."""
        with self._lock:
            if not self._closed:
                for segment in self._segments:
                    segment.close_handles()
                self._closed = True
            doomed = self.dir.with_name(f"{self.dir.name}.{uuid.uuid4().hex}-delete")
            os.replace(self.dir, doomed)
            shutil.rmtree(doomed)

    def __repr__(self) -> str:
        return (
            f"Log({self.dir.name}, segments={len(self._segments)}, log_start_offset={self._log_start_offset}, "
            f"high_watermark={self._high_watermark}, log_end_offset={self._next_offset})"
        )


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
