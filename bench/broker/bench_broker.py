"""Broker benchmark: a running `kwire serve` driven by confluent-kafka (librdkafka).

    python3 bench/broker/bench_broker.py [--records-1k 1000000] [--records-100 2000000]
                                         [--e2e-seconds 10] [--only produce-1k,...] [--profile DIR]

Starts its own broker (kwire.testing.BrokerProcess, `kwire serve --dev`, a
temporary data directory, stopped by PID at the end), on the same machine
as the client, with librdkafka's defaults except where said:

* startup: from spawning the process to the first Metadata answer (a
  client connecting in a loop), best of --startups fresh processes.
* rss idle: VmRSS of the broker after start and one Metadata request.
* produce 1 KiB / 100 B: acks=1, one producer, one topic of one partition,
  `produce()` in a tight loop, timed from the first call to the end of
  `flush()` (every record acknowledged). Delivery reports only for errors.
* consume 1 KiB: the 1 KiB topic read from offset 0 with `consume()` in
  batches (assign, no group commits), until every record is seen.
* e2e: a producer at a fixed rate (--e2e-rate records/s, 100 B values
  carrying CLOCK_MONOTONIC) and a consumer in the same process: latency
  from before `produce()` to the consumer's return, p50/p99/max, after
  --e2e-warmup seconds. librdkafka's default linger.ms (5 ms) is most of
  it; --e2e-linger-ms 0 shows the rest.
* after each produce run, plain 1 MiB pwrites of as many bytes to a new
  file in the data directory (then deleted): the kernel's write speed at
  that moment. On VMs the first write into never-used guest memory is
  ~10x slower than into recycled page cache (measured: 470 vs 4700 MB/s
  for 2 GiB), so the first large run after boot is slower than later ones.
* rss after produce / peak: VmRSS and VmHWM of the broker after the
  produce runs.

"broker cpu" is the broker process's user+system CPU time during a run
divided by its wall time (1.00 = one core busy): near 1.00 the broker is
the bottleneck (it runs one event loop thread), well below it the client is.
The same CPU time per record ("us/record") is what the broker would need
with a faster client.

--profile DIR runs py-spy (when installed) on the broker for each
throughput run and writes DIR/<run>.txt (collapsed stacks) for reading as
text; profiling slows the broker, so numbers from such a run are not
the benchmark's.

The workloads and measurements are in workloads.py, shared with
side_by_side.py (kwire against Apache Kafka). The output is one table,
meant to be pasted into docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

from confluent_kafka import libversion as rdkafka_version
from workloads import (MB, Profiler, consume_run, e2e_run, free_port, metadata_answer, produce_run, proc_status, raw_write_rate,
                       startup_seconds)

from kwire.testing import BrokerProcess

TARGETS = {
    "startup": ("< 0.3 s", lambda v: v < 0.3),
    "rss idle": ("< 40 MB", lambda v: v < 40),
    "produce 1 KiB acks=1": (">= 250k rec/s", lambda v: v >= 250_000),
    "produce 100 B acks=1": (">= 1M rec/s", lambda v: v >= 1_000_000),
    "consume 1 KiB": (">= 500k rec/s", lambda v: v >= 500_000),
    "e2e p99": ("< 10 ms", lambda v: v < 10),
}


def measure_startup(tries: int) -> float:
    """Best of `tries`: spawn `kwire serve --dev` on a chosen port, then
    Metadata requests in a loop until one is answered."""
    best = float("inf")
    for _ in range(tries):
        port = free_port()
        broker = BrokerProcess(overrides={"listeners": f"PLAINTEXT://127.0.0.1:{port}"}, admin=False)
        try:
            seconds = startup_seconds(broker.start, lambda: port, timeout=30)
            if seconds is not None:
                best = min(best, seconds)
        finally:
            broker.close()
    return best


# -- main -----------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records-1k", type=int, default=1_000_000, help="records of 1 KiB produced, then consumed")
    parser.add_argument("--records-100", type=int, default=2_000_000, help="records of 100 B produced")
    parser.add_argument("--e2e-rate", type=int, default=1000, help="records/s for the latency run")
    parser.add_argument("--e2e-seconds", type=float, default=10.0)
    parser.add_argument("--e2e-warmup", type=float, default=1.0)
    parser.add_argument("--e2e-linger-ms", type=float, default=None,
                        help="producer linger.ms for the latency run (default: librdkafka's, 5 ms, which dominates the latency)")
    parser.add_argument("--startups", type=int, default=5, help="fresh processes for the startup time (best of)")
    parser.add_argument("--only", default="startup,produce-1k,produce-100,consume-1k,e2e",
                        help="comma-separated subset of: startup,produce-1k,produce-100,consume-1k,e2e")
    parser.add_argument("--profile", type=Path, default=None, help="write py-spy raw profiles of each run here")
    args = parser.parse_args()
    runs = set(args.only.split(","))
    load_at_start = os.getloadavg()

    rows: list[tuple[str, str, str, float | None]] = []  # (metric, value text, detail, value for the target)
    if "startup" in runs:
        startup = measure_startup(args.startups)
        rows.append(("startup", f"{startup:.3f} s", f"best of {args.startups}, spawn to first Metadata answer", startup))

    broker = BrokerProcess(admin=False)
    try:
        broker.start()
        pid = broker.pid
        metadata_answer(broker.port or 0)
        time.sleep(0.5)
        idle = proc_status(pid)["VmRSS"] / MB
        rows.append(("rss idle", f"{idle:.1f} MB", "VmRSS after start and one Metadata request", idle))
        bootstrap = broker.bootstrap_servers
        profiler = Profiler(args.profile, pid)
        for name, topic, count, size in (("produce-1k", "bench-1k", args.records_1k, 1024),
                                         ("produce-100", "bench-100", args.records_100, 100)):
            if name not in runs and not (name == "produce-1k" and "consume-1k" in runs):
                continue
            broker.create_topic(topic, 1, exist_ok=True)
            profiler.start(name)
            result = produce_run(bootstrap, topic, count, size, pid)
            profiler.stop()
            raw = raw_write_rate(broker.data_dir, count * size)
            label = f"produce {'1 KiB' if size == 1024 else '100 B'} acks=1"
            rows.append((label, f"{result['records/s']:,.0f} rec/s", f"{result['MB/s']:.0f} MB/s, {count:,} records in "
                         f"{result['seconds']:.1f} s, broker cpu {result['broker cpu']:.2f} ({result['broker us/record']:.2f} us/record); "
                         f"plain pwrite of as many bytes right after: {raw:.0f} MB/s", result["records/s"]))
        status = proc_status(pid)
        if any(row[0].startswith("produce") for row in rows):
            rows.append(("rss after produce", f"{status['VmRSS'] / MB:.1f} MB", f"peak (VmHWM) {status['VmHWM'] / MB:.1f} MB", None))
        if "consume-1k" in runs:
            profiler.start("consume-1k")
            result = consume_run(bootstrap, "bench-1k", args.records_1k, 1024, pid)
            profiler.stop()
            rows.append(("consume 1 KiB", f"{result['records/s']:,.0f} rec/s", f"{result['MB/s']:.0f} MB/s, {args.records_1k:,} records in "
                         f"{result['seconds']:.1f} s, broker cpu {result['broker cpu']:.2f} ({result['broker us/record']:.2f} us/record)", result["records/s"]))
        if "e2e" in runs:
            broker.create_topic("bench-e2e", 1, exist_ok=True)
            result = e2e_run(bootstrap, "bench-e2e", args.e2e_rate, args.e2e_seconds, args.e2e_warmup, args.e2e_linger_ms)
            linger = "librdkafka's default linger.ms" if args.e2e_linger_ms is None else f"linger.ms={args.e2e_linger_ms:g}"
            rows.append(("e2e p50", f"{result['p50 ms']:.2f} ms", f"{args.e2e_rate} rec/s for {args.e2e_seconds:.0f} s, {linger}", None))
            rows.append(("e2e p99", f"{result['p99 ms']:.2f} ms", f"max {result['max ms']:.2f} ms over {result['records']:,.0f} records", result["p99 ms"]))
        broker.stop()
    except BaseException:
        print("".join(broker.output[-30:]), file=sys.stderr)
        raise
    finally:
        broker.close()

    load = os.getloadavg()
    print(f"# kwire broker benchmark: python {platform.python_version()}, librdkafka {rdkafka_version()[0]}, {os.cpu_count()} cores, "
          f"load average {load_at_start[0]:.2f} {load_at_start[1]:.2f} {load_at_start[2]:.2f} at the start, "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the end (1, 5, 15 min)")
    print(f"# {' '.join(sys.argv)}")
    print()
    print("| metric | value | target | met | detail |")
    print("|---|---|---|---|---|")
    for metric, text, detail, value in rows:
        target, check = TARGETS.get(metric, ("", None))
        met = "" if check is None or value is None else ("yes" if check(value) else "no")
        print(f"| {metric} | {text} | {target} | {met} | {detail} |")


if __name__ == "__main__":
    main()
