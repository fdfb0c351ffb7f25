"""Timers for the coordinator: session, join, sync and pending-member expiry.

The coordinator never reads the wall clock or sleeps itself: it is given a
`clock()` (milliseconds) and a `Timers` object. `LoopTimers` runs callbacks
on the asyncio loop (`call_later`); `ManualTimers` (Kafka's MockTimer) runs
them only when a test advances its clock, so state-machine tests need no
sleeping and are deterministic.

A timer has a key (e.g. ("heartbeat", group, member)); scheduling a key
again replaces the earlier timer, as Kafka's timer keys do.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable, Hashable


class LoopTimers:
    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._loop = loop
        self._handles: dict[Hashable, asyncio.TimerHandle] = {}

    def schedule(self, key: Hashable, delay_ms: int, callback: Callable[[], None]) -> None:
        self.cancel(key)
        loop = self._loop or asyncio.get_running_loop()

        def fire() -> None:
            self._handles.pop(key, None)
            callback()

        self._handles[key] = loop.call_later(max(delay_ms, 0) / 1000, fire)

    def cancel(self, key: Hashable) -> None:
        handle = self._handles.pop(key, None)
        if handle is not None:
            handle.cancel()

    def is_scheduled(self, key: Hashable) -> bool:
        return key in self._handles

    def cancel_all(self) -> None:
        for handle in self._handles.values():
            handle.cancel()
        self._handles.clear()


class ManualClock:
    def __init__(self, now_ms: int = 1_700_000_000_000) -> None:
        self.now_ms = now_ms

    def __call__(self) -> int:
        return self.now_ms


class ManualTimers:
    """Timers that fire only in `advance`, in deadline order (ties: scheduling order)."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self._heap: list[tuple[int, int, Hashable]] = []
        self._live: dict[Hashable, tuple[int, Callable[[], None]]] = {}
        self._seq = itertools.count()

    def schedule(self, key: Hashable, delay_ms: int, callback: Callable[[], None]) -> None:
        seq = next(self._seq)
        self._live[key] = (seq, callback)
        heapq.heappush(self._heap, (self.clock.now_ms + max(delay_ms, 0), seq, key))

    def cancel(self, key: Hashable) -> None:
        self._live.pop(key, None)

    def is_scheduled(self, key: Hashable) -> bool:
        return key in self._live

    def cancel_all(self) -> None:
        self._live.clear()
        self._heap.clear()

    def advance(self, ms: int) -> None:
        """Move the clock `ms` forward, firing every timer that falls due on the way."""
        target = self.clock.now_ms + ms
        while self._heap and self._heap[0][0] <= target:
            deadline, seq, key = heapq.heappop(self._heap)
            live = self._live.get(key)
            if live is None or live[0] != seq:
                continue
            del self._live[key]
            self.clock.now_ms = max(self.clock.now_ms, deadline)
            live[1]()
        self.clock.now_ms = target
