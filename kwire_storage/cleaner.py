"""Log compaction (cleanup.policy=compact): keep the latest record per key.

The algorithm, as a plain function (`clean_log(log, now)`), is Kafka's:

1. Ranges. The *clean* part of the log runs from its start to the cleaner
   checkpoint (the first dirty offset); the *dirty* part from there to the
   first uncleanable offset: the base of the first segment that is active,
   reaches the last stable offset (so nothing of an open transaction, nor
   anything after one, is cleaned; the LSO is at most the high watermark), or
   is younger than min.compaction.lag.ms.
   Everything is segment-aligned; the active segment is never touched.
2. Whether to clean: dirty bytes / (clean + dirty bytes) must reach
   min.cleanable.dirty.ratio, unless the first dirty batch is older than
   max.compaction.lag.ms, or a tombstone's delete horizon has passed.
3. Offset map: read the dirty segments in order, recording key -> latest
   offset (a dict bounded by `max_map_entries`; when it fills, this round
   cleans only up to the segment where it filled). Records of aborted
   transactions and control records are not mapped: they never shadow a
   committed value.
4. Copy: segments from the log start up to the end of the mapped range, in
   groups that fit one segment, are rewritten keeping a record iff no later
   record of its key is in the map. Records keep their offsets (a compacted
   log has gaps). A batch whose records all survive is copied byte for byte;
   otherwise it is rebuilt with its original base offset, producer fields,
   codec and timestamp type.
5. Tombstones (null value) follow KIP-534: the first time a batch holding a
   tombstone is cleaned, its delete horizon (now + delete.retention.ms) is
   stored in the batch (base_timestamp, attribute bit 6). A tombstone is
   dropped once a cleaning runs at or after its batch's horizon.
6. Transactions (Kafka's CleanedTransactionMetadata), with the aborted
   transactions of the segments from their transaction indexes: the
   batches of an aborted transaction are removed. A commit or abort marker
   stays while this round still saw batches of its transaction (an abort
   then keeps its transaction index entry, copied into the cleaned
   segment's ``.txnindex``); once none remain, the marker gets a delete
   horizon like a tombstone and goes at the first cleaning after it.
   Producer state must survive: the batch holding each known producer's
   last data offset (or, without one, its marker at its current epoch) is
   kept, emptied of records if none are retained (Kafka's RETAIN_EMPTY: the
   header carries the producer id, epoch and sequences).
7. Swap. Each group's output is written as ``<base>.log.cleaned`` (plus
   indexes), fsynced, then under the log's lock: committed by renaming the
   log file to ``.swap`` (the commit point; recovery.py finishes a committed
   swap after a crash and discards uncommitted ``.cleaned`` files), the old
   segments renamed ``.deleted``, the swap files given the normal names, and
   the segment list replaced. A crash leaves the old segments or the new
   one, never neither.

Appends and reads are not blocked: the reading, mapping and writing happen
without the log's lock; only the renames of step 7 take it (appends wait for
a few renames; reads never wait). If retention or truncation changed the
segments meanwhile, the group's output is discarded and the round ends there.

"""

from __future__ import annotations

import logging
import struct
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from collections import deque

from crc32c import crc32c

from kwire_protocol.errors import CorruptRecordError
from kwire_protocol.records.batch import (
    CRC_OFFSET,
    COMPRESSION_MASK,
    CRC_START,
    DELETE_HORIZON_MASK,
    HEADER_SIZE,
    HEADER_STRUCT,
    LOG_OVERHEAD,
    MAGIC,
    RecordBatch,
)
from kwire_protocol.records.compression import compress
from kwire_protocol.records.control import ABORT, COMMIT, control_type
from kwire_protocol.records.record import Record, encode_record

from kwire_storage.checkpoints import fsync_dir
from kwire_storage.log import Log
from kwire_storage.recovery import CLEANED_SUFFIX, SWAP_SUFFIX
from kwire_storage.segment import LogSegment
from kwire_storage.transaction_index import AbortedTxn, TransactionIndex

logger = logging.getLogger("kwire_storage.cleaner")

# Kafka's log.cleaner.dedupe.buffer.size (128 MiB) holds ~5.6M entries of 24 bytes.
DEFAULT_MAX_MAP_ENTRIES = 5_000_000
_CRC = struct.Struct(">I")


