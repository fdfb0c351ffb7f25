"""Records inside a v2 batch: their byte layout, decoding and encoding.

After the batch header (and after decompression, if any) come exactly
`records_count` records, each::

    length            varint   bytes after this field, to the record's end
    attributes        int8     unused by Kafka so far
    timestamp_delta   varlong  from the batch's base_timestamp
    offset_delta      varint   from the batch's base_offset
    key_length        varint   -1 for a null key
    key               bytes
    value_length      varint   -1 for a null value
    value             bytes
    header_count      varint
    headers           header_count times:
      key_length      varint   (a header key is never null)
      key             UTF-8
      value_length    varint   -1 for a null value
      value           bytes

Varints are zigzag-encoded (signed), as in protobuf: at most 5 bytes for a
varint (int32), 10 for a varlong (int64).

The decoder is strict because these bytes come from clients: every length is
checked against the bytes actually present before anything is sliced, each
record must consume exactly its declared length, and the batch must hold
exactly `records_count` records with nothing after them. Any violation is a
CorruptRecordError (Kafka answers such a produce with CORRUPT_MESSAGE).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from kwire_protocol.errors import CorruptRecordError

Header = tuple[str, bytes | None]

_INT32_BITS = 32
_INT64_BITS = 64


class Record(NamedTuple):
    """One decoded record, with its absolute offset and timestamp."""

    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: list[Header]
    attributes: int
    offset_delta: int
    timestamp_delta: int


class NewRecord(NamedTuple):
    """A record to put in a batch being built.

    `timestamp` None means "now" (as the Java producer does for a record
    without one). `offset_delta` None means one past the previous record's
    (0 for the first); give it to build batches with gaps, as compaction
    leaves them.
    """

    key: bytes | None = None
    value: bytes | None = None
    headers: Sequence[Header] = ()
    timestamp: int | None = None
    offset_delta: int | None = None


def _read_varint(data: bytes, position: int, end: int, bits: int) -> tuple[int, int]:
    """Read a zigzag varint of a `bits`-bit field that must end before `end`."""
    max_bytes = (bits + 6) // 7
    raw = 0
    shift = 0
    limit = min(end, position + max_bytes)
    while position < limit:
        byte = data[position]
        position += 1
        raw |= (byte & 0x7F) << shift
        if not byte & 0x80:
            # The last byte has spare bits; a value using them does not fit.
            if raw >> bits:
                raise CorruptRecordError(f"varint ending at {position} overflows a {bits}-bit field")
            return (raw >> 1) ^ -(raw & 1), position
        shift += 7
    if position >= end:
        raise CorruptRecordError(f"varint at {position} runs past the end of its record")
    raise CorruptRecordError(f"varint ending at {position} is longer than {max_bytes} bytes")


def _read_bytes(data: bytes, position: int, end: int, what: str) -> tuple[bytes | None, int]:
    length, position = _read_varint(data, position, end, _INT32_BITS)
    if length == -1:
        return None, position
    if length < 0 or length > end - position:
        raise CorruptRecordError(f"{what} length {length} at {position}: {end - position} bytes remain in the record")
    return data[position : position + length], position + length


def decode_records(
    data: bytes,
    count: int,
    base_offset: int,
    base_timestamp: int,
    last_offset_delta: int,
    log_append_time: int | None = None,
) -> list[Record]:
    """Decode exactly `count` records filling all of `data`.

    `log_append_time` is the batch's max_timestamp when its timestamp type
    is LogAppendTime; it then replaces every record's own timestamp, as a
    Java consumer reports it.
    """
    records: list[Record] = []
    end = len(data)
    position = 0
    previous_delta = -1
    for index in range(count):
        if position >= end:
            raise CorruptRecordError(f"batch declares {count} records, its data ends after {index}")
        length, position = _read_varint(data, position, end, _INT32_BITS)
        if length < 0 or length > end - position:
            raise CorruptRecordError(f"record {index} length {length}: {end - position} bytes remain")
        record_end = position + length
        if position >= record_end:
            raise CorruptRecordError(f"record {index} is empty")
        attributes = data[position]
        if attributes > 127:
            attributes -= 256
        position += 1
        timestamp_delta, position = _read_varint(data, position, record_end, _INT64_BITS)
        offset_delta, position = _read_varint(data, position, record_end, _INT32_BITS)
        # Offsets inside a batch are unique and ascending, and no record may
        # claim an offset past the one the header reserves.
        if offset_delta <= previous_delta or offset_delta > last_offset_delta:
            raise CorruptRecordError(
                f"record {index} offset delta {offset_delta} is not in ({previous_delta}, {last_offset_delta}]"
            )
        previous_delta = offset_delta
        key, position = _read_bytes(data, position, record_end, "key")
        value, position = _read_bytes(data, position, record_end, "value")
        header_count, position = _read_varint(data, position, record_end, _INT32_BITS)
        # Each header takes at least two bytes (two one-byte lengths).
        if header_count < 0 or header_count * 2 > record_end - position:
            raise CorruptRecordError(
                f"record {index} header count {header_count}: {record_end - position} bytes remain"
            )
        headers: list[Header] = []
        for _ in range(header_count):
            key_length, position = _read_varint(data, position, record_end, _INT32_BITS)
            if key_length < 0 or key_length > record_end - position:
                raise CorruptRecordError(
                    f"record {index} header key length {key_length}: {record_end - position} bytes remain"
                )
            try:
                header_key = data[position : position + key_length].decode("utf-8")
            except UnicodeDecodeError:
                raise CorruptRecordError(f"record {index} header key is not UTF-8") from None
            position += key_length
            header_value, position = _read_bytes(data, position, record_end, "header value")
            headers.append((header_key, header_value))
        if position != record_end:
            raise CorruptRecordError(
                f"record {index} declares {length} bytes, its fields use {length - (record_end - position)}"
            )
        timestamp = base_timestamp + timestamp_delta if log_append_time is None else log_append_time
        records.append(
            Record(base_offset + offset_delta, timestamp, key, value, headers, attributes, offset_delta, timestamp_delta)
        )
    if position != end:
        raise CorruptRecordError(f"{end - position} bytes follow the batch's {count} records")
    return records


def _write_varint(out: bytearray, value: int) -> None:
    raw = (value << 1) ^ (value >> 63)
    while raw > 0x7F:
        out.append((raw & 0x7F) | 0x80)
        raw >>= 7
    out.append(raw)


def _write_bytes(out: bytearray, value: bytes | None) -> None:
    if value is None:
        _write_varint(out, -1)
    else:
        _write_varint(out, len(value))
        out += value


def encode_record(
    out: bytearray,
    offset_delta: int,
    timestamp_delta: int,
    key: bytes | None,
    value: bytes | None,
    headers: Sequence[Header],
) -> None:
    """Append one record (attributes 0) to `out`."""
    body = bytearray(b"\x00")
    _write_varint(body, timestamp_delta)
    _write_varint(body, offset_delta)
    _write_bytes(body, key)
    _write_bytes(body, value)
    _write_varint(body, len(headers))
    for header_key, header_value in headers:
        _write_bytes(body, header_key.encode("utf-8"))
        _write_bytes(body, header_value)
    _write_varint(out, len(body))
    out += body
