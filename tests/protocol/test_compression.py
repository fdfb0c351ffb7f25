"""Codecs of kwire_protocol.records.compression: round trips, the formats
other clients write, bounded decompression and corrupt input."""

from __future__ import annotations

import gzip
import random
import struct
import tracemalloc
import zlib
from functools import cache

import lz4.frame
import pytest
import snappy
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st
from kafka import codec as kafka_codec

from kwire_protocol.errors import CorruptRecordError
from kwire_protocol.records.compression import CODECS, GZIP, LZ4, NONE, SNAPPY, ZSTD, compress, decompress

CODEC_IDS = ["none", "gzip", "snappy", "lz4", "zstd"]
XERIAL_MAGIC = b"\x82SNAPPY\x00"
MiB = 1024 * 1024

# Random bytes plus long runs, so codecs both compress and do not.
payloads = st.one_of(
    st.binary(max_size=2048),
    st.lists(st.tuples(st.binary(min_size=1, max_size=8), st.integers(1, 5000)), max_size=20).map(
        lambda runs: b"".join(chunk * count for chunk, count in runs)
    ),
)


def test_codec_ids_are_kafkas() -> None:
    assert (NONE, GZIP, SNAPPY, LZ4, ZSTD) == (0, 1, 2, 3, 4)
    assert CODECS == (0, 1, 2, 3, 4)


@pytest.mark.parametrize("codec", CODECS, ids=CODEC_IDS)
@settings(max_examples=60, deadline=None)
@given(data=payloads)
def test_round_trip(codec: int, data: bytes) -> None:
    compressed = compress(codec, data)
    assert decompress(codec, compressed, max_size=len(data)) == data
    assert decompress(codec, memoryview(compressed), max_size=len(data)) == data
    if data:
        with pytest.raises(CorruptRecordError, match="more than"):
            decompress(codec, compressed, max_size=len(data) - 1)


@settings(max_examples=40, deadline=None)
@given(data=payloads)
def test_reads_what_kafka_python_writes_and_the_reverse(data: bytes) -> None:
    # kafka-python's codec module frames snappy and configures lz4 itself,
    # so it is an encoder independent of ours.
    assert decompress(SNAPPY, kafka_codec.snappy_encode(data), max_size=len(data)) == data
    assert decompress(LZ4, kafka_codec.lz4_encode(data), max_size=len(data)) == data
    assert decompress(GZIP, kafka_codec.gzip_encode(data), max_size=len(data)) == data
    assert decompress(ZSTD, kafka_codec.zstd_encode(data), max_size=len(data)) == data
    if data:
        # kafka-python takes a header-only xerial stream for raw snappy; no
        # batch has an empty records section, so this case never travels.
        assert kafka_codec.snappy_decode(compress(SNAPPY, data)) == data
    assert kafka_codec.lz4_decode(compress(LZ4, data)) == data
    assert kafka_codec.gzip_decode(compress(GZIP, data)) == data
    assert kafka_codec.zstd_decode(compress(ZSTD, data)) == data


def test_snappy_is_written_in_xerial_framing_with_32_kib_blocks() -> None:
    data = bytes(range(256)) * 300  # 76,800 bytes: blocks of 32768, 32768, 11264
    compressed = compress(SNAPPY, data)
    assert compressed[:16] == XERIAL_MAGIC + struct.pack(">ii", 1, 1)
    position = 16
    blocks = []
    while position < len(compressed):
        (length,) = struct.unpack_from(">i", compressed, position)
        blocks.append(snappy.uncompress(compressed[position + 4 : position + 4 + length]))
        position += 4 + length
    assert [len(block) for block in blocks] == [32768, 32768, 11264]
    assert b"".join(blocks) == data


def test_snappy_reads_raw_blocks_and_concatenated_xerial_streams() -> None:
    data = b"kafka " * 1000
    assert decompress(SNAPPY, snappy.compress(data), max_size=len(data)) == data
    twice = compress(SNAPPY, data) + compress(SNAPPY, data[:7])
    assert decompress(SNAPPY, twice, max_size=len(data) + 7) == data + data[:7]
    # A header and no chunks is an empty stream.
    assert decompress(SNAPPY, XERIAL_MAGIC + struct.pack(">ii", 1, 1), max_size=0) == b""


