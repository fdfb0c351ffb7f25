"""Producer ids, handed out from blocks the metadata quorum allocates.

As in Kafka (KIP-730), the quorum records only which blocks are taken, so
an id is never handed out twice, also across restarts: a restarted broker
takes a fresh block and the unused rest of the old one is lost, which is
harmless (ids are 63-bit).
"""

from __future__ import annotations

import asyncio
from typing import Any

BLOCK_SIZE = 1000
ALLOCATION_TIMEOUT_S = 10.0


class ProducerIdManager:
    def __init__(self, quorum: Any) -> None:
        self.quorum = quorum
        self._next = 0
        self._end = 0
        self._lock = asyncio.Lock()

    async def next_id(self) -> int:
        async with self._lock:
            if self._next >= self._end:
                start = await asyncio.wait_for(asyncio.wrap_future(self.quorum.allocate_producer_ids(BLOCK_SIZE)), ALLOCATION_TIMEOUT_S)
                self._next, self._end = start, start + BLOCK_SIZE
            producer_id = self._next
            self._next += 1
            return producer_id
