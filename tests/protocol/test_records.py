"""Records inside v2 batches: building, decoding, control batches, and
strictness against truncated, flipped and inconsistent bytes.

kafka-python's DefaultRecordBatchBuilder and DefaultRecordBatch serve as an
independent encoder and decoder to check ours against."""

from __future__ import annotations

import random
import struct
import tracemalloc
import zlib

import pytest
from crc32c import crc32c
from hypothesis import given, settings
from hypothesis import strategies as st
from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder

from kwire_protocol.errors import CorruptRecordError
from kwire_protocol.records.batch import RecordBatch, split_batches, validate_batches
from kwire_protocol.records.builder import build_batch
from kwire_protocol.records.compression import CODECS, GZIP, ZSTD
from kwire_protocol.records.control import (
    ABORT,
    COMMIT,
    EndTxnMarker,
    build_control_batch,
    control_type,
    read_end_txn_marker,
)
from kwire_protocol.records.record import NewRecord, Record

CODEC_IDS = ["none", "gzip", "snappy", "lz4", "zstd"]
HEADER = struct.Struct(">qiibIhiqqqhii")
MiB = 1024 * 1024


# -- test-side encoding, written independently of record.py -----------------


def zigzag(value: int) -> bytes:
    raw = (value << 1) ^ (value >> 63)
    out = bytearray()
    while True:
        byte = raw & 0x7F
        raw >>= 7
        if raw:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field(value: bytes | None) -> bytes:
    return zigzag(-1) if value is None else zigzag(len(value)) + value


def record_bytes(
    offset_delta: int = 0,
    key: bytes | None = b"k",
    value: bytes | None = b"v",
    headers: list[tuple[bytes, bytes | None]] | None = None,
    timestamp_delta: int = 0,
    length_adjust: int = 0,
) -> bytes:
    body = b"\x00" + zigzag(timestamp_delta) + zigzag(offset_delta) + field(key) + field(value)
    headers = headers or []
    body += zigzag(len(headers)) + b"".join(zigzag(len(k)) + k + field(v) for k, v in headers)
    return zigzag(len(body) + length_adjust) + body


def raw_batch(
    payload: bytes,
    records_count: int,
    *,
    attributes: int = 0,
    last_offset_delta: int | None = None,
    base_offset: int = 0,
    base_timestamp: int = 1000,
    max_timestamp: int = 1000,
) -> bytes:
    """A batch around any payload, with a correct CRC."""
    if last_offset_delta is None:
        last_offset_delta = max(records_count - 1, 0)
    header = HEADER.pack(
        base_offset, HEADER.size - 12 + len(payload), -1, 2, 0, attributes, last_offset_delta,
        base_timestamp, max_timestamp, -1, -1, -1, records_count,
    )  # fmt: skip
    batch = bytearray(header + payload)
    struct.pack_into(">I", batch, 17, crc32c(batch[21:]))
    return bytes(batch)


def with_fresh_crc(batch: bytes | bytearray) -> bytes:
    fixed = bytearray(batch)
    struct.pack_into(">I", fixed, 17, crc32c(fixed[21:]))
    return bytes(fixed)


def one_batch(data: bytes) -> RecordBatch:
    return RecordBatch(memoryview(data))


def expected_records(new_records: list[NewRecord], base_offset: int) -> list[Record]:
    out = []
    delta = -1
    base_timestamp = new_records[0].timestamp
    assert base_timestamp is not None
    for new in new_records:
        assert new.timestamp is not None
        delta = delta + 1 if new.offset_delta is None else new.offset_delta
        out.append(
            Record(
                base_offset + delta, new.timestamp, new.key, new.value, list(new.headers), 0, delta,
                new.timestamp - base_timestamp,
            )
        )  # fmt: skip
    return out


def as_tuples(records: list[Record]) -> list[tuple[int, int, bytes | None, bytes | None, list]]:
    return [(r.offset, r.timestamp, r.key, r.value, r.headers) for r in records]


def kafka_python_tuples(batch: bytes) -> list[tuple[int, int, bytes | None, bytes | None, list]]:
    return [(r.offset, r.timestamp, r.key, r.value, list(r.headers)) for r in DefaultRecordBatch(batch)]


# -- strategies ---------------------------------------------------------------

headers_strategy = st.lists(
    st.tuples(st.text(max_size=8), st.none() | st.binary(max_size=16)),
    max_size=3,
)
timestamps = st.just(-1) | st.integers(0, 2**45)


