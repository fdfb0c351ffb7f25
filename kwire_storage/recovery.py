"""Loading a partition directory: leftover files, index checks, crash recovery.

What a partition directory may hold when it is opened, and what happens:

* ``<base>.log`` with ``.index`` / ``.timeindex`` (and ``.txnindex`` once
  it has an aborted transaction): a segment. A missing or implausible index
  (sanity check) gets the segment recovered: its indexes rebuilt from the
  log, its transaction index by the producer state scan (log.py).
* ``*.deleted``: segments retention or the cleaner removed, waiting for
  ``file.delete.delay.ms``; unlinked now.
* ``*.cleaned``: output of a cleaning that had not committed; unlinked (the
  segments it was replacing are still there).
* ``<base>.log.swap`` (+ index ``.swap`` files): a cleaning that committed
  but had not finished swapping. The swap segment wins: every old segment
  whose base offset falls inside its offset range is removed, and the swap
  files take the normal names. Its indexes are rebuilt.
* ``*.tmp``: half-written checkpoints; unlinked.
* index files without a ``.log``: unlinked.

After a clean shutdown nothing is read beyond one header per segment. After
a crash every segment from the one holding the recovery point onwards is
re-read and CRC-checked (`LogSegment.recover`); at the first bad batch the
segment is cut and all later segments are removed, because offsets after a
hole cannot be trusted. Every cut and removal is logged at ERROR with the
offsets and byte counts, and returned in `LoadedLog` for the caller.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from kwire_storage.config import LogConfig
from kwire_storage.errors import CorruptIndexError
from kwire_storage.segment import INDEX_SUFFIX, LOG_SUFFIX, TIME_INDEX_SUFFIX, LogSegment, Truncation, filename_prefix
from kwire_storage.transaction_index import TXN_INDEX_SUFFIX

logger = logging.getLogger("kwire_storage.recovery")

DELETED_SUFFIX = ".deleted"
CLEANED_SUFFIX = ".cleaned"
SWAP_SUFFIX = ".swap"

_SEGMENT_FILE = re.compile(r"^(\d{20})(\.log|\.index|\.timeindex|\.txnindex|\.snapshot)(\.swap)?$")


@dataclass
class RemovedSegment:
    base_offset: int
    size: int
    reason: str


@dataclass
class LoadedLog:
    segments: list[LogSegment]
    next_offset: int
    recovery_point: int
    truncations: list[Truncation] = field(default_factory=list)
    removed_segments: list[RemovedSegment] = field(default_factory=list)
    rebuilt_indexes: list[int] = field(default_factory=list)
    # Base offsets of the segments re-read by recovery (their transaction indexes are empty until rebuilt).
    recovered: list[int] = field(default_factory=list)


def _open_segment(directory: Path, base: int, config: LogConfig, now: int, suffix: str = "") -> tuple[LogSegment, bool]:
    """Open an existing segment read-only; True if an index file was missing."""
    prefix = directory / filename_prefix(base)
    missing = False
    for index_suffix in (INDEX_SUFFIX, TIME_INDEX_SUFFIX):
        path = Path(f"{prefix}{index_suffix}{suffix}")
        if not path.exists():
            path.touch()
            missing = True
    segment = LogSegment(
        directory, base,
        index_interval_bytes=config.index_interval_bytes,
        max_index_size=config.segment_index_bytes,
        created_ms=now,
        suffix=suffix,
    )
    return segment, missing


def _remove_leftovers(directory: Path) -> None:
    for path in directory.iterdir():
        name = path.name
        if name.endswith(DELETED_SUFFIX) or name.endswith(CLEANED_SUFFIX) or name.endswith(".tmp"):
            logger.info("%s: removing leftover file %s", directory.name, name)
            path.unlink()


def _complete_swaps(directory: Path, config: LogConfig, now: int) -> None:
    """Finish cleanings that committed (renamed their output to .swap) before a crash."""
    swaps = sorted(p for p in directory.iterdir() if p.name.endswith(LOG_SUFFIX + SWAP_SUFFIX))
    for swap_log in swaps:
        base = int(swap_log.name[:20])
        swap, _ = _open_segment(directory, base, config, now, SWAP_SUFFIX)
        truncation = swap.recover()
        if truncation is not None:
            # The cleaner fsyncs before committing, so this means the disk lied.
            logger.error("%s: swap segment %s failed recovery: %s", directory.name, swap_log.name, truncation)
        end = swap.read_next_offset()
        for path in sorted(directory.iterdir()):
            match = re.match(r"^(\d{20})\.log$", path.name)
            if match and base <= int(match.group(1)) < max(end, base + 1):
                logger.info("%s: completing swap of %s, removing replaced segment %s", directory.name, swap_log.name, path.name)
                for suffix in (LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX, TXN_INDEX_SUFFIX):
                    try:
                        (directory / (match.group(1) + suffix)).unlink()
                    except FileNotFoundError:
                        pass
        swap.change_suffix(SWAP_SUFFIX, "")
        swap.close()


def load_log(directory: Path, config: LogConfig, *, recovery_point: int, log_start_offset: int,
             clean_shutdown: bool, now: int) -> LoadedLog:
    directory = Path(directory)
    _remove_leftovers(directory)
    _complete_swaps(directory, config, now)

    bases: list[int] = []
    for path in directory.iterdir():
        match = _SEGMENT_FILE.match(path.name)
        if not match:
            continue
        if match.group(2) == LOG_SUFFIX:
            bases.append(int(match.group(1)))
        elif match.group(2) in (INDEX_SUFFIX, TIME_INDEX_SUFFIX, TXN_INDEX_SUFFIX):
            if not (directory / (match.group(1) + LOG_SUFFIX)).exists():
                logger.info("%s: removing index %s that has no log file", directory.name, path.name)
                path.unlink()
    bases.sort()

    loaded = LoadedLog(segments=[], next_offset=0, recovery_point=recovery_point)
    needs_recovery: set[int] = set()
    if not clean_shutdown and bases:
        # Every segment from the one holding the recovery point onwards.
        floor = max([b for b in bases if b <= recovery_point], default=bases[0])
        needs_recovery.update(b for b in bases if b >= floor)
    for base in bases:
        segment, missing = _open_segment(directory, base, config, now)
        if not missing and base not in needs_recovery:
            try:
                segment.offset_index.sanity_check(segment.size)
                segment.time_index.sanity_check(segment.size)
                segment.txn_index.sanity_check()
            except CorruptIndexError as exc:
                logger.warning("%s: %s; rebuilding the indexes of segment %d", directory.name, exc, base)
                missing = True
        if missing:
            needs_recovery.add(base)
            loaded.rebuilt_indexes.append(base)
        loaded.segments.append(segment)

    if loaded.segments:
        loaded.segments[-1].make_active()

    i = 0
    while i < len(loaded.segments):
        segment = loaded.segments[i]
        if segment.base_offset in needs_recovery:
            loaded.recovered.append(segment.base_offset)
            # Rebuilt by the producer state scan from a snapshot at or below this segment (log.py).
            segment.txn_index.reset()
            truncation = segment.recover()
            if truncation is not None:
                logger.error(
                    "%s: segment %d: truncated %d bytes at position %d (last valid offset %d): %s",
                    directory.name, segment.base_offset, truncation.bytes_truncated, truncation.position,
                    truncation.last_valid_offset, truncation.reason,
                )
                loaded.truncations.append(truncation)
                for later in loaded.segments[i + 1:]:
                    logger.error(
                        "%s: removing segment %d (%d bytes) that follows the truncation in segment %d",
                        directory.name, later.base_offset, later.size, segment.base_offset,
                    )
                    loaded.removed_segments.append(RemovedSegment(later.base_offset, later.size, "follows a truncated segment"))
                    later.close_handles()
                    later.delete_files()
                del loaded.segments[i + 1:]
                segment.make_active()
        i += 1

    if not loaded.segments:
        segment = LogSegment(
            directory, log_start_offset,
            index_interval_bytes=config.index_interval_bytes,
            max_index_size=config.segment_index_bytes,
            created_ms=now, create=True, active=True,
        )
        loaded.segments.append(segment)

    loaded.next_offset = loaded.segments[-1].read_next_offset()
    if clean_shutdown:
        loaded.recovery_point = min(recovery_point, loaded.next_offset)
    else:
        loaded.recovery_point = loaded.next_offset
    _fsync_directory(directory)
    return loaded


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
