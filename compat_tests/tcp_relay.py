"""A TCP relay on 127.0.0.1: what the suite's proxies (lossy_proxy, capture_proxy) share.

A thread accepts clients on the listener, opens one connection to
`upstream` for each (a client whose upstream cannot be reached is closed)
and hands the pair to the subclass's `_relay`, which starts the threads
that copy between them. `_close_all` stops accepting, closes every socket
(shut down first, so that a thread blocked reading wakes) and joins the
threads.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

POLL_SECONDS = 0.2  # how often the accept loop looks whether it is stopping


class TcpRelay:
    def __init__(self, listener: socket.socket, upstream: tuple[str, int | None]) -> None:
        self.upstream = upstream
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []
        self._listener = listener
        self._listener.settimeout(POLL_SECONDS)
        self.port: int = listener.getsockname()[1]

    def _relay(self, client: socket.socket, upstream: socket.socket) -> None:
        """Start the threads that serve one accepted client and its upstream connection."""
        raise NotImplementedError

    def _spawn(self, target: Any, name: str, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.upstream, timeout=10)
            except OSError:
                close(client)
                continue
            with self._lock:
                self._sockets += [client, upstream]
            self._relay(client, upstream)

    def _close_all(self, timeout: float) -> None:
        self._stopping.set()
        with self._lock:
            sockets = [self._listener, *self._sockets]
        close(*sockets)
        deadline = time.monotonic() + timeout
        for thread in list(self._threads):
            thread.join(max(0.0, deadline - time.monotonic()))


def close(*sockets: socket.socket) -> None:
    for sock in sockets:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            sock.close()
        except OSError:
            pass
