"""Incremental fetch sessions (KIP-227).

A consumer (or follower) that fetches the same partitions over and over can
open a session: the first, full fetch names every partition; later fetches
name only what changed, and the response leaves out partitions with nothing
new. The request's (session_id, session_epoch) says which case applies:

    session_id  epoch   meaning
    0           -1      sessionless full fetch (no session)
    0            0      full fetch, open a new session
    X            0      close session X, full fetch, open a new session
    X           -1      close session X, sessionless full fetch
    X           N>0     incremental fetch in session X; N must be the next epoch

An unknown X answers FETCH_SESSION_ID_NOT_FOUND, a wrong N
INVALID_FETCH_SESSION_EPOCH (both top-level, no partitions). The cache holds
at most `max.incremental.fetch.session.cache.slots` (1000) sessions; when it
is full the least recently used session idle longer than the eviction time
makes room, otherwise the full fetch is answered without a session (id 0), as
Kafka does.

In an incremental response a partition is included when it has records, an
error, or a changed high watermark, last stable offset or log start offset.
Partitions that were returned move to the end of the session's order so
that a partition with steady traffic cannot starve the others of the
response's max_bytes.
"""

from __future__ import annotations

import random
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from kwire_protocol.error_codes import ErrorCode

INVALID_SESSION_ID = 0
INITIAL_EPOCH = 0
FINAL_EPOCH = -1

PartitionKey = tuple[str, int]  # (topic name, partition)


@dataclass
class FetchPartition:
    """What a fetch asks of one partition (from the request, or remembered by the session)."""

    topic: str
    partition: int
    fetch_offset: int
    partition_max_bytes: int
    current_leader_epoch: int = -1
    log_start_offset: int = -1  # the follower's, for replica fetches
    # What the last response told the client, to detect changes.
    sent_high_watermark: int = -1
    sent_last_stable_offset: int = -1
    sent_log_start_offset: int = -1

    @property
    def key(self) -> PartitionKey:
        return (self.topic, self.partition)


@dataclass
class PartitionResult:
    """The outcome of reading one partition, before it becomes response data."""

    topic: str
    partition: int
    error_code: int = ErrorCode.NONE
    high_watermark: int = -1
    last_stable_offset: int = -1
    log_start_offset: int = -1
    records_size: int = 0
    data: object = None  # whatever the fetch handler needs to build the response
    # read_committed: (producer id, first offset) of aborted transactions in the returned range
    aborted_transactions: list[tuple[int, int]] = field(default_factory=list)

    @property
    def key(self) -> PartitionKey:
        return (self.topic, self.partition)


@dataclass
class FetchSession:
    id: int
    epoch: int  # the epoch the next incremental request must carry
    partitions: OrderedDict[PartitionKey, FetchPartition]
    last_used: float = field(default=0.0)


class FetchContext:
    """The partitions one fetch request reads, and which of them it answers with."""

    def __init__(self, session: FetchSession | None, partitions: list[FetchPartition], incremental: bool, error: int = ErrorCode.NONE) -> None:
        self.session = session
        self.partitions = partitions
        self.incremental = incremental
        self.error = error

    @property
    def session_id(self) -> int:
        return INVALID_SESSION_ID if self.session is None else self.session.id

    def response_partitions(self, results: Iterable[PartitionResult]) -> list[PartitionResult]:
        """Filter results for the response (incremental: only what changed) and
        remember what was sent."""
        if self.session is None:
            return list(results)
        out = []
        session_partitions = self.session.partitions
        for result in results:
            cached = session_partitions.get(result.key)
            changed = (
                cached is None
                or result.records_size > 0
                or result.error_code != ErrorCode.NONE
                or result.high_watermark != cached.sent_high_watermark
                or result.last_stable_offset != cached.sent_last_stable_offset
                or result.log_start_offset != cached.sent_log_start_offset
            )
            if cached is not None:
                cached.sent_high_watermark = result.high_watermark
                cached.sent_last_stable_offset = result.last_stable_offset
                cached.sent_log_start_offset = result.log_start_offset
            if changed or not self.incremental:
                out.append(result)
                if self.incremental and cached is not None:
                    session_partitions.move_to_end(result.key)
        return out


class FetchSessionCache:
    def __init__(self, max_slots: int = 1000, eviction_ms: int = 120_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_slots = max_slots
        self.eviction_s = eviction_ms / 1000
        self.clock = clock
        self.sessions: OrderedDict[int, FetchSession] = OrderedDict()  # least recently used first
        self._random = random.Random()

    def new_context(
        self,
        session_id: int,
        epoch: int,
        partitions: list[FetchPartition],
        forgotten: Iterable[PartitionKey],
    ) -> FetchContext:
        now = self.clock()
        if epoch in (INITIAL_EPOCH, FINAL_EPOCH):
            if session_id != INVALID_SESSION_ID:
                self.sessions.pop(session_id, None)
            if epoch == FINAL_EPOCH:
                return FetchContext(None, partitions, incremental=False)
            session = self._create(partitions, now)
            return FetchContext(session, partitions, incremental=False)
        session = self.sessions.get(session_id)
        if session is None:
            return FetchContext(None, [], incremental=True, error=ErrorCode.FETCH_SESSION_ID_NOT_FOUND)
        if session.epoch != epoch:
            return FetchContext(None, [], incremental=True, error=ErrorCode.INVALID_FETCH_SESSION_EPOCH)
        for key in forgotten:
            session.partitions.pop(key, None)
        for update in partitions:
            cached = session.partitions.get(update.key)
            if cached is None:
                session.partitions[update.key] = update
            else:
                cached.fetch_offset = update.fetch_offset
                cached.partition_max_bytes = update.partition_max_bytes
                cached.current_leader_epoch = update.current_leader_epoch
                cached.log_start_offset = update.log_start_offset
        session.epoch = _next_epoch(epoch)
        session.last_used = now
        self.sessions.move_to_end(session_id)
        return FetchContext(session, list(session.partitions.values()), incremental=True)

    def _create(self, partitions: list[FetchPartition], now: float) -> FetchSession | None:
        if len(self.sessions) >= self.max_slots and not self._evict_one(now):
            return None
        session_id = INVALID_SESSION_ID
        while session_id == INVALID_SESSION_ID or session_id in self.sessions:
            session_id = self._random.randint(1, 2**31 - 1)
        session = FetchSession(session_id, _next_epoch(INITIAL_EPOCH), OrderedDict((p.key, p) for p in partitions), now)
        self.sessions[session_id] = session
        return session

    def _evict_one(self, now: float) -> bool:
        oldest_id, oldest = next(iter(self.sessions.items()))
        if now - oldest.last_used < self.eviction_s:
            return False
        del self.sessions[oldest_id]
        return True


def _next_epoch(epoch: int) -> int:
    # Epochs wrap from Integer.MAX_VALUE to 1 (0 and -1 are reserved).
    return 1 if epoch >= 2**31 - 1 else epoch + 1
