"""Checkpoint files in Kafka's text format.

Every checkpoint is a small text file, rewritten whole::

    0                      <- format version (always 0)
    2                      <- number of entry lines that follow
    orders 0 1234          <- one entry per line, fields separated by a space
    orders 1 99

Two entry shapes are used, exactly as Kafka writes them:

* per log directory, one line per partition: ``topic partition offset``.
  Files: ``recovery-point-offset-checkpoint`` (everything below the offset is
  fsynced and CRC-checked), ``log-start-offset-checkpoint``,
  ``replication-offset-checkpoint`` (high watermarks) and
  ``cleaner-offset-checkpoint`` (first dirty offset of compacted logs).
* per partition directory, ``leader-epoch-checkpoint``: ``epoch start_offset``.

A write goes to ``<name>.tmp``, is fsynced, renamed over the old file and the
directory is fsynced, so a crash leaves either the old or the new file. A
file that does not parse raises CorruptCheckpointError: the caller decides
whether to fall back (Kafka does: a missing or bad recovery point means
recovering everything, which is safe).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Generic, TypeVar

from kwire_storage.errors import CorruptCheckpointError

VERSION = 0

RECOVERY_POINT_CHECKPOINT = "recovery-point-offset-checkpoint"
LOG_START_OFFSET_CHECKPOINT = "log-start-offset-checkpoint"
HIGH_WATERMARK_CHECKPOINT = "replication-offset-checkpoint"
CLEANER_CHECKPOINT = "cleaner-offset-checkpoint"
LEADER_EPOCH_CHECKPOINT = "leader-epoch-checkpoint"

T = TypeVar("T")


def fsync_dir(path: Path) -> None:
    """Make renames and creations inside `path` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class CheckpointFile(Generic[T]):
    """One checkpoint file: `write(entries)` and `read() -> entries`."""

    def __init__(self, path: Path, to_line: Callable[[T], str], from_fields: Callable[[list[str]], T], fields: int) -> None:
        self.path = Path(path)
        self._to_line = to_line
        self._from_fields = from_fields
        self._fields = fields

    def write(self, entries: Iterable[T]) -> None:
        lines = [self._to_line(entry) for entry in entries]
        text = f"{VERSION}\n{len(lines)}\n" + "".join(line + "\n" for line in lines)
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            data = text.encode()
            while data:
                data = data[os.write(fd, data):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        fsync_dir(self.path.parent)

    def read(self) -> list[T]:
        """Entries in file order; [] if the file does not exist."""
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return []
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        try:
            version = int(lines[0])
            count = int(lines[1])
        except (IndexError, ValueError):
            raise CorruptCheckpointError(f"{self.path}: malformed header {lines[:2]!r}") from None
        if version != VERSION:
            raise CorruptCheckpointError(f"{self.path}: unrecognized version {version}")
        body = lines[2:]
        if len(body) != count:
            raise CorruptCheckpointError(f"{self.path}: header says {count} entries, found {len(body)}")
        entries = []
        for line in body:
            fields = line.split(" ")
            if len(fields) != self._fields:
                raise CorruptCheckpointError(f"{self.path}: malformed entry {line!r}")
            try:
                entries.append(self._from_fields(fields))
            except ValueError:
                raise CorruptCheckpointError(f"{self.path}: malformed entry {line!r}") from None
        return entries


TopicPartition = tuple[str, int]


class OffsetCheckpointFile(CheckpointFile[tuple[TopicPartition, int]]):
    """``topic partition offset`` lines: one offset per partition of a log directory."""

    def __init__(self, path: Path) -> None:
        super().__init__(
            path,
            lambda entry: f"{entry[0][0]} {entry[0][1]} {entry[1]}",
            lambda f: ((f[0], int(f[1])), int(f[2])),
            3,
        )

    def read_map(self) -> dict[TopicPartition, int]:
        return dict(self.read())

    def write_map(self, offsets: dict[TopicPartition, int]) -> None:
        self.write(sorted(offsets.items()))


class LeaderEpochCheckpointFile(CheckpointFile[tuple[int, int]]):
    """``epoch start_offset`` lines, in increasing epoch order."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, lambda entry: f"{entry[0]} {entry[1]}", lambda f: (int(f[0]), int(f[1])), 2)

    def write_entries(self, entries: Sequence[tuple[int, int]]) -> None:
        self.write(entries)
