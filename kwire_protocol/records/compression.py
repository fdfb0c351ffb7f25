"""Compression of a batch's records section, by the codec ids Kafka uses.

Bits 0-2 of a v2 batch's attributes name the codec; everything after the
61-byte header (the records, not the header) is one compressed stream:

    id  codec   stream format
     0  none    the records as they are
     1  gzip    RFC 1952 gzip members
     2  snappy  xerial framing (what the Java client writes):
                  8 bytes  magic b"\\x82SNAPPY\\x00"
                  4 bytes  version             int32 big-endian
                  4 bytes  compatible version  int32 big-endian
                  then chunks of [int32 big-endian length][raw snappy block]
                or one raw snappy block (no magic), as some clients write
     3  lz4     LZ4 frames (the standard frame format, not the legacy
                Kafka 0.8-0.9 one with the wrong header checksum), blocks
                independent: Kafka (KIP-57) does not support linked blocks
     4  zstd    zstd frames, content size in the frame header optional

Decompression is bounded: the caller names `max_size`, and output past it
raises CorruptRecordError instead of being allocated, because a few KiB of
compressed zeros can claim gigabytes (a decompression bomb in a Produce
request must not exhaust the broker's memory). Every decoding failure comes
out as CorruptRecordError, so callers answer CORRUPT_MESSAGE without knowing
which library failed.

The snappy, lz4 and zstd libraries are imported on first use: most brokers
never see a batch in one of them, and importing all three costs about 2 MB
of resident memory and a few milliseconds of start-up (docs/performance.md).
"""

from __future__ import annotations

import gzip
import struct
import zlib
from types import ModuleType

from kwire_protocol.errors import CorruptRecordError

NONE = 0
GZIP = 1
SNAPPY = 2
LZ4 = 3
ZSTD = 4
CODECS = (NONE, GZIP, SNAPPY, LZ4, ZSTD)
CODEC_NAMES = {NONE: "none", GZIP: "gzip", SNAPPY: "snappy", LZ4: "lz4", ZSTD: "zstd"}

Buffer = bytes | bytearray | memoryview

_XERIAL_MAGIC = b"\x82SNAPPY\x00"
_XERIAL_HEADER = struct.Struct(">8sii")
# snappy-java's SnappyOutputStream writes version 1, compatible version 1.
_XERIAL_VERSION = 1
_XERIAL_COMPATIBLE_VERSION = 1
# snappy-java's default block size, which Kafka's Java client keeps.
_XERIAL_BLOCK_SIZE = 32 * 1024
_INT32 = struct.Struct(">i")

# zlib wbits for "gzip header and trailer required" (16 + max window).
_GZIP_WBITS = 16 + zlib.MAX_WBITS

# The most output a zstd block can produce, and the fewest input bytes that
# can produce it (an RLE block: 3-byte header plus the byte to repeat).
_ZSTD_MAX_BLOCK_OUTPUT = 128 * 1024
_ZSTD_MIN_BLOCK_INPUT = 4

# How much output to ask LZ4 for per call, so the library never allocates a
# buffer of `max_size` up front.
_LZ4_STEP = 1024 * 1024
_LZ4_MAGIC = b"\x04\x22\x4d\x18"
_LZ4_FLG_BLOCK_INDEPENDENCE = 0x20


def _snappy() -> ModuleType:
    import snappy

    return snappy


def _lz4_frame() -> ModuleType:
    import lz4.frame

    return lz4.frame


def _zstandard() -> ModuleType:
    import zstandard

    return zstandard


def compress(codec: int, data: Buffer) -> bytes:
    """Compress a records section with `codec` (one of CODECS)."""
    if codec == NONE:
        return bytes(data)
    if codec == GZIP:
        # mtime=0 keeps the output a function of the input alone.
        return gzip.compress(data, mtime=0)
    if codec == SNAPPY:
        return _xerial_compress(data)
    if codec == LZ4:
        return _lz4_frame().compress(data, block_linked=False)
    if codec == ZSTD:
        return _zstandard().ZstdCompressor().compress(data)
    raise ValueError(f"unknown compression codec {codec}")


