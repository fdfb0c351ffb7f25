"""Fixed-size-entry index files shared by the offset and time indexes.

An index file is an array of big-endian fixed-size entries, sorted by their
first field, with no header. While its segment is active the file is
preallocated to `max_index_size` (rounded down to whole entries) and mapped
writable; the number of valid entries is kept in memory. When the segment
rolls or the log closes, the file is trimmed to exactly the valid entries
and remapped read-only, as Kafka does, so a cleanly closed index's length
tells its entry count.

Lookups binary-search the mapping in place (no list of entries is ever
built). One thread writes (the appender); readers on other threads see a
consistent prefix because an entry is written before the count that makes it
visible is bumped, and a trimmed mapping is swapped in before the old one is
dropped.
"""

from __future__ import annotations

import mmap
import os
import struct
from pathlib import Path


class MmapIndex:
    ENTRY: struct.Struct  # set by subclasses

    def __init__(self, path: Path, base_offset: int, max_index_size: int, writable: bool) -> None:
        self.path = Path(path)
        self.base_offset = base_offset
        self.entry_size = self.ENTRY.size
        self.max_index_size = max_index_size
        self._writable = False
        self._mm: mmap.mmap | None = None
        self._length = 0
        self._entries = 0
        flags = os.O_RDWR | os.O_CREAT if writable else os.O_RDONLY
        fd = os.open(self.path, flags, 0o644)
        try:
            length = os.fstat(fd).st_size
            self._entries = length // self.entry_size
            if writable:
                self._map_writable(fd, max(length, self._round(max_index_size)))
            else:
                self._map_readonly(fd, length)
        finally:
            os.close(fd)

    def _round(self, size: int) -> int:
        return size - size % self.entry_size

    def _map_writable(self, fd: int, length: int) -> None:
        os.ftruncate(fd, length)
        self._length = length
        self._mm = mmap.mmap(fd, length, access=mmap.ACCESS_WRITE) if length else None
        self._writable = True

    def _map_readonly(self, fd: int, length: int) -> None:
        self._length = length
        self._mm = mmap.mmap(fd, length, access=mmap.ACCESS_READ) if length else None
        self._writable = False

    # -- state ---------------------------------------------------------------

    @property
    def entries(self) -> int:
        return self._entries

    @property
    def max_entries(self) -> int:
        return self._length // self.entry_size

    @property
    def is_full(self) -> bool:
        return self._entries >= self.max_entries

    @property
    def size_bytes(self) -> int:
        return self._entries * self.entry_size

    def entry(self, n: int) -> tuple[int, ...]:
        if not 0 <= n < self._entries:
            raise IndexError(f"{self.path.name}: entry {n} of {self._entries}")
        assert self._mm is not None
        return self.ENTRY.unpack_from(self._mm, n * self.entry_size)

    def _search(self, key_index: int, target: int) -> int:
        """Index of the last entry whose field `key_index` is <= target, or -1."""
        mm, n = self._mm, self._entries
        if n == 0 or mm is None:
            return -1
        unpack, size = self.ENTRY.unpack_from, self.entry_size
        if unpack(mm, 0)[key_index] > target:
            return -1
        lo, hi = 0, n - 1
        while lo < hi:
            mid = (lo + hi + 1) >> 1
            if unpack(mm, mid * size)[key_index] <= target:
                lo = mid
            else:
                hi = mid - 1
        return lo

    def _first_at_least(self, key_index: int, target: int) -> int:
        """Index of the first entry whose field is >= target (entries if none)."""
        mm, n = self._mm, self._entries
        unpack, size = self.ENTRY.unpack_from, self.entry_size
        lo, hi = 0, n
        while lo < hi:
            mid = (lo + hi) >> 1
            if unpack(mm, mid * size)[key_index] < target:
                lo = mid + 1
            else:
                hi = mid
        return lo

    # -- mutation (appender thread only) --------------------------------------

    def _append_entry(self, *fields: int) -> None:
        at = self._entries * self.entry_size
        if not self._writable or at + self.entry_size > self._length:
            raise ValueError(f"{self.path.name} is {'full' if self._writable else 'not writable'} ({self._entries} entries)")
        self.ENTRY.pack_into(self._mm, at, *fields)  # type: ignore[arg-type]
        self._entries += 1

    def _truncate_to_entries(self, n: int) -> None:
        self._entries = max(0, min(n, self._entries))

    def reset(self) -> None:
        """Forget every entry (the index is about to be rebuilt)."""
        self._entries = 0

    def flush(self) -> None:
        if self._mm is not None and self._writable:
            self._mm.flush()

    def trim_to_valid_size(self) -> None:
        """Shrink the file to its entries and remap it read-only (segment no longer active)."""
        self.flush()
        fd = os.open(self.path, os.O_RDWR)
        try:
            os.ftruncate(fd, self.size_bytes)
            os.fsync(fd)
            # Swap in the new mapping before the old one goes: a reader that
            # already holds the old one still only reads valid entries.
            self._map_readonly(fd, self.size_bytes)
        finally:
            os.close(fd)

    def make_writable(self) -> None:
        """Extend to max_index_size and remap writable (segment becomes active again)."""
        if self._writable:
            return
        fd = os.open(self.path, os.O_RDWR)
        try:
            self._map_writable(fd, max(self.size_bytes, self._round(self.max_index_size)))
        finally:
            os.close(fd)

    def rename(self, path: Path) -> None:
        os.replace(self.path, path)
        self.path = Path(path)

    def close(self, trim: bool = True) -> None:
        if trim and self._writable:
            self.trim_to_valid_size()
        if self._mm is not None:
            self._mm.close()
            self._mm = None
        self._writable = False

    def sanity_check(self, log_size: int) -> None:
        """Raise CorruptIndexError if the file cannot be a valid index of a log of `log_size` bytes."""
        raise NotImplementedError
