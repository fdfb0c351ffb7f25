"""Shared helpers for the kwire_raft tests: bounded polling, free ports, fast timings."""

from __future__ import annotations

import socket
import time
from typing import Callable, TypeVar

from kwire_raft import RaftTimings

T = TypeVar("T")

# Three voters in one test process: elections in a few hundred ms, still far
# above the heartbeat period so that a busy 2-core CI machine does not flap.
FAST_MULTI = RaftTimings(idle_tick=0.01, busy_tick=0.002, append_entries_period=0.03, election_min=0.15,
                         election_max=0.3, connection_timeout=0.6, connection_retry=0.1, leader_fallback=0.6)


def wait_for(predicate: Callable[[], T], timeout: float, what: str, interval: float = 0.005) -> T:
    """Poll `predicate` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def free_ports(count: int) -> list[int]:
    """Ports free on 127.0.0.1 right now (held open together so they differ)."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()
