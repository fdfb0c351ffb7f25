"""Run a real kwire broker for tests: in this process, or as a child process.

    with Broker() as broker:                  # in-process: its own event loop thread
        KafkaProducer(bootstrap_servers=broker.bootstrap_servers)

    with BrokerProcess(tmp_path) as broker:   # `kwire serve` as a child process
        ...

Both listen on 127.0.0.1 port 0 (the OS picks a free port, so there is no
race with other tests), use `kwire serve --dev` defaults unless `dev=False`,
and keep their data in the given directory or in a temporary one that they
remove when stopped. Both offer the same helpers (`BrokerHelpers`):
`create_topic`, `produce`, `read_all`, `committed_offsets`, fault injection
(`add_fault`, `remove_fault`, `clear_faults`, `faults`) and `restart()` in
place (same port, same data). The pytest plugin (kwire/pytest_plugin.py)
yields one of them as `kafka_broker`.

`Broker` costs milliseconds and shares the test's process (and its GIL);
`BrokerProcess` costs a Python start-up (~0.3 s) but isolates the broker:
a crash, a SIGKILL (`kill()`) or a leak stays in the child. Its fault
injection and `restart()` go through the admin endpoint (kwire/admin.py),
which it enables on a free loopback port. Everything started is stopped
by PID.

The helpers speak the Kafka protocol through kwire_protocol on a plain
socket, one short connection per call, with client id
`kwire.faults.HELPER_CLIENT_ID`, which fault rules never match: a test can
arm a fault, run a client into it, and read the outcome with the helpers.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple

from kwire_protocol import messages
from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.frames import decode_response, encode_request
from kwire_protocol.messages import APIS, ApiKey
from kwire_protocol.primitives import INT32
from kwire_protocol.records.batch import split_batches
from kwire_protocol.records.builder import build_batch
from kwire_protocol.records.record import NewRecord

_LISTENING = re.compile(r"listening on PLAINTEXT://([\d.]+):(\d+)")
_ADMIN_LISTENING = re.compile(r"admin endpoint listening on http://([\d.]+:\d+)")
HELPER_CLIENT_ID = "kwire-testing-helper"  # == kwire.faults.HELPER_CLIENT_ID (not imported: that pulls in the broker)
HELPER_TIMEOUT_S = 30.0


class HelperError(RuntimeError):
    """A helper's request was answered with a Kafka error."""

    def __init__(self, what: str, code: int, message: str | None = None) -> None:
        self.error = ErrorCode(code)
        super().__init__(f"{what}: {self.error.name}" + (f" ({message})" if message else ""))


class ConsumedRecord(NamedTuple):
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]]
    timestamp: int


RecordLike = bytes | str | None | tuple[bytes | str | None, bytes | str | None]


def _as_bytes(value: bytes | str | None) -> bytes | None:
    return value.encode() if isinstance(value, str) else value


