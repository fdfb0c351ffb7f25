"""Building v2 record batches, for internal topics and tests.

Produces the layout `batch.py` describes: the 61-byte header, then the
records `record.py` describes, compressed as one stream when a codec is set.
Header fields are filled as Kafka's Java producer fills them:

    base_timestamp     the first record's timestamp
    max_timestamp      the largest record timestamp
    last_offset_delta  the last record's offset delta
    crc                CRC32C of everything from attributes to the end

With timestamp_type 1 (LogAppendTime) the caller stamps every record with
the append time, so max_timestamp is that time, as Kafka's broker sets it.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Iterable

from crc32c import crc32c

from kwire_protocol.records.batch import (
    CONTROL_MASK,
    CRC_OFFSET,
    CRC_START,
    HEADER_SIZE,
    HEADER_STRUCT,
    LOG_OVERHEAD,
    MAGIC,
    NO_TIMESTAMP,
    TRANSACTIONAL_MASK,
)
from kwire_protocol.records.compression import CODECS, compress
from kwire_protocol.records.record import NewRecord, encode_record

_CRC = struct.Struct(">I")
_INT32_MAX = 2**31 - 1


def build_batch(
    records: Iterable[NewRecord],
    *,
    base_offset: int = 0,
    compression: int = 0,
    timestamp_type: int = 0,
    producer_id: int = -1,
    producer_epoch: int = -1,
    base_sequence: int = -1,
    is_transactional: bool = False,
    is_control: bool = False,
    partition_leader_epoch: int = -1,
) -> bytes:
    """Encode `records` as one v2 batch and return its bytes."""
    if compression not in CODECS:
        raise ValueError(f"unknown compression codec {compression}")
    if timestamp_type not in (0, 1):
        raise ValueError(f"timestamp_type must be 0 (CreateTime) or 1 (LogAppendTime), got {timestamp_type}")
    if is_transactional and producer_id < 0:
        raise ValueError("a transactional batch needs a producer id")

    body = bytearray()
    base_timestamp: int | None = None
    max_timestamp = NO_TIMESTAMP
    offset_delta = -1
    count = 0
    for record in records:
        timestamp = int(time.time() * 1000) if record.timestamp is None else record.timestamp
        if timestamp < 0 and timestamp != NO_TIMESTAMP:
            raise ValueError(f"record {count} has negative timestamp {timestamp}")
        next_delta = offset_delta + 1 if record.offset_delta is None else record.offset_delta
        if next_delta <= offset_delta or next_delta > _INT32_MAX:
            raise ValueError(f"record {count} offset delta {next_delta} does not follow {offset_delta}")
        offset_delta = next_delta
        if base_timestamp is None:
            base_timestamp = timestamp
        max_timestamp = max(max_timestamp, timestamp)
        encode_record(body, offset_delta, timestamp - base_timestamp, record.key, record.value, record.headers)
        count += 1
    if count == 0:
        raise ValueError("a batch needs at least one record")
    assert base_timestamp is not None

    payload = compress(compression, body) if compression else body
    attributes = compression | (timestamp_type << 3)
    if is_transactional:
        attributes |= TRANSACTIONAL_MASK
    if is_control:
        attributes |= CONTROL_MASK

    batch = bytearray(HEADER_SIZE)
    batch += payload
    HEADER_STRUCT.pack_into(
        batch,
        0,
        base_offset,
        len(batch) - LOG_OVERHEAD,
        partition_leader_epoch,
        MAGIC,
        0,
        attributes,
        offset_delta,
        base_timestamp,
        max_timestamp,
        producer_id,
        producer_epoch,
        base_sequence,
        count,
    )
    _CRC.pack_into(batch, CRC_OFFSET, crc32c(memoryview(batch)[CRC_START:]))
    return bytes(batch)
