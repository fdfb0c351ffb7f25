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
fields only (the produce path never touches individual records). Records
are decompressed and decoded only when `RecordBatch.records()` is called
(`record.py` holds their layout, `compression.py` the codecs).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from crc32c import crc32c

from kwire_protocol.errors import CorruptRecordError
from kwire_protocol.records.compression import decompress
from kwire_protocol.records.record import Record, decode_records

HEADER_SIZE = 61
# Bytes before batch_length's coverage begins: base_offset + batch_length.
LOG_OVERHEAD = 12
MAGIC = 2
CRC_OFFSET = 17
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

# The largest records section (after decompression) `records()` accepts by
# default: well above any batch a client sends under Kafka's default
# message.max.bytes of 1 MiB at ordinary compression ratios, far below what
# would hurt the broker.
DEFAULT_MAX_RECORDS_SIZE = 64 * 1024 * 1024

HEADER_STRUCT = struct.Struct(">qiibIhiqqqhii")
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

    def __new__(cls, buffer: memoryview) -> RecordBatch:
        """View `buffer`, which must hold exactly one batch."""
        view = _byte_view(buffer)
        batch = _batch_at(view, 0, len(view))
        if len(batch.buffer) != len(view):
            raise CorruptRecordError(
                f"record batch length field says {len(batch.buffer)} bytes, buffer holds {len(view)}"
            )
        return batch

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

    def records(self, max_size: int = DEFAULT_MAX_RECORDS_SIZE) -> list[Record]:
        """Check the batch, then decompress and decode all its records.

        `max_size` bounds the records section after decompression; a batch
        that would exceed it raises CorruptRecordError before the excess is
        allocated. Nothing is decoded until this is called.
        """
        self.validate()
        payload = self.buffer[HEADER_SIZE:]
        if self.records_count == 0 and not payload:
            # An empty batch (compaction can leave one) has no compressed
            # stream to decompress, whatever its codec bits say.
            return []
        data = decompress(self.compression, payload, max_size)
        log_append_time = self.max_timestamp if self.timestamp_type == 1 else None
        return decode_records(
            data, self.records_count, self.base_offset, self.base_timestamp, self.last_offset_delta, log_append_time
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
    view = _byte_view(records)
    position = 0
    end = len(view)
    while position < end:
        batch = _batch_at(view, position, end)
        yield batch
        position += len(batch.buffer)


def validate_batches(records: bytes | bytearray | memoryview) -> list[RecordBatch]:
    """Split a records blob and check every batch's CRC and header; no record is decoded.

    This runs for every Produce request, so it is split_batches and
    RecordBatch.validate fused into one loop: per batch, one header unpack,
    one view slice for the CRC and one crc32c call. At 16 KiB per batch the
    Python work per batch is about as costly as the CRC itself, so each
    method call and duplicate unpack saved shows (bench/codec_records.py).
    """
    view = _byte_view(records)
    batches: list[RecordBatch] = []
    position = 0
    end = len(view)
    while position < end:
        batch = _batch_at(view, position, end)
        next_position = position + len(batch.buffer)
        if (
            crc32c(view[position + CRC_START : next_position]) != batch.crc
            or batch.last_offset_delta < 0
            or batch.records_count < 0
        ):
            batch.validate()  # raises, naming what is wrong
        batches.append(batch)
        position = next_position
    return batches


def _byte_view(records: bytes | bytearray | memoryview) -> memoryview:
    view = memoryview(records)
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B")
    return view


def _batch_at(view: memoryview, position: int, end: int) -> RecordBatch:
    """The batch starting at `position`, checked to end by `end`.

    The one header decoder: RecordBatch() and the split/validate loops all
    come here, and it fills the object itself (no __init__, no helper call)
    because validate_batches runs it per batch on every Produce request.
    """
    if end - position < HEADER_SIZE:
        raise CorruptRecordError(f"{end - position} bytes at position {position} are shorter than a batch header")
    batch = object.__new__(RecordBatch)
    (
        batch.base_offset,
        batch.batch_length,
        batch.partition_leader_epoch,
        batch.magic,
        batch.crc,
        batch.attributes,
        batch.last_offset_delta,
        batch.base_timestamp,
        batch.max_timestamp,
        batch.producer_id,
        batch.producer_epoch,
        batch.base_sequence,
        batch.records_count,
    ) = HEADER_STRUCT.unpack_from(view, position)
    size = batch.batch_length + LOG_OVERHEAD
    if batch.batch_length < HEADER_SIZE - LOG_OVERHEAD or size > end - position:
        raise CorruptRecordError(f"record batch at position {position} claims {size} bytes, {end - position} remain")
    if batch.magic != MAGIC:
        raise CorruptRecordError(f"record batch magic {batch.magic} is not supported (only magic 2)")
    batch.buffer = view[position : position + size]
    return batch


def set_base_offset(buffer: bytearray | memoryview, base_offset: int) -> None:
    """Patch base_offset in place (not covered by the CRC)."""
    _INT64.pack_into(buffer, 0, base_offset)


def set_partition_leader_epoch(buffer: bytearray | memoryview, epoch: int) -> None:
    """Patch partition_leader_epoch in place (not covered by the CRC)."""
    _INT32.pack_into(buffer, 12, epoch)
