"""One client connection: read frames, dispatch, write responses in order.

Like Kafka's network layer, a connection processes one request at a time:
the next frame is read only after the previous response is written. Clients
pipeline (several requests in flight), which simply queues frames in the
socket buffer, and responses leave strictly in request order.

Record data in responses goes out with `os.sendfile` from the segment file
(zero copy): the transport's buffer is drained first so bytes stay ordered.

A frame that does not decode closes this connection only, without an
answer: a size below zero or above socket.request.max.bytes (checked before
the body is read), a header or body that does not parse (bytes after the
body are ignored, as Kafka ignores them). An unknown API version closes it
too (as Kafka does), except ApiVersions, which gets the KIP-511 answer: v0
body, UNSUPPORTED_VERSION, and the versions of ApiVersions we serve. A handler may ask for the
connection to be closed instead of answered (CLOSE_CONNECTION: a failed
acks=0 Produce). A handler that raises (a bug) is logged and its request
answered UNKNOWN_SERVER_ERROR in every error field, as Kafka does; the
connection stays open (an acks=0 Produce closes it, having no answer).

A connection with no complete request for connections.max.idle.ms is
closed, also while a frame is half received (Kafka's Selector counts any
activity, but a peer that trickles a frame forever should not pin a slot).
"""

from __future__ import annotations

import asyncio
import errno
import inspect
import logging
import os
import socket
from contextvars import ContextVar
from typing import Any

from kwire_protocol.codec import FileRegion
from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.errors import ProtocolError
from kwire_protocol.frames import UnsupportedRequestError, check_frame_size, decode_request, encode_response
from kwire_protocol.messages import APIS, ApiKey
from kwire_protocol.primitives import INT32

from kwire.faults import error_response
from kwire.handlers import CLOSE_CONNECTION, REGISTRY
from kwire.handlers.api_versions import unsupported_version_response

log = logging.getLogger(__name__)

# The peer's address as Kafka reports it ("/127.0.0.1"), for handlers that
# record it (group members' client host). Set in each connection's task.
CLIENT_HOST: ContextVar[str] = ContextVar("client_host", default="")


