"""The adapter interface and the error normalisation shared by adapters."""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

from kwire_protocol.error_codes import ErrorCode

# Java exception class -> Kafka error name (org.apache.kafka.common.protocol.Errors).
JAVA_EXCEPTIONS = {
    "RecordTooLargeException": "MESSAGE_TOO_LARGE",
    "InvalidTopicException": "INVALID_TOPIC_EXCEPTION",
    "UnknownTopicOrPartitionException": "UNKNOWN_TOPIC_OR_PARTITION",
    "TopicExistsException": "TOPIC_ALREADY_EXISTS",
    "InvalidPartitionsException": "INVALID_PARTITIONS",
    "InvalidReplicationFactorException": "INVALID_REPLICATION_FACTOR",
    "InvalidConfigurationException": "INVALID_CONFIG",
    "UnknownTopicIdException": "UNKNOWN_TOPIC_ID",
    "TimeoutException": "REQUEST_TIMED_OUT",
    "OffsetOutOfRangeException": "OFFSET_OUT_OF_RANGE",
    "NoOffsetForPartitionException": "NO_OFFSET_FOR_PARTITION",
    "GroupIdNotFoundException": "GROUP_ID_NOT_FOUND",
    "GroupNotEmptyException": "NON_EMPTY_GROUP",
    "ProducerFencedException": "PRODUCER_FENCED",
    "InvalidProducerEpochException": "INVALID_PRODUCER_EPOCH",
}
# Client-side errors without a Kafka code, by exception class name, under one name for every client.
CLIENT_ERRORS = {"NoOffsetForPartitionError": "NO_OFFSET_FOR_PARTITION", **JAVA_EXCEPTIONS,
                 "ProducerFenced": "PRODUCER_FENCED"}  # aiokafka's, without an errno


class Unsupported(Exception):
    """The client cannot express this operation (reported as n/a)."""


class ClientError(Exception):
    """An operation failed with a Kafka error (`name`), as the client reported it."""

    def __init__(self, name: str, detail: str = "") -> None:
        super().__init__(f"{name}: {detail}" if detail else name)
        self.name = name


def error_name(exc: BaseException) -> str:
    """Kafka's name for the error a client raised (its class name when it has no code)."""
    if isinstance(exc, ClientError):
        return exc.name
    errno = getattr(exc, "errno", None)  # kafka-python and aiokafka errors
    if isinstance(errno, int) and errno > 0:
        return _code_name(errno)
    if exc.args and hasattr(exc.args[0], "code"):  # confluent_kafka.KafkaException(KafkaError)
        return confluent_error_name(exc.args[0])
    return CLIENT_ERRORS.get(type(exc).__name__, type(exc).__name__)


def confluent_error_name(error: Any) -> str:
    code = error.code()
    # librdkafka's broker errors share Kafka's codes; local ones are negative.
    return _code_name(code) if code > 0 else error.name()


def _code_name(code: int) -> str:
    try:
        return ErrorCode(code).name
    except ValueError:
        return f"ERROR_{code}"


def text(data: bytes | None) -> str | None:
    if data is None:
        return None
    try:
        return data.decode()
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(data).decode()


def data(value: str | None) -> bytes | None:
    return None if value is None else value.encode()


