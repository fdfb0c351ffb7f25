"""The sparse offset index of one segment: ``<base offset>.index``.

On-disk format (Kafka's): a headerless array of 8-byte big-endian entries::

    relative_offset  int32   offset - segment base offset
    position         int32   byte position of a batch in the .log file

An entry maps the *last* offset of a batch to the position where that batch
starts, which is how Kafka indexes v2 batches. Entries are strictly
increasing in both fields. One is added every `index.interval.bytes` of log
appended, so a lookup lands at most that many bytes (plus one batch) before
the wanted batch, and the reader scans batch headers forward from there.
"""

from __future__ import annotations

import struct
from pathlib import Path

from kwire_storage.errors import CorruptIndexError
from kwire_storage.index import MmapIndex


class OffsetIndex(MmapIndex):
    ENTRY = struct.Struct(">ii")

    def __init__(self, path: Path, base_offset: int, max_index_size: int = 10485760, writable: bool = False) -> None:
        super().__init__(path, base_offset, max_index_size, writable)

    @property
    def last_offset(self) -> int:
        """Offset of the last entry, or the base offset if there is none."""
        if self._entries == 0:
            return self.base_offset
        return self.base_offset + self.entry(self._entries - 1)[0]

    def last_entry(self) -> tuple[int, int]:
        if self._entries == 0:
            return self.base_offset, 0
        relative, position = self.entry(self._entries - 1)
        return self.base_offset + relative, position

    def append(self, offset: int, position: int) -> None:
        relative = offset - self.base_offset
        n = self._entries
        # Read straight from the mapping: this runs once per index.interval.bytes appended.
        if n and relative <= self.ENTRY.unpack_from(self._mm, (n - 1) * 8)[0]:  # type: ignore[arg-type]
            raise CorruptIndexError(
                f"{self.path.name}: entry for offset {offset} is not after last entry {self.last_offset}"
            )
        self._append_entry(relative, position)

    def lookup(self, target_offset: int) -> tuple[int, int]:
        """The last entry with offset <= target, as (offset, position); (base, 0) if none."""
        n = self._search(0, target_offset - self.base_offset)
        if n < 0:
            return self.base_offset, 0
        relative, position = self.entry(n)
        return self.base_offset + relative, position

    def truncate_to(self, offset: int) -> None:
        """Drop every entry for an offset >= `offset`."""
        self._truncate_to_entries(self._first_at_least(0, offset - self.base_offset))

    def truncate_to_position(self, position: int) -> None:
        """Drop every entry pointing at or past `position` (the log was cut there)."""
        self._truncate_to_entries(self._first_at_least(1, position))

    def sanity_check(self, log_size: int) -> None:
        if self._length % self.entry_size and not self._writable:
            raise CorruptIndexError(f"{self.path.name}: length {self._length} is not a multiple of {self.entry_size}")
        if self._entries:
            relative, position = self.entry(self._entries - 1)
            if relative < 0 or (self._entries > 1 and relative == 0):
                raise CorruptIndexError(f"{self.path.name}: last entry offset {relative} is not after the base offset")
            if position >= log_size:
                raise CorruptIndexError(f"{self.path.name}: last entry points at {position}, log has {log_size} bytes")
