"""kwire against Apache Kafka 4.4: the same workloads, the same client, one run.

    python3 bench/broker/side_by_side.py [--rounds 5] [--records-1k 300000] [--records-100 1000000]
                                         [--startups 3] [--json FILE] [--profile DIR]

Both brokers run on this machine at the same time, each on its own
temporary data directory, with the same broker settings (SHARED_CONFIG:
one-node values for the internal topics, no delay of a new group's first
rebalance, no topic auto-creation, deleted segments removed after 1 s):

* kwire: `kwire serve` (not --dev: the metadata journal is fsynced, as
  Kafka's KRaft log is) through kwire.testing.BrokerProcess.
* Kafka: compat_tests.reference_kafka.ReferenceKafka (KRaft combined mode,
  one node, 127.0.0.1) with kafka-server-start.sh's JVM settings
  (KAFKA_JVM: 1 GiB heap, G1).

The workloads are bench_broker.py's (workloads.py), run with confluent-kafka
and the same client settings against both: produce 1 KiB and 100 B records
with acks=1 and acks=all, consume the 1 KiB topic from offset 0, end-to-end
latency at a fixed rate (linger.ms=0 by default so the brokers' share is not
hidden under librdkafka's 5 ms), and the time a lone consumer takes to get
its assignment in a new group (--joins times per round: librdkafka's
own timers spread it from a few ms to about 100 ms against either
broker). Each workload runs on kwire, then on Kafka, then the next
workload; that is one round. A first round is not counted:
it warms both up (Kafka's JIT compiles the hot paths; both fill the page
cache). The table gives the median of --rounds rounds with the range, and
kwire/Kafka. Topics of a round are deleted after it, so that neither
broker's data has to be written back to disk while the other is measured.

Startup is measured on fresh processes, --startups times each (median):
from spawning the broker process to its first Metadata answer listing a
broker. Kafka's storage format (kafka-storage format, a JVM of its own that
must run once per data directory) comes before and is given apart. Memory:
VmRSS of each broker idle after start, the peak sampled every 0.1 s during
the measured throughput runs, and idle again at the end.

"broker cpu" is the broker process's CPU time (user+system, all threads)
per record: what the broker spends, whoever is the bottleneck. It is
steadier than the rates on a shared machine (time spent waiting for a core
is not counted). --profile DIR writes py-spy profiles of kwire's runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from confluent_kafka import libversion as rdkafka_version
from confluent_kafka.admin import AdminClient, NewTopic
from workloads import (MB, Profiler, RssSampler, consume_run, e2e_run, free_port, group_join_run, metadata_answer, proc_status,
                       produce_run, startup_seconds)

from compat_tests.reference_kafka import KAFKA_VERSION, ReferenceKafka
from kwire.testing import BrokerProcess

# Given to both brokers: one-node values for the internal topics, no delay of
# a new group's first rebalance, no topic auto-creation, and deleted segments
# removed after 1 s (so that they are not written back while the other broker
# is measured).
SHARED_CONFIG = {
    "auto.create.topics.enable": "false",
    "num.partitions": "1",
    "offsets.topic.replication.factor": "1",
    "offsets.topic.num.partitions": "1",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.num.partitions": "1",
    "group.initial.rebalance.delay.ms": "0",
    "log.segment.delete.delay.ms": "1000",
}
# kafka-server-start.sh's KAFKA_HEAP_OPTS and kafka-run-class.sh's KAFKA_JVM_PERFORMANCE_OPTS.
KAFKA_JVM = ["-Xms1g", "-Xmx1g", "-server", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:InitiatingHeapOccupancyPercent=35",
             "-XX:+ExplicitGCInvokesConcurrent", "-Djava.awt.headless=true"]


def kwire_broker(port: int | None = None) -> BrokerProcess:
    listener = {} if port is None else {"listeners": f"PLAINTEXT://127.0.0.1:{port}"}
    return BrokerProcess(overrides={**SHARED_CONFIG, **listener}, dev=False, admin=False)


def kafka_broker() -> ReferenceKafka:
    return ReferenceKafka(config=SHARED_CONFIG, log_level="WARN", jvm_options=KAFKA_JVM)


# -- startup --------------------------------------------------------------------------


def measure_startups(tries: int, samples: dict[str, list[float]]) -> None:
    for _ in range(tries):
        port = free_port()
        kwire = kwire_broker(port)
        try:
            seconds = startup_seconds(kwire.start, lambda: port, timeout=30)
        finally:
            kwire.close()
        if seconds is not None:
            samples["startup|kwire"].append(seconds)
        kafka = kafka_broker()
        began = time.monotonic()
        spawned: list[float] = []

        def kafka_spawned(kafka: ReferenceKafka = kafka) -> bool:
            if kafka.process is not None and not spawned:
                spawned.append(time.monotonic())
            return bool(spawned)

        try:
            seconds = startup_seconds(kafka.start, lambda: kafka.port, kafka_spawned)
        finally:
            kafka.stop()
        if seconds is not None and spawned:
            samples["startup|kafka"].append(seconds)
            samples["storage format|kafka"].append(spawned[0] - began)


# -- the rounds -------------------------------------------------------------------------


class Target:
    """A running broker under test: its bootstrap address, PID and admin client."""

    def __init__(self, name: str, bootstrap: str, pid: int) -> None:
        self.name = name
        self.bootstrap = bootstrap
        self.pid = pid
        self.admin = AdminClient({"bootstrap.servers": bootstrap})

    def create_topic(self, name: str) -> str:
        self.admin.create_topics([NewTopic(name, 1, 1)])[name].result(30)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # Kafka elects the leader just after answering CreateTopics
            topic = self.admin.list_topics(name, timeout=10).topics.get(name)
            if topic is not None and topic.error is None and all(p.leader >= 0 for p in topic.partitions.values()):
                return name
            time.sleep(0.05)
        raise RuntimeError(f"{self.name}: topic {name} has no leader after 30 s")

    def close(self) -> None:
        del self.admin  # librdkafka destroys its handle with the last reference

    def delete_topics(self, names: list[str]) -> None:
        for future in self.admin.delete_topics(names).values():
            future.result(30)


@contextmanager
def running_brokers() -> Iterator[dict[str, Target]]:
    with ExitStack() as stack:
        kwire = stack.enter_context(kwire_broker())
        kafka = stack.enter_context(kafka_broker())
        assert kafka.pid is not None
        targets = {"kwire": Target("kwire", kwire.bootstrap_servers, kwire.pid),
                   "kafka": Target("kafka", kafka.bootstrap_servers, kafka.pid)}
        # The admin clients go before the brokers stop, or librdkafka logs their lost connections.
        stack.callback(lambda: [target.close() for target in targets.values()])
        yield targets


def rss_mb(target: Target) -> float:
    return proc_status(target.pid)["VmRSS"] / MB


@contextmanager
def profiled(target: Target, name: str, directory: Path | None) -> Iterator[None]:
    """py-spy on kwire (a Python process) during the block, with --profile."""
    profiler = Profiler(directory if target.name == "kwire" else None, target.pid)
    profiler.start(name)
    try:
        yield
    finally:
        profiler.stop()


def one_round(targets: dict[str, Target], tag: str, args: argparse.Namespace, samples: dict[str, list[float]] | None,
              log: Callable[[str], None]) -> None:
    """Every workload, each on kwire then on Kafka; `samples` None: a warm-up round."""
    def record(metric: str, broker: str, value: float) -> None:
        if samples is not None:
            samples[f"{metric}|{broker}"].append(value)

    topics: dict[str, list[str]] = {name: [] for name in targets}

    def new_topic(target: Target, kind: str) -> str:
        topics[target.name].append(target.create_topic(f"bench-{kind}-{tag}"))
        return topics[target.name][-1]

    one_k: dict[str, str] = {}
    for size, count in ((1024, args.records_1k), (100, args.records_100)):
        for acks in ("1", "all"):
            metric = f"produce {'1 KiB' if size == 1024 else '100 B'} acks={acks}"
            for target in targets.values():
                topic = new_topic(target, f"{size}-{acks}")
                with RssSampler(target.pid) as rss, profiled(target, f"{tag}-produce-{size}-acks-{acks}", args.profile):
                    result = produce_run(target.bootstrap, topic, count, size, target.pid, acks=acks)
                if size == 1024 and acks == "1":
                    one_k[target.name] = topic
                record(metric, target.name, result["records/s"])
                record(f"{metric} cpu", target.name, result["broker us/record"])
                record("rss under load", target.name, rss.peak / MB)
                log(f"   {tag} {metric} {target.name}: {result['records/s']:,.0f} rec/s, broker cpu {result['broker cpu']:.2f}")
    for target in targets.values():
        with RssSampler(target.pid) as rss, profiled(target, f"{tag}-consume-1024", args.profile):
            result = consume_run(target.bootstrap, one_k[target.name], args.records_1k, 1024, target.pid)
        record("consume 1 KiB", target.name, result["records/s"])
        record("consume 1 KiB cpu", target.name, result["broker us/record"])
        record("rss under load", target.name, rss.peak / MB)
        log(f"   {tag} consume 1 KiB {target.name}: {result['records/s']:,.0f} rec/s, broker cpu {result['broker cpu']:.2f}")
    for target in targets.values():
        result = e2e_run(target.bootstrap, new_topic(target, "e2e"), args.e2e_rate, args.e2e_seconds, 1.0, args.e2e_linger_ms)
        record("e2e p50", target.name, result["p50 ms"])
        record("e2e p99", target.name, result["p99 ms"])
        log(f"   {tag} e2e {target.name}: p50 {result['p50 ms']:.2f} ms, p99 {result['p99 ms']:.2f} ms")
    for join in range(args.joins):
        for target in targets.values():
            seconds = group_join_run(target.bootstrap, topics[target.name][-1], f"bench-join-{tag}-{join}")
            record("group join", target.name, seconds * 1000)
            log(f"   {tag} group join {target.name}: {seconds * 1000:.1f} ms")
    for target in targets.values():
        target.delete_topics(topics[target.name])


# -- the table --------------------------------------------------------------------------

# metric -> (unit, format, higher is better)
ROWS: dict[str, tuple[str, str, bool]] = {
    "startup": ("s", "{:.2f}", False),
    "storage format": ("s", "{:.2f}", False),
    "rss idle after start": ("MB", "{:.0f}", False),
    "produce 1 KiB acks=1": ("rec/s", "{:,.0f}", True),
    "produce 1 KiB acks=all": ("rec/s", "{:,.0f}", True),
    "produce 100 B acks=1": ("rec/s", "{:,.0f}", True),
    "produce 100 B acks=all": ("rec/s", "{:,.0f}", True),
    "consume 1 KiB": ("rec/s", "{:,.0f}", True),
    "produce 1 KiB acks=1 cpu": ("us/record", "{:.2f}", False),
    "produce 1 KiB acks=all cpu": ("us/record", "{:.2f}", False),
    "produce 100 B acks=1 cpu": ("us/record", "{:.2f}", False),
    "produce 100 B acks=all cpu": ("us/record", "{:.2f}", False),
    "consume 1 KiB cpu": ("us/record", "{:.2f}", False),
    "e2e p50": ("ms", "{:.2f}", False),
    "e2e p99": ("ms", "{:.2f}", False),
    "group join": ("ms", "{:.1f}", False),
    "rss under load": ("MB", "{:.0f}", False),
    "rss idle at the end": ("MB", "{:.0f}", False),
}


def cell(values: list[float], form: str) -> str:
    if not values:
        return "-"
    text = form.format(statistics.median(values))
    if len(values) > 1:
        text += f" ({form.format(min(values))}-{form.format(max(values))})"
    return text


def table(samples: dict[str, list[float]]) -> list[str]:
    lines = ["| metric | kwire | Kafka | kwire/Kafka |", "|---|---|---|---|"]
    for metric, (unit, form, higher_better) in ROWS.items():
        kwire, kafka = samples.get(f"{metric}|kwire", []), samples.get(f"{metric}|kafka", [])
        if not kwire and not kafka:
            continue
        ratio = ""
        if kwire and kafka and statistics.median(kafka):
            value = statistics.median(kwire) / statistics.median(kafka)
            ratio = f"{value:.2f}" + (" (higher is better)" if higher_better else "")
        label = metric if metric != "rss under load" else "rss under load (peak)"
        lines.append(f"| {label}, {unit} | {cell(kwire, form)} | {cell(kafka, form)} | {ratio} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds after the warm-up round (median)")
    parser.add_argument("--records-1k", type=int, default=300_000, help="records of 1 KiB per produce run, then consumed")
    parser.add_argument("--records-100", type=int, default=1_000_000, help="records of 100 B per produce run")
    parser.add_argument("--e2e-rate", type=int, default=1000, help="records/s for the latency run")
    parser.add_argument("--e2e-seconds", type=float, default=5.0)
    parser.add_argument("--e2e-linger-ms", type=float, default=0.0, help="producer linger.ms of the latency run (librdkafka's default is 5)")
    parser.add_argument("--joins", type=int, default=5, help="group joins per broker and round (librdkafka's timers make them bimodal)")
    parser.add_argument("--startups", type=int, default=3, help="fresh processes of each broker for the startup time (median)")
    parser.add_argument("--json", type=Path, default=None, help="write every sample here")
    parser.add_argument("--profile", type=Path, default=None,
                        help="py-spy raw profiles of kwire's produce and consume runs into this directory (slows kwire: not for the table)")
    args = parser.parse_args()
    load_at_start = os.getloadavg()
    began = time.monotonic()

    def log(line: str) -> None:
        print(f"[{time.monotonic() - began:6.1f}s] {line}", file=sys.stderr, flush=True)

    samples: dict[str, list[float]] = defaultdict(list)
    log("startup")
    measure_startups(args.startups, samples)
    with running_brokers() as targets:
        for target in targets.values():
            if not metadata_answer(int(target.bootstrap.rpartition(":")[2])):
                raise RuntimeError(f"{target.name} does not answer Metadata")
        time.sleep(1.0)
        for target in targets.values():
            samples[f"rss idle after start|{target.name}"].append(rss_mb(target))
        log("warm-up round (not counted)")
        one_round(targets, "warmup", args, None, log)
        for number in range(1, args.rounds + 1):
            log(f"round {number} of {args.rounds}")
            one_round(targets, f"r{number}", args, samples, log)
        time.sleep(2.0)
        for target in targets.values():
            samples[f"rss idle at the end|{target.name}"].append(rss_mb(target))

    load = os.getloadavg()
    print(f"# kwire vs Apache Kafka {KAFKA_VERSION}: python {platform.python_version()}, java {java_version()}, librdkafka "
          f"{rdkafka_version()[0]}, {os.cpu_count()} cores; load average {load_at_start[0]:.2f} {load_at_start[1]:.2f} "
          f"{load_at_start[2]:.2f} at the start, {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the end (1, 5, 15 min); "
          f"{time.monotonic() - began:.0f} s")
    print(f"# {' '.join(sys.argv)}")
    print(f"# median of {args.rounds} rounds (min-max); startup: median of {args.startups}")
    print()
    print("\n".join(table(samples)))
    if args.json is not None:
        args.json.write_text(json.dumps({"argv": sys.argv, "samples": samples}, indent=1) + "\n")


def java_version() -> str:
    result = subprocess.run(["java", "-version"], capture_output=True, text=True, timeout=30)
    first = (result.stderr or result.stdout).splitlines()[:1]
    return first[0].split('"')[1] if first and '"' in first[0] else "?"


if __name__ == "__main__":
    main()
