"""Producer state of one partition: what makes idempotent produce exact.

Theory (Kafka's ProducerStateManager and ProducerAppendInfo, KIP-98 and
KIP-360). Per producer id the partition remembers the producer epoch and the
last `MAX_CACHED_BATCHES` (5) batches it wrote: (first sequence, last
sequence, first offset, last offset, timestamp). A producer keeps at most 5
requests in flight per partition, so any retry it can send is one of those
five. An append from a client is checked against that memory, from batch
headers only (no record is decoded):

* the epoch is older than the known one: INVALID_PRODUCER_EPOCH;
* the batch's (epoch, first sequence, last sequence) equals a cached batch:
  a duplicate (a retry of a write that succeeded). Nothing is written; the
  producer is answered success with the original offsets, as Kafka 2.x+
  does (the DUPLICATE_SEQUENCE_NUMBER error is no longer sent);
* a newer epoch must start at sequence 0, the same epoch must continue at
  last sequence + 1 (after Int32 max comes 0); otherwise
  OUT_OF_ORDER_SEQUENCE_NUMBER;
* an unknown producer (never seen, or expired) is accepted at any sequence:
  since KIP-360 (Kafka 2.5) UNKNOWN_PRODUCER_ID is no longer answered for
  it, the state simply starts from that batch.

Who appends decides what is checked (`AppendOrigin`, Kafka's): CLIENT
(Produce) gets all of the above; COORDINATOR (the group and transaction
coordinators writing their own transactional batches with no sequence, and
transaction markers) only the epoch checks; REPLICATION (a follower
copying its leader) none.

Transactions (KIP-98). A transactional batch (attribute bit 0x10) opens a
transaction for its producer unless one is open: the entry remembers its
first offset (`current_txn_first_offset`) and `ongoing` maps producer id to
it, so the partition's first unstable offset is the smallest of them. While
a transaction is open the producer may only write transactional batches
(INVALID_TXN_STATE). A control batch with an end-transaction marker
(kwire_protocol.records.control) completes it: a marker with an older
producer epoch is refused (INVALID_PRODUCER_EPOCH), one from an older
coordinator epoch than the producer's last marker too
(TRANSACTION_COORDINATOR_FENCED); otherwise the marker records the
coordinator epoch and `update` returns the `CompletedTxn` (none when no
transaction was open: such a marker is written and harmless) with the last
stable offset as it stands once the transaction is done, for the log's
transaction index. Producers with an open transaction never expire.

State is rebuilt on load by scanning batch headers from the latest snapshot
to the log end (control batches are decoded: their one record says commit
or abort); the scan reports the transactions it completes, so the log can
rebuild the transaction indexes of the scanned range. A snapshot is
written when a segment rolls and on clean close, named by the offset up to
which it holds the state
(``<offset, 20 digits>.snapshot``, Kafka's naming), so a restart scans at
most the active segment; at load only the latest snapshot and those at
segment boundaries are kept. Truncation reloads from the latest snapshot at or
below the new end; deleting leading segments deletes their snapshots but,
as in Kafka since KIP-360, keeps the producers (a producer whose records
were all deleted must still not have its sequences reset). Producers idle
for producer.id.expiration.ms (by their last batch's timestamp) are
removed by `remove_expired_producers`.

Snapshot file format: Kafka's ProducerSnapshot version 1 layout, all
integers big-endian::

    int16   version                  1
    uint32  crc                      CRC32C of every byte after this field
    int32   entry count
    entries, 46 bytes each:
      int64 producer_id, int16 epoch, int32 last_sequence, int64 last_offset,
      int32 offset_delta (last - first, for both offsets and sequences),
      int64 timestamp, int32 coordinator_epoch, int64 current_txn_first_offset

Kafka writes one entry per producer (its last batch). kwire writes one entry
per cached batch, oldest first, so the five batches survive a restart; a
producer without cached batches has one entry with last_sequence -1 and
last_offset -1. Kafka's reader keeps the last entry per producer id, which
is the newest batch, so the files stay readable by Kafka's tools. Every
entry of a producer carries its coordinator_epoch and current_txn_first_offset
(-1 when no transaction is open), so open transactions survive a restart.
"""

from __future__ import annotations

import logging
import os
import re
import struct
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from enum import Enum
from pathlib import Path
from typing import Any, NamedTuple