@st.composite
def new_record_lists(draw: st.DrawFn) -> list[NewRecord]:
    size = draw(st.integers(1, 12))
    explicit_offsets = draw(st.booleans())
    records = []
    delta = -1
    for _ in range(size):
        delta += 1 + (draw(st.integers(0, 3)) if explicit_offsets else 0)
        records.append(
            NewRecord(
                key=draw(st.none() | st.binary(max_size=24)),
                value=draw(st.none() | st.binary(max_size=64)),
                headers=draw(headers_strategy),
                timestamp=draw(timestamps),
                offset_delta=delta if explicit_offsets else None,
            )
        )
    return records


# A record that compresses well, so kafka-python's builder (which sends a
# batch uncompressed when compression does not shrink it) really compresses.
COMPRESSIBLE = NewRecord(key=b"pad", value=b"abcd" * 200, headers=[("h", b"x" * 50)], timestamp=5)


# -- round trips --------------------------------------------------------------


@pytest.mark.parametrize("codec", CODECS, ids=CODEC_IDS)
@settings(max_examples=40, deadline=None)
@given(new_records=new_record_lists(), base_offset=st.integers(0, 2**40))
def test_build_then_decode_gives_the_records_back(codec: int, new_records: list[NewRecord], base_offset: int) -> None:
    data = build_batch(new_records, base_offset=base_offset, compression=codec)
    [batch] = validate_batches(data)
    expected = expected_records(new_records, base_offset)
    assert batch.records() == expected
    assert batch.compression == codec
    assert batch.base_offset == base_offset
    assert batch.records_count == len(new_records)
    assert batch.last_offset_delta == expected[-1].offset_delta
    assert batch.base_timestamp == new_records[0].timestamp
    assert batch.max_timestamp == max(r.timestamp for r in expected)
    assert (batch.producer_id, batch.producer_epoch, batch.base_sequence) == (-1, -1, -1)
    assert batch.partition_leader_epoch == -1
    assert not batch.is_transactional and not batch.is_control and batch.timestamp_type == 0


@pytest.mark.parametrize("codec", CODECS, ids=CODEC_IDS)
@settings(max_examples=30, deadline=None)
@given(new_records=new_record_lists())
def test_kafka_python_reads_our_batches(codec: int, new_records: list[NewRecord]) -> None:
    new_records = [*new_records, COMPRESSIBLE._replace(offset_delta=None)]
    if new_records[0].offset_delta is not None:
        new_records[-1] = new_records[-1]._replace(offset_delta=new_records[-2].offset_delta + 1)
    data = build_batch(new_records, base_offset=7, compression=codec)
    theirs = DefaultRecordBatch(data)
    assert theirs.validate_crc()
    assert theirs.compression_type == codec
    assert kafka_python_tuples(data) == as_tuples(expected_records(new_records, 7))


@pytest.mark.parametrize("codec", CODECS, ids=CODEC_IDS)
@settings(max_examples=30, deadline=None)
@given(new_records=new_record_lists())
def test_we_read_kafka_python_batches(codec: int, new_records: list[NewRecord]) -> None:
    builder = DefaultRecordBatchBuilder(
        magic=2, compression_type=codec, is_transactional=0, producer_id=-1, producer_epoch=-1,
        base_sequence=-1, batch_size=MiB,
    )  # fmt: skip
    delta = -1
    inputs = []
    for new in [*new_records, COMPRESSIBLE]:
        delta = delta + 1 if new.offset_delta is None else new.offset_delta
        if new is COMPRESSIBLE:
            delta = max(delta, inputs[-1].offset_delta + 1)
        assert builder.append(delta, new.timestamp, new.key, new.value, list(new.headers)) is not None
        inputs.append(new._replace(offset_delta=delta))
    data = bytes(builder.build())
    [batch] = validate_batches(data)
    assert batch.compression == codec
    assert batch.records() == expected_records(inputs, 0)


def test_log_append_time_reports_max_timestamp_for_every_record() -> None:
    new_records = [NewRecord(b"a", b"1", timestamp=500), NewRecord(b"b", b"2", timestamp=900)]
    data = build_batch(new_records, timestamp_type=1)
    batch = one_batch(data)
    assert batch.timestamp_type == 1
    assert [(r.timestamp, r.timestamp_delta) for r in batch.records()] == [(900, 0), (900, 400)]
    assert [r.timestamp for r in DefaultRecordBatch(data)] == [900, 900]


