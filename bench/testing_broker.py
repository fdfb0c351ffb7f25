"""What a test suite pays for a broker: kwire in-process, kwire as a process, Apache Kafka.

1. In-process `kwire.testing.Broker`: start() until it answers, then stop()
   (the first run also loads the handler modules; reported apart).
2. `kwire serve --dev` as a child process: time from exec to the first
   Metadata answer on its port, and its resident memory (VmRSS) after one
   second idle.
3. The same for the reference Apache Kafka 4.4 (compat_tests.reference_kafka,
   one KRaft node; its time includes `kafka-storage format`, which a Kafka
   container also runs at start), when Java and Maven are present.

Run: python bench/testing_broker.py [--runs 10] [--no-reference]
Numbers go to docs/testing.md.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kwire_protocol import messages
from kwire_protocol.messages import ApiKey


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def metadata_answers(port: int) -> bool:
    """One Metadata v12 request on a new connection; True when answered."""
    # Imported here, not at the top: bench_in_process times the first import of kwire.testing.
    from kwire.testing import call

    try:
        call(f"127.0.0.1:{port}", ApiKey.METADATA, 12, messages.MetadataRequest(topics=[]), client_id="bench", timeout=2)
        return True
    except OSError:
        return False


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def summary(values: list[float], unit: str, scale: float = 1.0) -> str:
    v = [x * scale for x in values]
    return f"median {statistics.median(v):.1f} {unit} (min {min(v):.1f}, max {max(v):.1f}, n={len(v)})"


def bench_in_process(runs: int) -> None:
    started = time.perf_counter()
    from kwire.testing import Broker

    print(f"import kwire.testing: {(time.perf_counter() - started) * 1000:.1f} ms")
    starts, stops, firsts = [], [], []
    for i in range(runs + 1):
        t0 = time.perf_counter()
        broker = Broker().start()
        t1 = time.perf_counter()
        assert metadata_answers(broker.port)
        t2 = time.perf_counter()
        broker.stop()
        t3 = time.perf_counter()
        if i == 0:
            firsts = [t1 - t0, t3 - t2]
            continue
        starts.append(t1 - t0)
        stops.append(t3 - t2)
    print(f"in-process first start (loads handlers): {firsts[0] * 1000:.1f} ms, stop {firsts[1] * 1000:.1f} ms")
    print(f"in-process start: {summary(starts, 'ms', 1000)}")
    print(f"in-process stop:  {summary(stops, 'ms', 1000)}")
    print(f"in-process start+stop: {summary([a + b for a, b in zip(starts, stops)], 'ms', 1000)}")


def bench_subprocess(runs: int) -> None:
    firsts, rss = [], []
    for _ in range(runs):
        port = free_port()
        with tempfile.TemporaryDirectory(prefix="kwire-bench-") as data:
            t0 = time.perf_counter()
            process = subprocess.Popen(
                [sys.executable, "-m", "kwire", "serve", "--dev", "--override", f"listeners=PLAINTEXT://127.0.0.1:{port}", "--override", f"log.dirs={data}"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
            )
            try:
                deadline = t0 + 30
                while not metadata_answers(port):
                    if time.perf_counter() > deadline or process.poll() is not None:
                        raise RuntimeError("kwire serve did not answer")
                    time.sleep(0.002)
                firsts.append(time.perf_counter() - t0)
                time.sleep(1.0)
                rss.append(rss_mb(process.pid))
            finally:
                os.kill(process.pid, signal.SIGTERM)
                process.wait(20)
    print(f"kwire serve --dev, exec to first Metadata answer: {summary(firsts, 'ms', 1000)}")
    print(f"kwire serve --dev, idle RSS: {summary(rss, 'MB')}")


def bench_reference(runs: int) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for compat_tests
    from compat_tests.reference_kafka import ReferenceKafka, missing_prerequisites

    missing = missing_prerequisites()
    if missing:
        print(f"reference Apache Kafka: skipped ({missing})")
        return
    firsts, rss = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        kafka = ReferenceKafka().start()
        try:
            port = int(kafka.bootstrap_servers.rpartition(":")[2])
            while not metadata_answers(port):
                time.sleep(0.005)
            firsts.append(time.perf_counter() - t0)
            time.sleep(1.0)
            assert kafka.pid is not None
            rss.append(rss_mb(kafka.pid))
        finally:
            kafka.stop()
    print(f"Apache Kafka 4.4 (format + start) to first Metadata answer: {summary(firsts, 's')}")
    print(f"Apache Kafka 4.4 idle RSS: {summary(rss, 'MB')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--no-reference", action="store_true")
    parser.add_argument("--only-reference", action="store_true")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus")
    if not args.only_reference:
        bench_in_process(args.runs)
        bench_subprocess(max(3, args.runs // 2))
    if not args.no_reference:
        bench_reference(3)


if __name__ == "__main__":
    main()