from crc32c import crc32c

from kwire_protocol.errors import CorruptRecordError
from kwire_protocol.records.batch import CONTROL_MASK, HEADER_SIZE, HEADER_STRUCT, LOG_OVERHEAD, TRANSACTIONAL_MASK, RecordBatch
from kwire_protocol.records.control import ABORT, COMMIT, EndTxnMarker, control_type, read_end_txn_marker

from kwire_storage.errors import (
    CorruptCheckpointError,
    InvalidProducerEpochError,
    InvalidTxnStateError,
    OutOfOrderSequenceError,
    TransactionCoordinatorFencedError,
)

logger = logging.getLogger("kwire_storage.producer_state")

MAX_CACHED_BATCHES = 5
INT32_MAX = 2**31 - 1
NO_SEQUENCE = -1
NO_EPOCH = -1
SNAPSHOT_SUFFIX = ".snapshot"
SNAPSHOT_VERSION = 1
DEFAULT_PRODUCER_ID_EXPIRATION_MS = 86_400_000

_SNAPSHOT_NAME = re.compile(r"^(\d{20})\.snapshot$")
_SNAPSHOT_HEADER = struct.Struct(">hIi")
_SNAPSHOT_ENTRY = struct.Struct(">qhiqiqiq")
_SCAN_CHUNK = 64 * 1024


class AppendOrigin(Enum):
    """Who appends (Kafka's AppendOrigin): decides which producer checks apply."""

    CLIENT = "client"
    COORDINATOR = "coordinator"
    REPLICATION = "replication"


class CompletedTxn(NamedTuple):
    """A transaction a marker ended; `last_stable_offset` as Kafka's AbortedTxn records it."""

    producer_id: int
    first_offset: int
    last_offset: int  # the marker's offset
    is_aborted: bool
    last_stable_offset: int


def increment_sequence(sequence: int, increment: int) -> int:
    """Sequences wrap from Int32 max to 0 (Kafka's DefaultRecordBatch.incrementSequence)."""
    if sequence > INT32_MAX - increment:
        return increment - (INT32_MAX - sequence) - 1
    return sequence + increment


def decrement_sequence(sequence: int, decrement: int) -> int:
    if sequence < decrement:
        return INT32_MAX - (decrement - sequence) + 1
    return sequence - decrement


def in_sequence(last_sequence: int, next_sequence: int) -> bool:
    return next_sequence == last_sequence + 1 or (next_sequence == 0 and last_sequence == INT32_MAX)


class BatchMetadata(NamedTuple):
    first_sequence: int
    last_sequence: int
    first_offset: int
    last_offset: int
    timestamp: int


class ProducerStateEntry:
    """One producer id: its epoch, its last batches (oldest first), when it was last seen."""

    __slots__ = ("producer_id", "epoch", "batches", "last_timestamp", "coordinator_epoch", "current_txn_first_offset")

    def __init__(self, producer_id: int, epoch: int = NO_EPOCH) -> None:
        self.producer_id = producer_id
        self.epoch = epoch
        self.batches: deque[BatchMetadata] = deque(maxlen=MAX_CACHED_BATCHES)
        self.last_timestamp = -1
        self.coordinator_epoch = -1
        self.current_txn_first_offset = -1

    @property
    def last_sequence(self) -> int:
        return self.batches[-1].last_sequence if self.batches else NO_SEQUENCE

    @property
    def last_offset(self) -> int:
        return self.batches[-1].last_offset if self.batches else -1

    def find_duplicate(self, epoch: int, first_sequence: int, last_sequence: int) -> BatchMetadata | None:
        if epoch != self.epoch:
            return None
        for batch in self.batches:
            if batch.first_sequence == first_sequence and batch.last_sequence == last_sequence:
                return batch
        return None

    def add(self, epoch: int, batch: BatchMetadata | None, timestamp: int) -> None:
        if epoch != self.epoch:
            self.batches.clear()
            self.epoch = epoch
        if batch is not None:
            self.batches.append(batch)
        self.last_timestamp = max(self.last_timestamp, timestamp)

    def copy(self) -> ProducerStateEntry:
        entry = ProducerStateEntry(self.producer_id, self.epoch)
        entry.batches.extend(self.batches)
        entry.last_timestamp = self.last_timestamp
        entry.coordinator_epoch = self.coordinator_epoch
        entry.current_txn_first_offset = self.current_txn_first_offset
        return entry

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ProducerStateEntry) and self._key() == other._key()

    def _key(self) -> tuple[Any, ...]:
        return (self.producer_id, self.epoch, tuple(self.batches), self.last_timestamp, self.coordinator_epoch,
                self.current_txn_first_offset)

    def __repr__(self) -> str:
        return (f"ProducerStateEntry(id={self.producer_id}, epoch={self.epoch}, batches={list(self.batches)}, "
                f"coordinator_epoch={self.coordinator_epoch}, current_txn_first_offset={self.current_txn_first_offset})")