def test_build_batch_producer_fields_and_crc() -> None:
    data = build_batch(
        [NewRecord(b"k", b"v", timestamp=10), NewRecord(None, b"w", timestamp=7)],
        base_offset=100, producer_id=4242, producer_epoch=3, base_sequence=17, is_transactional=True,
        partition_leader_epoch=9,
    )  # fmt: skip
    fields = HEADER.unpack_from(data)
    assert fields == (100, len(data) - 12, 9, 2, crc32c(data[21:]), 0x10, 1, 10, 10, 4242, 3, 17, 2)
    assert one_batch(data).records() == [
        Record(100, 10, b"k", b"v", [], 0, 0, 0),
        Record(101, 7, None, b"w", [], 0, 1, -3),
    ]


def test_build_batch_encodes_records_byte_for_byte() -> None:
    data = build_batch([NewRecord(b"k", None, [("h", b"x"), ("n", None)], timestamp=1000)])
    assert data[61:] == record_bytes(key=b"k", value=None, headers=[(b"h", b"x"), (b"n", None)])


def test_build_batch_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="at least one record"):
        build_batch([])
    with pytest.raises(ValueError, match="does not follow"):
        build_batch([NewRecord(timestamp=1, offset_delta=3), NewRecord(timestamp=1, offset_delta=3)])
    with pytest.raises(ValueError, match="does not follow"):
        build_batch([NewRecord(timestamp=1, offset_delta=-1)])
    with pytest.raises(ValueError, match="negative timestamp"):
        build_batch([NewRecord(timestamp=-5)])
    with pytest.raises(ValueError, match="codec"):
        build_batch([NewRecord(timestamp=1)], compression=5)
    with pytest.raises(ValueError, match="producer id"):
        build_batch([NewRecord(timestamp=1)], is_transactional=True)


def test_records_with_no_timestamp_get_the_current_time() -> None:
    import time

    before = int(time.time() * 1000)
    [record] = one_batch(build_batch([NewRecord(b"k", b"v")])).records()
    assert before <= record.timestamp <= int(time.time() * 1000)


def test_empty_batch_has_no_records() -> None:
    # What compaction leaves when it removes every record of a batch.
    assert one_batch(raw_batch(b"", 0, last_offset_delta=4)).records() == []
    assert one_batch(raw_batch(b"", 0, attributes=GZIP, last_offset_delta=4)).records() == []


# -- control batches ----------------------------------------------------------


@pytest.mark.parametrize("commit", [True, False])
def test_control_batch_layout(commit: bool) -> None:
    data = build_control_batch(
        commit, producer_id=77, producer_epoch=5, coordinator_epoch=12, base_offset=300, timestamp=1234,
        partition_leader_epoch=2,
    )  # fmt: skip
    batch = one_batch(data)
    batch.validate()
    assert batch.is_control and batch.is_transactional
    assert batch.attributes == 0x30
    assert (batch.producer_id, batch.producer_epoch, batch.base_sequence) == (77, 5, -1)
    assert (batch.base_offset, batch.partition_leader_epoch, batch.records_count) == (300, 2, 1)
    [record] = batch.records()
    assert record.key == struct.pack(">hh", 0, 1 if commit else 0)
    assert record.value == struct.pack(">hi", 0, 12)
    assert (record.offset, record.timestamp) == (300, 1234)
    assert control_type(batch) == (COMMIT if commit else ABORT)
    assert read_end_txn_marker(batch) == EndTxnMarker(COMMIT if commit else ABORT, 12)
    [theirs] = list(DefaultRecordBatch(data))
    assert (theirs.version, theirs.type, theirs.commit) == (0, 1 if commit else 0, commit)


def control_batch_with(*records: bytes) -> RecordBatch:
    return one_batch(raw_batch(b"".join(records), len(records), attributes=0x30))


def test_control_parsers_reject_malformed_control_batches() -> None:
    with pytest.raises(CorruptRecordError, match="not a control batch"):
        control_type(one_batch(build_batch([NewRecord(b"\x00\x00\x00\x01", timestamp=1)])))
    two = control_batch_with(record_bytes(0, b"\x00\x00\x00\x01"), record_bytes(1, b"\x00\x00\x00\x01"))
    with pytest.raises(CorruptRecordError, match="holds 2 records"):
        control_type(two)
    with pytest.raises(CorruptRecordError, match="shorter than 4 bytes"):
        control_type(control_batch_with(record_bytes(0, b"\x00\x00\x01")))
    with pytest.raises(CorruptRecordError, match="shorter than 4 bytes"):
        control_type(control_batch_with(record_bytes(0, None)))
    with pytest.raises(CorruptRecordError, match="version -1"):
        control_type(control_batch_with(record_bytes(0, b"\xff\xff\x00\x01")))
    with pytest.raises(CorruptRecordError, match="shorter than 6 bytes"):
        read_end_txn_marker(control_batch_with(record_bytes(0, b"\x00\x00\x00\x01", b"\x00\x00\x00")))


