"""MetadataQuorum: runs the metadata state machine for the broker.

Theory of operation
-------------------
One `MetadataQuorum` per process owns a `MetadataStateMachine` (a pysyncobj
`SyncObj`) and one thread, "kwire-raft-<id>", that ticks it. Everything
pysyncobj does (elections, replication, applying commands, snapshots,
callbacks) happens on that thread; the broker's asyncio loop never blocks
on it:

* reads: `quorum.image` is one attribute load of an immutable
  `MetadataImage` (image.py), safe from any thread without locks;
* writes: each command method returns a `concurrent.futures.Future` at once;
  the raft thread completes it with the command's result, or with a
  `QuorumError` (no leader, timeout, stopped). An asyncio caller does
  `await asyncio.wait_for(asyncio.wrap_future(f), t)`;
* changes: `subscribe(cb)` calls `cb(image)` on the raft thread after every
  applied command and every change of controller; the broker hops onto its
  loop with `loop.call_soon_threadsafe`.

A write is acknowledged (its future completed) only after the tick in which
it was applied has finished, and, with `fsync=True`, after the journal has
been fsynced. Waiting for the end of the tick closes a window in pysyncobj:
after writing a snapshot it drops the older journal entries one tick later,
and an entry applied in between is in neither the snapshot nor (until that
tick ends) the rewritten journal.

Voters
------
* Embedded single voter (`voters` empty, or only this node): a quorum of
  one. It opens no socket (`LocalTransport`), elects itself as soon as its
  election timeout (20-25 ms) passes, and every write commits at once.
* Several voters (KRaft's `controller.quorum.voters`, "1@host:port,..."):
  pysyncobj's TCP transport, bound to this voter's address only. Writes
  submitted on a follower are forwarded to the leader by pysyncobj (as
  Kafka brokers forward to the active controller, KIP-590) and complete
  when the follower has applied them, so the submitter reads its own write.
  pysyncobj speaks pickle between voters: anyone who can reach a raft port
  can run code in the broker, so raft addresses must be loopback or a
  private network.

Durability
----------
pysyncobj's `FileJournal` writes each raft entry into an mmap of
`raft.journal` before the leader counts it (and before a follower answers
the leader). An mmap store lands in the kernel's page cache at once, so the
entry survives SIGKILL of the process without any flush; this pysyncobj
(0.3.x, checked in its source) has no journal flush setting of its own
(`SyncObjConf` has no `flushJournal`). Against power loss or a kernel crash
the quorum fsyncs the journal file (a plain fd on the same inode: on Linux
fsync writes back pages dirtied through a shared mmap, it is what msync
does) before completing futures, once per tick that acknowledges anything.
Metadata writes are rare, so the cost (one fsync per acknowledged batch) is
fine. Followers' journals are not fsynced (pysyncobj offers no hook there):
a cluster survives power loss of a minority only.

Snapshots (`snapshot.json`, see persistence.py) are taken after
`snapshot_min_entries` entries or `snapshot_min_interval` seconds, so
start-up replays at most that many journal entries.

Time to ready
-------------
The raft timeouts are set per mode (RaftTimings). With one voter they can
be tiny because there is no one to disagree with. The thread is ticked
with a short poll while something is pending (start-up, writes in flight)
and a long one when idle; pysyncobj's own pipe wakes it when a write is
submitted, and the quorum's pipe when it is stopped. (pysyncobj's built-in
autoTick thread would add a fixed 0.1 s sleep before its first tick and
poll at a fixed period.)
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections import deque
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from pysyncobj import FAIL_REASON, SyncObjConf
from pysyncobj.node import Node, TCPNode
from pysyncobj.poller import POLL_EVENT_TYPE
from pysyncobj.syncobj import SyncObjException
from pysyncobj.transport import TCPTransport

from .commands import ConfigChange, ItemResult, LeaderChange, NewPartitions, NewTopic, PartitionResult
from .errors import NotLeaderError, QuorumError, QuorumStoppedError, QuorumTimeoutError
from .image import ZERO_UUID, MetadataImage
from .persistence import (JOURNAL_FILE, SNAPSHOT_FILE, new_cluster_id, read_meta_properties,
                          write_meta_properties)
from .state_machine import LocalTransport, MetadataStateMachine

log = logging.getLogger(__name__)

ImageCallback = Callable[[MetadataImage], None]


@dataclass(frozen=True)
class RaftTimings:
    """pysyncobj timeouts, in seconds (names follow SyncObjConf)."""

    idle_tick: float              # poll timeout of the raft thread when nothing is pending
    busy_tick: float              # poll timeout while writes are in flight or not yet ready
    append_entries_period: float  # leader heartbeat; pysyncobj wants < election_min / 3
    election_min: float           # raftMinTimeout
    election_max: float           # raftMaxTimeout
    connection_timeout: float     # a silent peer connection is dead after this (>= election_max)
    connection_retry: float       # reconnect to a lost peer this often
    leader_fallback: float        # a leader that hears from no majority for this long steps down


# One voter: nothing to wait for but its own election timeout. The idle tick
# only paces journal-metadata saves and snapshot checks.
SINGLE_VOTER_TIMINGS = RaftTimings(idle_tick=0.5, busy_tick=0.0005, append_entries_period=0.005, election_min=0.02,
                                   election_max=0.025, connection_timeout=1.0, connection_retry=1.0,
                                   leader_fallback=1.0)

# Several voters, on one host or a LAN: close to Kafka's KRaft defaults
# (controller.quorum.election.timeout.ms=1000, fetch timeout 2000).
MULTI_VOTER_TIMINGS = RaftTimings(idle_tick=0.02, busy_tick=0.002, append_entries_period=0.1, election_min=0.5,
                                  election_max=1.0, connection_timeout=2.0, connection_retry=0.5,
                                  leader_fallback=2.0)

_NOT_LEADER_REASONS = {FAIL_REASON.MISSING_LEADER, FAIL_REASON.NOT_LEADER, FAIL_REASON.LEADER_CHANGED,
                       FAIL_REASON.DISCARDED}
_REASON_NAMES = {v: k for k, v in vars(FAIL_REASON).items() if isinstance(v, int)}


def parse_voters(text: str) -> dict[int, str]:
    """Parse KRaft's `controller.quorum.voters` form: "1@127.0.0.1:9093,2@127.0.0.1:9094"."""
    voters = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        node, sep, address = item.partition("@")
        if not sep or ":" not in address:
            raise ValueError(f"voter {item!r} is not id@host:port")
        voters[int(node)] = address
    return voters