class BrokerHelpers:
    """Helpers over `bootstrap_servers`; subclasses say how to reach fault rules."""

    @property
    def bootstrap_servers(self) -> str:
        raise NotImplementedError

    # -- wire ------------------------------------------------------------------

    def _call(self, api_key: int, version: int, body: Any) -> Any:
        return call(self.bootstrap_servers, api_key, version, body)

    # -- topics and records ------------------------------------------------------

    def create_topic(self, name: str, partitions: int = 1, configs: dict[str, str] | None = None, *, exist_ok: bool = False) -> None:
        """Create a topic (replication factor 1); HelperError if Kafka refuses."""
        T = messages.CreateTopicsRequest.cls
        body = T(
            topics=[T.CreatableTopic(name=name, num_partitions=partitions, replication_factor=1,
                                     configs=[T.CreatableTopic.CreatableTopicConfig(name=k, value=v) for k, v in (configs or {}).items()])],
            timeout_ms=int(HELPER_TIMEOUT_S * 1000),
        )
        result = self._call(ApiKey.CREATE_TOPICS, 7, body).topics[0]
        if result.error_code == ErrorCode.TOPIC_ALREADY_EXISTS and exist_ok:
            return
        if result.error_code:
            raise HelperError(f"create topic {name}", result.error_code, result.error_message)

    def partitions(self, topic: str) -> list[int]:
        """The partition indexes of `topic` (HelperError if it does not exist; not auto-created)."""
        M = messages.MetadataRequest.cls
        body = M(topics=[M.MetadataRequestTopic(name=topic)], allow_auto_topic_creation=False)
        found = self._call(ApiKey.METADATA, 12, body).topics[0]
        if found.error_code:
            raise HelperError(f"metadata of {topic}", found.error_code)
        return sorted(p.partition_index for p in found.partitions)

    def produce(self, topic: str, *records: RecordLike, partition: int = 0, headers: Iterable[tuple[str, bytes | str | None]] = ()) -> list[int]:
        """Append records (values, or (key, value) pairs) to one partition in one
        batch, acks=all; returns their offsets."""
        new = []
        header_list = [(k, _as_bytes(v)) for k, v in headers]
        for record in records:
            key, value = record if isinstance(record, tuple) else (None, record)
            new.append(NewRecord(key=_as_bytes(key), value=_as_bytes(value), headers=header_list))
        if not new:
            return []
        P = messages.ProduceRequest.cls
        body = P(
            acks=-1, timeout_ms=int(HELPER_TIMEOUT_S * 1000),
            topic_data=[P.TopicProduceData(name=topic, partition_data=[P.TopicProduceData.PartitionProduceData(index=partition, records=build_batch(new))])],
        )
        deadline = time.monotonic() + HELPER_TIMEOUT_S
        while True:
            answer = self._call(ApiKey.PRODUCE, 9, body).responses[0].partition_responses[0]
            if answer.error_code != ErrorCode.UNKNOWN_TOPIC_OR_PARTITION or time.monotonic() > deadline:
                break
            # As a client does: Metadata creates the topic when auto.create.topics.enable is on.
            M = messages.MetadataRequest.cls
            found = self._call(ApiKey.METADATA, 12, M(topics=[M.MetadataRequestTopic(name=topic)], allow_auto_topic_creation=True)).topics[0]
            if found.error_code not in (ErrorCode.NONE, ErrorCode.LEADER_NOT_AVAILABLE, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION):
                raise HelperError(f"produce to {topic}-{partition}: metadata", found.error_code)
            time.sleep(0.01)
        if answer.error_code:
            raise HelperError(f"produce to {topic}-{partition}", answer.error_code, answer.error_message)
        return list(range(answer.base_offset, answer.base_offset + len(new)))

    def read_all(self, topic: str) -> list[ConsumedRecord]:
        """Every record of every partition of `topic` up to its high watermark,
        by partition then offset (transaction markers left out)."""
        out: list[ConsumedRecord] = []
        for partition in self.partitions(topic):
            out.extend(self._read_partition(topic, partition))
        return out

    def _read_partition(self, topic: str, partition: int) -> list[ConsumedRecord]:
        F = messages.FetchRequest.cls
        out: list[ConsumedRecord] = []
        offset = 0
        deadline = time.monotonic() + HELPER_TIMEOUT_S
        while time.monotonic() < deadline:
            body = F(
                replica_id=-1, max_wait_ms=0, min_bytes=0, max_bytes=64 << 20, isolation_level=0, session_id=0, session_epoch=-1,
                topics=[F.FetchTopic(topic=topic, partitions=[F.FetchTopic.FetchPartition(partition=partition, fetch_offset=offset, partition_max_bytes=32 << 20, log_start_offset=-1)])],
            )
            answer = self._call(ApiKey.FETCH, 12, body).responses[0].partitions[0]
            if answer.error_code == ErrorCode.OFFSET_OUT_OF_RANGE and offset < answer.log_start_offset:
                offset = answer.log_start_offset
                continue
            if answer.error_code:
                raise HelperError(f"fetch {topic}-{partition} at {offset}", answer.error_code)
            for batch in split_batches(bytes(answer.records or b"")):
                if batch.is_control:
                    offset = batch.next_offset
                    continue
                for r in batch.records():
                    if r.offset >= offset:
                        out.append(ConsumedRecord(topic, partition, r.offset, r.key, r.value, [(h[0], h[1]) for h in r.headers], r.timestamp))
                offset = max(offset, batch.next_offset)
            if offset >= answer.high_watermark:
                return out
        raise TimeoutError(f"reading {topic}-{partition} took over {HELPER_TIMEOUT_S}s")

    def committed_offsets(self, group: str) -> dict[tuple[str, int], int]:
        """{(topic, partition): committed offset} of a consumer group ({} if none)."""
        O = messages.OffsetFetchRequest.cls
        body = O(groups=[O.OffsetFetchRequestGroup(group_id=group, topics=None)], require_stable=True)
        deadline = time.monotonic() + HELPER_TIMEOUT_S
        while True:
            # FindCoordinator first: it creates __consumer_offsets on first use (single node: always us).
            self._call(ApiKey.FIND_COORDINATOR, 4, messages.FindCoordinatorRequest(key_type=0, coordinator_keys=[group]))
            answer = self._call(ApiKey.OFFSET_FETCH, 8, body).groups[0]
            if answer.error_code in (ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, ErrorCode.NOT_COORDINATOR) and time.monotonic() < deadline:
                time.sleep(0.02)
                continue
            if answer.error_code:
                raise HelperError(f"committed offsets of group {group}", answer.error_code)
            break
        return {
            (t.name, p.partition_index): p.committed_offset
            for t in answer.topics for p in t.partitions if p.committed_offset >= 0 and not p.error_code
        }

    # -- faults ------------------------------------------------------------------

    def add_fault(
        self, api: str | int, error: str | int | None = None, *, count: int | None = 1, latency_ms: int = 0,
        drop: bool = False, topic: str | None = None, partition: int | None = None,
    ) -> int:
        """Make the broker answer the next `count` requests of `api` (a Kafka API
        name, e.g. 'Produce') with `error`, after `latency_ms`, or by closing
        the connection (`drop`); see kwire/faults.py. Returns the rule's id."""
        raise NotImplementedError

    def remove_fault(self, rule_id: int) -> bool:
        raise NotImplementedError

    def clear_faults(self) -> int:
        raise NotImplementedError

    def faults(self) -> list[dict[str, Any]]:
        raise NotImplementedError