def test_control_type_passes_other_types_through() -> None:
    # KRaft writes control types 2 and up (leader change, snapshot markers);
    # a later key version may append fields, which Kafka also tolerates.
    leader_change = control_batch_with(record_bytes(0, b"\x00\x00\x00\x02", b"\x00\x00"))
    assert control_type(leader_change) == 2
    with pytest.raises(CorruptRecordError, match="not a transaction marker"):
        read_end_txn_marker(leader_change)
    longer_key = control_batch_with(record_bytes(0, b"\x00\x01\x00\x01\xff", b"\x00\x00\x00\x00\x00\x09"))
    assert control_type(longer_key) == COMMIT
    assert read_end_txn_marker(longer_key) == EndTxnMarker(COMMIT, 9)


# -- strict decoding of records ------------------------------------------------


def framed(body: bytes) -> bytes:
    """A record body with its own, correct, length prefix."""
    return zigzag(len(body)) + body


NO_DELTAS = b"\x00\x00\x00"  # attributes, timestamp delta, offset delta
NULL_KEY_AND_VALUE = b"\x01\x01"

INCONSISTENT_RECORDS = {
    "count above records": (record_bytes(0), 2, "declares 2 records, its data ends after 1"),
    "count below records": (record_bytes(0) + record_bytes(1), 1, "bytes follow the batch's 1 records"),
    "trailing byte": (record_bytes(0) + b"\x00", 1, "1 bytes follow"),
    "length past data": (record_bytes(0, length_adjust=1), 1, "record 0 length 9: 8 bytes remain"),
    "length short of fields": (record_bytes(0, length_adjust=-1), 1, "runs past the end of its record"),
    "length beyond fields": (framed(NO_DELTAS + NULL_KEY_AND_VALUE + b"\x00\x00"), 1, "declares 7 bytes, its fields use 6"),
    "negative length": (record_bytes(0, length_adjust=-100), 1, "record 0 length -"),
    "cut inside key": (record_bytes(0, key=b"abc")[:-4], 1, "record 0 length"),
    "key length -2": (framed(NO_DELTAS + zigzag(-2) + b"\x02v\x00"), 1, "key length -2"),
    "value length -3": (framed(NO_DELTAS + b"\x02k" + zigzag(-3) + b"\x00"), 1, "value length -3"),
    "huge key length": (framed(NO_DELTAS + zigzag(2**31 - 1) + b"\x00"), 1, "key length 2147483647"),
    "header count -1": (framed(NO_DELTAS + NULL_KEY_AND_VALUE + zigzag(-1)), 1, "header count -1"),
    "huge header count": (framed(NO_DELTAS + NULL_KEY_AND_VALUE + zigzag(2**31 - 1)), 1, "header count 2147483647"),
    "null header key": (
        framed(NO_DELTAS + NULL_KEY_AND_VALUE + zigzag(1) + zigzag(-1) + b"\x01"), 1, "header key length -1",
    ),
    "header key not UTF-8": (framed(NO_DELTAS + NULL_KEY_AND_VALUE + zigzag(1) + b"\x02\xff\x01"), 1, "not UTF-8"),
    "varint over 5 bytes": (
        framed(b"\x00\x00" + b"\x80" * 5 + b"\x00" + NULL_KEY_AND_VALUE + b"\x00"), 1, "longer than 5 bytes",
    ),
    "varlong over 10 bytes": (
        framed(b"\x00" + b"\x80" * 10 + b"\x00\x00" + NULL_KEY_AND_VALUE + b"\x00"), 1, "longer than 10 bytes",
    ),
    "varint over 32 bits": (
        framed(b"\x00\x00\xff\xff\xff\xff\x1f" + NULL_KEY_AND_VALUE + b"\x00"), 1, "overflows a 32-bit field",
    ),
    "length varint over 5 bytes": (b"\x80" * 6, 1, "longer than 5 bytes"),
    "length varint cut": (b"\x80", 1, "runs past the end"),
    "empty record": (zigzag(0), 1, "record 0 is empty"),
    "offset delta past last": (record_bytes(2), 1, "offset delta 2 is not in \\(-1, 0\\]"),
    "offset delta repeated": (record_bytes(1) + record_bytes(1), 2, "offset delta 1 is not in \\(1, 1\\]"),
    "offset delta backwards": (record_bytes(1) + record_bytes(0), 2, "offset delta 0 is not in \\(1, 1\\]"),
    "offset delta negative": (record_bytes(-1), 1, "offset delta -1"),
}