@dataclass
class CleanResult:
    first_dirty_offset: int
    end_offset: int  # the new cleaner checkpoint
    segments_before: int
    segments_after: int
    bytes_read: int
    bytes_written: int
    records_removed: int
    tombstones_removed: int
    aborted_groups: int


def _batches(segment: LogSegment) -> Iterator[RecordBatch]:
    """Every batch of a segment, read through its descriptor (no lock needed)."""
    for header in segment.log.headers(0):
        data = segment.log.read_exact(header.size, header.position)
        if len(data) < header.size:
            raise CorruptRecordError(f"segment {segment.base_offset} shrank while being read")
        yield RecordBatch(memoryview(data))


def cleanable_range(log: Log, now: int) -> tuple[int, int, list[LogSegment]]:
    """(first dirty offset, first uncleanable offset, segments that may be cleaned)."""
    segments = log.segments
    first_dirty = max(log.cleaner_checkpoint if log.cleaner_checkpoint is not None else 0, log.log_start_offset)
    lag = log.config.min_compaction_lag_ms
    cleanable: list[LogSegment] = []
    first_uncleanable = segments[-1].base_offset
    last_stable = log.last_stable_offset
    for segment, following in zip(segments, segments[1:]):
        if following.base_offset > last_stable or (lag > 0 and segment.max_timestamp > now - lag):
            first_uncleanable = segment.base_offset
            break
        cleanable.append(segment)
    return min(first_dirty, first_uncleanable), first_uncleanable, cleanable


def dirty_ratio(log: Log, now: int) -> float:
    first_dirty, _, cleanable = cleanable_range(log, now)
    clean = sum(s.size for s in cleanable if _segment_end(log, s) <= first_dirty)
    dirty = sum(s.size for s in cleanable if _segment_end(log, s) > first_dirty)
    return dirty / (clean + dirty) if clean + dirty else 0.0


def _segment_end(log: Log, segment: LogSegment) -> int:
    segments = log.segments
    for current, following in zip(segments, segments[1:]):
        if current is segment:
            return following.base_offset
    return log.log_end_offset


def needs_cleaning(log: Log, now: int) -> bool:
    if not log.config.compact or log.closed:
        return False
    horizon = log.earliest_delete_horizon
    if horizon is not None and horizon <= now:
        return True
    first_dirty, _, cleanable = cleanable_range(log, now)
    dirty = [s for s in cleanable if _segment_end(log, s) > first_dirty]
    if not dirty:
        return False
    first_batch = dirty[0].rolling_based_timestamp
    if first_batch is not None and first_batch >= 0 and now - first_batch > log.config.max_compaction_lag_ms:
        return True
    return dirty_ratio(log, now) >= log.config.min_cleanable_dirty_ratio


class _Transactions:
    """Kafka's CleanedTransactionMetadata: walking batches in offset order, which belong to
    aborted transactions, and whether a marker's transaction still has batches."""

    def __init__(self, cleaned_index: TransactionIndex | None = None) -> None:
        self._pending: deque[AbortedTxn] = deque()  # by first offset, not reached yet
        self._aborted: dict[int, tuple[AbortedTxn, bool]] = {}  # producer id -> (txn, saw a batch of it)
        self._committed: set[int] = set()  # producers whose committed transaction's batches were seen
        self._index = cleaned_index

    def add(self, aborted: list[AbortedTxn]) -> None:
        self._pending = deque(sorted([*self._pending, *aborted], key=lambda txn: txn.first_offset))

    def _reach(self, offset: int) -> None:
        while self._pending and self._pending[0].first_offset <= offset:
            txn = self._pending.popleft()
            self._aborted.setdefault(txn.producer_id, (txn, False))

    def data_is_aborted(self, batch: RecordBatch) -> bool:
        self._reach(batch.last_offset)
        if not batch.is_transactional:
            return False
        aborted = self._aborted.get(batch.producer_id)
        if aborted is not None:
            self._aborted[batch.producer_id] = (aborted[0], True)
            return True
        self._committed.add(batch.producer_id)
        return False

    def marker_is_removable(self, batch: RecordBatch) -> bool:
        """True once no batch of the marker's transaction remains."""
        self._reach(batch.last_offset)
        if batch.records_count == 0:
            return True  # emptied by an earlier cleaning
        kind = control_type(batch)
        if kind == ABORT:
            aborted = self._aborted.pop(batch.producer_id, None)
            if aborted is not None and aborted[1]:
                if self._index is not None:
                    self._index.append(aborted[0])
                return False
            return True
        if kind == COMMIT:
            if batch.producer_id in self._committed:
                self._committed.discard(batch.producer_id)
                return False
            return True
        return False


