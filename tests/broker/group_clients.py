"""What the group tests share: polling members until a condition holds, and
a member in a child process that can be SIGKILLed."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from kafka import KafkaConsumer


def poll_until(consumers: list[Any], predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    """Poll every (kafka-python or confluent-kafka) consumer until `predicate()` holds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        for c in consumers:
            c.poll(50) if isinstance(c, KafkaConsumer) else c.poll(0.05)


@contextlib.contextmanager
def child_process(*args: str) -> Iterator[subprocess.Popen[str]]:
    """`python -c args...` with a non-blocking stdout; killed (if still running) at the end."""
    child = subprocess.Popen([sys.executable, "-c", *args], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        os.set_blocking(child.stdout.fileno(), False)
        yield child
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
            child.wait(10)
        if child.stdout is not None:
            child.stdout.close()


def announced(child: subprocess.Popen[str]) -> bool:
    """Whether the child printed its "assigned" line."""
    assert child.stdout is not None
    return "assigned" in (child.stdout.readline() or "")