@pytest.mark.parametrize(
    ("payload", "count", "message"), list(INCONSISTENT_RECORDS.values()), ids=list(INCONSISTENT_RECORDS)
)
def test_inconsistent_records_are_corrupt(payload: bytes, count: int, message: str) -> None:
    batch = one_batch(raw_batch(payload, count))
    batch.validate()  # the CRC is right: only the records are wrong
    with pytest.raises(CorruptRecordError, match=message):
        batch.records()


def test_records_checks_the_crc_first() -> None:
    data = bytearray(build_batch([NewRecord(b"k", b"v", timestamp=1)]))
    data[-1] ^= 1
    with pytest.raises(CorruptRecordError, match="CRC"):
        one_batch(bytes(data)).records()


def test_huge_record_count_is_refused_without_work_proportional_to_it() -> None:
    batch = one_batch(raw_batch(record_bytes(0), 2**31 - 1, last_offset_delta=0))
    with pytest.raises(CorruptRecordError, match="declares 2147483647 records, its data ends after 1"):
        batch.records()


def test_records_section_over_max_size_is_refused() -> None:
    data = build_batch([NewRecord(b"k", b"v" * 100, timestamp=1)])
    with pytest.raises(CorruptRecordError, match="more than 50 bytes"):
        one_batch(data).records(max_size=50)


@pytest.mark.parametrize("codec", [GZIP, ZSTD], ids=["gzip", "zstd"])
def test_decompression_bomb_batch_is_refused_without_allocating_it(codec: int) -> None:
    zeros = bytes(MiB)
    if codec == GZIP:
        gzip_compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
        payload = b"".join(gzip_compressor.compress(zeros) for _ in range(100)) + gzip_compressor.flush()
    else:
        import zstandard

        zstd_compressor = zstandard.ZstdCompressor().compressobj()
        payload = b"".join(zstd_compressor.compress(zeros) for _ in range(100)) + zstd_compressor.flush()
    data = raw_batch(payload, 1, attributes=codec)
    assert len(data) < 200_000  # 100 MiB of records in a small batch
    batch = one_batch(data)
    tracemalloc.start()
    try:
        with pytest.raises(CorruptRecordError, match="more than 1048576 bytes"):
            batch.records(max_size=MiB)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * MiB


# -- fuzzing: truncations and bit flips -----------------------------------------


def sample_blob() -> tuple[bytes, list[int], list[list[Record]]]:
    """One batch per codec, concatenated; their start positions and records."""
    rng = random.Random(7)
    batches = []
    base_offset = 1000
    for codec in CODECS:
        new_records = [
            NewRecord(
                key=rng.choice([None, b"key-%d" % i]),
                value=rng.choice([None, bytes(rng.randrange(256) for _ in range(rng.randrange(40))), b"ab" * 30]),
                headers=[("h%d" % i, rng.choice([None, b"hv"]))] if i % 2 else [],
                timestamp=1_700_000_000_000 + rng.randrange(-5000, 5000),
            )
            for i in range(4)
        ]
        batches.append((build_batch(new_records, base_offset=base_offset, compression=codec), new_records, base_offset))
        base_offset += len(new_records)
    starts = []
    position = 0
    for data, _, _ in batches:
        starts.append(position)
        position += len(data)
    records = [expected_records(new_records, offset) for _, new_records, offset in batches]
    return b"".join(data for data, _, _ in batches), starts, records


def decode_all(blob: bytes | bytearray) -> list[list[Record]]:
    return [batch.records() for batch in validate_batches(blob)]


def test_fuzz_truncations() -> None:
    blob, starts, records = sample_blob()
    assert decode_all(blob) == records
    boundaries = {start: index for index, start in enumerate(starts)}
    for cut in range(len(blob)):
        prefix = blob[:cut]
        if cut in boundaries:
            # A cut between batches is a shorter, valid blob.
            assert decode_all(prefix) == records[: boundaries[cut]]
            assert len(list(split_batches(prefix))) == boundaries[cut]
        else:
            with pytest.raises(CorruptRecordError):
                decode_all(prefix)
            with pytest.raises(CorruptRecordError):
                list(split_batches(prefix))


