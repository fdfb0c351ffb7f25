"""Kafka's primitive types: fixed-width integers, varints, strings, bytes, uuids.

Reading goes through `Reader`, a cursor over a memoryview that checks every
length against the bytes actually present before touching them, so a
truncated or lying frame raises ProtocolError (never IndexError or
struct.error) and never makes us allocate what a length field claims.

Writing appends to a bytearray. Flexible versions (KIP-482) use "compact"
forms: lengths as unsigned varints holding length + 1, with 0 meaning null.
"""

from __future__ import annotations

import struct
import uuid

from kwire_protocol.errors import ProtocolError

INT8 = struct.Struct(">b")
INT16 = struct.Struct(">h")
UINT16 = struct.Struct(">H")
INT32 = struct.Struct(">i")
UINT32 = struct.Struct(">I")
INT64 = struct.Struct(">q")
FLOAT64 = struct.Struct(">d")

ZERO_UUID = uuid.UUID(int=0)

# An unsigned varint of a 32-bit value needs at most 5 bytes.
_MAX_UVARINT_BYTES = 5


class Reader:
    """A bounds-checked cursor over a memoryview of bytes."""

    __slots__ = ("buf", "pos", "end")

    def __init__(self, buf: bytes | bytearray | memoryview, pos: int = 0, end: int | None = None) -> None:
        self.buf = buf if isinstance(buf, memoryview) else memoryview(buf)
        self.pos = pos
        self.end = len(self.buf) if end is None else end

    @property
    def remaining(self) -> int:
        return self.end - self.pos

    def _need(self, n: int, what: str) -> int:
        pos = self.pos
        if n > self.end - pos:
            raise ProtocolError(f"truncated {what}: need {n} bytes at position {pos}, {self.end - pos} remain")
        self.pos = pos + n
        return pos

    def _fixed(self, s: struct.Struct, what: str) -> int:
        pos = self.pos
        if s.size > self.end - pos:
            raise ProtocolError(f"truncated {what} at position {pos}")
        self.pos = pos + s.size
        return s.unpack_from(self.buf, pos)[0]

    def int8(self) -> int:
        return self._fixed(INT8, "int8")

    def int16(self) -> int:
        return self._fixed(INT16, "int16")

    def uint16(self) -> int:
        return self._fixed(UINT16, "uint16")

    def int32(self) -> int:
        return self._fixed(INT32, "int32")

    def uint32(self) -> int:
        return self._fixed(UINT32, "uint32")

    def int64(self) -> int:
        return self._fixed(INT64, "int64")

    def float64(self) -> float:
        return self._fixed(FLOAT64, "float64")

    def boolean(self) -> bool:
        return self._fixed(INT8, "bool") != 0

    def uuid(self) -> uuid.UUID:
        pos = self._need(16, "uuid")
        return uuid.UUID(bytes=bytes(self.buf[pos : pos + 16]))

    def uvarint(self) -> int:
        buf, pos, end = self.buf, self.pos, self.end
        value = 0
        shift = 0
        for i in range(_MAX_UVARINT_BYTES):
            if pos + i >= end:
                raise ProtocolError(f"truncated varint at position {self.pos}")
            byte = buf[pos + i]
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                if value > 0xFFFFFFFF:
                    break
                self.pos = pos + i + 1
                return value
            shift += 7
        raise ProtocolError(f"varint at position {self.pos} is longer than 32 bits")

    def raw(self, n: int, what: str) -> memoryview:
        pos = self._need(n, what)
        return self.buf[pos : pos + n]

    def length(self, compact: bool, what: str) -> int:
        """A length or count prefix; -1 means null."""
        if compact:
            return self.uvarint() - 1
        if what == "string":
            return self.int16()
        return self.int32()

    def string(self, compact: bool) -> str | None:
        n = self.uvarint() - 1 if compact else self.int16()
        if n < 0:
            if n == -1:
                return None
            raise ProtocolError(f"negative string length {n}")
        pos = self._need(n, "string")
        try:
            return str(self.buf[pos : pos + n], "utf-8")
        except UnicodeDecodeError as e:
            raise ProtocolError(f"string at position {pos} is not valid UTF-8: {e.reason}") from None

    def bytes_view(self, compact: bool) -> memoryview | None:
        n = self.uvarint() - 1 if compact else self.int32()
        if n < 0:
            if n == -1:
                return None
            raise ProtocolError(f"negative bytes length {n}")
        pos = self._need(n, "bytes")
        return self.buf[pos : pos + n]


def write_uvarint(out: bytearray, value: int) -> None:
    if value < 0x80:
        out.append(value)
        return
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def uvarint_size(value: int) -> int:
    size = 1
    while value >= 0x80:
        value >>= 7
        size += 1
    return size


def write_length(out: bytearray, n: int, compact: bool, is_string: bool = False) -> None:
    """Write a length/count prefix; n == -1 writes null."""
    if compact:
        write_uvarint(out, n + 1)
    elif is_string:
        out += INT16.pack(n)
    else:
        out += INT32.pack(n)


def write_string(out: bytearray, value: str | None, compact: bool) -> None:
    if value is None:
        write_length(out, -1, compact, True)
        return
    data = value.encode("utf-8")
    if not compact and len(data) > 0x7FFF:
        raise ValueError(f"string of {len(data)} bytes does not fit an int16 length")
    write_length(out, len(data), compact, True)
    out += data


def write_bytes(out: bytearray, value: bytes | bytearray | memoryview | None, compact: bool) -> None:
    if value is None:
        write_length(out, -1, compact)
        return
    write_length(out, len(value), compact)
    out += value