class _Pending:
    __slots__ = ("future", "deadline")

    def __init__(self, future: Future[Any], deadline: float) -> None:
        self.future = future
        self.deadline = deadline


def _settle(future: Future[Any], result: Any = None, error: BaseException | None = None) -> None:
    """Complete a future unless its caller already cancelled it (asyncio.wait_for does)."""
    try:
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)
    except InvalidStateError:
        pass


class MetadataQuorum:
    """The cluster metadata quorum of one node. See the module docstring."""

    def __init__(self, node_id: int, metadata_dir: str | os.PathLike[str], *,
                 voters: Mapping[int, str] | None = None, self_address: str | None = None,
                 cluster_id: str | None = None, timings: RaftTimings | None = None,
                 write_timeout: float = 10.0, fsync: bool = True,
                 snapshot_min_entries: int = 1000, snapshot_min_interval: float = 600.0) -> None:
        """
        node_id: this node's id (Kafka's node.id).
        metadata_dir: where the journal, snapshot and meta.properties live.
        voters: node id -> "host:port" of every voter; empty or only this
            node means the embedded single voter, which opens no socket.
        self_address: address to bind the raft port to; default voters[node_id].
        cluster_id: required the first time for several voters (every voter
            must be formatted with the same id, as with kafka-storage format);
            a single voter generates one. Checked against meta.properties.
        write_timeout: default time after which a command's future fails
            with QuorumTimeoutError.
        """
        self.node_id = node_id
        self.metadata_dir = Path(metadata_dir)
        self._voters = dict(voters or {})
        if self._voters and node_id not in self._voters:
            raise ValueError(f"node {node_id} is not among the voters {sorted(self._voters)}")
        self._single = len(self._voters) <= 1
        self._self_address = self_address or self._voters.get(node_id)
        if not self._single and not self._self_address:
            raise ValueError("a voter of a multi-voter quorum needs an address")
        self._cluster_id = cluster_id
        self.timings = timings or (SINGLE_VOTER_TIMINGS if self._single else MULTI_VOTER_TIMINGS)
        self.write_timeout = write_timeout
        self._fsync = fsync
        self._snapshot_min_entries = snapshot_min_entries
        self._snapshot_min_interval = snapshot_min_interval

        self._image: MetadataImage | None = None
        self._subscribers: tuple[ImageCallback, ...] = ()
        self._sm: MetadataStateMachine | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._lock = threading.Lock()  # guards _pending
        self._pending: dict[int, _Pending] = {}
        self._next_pending = 0
        self._completed: deque[tuple[int, Any, int]] = deque()  # appended from pysyncobj callbacks
        self._wake_r = self._wake_w = -1
        self._journal_fd = -1
        self._node_ids: dict[str, int] = {}
        self._failure: BaseException | None = None

    # ------------------------------------------------------------------
    # lifecycle

    def start(self) -> None:
        """Open (or create) the metadata dir and start the raft thread. Returns at once."""
        if self._thread is not None:
            raise QuorumError("quorum already started")
        self.metadata_dir.mkdir(parents=True, exist_ok=True)
        cluster_id = self._load_cluster_id()
        self._image = MetadataImage(cluster_id=cluster_id)

        conf = SyncObjConf(
            autoTick=False,                       # ticked by our own thread, see _run
            appendEntriesUseBatch=False,          # replicate a write at once; also makes pysyncobj
                                                  # wake the poller when a write is submitted
            commandsWaitLeader=False,             # no leader: fail fast (NotLeaderError), don't queue
            journalFile=str(self.metadata_dir / JOURNAL_FILE),
            fullDumpFile=str(self.metadata_dir / SNAPSHOT_FILE),
            useFork=False,
            logCompactionMinEntries=self._snapshot_min_entries,
            logCompactionMinTime=self._snapshot_min_interval,
            appendEntriesPeriod=self.timings.append_entries_period,
            raftMinTimeout=self.timings.election_min,
            raftMaxTimeout=self.timings.election_max,
            connectionTimeout=self.timings.connection_timeout,
            connectionRetryTime=self.timings.connection_retry,
            leaderFallbackTimeout=self.timings.leader_fallback,
            # Bind exactly the voter's address; pysyncobj would bind 0.0.0.0.
            bindAddress=self._self_address if not self._single else None,
            bindRetryTime=0.05,
            maxBindRetries=3,
        )
        if self._single:
            self_node: Node = Node(str(self.node_id))
            others: list[Node] = []
            transport_class: type = LocalTransport
            self._node_ids = {str(self.node_id): self.node_id}
        else:
            self_node = TCPNode(self._voters[self.node_id])
            others = [TCPNode(a) for n, a in self._voters.items() if n != self.node_id]
            transport_class = TCPTransport
            self._node_ids = {a: n for n, a in self._voters.items()}

        self._stopping.clear()
        self._ready.clear()
        self._failure = None
        try:
            sm = MetadataStateMachine(self._image, self._on_image, self_node, others, conf, transport_class)
        except SyncObjException as exc:
            raise QuorumError(f"cannot start the metadata quorum on {self._self_address}: {exc}") from exc
        self._sm = sm
        self._journal_fd = os.open(self.metadata_dir / JOURNAL_FILE, os.O_RDONLY)
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        # _poller is what pysyncobj's own transports register their sockets with.
        sm._poller.subscribe(self._wake_r, self._on_wake, POLL_EVENT_TYPE.READ)
        self._thread = threading.Thread(target=self._run, name=f"kwire-raft-{self.node_id}", daemon=True)
        self._thread.start()

    def wait_ready(self, timeout: float) -> None:
        """Block until a leader is known and this node has applied everything committed
        before it started (its journal replayed, or caught up with the leader).

        Raises QuorumTimeoutError, or the error that stopped the raft thread.
        """
        if self._thread is None:
            raise QuorumStoppedError("quorum not started", "STOPPED")
        deadline = time.monotonic() + timeout
        while not self._ready.wait(min(0.05, max(0.0, deadline - time.monotonic()))):
            if self._failure is not None:
                raise QuorumError(f"metadata quorum failed: {self._failure}") from self._failure
            if not self._thread.is_alive():
                raise QuorumStoppedError("quorum stopped before it was ready", "STOPPED")
            if time.monotonic() >= deadline:
                raise QuorumTimeoutError(f"metadata quorum not ready after {timeout}s", "TIMEOUT")

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the raft thread (closing sockets and the journal) within `timeout` seconds.

        Futures still pending fail with QuorumStoppedError. Idempotent.
        """
        thread = self._thread
        if thread is None:
            return
        self._stopping.set()
        self._wake()
        thread.join(timeout)
        if thread.is_alive():
            log.error("raft thread of node %s did not stop within %ss", self.node_id, timeout)
            return
        self._thread = None
        with self._lock:
            self._sm = None
            pending, self._pending = self._pending, {}
        for p in pending.values():
            _settle(p.future, error=QuorumStoppedError("metadata quorum stopped", "STOPPED"))
        for fd in (self._wake_r, self._wake_w, self._journal_fd):
            os.close(fd)
        self._wake_r = self._wake_w = self._journal_fd = -1

    def __enter__(self) -> MetadataQuorum:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------
    # reads

    @property
    def image(self) -> MetadataImage:
        """The latest image. One attribute load: no lock, never a half-applied command."""
        image = self._image
        if image is None:
            raise QuorumStoppedError("quorum not started", "STOPPED")
        return image

    @property
    def is_leader(self) -> bool:
        return self.image.controller_id == self.node_id

    def subscribe(self, callback: ImageCallback) -> Callable[[], None]:
        """Call `callback(image)` on the raft thread for each new image; returns an unsubscribe function.

        The callback must be quick and must not block on the quorum (it runs
        on the thread that would complete the write).
        """
        with self._lock:
            self._subscribers = self._subscribers + (callback,)

        def unsubscribe() -> None:
            with self._lock:
                self._subscribers = tuple(c for c in self._subscribers if c is not callback)
        return unsubscribe

    def status(self) -> dict[str, Any]:
        """pysyncobj's status dict (term, leader, commit index, ...) for diagnostics."""
        sm = self._sm
        return {} if sm is None else sm.getStatus()

    # ------------------------------------------------------------------
    # writes: each returns a Future of the command's result

    def register_broker(self, node_id: int, host: str, port: int, rack: str | None = None,
                        fenced: bool = False, *, timeout: float | None = None) -> Future[int]:
        """Register (or re-register) a broker. Result: its broker epoch."""
        return self._submit({"op": "register_broker", "node_id": int(node_id), "host": str(host),
                             "port": int(port), "rack": rack, "fenced": bool(fenced)}, timeout)

    def unregister_broker(self, node_id: int, *, timeout: float | None = None) -> Future[int]:
        """Result: error code (0, or BROKER_ID_NOT_REGISTERED)."""
        return self._submit({"op": "unregister_broker", "node_id": int(node_id)}, timeout)

    def create_topics(self, topics: Iterable[NewTopic], *,
                      timeout: float | None = None) -> Future[list[ItemResult]]:
        """Result: one ItemResult per topic (0, TOPIC_ALREADY_EXISTS, INVALID_PARTITIONS, ...)."""
        items = []
        for t in topics:
            topic_id = t.topic_id
            if topic_id is None:
                topic_id = uuid.uuid4()
                while topic_id == ZERO_UUID:  # pragma: no cover - 2**-122
                    topic_id = uuid.uuid4()
            items.append(t.to_dict(topic_id))
        return self._submit({"op": "create_topics", "topics": items}, timeout)

    def delete_topics(self, names: Iterable[str] = (), topic_ids: Iterable[uuid.UUID] = (), *,
                      timeout: float | None = None) -> Future[list[ItemResult]]:
        """Result: one ItemResult per name, then per id (UNKNOWN_TOPIC_OR_PARTITION / UNKNOWN_TOPIC_ID)."""
        return self._submit({"op": "delete_topics", "names": [str(n) for n in names],
                             "topic_ids": [str(i) for i in topic_ids]}, timeout)

    def create_partitions(self, topics: Iterable[NewPartitions], *,
                          timeout: float | None = None) -> Future[list[ItemResult]]:
        """Result: one ItemResult per topic (INVALID_PARTITIONS when not an increase)."""
        return self._submit({"op": "create_partitions", "topics": [t.to_dict() for t in topics]}, timeout)

    def alter_topic_configs(self, changes: Iterable[ConfigChange], *,
                            timeout: float | None = None) -> Future[list[ItemResult]]:
        return self._submit({"op": "alter_topic_configs", "topics": [c.to_dict() for c in changes]}, timeout)

    def alter_broker_configs(self, changes: Iterable[ConfigChange], *,
                             timeout: float | None = None) -> Future[list[ItemResult]]:
        """Resource names: "" for the cluster-wide default, str(node_id) for one broker."""
        return self._submit({"op": "alter_broker_configs", "resources": [c.to_dict() for c in changes]}, timeout)

    def set_partition_leaders(self, changes: Iterable[LeaderChange], *,
                              timeout: float | None = None) -> Future[list[PartitionResult]]:
        """Elect leaders (bumping leader and partition epochs). Result: one PartitionResult per change."""
        return self._submit({"op": "set_partition_leaders", "changes": [c.to_dict() for c in changes]}, timeout)

    def allocate_producer_ids(self, count: int = 1000, *, timeout: float | None = None) -> Future[int]:
        """Reserve `count` producer ids; result: the first. Never handed out again, even after restarts."""
        if count < 1:
            raise ValueError("count must be positive")
        return self._submit({"op": "allocate_producer_ids", "count": int(count)}, timeout)

    # ------------------------------------------------------------------
    # internals

    def _load_cluster_id(self) -> str:
        props = read_meta_properties(self.metadata_dir)
        stored = props.get("cluster.id")
        if stored is not None:
            if self._cluster_id is not None and self._cluster_id != stored:
                raise QuorumError(f"cluster id {self._cluster_id} does not match {stored} "
                                  f"in {self.metadata_dir}/meta.properties")
            if props.get("node.id") not in (None, str(self.node_id)):
                raise QuorumError(f"{self.metadata_dir} belongs to node {props['node.id']}, not {self.node_id}")
            return stored
        if self._cluster_id is None and not self._single:
            raise QuorumError("a multi-voter quorum needs the same cluster_id on every voter")
        cluster_id = self._cluster_id or new_cluster_id()
        write_meta_properties(self.metadata_dir, cluster_id, self.node_id)
        return cluster_id

    def _submit(self, command: dict[str, Any], timeout: float | None) -> Future[Any]:
        future: Future[Any] = Future()
        deadline = time.monotonic() + (self.write_timeout if timeout is None else timeout)
        with self._lock:  # with stop(): a future is either failed here or drained there
            sm = self._sm
            if sm is None or self._stopping.is_set():
                _settle(future, error=QuorumStoppedError("metadata quorum is not running", "STOPPED"))
                return future
            key = self._next_pending
            self._next_pending += 1
            self._pending[key] = _Pending(future, deadline)

        def callback(result: Any, error: int) -> None:
            # pysyncobj thread (or this thread, for QUEUE_FULL): settle after the tick,
            # and cut that tick's closing poll short.
            self._completed.append((key, result, error))
            self._wake()

        sm.apply(command, callback=callback)
        return future

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except (BlockingIOError, OSError):
            pass  # pipe full (a wake-up is pending anyway) or already closed

    def _on_wake(self, fd: int, event: int) -> None:
        try:
            while os.read(fd, 4096):
                pass
        except BlockingIOError:
            pass

    def _on_image(self, image: MetadataImage) -> None:
        self._image = image
        for callback in self._subscribers:
            try:
                callback(image)
            except Exception:
                log.exception("metadata image subscriber %r failed", callback)

    def _run(self) -> None:
        sm = self._sm
        assert sm is not None
        try:
            while not self._stopping.is_set():
                busy = bool(self._pending) or not self._ready.is_set()
                sm.doTick(self.timings.busy_tick if busy else self.timings.idle_tick)
                self._after_tick(sm)
        except BaseException as exc:  # keep the reason for wait_ready; never die silently
            self._failure = exc
            log.exception("metadata quorum thread of node %s failed", self.node_id)
        finally:
            try:
                sm.destroy()  # autoTick=False: closes sockets and the journal here, on this thread
            except Exception:
                log.exception("destroying the raft state machine failed")

    def _after_tick(self, sm: MetadataStateMachine) -> None:
        leader = sm._getLeader()
        sm.set_controller(-1 if leader is None else self._node_ids.get(str(leader.id), -1))
        if not self._ready.is_set():
            if sm.snapshot_error is not None:
                raise QuorumError(f"cannot load {SNAPSHOT_FILE}: {sm.snapshot_error}")
            if leader is not None and sm.isReady():
                self._ready.set()

        if self._completed:
            if self._fsync:
                os.fsync(self._journal_fd)
            while self._completed:
                key, result, error = self._completed.popleft()
                with self._lock:
                    pending = self._pending.pop(key, None)
                if pending is None:
                    continue  # timed out already
                if error == FAIL_REASON.SUCCESS:
                    _settle(pending.future, result)
                else:
                    _settle(pending.future, error=self._error(error))

        if self._pending:
            now = time.monotonic()
            with self._lock:
                expired = [k for k, p in self._pending.items() if p.deadline <= now]
                timed_out = [self._pending.pop(k) for k in expired]
            for p in timed_out:
                _settle(p.future, error=QuorumTimeoutError(
                    "metadata write not acknowledged in time; it may still be applied", "TIMEOUT"))

    @staticmethod
    def _error(reason: int) -> QuorumError:
        name = _REASON_NAMES.get(reason, str(reason))
        if reason in _NOT_LEADER_REASONS:
            return NotLeaderError(f"metadata write failed: {name} (no leader, or leadership changed)", name)
        return QuorumError(f"metadata write failed: {name}", name)
