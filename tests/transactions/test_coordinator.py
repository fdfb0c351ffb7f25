"""The transaction coordinator's state machine, driven with an in-memory
__transaction_state, a recording marker writer and a manual clock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from kwire_protocol.error_codes import ErrorCode

from kwire.groups.timers import ManualClock
from kwire.transactions import coordinator as coordinator_module
from kwire.transactions import records
from kwire.transactions.coordinator import TransactionConfig, TransactionCoordinator
from kwire.transactions.metadata import SHORT_MAX
from kwire.transactions.state import TransactionState

PARTITIONS = 4
TIMEOUT = 60000
TID = "tx-1"
A0, A1, B0 = ("a", 0), ("a", 1), ("b", 0)


class MemoryLog:
    def __init__(self) -> None:
        self.records: dict[int, list[tuple[bytes, bytes | None]]] = {}
        self.fail_with = ErrorCode.NONE

    async def append(self, partition: int, pairs: list[tuple[bytes, bytes | None]]) -> int:
        if self.fail_with:
            return self.fail_with
        self.records.setdefault(partition, []).extend(pairs)
        return ErrorCode.NONE

    def states(self, transactional_id: str) -> list[str]:
        out = []
        for pairs in self.records.values():
            for key, value in pairs:
                record = records.decode(key, value)
                if record is not None and record.transactional_id == transactional_id:
                    out.append("tombstone" if record.value is None else record.value.state.state_name)
        return out


class Markers:
    def __init__(self) -> None:
        self.written: list[tuple[tuple[str, int], int, int, bool]] = []
        self.errors: dict[tuple[str, int], list[int]] = {}  # partition -> errors to answer first

    def write(self, partition: tuple[str, int], producer_id: int, producer_epoch: int, coordinator_epoch: int, commit: bool) -> int:
        queued = self.errors.get(partition)
        if queued:
            return queued.pop(0)
        self.written.append((partition, producer_id, producer_epoch, commit))
        return ErrorCode.NONE


class ProducerIds:
    def __init__(self, start: int = 1000) -> None:
        self.next = start

    async def next_id(self) -> int:
        self.next += 1
        return self.next - 1


class Harness:
    def __init__(self, **config: Any) -> None:
        self.clock = ManualClock()
        self.log = MemoryLog()
        self.markers = Markers()
        self.producer_ids = ProducerIds()
        settings = {"num_partitions": PARTITIONS, **config}
        self.coordinator = TransactionCoordinator(TransactionConfig(**settings), self.log, self.markers, self.producer_ids, self.clock)
        for p in range(PARTITIONS):
            self.coordinator.begin_loading(p, 0)
            self.coordinator.load_partition(p, [])

    async def init(self, tid: str = TID, expected: tuple[int, int] | None = None, timeout: int = TIMEOUT) -> tuple[int, int, int]:
        return await self.coordinator.init_producer_id(tid, timeout, expected)

    async def end(self, pid: int, epoch: int, commit: bool, tv: int = 0, tid: str = TID) -> tuple[int, int, int]:
        result = await self.coordinator.end_transaction(tid, pid, epoch, commit, tv)
        await self.coordinator.idle()
        return result

    def state(self, tid: str = TID) -> TransactionState:
        return self.coordinator.transactions[tid].state


def run(test: Callable[[Harness], Coroutine[Any, Any, None]], **config: Any) -> None:
    async def main() -> None:
        await test(Harness(**config))

    asyncio.run(main())


def test_init_then_reinit_bumps_the_epoch_and_stores_empty() -> None:
    async def body(h: Harness) -> None:
        assert await h.init() == (ErrorCode.NONE, 1000, 0)
        assert await h.init() == (ErrorCode.NONE, 1000, 1)
        assert h.log.states(TID) == ["Empty", "Empty"]
        assert await h.init(tid="") == (ErrorCode.INVALID_REQUEST, -1, -1)
        assert await h.init(timeout=TIMEOUT * 100) == (ErrorCode.INVALID_TRANSACTION_TIMEOUT, -1, -1)
    run(body)


def test_commit_writes_markers_to_every_partition_then_completes() -> None:
    async def body(h: Harness) -> None:
        _, pid, epoch = await h.init()
        assert await h.coordinator.add_partitions(TID, pid, epoch, {A0, A1}) == ErrorCode.NONE
        assert await h.coordinator.add_partitions(TID, pid, epoch, {B0}) == ErrorCode.NONE
        assert h.coordinator.transactions[TID].partitions == {A0, A1, B0}
        assert await h.end(pid, epoch, True) == (ErrorCode.NONE, -1, -1)
        assert sorted(h.markers.written) == [(A0, pid, epoch, True), (A1, pid, epoch, True), (B0, pid, epoch, True)]
        assert h.state() == TransactionState.COMPLETE_COMMIT
        assert h.log.states(TID) == ["Empty", "Ongoing", "Ongoing", "PrepareCommit", "CompleteCommit"]
        # A retried commit is answered NONE; an abort now is INVALID_TXN_STATE; so is committing nothing.
        assert await h.end(pid, epoch, True) == (ErrorCode.NONE, -1, -1)
        assert (await h.end(pid, epoch, False))[0] == ErrorCode.INVALID_TXN_STATE
        _, pid, epoch = await h.init()
        assert (await h.end(pid, epoch, True))[0] == ErrorCode.INVALID_TXN_STATE
    run(body)


def test_end_txn_errors() -> None:
    async def body(h: Harness) -> None:
        assert (await h.end(5, 0, True))[0] == ErrorCode.INVALID_PRODUCER_ID_MAPPING
        _, pid, epoch = await h.init()
        await h.coordinator.add_partitions(TID, pid, epoch, {A0})
        assert (await h.end(pid + 1, epoch, True))[0] == ErrorCode.INVALID_PRODUCER_ID_MAPPING
        assert (await h.end(pid, epoch + 1, True))[0] == ErrorCode.PRODUCER_FENCED
        assert await h.coordinator.add_partitions(TID, pid + 1, epoch, {A1}) == ErrorCode.INVALID_PRODUCER_ID_MAPPING
        assert await h.coordinator.add_partitions("unknown", pid, epoch, {A1}) == ErrorCode.INVALID_PRODUCER_ID_MAPPING
        assert h.markers.written == []
    run(body)


def test_a_second_producer_fences_the_first_and_aborts_its_transaction() -> None:
    async def body(h: Harness) -> None:
        _, pid, old = await h.init()
        await h.coordinator.add_partitions(TID, pid, old, {A0, B0})
        # The new producer's InitProducerId aborts the ongoing transaction first.
        assert await h.init() == (ErrorCode.CONCURRENT_TRANSACTIONS, -1, -1)
        await h.coordinator.idle()
        assert h.state() == TransactionState.COMPLETE_ABORT
        fenced_epochs = {epoch for _, _, epoch, commit in h.markers.written if not commit}
        assert len(h.markers.written) == 2 and min(fenced_epochs) > old
        err, pid2, new = await h.init()
        assert (err, pid2) == (ErrorCode.NONE, pid) and new > max(fenced_epochs)
        # The zombie is fenced everywhere.
        assert await h.coordinator.add_partitions(TID, pid, old, {A1}) == ErrorCode.PRODUCER_FENCED
        assert (await h.end(pid, old, True))[0] == ErrorCode.PRODUCER_FENCED
        assert h.coordinator.verify_partitions(TID, pid, old, [A0]) == {A0: ErrorCode.PRODUCER_FENCED}
    run(body)


def test_kip_360_epoch_bump_and_its_retry() -> None:
    async def body(h: Harness) -> None:
        _, pid, epoch = await h.init()
        assert await h.init(expected=(pid, epoch)) == (ErrorCode.NONE, pid, epoch + 1)
        # A retry of that bump (the client missed the answer) gets the same epoch.
        assert await h.init(expected=(pid, epoch)) == (ErrorCode.NONE, pid, epoch + 1)
        assert (await h.init(expected=(pid, epoch + 7)))[0] == ErrorCode.PRODUCER_FENCED
        assert (await h.init(expected=(pid + 50, 0)))[0] == ErrorCode.PRODUCER_FENCED
    run(body)


def test_exhausted_epoch_rotates_the_producer_id() -> None:
    async def body(h: Harness) -> None:
        _, pid, _ = await h.init()
        h.coordinator.transactions[TID].producer_epoch = SHORT_MAX - 1
        err, new_pid, epoch = await h.init()
        assert (err, epoch) == (ErrorCode.NONE, 0) and new_pid != pid
    run(body)


def test_transactions_v2_bump_the_epoch_at_every_end() -> None:
    async def body(h: Harness) -> None:
        _, pid, epoch = await h.init()
        assert await h.coordinator.add_partitions(TID, pid, epoch, {A0}, 2) == ErrorCode.NONE
        assert await h.end(pid, epoch, True, tv=2) == (ErrorCode.NONE, pid, epoch + 1)
        # Markers carry the bumped epoch, so a late write of this transaction is fenced by the partition.
        assert h.markers.written == [(A0, pid, epoch + 1, True)]
        # The retry (old epoch) is answered with the new epoch; a late implicit add with it is fenced.
        assert await h.end(pid, epoch, True, tv=2) == (ErrorCode.NONE, pid, epoch + 1)
        assert await h.coordinator.add_partitions(TID, pid, epoch, {A1}, 2) == ErrorCode.PRODUCER_FENCED
        # The next transaction runs at the new epoch; aborting with nothing added is allowed (v2).
        assert await h.end(pid, epoch + 1, False, tv=2) == (ErrorCode.NONE, pid, epoch + 2)
        assert h.state() == TransactionState.COMPLETE_ABORT
        assert (await h.end(pid, epoch + 2, True, tv=2))[0] == ErrorCode.INVALID_TXN_STATE
    run(body)


def test_transactions_v2_epoch_overflow_moves_to_a_new_producer_id() -> None:
    async def body(h: Harness) -> None:
        _, pid, _ = await h.init()
        h.coordinator.transactions[TID].producer_epoch = SHORT_MAX - 1
        await h.coordinator.add_partitions(TID, pid, SHORT_MAX - 1, {A0}, 2)
        err, new_pid, new_epoch = await h.end(pid, SHORT_MAX - 1, True, tv=2)
        assert (err, new_epoch) == (ErrorCode.NONE, 0) and new_pid != pid
        assert h.markers.written == [(A0, pid, SHORT_MAX, True)]
        assert h.coordinator.transactions[TID].producer_id == new_pid
    run(body)


def test_timed_out_transaction_is_aborted_and_its_producer_fenced() -> None:
    async def body(h: Harness) -> None:
        _, pid, epoch = await h.init(timeout=1000)
        await h.coordinator.add_partitions(TID, pid, epoch, {A0})
        h.clock.now_ms += 1000
        await h.coordinator.abort_timed_out_transactions()
        assert h.state() == TransactionState.ONGOING  # not older than its timeout yet
        h.clock.now_ms += 1
        await h.coordinator.abort_timed_out_transactions()
        await h.coordinator.idle()
        assert h.state() == TransactionState.COMPLETE_ABORT
        [(partition, marker_pid, marker_epoch, commit)] = h.markers.written
        assert (partition, marker_pid, commit) == (A0, pid, False) and marker_epoch > epoch
        assert (await h.end(pid, epoch, True))[0] == ErrorCode.PRODUCER_FENCED
    run(body)


async def _time_out(h: Harness, tid: str) -> None:
    h.clock.now_ms += 1001
    await h.coordinator.abort_timed_out_transactions()
    await h.coordinator.idle()
    assert h.state(tid) == TransactionState.COMPLETE_ABORT


def test_fenced_epochs_are_kafkas() -> None:
    """Every answer below is what Kafka 4.4 gave to the same raw requests
    (compat_tests.reference_kafka; producer id p, first epoch 0). A timeout
    abort runs under the broker's transaction.version (2) for v1 and v2
    clients alike: one bump, the fenced epoch kept as last epoch, so the
    fenced producer's abort retry (v2) and KIP-360 InitProducerId are
    answered as retries."""
    async def body(h: Harness) -> None:
        # A v2 client (EndTxn v5) whose transaction times out.
        _, pid, _ = await h.init(tid="v2", timeout=1000)
        await h.coordinator.add_partitions("v2", pid, 0, {A0}, 2)
        await _time_out(h, "v2")
        assert h.markers.written[-1] == (A0, pid, 1, False)
        assert (await h.end(pid, 0, True, tv=2, tid="v2"))[0] == ErrorCode.INVALID_TXN_STATE
        assert await h.end(pid, 0, False, tv=2, tid="v2") == (ErrorCode.NONE, pid, 1)
        assert await h.init(tid="v2", expected=(pid, 0)) == (ErrorCode.NONE, pid, 1)
        assert h.state("v2") == TransactionState.EMPTY
        assert await h.init(tid="v2") == (ErrorCode.NONE, pid, 2)

        # A v1 client (EndTxn v3) whose transaction times out.
        _, pid, _ = await h.init(tid="v1", timeout=1000)
        await h.coordinator.add_partitions("v1", pid, 0, {A0})
        await _time_out(h, "v1")
        assert h.markers.written[-1] == (A0, pid, 1, False)
        assert (await h.end(pid, 0, True, tid="v1"))[0] == ErrorCode.PRODUCER_FENCED
        assert (await h.end(pid, 0, False, tid="v1"))[0] == ErrorCode.PRODUCER_FENCED
        assert await h.init(tid="v1", expected=(pid, 0)) == (ErrorCode.NONE, pid, 1)

        # A v2 client fenced by a second producer's InitProducerId.
        _, pid, _ = await h.init(tid="fenced")
        await h.coordinator.add_partitions("fenced", pid, 0, {A0}, 2)
        assert await h.init(tid="fenced") == (ErrorCode.CONCURRENT_TRANSACTIONS, -1, -1)
        await h.coordinator.idle()
        assert h.markers.written[-1] == (A0, pid, 1, False)
        assert await h.init(tid="fenced") == (ErrorCode.NONE, pid, 2)
        assert (await h.end(pid, 0, True, tv=2, tid="fenced"))[0] == ErrorCode.PRODUCER_FENCED
        assert (await h.end(pid, 0, False, tv=2, tid="fenced"))[0] == ErrorCode.PRODUCER_FENCED
        assert (await h.init(tid="fenced", expected=(pid, 0)))[0] == ErrorCode.PRODUCER_FENCED
        assert await h.end(pid, 2, False, tv=2, tid="fenced") == (ErrorCode.NONE, pid, 3)
    run(body)


def test_recovery_completes_prepared_transactions_and_keeps_ongoing_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(coordinator_module, "MARKER_RETRY_BACKOFF_S", 0.001)

    async def body(h: Harness) -> None:
        _, pid, epoch = await h.init()
        await h.coordinator.add_partitions(TID, pid, epoch, {A0, B0})
        _, pid2, epoch2 = await h.init(tid="tx-2")
        await h.coordinator.add_partitions("tx-2", pid2, epoch2, {A1})
        h.markers.errors[A0] = [ErrorCode.NOT_LEADER_OR_FOLLOWER] * 1000  # the markers never land before the "crash"
        await h.coordinator.end_transaction(TID, pid, epoch, True, 0)
        await asyncio.sleep(0.01)
        h.coordinator.shutdown()
        assert h.state() == TransactionState.PREPARE_COMMIT
        # A new coordinator loads the same log.
        restarted = Harness()
        restarted.log = h.log
        restarted.coordinator.log = h.log
        for p in range(PARTITIONS):
            restarted.coordinator.begin_loading(p, 1)
        assert await restarted.coordinator.init_producer_id(TID, TIMEOUT) == (ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, -1, -1)
        for p in range(PARTITIONS):
            restarted.coordinator.load_partition(p, h.log.records.get(p, []))
        await restarted.coordinator.idle()
        assert restarted.state(TID) == TransactionState.COMPLETE_COMMIT
        assert sorted(restarted.markers.written) == [(A0, pid, epoch, True), (B0, pid, epoch, True)]
        assert restarted.state("tx-2") == TransactionState.ONGOING
        restarted.coordinator.unload_partition(restarted.coordinator.partition_for(TID))
        assert await restarted.coordinator.init_producer_id(TID, TIMEOUT) == (ErrorCode.NOT_COORDINATOR, -1, -1)
    run(body)


def test_marker_to_a_deleted_partition_is_skipped_and_failures_are_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(coordinator_module, "MARKER_RETRY_BACKOFF_S", 0.001)

    async def body(h: Harness) -> None:
        _, pid, epoch = await h.init()
        await h.coordinator.add_partitions(TID, pid, epoch, {A0, B0})
        h.markers.errors[A0] = [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]
        h.markers.errors[B0] = [ErrorCode.KAFKA_STORAGE_ERROR, ErrorCode.NOT_LEADER_OR_FOLLOWER]
        assert (await h.end(pid, epoch, False))[0] == ErrorCode.NONE
        assert h.markers.written == [(B0, pid, epoch, False)]
        assert h.state() == TransactionState.COMPLETE_ABORT
    run(body)


def test_requests_while_the_markers_are_written_get_concurrent_transactions() -> None:
    """Kafka 4.4 answered these while a commit's markers were being written
    (compat_tests.reference_kafka, raw requests): CONCURRENT_TRANSACTIONS to
    AddPartitionsToTxn (even with a wrong producer id: the pending transition
    is checked first), to an EndTxn abort and to InitProducerId."""
    async def body(h: Harness) -> None:
        _, pid, epoch = await h.init()
        await h.coordinator.add_partitions(TID, pid, epoch, {A0})
        assert await h.coordinator.end_transaction(TID, pid, epoch, True, 0) == (ErrorCode.NONE, -1, -1)
        assert h.state() == TransactionState.PREPARE_COMMIT  # the marker task has not run yet
        assert await h.coordinator.add_partitions(TID, pid + 1, epoch, {A1}) == ErrorCode.CONCURRENT_TRANSACTIONS
        assert (await h.coordinator.end_transaction(TID, pid, epoch, False, 0))[0] == ErrorCode.CONCURRENT_TRANSACTIONS
        assert (await h.init())[0] == ErrorCode.CONCURRENT_TRANSACTIONS
        await h.coordinator.idle()
        assert h.state() == TransactionState.COMPLETE_COMMIT
        assert await h.coordinator.add_partitions(TID, pid + 1, epoch, {A1}) == ErrorCode.INVALID_PRODUCER_ID_MAPPING
    run(body)


def test_marker_refused_for_a_newer_epoch_leaves_the_transaction_prepared(monkeypatch: pytest.MonkeyPatch) -> None:
    """Kafka 4.4's TransactionMarkerRequestCompletionHandler: INVALID_PRODUCER_EPOCH
    or TRANSACTION_COORDINATOR_FENCED from a partition cancels the markers and the
    completion; the transaction stays prepared with its completion pending."""
    monkeypatch.setattr(coordinator_module, "MARKER_RETRY_BACKOFF_S", 0.001)

    async def body(h: Harness) -> None:
        for refusal, tid in ((ErrorCode.INVALID_PRODUCER_EPOCH, "tx-epoch"), (ErrorCode.TRANSACTION_COORDINATOR_FENCED, "tx-coordinator")):
            _, pid, epoch = await h.init(tid=tid)
            await h.coordinator.add_partitions(tid, pid, epoch, {A0, B0})
            h.markers.errors[A0] = [refusal]
            assert await h.end(pid, epoch, True, tid=tid) == (ErrorCode.NONE, -1, -1)
            assert (B0, pid, epoch, True) in h.markers.written  # the other partition got its marker
            assert h.state(tid) == TransactionState.PREPARE_COMMIT
            assert h.log.states(tid)[-1] == "PrepareCommit"
            assert (await h.init(tid=tid))[0] == ErrorCode.CONCURRENT_TRANSACTIONS
            assert (await h.end(pid, epoch, True, tid=tid))[0] == ErrorCode.CONCURRENT_TRANSACTIONS
    run(body)


def test_failed_log_append_leaves_the_state_unchanged() -> None:
    async def body(h: Harness) -> None:
        _, pid, epoch = await h.init()
        h.log.fail_with = ErrorCode.NOT_LEADER_OR_FOLLOWER
        assert await h.coordinator.add_partitions(TID, pid, epoch, {A0}) == ErrorCode.NOT_COORDINATOR
        h.log.fail_with = ErrorCode.NOT_ENOUGH_REPLICAS
        assert await h.coordinator.add_partitions(TID, pid, epoch, {A0}) == ErrorCode.COORDINATOR_NOT_AVAILABLE
        meta = h.coordinator.transactions[TID]
        assert (meta.state, meta.partitions, meta.pending_state) == (TransactionState.EMPTY, set(), None)
        h.log.fail_with = ErrorCode.NONE
        assert await h.coordinator.add_partitions(TID, pid, epoch, {A0}) == ErrorCode.NONE
    run(body)


def test_idle_transactional_ids_expire() -> None:
    async def body(h: Harness) -> None:
        _, pid, epoch = await h.init()
        await h.init(tid="busy")
        _, bpid, bepoch = await h.init(tid="busy")
        h.clock.now_ms += 1000
        await h.coordinator.add_partitions("busy", bpid, bepoch, {A0})
        h.clock.now_ms += 500
        await h.coordinator.expire_transactional_ids()  # expiration_ms below
        assert TID not in h.coordinator.transactions and "busy" in h.coordinator.transactions
        assert h.log.states(TID)[-1] == "tombstone"
        assert h.coordinator.describe(TID) == (ErrorCode.TRANSACTIONAL_ID_NOT_FOUND, None)
        # An expired id starts over with a new producer id.
        err, new_pid, new_epoch = await h.init()
        assert (err, new_epoch) == (ErrorCode.NONE, 0) and new_pid != pid
    run(body, transactional_id_expiration_ms=1200)


def test_list_and_describe() -> None:
    async def body(h: Harness) -> None:
        _, pid, epoch = await h.init()
        await h.coordinator.add_partitions(TID, pid, epoch, {A0})
        _, pid2, _ = await h.init(tid="other")
        error, unknown, listed = h.coordinator.list_transactions([], [])
        assert (error, unknown) == (ErrorCode.NONE, [])
        assert sorted((t.transactional_id, t.producer_id, t.state) for t in listed) == [("other", pid2, "Empty"), (TID, pid, "Ongoing")]
        error, unknown, listed = h.coordinator.list_transactions(["Ongoing", "Bogus"], [])
        assert (unknown, [t.transactional_id for t in listed]) == (["Bogus"], [TID])
        assert [t.transactional_id for t in h.coordinator.list_transactions([], [pid2])[2]] == ["other"]
        assert [t.transactional_id for t in h.coordinator.list_transactions([], [], -1, "oth.*")[2]] == ["other"]
        assert h.coordinator.list_transactions([], [], -1, "(")[0] == ErrorCode.INVALID_REGULAR_EXPRESSION
        h.clock.now_ms += 5000
        assert [t.transactional_id for t in h.coordinator.list_transactions(["Ongoing"], [], 4000)[2]] == [TID]
        assert h.coordinator.list_transactions(["Ongoing"], [], 6000)[2] == []
        error, meta = h.coordinator.describe(TID)
        assert meta is not None and (error, meta.state, meta.partitions, meta.producer_epoch) == (ErrorCode.NONE, TransactionState.ONGOING, {A0}, epoch)
        assert h.coordinator.describe("") == (ErrorCode.INVALID_REQUEST, None)
    run(body)


@pytest.mark.parametrize("state", list(TransactionState))
def test_records_round_trip(state: TransactionState) -> None:
    from kwire.transactions.metadata import Transit

    partitions = frozenset() if state in (TransactionState.EMPTY, TransactionState.DEAD) else frozenset({A0, A1, B0})
    transit = Transit(7, 6, 9, 3, -1, 1000, state, partitions, 11, 12, 2)
    decoded = records.decode(records.key("t"), records.value(transit))
    assert decoded is not None and decoded.transactional_id == "t" and decoded.value == transit
    assert records.decode(records.key("t"), None) == records.TransactionRecord("t", None)


# -- property: what is stored is what the coordinator holds ------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

OPERATIONS = st.lists(st.tuples(
    st.sampled_from(["init", "init-bump", "add", "add-v2", "commit", "abort", "commit-v2", "abort-v2", "timeout", "stale-add"]),
    st.sampled_from(["t-a", "t-b"]),
    st.sampled_from([A0, A1, B0]),
), max_size=25)


@settings(max_examples=60, deadline=None)
@given(OPERATIONS)
def test_replaying_the_log_rebuilds_the_coordinators_state(operations: list[tuple[str, str, tuple[str, int]]]) -> None:
    """Whatever clients do, a coordinator that loads the stored records holds
    what the live one holds, and a producer id's epoch never goes back."""
    async def body(h: Harness) -> None:
        known: dict[str, tuple[int, int]] = {}
        seen_epochs: dict[int, int] = {}
        for op, tid, partition in operations:
            pid, epoch = known.get(tid, (-1, -1))
            if op == "init":
                error, new_pid, new_epoch = await h.init(tid=tid, timeout=1000)
            elif op == "init-bump":
                error, new_pid, new_epoch = await h.init(tid=tid, expected=None if pid < 0 else (pid, epoch), timeout=1000)
            elif op in ("add", "add-v2"):
                await h.coordinator.add_partitions(tid, pid, epoch, {partition}, 2 if op == "add-v2" else 0)
                error = ErrorCode.UNKNOWN_SERVER_ERROR
            elif op == "stale-add":
                assert await h.coordinator.add_partitions(tid, pid, epoch - 1, {partition}) in (
                    ErrorCode.PRODUCER_FENCED, ErrorCode.INVALID_PRODUCER_ID_MAPPING)
                error = ErrorCode.UNKNOWN_SERVER_ERROR
            elif op == "timeout":
                h.clock.now_ms += 1001
                await h.coordinator.abort_timed_out_transactions()
                error = ErrorCode.UNKNOWN_SERVER_ERROR
            else:
                v2 = op.endswith("-v2")
                error, new_pid, new_epoch = await h.end(pid, epoch, op.startswith("commit"), tv=2 if v2 else 0, tid=tid)
                if not (v2 and error == ErrorCode.NONE):
                    error = ErrorCode.UNKNOWN_SERVER_ERROR
            await h.coordinator.idle()
            if error == ErrorCode.NONE:
                known[tid] = (new_pid, new_epoch)
            for meta in h.coordinator.transactions.values():
                assert meta.pending_state is None
                assert meta.producer_epoch >= seen_epochs.get(meta.producer_id, -1)
                seen_epochs[meta.producer_id] = meta.producer_epoch
        replayed = Harness()
        for p in range(PARTITIONS):
            replayed.coordinator.begin_loading(p, 0)
            replayed.coordinator.load_partition(p, h.log.records.get(p, []))
        await replayed.coordinator.idle()

        def view(c: TransactionCoordinator) -> dict[str, Any]:
            return {t: (m.producer_id, m.producer_epoch, m.state, m.partitions, m.txn_timeout_ms, m.txn_start_timestamp)
                    for t, m in c.transactions.items()}
        assert view(replayed.coordinator) == view(h.coordinator)
    run(body)
