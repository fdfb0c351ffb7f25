"""KIP-227 fetch session cache: epochs, errors, incremental filtering, eviction."""

from __future__ import annotations

from kwire.fetch_sessions import FetchPartition, FetchSessionCache, PartitionResult
from kwire_protocol.error_codes import ErrorCode


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _p(topic: str, partition: int, offset: int = 0) -> FetchPartition:
    return FetchPartition(topic, partition, offset, 1 << 20)


def _r(topic: str, partition: int, hw: int, size: int = 0) -> PartitionResult:
    return PartitionResult(topic, partition, high_watermark=hw, last_stable_offset=hw, log_start_offset=0, records_size=size)


def test_sessionless_full_fetch_opens_nothing() -> None:
    cache = FetchSessionCache()
    ctx = cache.new_context(0, -1, [_p("a", 0)], [])
    assert ctx.session_id == 0 and not cache.sessions
    assert [r.key for r in ctx.response_partitions([_r("a", 0, 5)])] == [("a", 0)]


def test_full_then_incremental_only_returns_changes() -> None:
    cache = FetchSessionCache()
    full = cache.new_context(0, 0, [_p("a", 0), _p("a", 1), _p("b", 0)], [])
    session_id = full.session_id
    assert session_id != 0
    assert len(full.response_partitions([_r("a", 0, 5), _r("a", 1, 0), _r("b", 0, 3)])) == 3

    inc = cache.new_context(session_id, 1, [], [])
    assert inc.error == ErrorCode.NONE
    assert [p.key for p in inc.partitions] == [("a", 0), ("a", 1), ("b", 0)]
    out = inc.response_partitions([_r("a", 0, 5), _r("a", 1, 2, size=100), _r("b", 0, 3)])
    assert [r.key for r in out] == [("a", 1)]
    # a returned partition moves to the end of the session's order
    inc2 = cache.new_context(session_id, 2, [_p("a", 0, offset=5)], [("b", 0)])
    assert [(p.key, p.fetch_offset) for p in inc2.partitions] == [(("a", 0), 5), (("a", 1), 0)]


def test_wrong_epoch_and_unknown_session() -> None:
    cache = FetchSessionCache()
    session_id = cache.new_context(0, 0, [_p("a", 0)], []).session_id
    assert cache.new_context(session_id, 5, [], []).error == ErrorCode.INVALID_FETCH_SESSION_EPOCH
    assert cache.new_context(session_id + 1, 1, [], []).error == ErrorCode.FETCH_SESSION_ID_NOT_FOUND
    # closing with epoch -1 removes the session
    assert cache.new_context(session_id, -1, [_p("a", 0)], []).session_id == 0
    assert cache.new_context(session_id, 1, [], []).error == ErrorCode.FETCH_SESSION_ID_NOT_FOUND


def test_full_cache_evicts_only_idle_sessions() -> None:
    clock = Clock()
    cache = FetchSessionCache(max_slots=2, eviction_ms=1000, clock=clock)
    first = cache.new_context(0, 0, [_p("a", 0)], []).session_id
    cache.new_context(0, 0, [_p("a", 0)], [])
    assert cache.new_context(0, 0, [_p("a", 0)], []).session_id == 0  # full, nothing idle: no session
    clock.now = 2.0
    third = cache.new_context(0, 0, [_p("a", 0)], []).session_id
    assert third != 0 and first not in cache.sessions
