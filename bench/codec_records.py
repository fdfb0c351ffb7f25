"""Benchmark: validating record batches against the bare CRC library.

The headline case is 1 MiB of records as 64 batches of 16 KiB. It times
`validate_batches` (walk the length fields, check each header, CRC32C each
batch) against two baselines over the same bytes:

- one `crc32c.crc32c` call over the whole MiB: the library's own speed;
- one `crc32c.crc32c` call per batch (over bytes 21..end, as validation
  must): the CRC work validation cannot avoid, with its per-call cost.

Then the same comparison for other batch sizes, because what validation adds
is a fixed Python cost per batch (header unpack, the RecordBatch object, a
view slice), so the ratio depends on how many bytes each batch amortises it
over.

Run: python3 bench/codec_records.py
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from crc32c import crc32c

from kwire_protocol.records.batch import CRC_START, validate_batches
from kwire_protocol.records.builder import build_batch
from kwire_protocol.records.record import NewRecord

TOTAL_SIZE = 1024 * 1024
HEADLINE_BATCH_SIZE = 16 * 1024
SWEEP_BATCH_SIZES = (1024, 4 * 1024, 16 * 1024, 64 * 1024, 256 * 1024)
RECORDS_PER_BATCH = 16
ROUNDS = 7
ROUND_SECONDS = 0.05


def make_batch(batch_size: int, base_offset: int) -> bytes:
    """One uncompressed batch of exactly `batch_size` bytes of random values."""
    count = min(RECORDS_PER_BATCH, batch_size // 256)
    value_size = max(0, (batch_size - 100) // count - 10)
    records = [NewRecord(value=os.urandom(value_size), timestamp=1_700_000_000_000 + i) for i in range(count)]
    batch = build_batch(records, base_offset=base_offset)
    # Resize the last value until the batch is exactly batch_size bytes (its
    # length varint may change width, hence the loop).
    while len(batch) != batch_size:
        last = records[-1].value or b""
        new_size = len(last) + batch_size - len(batch)
        value = (last + os.urandom(max(0, new_size - len(last))))[:new_size]
        records[-1] = records[-1]._replace(value=value)
        batch = build_batch(records, base_offset=base_offset)
    return batch


def make_blob(batch_size: int) -> bytes:
    """TOTAL_SIZE bytes of concatenated batches of `batch_size` bytes."""
    count = TOTAL_SIZE // batch_size
    return b"".join(make_batch(batch_size, index * RECORDS_PER_BATCH) for index in range(count))


def seconds_per_call(function: Callable[[], object]) -> float:
    """Best of ROUNDS rounds of about ROUND_SECONDS each."""
    start = time.perf_counter()
    function()
    loops = max(1, int(ROUND_SECONDS / max(time.perf_counter() - start, 1e-7)))
    best = float("inf")
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for _ in range(loops):
            function()
        best = min(best, (time.perf_counter() - start) / loops)
    return best


def measure(batch_size: int) -> tuple[float, float, float]:
    """Seconds per MiB: whole-blob CRC, per-batch CRC, validate_batches."""
    blob = make_blob(batch_size)
    view = memoryview(blob)
    crc_views = [view[start + CRC_START : start + batch_size] for start in range(0, len(blob), batch_size)]
    assert len(validate_batches(blob)) == len(crc_views)

    def crc_whole() -> None:
        crc32c(blob)

    def crc_per_batch() -> None:
        for crc_view in crc_views:
            crc32c(crc_view)

    def validate() -> None:
        validate_batches(blob)

    return seconds_per_call(crc_whole), seconds_per_call(crc_per_batch), seconds_per_call(validate)


def main() -> None:
    megabytes = TOTAL_SIZE / 1e6
    whole, per_batch, validate = measure(HEADLINE_BATCH_SIZE)
    count = TOTAL_SIZE // HEADLINE_BATCH_SIZE
    print(f"{count} batches x {HEADLINE_BATCH_SIZE} bytes = {TOTAL_SIZE} bytes, best of {ROUNDS} rounds")
    print(f"  crc32c, one call over all bytes : {megabytes / whole:7.0f} MB/s  {whole * 1e6:7.1f} us")
    print(f"  crc32c, one call per batch      : {megabytes / per_batch:7.0f} MB/s  {per_batch * 1e6:7.1f} us")
    print(f"  validate_batches                : {megabytes / validate:7.0f} MB/s  {validate * 1e6:7.1f} us")
    print(f"  ratio validate / crc one call   : {whole / validate:.2f}")
    print(f"  ratio validate / crc per batch  : {per_batch / validate:.2f}")
    print(f"  validation cost beyond the CRC  : {(validate - per_batch) / count * 1e9:.0f} ns per batch")
    print()
    print("batch size  validate MB/s  crc-per-batch MB/s  ratio  extra ns/batch")
    for batch_size in SWEEP_BATCH_SIZES:
        whole, per_batch, validate = measure(batch_size)
        count = TOTAL_SIZE // batch_size
        print(
            f"{batch_size:>10}  {megabytes / validate:12.0f}  {megabytes / per_batch:18.0f}"
            f"  {per_batch / validate:5.2f}  {(validate - per_batch) / count * 1e9:14.0f}"
        )


if __name__ == "__main__":
    main()
