"""kwire_storage: the partition log engine (Kafka's on-disk log layout).

See docs/storage.md for the layout and formats. The broker uses:

* `LogManager` (one per log directory): startup, get_or_create_log,
  checkpoint, flush_dirty_logs, cleanup_logs, shutdown.
* `Log` (one per partition): append (with an `AppendOrigin`), append_marker,
  read, last_stable_offset, aborted_transactions, offset_for_timestamp,
  truncate_to, delete_records, update_high_watermark, roll, flush.
* `LogCleaner` / `clean_log` for cleanup.policy=compact.
* `LogConfig` for topic configs.
"""

from kwire_storage.config import TOPIC_CONFIGS, LogConfig
from kwire_storage.errors import (
    CorruptRecordError,
    InvalidConfigError,
    KafkaStorageError,
    LogClosedError,
    OffsetOutOfRangeError,
    RecordBatchTooLargeError,
    StorageError,
    UnexpectedAppendOffsetError,
)
from kwire_storage.file_records import FileSlice
from kwire_storage.log import AppendInfo, AppendOrigin, Log, TimestampAndOffset
from kwire_storage.manager import LogManager
from kwire_storage.retention import delete_old_segments

__all__ = [
    "TOPIC_CONFIGS",
    "AppendInfo",
    "AppendOrigin",
    "CorruptRecordError",
    "FileSlice",
    "InvalidConfigError",
    "KafkaStorageError",
    "Log",
    "LogClosedError",
    "LogConfig",
    "LogManager",
    "OffsetOutOfRangeError",
    "RecordBatchTooLargeError",
    "StorageError",
    "TimestampAndOffset",
    "UnexpectedAppendOffsetError",
    "delete_old_segments",
]
