"""Codec benchmark: the protocol work on the produce and fetch hot paths.

1. Decode a Produce request frame carrying 1 MiB of record batches
   (16 partitions x 4 batches x 16 KiB, as a batching client sends them).
2. Validate those batches (split by length fields + CRC32C per batch), against
   the crc32c C library run directly over the same bytes.
3. Encode a Fetch response for 100 partitions whose record data are file
   regions (what the broker hands to sendfile): the header bytes only.

Run: python3 bench/codec.py [--seconds 2]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

from crc32c import crc32c

from kwire_protocol import messages
from kwire_protocol.codec import FileRegion
from kwire_protocol.frames import decode_request, encode_request, encode_response
from kwire_protocol.messages import APIS, ApiKey
from kwire_protocol.records.batch import CRC_START, split_batches, validate_batches
from kwire_protocol.records.builder import build_batch
from kwire_protocol.records.record import NewRecord

PRODUCE = APIS[ApiKey.PRODUCE]
FETCH = APIS[ApiKey.FETCH]


def measure(fn: Callable[[], object], seconds: float) -> float:
    """Seconds per call: the best of several timed rounds."""
    fn()
    calls = 1
    while True:
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed > 0.05:
            break
        calls *= 2
    best = elapsed / calls
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - start) / calls)
    return best


def partition_batches(batches: int, batch_size: int) -> bytes:
    value = os.urandom(1000)
    per_batch = batch_size // 1030
    return b"".join(
        build_batch([NewRecord(key=b"k%d" % i, value=value, timestamp=1_700_000_000_000 + i) for i in range(per_batch)])
        for _ in range(batches)
    )


def produce_frame(partitions: int, records: bytes, version: int = 9) -> bytes:
    req = messages.ProduceRequest
    body = req(
        transactional_id=None,
        acks=-1,
        timeout_ms=30000,
        topic_data=[
            req.cls.TopicProduceData(
                name="bench",
                partition_data=[req.cls.TopicProduceData.PartitionProduceData(index=p, records=records) for p in range(partitions)],
            )
        ],
    )
    return encode_request(PRODUCE, version, 1, "bench", body)[4:]


def fetch_response(partitions: int) -> object:
    resp = messages.FetchResponse
    data = resp.cls.FetchableTopicResponse.PartitionData
    return resp(
        throttle_time_ms=0,
        error_code=0,
        session_id=0,
        responses=[
            resp.cls.FetchableTopicResponse(
                topic="bench",
                partitions=[
                    data(partition_index=p, high_watermark=10_000_000, last_stable_offset=10_000_000, log_start_offset=0, records=FileRegion(3, 4096 * p, 1 << 20))
                    for p in range(partitions)
                ],
            )
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=2.0, help="timing per measurement")
    args = parser.parse_args()

    records = partition_batches(4, 16 * 1024)
    frame = produce_frame(16, records)
    payload = sum(len(p.records) for t in decode_request(frame).body.topic_data for p in t.partition_data)
    mib = payload / (1 << 20)

    decode = measure(lambda: decode_request(frame), args.seconds)

    def validate_request() -> None:
        for topic in decode_request(frame).body.topic_data:
            for partition in topic.partition_data:
                validate_batches(partition.records)

    validate = measure(validate_request, args.seconds)
    views = [b.buffer[CRC_START:] for p in range(16) for b in split_batches(records)]

    def crc_only() -> None:
        for v in views:
            crc32c(v)

    crc = measure(crc_only, args.seconds)
    response = fetch_response(100)
    encode = measure(lambda: encode_response(FETCH, 12, 1, response), args.seconds)
    header_bytes = len(encode_response(FETCH, 12, 1, response)[0])

    print(f"produce request: {len(frame)} bytes, {mib:.2f} MiB of batches in 16 partitions x 4 batches")
    print(f"  decode request              {decode * 1e6:9.1f} us   ({mib / decode:8.0f} MiB/s)")
    print(f"  decode + validate batches   {validate * 1e6:9.1f} us   ({mib / validate:8.0f} MiB/s)")
    print(f"  crc32c alone, same bytes    {crc * 1e6:9.1f} us   ({mib / crc:8.0f} MiB/s)")
    print(f"  crc32c / (decode+validate)  {crc / validate:9.2f}")
    print(f"fetch response, 100 partitions of file regions ({header_bytes} header bytes)")
    print(f"  encode                      {encode * 1e6:9.1f} us")


if __name__ == "__main__":
    main()