def _last_batches(log: Log) -> dict[int, tuple[int, int]]:
    """Producer id -> (last data offset or -1, epoch): the batches that keep producer state."""
    with log.lock:
        return {pid: (entry.last_offset, entry.epoch) for pid, entry in log.producer_state.producers.items()}


def _is_last_of_producer(batch: RecordBatch, last_batches: dict[int, tuple[int, int]]) -> bool:
    last = last_batches.get(batch.producer_id) if batch.producer_id >= 0 else None
    if last is None:
        return False
    last_offset, epoch = last
    if last_offset >= 0:
        return batch.last_offset == last_offset
    return batch.is_control and batch.producer_epoch == epoch


def _build_offset_map(dirty: list[LogSegment], log: Log, max_entries: int) -> tuple[dict[bytes, int], int, int]:
    """key -> latest offset over whole dirty segments; (map, end offset, bytes read)."""
    offsets: dict[bytes, int] = {}
    end, read = dirty[0].base_offset, 0
    transactions = _Transactions()
    transactions.add(log.collect_aborted_transactions(dirty[0].base_offset, _segment_end(log, dirty[-1])))
    for segment in dirty:
        if offsets and len(offsets) >= max_entries:
            break
        for batch in _batches(segment):
            read += batch.size
            if batch.is_control:
                transactions.marker_is_removable(batch)
                continue
            if transactions.data_is_aborted(batch):
                continue
            for record in batch.records():
                if record.key is not None:
                    offsets[record.key] = record.offset
        end = _segment_end(log, segment)
    return offsets, end, read


def _group_by_size(segments: list[LogSegment], log: Log) -> list[list[LogSegment]]:
    max_size = log.config.segment_size
    max_index = log.config.segment_index_bytes
    groups: list[list[LogSegment]] = []
    for segment in segments:
        if groups:
            group = groups[-1]
            size = sum(s.size for s in group) + segment.size
            index = sum(s.offset_index.size_bytes for s in group) + segment.offset_index.size_bytes
            time_index = sum(s.time_index.size_bytes for s in group) + segment.time_index.size_bytes
            if (size <= max_size and index <= max_index and time_index <= max_index
                    and _segment_end(log, segment) - 1 - group[0].base_offset <= 2**31 - 1):
                group.append(segment)
                continue
        groups.append([segment])
    return groups


def _rebuild(batch: RecordBatch, records: list[Record], delete_horizon: int | None) -> bytes:
    """A batch holding `records` with `batch`'s base offset, producer fields, codec and timestamp type."""
    log_append_time = batch.timestamp_type == 1
    if delete_horizon is not None:
        base_timestamp = delete_horizon
    else:
        base_timestamp = batch.max_timestamp if log_append_time else records[0].timestamp
    max_timestamp = batch.max_timestamp if log_append_time else max(r.timestamp for r in records)
    body = bytearray()
    for record in records:
        timestamp = base_timestamp if log_append_time and delete_horizon is None else record.timestamp
        encode_record(body, record.offset - batch.base_offset, timestamp - base_timestamp,
                      record.key, record.value, record.headers)
    payload = compress(batch.compression, body) if batch.compression else bytes(body)
    attributes = batch.attributes & ~DELETE_HORIZON_MASK
    if delete_horizon is not None:
        attributes |= DELETE_HORIZON_MASK
    out = bytearray(HEADER_SIZE)
    out += payload
    HEADER_STRUCT.pack_into(
        out, 0, batch.base_offset, len(out) - LOG_OVERHEAD, batch.partition_leader_epoch, MAGIC, 0, attributes,
        records[-1].offset - batch.base_offset, base_timestamp, max_timestamp,
        batch.producer_id, batch.producer_epoch, batch.base_sequence, len(records),
    )
    _CRC.pack_into(out, CRC_OFFSET, crc32c(memoryview(out)[CRC_START:]))
    return bytes(out)


