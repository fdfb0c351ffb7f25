"""Exceptions raised by the storage engine.

Every error a caller can provoke with bad input has its own type here, and is
raised before anything is written: a rejected append or truncation leaves the
log exactly as it was. `KafkaStorageError` is different: it means the disk
failed under us (ENOSPC, EIO) and the log can no longer be trusted to accept
writes; the broker should take the log directory offline, as Kafka does.

`CorruptRecordError` (bad batch bytes) comes from kwire_protocol and is
re-exported for convenience.
"""

from __future__ import annotations

from kwire_protocol.errors import CorruptRecordError

__all__ = [
    "StorageError",
    "KafkaStorageError",
    "LogClosedError",
    "OffsetOutOfRangeError",
    "InvalidConfigError",
    "UnexpectedAppendOffsetError",
    "InvalidTimestampError",
    "RecordBatchTooLargeError",
    "CorruptIndexError",
    "CorruptCheckpointError",
    "CorruptRecordError",
    "OutOfOrderSequenceError",
    "InvalidProducerEpochError",
    "InvalidTxnStateError",
    "TransactionCoordinatorFencedError",
]


class StorageError(Exception):
    """Base class of every error raised by kwire_storage."""


class KafkaStorageError(StorageError):
    """An I/O error while writing; the log is closed to further writes."""


class LogClosedError(KafkaStorageError):
    """The log was closed (or failed) and accepts no more operations."""


class OffsetOutOfRangeError(StorageError):
    """An offset outside [log start offset, log end offset] was requested."""

    def __init__(self, message: str, *, offset: int, log_start_offset: int, log_end_offset: int) -> None:
        super().__init__(message)
        self.offset = offset
        self.log_start_offset = log_start_offset
        self.log_end_offset = log_end_offset


class InvalidConfigError(StorageError, ValueError):
    """A topic config has an unknown name, a value of the wrong type, or one its validator rejects."""


class UnexpectedAppendOffsetError(StorageError):
    """A follower append whose offsets do not continue the log (Kafka's UnexpectedAppendOffsetException)."""


class InvalidTimestampError(StorageError):
    """A timestamp argument that cannot be used (e.g. a negative ListOffsets sentinel we do not know)."""


class RecordBatchTooLargeError(StorageError):
    """One append is larger than segment.bytes (Kafka's RECORD_BATCH_TOO_LARGE): it could never fit a segment."""


class CorruptIndexError(StorageError):
    """An index file fails its sanity check; the loader rebuilds it from the log."""


class CorruptCheckpointError(StorageError):
    """A checkpoint file does not parse in Kafka's checkpoint format."""


class OutOfOrderSequenceError(StorageError):
    """An idempotent producer's batch does not continue its sequence (OUT_OF_ORDER_SEQUENCE_NUMBER)."""


class InvalidProducerEpochError(StorageError):
    """A producer's batch carries an epoch older than the partition knows (INVALID_PRODUCER_EPOCH)."""


class InvalidTxnStateError(StorageError):
    """A producer with an ongoing transaction wrote a non-transactional batch (INVALID_TXN_STATE)."""


class TransactionCoordinatorFencedError(StorageError):
    """A transaction marker from a coordinator epoch older than the partition last saw
    for that producer (TRANSACTION_COORDINATOR_FENCED)."""
