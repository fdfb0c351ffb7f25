"""Frames and headers: splitting, size limits, header versions, KIP-511."""

from __future__ import annotations

import struct

import pytest
from kafka.protocol.metadata import MetadataRequest as KafkaPythonMetadataRequest
from kafka.protocol.producer import ProduceRequest as KafkaPythonProduceRequest

from kwire_protocol import messages
from kwire_protocol.codec import FileRegion
from kwire_protocol.errors import ProtocolError
from kwire_protocol.frames import (
    FrameBuffer,
    FrameTooLargeError,
    UnsupportedRequestError,
    decode_request,
    decode_response,
    encode_request,
    encode_response,
)
from kwire_protocol.messages import APIS, ApiKey

METADATA = APIS[ApiKey.METADATA]
API_VERSIONS = APIS[ApiKey.API_VERSIONS]
FETCH = APIS[ApiKey.FETCH]


def _frame(payload: bytes) -> bytes:
    return struct.pack(">i", len(payload)) + payload


def test_frame_buffer_whole_bytewise_and_trailing() -> None:
    frames = [b"first", b"", b"x" * 70000, b"last"]
    stream = b"".join(_frame(f) for f in frames) + b"\x00\x00"  # 2 trailing bytes of a next frame

    whole = FrameBuffer()
    whole.feed(stream)
    assert [whole.next_frame() for _ in frames] == frames
    assert whole.next_frame() is None
    assert whole.buffered == 2

    bytewise = FrameBuffer()
    out = []
    for i in range(len(stream)):
        bytewise.feed(stream[i : i + 1])
        frame = bytewise.next_frame()
        if frame is not None:
            out.append(frame)
    assert out == frames
    assert bytewise.buffered == 2


def test_frame_size_is_checked_before_the_body_arrives() -> None:
    buffer = FrameBuffer(max_frame_size=1000)
    buffer.feed(struct.pack(">i", 1001))
    with pytest.raises(FrameTooLargeError, match="1001 bytes exceeds the maximum of 1000"):
        buffer.next_frame()
    default = FrameBuffer()
    default.feed(struct.pack(">i", 104857601))
    with pytest.raises(FrameTooLargeError):
        default.next_frame()
    negative = FrameBuffer()
    negative.feed(struct.pack(">i", -5))
    with pytest.raises(ProtocolError, match="negative frame size"):
        negative.next_frame()


@pytest.mark.parametrize("version", range(METADATA.min_version, METADATA.max_version + 1))
def test_request_header_v1_and_v2(version: int) -> None:
    body = messages.MetadataRequest(topics=None)
    if version < 1:
        body.topics = []
    frame = encode_request(METADATA, version, correlation_id=7, client_id="cli", body=body)
    request = decode_request(frame[4:])
    assert (request.api.key, request.version, request.correlation_id) == (ApiKey.METADATA, version, 7)
    assert request.header.client_id == "cli"
    assert request.body == body
    header_end = 2 + 2 + 4 + 2 + 3 + (1 if version >= 9 else 0)  # tagged-field count in header v2
    assert frame[4:][header_end:] == METADATA.request.encode(body, version)


@pytest.mark.parametrize("version", [0, 4, 9, 12, 13])
def test_decodes_kafka_python_request_frames(version: int) -> None:
    """Frames as kafka-python's client writes them decode to the same request."""
    theirs = KafkaPythonMetadataRequest[version](topics=[KafkaPythonMetadataRequest.MetadataRequestTopic(name="orders")])
    if version >= 10:
        theirs.topics[0].topic_id = None
    theirs.with_header(correlation_id=42, client_id="kafka-python")
    frame = bytes(theirs.encode(header=True, framed=True))
    request = decode_request(frame[4:])
    assert request.correlation_id == 42 and request.header.client_id == "kafka-python"
    assert [t.name for t in request.body.topics] == ["orders"]