class ProducerBatch(NamedTuple):
    """What the state needs of one batch: header fields and where it went."""

    producer_id: int
    epoch: int
    base_sequence: int
    last_offset_delta: int
    is_control: bool
    first_offset: int
    timestamp: int
    is_transactional: bool = False
    marker: EndTxnMarker | None = None  # of a control batch that ends a transaction

    @property
    def last_sequence(self) -> int:
        if self.base_sequence == NO_SEQUENCE:  # a coordinator's batch
            return NO_SEQUENCE
        return increment_sequence(self.base_sequence, self.last_offset_delta)

    def metadata(self) -> BatchMetadata:
        return BatchMetadata(self.base_sequence, self.last_sequence, self.first_offset,
                             self.first_offset + self.last_offset_delta, self.timestamp)


class ProducerStateManager:
    """The producers of one partition directory, and their snapshot files."""

    def __init__(self, directory: Path | str, expiration_ms: int = DEFAULT_PRODUCER_ID_EXPIRATION_MS) -> None:
        self.dir = Path(directory)
        self.expiration_ms = expiration_ms
        self.producers: dict[int, ProducerStateEntry] = {}
        # Open transactions: producer id -> first offset.
        self.ongoing: dict[int, int] = {}
        # Every batch below this offset is reflected in `producers`.
        self.map_end_offset = 0

    @property
    def first_unstable_offset(self) -> int | None:
        """The first offset of the oldest open transaction, None if none is open."""
        return min(self.ongoing.values(), default=None)

    # -- checks and updates on append ---------------------------------------------------

    def check(self, batches: Iterable[RecordBatch], origin: AppendOrigin = AppendOrigin.CLIENT) -> BatchMetadata | None:
        """Check batches (RecordBatch headers) before they are written, as `origin` requires.

        Returns the cached batch if a client's batch is a duplicate (nothing
        must then be written); raises InvalidProducerEpochError,
        OutOfOrderSequenceError, InvalidTxnStateError,
        TransactionCoordinatorFencedError or (an undecodable marker)
        CorruptRecordError; None when all may be appended. Batches of one
        append are chained: the second continues the first.
        """
        if origin is AppendOrigin.REPLICATION:
            return None
        # producer id -> (epoch, last sequence, transaction open) after earlier batches of this append
        pending: dict[int, tuple[int, int, bool]] = {}
        for batch in batches:
            producer_id = batch.producer_id
            if producer_id < 0:
                continue
            epoch = batch.producer_epoch
            entry = self.producers.get(producer_id)
            if batch.attributes & CONTROL_MASK:
                self._check_marker(batch, entry, pending.get(producer_id))
                pending[producer_id] = (epoch, NO_SEQUENCE, False)
                continue
            transactional = bool(batch.attributes & TRANSACTIONAL_MASK)
            if producer_id in pending:
                in_txn = pending[producer_id][2]
            else:
                in_txn = entry is not None and entry.current_txn_first_offset >= 0
            if origin is AppendOrigin.COORDINATOR:
                known_epoch = pending[producer_id][0] if producer_id in pending else (entry.epoch if entry else NO_EPOCH)
                if epoch < known_epoch:
                    raise InvalidProducerEpochError(
                        f"producer {producer_id}: epoch {epoch} is older than the current epoch {known_epoch}")
                _check_txn_state(producer_id, in_txn, transactional)
                pending[producer_id] = (epoch, NO_SEQUENCE, in_txn or transactional)
                continue
            first_sequence = batch.base_sequence
            if producer_id in pending:
                current_epoch, last_sequence, _ = pending[producer_id]
                known = True
            elif entry is not None:
                duplicate = entry.find_duplicate(epoch, first_sequence, increment_sequence(first_sequence, batch.last_offset_delta))
                if duplicate is not None:
                    return duplicate
                current_epoch, last_sequence, known = entry.epoch, entry.last_sequence, entry.epoch != NO_EPOCH
            else:
                current_epoch, last_sequence, known = NO_EPOCH, NO_SEQUENCE, False
            if known and epoch < current_epoch:
                raise InvalidProducerEpochError(
                    f"producer {producer_id}: epoch {epoch} is older than the current epoch {current_epoch}")
            if known and epoch != current_epoch:
                if first_sequence != 0:
                    raise OutOfOrderSequenceError(
                        f"producer {producer_id}: new epoch {epoch} starts at sequence {first_sequence}, not 0")
            elif known and not in_sequence(last_sequence, first_sequence):
                raise OutOfOrderSequenceError(
                    f"producer {producer_id} epoch {epoch}: sequence {first_sequence} does not follow {last_sequence}")
            _check_txn_state(producer_id, in_txn, transactional)
            pending[producer_id] = (epoch, increment_sequence(first_sequence, batch.last_offset_delta), in_txn or transactional)
        return None

    def _check_marker(self, batch: RecordBatch, entry: ProducerStateEntry | None,
                      pending: tuple[int, int, bool] | None) -> None:
        """Kafka's checkProducerEpoch and checkCoordinatorEpoch for an end-transaction marker."""
        producer_id, epoch = batch.producer_id, batch.producer_epoch
        known_epoch = pending[0] if pending is not None else (entry.epoch if entry is not None else NO_EPOCH)
        if epoch < known_epoch:
            raise InvalidProducerEpochError(f"producer {producer_id}: marker epoch {epoch} is older than {known_epoch}")
        marker = end_txn_marker(batch)
        if marker is not None and entry is not None and marker.coordinator_epoch < entry.coordinator_epoch:
            raise TransactionCoordinatorFencedError(
                f"producer {producer_id}: marker from coordinator epoch {marker.coordinator_epoch} is older than "
                f"{entry.coordinator_epoch}")

    def update(self, batch: ProducerBatch) -> CompletedTxn | None:
        """Record a written batch (any origin); no checks. Returns the transaction a marker completed."""
        producer_id = batch.producer_id
        entry = self.producers.get(producer_id)
        if entry is None:
            entry = self.producers[producer_id] = ProducerStateEntry(producer_id)
        last_offset = batch.first_offset + batch.last_offset_delta
        self.map_end_offset = max(self.map_end_offset, last_offset + 1)
        if not batch.is_control:
            entry.add(batch.epoch, batch.metadata(), batch.timestamp)
            if batch.is_transactional and entry.current_txn_first_offset < 0:
                entry.current_txn_first_offset = batch.first_offset
                self.ongoing[producer_id] = batch.first_offset
            return None
        entry.add(batch.epoch, None, batch.timestamp)
        if batch.marker is None:
            return None
        entry.coordinator_epoch = batch.marker.coordinator_epoch
        first_offset = entry.current_txn_first_offset
        if first_offset < 0:
            return None
        entry.current_txn_first_offset = -1
        del self.ongoing[producer_id]
        last_stable_offset = min(self.ongoing.values(), default=last_offset + 1)
        return CompletedTxn(producer_id, first_offset, last_offset, batch.marker.control_type == ABORT, last_stable_offset)

    def remove_expired_producers(self, now: int) -> int:
        """Drop producers whose last batch is producer.id.expiration.ms old and that have
        no open transaction (Kafka's isProducerExpired); returns how many."""
        expired = [pid for pid, entry in self.producers.items()
                   if entry.current_txn_first_offset < 0 and now - entry.last_timestamp >= self.expiration_ms]
        for producer_id in expired:
            del self.producers[producer_id]
        return len(expired)

    def clear(self, offset: int) -> None:
        self.producers.clear()
        self.ongoing.clear()
        self.map_end_offset = offset

    # -- snapshots ------------------------------------------------------------------------------

    def snapshot_path(self, offset: int) -> Path:
        return self.dir / f"{offset:020d}{SNAPSHOT_SUFFIX}"

    def snapshot_offsets(self) -> list[int]:
        offsets = []
        for path in self.dir.iterdir():
            match = _SNAPSHOT_NAME.match(path.name)
            if match:
                offsets.append(int(match.group(1)))
        return sorted(offsets)

    def take_snapshot(self, sync: bool = True) -> Path:
        """Write the state as of `map_end_offset` to ``<map_end_offset>.snapshot`` (via a .tmp and a rename)."""
        path = self.snapshot_path(self.map_end_offset)
        data = encode_snapshot(self.producers.values())
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, data)
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        return path

    def delete_snapshots_after(self, offset: int) -> None:
        """Remove snapshots above `offset` (they describe offsets that are gone)."""
        for snapshot in self.snapshot_offsets():
            if snapshot > offset:
                self.snapshot_path(snapshot).unlink(missing_ok=True)

    def delete_snapshots_before(self, offset: int) -> None:
        """Remove snapshots below `offset` (their segments were deleted), as Kafka's deleteSnapshotsBefore."""
        for snapshot in self.snapshot_offsets():
            if snapshot < offset:
                self.snapshot_path(snapshot).unlink(missing_ok=True)

    def load(self, segments: Sequence[Any], log_end_offset: int, now: int, *, scan_from: int | None = None,
             on_completed: Callable[[CompletedTxn], None] | None = None) -> int:
        """Rebuild the state: latest readable snapshot <= log end (and <= `scan_from`, when
        the scan must cover that offset), then a header scan up to the log end.

        `on_completed` gets every transaction a marker in the scanned range
        completed. Returns the offset the scan started at (the log end when
        nothing was scanned).
        """
        self.delete_snapshots_after(log_end_offset)
        start = segments[0].base_offset if segments else log_end_offset
        self.producers = {}
        limit = log_end_offset if scan_from is None else min(scan_from, log_end_offset)
        for offset in reversed(self.snapshot_offsets()):
            if offset > limit:
                continue
            try:
                entries = decode_snapshot(self.snapshot_path(offset).read_bytes())
            except (OSError, CorruptCheckpointError) as exc:
                logger.warning("%s: ignoring producer snapshot %d: %s", self.dir.name, offset, exc)
                self.snapshot_path(offset).unlink(missing_ok=True)
                continue
            self.producers = {entry.producer_id: entry for entry in entries}
            start = max(offset, start)
            break
        self.ongoing = {pid: e.current_txn_first_offset for pid, e in self.producers.items() if e.current_txn_first_offset >= 0}
        self.map_end_offset = start
        for batch in scan_producer_batches(segments, start, log_end_offset):
            completed = self.update(batch)
            if completed is not None and on_completed is not None:
                on_completed(completed)
        self.map_end_offset = log_end_offset
        self.remove_expired_producers(now)
        self._remove_stray_snapshots({segment.base_offset for segment in segments})
        return start

    def _remove_stray_snapshots(self, segment_bases: set[int]) -> None:
        """Keep the latest snapshot and those at segment boundaries (Kafka's removeStraySnapshots):
        clean-close snapshots inside the active segment would otherwise pile up across restarts."""
        offsets = self.snapshot_offsets()
        for offset in offsets[:-1]:
            if offset not in segment_bases:
                self.snapshot_path(offset).unlink(missing_ok=True)