def read_exactly(sock: socket.socket, size: int) -> bytes:
    """`size` bytes from `sock`; ConnectionError if the peer closes first."""
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError(f"connection closed after {len(data)} of {size} bytes")
        data += chunk
    return bytes(data)


def call(address: str, api_key: int, version: int, body: Any, *, client_id: str = HELPER_CLIENT_ID,
         timeout: float = HELPER_TIMEOUT_S) -> Any:
    """One request on a new connection to `address` ("host:port"); returns the
    decoded response body. Works against any Kafka-compatible broker."""
    api = APIS[api_key]
    host, _, port = address.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(encode_request(api, version, 1, client_id, body))
        size = INT32.unpack(read_exactly(sock, 4))[0]
        _, response = decode_response(read_exactly(sock, size), api, version)
    return response


def _dev_overrides() -> dict[str, str]:
    from kwire.cli import DEV_OVERRIDES

    return dict(DEV_OVERRIDES)


class _TempDir:
    """The data dir: the caller's, or a temporary one this object removes."""

    def __init__(self, data_dir: str | Path | None) -> None:
        self.given = data_dir is not None
        self.path: Path | None = Path(data_dir) if data_dir is not None else None

    def ensure(self) -> Path:
        if self.path is None:
            self.path = Path(tempfile.mkdtemp(prefix="kwire-"))
            # Also at interpreter exit, for a broker its test never stopped.
            self._finalizer = weakref.finalize(self, shutil.rmtree, str(self.path), True)
        return self.path

    def remove(self) -> None:
        if not self.given and self.path is not None:
            self._finalizer()
            self.path = None


