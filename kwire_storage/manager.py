"""LogManager: every partition log of one log directory (Kafka's log.dirs entry).

Layout of a log directory, as Kafka lays it out::

    <log dir>/
      .lock                               held (flock) while a manager owns the dir
      .kafka_cleanshutdown                present only after a clean shutdown
      recovery-point-offset-checkpoint    topic partition offset, per partition
      log-start-offset-checkpoint
      replication-offset-checkpoint       high watermarks
      cleaner-offset-checkpoint           first dirty offset of compacted logs
      <topic>-<partition>/                one Log each (log.py)

At startup the marker is read and removed at once (a crash after that point
must not look clean), the checkpoints are read, and each partition directory
is opened as a Log: without the marker, everything above each recovery point
is re-checked. `checkpoint()` writes the four checkpoints (the broker calls
it periodically, Kafka's log.flush.offset.checkpoint.interval.ms);
`shutdown()` closes every log cleanly, checkpoints, and writes the marker.

The broker schedules the periodic work: `flush_dirty_logs` (flush.ms),
`cleanup_logs` (retention) and `checkpoint`; the cleaner runs in
cleaner.LogCleaner.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

from kwire_storage.checkpoints import (
    CLEANER_CHECKPOINT,
    HIGH_WATERMARK_CHECKPOINT,
    LOG_START_OFFSET_CHECKPOINT,
    RECOVERY_POINT_CHECKPOINT,
    OffsetCheckpointFile,
    fsync_dir,
)
from kwire_storage.config import LogConfig
from kwire_storage.errors import CorruptCheckpointError, KafkaStorageError
from kwire_storage.log import Log, parse_partition_dir, wall_clock_ms
from kwire_storage.producer_state import DEFAULT_PRODUCER_ID_EXPIRATION_MS
from kwire_storage.retention import delete_old_segments

logger = logging.getLogger("kwire_storage.manager")

CLEAN_SHUTDOWN_FILE = ".kafka_cleanshutdown"
LOCK_FILE = ".lock"

TopicPartition = tuple[str, int]


class LogManager:
    def __init__(
        self,
        log_dir: Path | str,
        default_config: LogConfig | None = None,
        *,
        topic_config: Callable[[str], LogConfig | None] | None = None,
        clock: Callable[[], int] = wall_clock_ms,
        producer_id_expiration_ms: int = DEFAULT_PRODUCER_ID_EXPIRATION_MS,
    ) -> None:
        """`topic_config(topic)` gives a topic's config (None: the default);
        `producer_id_expiration_ms` is the broker's producer.id.expiration.ms."""
        self.log_dir = Path(log_dir)
        self.default_config = default_config or LogConfig()
        self._topic_config = topic_config or (lambda topic: None)
        self._clock = clock
        self.producer_id_expiration_ms = producer_id_expiration_ms
        self._logs: dict[TopicPartition, Log] = {}
        self._lock = threading.Lock()
        # Checkpoints are written from the broker's periodic task and on
        # demand (DeleteRecords, topic deletion), on different threads; they
        # share one .tmp file per checkpoint, so writes must not interleave.
        self._checkpoint_lock = threading.Lock()
        self._lock_fd = -1
        self._files = {
            name: OffsetCheckpointFile(self.log_dir / name)
            for name in (RECOVERY_POINT_CHECKPOINT, LOG_START_OFFSET_CHECKPOINT, HIGH_WATERMARK_CHECKPOINT, CLEANER_CHECKPOINT)
        }
        self.had_clean_shutdown = False

    def _read_checkpoint(self, name: str) -> dict[TopicPartition, int]:
        try:
            return self._files[name].read_map()
        except CorruptCheckpointError as exc:
            # Losing a checkpoint is safe: recovery point 0 re-checks everything,
            # a lost log start offset falls back to the first segment.
            logger.error("%s; ignoring it", exc)
            return {}

    def startup(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._lock_fd = os.open(self.log_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            self._lock_fd = -1
            raise KafkaStorageError(f"{self.log_dir} is in use by another process") from None
        marker = self.log_dir / CLEAN_SHUTDOWN_FILE
        self.had_clean_shutdown = marker.exists()
        if self.had_clean_shutdown:
            marker.unlink()
            fsync_dir(self.log_dir)
        recovery_points = self._read_checkpoint(RECOVERY_POINT_CHECKPOINT)
        start_offsets = self._read_checkpoint(LOG_START_OFFSET_CHECKPOINT)
        high_watermarks = self._read_checkpoint(HIGH_WATERMARK_CHECKPOINT)
        cleaner_offsets = self._read_checkpoint(CLEANER_CHECKPOINT)
        for path in sorted(self.log_dir.iterdir()):
            if not path.is_dir():
                continue
            if path.name.endswith("-delete"):
                logger.info("removing partition directory %s left from a deletion", path.name)
                _rmtree(path)
                continue
            try:
                tp = parse_partition_dir(path.name)
            except ValueError:
                continue
            log = Log(
                path, self._config_for(tp[0]),
                recovery_point=recovery_points.get(tp, 0),
                log_start_offset=start_offsets.get(tp, 0),
                high_watermark=high_watermarks.get(tp, 0),
                clean_shutdown=self.had_clean_shutdown and tp in recovery_points,
                clock=self._clock, producer_id_expiration_ms=self.producer_id_expiration_ms,
            )
            if tp in cleaner_offsets:
                log.cleaner_checkpoint = min(max(cleaner_offsets[tp], log.log_start_offset), log.log_end_offset)
            self._logs[tp] = log

    def _config_for(self, topic: str) -> LogConfig:
        return self._topic_config(topic) or self.default_config

    @property
    def logs(self) -> dict[TopicPartition, Log]:
        return dict(self._logs)

    def get_log(self, topic: str, partition: int) -> Log | None:
        return self._logs.get((topic, partition))

    def get_or_create_log(self, topic: str, partition: int, config: LogConfig | None = None) -> Log:
        with self._lock:
            log = self._logs.get((topic, partition))
            if log is None:
                if not topic or "/" in topic or topic in (".", ".."):
                    raise ValueError(f"invalid topic name {topic!r}")
                path = self.log_dir / f"{topic}-{partition}"
                log = Log(path, config or self._config_for(topic), clean_shutdown=not path.exists(), clock=self._clock,
                          producer_id_expiration_ms=self.producer_id_expiration_ms)
                fsync_dir(self.log_dir)
                self._logs[(topic, partition)] = log
            return log

    def delete_log(self, topic: str, partition: int) -> None:
        with self._lock:
            log = self._logs.pop((topic, partition), None)
        if log is not None:
            log.delete()
            self.checkpoint()

    def checkpoint(self) -> None:
        with self._checkpoint_lock:
            self._write_checkpoints()

    def _write_checkpoints(self) -> None:
        logs = self.logs
        self._files[RECOVERY_POINT_CHECKPOINT].write_map({tp: log.recovery_point for tp, log in logs.items()})
        self._files[LOG_START_OFFSET_CHECKPOINT].write_map({tp: log.log_start_offset for tp, log in logs.items()})
        self._files[HIGH_WATERMARK_CHECKPOINT].write_map({tp: log.high_watermark for tp, log in logs.items()})
        self._files[CLEANER_CHECKPOINT].write_map(
            {tp: log.cleaner_checkpoint for tp, log in logs.items() if log.cleaner_checkpoint is not None}
        )

    def flush_dirty_logs(self, now: int | None = None) -> int:
        now = self._clock() if now is None else now
        return sum(1 for log in self.logs.values() if log.flush_if_due(now))

    def cleanup_logs(self, now: int | None = None) -> int:
        """One retention pass over every log; returns segments removed."""
        now = self._clock() if now is None else now
        return sum(delete_old_segments(log, now) for log in self.logs.values())

    def remove_expired_producers(self, now: int | None = None) -> int:
        """producer.id.expiration.ms over every log; returns producers forgotten."""
        now = self._clock() if now is None else now
        return sum(log.remove_expired_producers(now) for log in list(self.logs.values()) if not log.closed)

    def shutdown(self) -> None:
        for log in self.logs.values():
            log.close()
        self.checkpoint()
        marker = self.log_dir / CLEAN_SHUTDOWN_FILE
        marker.touch()
        fsync_dir(self.log_dir)
        self._release_lock()

    def _release_lock(self) -> None:
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1

    def abandon(self) -> None:
        """Drop everything without a clean shutdown (tests simulate a crash with it)."""
        for log in self.logs.values():
            log.close_unclean()
        self._logs.clear()
        self._release_lock()


def _rmtree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