def encode_snapshot(entries: Iterable[ProducerStateEntry]) -> bytes:
    body = bytearray()
    count = 0
    for entry in entries:
        rows: list[BatchMetadata | None] = list(entry.batches) or [None]
        for batch in rows:
            if batch is None:
                last_sequence, last_offset, delta, timestamp = NO_SEQUENCE, -1, 0, entry.last_timestamp
            else:
                last_sequence, last_offset = batch.last_sequence, batch.last_offset
                delta, timestamp = batch.last_offset - batch.first_offset, batch.timestamp
            body += _SNAPSHOT_ENTRY.pack(entry.producer_id, entry.epoch, last_sequence, last_offset, delta, timestamp,
                                         entry.coordinator_epoch, entry.current_txn_first_offset)
            count += 1
    tail = struct.pack(">i", count) + bytes(body)
    return struct.pack(">hI", SNAPSHOT_VERSION, crc32c(tail)) + tail


def decode_snapshot(data: bytes) -> list[ProducerStateEntry]:
    if len(data) < _SNAPSHOT_HEADER.size:
        raise CorruptCheckpointError(f"producer snapshot of {len(data)} bytes is shorter than its header")
    version, crc, count = _SNAPSHOT_HEADER.unpack_from(data, 0)
    if version != SNAPSHOT_VERSION:
        raise CorruptCheckpointError(f"producer snapshot version {version} is not {SNAPSHOT_VERSION}")
    if crc32c(data[6:]) != crc:
        raise CorruptCheckpointError("producer snapshot CRC mismatch")
    if count < 0 or len(data) != _SNAPSHOT_HEADER.size + count * _SNAPSHOT_ENTRY.size:
        raise CorruptCheckpointError(f"producer snapshot of {len(data)} bytes does not hold {count} entries")
    entries: dict[int, ProducerStateEntry] = {}
    for (producer_id, epoch, last_sequence, last_offset, delta, timestamp, coordinator_epoch,
         txn_first_offset) in _SNAPSHOT_ENTRY.iter_unpack(data[_SNAPSHOT_HEADER.size:]):
        entry = entries.get(producer_id)
        if entry is None:
            entry = entries[producer_id] = ProducerStateEntry(producer_id, epoch)
        batch = None
        if last_offset >= 0:
            first_sequence = NO_SEQUENCE if last_sequence == NO_SEQUENCE else decrement_sequence(last_sequence, delta)
            batch = BatchMetadata(first_sequence, last_sequence, last_offset - delta, last_offset, timestamp)
        entry.add(epoch, batch, timestamp)
        entry.coordinator_epoch = coordinator_epoch
        entry.current_txn_first_offset = txn_first_offset
    return list(entries.values())


