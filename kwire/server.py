"""The broker process: start-up, listeners, background work, ordered shutdown.

Start-up, in order:
1. check the log directories are writable;
2. start the metadata quorum (kwire_raft) and, meanwhile, open the partition
   logs (kwire_storage recovers what was not cleanly shut down);
3. bind the listeners, register this broker with its advertised address;
4. apply the metadata image (open logs for partitions led here) and follow
   every later image on the event loop;
5. log "listening on ...": the broker answers from here on.

Shutdown stops accepting, closes connections, stops the cleaner, closes the
logs cleanly (fsync, checkpoints, clean-shutdown marker) and the quorum.

Each later image arrives on the quorum's thread and is handed to the event
loop with call_soon_threadsafe, so handlers always see `broker.image` and
the open logs in step, without locks.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kwire_raft.image import MetadataImage, TopicImage
from kwire_raft.quorum import MetadataQuorum
from kwire_storage.cleaner import LogCleaner
from kwire_storage.config import LogConfig
from kwire_storage.errors import KafkaStorageError
from kwire_storage.manager import LogManager

from kwire.config import BrokerConfig, ConfigError
from kwire.connection import Connection
from kwire.delayed import Waiters
from kwire.faults import Faults
from kwire.fetch_sessions import FetchSessionCache
from kwire.groups.loader import GroupCoordinatorRunner
from kwire.handlers import load_handlers
from kwire.partitions import PartitionManager
from kwire.producer_ids import ProducerIdManager
from kwire.topic_admin import TopicRequest, create_topics
from kwire.transactions.runner import TransactionCoordinatorRunner

log = logging.getLogger(__name__)

METADATA_DIR = "kwire-metadata"  # not a <topic>-<partition> name, so LogManager leaves it alone
QUORUM_READY_TIMEOUT = 30.0
CHECKPOINT_INTERVAL_S = 60.0  # log.flush.offset.checkpoint.interval.ms
# Kafka's producer.id.expiration.check.interval.ms default (10 minutes).
PRODUCER_EXPIRATION_CHECK_INTERVAL_S = 600.0
FLUSH_CHECK_INTERVAL_S = 1.0
AUTO_CREATE_WAIT_S = 5.0


@dataclass(frozen=True)
class Listener:
    name: str
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> Listener:
        name, sep, address = text.partition("://")
        host, colon, port = address.rpartition(":")
        if not sep or not colon or not port.isdigit():
            raise ConfigError(f"invalid listener {text!r}: expected NAME://host:port")
        return cls(name, host.strip("[]"), int(port))


class Broker:
    def __init__(self, config: BrokerConfig) -> None:
        self.config = config
        self.node_id = config.node_id
        self.listeners = [Listener.parse(item) for item in config["listeners"]]
        if len(config.log_dirs) > 1:
            log.warning("kwire uses only the first of log.dirs (%s) so far", config.log_dirs[0])
        self.log_dir = config.log_dirs[0]
        self.waiters = Waiters()
        self.faults = Faults()  # kwire/faults.py; kwire.node.Node shares one across restarts
        self.fetch_sessions = FetchSessionCache()
        self.quorum: MetadataQuorum | None = None
        self.log_manager: LogManager | None = None
        self.partitions: PartitionManager | None = None
        self.cleaner: LogCleaner | None = None
        self.bound: list[Listener] = []
        self.group_coordinator: GroupCoordinatorRunner | None = None
        self.transaction_coordinator: TransactionCoordinatorRunner | None = None
        self._image: MetadataImage | None = None
        self._image_changed = asyncio.Event()
        self._servers: list[asyncio.base_events.Server] = []
        self._connections: set[asyncio.Task[None]] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        load_handlers()

    # -- what handlers read --------------------------------------------------

    @property
    def image(self) -> MetadataImage:
        assert self._image is not None, "broker not started"
        return self._image

    @staticmethod
    def clock_ms() -> int:
        return time.time_ns() // 1_000_000

    def partitions_ready(self, topic: TopicImage) -> bool:
        assert self.partitions is not None
        return all(
            self.partitions.get(topic.name, index) is not None
            for index, p in topic.partitions.items()
            if self.node_id in p.replicas
        )

    async def image_at_least(self, offset: int, timeout: float = 10.0) -> bool:
        """Wait until the image applied on this loop includes quorum offset `offset`."""
        deadline = time.monotonic() + timeout
        while self.image.offset < offset:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._image_changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._image_changed.wait(), remaining)
        return True

    async def auto_create_topics(self, names: list[str]) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(create_topics(self, [TopicRequest(name) for name in names]), AUTO_CREATE_WAIT_S)

    # -- lifecycle ------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._prepare_log_dir()
        metadata_dir = Path(self.config["metadata.log.dir"] or self.log_dir) / METADATA_DIR
        self.quorum = MetadataQuorum(self.node_id, metadata_dir, cluster_id=self.config["cluster.id"], fsync=self.config["kwire.metadata.fsync"])
        self.quorum.start()
        self.log_manager = LogManager(self.log_dir, default_config=LogConfig(self.config.topic_defaults()),
                                      producer_id_expiration_ms=self.config["producer.id.expiration.ms"])
        try:
            await self._loop.run_in_executor(None, self.log_manager.startup)
        except KafkaStorageError as e:
            self.quorum.stop()
            raise ConfigError(str(e)) from None
        logs = len(self.log_manager.logs)
        if self.log_manager.had_clean_shutdown:
            log.info("log directory %s: clean shutdown marker found, %d logs opened without recovery", self.log_dir, logs)
        elif logs:
            log.info("log directory %s: no clean shutdown marker, %d logs recovered from their recovery points", self.log_dir, logs)
        self.partitions = PartitionManager(self.config, self.node_id, self.log_manager, self.waiters)
        self.producer_ids = ProducerIdManager(self.quorum)
        await self._loop.run_in_executor(None, self.quorum.wait_ready, QUORUM_READY_TIMEOUT)

        for listener in self.listeners:
            try:
                server = await asyncio.start_server(self._accept, listener.host, listener.port, reuse_address=True, limit=1 << 16)
            except OSError as e:
                reason = "the port is in use" if e.errno == errno.EADDRINUSE else (e.strerror or str(e))
                await self.stop()
                raise ConfigError(f"cannot listen on {listener.host}:{listener.port} ({listener.name}): {reason}") from None
            self._servers.append(server)
            self.bound.append(Listener(listener.name, listener.host, server.sockets[0].getsockname()[1]))

        advertised = self._advertised()
        await asyncio.wrap_future(self.quorum.register_broker(self.node_id, advertised.host, advertised.port, self.config["broker.rack"]))
        self._apply_image(self.quorum.image)
        # Groups load from __consumer_offsets in the background; until then they
        # answer COORDINATOR_LOAD_IN_PROGRESS (kwire/groups/loader.py).
        self.group_coordinator = GroupCoordinatorRunner(self)
        self.group_coordinator.start()
        # Likewise transactional ids from __transaction_state (kwire/transactions/runner.py).
        self.transaction_coordinator = TransactionCoordinatorRunner(self)
        self.transaction_coordinator.start()
        self.quorum.subscribe(lambda image: self._loop.call_soon_threadsafe(self._apply_image, image))  # type: ignore[union-attr]
        self._start_background_work()
        log.info("kwire node %d listening on %s", self.node_id, ", ".join(f"{b.name}://{b.host}:{b.port}" for b in self.bound))

    def _prepare_log_dir(self) -> None:
        try:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            probe = self.log_dir / ".kwire-write-test"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as e:
            raise ConfigError(f"log directory {self.log_dir} is not writable: {e.strerror or e}") from None

    def _advertised(self) -> Listener:
        bound = self.bound[0]
        configured = self.config["advertised.listeners"]
        if configured:
            listener = Listener.parse(configured[0])
            return Listener(listener.name, listener.host, listener.port or bound.port)
        host = bound.host if bound.host not in ("", "0.0.0.0", "::") else socket.getfqdn()
        return Listener(bound.name, host, bound.port)

    def _apply_image(self, image: MetadataImage) -> None:
        if self._image is not None and image.offset < self._image.offset:
            return
        assert self.partitions is not None
        self.partitions.apply_image(image)
        self._image = image
        self._image_changed.set()

    def _start_background_work(self) -> None:
        assert self.log_manager is not None
        manager = self.log_manager
        self._tasks = [
            asyncio.create_task(self._every(self.config["log.retention.check.interval.ms"] / 1000, manager.cleanup_logs)),
            asyncio.create_task(self._every(FLUSH_CHECK_INTERVAL_S, manager.flush_dirty_logs)),
            asyncio.create_task(self._every(CHECKPOINT_INTERVAL_S, manager.checkpoint)),
            asyncio.create_task(self._every(PRODUCER_EXPIRATION_CHECK_INTERVAL_S, manager.remove_expired_producers)),
        ]
        if self.config["log.cleaner.enable"]:
            self.cleaner = LogCleaner(lambda: list(manager.logs.values()), backoff_ms=self.config["log.cleaner.backoff.ms"])
            self.cleaner.start()

    async def _every(self, interval: float, work: Any) -> None:
        """Run blocking storage work off the event loop, every `interval` seconds."""
        assert self._loop is not None
        while True:
            await asyncio.sleep(interval)
            try:
                await self._loop.run_in_executor(None, work)
            except Exception:
                log.exception("background task %s failed", getattr(work, "__name__", work))

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await Connection(self, reader, writer).run()
        finally:
            self._connections.discard(task)

    async def stop(self) -> None:
        for server in self._servers:
            server.close()
        for task in [*self._connections, *self._tasks]:
            task.cancel()
        pending = [*self._connections, *self._tasks]
        if pending:
            await asyncio.wait(pending, timeout=5)
        for server in self._servers:
            await server.wait_closed()
        if self.transaction_coordinator is not None:
            await self.transaction_coordinator.stop()
        if self.group_coordinator is not None:
            await self.group_coordinator.stop()
        if self.cleaner is not None:
            self.cleaner.stop()
        if self.log_manager is not None and self.partitions is not None:
            self.log_manager.shutdown()
        if self.quorum is not None:
            self.quorum.stop()
        log.info("kwire node %d stopped", self.node_id)
