"""TransactionIndex: the aborted transactions whose markers lie in one segment.

Kafka's ``.txnindex`` file, beside the segment's ``.log``
(``00000000000000001234.txnindex``). One entry per transaction that an
abort marker in this segment completed, in marker order, 34 bytes each,
big-endian::

    int16  version              0
    int64  producer_id
    int64  first_offset         the transaction's first data offset (maybe in an earlier segment)
    int64  last_offset          the abort marker's offset
    int64  last_stable_offset   the partition's LSO once the abort completed:
                                the first offset of the oldest other ongoing
                                transaction, else last_offset + 1

Fetch with read_committed hands consumers the (producer id, first offset)
of every aborted transaction overlapping the fetched range, so they drop
those producers' records until the abort marker. The search walks segments
from the fetch offset upward and stops at the first entry whose last
stable offset is at or past the upper bound: no later abort can reach back
below it (Kafka's collectAbortedTxns).

As in Kafka the file exists only once an entry is written; the entries are
read into memory on first use. Writes are not fsynced one by one: the file
is fsynced with its segment (roll, flush, close), and recovery of a
segment rebuilds it from the log (Log and producer_state.py), so a torn
tail is never trusted.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import NamedTuple

from kwire_storage.errors import CorruptIndexError

TXN_INDEX_SUFFIX = ".txnindex"
ENTRY = struct.Struct(">hqqqq")
ENTRY_SIZE = ENTRY.size  # 34
VERSION = 0


class AbortedTxn(NamedTuple):
    producer_id: int
    first_offset: int
    last_offset: int
    last_stable_offset: int


class TransactionIndex:
    def __init__(self, path: Path, start_offset: int) -> None:
        self.path = path
        self.start_offset = start_offset
        self._entries: list[AbortedTxn] | None = None
        self._fd: int | None = None
        self._dirty = False

    @property
    def entries(self) -> list[AbortedTxn]:
        if self._entries is None:
            self._entries = _read_entries(self.path)
        return self._entries

    @property
    def last_offset(self) -> int | None:
        entries = self.entries
        return entries[-1].last_offset if entries else None

    def append(self, txn: AbortedTxn) -> None:
        """Add an entry; markers come in offset order, so last offsets must increase."""
        last = self.last_offset
        if last is not None and txn.last_offset <= last:
            raise ValueError(f"{self.path.name}: aborted transaction ending at {txn.last_offset} does not follow {last}")
        if self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.write(self._fd, ENTRY.pack(VERSION, *txn))
        self.entries.append(txn)
        self._dirty = True

    def collect(self, fetch_offset: int, upper_bound_offset: int) -> tuple[list[AbortedTxn], bool]:
        """Aborted transactions overlapping [fetch_offset, upper_bound_offset), and
        whether the search is complete (no later segment can hold one)."""
        found = []
        for txn in self.entries:
            if txn.last_offset >= fetch_offset and txn.first_offset < upper_bound_offset:
                found.append(txn)
            if txn.last_stable_offset >= upper_bound_offset:
                return found, True
        return found, False

    def truncate_to(self, offset: int) -> None:
        """Drop the entries of markers at or after `offset` (the log was cut there)."""
        entries = self.entries
        keep = [txn for txn in entries if txn.last_offset < offset]
        if len(keep) != len(entries):
            self._entries = keep
            self._rewrite_length(len(keep) * ENTRY_SIZE)

    def reset(self) -> None:
        """Empty the index (its segment is being recovered and the entries rebuilt)."""
        self._entries = []
        self._rewrite_length(0)

    def _rewrite_length(self, size: int) -> None:
        try:
            os.truncate(self.path, size)
        except FileNotFoundError:
            return
        self._dirty = True

    def sanity_check(self) -> None:
        """Kafka's check: whole entries, none ending before the segment starts."""
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return
        if size % ENTRY_SIZE:
            raise CorruptIndexError(f"transaction index {self.path.name} has size {size}, not a multiple of {ENTRY_SIZE}")
        for txn in self.entries:
            if txn.last_offset < self.start_offset:
                raise CorruptIndexError(
                    f"transaction index {self.path.name}: aborted transaction ending at {txn.last_offset} "
                    f"is below the segment's base offset {self.start_offset}")

    def flush(self) -> None:
        if self._dirty:
            if self._fd is not None:
                os.fsync(self._fd)
            elif self.path.exists():
                fd = os.open(self.path, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            self._dirty = False

    def rename(self, path: Path) -> None:
        if self.path.exists():
            os.replace(self.path, path)
        self.path = path

    def close(self) -> None:
        self.flush()
        self.close_handle()

    def close_handle(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _read_entries(path: Path) -> list[AbortedTxn]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    entries = []
    whole = len(data) - len(data) % ENTRY_SIZE
    for version, *fields in ENTRY.iter_unpack(data[:whole]):
        if version != VERSION:
            raise CorruptIndexError(f"transaction index {path.name}: entry version {version} is not {VERSION}")
        entries.append(AbortedTxn(*fields))
    return entries