def test_gzip_lz4_and_zstd_read_concatenated_streams() -> None:
    first, second = b"first " * 100, b"second " * 100
    assert decompress(GZIP, gzip.compress(first) + gzip.compress(second), max_size=2000) == first + second
    assert decompress(LZ4, compress(LZ4, first) + compress(LZ4, second), max_size=2000) == first + second
    assert decompress(ZSTD, compress(ZSTD, first) + compress(ZSTD, second), max_size=2000) == first + second


def test_zstd_frames_with_and_without_content_size() -> None:
    data = b"zstd " * 5000
    with_size = zstandard.ZstdCompressor(write_content_size=True).compress(data)
    without_size = zstandard.ZstdCompressor(write_content_size=False).compress(data)
    assert zstandard.get_frame_parameters(with_size).content_size == len(data)
    assert zstandard.get_frame_parameters(without_size).content_size == zstandard.CONTENTSIZE_UNKNOWN
    for frame in (with_size, without_size):
        assert decompress(ZSTD, frame, max_size=len(data)) == data
        with pytest.raises(CorruptRecordError, match="more than"):
            decompress(ZSTD, frame, max_size=len(data) - 1)


def test_lz4_writes_independent_blocks_and_refuses_linked_ones() -> None:
    data = bytes(range(256)) * 1024
    ours = compress(LZ4, data)
    assert ours[:4] == b"\x04\x22\x4d\x18"
    assert ours[4] & 0x20  # FLG block independence
    linked = lz4.frame.compress(data, block_linked=True)
    with pytest.raises(CorruptRecordError, match="linked blocks"):
        decompress(LZ4, linked, max_size=len(data))


@pytest.mark.parametrize("codec", [GZIP, SNAPPY, LZ4, ZSTD], ids=CODEC_IDS[1:])
def test_empty_and_garbage_input_is_corrupt(codec: int) -> None:
    for data in (b"", b"\x01", b"not compressed at all, not even a little"):
        with pytest.raises(CorruptRecordError):
            decompress(codec, data, max_size=MiB)
    if codec == SNAPPY:
        # A lone zero byte is the raw snappy block of nothing.
        assert decompress(codec, b"\x00", max_size=MiB) == b""
    else:
        with pytest.raises(CorruptRecordError):
            decompress(codec, b"\x00", max_size=MiB)


@pytest.mark.parametrize("codec", CODECS, ids=CODEC_IDS)
def test_truncated_streams(codec: int) -> None:
    data = bytes(random.Random(codec).randrange(4) for _ in range(70_000))
    compressed = compress(codec, data)
    # xerial snappy is the one format with no end marker: a cut at a chunk
    # boundary is a shorter valid stream, whose output is whole 32 KiB blocks.
    chunk_ends = set()
    if codec == SNAPPY:
        position = 16
        while position < len(compressed):
            chunk_ends.add(position)
            position += 4 + struct.unpack_from(">i", compressed, position)[0]
    for cut in range(len(compressed)):
        prefix = compressed[:cut]
        if codec == NONE:
            assert decompress(codec, prefix, max_size=len(data)) == data[:cut]
        elif cut in chunk_ends:
            blocks = sorted(chunk_ends).index(cut)
            assert decompress(codec, prefix, max_size=len(data)) == data[: blocks * 32768]
        else:
            with pytest.raises(CorruptRecordError):
                decompress(codec, prefix, max_size=len(data))