def scan_producer_batches(segments: Sequence[Any], start_offset: int, end_offset: int) -> Iterator[ProducerBatch]:
    """Producer batches from `start_offset` to `end_offset`, from segment files, headers only."""
    for i, segment in enumerate(segments):
        next_base = segments[i + 1].base_offset if i + 1 < len(segments) else None
        if next_base is not None and next_base <= start_offset:
            continue
        if segment.base_offset >= end_offset:
            break
        position = 0
        if start_offset > segment.base_offset:
            header = segment.translate_offset(start_offset)
            if header is None:
                continue
            position = header.position
        yield from _scan_file(segment.log, position, start_offset, end_offset)


def _scan_file(file: Any, position: int, start_offset: int, end_offset: int) -> Iterator[ProducerBatch]:
    size = file.size
    unpack = HEADER_STRUCT.unpack_from
    while position + HEADER_SIZE <= size:
        chunk = file.pread(min(_SCAN_CHUNK, size - position), position)
        at = 0
        while at + HEADER_SIZE <= len(chunk):
            (base_offset, batch_length, _leader_epoch, _magic, _crc, attributes, last_offset_delta, _base_ts, max_timestamp,
             producer_id, epoch, base_sequence, _count) = unpack(chunk, at)
            if base_offset >= end_offset or batch_length < HEADER_SIZE - LOG_OVERHEAD:
                return
            if producer_id >= 0 and base_offset + last_offset_delta >= start_offset:
                is_control = bool(attributes & CONTROL_MASK)
                marker = _read_marker(file, position + at, batch_length + LOG_OVERHEAD) if is_control else None
                yield ProducerBatch(producer_id, epoch, base_sequence, last_offset_delta, is_control,
                                    base_offset, max_timestamp, bool(attributes & TRANSACTIONAL_MASK), marker)
            at += batch_length + LOG_OVERHEAD
        if at == 0:
            return
        position += at


def _check_txn_state(producer_id: int, in_txn: bool, transactional: bool) -> None:
    if in_txn and not transactional:
        raise InvalidTxnStateError(f"producer {producer_id}: non-transactional batch while its transaction is open")


def end_txn_marker(batch: RecordBatch) -> EndTxnMarker | None:
    """The marker of a control batch if it ends a transaction (other control types exist in KRaft
    logs; the cleaner leaves a marker empty when its transaction is gone but it is its producer's last batch)."""
    if batch.records_count == 0 or control_type(batch) not in (ABORT, COMMIT):
        return None
    return read_end_txn_marker(batch)


def _read_marker(file: Any, position: int, size: int) -> EndTxnMarker | None:
    try:
        return end_txn_marker(RecordBatch(memoryview(file.read_exact(size, position))))
    except CorruptRecordError as exc:
        # Recovery CRC-checked the batch, so this is a control record we do not understand.
        logger.warning("ignoring control batch at position %d of %s: %s", position, file.path.name, exc)
        return None
