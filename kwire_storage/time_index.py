"""The time index of one segment: ``<base offset>.timeindex``.

On-disk format (Kafka's): a headerless array of 12-byte big-endian entries::

    timestamp        int64   the largest timestamp seen so far in the segment
    relative_offset  int32   offset of the batch where that timestamp appeared

An entry is added alongside each offset index entry, but only when the
largest timestamp has grown since the last entry, so both fields increase
strictly. When a segment stops being active one last entry records its
largest timestamp, which is how a reopened segment knows it without a scan
(retention by time needs it). The last slot is reserved for that entry:
the index counts as full one entry early.
"""

from __future__ import annotations

import struct
from pathlib import Path

from kwire_storage.errors import CorruptIndexError
from kwire_storage.index import MmapIndex

NO_TIMESTAMP = -1


class TimeIndex(MmapIndex):
    ENTRY = struct.Struct(">qi")

    def __init__(self, path: Path, base_offset: int, max_index_size: int = 10485760, writable: bool = False) -> None:
        super().__init__(path, base_offset, max_index_size, writable)

    @property
    def is_full(self) -> bool:
        return self._entries >= self.max_entries - 1

    def last_entry(self) -> tuple[int, int]:
        """(timestamp, offset) of the last entry, or (-1, base offset) if empty."""
        if self._entries == 0:
            return NO_TIMESTAMP, self.base_offset
        timestamp, relative = self.entry(self._entries - 1)
        return timestamp, self.base_offset + relative

    def maybe_append(self, timestamp: int, offset: int, skip_full_check: bool = False) -> None:
        """Append (timestamp, offset) if the timestamp is larger than the last entry's."""
        n = self._entries
        if n:
            last_timestamp, last_relative = self.ENTRY.unpack_from(self._mm, (n - 1) * 12)  # type: ignore[arg-type]
            if timestamp <= last_timestamp:
                return
            last_offset = self.base_offset + last_relative
            if offset < last_offset:
                raise CorruptIndexError(f"{self.path.name}: offset {offset} before last entry offset {last_offset}")
        if self._entries >= self.max_entries or (not skip_full_check and self.is_full):
            raise ValueError(f"{self.path.name} is full")
        self._append_entry(timestamp, offset - self.base_offset)

    def lookup(self, target_timestamp: int) -> tuple[int, int]:
        """The last entry with timestamp <= target as (timestamp, offset); (-1, base) if none."""
        n = self._search(0, target_timestamp)
        if n < 0:
            return NO_TIMESTAMP, self.base_offset
        timestamp, relative = self.entry(n)
        return timestamp, self.base_offset + relative

    def truncate_to(self, offset: int) -> None:
        """Drop every entry for an offset >= `offset`."""
        # Offsets increase with timestamps, so a linear search from the end is
        # short in practice; truncation is rare.
        n = self._entries
        while n and self.entry(n - 1)[1] + self.base_offset >= offset:
            n -= 1
        self._truncate_to_entries(n)

    def sanity_check(self, log_size: int) -> None:
        if self._length % self.entry_size and not self._writable:
            raise CorruptIndexError(f"{self.path.name}: length {self._length} is not a multiple of {self.entry_size}")
        if self._entries:
            first_timestamp, _ = self.entry(0)
            last_timestamp, last_relative = self.entry(self._entries - 1)
            if last_timestamp < first_timestamp or last_relative < 0:
                raise CorruptIndexError(f"{self.path.name}: entries out of order")