def _empty(batch: RecordBatch) -> bytes:
    """The batch's header without records (Kafka's writeEmptyHeader): offsets, producer id,
    epoch and sequences stay, so the producer's state can still be loaded from it."""
    out = bytearray(HEADER_SIZE)
    attributes = batch.attributes & ~(DELETE_HORIZON_MASK | COMPRESSION_MASK)
    HEADER_STRUCT.pack_into(
        out, 0, batch.base_offset, HEADER_SIZE - LOG_OVERHEAD, batch.partition_leader_epoch, MAGIC, 0, attributes,
        batch.last_offset_delta, batch.max_timestamp, batch.max_timestamp,
        batch.producer_id, batch.producer_epoch, batch.base_sequence, 0,
    )
    _CRC.pack_into(out, CRC_OFFSET, crc32c(memoryview(out)[CRC_START:]))
    return bytes(out)


@dataclass
class _Stats:
    read: int = 0
    written: int = 0
    removed: int = 0
    tombstones: int = 0
    earliest_horizon: int | None = None


def _clean_into(target: LogSegment, source: LogSegment, offsets: dict[bytes, int], now: int,
                delete_retention_ms: int, stats: _Stats, transactions: _Transactions,
                last_batches: dict[int, tuple[int, int]]) -> None:
    for batch in _batches(source):
        stats.read += batch.size
        horizon = batch.base_timestamp if batch.has_delete_horizon else None
        kept: bytes | None
        if batch.is_control:
            kept = bytes(batch.buffer)
            if transactions.marker_is_removable(batch):
                if batch.records_count == 0 or (horizon is not None and now >= horizon):
                    kept = None
                    stats.removed += batch.records_count
                else:
                    if horizon is None:
                        # Like a tombstone: readers get delete.retention.ms to see the marker.
                        horizon = now + delete_retention_ms
                        kept = _rebuild(batch, batch.records(), horizon)
                    stats.earliest_horizon = horizon if stats.earliest_horizon is None else min(stats.earliest_horizon, horizon)
        elif transactions.data_is_aborted(batch):
            kept = None
            stats.removed += batch.records_count
        else:
            records = batch.records()
            retained: list[Record] = []
            tombstones = 0
            for record in records:
                latest = offsets.get(record.key) if record.key is not None else None
                if latest is not None and record.offset < latest:
                    stats.removed += 1
                    continue
                if record.value is None:
                    if horizon is not None and now >= horizon:
                        stats.removed += 1
                        stats.tombstones += 1
                        continue
                    tombstones += 1
                retained.append(record)
            if not retained:
                kept = None
            elif len(retained) == len(records) and (tombstones == 0 or horizon is not None):
                kept = bytes(batch.buffer)
            else:
                if tombstones and horizon is None:
                    horizon = now + delete_retention_ms
                kept = _rebuild(batch, retained, horizon if tombstones else None)
            if tombstones and horizon is not None:
                stats.earliest_horizon = horizon if stats.earliest_horizon is None else min(stats.earliest_horizon, horizon)
        if kept is None and _is_last_of_producer(batch, last_batches):
            kept = _empty(batch) if batch.records_count else bytes(batch.buffer)
        if kept is not None:
            view = memoryview(kept)
            header = RecordBatch(view)
            target.append(view, [(header.last_offset, header.max_timestamp, len(kept))])
            stats.written += len(kept)


def _swap(log: Log, group: list[LogSegment], cleaned: LogSegment) -> bool:
    """Commit `cleaned` in place of `group` on disk and in memory, atomically w.r.t. crashes."""
    with log.lock:
        if log.closed:
            return False
        current = log.segments
        try:
            start = current.index(group[0])
        except ValueError:
            return False
        if tuple(current[start:start + len(group)]) != tuple(group) or start + len(group) >= len(current):
            return False
        # Commit point: the log file's rename to .swap (recovery.py finishes from here).
        cleaned.log.rename(cleaned.log.path.with_name(cleaned.log.path.name[: -len(CLEANED_SUFFIX)] + SWAP_SUFFIX))
        for index in (cleaned.offset_index, cleaned.time_index, cleaned.txn_index):
            index.rename(index.path.with_name(index.path.name[: -len(CLEANED_SUFFIX)] + SWAP_SUFFIX))
        fsync_dir(log.dir)
        log.schedule_delete(list(group))  # renames them *.deleted first: the final names are free
        cleaned.change_suffix(SWAP_SUFFIX, "")
        fsync_dir(log.dir)
        if not log.replace_segments(group, cleaned):  # cannot fail: checked above under the same lock
            raise AssertionError("segment list changed under the log lock")
        return True