def decompress(codec: int, data: Buffer, max_size: int) -> bytes:
    """Decompress a records section; more than `max_size` bytes of output is corrupt."""
    if max_size < 0:
        raise ValueError(f"max_size must not be negative, got {max_size}")
    if codec == NONE:
        if len(data) > max_size:
            raise _too_large(NONE, max_size)
        return bytes(data)
    if codec == GZIP:
        return _gzip_decompress(data, max_size)
    if codec == SNAPPY:
        return _snappy_decompress(data, max_size)
    if codec == LZ4:
        return _lz4_decompress(data, max_size)
    if codec == ZSTD:
        return _zstd_decompress(data, max_size)
    raise CorruptRecordError(f"unknown compression codec {codec}")


def _too_large(codec: int, max_size: int) -> CorruptRecordError:
    return CorruptRecordError(f"{CODEC_NAMES[codec]} records decompress to more than {max_size} bytes")


def _gzip_decompress(data: Buffer, max_size: int) -> bytes:
    # Java's GZIPInputStream reads concatenated members, so we do too.
    parts: list[bytes] = []
    size = 0
    pending: Buffer = data
    while True:
        decompressor = zlib.decompressobj(_GZIP_WBITS)
        while not decompressor.eof:
            try:
                # max_length is at least 1 here; 0 would mean "no limit".
                chunk = decompressor.decompress(pending, max_size - size + 1)
            except zlib.error as error:
                raise CorruptRecordError(f"gzip records do not decompress: {error}") from None
            size += len(chunk)
            if size > max_size:
                raise _too_large(GZIP, max_size)
            parts.append(chunk)
            pending = decompressor.unconsumed_tail
            # Output below the limit means zlib gave all it could, so no
            # input and no eof is a member cut short.
            if not pending and not chunk and not decompressor.eof:
                raise CorruptRecordError("gzip records end inside a member")
        pending = decompressor.unused_data
        if not pending:
            return b"".join(parts)


def _xerial_compress(data: Buffer) -> bytes:
    # Kafka's Java producer compresses snappy through snappy-java's
    # SnappyOutputStream, i.e. this framing with 32 KiB blocks. We write the
    # same so our batches are byte-for-byte what a Java producer would send,
    # and readable by decoders that only know the framed form. (snappy-java's
    # SnappyInputStream itself also falls back to raw snappy without the
    # magic; we could not confirm any Java consumer version that requires the
    # framing, so this is compatibility by imitation, not a known hard need.)
    snappy = _snappy()
    view = memoryview(data)
    out = bytearray(_XERIAL_HEADER.pack(_XERIAL_MAGIC, _XERIAL_VERSION, _XERIAL_COMPATIBLE_VERSION))
    for start in range(0, len(view), _XERIAL_BLOCK_SIZE):
        block = snappy.compress(view[start : start + _XERIAL_BLOCK_SIZE])
        out += _INT32.pack(len(block))
        out += block
    return bytes(out)


def _snappy_decompress(data: Buffer, max_size: int) -> bytes:
    view = memoryview(data)
    if view[: len(_XERIAL_MAGIC)] != _XERIAL_MAGIC:
        return _snappy_block(view, max_size, max_size)
    if len(view) < _XERIAL_HEADER.size:
        raise CorruptRecordError(f"xerial snappy header is {_XERIAL_HEADER.size} bytes, records hold {len(view)}")
    parts: list[bytes] = []
    size = 0
    position = _XERIAL_HEADER.size
    while position < len(view):
        if len(view) - position < _INT32.size:
            raise CorruptRecordError(f"xerial snappy chunk length at {position} is cut short")
        if view[position : position + len(_XERIAL_MAGIC)] == _XERIAL_MAGIC:
            # A second stream concatenated onto the first, which
            # snappy-java's SnappyInputStream also accepts.
            position += _XERIAL_HEADER.size
            continue
        (length,) = _INT32.unpack_from(view, position)
        position += _INT32.size
        if length <= 0 or length > len(view) - position:
            raise CorruptRecordError(
                f"xerial snappy chunk at {position} claims {length} bytes, {len(view) - position} remain"
            )
        block = _snappy_block(view[position : position + length], max_size - size, max_size)
        size += len(block)
        parts.append(block)
        position += length
    return b"".join(parts)