class Broker(BrokerHelpers):
    """A kwire broker in this process, on an event loop in its own thread.

    A context manager (`with Broker() as b:`) and an async one (`async with
    Broker() as b:`, which starts and stops it off the caller's loop).
    """

    def __init__(self, data_dir: str | Path | None = None, overrides: dict[str, str] | None = None, *, dev: bool = True, start_timeout: float = 30.0) -> None:
        self._dir = _TempDir(data_dir)
        self.overrides = dict(overrides or {})
        self.dev = dev
        self.start_timeout = start_timeout
        self.node: Any = None  # kwire.node.Node once started
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def data_dir(self) -> Path:
        return self._dir.ensure()

    @property
    def port(self) -> int:
        assert self.node is not None, "broker not started"
        return int(self.node.port)

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _run(self, coroutine: Any, timeout: float | None = None) -> Any:
        assert self._loop is not None, "broker not started"
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def start(self) -> Broker:
        from kwire.config import load_config
        from kwire.node import Node

        if self.node is not None:
            raise RuntimeError("broker already started")
        settings = {"listeners": "PLAINTEXT://127.0.0.1:0", "log.dirs": str(self.data_dir), **self.overrides}
        config = load_config(None, [f"{k}={v}" for k, v in settings.items()], base=_dev_overrides() if self.dev else None)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="kwire-broker", daemon=True)
        self._thread.start()
        node = Node(config)
        try:
            self._run(node.start(), self.start_timeout)
        except BaseException:
            self._run(node.stop(), self.start_timeout)
            self._close_loop()
            self._dir.remove()
            raise
        self.node = node
        return self

    def stop(self) -> None:
        """Stop the broker and its thread; remove the data dir if it is a temporary one."""
        if self.node is not None:
            try:
                self._run(self.node.stop(), self.start_timeout)
            finally:
                self.node = None
                self._close_loop()
        self._dir.remove()

    close = stop  # as BrokerProcess.close: stopped and its temporary data dir removed

    def _close_loop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(loop.shutdown_default_executor(), loop).result(self.start_timeout)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(self.start_timeout)
        loop.close()
        self._loop = self._thread = None

    def restart(self) -> None:
        """Stop the broker cleanly and start it again: same port, same data."""
        assert self.node is not None, "broker not started"
        self._run(self.node.restart(), self.start_timeout * 2)

    def add_fault(self, api: str | int, error: str | int | None = None, **options: Any) -> int:
        assert self.node is not None, "broker not started"
        return int(self.node.faults.add(api, error, **options).id)

    def remove_fault(self, rule_id: int) -> bool:
        return bool(self.node.faults.remove(rule_id))

    def clear_faults(self) -> int:
        return int(self.node.faults.clear())

    def faults(self) -> list[dict[str, Any]]:
        return [r.to_dict() for r in self.node.faults.rules()]

    def __enter__(self) -> Broker:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    async def __aenter__(self) -> Broker:
        return await asyncio.to_thread(self.start)

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        await asyncio.to_thread(self.stop)