def clean_log(log: Log, now: int | None = None, *, force: bool = False,
              max_map_entries: int = DEFAULT_MAX_MAP_ENTRIES) -> CleanResult | None:
    """Run one cleaning round on `log`; None if it did not need one (or is not compacted).

    `force` ignores min.cleanable.dirty.ratio (still never touches what is
    uncleanable).
    """
    now = log.now() if now is None else now
    if not log.config.compact or log.closed:
        return None
    if not force and not needs_cleaning(log, now):
        return None
    first_dirty, first_uncleanable, cleanable = cleanable_range(log, now)
    if not cleanable:
        return None
    dirty = [s for s in cleanable if _segment_end(log, s) > first_dirty]
    if dirty:
        offsets, end_offset, map_read = _build_offset_map(dirty, log, max_map_entries)
    else:
        offsets, end_offset, map_read = {}, first_dirty, 0
    to_clean = [s for s in cleanable if s.base_offset < end_offset or not dirty]
    stats = _Stats(read=map_read)
    before = len(log.segments)
    aborted = 0
    last_batches = _last_batches(log)
    for group in _group_by_size(to_clean, log):
        cleaned = LogSegment(
            log.dir, group[0].base_offset,
            index_interval_bytes=log.config.index_interval_bytes,
            max_index_size=log.config.segment_index_bytes,
            created_ms=now, create=True, active=True, suffix=CLEANED_SUFFIX,
        )
        transactions = _Transactions(cleaned.txn_index)
        try:
            for source in group:
                transactions.add(log.collect_aborted_transactions(source.base_offset, _segment_end(log, source)))
                _clean_into(cleaned, source, offsets, now, log.config.delete_retention_ms, stats, transactions,
                            last_batches)
            cleaned.on_become_inactive()
        except (CorruptRecordError, OSError) as exc:
            logger.warning("%s: cleaning segments from %d aborted: %s", log.dir.name, group[0].base_offset, exc)
            cleaned.close_handles()
            cleaned.delete_files()
            aborted += 1
            # Later groups' markers may count on this group's removals (Kafka aborts the whole cleaning too).
            break
        if not _swap(log, group, cleaned):
            logger.info("%s: segments from %d changed while cleaning; discarding the output",
                        log.dir.name, group[0].base_offset)
            cleaned.close_handles()
            cleaned.delete_files()
            aborted += 1
            break
    if dirty and not aborted:
        log.cleaner_checkpoint = max(end_offset, log.cleaner_checkpoint or 0)
    log.earliest_delete_horizon = stats.earliest_horizon
    log.delete_pending_files(now)
    result = CleanResult(
        first_dirty_offset=first_dirty, end_offset=end_offset, segments_before=before,
        segments_after=len(log.segments), bytes_read=stats.read, bytes_written=stats.written,
        records_removed=stats.removed, tombstones_removed=stats.tombstones, aborted_groups=aborted,
    )
    logger.info("%s: cleaned %s", log.dir.name, result)
    return result


class LogCleaner:
    """A background thread cleaning the filthiest compacted log, one round at a time.

    `logs()` returns the logs to consider (e.g. ``lambda: manager.logs.values()``).
    The thread sleeps `backoff_ms` (Kafka's log.cleaner.backoff.ms) when there
    is nothing to do; `stop()` wakes it and joins.
    """

    def __init__(self, logs: Callable[[], Iterable[Log]], *, backoff_ms: int = 15000,
                 max_map_entries: int = DEFAULT_MAX_MAP_ENTRIES) -> None:
        self._logs = logs
        self._backoff = backoff_ms / 1000
        self._max_map_entries = max_map_entries
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.rounds = 0

    def clean_filthiest(self) -> CleanResult | None:
        candidates = [(dirty_ratio(log, log.now()), id(log), log) for log in self._logs()
                      if needs_cleaning(log, log.now())]
        if not candidates:
            return None
        _, _, log = max(candidates)
        result = clean_log(log, log.now(), max_map_entries=self._max_map_entries)
        self.rounds += 1
        return result

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                result = self.clean_filthiest()
            except Exception:  # a bad log must not kill the cleaner for every other log
                logger.exception("log cleaner round failed")
                result = None
            if result is None:
                self._stop.wait(self._backoff)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="kwire-log-cleaner", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
