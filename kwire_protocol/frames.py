"""Frames and headers: how requests and responses travel on a connection.

A frame is a 4-byte big-endian size followed by that many bytes. A request
frame holds a request header (v1, or v2 with tagged fields for flexible
versions) and the body; a response frame holds a response header (v0, or v1
with tagged fields; ApiVersions always v0, KIP-511) and the body.

`FrameBuffer` is the sans-IO splitter: feed it bytes as they arrive and take
complete frames out. It checks a frame's claimed size against the limit
(Kafka's `socket.request.max.bytes`) as soon as the 4 size bytes are in,
before waiting for or holding the rest, so a peer cannot make us reserve
memory it does not send.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kwire_protocol.codec import Chunk, Output
from kwire_protocol.errors import ProtocolError
from kwire_protocol.messages import APIS, Api, ApiKey, RequestHeader, ResponseHeader, UnsupportedVersionError
from kwire_protocol.primitives import INT32, Reader

DEFAULT_MAX_REQUEST_SIZE = 104857600  # socket.request.max.bytes


class FrameTooLargeError(ProtocolError):
    pass


class FrameBuffer:
    """Accumulates received bytes and yields whole frames (without the size prefix)."""

    def __init__(self, max_frame_size: int = DEFAULT_MAX_REQUEST_SIZE) -> None:
        self.max_frame_size = max_frame_size
        self._buf = bytearray()
        self._start = 0

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        if self._start and self._start == len(self._buf):
            self._buf.clear()
            self._start = 0
        self._buf += data

    def next_frame(self) -> bytes | None:
        """The next complete frame, or None until more bytes arrive."""
        available = len(self._buf) - self._start
        if available < 4:
            return None
        size = INT32.unpack_from(self._buf, self._start)[0]
        check_frame_size(size, self.max_frame_size)
        if available < 4 + size:
            return None
        begin = self._start + 4
        frame = bytes(self._buf[begin : begin + size])
        self._start = begin + size
        if self._start > 65536 and self._start * 2 > len(self._buf):
            del self._buf[: self._start]
            self._start = 0
        return frame

    @property
    def buffered(self) -> int:
        return len(self._buf) - self._start


def check_frame_size(size: int, max_frame_size: int) -> None:
    if size < 0:
        raise ProtocolError(f"negative frame size {size}")
    if size > max_frame_size:
        raise FrameTooLargeError(f"frame of {size} bytes exceeds the maximum of {max_frame_size} (socket.request.max.bytes)")


@dataclass
class Request:
    api: Api
    version: int
    header: Any  # a RequestHeader message: request_api_key, request_api_version, correlation_id, client_id
    body: Any

    @property
    def correlation_id(self) -> int:
        return self.header.correlation_id


class UnsupportedRequestError(UnsupportedVersionError):
    """The request names an api key or version this codec cannot decode.

    Carries the header so the broker can still answer (ApiVersions) or log
    whose request it was before closing the connection."""

    def __init__(self, message: str, header: Any) -> None:
        super().__init__(message)
        self.header = header


def decode_request_header(frame: bytes | bytearray | memoryview) -> tuple[Any, Reader]:
    """Decode the header; returns it and a reader positioned at the body."""
    reader = Reader(frame)
    if reader.remaining < 4:
        raise ProtocolError(f"request frame of {reader.remaining} bytes has no header")
    api_key = reader.int16()
    version = reader.int16()
    reader.pos = 0
    api = APIS.get(api_key)
    if api is None:
        header_version = 1
    elif api.request.has_version(version):
        header_version = api.request_header_version(version)
    elif api_key == ApiKey.API_VERSIONS and version > api.max_version:
        # KIP-511: a newer client's ApiVersions uses header v2; read it so the
        # reply (always header v0) can carry the versions we do support.
        header_version = 2
    else:
        header_version = 1
    header = RequestHeader.codec.decoder(header_version)(reader)
    return header, reader


def decode_request(frame: bytes | bytearray | memoryview) -> Request:
    header, reader = decode_request_header(frame)
    api = APIS.get(header.request_api_key)
    version = header.request_api_version
    if api is None:
        raise UnsupportedRequestError(f"unknown api key {header.request_api_key}", header)
    if not api.request.has_version(version):
        raise UnsupportedRequestError(
            f"{api.name} v{version} is not supported (valid {api.min_version}-{api.max_version})", header
        )
    # Bytes after the body are ignored, as Apache Kafka does (its request
    # parsing reads the body's fields and never checks for a remainder;
    # tests/broker/fixtures/kafka_4_4_api_versions.json records it answering).
    body = api.request.codec.decoder(version)(reader)
    return Request(api, version, header, body)


def encode_request(api: Api, version: int, correlation_id: int, client_id: str | None, body: Any) -> bytes:
    """A whole request frame (size prefix included); for clients and tests."""
    out = Output()
    out.buf += b"\0\0\0\0"
    header = RequestHeader(
        request_api_key=api.key, request_api_version=version, correlation_id=correlation_id, client_id=client_id
    )
    RequestHeader.encode_into(out, header, api.request_header_version(version))
    api.request.encode_into(out, body, version)
    chunks = out.result()
    frame = b"".join(bytes(c) for c in chunks)
    return INT32.pack(len(frame) - 4) + frame[4:]


def encode_response(api: Api, version: int, correlation_id: int, body: Any) -> list[Chunk]:
    """A whole response frame as chunks: size prefix and header in the first,
    record data possibly passed through as its own chunks (FileRegion)."""
    out = Output()
    out.buf += b"\0\0\0\0"
    ResponseHeader.encode_into(out, ResponseHeader(correlation_id=correlation_id), api.response_header_version(version))
    api.response.encode_into(out, body, version)
    chunks = out.result()
    size = sum(len(c) for c in chunks) - 4
    first = chunks[0]
    assert isinstance(first, bytearray)
    INT32.pack_into(first, 0, size)
    return chunks


def decode_response(frame: bytes | bytearray | memoryview, api: Api, version: int) -> tuple[int, Any]:
    """Decode a response frame (without size prefix): (correlation_id, body)."""
    reader = Reader(frame)
    header = ResponseHeader.codec.decoder(api.response_header_version(version))(reader)
    return header.correlation_id, api.response.decode(reader, version)
