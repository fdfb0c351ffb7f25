"""Delayed operations: waits that appends or other events complete early.

Kafka keeps these in "purgatories". Here a waiter is an asyncio future keyed
by what it waits for (a partition); `notify(key)` completes every waiter on
that key. Fetch long polls wait on the partitions they read, under
`max.wait.ms`; a produce to any of them wakes them to re-read.
Everything runs on the broker's event loop thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable, Iterable


class Waiters:
    def __init__(self) -> None:
        self._waiting: dict[Hashable, set[asyncio.Future[None]]] = {}

    async def wait_any(self, keys: Iterable[Hashable], timeout: float) -> bool:
        """Wait until one of `keys` is notified or `timeout` seconds pass.
        Returns whether a notification came."""
        if timeout <= 0:
            return False
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        keys = list(keys)
        for key in keys:
            self._waiting.setdefault(key, set()).add(future)
        try:
            await asyncio.wait_for(asyncio.shield(future), timeout)
            return True
        except asyncio.TimeoutError:
            return False
        finally:
            for key in keys:
                waiting = self._waiting.get(key)
                if waiting is not None:
                    waiting.discard(future)
                    if not waiting:
                        del self._waiting[key]

    def notify(self, key: Hashable) -> None:
        waiting = self._waiting.pop(key, None)
        if waiting:
            for future in waiting:
                if not future.done():
                    future.set_result(None)