class Adapter:
    """One client bound to one bootstrap address. Records to produce are dicts with
    key, value, headers ([name, value] pairs), timestamp and partition (each optional);
    consumed records are dicts with partition, offset, key, value, headers, timestamp,
    timestamp_type ("CreateTime" / "LogAppendTime")."""

    name = "?"
    sees_timestamp_type = True  # False: the client's records do not say CreateTime / LogAppendTime (None)

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap

    def cluster(self) -> dict[str, Any]:
        """{"cluster_id", "controller", "brokers": [[id, host, port], ...]}."""
        raise Unsupported(f"{self.name}: cluster metadata")

    def list_topics(self) -> list[str]:
        raise Unsupported(f"{self.name}: list topics")

    def create_topics(self, specs: list[dict[str, Any]]) -> dict[str, str | None]:
        """{name: error name or None} for specs {name, partitions, configs}."""
        raise Unsupported(f"{self.name}: create topics")

    def describe_topics(self, names: list[str]) -> dict[str, Any]:
        """{name: {"id", "partitions": [{partition, leader, replicas, isr}]} or {"error": name}}."""
        raise Unsupported(f"{self.name}: describe topics")

    def delete_topics(self, names: list[str]) -> dict[str, str | None]:
        raise Unsupported(f"{self.name}: delete topics")

    def produce(self, topic: str, records: list[dict[str, Any]], *, compression: str = "none",
                config: dict[str, Any] | None = None, transactional: bool = False) -> list[dict[str, Any]]:
        """[{partition, offset, timestamp}] per record; raises ClientError."""
        raise Unsupported(f"{self.name}: produce")

    def consume(self, topic: str, partition: int, offset: int | str, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        raise Unsupported(f"{self.name}: consume")

    def offsets(self, topic: str, partitions: list[int], times: list[int]) -> dict[str, Any]:
        """{"beginning": {p: o}, "end": {p: o}, "for_times": {t: {p: [offset, timestamp] | None}}} (keys as str)."""
        raise Unsupported(f"{self.name}: list offsets")

    def producer_config(self, *, acks: str | None = None, max_request_bytes: int | None = None,
                        retries: int | None = None) -> dict[str, Any]:
        """This client's producer configuration for produce(config=...) from generic settings:
        acks ("0", "1" or "all"), the largest request (and record) the producer lets through,
        and how often it retries a failed send."""
        raise Unsupported(f"{self.name}: producer settings")

    def consume_from(self, topic: str, partition: int, start: int | None, count: int, *, reset: str = "none",
                     max_wait_ms: int = 100, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Like consume, with the consumer's auto.offset.reset (earliest, latest or none) and
        fetch.max.wait.ms. `start` is an offset to seek to (one out of range is reset by the
        policy) or None: the committed offset of a group that has none, so the policy decides.
        Raises ClientError OFFSET_OUT_OF_RANGE (out of range, policy none) or
        NO_OFFSET_FOR_PARTITION (nothing committed, policy none: a client-side error)."""
        raise Unsupported(f"{self.name}: consume with a reset policy")

    def create_partitions(self, topic: str, count: int) -> str | None:
        """Grow `topic` to `count` partitions: None or the error name."""
        raise Unsupported(f"{self.name}: create partitions")

    def describe_configs(self, topic: str) -> dict[str, dict[str, Any]]:
        """{name: {"value", "source", "read_only", "sensitive"}} for every config the broker lists for
        `topic`; source is Kafka's name (DYNAMIC_TOPIC_CONFIG, DEFAULT_CONFIG, ...). Raises ClientError."""
        raise Unsupported(f"{self.name}: describe configs")

    def alter_configs(self, topic: str, set: dict[str, str], delete: list[str] | None = None, *,
                      incremental: bool = True) -> None:
        """IncrementalAlterConfigs (SET `set`, DELETE `delete`) or, with incremental=False, the
        legacy AlterConfigs, which replaces all of the topic's overrides with `set`. Raises ClientError."""
        raise Unsupported(f"{self.name}: {'incremental' if incremental else 'legacy'} alter configs")

    # -- consumer groups (scenarios/groups.py) ------------------------------------
    # protocol: "classic" (JoinGroup/SyncGroup, the client's assignor) or "consumer" (KIP-848,
    # the broker assigns; assignor "uniform" or "range"). assignor None: the client's default.

    def group_consume(self, topic: str, group: str, count: int, *, protocol: str = "classic", assignor: str | None = None,
                      assigned: int | None = None, timeout: float = 30.0) -> dict[str, Any]:
        """One member subscribes to `topic` in `group` (no commit: from the earliest), polls until
        `count` records (and `assigned` partitions when given) or the timeout, commits the offsets
        after the records it took, leaves. {"assigned": [p], "records": [{partition, offset, value}],
        "committed": {p: offset}} (the group's committed offsets of its partitions, keys as str)."""
        raise Unsupported(f"{self.name}: group consume")

    def group_rebalance(self, topic: str, group: str, partitions: int, *, protocol: str = "classic",
                        assignor: str | None = None, timeout: float = 60.0) -> dict[str, Any]:
        """Member a joins alone and waits until it owns all `partitions`; member b joins; both wait
        until they split the partitions. {"first": a's first assignment, "a", "b": the final ones,
        "a_revoked", "a_lost": what a gave up on the way (sorted partitions)}."""
        raise Unsupported(f"{self.name}: group rebalance")

    def describe_groups(self, groups: list[str], *, protocol: str = "classic") -> dict[str, Any]:
        """{group: {"state", "members": [{"client_id", "assigned": [[topic, p]]}], ...} or {"error": name}}:
        DescribeGroups for classic groups, ConsumerGroupDescribe for protocol "consumer"."""
        raise Unsupported(f"{self.name}: describe groups")

    def list_groups(self) -> dict[str, dict[str, Any]]:
        """{group: {"state", "group_type", "protocol_type"}} (ListGroups)."""
        raise Unsupported(f"{self.name}: list groups")

    def delete_groups(self, groups: list[str]) -> dict[str, str | None]:
        raise Unsupported(f"{self.name}: delete groups")

    def group_offsets(self, group: str, topic: str) -> dict[str, Any]:
        """{"committed": {p: offset}, "lag": {p: end offset - committed}} for `topic` (keys as str)."""
        raise Unsupported(f"{self.name}: group offsets and lag")

    def group_member(self, topic: str, group: str, *, session_timeout_ms: int = 6000,
                     instance_id: str | None = None) -> MemberProcess:
        """A member of `group` (classic protocol, the client's default assignor) subscribed to `topic`,
        running in a child process of its own (see MemberProcess), so that it can be killed."""
        raise Unsupported(f"{self.name}: a group member in a child process")

    # -- transactions (scenarios/transactions.py) ----------------------------------

    def produce_transaction(self, topic: str, records: list[dict[str, Any]], *, transactional_id: str,
                            commit: bool) -> list[dict[str, Any]]:
        """Produce `records` in one transaction of `transactional_id`, then commit or abort it."""
        raise Unsupported(f"{self.name}: transactional producer")

    def consume_isolated(self, topic: str, partition: int, offset: int, count: int, *, isolation: str,
                         timeout: float = 10.0) -> list[dict[str, Any]]:
        """Like consume, with isolation.level "read_committed" or "read_uncommitted"."""
        raise Unsupported(f"{self.name}: consume with an isolation level")

    def transform(self, source: str, target: str, group: str, count: int, *, transactional_id: str, commit: bool,
                  timeout: float = 30.0) -> dict[str, Any]:
        """Consume-transform-produce: `count` records of `source` read_committed in `group`, copied to the
        same partition of `target` in one transaction that also commits the group's offsets
        (TxnOffsetCommit), committed or aborted. {"records": [{partition, offset, value}], "committed": bool}."""
        raise Unsupported(f"{self.name}: consume-transform-produce")

    # -- idempotence, fencing, crashes (scenarios/transactions.py) -----------------

    def idempotent_config(self) -> dict[str, Any]:
        """This client's producer configuration for produce(config=...) with idempotence on
        (acks all) and the client's default retries."""
        raise Unsupported(f"{self.name}: idempotent producer")

    def fenced_transaction(self, topic: str, first: list[dict[str, Any]], second: list[dict[str, Any]],
                           late: list[dict[str, Any]], *, transactional_id: str) -> dict[str, Any]:
        """Producer a of `transactional_id` begins a transaction and sends `first` (delivered, not
        committed); producer b initialises the same id, which fences a and aborts its transaction,
        and commits `second`; then a sends `late` and tries to commit. {"send": the error a's late
        send reported or None, "commit": the error a's commit raised or None} (Kafka's error names)."""
        raise Unsupported(f"{self.name}: two producers with one transactional id")

    def transform_process(self, source: str, target: str, group: str, count: int, *, transactional_id: str,
                          crash: bool, timeout: float = 30.0) -> dict[str, Any]:
        """Consume-transform-produce in a child process, as a zombie-safe worker: partition 0 of `source`
        assigned (no subscription), read_committed, from `group`'s committed offset (else the earliest);
        the producer of `transactional_id` initialised first (which aborts a transaction a dead
        predecessor left open); `count` records copied to partition 0 of `target` in one transaction with
        the group's offsets (sendOffsetsToTransaction), committed. crash: the child is SIGKILLed once it
        has sent the records and the offsets, before it commits. {"records": [{offset, value}] taken}."""
        raise Unsupported(f"{self.name}: consume-transform-produce in a child process")

    def close(self) -> None:
        pass


class MemberProcess:
    """A group member in a child process, watched through the JSON lines it prints.

    The child joins the group from the earliest offset without auto-commit and
    prints, one JSON object a line: {"assigned": [p], "generation": g | null}
    after each assignment (its whole assignment then; the generation when the
    client says it), {"revoked": [p]} and {"lost": [p]} from its rebalance
    callbacks, {"records": [{partition, offset, value}]} for what a poll
    returned, printed before those offsets are committed (so a record the
    parent never heard of was never committed either), and
    {"commit_error": name} when a commit fails (the records are then read
    again by whoever owns the partition next). SIGTERM makes it close its
    consumer (a dynamic member leaves the group; a static one does not, as
    Kafka's clients do) and exit; SIGKILL is a crash.
    """

    def __init__(self, command: list[str], name: str, stdin: bytes = b"") -> None:
        self.name = name
        self.events: list[dict[str, Any]] = []
        self._stderr_tail = ""
        self._lock = threading.Lock()
        self._stderr = tempfile.TemporaryFile()
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr)
        assert self.process.stdin is not None
        with self.process.stdin:  # a driver's command list (stdin is small: it fits the pipe)
            self.process.stdin.write(stdin)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith(b"{"):
                event = json.loads(line)
                with self._lock:
                    self.events.append(event)

    def _all(self, kind: str) -> list[Any]:
        with self._lock:
            return [e[kind] for e in self.events if kind in e]

    def assignments(self) -> list[list[int]]:
        """Every assignment the member was given, in order."""
        return self._all("assigned")

    def assignment(self) -> list[int]:
        """What the member owns now: its last assignment less what it gave up since."""
        with self._lock:
            owned: set[int] = set()
            for e in self.events:
                if "assigned" in e:
                    owned = set(e["assigned"])
                owned -= set(e.get("revoked", [])) | set(e.get("lost", []))
            return sorted(owned)

    def generations(self) -> list[int | None]:
        with self._lock:
            return [e.get("generation") for e in self.events if "assigned" in e]

    def revocations(self) -> list[list[int]]:
        return self._all("revoked") + self._all("lost")

    def records(self) -> list[dict[str, Any]]:
        return [r for batch in self._all("records") for r in batch]

    def wait_for(self, what: str, done: Callable[[], bool], timeout: float) -> None:
        """Wait until done() (checked every 50 ms) for at most `timeout` seconds, else fail."""
        deadline = time.monotonic() + timeout
        while not done():
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited {self.process.returncode} waiting for {what} "
                                   f"(last events {self.events[-3:]}):\n{self.stderr()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not within {timeout:.0f} s ({self.name} events: {self.events[-5:]})")
            time.sleep(0.05)

    def stderr(self) -> str:
        if self._stderr.closed:
            return self._stderr_tail
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")[-3000:]

    def close(self, timeout: float = 30.0) -> None:
        """SIGTERM: the member closes its consumer and exits (else it is killed after `timeout`, and that fails)."""
        if not self._stop(signal.SIGTERM, timeout):
            raise AssertionError(f"{self.name} did not close within {timeout:.0f} s:\n{self.stderr()}")

    def kill(self) -> None:
        """SIGKILL: the member dies without a word to the broker."""
        self._stop(signal.SIGKILL, 10.0)

    def _stop(self, sig: int, timeout: float) -> bool:
        """Send `sig` and wait for the exit; False when the member had to be killed after `timeout`."""
        stopped = True
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                stopped = False
                self.process.kill()
                self.process.wait()
        self._reader.join(10)
        if not self._stderr.closed:
            self._stderr_tail = self.stderr()
            self._stderr.close()
            assert self.process.stdout is not None
            self.process.stdout.close()
        return stopped