class Connection:
    def __init__(self, broker: Any, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.broker = broker
        self.reader = reader
        self.writer = writer
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.max_request_size = broker.config["socket.request.max.bytes"]
        self.idle_timeout = broker.config["connections.max.idle.ms"] / 1000
        # drain() then waits until everything is on the wire, which sendfile
        # needs so that file bytes follow the header bytes in order.
        writer.transport.set_write_buffer_limits(high=0)

    async def run(self) -> None:
        peer = self.writer.get_extra_info("peername")
        CLIENT_HOST.set(f"/{peer[0]}" if isinstance(peer, tuple) else "")
        try:
            while True:
                frame = await self._read_frame()
                if frame is None or not await self._handle(frame):
                    return
        except ProtocolError as e:
            log.warning("closing connection from %s: %s", self.peer, e)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            raise
        except Exception:
            # Our fault, not the peer's: say so loudly, but lose only this connection.
            log.exception("closing connection from %s after an internal error", self.peer)
        finally:
            self.writer.close()

    async def _read_frame(self) -> bytes | None:
        """The next request frame; None when the peer closed or was idle too long.

        One timer per frame, not one per read: asyncio.wait_for costs a task
        and a timer handle, and this runs for every request.
        """
        try:
            return await asyncio.wait_for(self._read_size_and_body(), self.idle_timeout)
        except asyncio.TimeoutError:
            log.info("closing connection from %s: no complete request for connections.max.idle.ms", self.peer)
            return None

    async def _read_size_and_body(self) -> bytes | None:
        try:
            prefix = await self.reader.readexactly(4)
        except asyncio.IncompleteReadError:
            return None  # closed between requests: not an error
        size = INT32.unpack(prefix)[0]
        check_frame_size(size, self.max_request_size)
        return await self.reader.readexactly(size)

    async def _handle(self, frame: bytes) -> bool:
        """Answer one request; False when the connection is to be closed."""
        try:
            request = decode_request(frame)
        except UnsupportedRequestError as e:
            if e.header.request_api_key == ApiKey.API_VERSIONS:
                await self._respond(APIS[ApiKey.API_VERSIONS], 0, e.header.correlation_id, unsupported_version_response())
                return True
            raise
        handler = REGISTRY.get(request.api.key)
        if handler is None or not handler.serves(request.version):
            if request.api.key == ApiKey.API_VERSIONS:
                await self._respond(request.api, 0, request.correlation_id, unsupported_version_response())
                return True
            raise ProtocolError(f"{request.api.name} v{request.version} is not served")
        try:
            response = await self._dispatch(request, handler.fn)
        except asyncio.CancelledError:
            raise
        except Exception:
            # Our fault, not the peer's (Kafka's KafkaApis answers any handler
            # exception with UNKNOWN_SERVER_ERROR): say so loudly and answer.
            log.exception("%s v%d from %s failed; answering UNKNOWN_SERVER_ERROR", request.api.name, request.version, self.peer)
            if request.api.key == ApiKey.PRODUCE and request.body.acks == 0:
                return False  # no answer is expected: closing is how an acks=0 producer learns
            response = error_response(request.api, request.version, request.body, ErrorCode.UNKNOWN_SERVER_ERROR)
        if response is CLOSE_CONNECTION:
            log.info("closing connection from %s: %s v%d asked to (correlation id %d)", self.peer, request.api.name, request.version, request.correlation_id)
            return False
        if response is not None:
            await self._respond(request.api, request.version, request.correlation_id, response)
        return True

    async def _dispatch(self, request: Any, fn: Any) -> Any:
        faults = self.broker.faults
        if faults.active:  # fault injection for client tests (kwire/faults.py): the one hook
            return await faults.intercept(self.broker, request, fn, self.peer)
        response = fn(self.broker, request)
        if inspect.isawaitable(response):
            response = await response
        return response

    async def _respond(self, api: Any, version: int, correlation_id: int, body: Any) -> None:
        chunks = encode_response(api, version, correlation_id, body)
        for chunk in chunks:
            if isinstance(chunk, FileRegion):
                await _sendfile(self.writer, chunk)
            else:
                self.writer.write(chunk)
        await self.writer.drain()


async def _sendfile(writer: asyncio.StreamWriter, region: FileRegion) -> None:
    """Send a file region on the writer's socket with os.sendfile, after
    everything already buffered in the transport has gone out."""
    transport = writer.transport
    await writer.drain()  # with a zero low-water mark: the buffer is empty now
    assert not transport.get_write_buffer_size()
    loop = asyncio.get_running_loop()
    sock: socket.socket = transport.get_extra_info("socket")
    in_fd = _fd_of(region.file)
    offset, remaining = region.position, region.size
    while remaining:
        try:
            sent = os.sendfile(sock.fileno(), in_fd, offset, remaining)
        except BlockingIOError:
            await _writable(loop, sock)
            continue
        except OSError as e:
            if e.errno == errno.EAGAIN:
                await _writable(loop, sock)
                continue
            raise ConnectionError(str(e)) from e
        if sent == 0:
            # The file is shorter than the region: a segment truncated under a
            # fetch. The frame size is already on the wire, so the connection
            # cannot be kept.
            raise ConnectionError("file region shrank during sendfile")
        offset += sent
        remaining -= sent


def _fd_of(file: Any) -> int:
    """A FileRegion's file: a descriptor, a holder of one (`fd`), or a file object."""
    if isinstance(file, int):
        return file
    fd = getattr(file, "fd", None)
    return fd if isinstance(fd, int) else file.fileno()


async def _writable(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> None:
    future = loop.create_future()
    fd = sock.fileno()
    loop.add_writer(fd, lambda: future.done() or future.set_result(None))
    try:
        await future
    finally:
        loop.remove_writer(fd)
