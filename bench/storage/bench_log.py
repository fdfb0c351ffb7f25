"""Storage engine benchmarks: append throughput vs raw os.write, offset lookups, recovery.

    python bench/storage/bench_log.py [--dir DIR] [--append-mib 768] [--log-gib 1]

* append: `Log.append` of the same pre-built batch (16 KiB, then 1 MiB)
  until --append-mib MiB are written, against `os.write` of the same bytes
  to a plain file in the same directory, in the same run, alternating the
  two in 16 short runs and keeping the median of each. Neither side fsyncs (Kafka's
  default flush.messages/flush.ms leave it to the page cache); the total
  stays below segment.bytes so no roll (and its fsync) happens.
* lookups: a --log-gib GiB log of 1 KiB batches (default index interval,
  segment size); random `Log.read(offset, 1)` (index binary search plus
  header scan, returning a slice) per second, and the same for 1 MiB reads.
* recovery: that log reopened after an unclean shutdown with recovery point
  0, so every batch is read and CRC-checked and every index rebuilt; the
  files are in the page cache (it measures the engine, not the disk).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from kwire_protocol.records.builder import build_batch  # noqa: E402
from kwire_protocol.records.record import NewRecord  # noqa: E402

from kwire_storage.config import LogConfig  # noqa: E402
from kwire_storage.log import Log  # noqa: E402

MIB = 1024 * 1024


def batch_of(size: int, records: int) -> bytearray:
    value = random.Random(size).randbytes(max(size // records - 80, 1))
    batch = build_batch([NewRecord(key=b"key-%d" % i, value=value, timestamp=1_700_000_000_000)
                         for i in range(records)])
    return bytearray(batch)


def bench_append(directory: Path, batch: bytearray, total: int, rounds: int = 16) -> tuple[float, float]:
    """Median MiB/s of Log.append and of os.write over `rounds` alternating runs.

    Short alternating runs (total / rounds bytes each, into a new file that
    is deleted right after, which drops its dirty pages) keep both sides
    below the kernel's writeback thresholds; long runs mostly measure when
    the kernel starts writeback, which made earlier numbers swing by 30%.
    """
    count = max(total // rounds // len(batch), 1)
    log_rates, raw_rates = [], []
    for attempt in range(rounds):
        raw_path = directory / f"raw-{attempt}.bin"
        fd = os.open(raw_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, batch)
        started = time.perf_counter()
        for _ in range(count):
            os.write(fd, batch)
        raw_rates.append(count * len(batch) / (time.perf_counter() - started) / MIB)
        os.close(fd)
        os.unlink(raw_path)

        log = Log(directory / f"append-{attempt}" / "bench-0", LogConfig())
        # Steady state: the first two appends touch each index mapping for the
        # first time (about 1.6 ms per file on ext4, once per segment).
        log.append(batch)
        log.append(batch)
        started = time.perf_counter()
        for _ in range(count):
            log.append(batch)
        log_rates.append(count * len(batch) / (time.perf_counter() - started) / MIB)
        log.close_unclean()
        shutil.rmtree(directory / f"append-{attempt}")
    return statistics.median(log_rates), statistics.median(raw_rates)


def build_log(directory: Path, gib: float) -> Log:
    log = Log(directory / "lookup-0", LogConfig())
    batch = batch_of(1024, 4)
    for _ in range(int(gib * 1024 * MIB) // len(batch)):
        log.append(batch)
    return log


def bench_lookups(log: Log, max_bytes: int, seconds: float = 3.0) -> float:
    rng = random.Random(1)
    end = log.log_end_offset
    done = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        for _ in range(1000):
            log.read(rng.randrange(end), max_bytes)
        done += 1000
    return done / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, default=None, help="where to write (default: a temp dir in /tmp)")
    parser.add_argument("--append-mib", type=int, default=768)
    parser.add_argument("--log-gib", type=float, default=1.0)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="kwire-bench-", dir=args.dir))
    try:
        print(f"# data in {base} (device {os.stat(base).st_dev:#x}), python {sys.version.split()[0]}")
        for size, records in ((16 * 1024, 16), (MIB, 64)):
            batch = batch_of(size, records)
            log_rate, raw_rate = bench_append(base, batch, args.append_mib * MIB)
            print(f"append {len(batch) // 1024:>5} KiB batches: Log.append {log_rate:7.0f} MiB/s, "
                  f"os.write {raw_rate:7.0f} MiB/s, ratio {log_rate / raw_rate:.2f}")

        started = time.perf_counter()
        log = build_log(base, args.log_gib)
        size = log.size
        print(f"built a {size / MIB / 1024:.2f} GiB log of {log.log_end_offset} records in "
              f"{len(log.segments)} segments in {time.perf_counter() - started:.1f} s")
        print(f"offset lookups (read(offset, 1)): {bench_lookups(log, 1):,.0f} /s")
        print(f"reads of 1 MiB at random offsets: {bench_lookups(log, MIB):,.0f} /s")
        log.close_unclean()

        started = time.perf_counter()
        recovered = Log(base / "lookup-0", LogConfig(), recovery_point=0, clean_shutdown=False)
        elapsed = time.perf_counter() - started
        assert recovered.size == size and not recovered.load_report.truncations
        print(f"recovery (CRC of every batch, indexes rebuilt): {elapsed:.2f} s for {size / MIB / 1024:.2f} GiB "
              f"= {elapsed / (size / MIB / 1024):.2f} s/GiB")
        recovered.close()

        started = time.perf_counter()
        clean = Log(base / "lookup-0", LogConfig(), recovery_point=recovered.log_end_offset, clean_shutdown=True)
        print(f"open after clean shutdown: {(time.perf_counter() - started) * 1000:.1f} ms")
        clean.close()
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