def test_decodes_kafka_python_produce_frame_without_copying_records() -> None:
    records = bytes(range(256)) * 8
    theirs = KafkaPythonProduceRequest[9](
        transactional_id=None,
        acks=-1,
        timeout_ms=1500,
        topic_data=[
            KafkaPythonProduceRequest.TopicProduceData(
                name="t", partition_data=[KafkaPythonProduceRequest.TopicProduceData.PartitionProduceData(index=3, records=records)]
            )
        ],
    )
    theirs.with_header(correlation_id=1, client_id=None)
    frame = bytes(theirs.encode(header=True, framed=True))
    request = decode_request(frame[4:])
    partition = request.body.topic_data[0].partition_data[0]
    assert (request.body.acks, request.body.timeout_ms, partition.index) == (-1, 1500, 3)
    assert isinstance(partition.records, memoryview) and partition.records == records
    assert request.header.client_id is None


def test_unknown_api_key_and_version_carry_the_header() -> None:
    frame = struct.pack(">hhih", 9999, 0, 5, -1)
    with pytest.raises(UnsupportedRequestError) as unknown_key:
        decode_request(frame)
    assert unknown_key.value.header.correlation_id == 5

    too_new = struct.pack(">hhih", ApiKey.METADATA, METADATA.max_version + 1, 6, -1)
    with pytest.raises(UnsupportedRequestError) as unknown_version:
        decode_request(too_new)
    assert unknown_version.value.header.correlation_id == 6


def test_api_versions_from_a_newer_client_reads_header_v2() -> None:
    # KIP-511: client software name/version in a header-v2 ApiVersions v99.
    frame = struct.pack(">hhih", ApiKey.API_VERSIONS, 99, 11, 3) + b"abc" + b"\x00" + b"\x05junk"
    with pytest.raises(UnsupportedRequestError) as err:
        decode_request(frame)
    assert (err.value.header.correlation_id, err.value.header.client_id) == (11, "abc")


def test_api_versions_response_header_is_always_v0() -> None:
    body = messages.ApiVersionsResponse(error_code=0, api_keys=[], throttle_time_ms=0)
    for version in range(API_VERSIONS.min_version, API_VERSIONS.max_version + 1):
        chunks = encode_response(API_VERSIONS, version, 3, body)
        frame = b"".join(chunks)
        assert frame[4:8] == struct.pack(">i", 3)
        assert frame[8:] == API_VERSIONS.response.encode(body, version)  # no tagged-field byte after the id
        assert decode_response(frame[4:], API_VERSIONS, version) == (3, body)


def test_flexible_response_header_has_tagged_fields() -> None:
    body = messages.MetadataResponse()
    frame = b"".join(encode_response(METADATA, 12, 9, body))
    assert frame[4:9] == struct.pack(">i", 9) + b"\x00"
    assert decode_response(frame[4:], METADATA, 12) == (9, body)


def test_fetch_response_passes_file_regions_through(tmp_path) -> None:
    fetch = messages.FetchResponse
    response = fetch(
        responses=[
            fetch.cls.FetchableTopicResponse(
                topic="t",
                partitions=[fetch.cls.FetchableTopicResponse.PartitionData(partition_index=0, records=[b"ab", FileRegion(5, 100, 50)])],
            )
        ]
    )
    chunks = encode_response(FETCH, 12, 1, response)
    region = [c for c in chunks if isinstance(c, FileRegion)]
    assert region == [FileRegion(5, 100, 50)]
    assert struct.unpack(">i", bytes(chunks[0][:4]))[0] == sum(len(c) for c in chunks) - 4
    # Substituting the region's bytes gives a frame that decodes to the full records.
    data = b"".join(b"z" * 50 if isinstance(c, FileRegion) else bytes(c) for c in chunks)
    _, decoded = decode_response(data[4:], FETCH, 12)
    assert decoded.responses[0].partitions[0].records == b"ab" + b"z" * 50