@pytest.mark.parametrize("codec", [GZIP, SNAPPY, LZ4, ZSTD], ids=CODEC_IDS[1:])
def test_bit_flips_give_corrupt_record_error_or_bounded_output(codec: int) -> None:
    rng = random.Random(1000 + codec)
    data = b"".join(rng.choice([b"alpha", b"beta", b"gamma", bytes([rng.randrange(256)])]) for _ in range(3000))
    compressed = compress(codec, data)
    outcomes = {"corrupt": 0, "same": 0, "different": 0}
    for _ in range(400):
        mutated = bytearray(compressed)
        position = rng.randrange(len(mutated))
        mutated[position] ^= 1 << rng.randrange(8)
        try:
            out = decompress(codec, mutated, max_size=len(data) + 100)
        except CorruptRecordError:
            outcomes["corrupt"] += 1
            continue
        # Only the gzip trailer (CRC-32 and length) checks content; the other
        # formats as Kafka writes them carry no checksum (the batch CRC does
        # that job), so a flip may decode to other bytes, within the limit.
        assert isinstance(out, bytes) and len(out) <= len(data) + 100
        if codec == GZIP:
            assert out == data
        outcomes["same" if out == data else "different"] += 1
    assert outcomes["corrupt"] > 0


# Decompression bombs: 100 MiB of zeros compressed to a few hundred KiB at
# most, built incrementally so the test itself never holds 100 MiB.
BOMB_SIZE = 100 * MiB


@cache
def bomb(codec: int) -> bytes:
    chunk = bytes(MiB)
    chunks = BOMB_SIZE // MiB
    if codec == GZIP:
        compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
        return b"".join(compressor.compress(chunk) for _ in range(chunks)) + compressor.flush()
    if codec == ZSTD:
        zstd_compressor = zstandard.ZstdCompressor().compressobj()
        return b"".join(zstd_compressor.compress(chunk) for _ in range(chunks)) + zstd_compressor.flush()
    if codec == LZ4:
        lz4_compressor = lz4.frame.LZ4FrameCompressor(block_linked=False)
        parts = [lz4_compressor.begin()]
        parts += [lz4_compressor.compress(chunk) for _ in range(chunks)]
        return b"".join(parts) + lz4_compressor.flush()
    if codec == SNAPPY:
        one = compress(SNAPPY, bytes(32 * 1024))
        return one + one[16:] * (BOMB_SIZE // (32 * 1024) - 1)
    raise AssertionError(codec)


@pytest.mark.parametrize("codec", [GZIP, SNAPPY, LZ4, ZSTD], ids=CODEC_IDS[1:])
def test_decompression_bomb_is_refused_without_allocating_it(codec: int) -> None:
    payload = bomb(codec)
    assert len(payload) < BOMB_SIZE // 20
    tracemalloc.start()
    try:
        with pytest.raises(CorruptRecordError, match="more than 1048576 bytes"):
            decompress(codec, payload, max_size=MiB)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * MiB


def test_zstd_frame_claiming_a_huge_content_size_is_refused() -> None:
    compressor = zstandard.ZstdCompressor().compressobj(size=BOMB_SIZE)
    chunk = bytes(MiB)
    frame = b"".join(compressor.compress(chunk) for _ in range(BOMB_SIZE // MiB)) + compressor.flush()
    assert zstandard.get_frame_parameters(frame).content_size == BOMB_SIZE
    with pytest.raises(CorruptRecordError, match="more than"):
        decompress(ZSTD, frame, max_size=MiB)


def test_snappy_block_declaring_a_huge_length_is_refused_before_decoding() -> None:
    # Preamble: uncompressed length 2**32 - 1, then no data at all.
    block = b"\xff\xff\xff\xff\x0f"
    with pytest.raises(CorruptRecordError, match="more than"):
        decompress(SNAPPY, block, max_size=MiB)
    with pytest.raises(CorruptRecordError, match="longer than 32 bits"):
        decompress(SNAPPY, b"\xff\xff\xff\xff\xff\x01", max_size=MiB)


def test_unknown_codec_and_bad_limit() -> None:
    with pytest.raises(CorruptRecordError, match="unknown compression codec 5"):
        decompress(5, b"", max_size=10)
    with pytest.raises(ValueError):
        compress(7, b"")
    with pytest.raises(ValueError):
        decompress(NONE, b"", max_size=-1)
