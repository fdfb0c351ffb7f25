"""The broker process: listeners, start-up and ordered shutdown.

`Broker` owns the configuration and the asyncio servers of its listeners;
each accepted socket gets a `Connection`. Shutdown stops accepting, closes
connections, then (as the layers below land) flushes logs and checkpoints.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from dataclasses import dataclass

from kwire.config import BrokerConfig, ConfigError
from kwire.connection import Connection
from kwire.handlers import load_handlers

log = logging.getLogger(__name__)


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
        self._servers: list[asyncio.base_events.Server] = []
        self._connections: set[asyncio.Task] = set()
        self.bound: list[Listener] = []
        load_handlers()

    async def start(self) -> None:
        self._prepare_log_dirs()
        for listener in self.listeners:
            try:
                server = await asyncio.start_server(self._accept, listener.host, listener.port, reuse_address=True, limit=1 << 16)
            except OSError as e:
                reason = "the port is in use" if e.errno == errno.EADDRINUSE else (e.strerror or str(e))
                raise ConfigError(f"cannot listen on {listener.host}:{listener.port} ({listener.name}): {reason}") from None
            self._servers.append(server)
            port = server.sockets[0].getsockname()[1]
            self.bound.append(Listener(listener.name, listener.host, port))
        log.info("kwire node %d listening on %s", self.node_id, ", ".join(f"{b.name}://{b.host}:{b.port}" for b in self.bound))

    def _prepare_log_dirs(self) -> None:
        for directory in self.config.log_dirs:
            try:
                directory.mkdir(parents=True, exist_ok=True)
                probe = directory / ".kwire-write-test"
                probe.write_bytes(b"")
                probe.unlink()
            except OSError as e:
                raise ConfigError(f"log directory {directory} is not writable: {e.strerror or e}") from None

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
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.wait(self._connections, timeout=5)
        for server in self._servers:
            await server.wait_closed()
        log.info("kwire node %d stopped", self.node_id)