def test_fuzz_bit_flips() -> None:
    """A flipped bit is caught unless it lands outside the CRC's coverage.

    CRC32C detects every single-bit error, so only base_offset (bytes 0-7)
    and partition_leader_epoch (bytes 12-15) may change without an error;
    batch_length and magic changes are caught by the framing checks.
    """
    blob, starts, records = sample_blob()
    rng = random.Random(11)
    caught = 0
    for _ in range(3000):
        position = rng.randrange(len(blob))
        bit = rng.randrange(8)
        mutated = bytearray(blob)
        mutated[position] ^= 1 << bit
        index = max(i for i, start in enumerate(starts) if start <= position)
        offset_in_batch = position - starts[index]
        try:
            decoded = decode_all(mutated)
        except CorruptRecordError:
            assert not (offset_in_batch < 8 or 12 <= offset_in_batch < 16)
            caught += 1
            continue
        expected = [list(batch) for batch in records]
        if offset_in_batch < 8:
            old_base = expected[index][0].offset - expected[index][0].offset_delta
            (new_base,) = struct.unpack_from(">q", mutated, starts[index])
            expected[index] = [r._replace(offset=new_base + r.offset_delta) for r in expected[index]]
            assert new_base != old_base
        else:
            assert 12 <= offset_in_batch < 16
        assert decoded == expected
    assert caught > 2000


def test_fuzz_record_bytes_under_a_valid_crc() -> None:
    """Mutations of the records section with the CRC recomputed, so the
    record decoder itself is what must catch them. When it accepts, an
    independent decoder (kafka-python's) must read the same records."""
    rng = random.Random(13)
    new_records = [
        NewRecord(b"key", b"value-%d" % i, [("hk", b"hv"), ("n", None)], timestamp=10_000 + i) for i in range(3)
    ]
    valid = build_batch(new_records)
    outcomes = {"corrupt": 0, "accepted": 0}
    for _ in range(3000):
        mutated = bytearray(valid)
        kind = rng.randrange(3)
        position = rng.randrange(61, len(mutated))
        if kind == 0:
            mutated[position] ^= 1 << rng.randrange(8)
        elif kind == 1:
            mutated[position] = rng.choice([0x00, 0x01, 0x7F, 0x80, 0xFF, rng.randrange(256)])
        else:
            del mutated[position:]
            struct.pack_into(">i", mutated, 8, len(mutated) - 12)
        data = with_fresh_crc(mutated)
        try:
            decoded = one_batch(data).records()
        except CorruptRecordError:
            outcomes["corrupt"] += 1
            continue
        outcomes["accepted"] += 1
        # kafka-python reads a record's int8 attributes as a varint, so it
        # can only agree when that byte has no continuation bit.
        if all(0 <= r.attributes < 0x80 for r in decoded):
            assert kafka_python_tuples(data) == as_tuples(decoded)
    assert outcomes["corrupt"] > 1000 and outcomes["accepted"] > 100


@pytest.mark.parametrize("codec", CODECS[1:], ids=CODEC_IDS[1:])
def test_fuzz_compressed_payload_under_a_valid_crc(codec: int) -> None:
    rng = random.Random(17 + codec)
    new_records = [NewRecord(b"k%d" % i, b"value " * 20, [("h", b"v")], timestamp=5 + i) for i in range(5)]
    valid = build_batch(new_records, compression=codec)
    expected = expected_records(new_records, 0)
    outcomes = {"corrupt": 0, "same": 0, "different": 0}
    for _ in range(500):
        mutated = bytearray(valid)
        position = rng.randrange(61, len(mutated))
        if rng.randrange(2):
            mutated[position] ^= 1 << rng.randrange(8)
        else:
            del mutated[position:]
            struct.pack_into(">i", mutated, 8, len(mutated) - 12)
        try:
            decoded = one_batch(with_fresh_crc(mutated)).records(max_size=64 * 1024)
        except CorruptRecordError:
            outcomes["corrupt"] += 1
            continue
        # Without a checksum inside the codec a flip can decode to other,
        # still well-formed records; they must at least be five records
        # with ascending offsets.
        assert len(decoded) == 5
        assert [r.offset_delta for r in decoded] == sorted({r.offset_delta for r in decoded})
        outcomes["same" if decoded == expected else "different"] += 1
    assert outcomes["corrupt"] > 0
