"""Record batches, magic v2: the header, read in place.

A batch as it travels in Produce/Fetch and as it lies in a segment file::

    offset  size  field
         0     8  base_offset              patched by the broker on append
         8     4  batch_length             bytes after this field
        12     4  partition_leader_epoch   patched by the broker on append
        16     1  magic                    2
        17     4  crc                      CRC32C of bytes 21..end (unsigned)
        21     2  attributes               bits 0-2 compression, 3 timestamp
                                           type, 4 transactional, 5 control,
                                           6 delete horizon set (compaction)
        23     4  last_offset_delta
        27     8  base_timestamp           first timestamp, or delete horizon
        35     8  max_timestamp
        43     8  producer_id
        51     2  producer_epoch
        53     4  base_sequence
        57     4  records_count
        61     -  records (compressed as a whole when compression != 0)

The CRC does not cover base_offset, batch_length, partition_leader_epoch or
magic, so the broker can patch the first two offsets fields without
recomputing it. Nothing here copies batch bytes: a `RecordBatch` is a view
over a memoryview, and `split_batches` walks a records blob by its length
fields only (the produce path never touches individual records).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from crc32c import crc32c

from kwire_protocol.errors import CorruptRecordError

HEADER_SIZE = 61
# Bytes before batch_length's coverage begins: base_offset + batch_length.
LOG_OVERHEAD = 12
MAGIC = 2
CRC_START = 21

COMPRESSION_MASK = 0x07
TIMESTAMP_TYPE_MASK = 0x08
TRANSACTIONAL_MASK = 0x10
CONTROL_MASK = 0x20
DELETE_HORIZON_MASK = 0x40

NO_PRODUCER_ID = -1
NO_PRODUCER_EPOCH = -1
NO_SEQUENCE = -1
NO_PARTITION_LEADER_EPOCH = -1
NO_TIMESTAMP = -1

_HEADER = struct.Struct(">qiibIhiqqqhii")
_OFFSET_AND_LENGTH = struct.Struct(">qi")
_INT64 = struct.Struct(">q")
_INT32 = struct.Struct(">i")


class RecordBatch:
    """The header fields of one v2 batch, decoded from a view of its bytes.

    `buffer` is exactly the batch (LOG_OVERHEAD + batch_length bytes); it is
    kept as a view, never copied.
    """

    __slots__ = (
        "buffer",
        "base_offset",
        "batch_length",
        "partition_leader_epoch",
        "magic",
        "crc",
        "attributes",
        "last_offset_delta",
        "base_timestamp",
        "max_timestamp",
        "producer_id",
        "producer_epoch",
        "base_sequence",
        "records_count",
    )

    def __init__(self, buffer: memoryview) -> None:
        if len(buffer) < HEADER_SIZE:
            raise CorruptRecordError(f"record batch of {len(buffer)} bytes is shorter than its {HEADER_SIZE}-byte header")
        (
            self.base_offset,
            self.batch_length,
            self.partition_leader_epoch,
            self.magic,
            self.crc,
            self.attributes,
            self.last_offset_delta,
            self.base_timestamp,
            self.max_timestamp,
            self.producer_id,
            self.producer_epoch,
            self.base_sequence,
            self.records_count,
        ) = _HEADER.unpack_from(buffer, 0)
        if self.magic != MAGIC:
            raise CorruptRecordError(f"record batch magic {self.magic} is not supported (only magic 2)")
        if self.batch_length + LOG_OVERHEAD != len(buffer):
            raise CorruptRecordError(
                f"record batch length field says {self.batch_length + LOG_OVERHEAD} bytes, buffer holds {len(buffer)}"
            )
        self.buffer = buffer

    @property
    def size(self) -> int:
        return len(self.buffer)

    @property
    def compression(self) -> int:
        return self.attributes & COMPRESSION_MASK

    @property
    def timestamp_type(self) -> int:
        """0 = CreateTime, 1 = LogAppendTime."""
        return (self.attributes & TIMESTAMP_TYPE_MASK) >> 3

    @property
    def is_transactional(self) -> bool:
        return bool(self.attributes & TRANSACTIONAL_MASK)

    @property
    def is_control(self) -> bool:
        return bool(self.attributes & CONTROL_MASK)

    @property
    def has_delete_horizon(self) -> bool:
        return bool(self.attributes & DELETE_HORIZON_MASK)

    @property
    def last_offset(self) -> int:
        return self.base_offset + self.last_offset_delta

    @property
    def next_offset(self) -> int:
        return self.base_offset + self.last_offset_delta + 1

    def compute_crc(self) -> int:
        return crc32c(self.buffer[CRC_START:])

    def is_valid(self) -> bool:
        return self.compute_crc() == self.crc

    def validate(self) -> None:
        """Raise CorruptRecordError unless the CRC and header fields are sound."""
        actual = self.compute_crc()
        if actual != self.crc:
            raise CorruptRecordError(
                f"record batch at offset {self.base_offset} has CRC {self.crc:#010x}, computed {actual:#010x}"
            )
        if self.last_offset_delta < 0 or self.records_count < 0:
            raise CorruptRecordError(
                f"record batch at offset {self.base_offset} has negative last_offset_delta "
                f"{self.last_offset_delta} or records_count {self.records_count}"
            )

    def __repr__(self) -> str:
        return (
            f"RecordBatch(base_offset={self.base_offset}, last_offset_delta={self.last_offset_delta}, "
            f"records_count={self.records_count}, size={self.size}, attributes={self.attributes:#x})"
        )


def split_batches(records: bytes | bytearray | memoryview) -> Iterator[RecordBatch]:
    """Yield each batch of a records blob (as in a Produce request or a segment).

    Walks length fields only. A blob that does not end on a batch boundary
    raises CorruptRecordError: Kafka rejects such a produce with
    CORRUPT_MESSAGE, and log recovery treats it as a torn tail.
    """
    view = memoryview(records)
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B")
    position = 0
    end = len(view)
    while position < end:
        if end - position < HEADER_SIZE:
            raise CorruptRecordError(f"{end - position} trailing bytes at position {position} are shorter than a batch header")
        _, batch_length = _OFFSET_AND_LENGTH.unpack_from(view, position)
        size = batch_length + LOG_OVERHEAD
        if batch_length < HEADER_SIZE - LOG_OVERHEAD or size > end - position:
            raise CorruptRecordError(
                f"record batch at position {position} claims {size} bytes, {end - position} remain"
            )
        yield RecordBatch(view[position : position + size])
        position += size


def validate_batches(records: bytes | bytearray | memoryview) -> list[RecordBatch]:
    """Split a records blob and check every batch's CRC and header; no record is decoded."""
    batches = list(split_batches(records))
    for batch in batches:
        batch.validate()
    return batches


def set_base_offset(buffer: bytearray | memoryview, base_offset: int) -> None:
    """Patch base_offset in place (not covered by the CRC)."""
    _INT64.pack_into(buffer, 0, base_offset)


def set_partition_leader_epoch(buffer: bytearray | memoryview, epoch: int) -> None:
    """Patch partition_leader_epoch in place (not covered by the CRC)."""
    _INT32.pack_into(buffer, 12, epoch)
