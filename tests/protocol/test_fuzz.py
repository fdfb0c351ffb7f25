"""The request decoder rejects bad bytes with ProtocolError and nothing else.

Valid frames of every request type are generated, then truncated, bit-flipped
and spliced with a seeded generator; random bytes are fed too. Any outcome
other than a decoded request or a ProtocolError fails the test.
"""

from __future__ import annotations

import random
import struct
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kwire_protocol.errors import ProtocolError
from kwire_protocol.frames import decode_request, encode_request
from kwire_protocol.messages import APIS, ApiKey

from .message_strategies import message_strategy

REQUEST_CASES = [(api, v) for api in APIS.values() for v in range(api.min_version, api.max_version + 1)]


def _decode_or_reject(frame: bytes) -> None:
    try:
        decode_request(frame)
    except ProtocolError:
        pass


def _mutations(frame: bytes, rng: random.Random, count: int) -> list[bytes]:
    out = []
    for _ in range(count):
        kind = rng.randrange(4)
        if kind == 0:
            out.append(frame[: rng.randrange(len(frame) + 1)])
        elif kind == 1:
            data = bytearray(frame)
            for _ in range(rng.randint(1, 4)):
                if data:
                    i = rng.randrange(len(data))
                    data[i] ^= 1 << rng.randrange(8)
            out.append(bytes(data))
        elif kind == 2:
            data = bytearray(frame)
            if data:
                i = rng.randrange(len(data))
                data[i : i + 4] = rng.choice([b"\x7f\xff\xff\xff", b"\xff\xff\xff\xfe", b"\x80\x80\x80\x80\x80"])
            out.append(bytes(data))
        else:
            out.append(frame + bytes(rng.randrange(256) for _ in range(rng.randint(1, 8))))
    return out


@settings(max_examples=1000, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_mutated_request_frames_raise_only_protocol_errors(data: st.DataObject) -> None:
    api, version = data.draw(st.sampled_from(REQUEST_CASES))
    body = data.draw(message_strategy(api.request, version))
    frame = encode_request(api, version, correlation_id=1, client_id="fuzz", body=body)[4:]
    assert decode_request(frame).body == body
    rng = random.Random(data.draw(st.integers(0, 2**32)))
    for mutated in _mutations(frame, rng, 25):
        _decode_or_reject(mutated)


@settings(max_examples=2000, deadline=None, derandomize=True)
@given(st.binary(max_size=300))
def test_random_bytes_raise_only_protocol_errors(data: bytes) -> None:
    _decode_or_reject(data)


@settings(max_examples=500, deadline=None, derandomize=True)
@given(st.sampled_from(REQUEST_CASES), st.binary(max_size=200))
def test_random_bodies_behind_valid_headers(case, body: bytes) -> None:  # type: ignore[no-untyped-def]
    api, version = case
    header = encode_request(api, version, 1, "c", api.request.cls())[4:]
    header_size = len(header) - len(api.request.encode(api.request.cls(), version))
    _decode_or_reject(header[:header_size] + body)


@pytest.mark.parametrize(
    ("api_key", "version", "body", "message"),
    [
        (ApiKey.METADATA, 0, struct.pack(">i", 2**31 - 1), "cannot fit"),
        (ApiKey.METADATA, 12, b"\xff\xff\xff\xff\x07", "cannot fit"),
        (ApiKey.METADATA, 0, struct.pack(">ih", 1, 30000) + b"ab", "truncated string"),
        (ApiKey.PRODUCE, 3, struct.pack(">hhii", -1, 1, 1000, 1) + b"\x00\x01t" + struct.pack(">iii", 1, 0, 2**31 - 1), "truncated bytes"),
        (ApiKey.METADATA, 12, b"\x80\x80\x80\x80\x80\x01", "longer than 32 bits"),
    ],
)
def test_lying_lengths_allocate_nothing(api_key: int, version: int, body: bytes, message: str) -> None:
    api = APIS[api_key]
    header = struct.pack(">hhih", api_key, version, 1, -1) + (b"\x00" if api.request.is_flexible(version) else b"")
    tracemalloc.start()
    with pytest.raises(ProtocolError, match=message):
        decode_request(header + body)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 64 * 1024
