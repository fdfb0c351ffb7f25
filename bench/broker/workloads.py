"""Workloads and measurements shared by the broker benchmarks.

bench_broker.py (kwire alone, against its targets) and side_by_side.py
(kwire against Apache Kafka) drive brokers with the same functions, so
their numbers mean the same thing:

* `produce_run`: one confluent-kafka producer, `produce()` in a tight loop
  to one partition, timed from the first call to the end of `flush()`
  (every record acknowledged); delivery reports only for errors.
* `consume_run`: a topic read from offset 0 with `consume()` in batches
  (assign, no group), until every record is seen.
* `e2e_run`: a producer at a fixed rate (values carrying CLOCK_MONOTONIC)
  and a consumer in the same process; latency from before `produce()` to
  the consumer's return.
* `group_join_run`: a consumer subscribes with a new group id; time until
  its partitions are assigned (FindCoordinator, JoinGroup, SyncGroup).
* `startup_seconds`: from spawning the broker to its first Metadata answer
  that lists a broker, seen by a client polling in a thread.
* `cpu_seconds`, `proc_status`, `RssSampler`: the broker's CPU time and
  memory from /proc, by PID (kwire's Python process or Kafka's JVM alike).
"""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition  # noqa: E402

from kwire.testing import call  # noqa: E402
from kwire_protocol import messages  # noqa: E402
from kwire_protocol.errors import ProtocolError  # noqa: E402
from kwire_protocol.messages import ApiKey  # noqa: E402

MB = 1_000_000
TIMESTAMP = struct.Struct(">q")


# -- the broker process -------------------------------------------------------------


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM in bytes."""
    values = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) * 1024
    return values


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def process_dead(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] in "ZX"
    except FileNotFoundError:
        return True


class RssSampler:
    """The largest VmRSS of `pid` seen every 0.1 s while the `with` block runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, proc_status(self.pid)["VmRSS"])
            self._done.wait(0.1)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, proc_status(self.pid)["VmRSS"])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def metadata_answer(port: int) -> bool:
    """One Metadata v12 request on a new connection; True when answered with
    at least one broker (Kafka answers before its broker is registered, with
    none: not ready for clients yet)."""
    try:
        response = call(f"127.0.0.1:{port}", ApiKey.METADATA, 12, messages.MetadataRequest(topics=[], allow_auto_topic_creation=False),
                        client_id="bench", timeout=1.0)
    except (OSError, ValueError, ProtocolError):
        return False
    return bool(response.brokers)


def startup_seconds(start: Callable[[], Any], port: Callable[[], int | None], spawned: Callable[[], bool] = lambda: True,
                    timeout: float = 120.0) -> float | None:
    """Seconds from the broker process's spawn to its first Metadata answer
    (`metadata_answer`), seen by a client polling every 5 ms from a thread
    while `start()` runs (start() waits for the broker its own way).
    `spawned()` tells when the broker process exists: Kafka formats its
    storage with another JVM first, which is not the broker starting."""
    marks: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    failed = threading.Event()

    def poll() -> None:
        while not spawned() and time.monotonic() < deadline and not failed.is_set():
            time.sleep(0.001)
        marks["spawned"] = time.monotonic()
        while time.monotonic() < deadline and not failed.is_set():
            listening = port()
            if listening and metadata_answer(listening):
                marks["answered"] = time.monotonic()
                return
            time.sleep(0.005)

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        start()
    except BaseException:
        failed.set()
        raise
    finally:
        poller.join(max(0.0, deadline - time.monotonic()))
    if "answered" not in marks:
        return None
    return marks["answered"] - marks["spawned"]


# -- clients ------------------------------------------------------------------------


def produce_run(bootstrap: str, topic: str, count: int, size: int, pid: int, acks: int | str = 1) -> dict[str, float]:
    errors: list[Any] = []
    producer = Producer({"bootstrap.servers": bootstrap, "acks": acks, "delivery.report.only.error": True,
                         "on_delivery": lambda err, msg: errors.append(err) if err else None})
    producer.list_topics(topic, timeout=10)  # connected, metadata known: not part of the timing
    value = os.urandom(size)
    produce = producer.produce
    poll = producer.poll
    cpu0 = cpu_seconds(pid)
    started = time.perf_counter()
    for _ in range(count):
        try:
            produce(topic, value)
        except BufferError:  # queue.buffering.max.messages in flight: wait for acknowledgements
            while True:
                poll(0.001)
                try:
                    produce(topic, value)
                    break
                except BufferError:
                    if process_dead(pid):
                        raise RuntimeError("the broker exited") from None
    remaining = producer.flush(120)
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds(pid) - cpu0
    if remaining or errors:
        raise RuntimeError(f"produce to {topic}: {remaining} not delivered, {len(errors)} errors (first: {errors[:1]})")
    return {"records/s": count / elapsed, "MB/s": count * size / elapsed / MB, "seconds": elapsed, "broker cpu": cpu / elapsed,
            "broker us/record": cpu / count * 1e6}