class BrokerProcess(BrokerHelpers):
    """`kwire serve` as a child process (see the module docstring).

    `stop()` sends SIGTERM and falls back to SIGKILL; `kill()` is SIGKILL at
    once, for crash tests; `restart()` is a new process on the same data
    and port, `restart_in_place()` a restart inside the process through
    the admin endpoint.
    A temporary data dir (no `data_dir` given) is removed by `close()` and
    on leaving the `with` block, not by `stop()`, so `restart()` keeps it.
    """

    def __init__(self, data_dir: str | Path | None = None, overrides: dict[str, str] | None = None, *, dev: bool = True, start_timeout: float = 20.0, admin: bool = True) -> None:
        self._dir = _TempDir(data_dir)
        self.overrides = {"listeners": "PLAINTEXT://127.0.0.1:0", **({"kwire.admin.listener": "127.0.0.1:0"} if admin else {}), **(overrides or {})}
        self.dev = dev
        self.start_timeout = start_timeout
        self.process: subprocess.Popen[str] | None = None
        self.port: int | None = None
        self.admin_address: str | None = None
        self.output: list[str] = []
        self._reader: threading.Thread | None = None

    @property
    def data_dir(self) -> Path:
        return self._dir.ensure()

    @property
    def bootstrap_servers(self) -> str:
        assert self.port is not None, "broker not started"
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> BrokerProcess:
        command = [sys.executable, "-m", "kwire", "serve"]
        if self.dev:
            command.append("--dev")
        for key, value in {"log.dirs": str(self.data_dir), **self.overrides}.items():
            command += ["--override", f"{key}={value}"]
        self.port = None
        self.admin_address = None
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
        ready = threading.Event()
        self._reader = threading.Thread(target=self._read_output, args=(self.process, ready), daemon=True)
        self._reader.start()
        if not ready.wait(self.start_timeout) or self.port is None:
            self.kill()
            raise RuntimeError(f"kwire did not start within {self.start_timeout}s:\n" + "".join(self.output[-40:]))
        return self

    def _read_output(self, process: subprocess.Popen[str], ready: threading.Event) -> None:
        # Node.start binds the admin endpoint before the broker, so its line
        # comes first and "listening on PLAINTEXT://" means both are up.
        assert process.stdout is not None
        for line in process.stdout:
            self.output.append(line)
            if self.admin_address is None and (admin := _ADMIN_LISTENING.search(line)):
                self.admin_address = admin.group(1)
            if self.port is None:
                match = _LISTENING.search(line)
                if match:
                    self.port = int(match.group(2))
                    ready.set()
        ready.set()  # the process ended

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, wait up to `timeout`, then SIGKILL. Returns the exit code."""
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        self.kill()
        return process.returncode if process.returncode is not None and process.returncode >= 0 else None

    def kill(self) -> None:
        """SIGKILL at once (a no-op if the process has exited); then release its output pipe."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(10)
        if self._reader is not None:
            self._reader.join(5)
        if process.stdout is not None and not (self._reader is not None and self._reader.is_alive()):
            process.stdout.close()

    def close(self) -> None:
        """stop(), then remove the data dir if it is a temporary one."""
        self.stop()
        self._dir.remove()

    def restart(self) -> BrokerProcess:
        """A new process on the same data and the same port (clients reconnect to it)."""
        port = self.port
        self.stop()
        if port is not None:
            listeners = self.overrides["listeners"]
            self.overrides["listeners"] = re.sub(r":0$", f":{port}", listeners)
            try:
                return self.start()
            finally:
                self.overrides["listeners"] = listeners
        return self.start()

    def _admin(self) -> Any:
        from kwire.admin import AdminClient

        if self.admin_address is None:
            raise RuntimeError("this BrokerProcess has no admin endpoint (started with admin=False)")
        return AdminClient(self.admin_address)

    def restart_in_place(self) -> None:
        """Restart the broker inside its process: same port, same data (admin endpoint)."""
        self._admin().restart()

    def add_fault(self, api: str | int, error: str | int | None = None, **options: Any) -> int:
        return int(self._admin().add_fault(api, error, **options)["id"])

    def remove_fault(self, rule_id: int) -> bool:
        return bool(self._admin().remove_fault(rule_id))

    def clear_faults(self) -> int:
        return int(self._admin().clear_faults())

    def faults(self) -> list[dict[str, Any]]:
        return list(self._admin().faults())

    def __enter__(self) -> BrokerProcess:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.02):  # type: ignore[no-untyped-def]
    """Poll `predicate` until it returns a true value or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)