def _snappy_block(block: memoryview, room: int, max_size: int) -> bytes:
    # A raw snappy block opens with its uncompressed length as an unsigned
    # varint; checking it first means the library never allocates past the
    # limit.
    declared = _snappy_declared_length(block)
    if declared > room:
        raise _too_large(SNAPPY, max_size)
    snappy = _snappy()
    try:
        out = snappy.uncompress(block)
    except snappy.UncompressError as error:
        raise CorruptRecordError(f"snappy block does not decompress: {error}") from None
    if len(out) != declared:
        raise CorruptRecordError(f"snappy block declares {declared} bytes, decompresses to {len(out)}")
    return out


def _snappy_declared_length(block: memoryview) -> int:
    value = 0
    for index in range(min(len(block), 5)):
        byte = block[index]
        value |= (byte & 0x7F) << (7 * index)
        if not byte & 0x80:
            if value > 0xFFFFFFFF:
                break
            return value
    raise CorruptRecordError("snappy block length preamble is truncated or longer than 32 bits")


def _lz4_decompress(data: Buffer, max_size: int) -> bytes:
    # The LZ4 frame format allows concatenated frames; read them all.
    lz4_frame = _lz4_frame()
    parts: list[bytes] = []
    size = 0
    pending: Buffer = data
    while True:
        # Kafka's Java client rejects frames with linked blocks, so a batch
        # holding one could never be consumed by it; refuse it on the way in.
        if pending[:4] == _LZ4_MAGIC and len(pending) > 4 and not pending[4] & _LZ4_FLG_BLOCK_INDEPENDENCE:
            raise CorruptRecordError("lz4 frame uses linked blocks, which Kafka does not support")
        decompressor = lz4_frame.LZ4FrameDecompressor()
        while not decompressor.eof:
            try:
                chunk = decompressor.decompress(pending, max_length=min(max_size - size + 1, _LZ4_STEP))
            except RuntimeError as error:
                raise CorruptRecordError(f"lz4 records do not decompress: {error}") from None
            pending = b""
            size += len(chunk)
            if size > max_size:
                raise _too_large(LZ4, max_size)
            parts.append(chunk)
            if decompressor.needs_input and not decompressor.eof:
                raise CorruptRecordError("lz4 records end inside a frame")
        pending = decompressor.unused_data or b""
        if not pending:
            return b"".join(parts)


def _zstd_decompress(data: Buffer, max_size: int) -> bytes:
    # Some clients write frames without the content size, and a frame that
    # has one could lie, so decompression streams. zstandard's streaming API
    # has no output limit, so input goes in slices small enough that, even
    # if every block in a slice is a maximal RLE block, one call yields at
    # most the room left plus two blocks. The decoder's window buffer stays
    # under zstd's default limit (128 MiB); a lower cap would save memory
    # but reject valid frames from producers at the highest levels.
    view = memoryview(data)
    if not view:
        raise CorruptRecordError("zstd records are empty")
    zstandard = _zstandard()
    context = zstandard.ZstdDecompressor()
    parts: list[bytes] = []
    size = 0
    position = 0
    decompressor = context.decompressobj()
    while position < len(view):
        room = max_size - size
        step = _ZSTD_MIN_BLOCK_INPUT * (room // _ZSTD_MAX_BLOCK_OUTPUT + 1)
        piece = view[position : position + step]
        position += len(piece)
        try:
            chunk = decompressor.decompress(piece)
        except zstandard.ZstdError as error:
            raise CorruptRecordError(f"zstd records do not decompress: {error}") from None
        size += len(chunk)
        if size > max_size:
            raise _too_large(ZSTD, max_size)
        parts.append(chunk)
        if decompressor.eof:
            # Frames may be concatenated; the next starts in what is unused.
            position -= len(decompressor.unused_data)
            if position < len(view):
                decompressor = context.decompressobj()
    if not decompressor.eof:
        raise CorruptRecordError("zstd records end inside a frame")
    return b"".join(parts)