def consume_run(bootstrap: str, topic: str, count: int, size: int, pid: int) -> dict[str, float]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench", "enable.auto.commit": False,
                         "enable.partition.eof": False})
    consumer.assign([TopicPartition(topic, 0, 0)])
    seen = 0
    cpu0 = cpu_seconds(pid)
    started = time.perf_counter()
    deadline = time.monotonic() + 300
    while seen < count and time.monotonic() < deadline:
        for message in consumer.consume(min(10_000, count - seen), 1.0):  # waits for n or the timeout
            if message.error():
                raise KafkaException(message.error())
            seen += 1
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds(pid) - cpu0
    consumer.close()
    if seen < count:
        raise RuntimeError(f"consume from {topic}: {seen} of {count} records in 300 s")
    return {"records/s": seen / elapsed, "MB/s": seen * size / elapsed / MB, "seconds": elapsed, "broker cpu": cpu / elapsed,
            "broker us/record": cpu / seen * 1e6}


def e2e_run(bootstrap: str, topic: str, rate: int, seconds: float, warmup: float, linger_ms: float | None) -> dict[str, float]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-e2e", "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, 0, 0)])
    latencies: list[float] = []
    total = int(rate * (seconds + warmup))
    skip = int(rate * warmup)
    done = threading.Event()

    def consume() -> None:
        seen = 0
        while seen < total and not done.is_set():
            # poll(), not consume(n, timeout): consume waits for n records or the timeout.
            message = consumer.poll(0.1)
            if message is not None and not message.error():
                now = time.monotonic_ns()
                seen += 1
                if seen > skip:
                    latencies.append((now - TIMESTAMP.unpack_from(message.value())[0]) / 1e6)

    reader = threading.Thread(target=consume)
    reader.start()
    producer = Producer({"bootstrap.servers": bootstrap, "acks": 1, **({} if linger_ms is None else {"linger.ms": linger_ms})})
    producer.list_topics(topic, timeout=10)
    time.sleep(0.5)  # the consumer has fetched once and is in a long poll
    padding = bytes(100 - TIMESTAMP.size)
    started = time.monotonic()
    for i in range(total):
        pause = started + i / rate - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        producer.produce(topic, TIMESTAMP.pack(time.monotonic_ns()) + padding)
        producer.poll(0)
    producer.flush(10)
    reader.join(10)
    done.set()
    reader.join()
    consumer.close()
    if len(latencies) < (total - skip) * 0.99:
        raise RuntimeError(f"e2e: {len(latencies)} of {total - skip} records seen")
    latencies.sort()
    return {
        "p50 ms": statistics.median(latencies),
        "p99 ms": latencies[int(len(latencies) * 0.99) - 1],
        "max ms": latencies[-1],
        "records": len(latencies),
    }


def group_join_run(bootstrap: str, topic: str, group: str, timeout: float = 60.0) -> float:
    """Seconds from `subscribe()` to the first assignment callback with
    partitions, for a consumer alone in a new group (librdkafka's classic
    protocol: FindCoordinator, JoinGroup twice (the first answers
    MEMBER_ID_REQUIRED), SyncGroup)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    assigned: list[float] = []
    try:
        # Connected and the broker known first: otherwise librdkafka's FindCoordinator
        # on the bootstrap connection is cut when that connection is replaced by the
        # broker's own, and its retry (tens of ms) would be most of the time measured.
        consumer.list_topics(topic, timeout=10)
        started = time.perf_counter()
        consumer.subscribe([topic], on_assign=lambda c, partitions: partitions and assigned.append(time.perf_counter()))
        deadline = time.monotonic() + timeout
        while not assigned and time.monotonic() < deadline:
            consumer.poll(0.01)  # the callback runs inside poll()
    finally:
        consumer.close()
    if not assigned:
        raise RuntimeError(f"group {group}: no assignment within {timeout:.0f} s")
    return assigned[0] - started


def raw_write_rate(directory: Path, total: int) -> float:
    """MB/s of plain 1 MiB pwrites of `total` bytes to a new file in `directory`
    (then deleted): the kernel's write path at this moment, for comparison."""
    block = os.urandom(1 << 20)
    path = directory / "bench-raw-write.bin"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        started = time.perf_counter()
        for position in range(0, total, len(block)):
            os.pwrite(fd, block, position)
        elapsed = time.perf_counter() - started
    finally:
        os.close(fd)
        path.unlink()
    return total / elapsed / MB


# -- profiling ----------------------------------------------------------------------


class Profiler:
    """py-spy (when installed) on a Python broker: DIR/<run>.txt, collapsed stacks."""

    def __init__(self, directory: Path | None, pid: int) -> None:
        self.directory = directory
        self.pid = pid
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, name: str) -> None:
        if self.directory is None:
            return
        if shutil.which("py-spy") is None:
            print("# py-spy not found: no profile", file=sys.stderr)
            self.directory = None
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            ["py-spy", "record", "--pid", str(self.pid), "--format", "raw", "--rate", "200", "--nonblocking",
             "-o", str(self.directory / f"{name}.txt")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)  # py-spy attaches

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(2)  # SIGINT: py-spy writes its output and exits
            self.process.wait(30)
            self.process = None
