"""A segment's ``.log`` file: positioned writes, header scans, and file slices.

The file is a plain concatenation of v2 record batches, byte for byte as
they were appended (after offset assignment), with nothing in between and
no header: exactly what Kafka writes, so Kafka's tools read it. Batches are
written with `os.pwrite` at the tracked end position, one call per append.

Batch headers are read with `pread` into a small buffer and parsed with one
struct; nothing here decodes records. `FileSlice` is what reads hand back: an
open file, a position and a length, ready for `os.sendfile`.

The descriptor lives in a `FileHandle`. A slice keeps its handle alive, and a
handle closes its descriptor only when explicitly closed (log shutdown) or
when the last reference goes (a segment deleted by retention or replaced by
the cleaner while a fetch still holds a slice of it): the descriptor number
is never reused under a reader that still holds a slice.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from kwire_protocol.records.batch import HEADER_SIZE, LOG_OVERHEAD

from kwire_storage.errors import KafkaStorageError

# base_offset, batch_length, partition_leader_epoch, magic, crc, attributes,
# last_offset_delta, base_timestamp, max_timestamp: the first 43 header bytes.
_HEADER_PREFIX = struct.Struct(">qiibIhiqq")
MIN_BATCH_LENGTH = HEADER_SIZE - LOG_OVERHEAD
_SCAN_CHUNK = 32 * 1024


class BatchHeader(NamedTuple):
    position: int
    base_offset: int
    size: int
    magic: int
    attributes: int
    last_offset_delta: int
    base_timestamp: int
    max_timestamp: int

    @property
    def last_offset(self) -> int:
        return self.base_offset + self.last_offset_delta

    @property
    def next_offset(self) -> int:
        return self.base_offset + self.last_offset_delta + 1


def parse_header(buffer: bytes | memoryview, at: int, position: int) -> BatchHeader:
    base, length, _epoch, magic, _crc, attributes, delta, base_ts, max_ts = _HEADER_PREFIX.unpack_from(buffer, at)
    return BatchHeader(position, base, length + LOG_OVERHEAD, magic, attributes, delta, base_ts, max_ts)


class FileHandle:
    """Owns one file descriptor; see the module docstring for its lifetime."""

    __slots__ = ("fd",)

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def close(self) -> None:
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)

    def __del__(self) -> None:
        self.close()


class FileSlice:
    """A byte range of a segment file: hand `fd`, `position`, `size` to os.sendfile."""

    __slots__ = ("handle", "position", "size", "base_offset")

    def __init__(self, handle: FileHandle, position: int, size: int, base_offset: int) -> None:
        self.handle = handle
        self.position = position
        self.size = size
        self.base_offset = base_offset  # first offset of the first batch in the slice

    @property
    def fd(self) -> int:
        return self.handle.fd

    def read(self) -> bytes:
        """The slice's bytes (for tests and for callers that cannot sendfile)."""
        chunks = []
        position, remaining = self.position, self.size
        while remaining:
            chunk = os.pread(self.handle.fd, remaining, position)
            if not chunk:
                break  # the file was truncated under us; return what is there
            chunks.append(chunk)
            position += len(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)

    def sendfile(self, out_fd: int) -> int:
        """Copy the slice to `out_fd` in the kernel; returns bytes sent."""
        sent, position, remaining = 0, self.position, self.size
        while remaining:
            n = os.sendfile(out_fd, self.handle.fd, position, remaining)
            if n == 0:
                break
            sent += n
            position += n
            remaining -= n
        return sent

    def __repr__(self) -> str:
        return f"FileSlice(fd={self.fd}, position={self.position}, size={self.size}, base_offset={self.base_offset})"


class FileRecords:
    """The `.log` file of one segment."""

    def __init__(self, path: Path, create: bool) -> None:
        self.path = Path(path)
        flags = os.O_RDWR | (os.O_CREAT if create else 0)
        self.handle = FileHandle(os.open(self.path, flags, 0o644))
        self.size = os.fstat(self.handle.fd).st_size

    @property
    def fd(self) -> int:
        return self.handle.fd

    def append(self, data: memoryview) -> int:
        """Write `data` at the end in one pwrite (looping only on a short write); returns its position.

        On failure the file is cut back to where it was, so a failed append
        never leaves a partial batch behind, and KafkaStorageError is raised.
        """
        position = self.size
        written = 0
        try:
            while written < len(data):
                n = os.pwrite(self.handle.fd, data[written:], position + written)
                if n == 0:
                    raise OSError("pwrite wrote nothing")
                written += n
        except OSError as exc:
            try:
                os.ftruncate(self.handle.fd, position)
            except OSError:
                pass
            raise KafkaStorageError(f"write to {self.path} failed at position {position}: {exc}") from exc
        self.size = position + written
        return position

    def pread(self, size: int, position: int) -> bytes:
        return os.pread(self.handle.fd, size, position)

    def read_exact(self, size: int, position: int) -> bytes:
        data = self.pread(size, position)
        while len(data) < size:
            more = self.pread(size - len(data), position + len(data))
            if not more:
                break
            data += more
        return data

    def read_header(self, position: int) -> BatchHeader | None:
        """The batch header at `position`, or None if the file ends before a full header."""
        data = self.pread(_HEADER_PREFIX.size, position)
        if len(data) < _HEADER_PREFIX.size:
            return None
        return parse_header(data, 0, position)

    def headers(self, start: int, end: int | None = None) -> Iterator[BatchHeader]:
        """Headers of consecutive batches from `start` to `end`, trusting length fields.

        Reads a chunk at a time, so small batches cost one syscall per chunk.
        Stops (without error) at a header that would run past `end`: callers
        that care about torn data use the recovery scan instead.
        """
        end = self.size if end is None else end
        position = start
        while position + HEADER_SIZE <= end:
            chunk = self.pread(min(_SCAN_CHUNK, end - position), position)
            at = 0
            while at + _HEADER_PREFIX.size <= len(chunk):
                header = parse_header(chunk, at, position + at)
                if header.size < HEADER_SIZE or header.position + header.size > end:
                    return
                yield header
                at += header.size
            if at == 0:
                return
            position += at

    def truncate_to(self, size: int) -> int:
        """Cut the file to `size` bytes; returns how many bytes were removed."""
        removed = self.size - size
        if removed > 0:
            os.ftruncate(self.handle.fd, size)
            self.size = size
        return max(removed, 0)

    def flush(self) -> None:
        os.fdatasync(self.handle.fd)

    def slice(self, position: int, size: int, base_offset: int) -> FileSlice:
        return FileSlice(self.handle, position, size, base_offset)

    def rename(self, path: Path) -> None:
        os.replace(self.path, path)
        self.path = Path(path)

    def close(self) -> None:
        self.handle.close()
