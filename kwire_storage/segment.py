"""LogSegment: one ``.log`` file with its ``.index``, ``.timeindex`` and ``.txnindex``.

Files of a segment whose first offset is 1234, in its partition directory::

    00000000000000001234.log        v2 record batches, back to back
    00000000000000001234.index      offset index (offset_index.py)
    00000000000000001234.timeindex  time index (time_index.py)
    00000000000000001234.txnindex   aborted transactions (transaction_index.py), once there is one

The name is the base offset in 20 zero-padded digits; every offset in the
segment is >= it and < base + 2^31 (index entries store 32-bit relative
offsets). During cleaning and deletion the same names carry a suffix
(``.cleaned``, ``.swap``, ``.deleted``; see cleaner.py and log.py).

Only the last segment of a log is active (appended to, indexes mapped
writable). The segment tracks the largest timestamp it holds and the offset
where it appeared, for time-based retention, rolling and ListOffsets.

Recovery (`recover`) re-reads the whole file, checks every batch's length,
magic, CRC and offset order, rebuilds both indexes from scratch and cuts
the file at the first batch that fails, reporting what was cut. The
transaction index is not derived from this segment alone (an entry needs
the transaction's first offset); the loader rebuilds it (recovery.py).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from kwire_protocol.errors import CorruptRecordError
from kwire_protocol.records.batch import HEADER_SIZE, LOG_OVERHEAD, RecordBatch

from kwire_storage.file_records import BatchHeader, FileRecords, FileSlice
from kwire_storage.offset_index import OffsetIndex
from kwire_storage.time_index import NO_TIMESTAMP, TimeIndex
from kwire_storage.transaction_index import TXN_INDEX_SUFFIX, TransactionIndex

logger = logging.getLogger("kwire_storage.segment")

LOG_SUFFIX = ".log"
INDEX_SUFFIX = ".index"
TIME_INDEX_SUFFIX = ".timeindex"
INT32_MAX = 2**31 - 1
_RECOVERY_CHUNK = 8 * 1024 * 1024


def filename_prefix(base_offset: int) -> str:
    return f"{base_offset:020d}"


@dataclass
class Truncation:
    """What recovery cut from a segment: reported, never silent."""

    segment_base_offset: int
    position: int
    bytes_truncated: int
    last_valid_offset: int  # -1 if nothing valid remained before the cut
    reason: str


class LogSegment:
    def __init__(
        self,
        directory: Path,
        base_offset: int,
        *,
        index_interval_bytes: int,
        max_index_size: int,
        created_ms: int,
        roll_jitter_ms: int = 0,
        create: bool = False,
        active: bool = False,
        suffix: str = "",
    ) -> None:
        self.directory = Path(directory)
        self.base_offset = base_offset
        self.index_interval_bytes = index_interval_bytes
        self.roll_jitter_ms = roll_jitter_ms
        self.created_ms = created_ms
        prefix = self.directory / filename_prefix(base_offset)
        self.log = FileRecords(Path(f"{prefix}{LOG_SUFFIX}{suffix}"), create=create)
        self.offset_index = OffsetIndex(Path(f"{prefix}{INDEX_SUFFIX}{suffix}"), base_offset, max_index_size, writable=active)
        self.time_index = TimeIndex(Path(f"{prefix}{TIME_INDEX_SUFFIX}{suffix}"), base_offset, max_index_size, writable=active)
        self.txn_index = TransactionIndex(Path(f"{prefix}{TXN_INDEX_SUFFIX}{suffix}"), base_offset)
        self.bytes_since_last_index_entry = 0
        # Loaded lazily for existing segments (see max_timestamp); a new one has none.
        self._max_timestamp: int | None = NO_TIMESTAMP if create else None
        self._offset_of_max_timestamp = base_offset
        self._rolling_based_timestamp: int | None = None
        self._rolling_loaded = create

    # -- state ---------------------------------------------------------------

    @property
    def size(self) -> int:
        return self.log.size

    @property
    def max_timestamp(self) -> int:
        """Largest batch max_timestamp in the segment (-1 if empty or unknown)."""
        if self._max_timestamp is None:
            self._load_max_timestamp()
        assert self._max_timestamp is not None
        return self._max_timestamp

    @property
    def offset_of_max_timestamp(self) -> int:
        if self._max_timestamp is None:
            self._load_max_timestamp()
        return self._offset_of_max_timestamp

    def _load_max_timestamp(self) -> None:
        # Batches up to the last index entry are summarized by the time index;
        # only the short tail after it needs a scan.
        timestamp, offset = self.time_index.last_entry()
        _, position = self.offset_index.last_entry()
        for header in self.log.headers(position):
            if header.max_timestamp > timestamp:
                timestamp, offset = header.max_timestamp, header.last_offset
        self._max_timestamp, self._offset_of_max_timestamp = timestamp, offset

    @property
    def rolling_based_timestamp(self) -> int | None:
        """The first batch's max timestamp: segment.ms counts from it, as in Kafka."""
        if not self._rolling_loaded:
            header = self.log.read_header(0)
            self._rolling_based_timestamp = header.max_timestamp if header is not None else None
            self._rolling_loaded = True
        return self._rolling_based_timestamp

    def read_next_offset(self) -> int:
        """One past the last offset in the segment (base offset if empty)."""
        _, position = self.offset_index.last_entry()
        next_offset = self.base_offset
        for header in self.log.headers(position):
            next_offset = header.next_offset
        return next_offset

    def should_roll(self, *, messages_size: int, max_timestamp: int, max_offset: int, batches: int,
                    segment_bytes: int, segment_ms: int, now: int) -> str | None:
        """Why this segment must be rolled before appending, or None. Kafka's rules."""
        if self.size > 0:
            rolling = self.rolling_based_timestamp
            waited = max_timestamp - rolling if rolling is not None and rolling >= 0 else now - self.created_ms
            if waited > segment_ms - self.roll_jitter_ms:
                return "segment.ms"
            if self.size > segment_bytes - messages_size:
                return "segment.bytes"
            # An append adds at most one index entry per batch.
            if self.offset_index.entries + batches > self.offset_index.max_entries:
                return "offset index full"
            if self.time_index.entries + batches >= self.time_index.max_entries - 1:
                return "time index full"
        if max_offset - self.base_offset > INT32_MAX:
            return "relative offset overflow"
        return None

    # -- writing (appender thread) --------------------------------------------

    def append(self, data: memoryview, batches: list[tuple[int, int, int]]) -> None:
        """Write `data` (whole batches, offsets assigned) and index it.

        `batches` lists (last_offset, max_timestamp, size) for each batch in
        `data`, in order; they come from the header walk the log already did.
        """
        if self.size == 0 and batches:
            self._rolling_based_timestamp = batches[0][1]
            self._rolling_loaded = True
        position = self.log.append(data)
        self._index_batches(position, batches)

    def _index_batches(self, position: int, batches: list[tuple[int, int, int]]) -> None:
        max_timestamp = self.max_timestamp
        offset_of_max = self._offset_of_max_timestamp
        for last_offset, batch_max_timestamp, size in batches:
            if batch_max_timestamp > max_timestamp:
                max_timestamp, offset_of_max = batch_max_timestamp, last_offset
            if self.bytes_since_last_index_entry > self.index_interval_bytes:
                # A full index only makes scans longer; the roll check keeps
                # this from happening in practice.
                if not self.offset_index.is_full:
                    self.offset_index.append(last_offset, position)
                if not self.time_index.is_full:
                    self.time_index.maybe_append(max_timestamp, offset_of_max)
                self.bytes_since_last_index_entry = 0
            position += size
            self.bytes_since_last_index_entry += size
        self._max_timestamp, self._offset_of_max_timestamp = max_timestamp, offset_of_max

    def flush(self) -> None:
        self.log.flush()
        self.offset_index.flush()
        self.time_index.flush()
        self.txn_index.flush()

    def on_become_inactive(self) -> None:
        """Record the final max timestamp, trim the indexes to size, fsync everything."""
        if self.max_timestamp != NO_TIMESTAMP:
            self.time_index.maybe_append(self.max_timestamp, self.offset_of_max_timestamp, skip_full_check=True)
        self.offset_index.trim_to_valid_size()
        self.time_index.trim_to_valid_size()
        self.txn_index.close()
        self.log.flush()

    def make_active(self) -> None:
        self.offset_index.make_writable()
        self.time_index.make_writable()

    # -- reading ---------------------------------------------------------------

    def translate_offset(self, offset: int, starting_position: int = 0) -> BatchHeader | None:
        """Header of the first batch whose last offset is >= `offset`, or None."""
        _, position = self.offset_index.lookup(offset)
        for header in self.log.headers(max(position, starting_position)):
            if header.last_offset >= offset:
                return header
        return None

    def read(self, start_offset: int, max_size: int, max_position: int | None = None,
             min_one_message: bool = True) -> FileSlice | None:
        """Whole batches from the one holding `start_offset`, at most `max_size` bytes.

        The first batch is returned whole even above `max_size` when
        `min_one_message` is set (Kafka's rule, so a consumer always makes
        progress). Nothing at or past `max_position` is returned. None if the
        segment has no batch at or after `start_offset`.
        """
        limit = self.size if max_position is None else min(max_position, self.size)
        first = self.translate_offset(start_offset)
        if first is None:
            return None
        start = first.position
        if start >= limit:
            return self.log.slice(start, 0, first.base_offset)
        if first.size > max_size:
            size = first.size if min_one_message else 0
            return self.log.slice(start, size, first.base_offset)
        end = start
        for header in self.log.headers(start, limit):
            if header.position + header.size - start > max_size:
                break
            end = header.position + header.size
        return self.log.slice(start, end - start, first.base_offset)

    def find_batch_by_timestamp(self, timestamp: int, start_offset: int) -> BatchHeader | None:
        """First batch at or after `start_offset` whose max timestamp is >= `timestamp`."""
        _, offset = self.time_index.lookup(timestamp)
        _, position = self.offset_index.lookup(max(offset, start_offset))
        for header in self.log.headers(position):
            if header.last_offset >= start_offset and header.max_timestamp >= timestamp:
                return header
        return None

    # -- recovery and truncation -------------------------------------------------

    def recover(self) -> Truncation | None:
        """Validate every batch, rebuild both indexes, cut at the first bad batch."""
        was_active = self.offset_index._writable
        self.make_active()
        self.offset_index.reset()
        self.time_index.reset()
        self.bytes_since_last_index_entry = 0
        self._max_timestamp, self._offset_of_max_timestamp = NO_TIMESTAMP, self.base_offset
        size = self.log.size
        position = 0
        last_offset = -1
        reason = ""
        chunk, chunk_start = b"", 0
        while position < size:
            if size - position < LOG_OVERHEAD:
                reason = f"{size - position} trailing bytes are shorter than a batch's offset and length"
                break
            # Keep a read buffer that holds the whole batch at `position`.
            if position + LOG_OVERHEAD > chunk_start + len(chunk):
                chunk, chunk_start = self.log.read_exact(min(_RECOVERY_CHUNK, size - position), position), position
            at = position - chunk_start
            header_bytes = chunk[at:at + HEADER_SIZE] if at + HEADER_SIZE <= len(chunk) else self.log.read_exact(HEADER_SIZE, position)
            batch_length = int.from_bytes(header_bytes[8:12], "big", signed=True)
            batch_size = batch_length + LOG_OVERHEAD
            if batch_length < HEADER_SIZE - LOG_OVERHEAD:
                reason = f"batch length field {batch_length} is below the minimum"
                break
            if position + batch_size > size:
                reason = f"batch claims {batch_size} bytes, only {size - position} remain (torn write)"
                break
            if at + batch_size > len(chunk):
                chunk, chunk_start = self.log.read_exact(max(min(_RECOVERY_CHUNK, size - position), batch_size), position), position
                at = 0
            try:
                batch = RecordBatch(memoryview(chunk)[at:at + batch_size])
                batch.validate()
            except CorruptRecordError as exc:
                reason = str(exc)
                break
            if batch.base_offset < self.base_offset or batch.base_offset <= last_offset:
                reason = f"batch base offset {batch.base_offset} is not after {max(last_offset, self.base_offset - 1)}"
                break
            if batch.last_offset - self.base_offset > INT32_MAX:
                reason = f"batch last offset {batch.last_offset} overflows the segment's relative offsets"
                break
            self._index_batches(position, [(batch.last_offset, batch.max_timestamp, batch_size)])
            last_offset = batch.last_offset
            position += batch_size
        truncation = None
        if position < size:
            truncation = Truncation(self.base_offset, position, size - position, last_offset, reason)
            self.log.truncate_to(position)
        self._rolling_loaded = False
        if was_active:
            # The recovered bytes may exist only in the page cache of a process
            # that died: make them durable before the recovery point covers them.
            self.flush()
        else:
            self.on_become_inactive()
        return truncation

    def truncate_to(self, offset: int) -> int:
        """Remove the batch holding `offset` and everything after it; returns bytes removed."""
        header = self.translate_offset(offset)
        if header is None:
            return 0
        self.offset_index.truncate_to_position(header.position)
        self.time_index.truncate_to(header.base_offset)
        self.txn_index.truncate_to(header.base_offset)
        removed = self.log.truncate_to(header.position)
        self.bytes_since_last_index_entry = 0
        self._max_timestamp = None
        self._rolling_loaded = False
        if self.size == 0:
            self._rolling_based_timestamp = None
            self._rolling_loaded = True
        return removed

    # -- files -------------------------------------------------------------------

    def paths(self) -> list[Path]:
        return [self.log.path, self.offset_index.path, self.time_index.path, self.txn_index.path]

    def change_suffix(self, old: str, new: str) -> None:
        """Rename all four files from `<name><old>` to `<name><new>` (the txnindex if it exists)."""
        for f in (self.offset_index, self.time_index, self.txn_index, self.log):
            name = str(f.path)
            stem = name[: len(name) - len(old)] if old and name.endswith(old) else name
            f.rename(Path(stem + new))

    def close(self) -> None:
        """Clean close: final time index entry, trimmed indexes, data fsynced."""
        if self.offset_index._writable:
            self.on_become_inactive()  # inactive segments were fsynced when they rolled
        self.offset_index.close()
        self.time_index.close()
        self.txn_index.close()
        self.log.close()

    def close_handles(self) -> None:
        """Release mappings and the descriptor without touching the files."""
        self.offset_index.close(trim=False)
        self.time_index.close(trim=False)
        self.txn_index.close_handle()
        self.log.close()

    def delete_files(self) -> None:
        for path in self.paths():
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass

    def __repr__(self) -> str:
        return f"LogSegment(base_offset={self.base_offset}, size={self.size}, path={self.log.path.name})"
