"""The transaction coordinator (Kafka's TransactionCoordinator and the
in-memory half of its TransactionStateManager), owning every transactional
id of the __transaction_state partitions led here, on the event loop.

It never touches the broker: it is given the transaction log
(`TransactionLog.append`, records of __transaction_state), a marker writer
(`MarkerWriter.write`, one control batch on one data partition), producer
ids and a clock, so tests drive it with fakes and a manual clock.

Each request validates against the transactional id's metadata, prepares a
transition (the metadata turns pending: concurrent requests get
CONCURRENT_TRANSACTIONS), appends it to __transaction_state and only then
applies it, as Kafka does. Ending a transaction stores PrepareCommit or
PrepareAbort, answers the client, writes a marker to every partition of
the transaction (retrying until each is written or its topic is gone), and
stores CompleteCommit or CompleteAbort. A marker refused for a newer
producer epoch or coordinator epoch stops the markers and leaves the
transaction prepared, as Kafka's TransactionMarkerRequestCompletionHandler.

Epoch rules follow Kafka 4.4: InitProducerId bumps the epoch (KIP-360: a
producer naming its current id and epoch keeps its id; the previous epoch
marks a retry) and fences an ongoing transaction by aborting it with a
bumped epoch (CONCURRENT_TRANSACTIONS until done); an exhausted epoch
(32766) rotates to a new producer id. Transactions v2 (KIP-890, EndTxn v5)
bump the epoch at every EndTxn, write the markers with the bumped epoch
(so a late write of the finished transaction is fenced by the partition),
and accept the retry rules of Kafka's table (handle_end_transaction).
Timed-out transactions are fenced and aborted the same way, under the
broker's transaction version (2) whatever the client's; a v2 fence is the
abort's one bump, the fenced epoch kept as the last epoch (Kafka 4.4's
answers, compared with compat_tests.reference_kafka). Idle transactional
ids in Empty/Complete states expire (a tombstone).

Not implemented: KIP-939 two-phase commit (InitProducerId v6 is not
advertised, as Kafka 4.4 does not).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.errors import ProtocolError

from kwire.transactions import records
from kwire.transactions.metadata import (
    NO_PRODUCER_EPOCH,
    NO_PRODUCER_ID,
    SHORT_MAX,
    IllegalTransition,
    TopicPartition,
    TransactionMetadata,
    Transit,
    is_epoch_exhausted,
)
from kwire.transactions.state import TransactionState

log = logging.getLogger(__name__)

S = TransactionState
MARKER_RETRY_BACKOFF_S = 0.1
MARKER_RETRY_MAX_BACKOFF_S = 5.0


class TransactionLog(Protocol):
    async def append(self, partition: int, records: list[tuple[bytes, bytes | None]]) -> int: ...


class MarkerWriter(Protocol):
    def write(self, partition: TopicPartition, producer_id: int, producer_epoch: int, coordinator_epoch: int, commit: bool) -> int:
        """NONE when written; UNKNOWN_TOPIC_OR_PARTITION when the partition no
        longer exists (the marker is skipped); INVALID_PRODUCER_EPOCH or
        TRANSACTION_COORDINATOR_FENCED when the partition knows newer epochs
        (the markers stop); anything else is retried."""
        ...


class ProducerIds(Protocol):
    async def next_id(self) -> int: ...


@dataclass(frozen=True)
class TransactionConfig:
    num_partitions: int = 50
    max_timeout_ms: int = 900000
    transactional_id_expiration_ms: int = 604800000
    # The finalized transaction.version feature (kwire/handlers/api_versions.py).
    transaction_version: int = 2

    @classmethod
    def from_broker_config(cls, config: Any) -> TransactionConfig:
        return cls(
            num_partitions=config["transaction.state.log.num.partitions"],
            max_timeout_ms=config["transaction.max.timeout.ms"],
            transactional_id_expiration_ms=config["transactional.id.expiration.ms"],
        )


@dataclass
class _Partition:
    coordinator_epoch: int
    loaded: bool = False


@dataclass(frozen=True)
class ListedTransaction:
    transactional_id: str
    producer_id: int
    state: str


class _NeedProducerId(Exception):
    """A transition needs a fresh producer id: allocate it (awaiting) and prepare again."""


# Errors of an append to __transaction_state, as the client should see them
# (Kafka's TransactionStateManager.appendTransactionToLog).
_APPEND_ERRORS = {
    ErrorCode.UNKNOWN_TOPIC_OR_PARTITION: ErrorCode.COORDINATOR_NOT_AVAILABLE,
    ErrorCode.NOT_ENOUGH_REPLICAS: ErrorCode.COORDINATOR_NOT_AVAILABLE,
    ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND: ErrorCode.COORDINATOR_NOT_AVAILABLE,
    ErrorCode.REQUEST_TIMED_OUT: ErrorCode.COORDINATOR_NOT_AVAILABLE,
    ErrorCode.NOT_LEADER_OR_FOLLOWER: ErrorCode.NOT_COORDINATOR,
    ErrorCode.KAFKA_STORAGE_ERROR: ErrorCode.NOT_COORDINATOR,
    ErrorCode.MESSAGE_TOO_LARGE: ErrorCode.UNKNOWN_SERVER_ERROR,
    ErrorCode.RECORD_LIST_TOO_LARGE: ErrorCode.UNKNOWN_SERVER_ERROR,
}


class TransactionCoordinator:
    def __init__(self, config: TransactionConfig, txn_log: TransactionLog, markers: MarkerWriter, producer_ids: ProducerIds,
                 clock: Callable[[], int]) -> None:
        self.config = config
        self.log = txn_log
        self.markers = markers
        self.producer_ids = producer_ids
        self.clock = clock
        # The partition count of __transaction_state once it exists (the runner
        # sets it), else the configured one, as Kafka's partitionFor.
        self.num_partitions = config.num_partitions
        self.partitions: dict[int, _Partition] = {}
        self.transactions: dict[str, TransactionMetadata] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    # -- ownership and loading -------------------------------------------------

    def partition_for(self, transactional_id: str) -> int:
        return records.partition_for(transactional_id, self.num_partitions)

    def begin_loading(self, partition: int, coordinator_epoch: int) -> None:
        self.partitions[partition] = _Partition(coordinator_epoch)

    def load_partition(self, partition: int, pairs: Iterable[tuple[bytes | None, bytes | None]]) -> None:
        """Replay a partition's records (oldest first); then finish every
        transaction found in PrepareCommit/PrepareAbort (Kafka's
        loadTransactionsForTxnTopicPartition). Ongoing ones wait for their timeout."""
        latest: dict[str, Transit | None] = {}
        for key, value in pairs:
            try:
                record = records.decode(key, value)
            except ProtocolError as e:
                log.error("__transaction_state-%d: skipping a record that does not decode: %s", partition, e)
                continue
            if record is not None:
                latest[record.transactional_id] = record.value
        for transactional_id, transit in latest.items():
            if transit is None:
                self.transactions.pop(transactional_id, None)
            else:
                self.transactions[transactional_id] = TransactionMetadata.from_transit(transactional_id, transit)
        state = self.partitions.setdefault(partition, _Partition(0))
        state.loaded = True
        for transactional_id in latest:
            metadata = self.transactions.get(transactional_id)
            if metadata is not None and metadata.state in (S.PREPARE_COMMIT, S.PREPARE_ABORT):
                commit = metadata.state == S.PREPARE_COMMIT
                log.info("transaction %s was in %s at load: writing its markers", transactional_id, metadata.state.state_name)
                self._spawn(self._send_markers(metadata, state.coordinator_epoch, commit, metadata.prepare_complete(self.clock())))

    def unload_partition(self, partition: int) -> None:
        self.partitions.pop(partition, None)
        for transactional_id in [t for t in self.transactions if self.partition_for(t) == partition]:
            del self.transactions[transactional_id]

    def _state_of(self, transactional_id: str) -> tuple[int, TransactionMetadata | None, int]:
        """(error, metadata or None, coordinator epoch), Kafka's getTransactionState."""
        owned = self.partitions.get(self.partition_for(transactional_id))
        if owned is None:
            return ErrorCode.NOT_COORDINATOR, None, -1
        if not owned.loaded:
            return ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, None, -1
        return ErrorCode.NONE, self.transactions.get(transactional_id), owned.coordinator_epoch

    def _still_owner(self, transactional_id: str, coordinator_epoch: int, metadata: TransactionMetadata) -> bool:
        owned = self.partitions.get(self.partition_for(transactional_id))
        return owned is not None and owned.loaded and owned.coordinator_epoch == coordinator_epoch and \
            self.transactions.get(transactional_id) is metadata

    async def _append(self, metadata: TransactionMetadata, coordinator_epoch: int, transit: Transit) -> int:
        """Store a prepared transition and apply it (Kafka's appendTransactionToLog)."""
        transactional_id = metadata.transactional_id
        value = None if transit.state == S.DEAD else records.value(transit)
        try:
            error = await self.log.append(self.partition_for(transactional_id), [(records.key(transactional_id), value)])
        except Exception:
            log.exception("appending to __transaction_state for %s failed", transactional_id)
            error = ErrorCode.UNKNOWN_SERVER_ERROR
        error = _APPEND_ERRORS.get(error, error)
        if not self._still_owner(transactional_id, coordinator_epoch, metadata):
            return ErrorCode.NOT_COORDINATOR
        if error != ErrorCode.NONE:
            metadata.abort_pending()
            return error
        if transit.state == S.DEAD:
            metadata.abort_pending()
            del self.transactions[transactional_id]
        else:
            metadata.complete_transition(transit)
        return ErrorCode.NONE

    # -- InitProducerId -------------------------------------------------------

    async def _new_producer_id(self, transactional_id: str) -> int | None:
        """A new producer id for `transactional_id`, or None (logged) when the
        id block cannot be had now: COORDINATOR_NOT_AVAILABLE, which clients retry."""
        try:
            return await self.producer_ids.next_id()
        except Exception as e:
            log.warning("no producer id for %s: %r", transactional_id, e)
            return None

    async def init_producer_id(self, transactional_id: str, timeout_ms: int,
                               expected: tuple[int, int] | None = None) -> tuple[int, int, int]:
        """(error, producer id, epoch) for a transactional producer; `expected`
        is the (producer id, epoch) a v3+ request names, None for none (-1, -1)."""
        if transactional_id == "":
            return ErrorCode.INVALID_REQUEST, NO_PRODUCER_ID, NO_PRODUCER_EPOCH
        if not 0 < timeout_ms <= self.config.max_timeout_ms:
            return ErrorCode.INVALID_TRANSACTION_TIMEOUT, NO_PRODUCER_ID, NO_PRODUCER_EPOCH
        error, metadata, coordinator_epoch = self._state_of(transactional_id)
        if error == ErrorCode.NONE and metadata is None:
            producer_id = await self._new_producer_id(transactional_id)
            if producer_id is None:
                return ErrorCode.COORDINATOR_NOT_AVAILABLE, NO_PRODUCER_ID, NO_PRODUCER_EPOCH
            error, metadata, coordinator_epoch = self._state_of(transactional_id)
            if error == ErrorCode.NONE and metadata is None:
                metadata = TransactionMetadata(transactional_id, producer_id, txn_timeout_ms=timeout_ms,
                                               txn_last_update_timestamp=self.clock())
                self.transactions[transactional_id] = metadata
        if error != ErrorCode.NONE:
            return error, NO_PRODUCER_ID, NO_PRODUCER_EPOCH
        assert metadata is not None
        new_producer_id: int | None = None
        while True:
            try:
                result = self._prepare_init(metadata, timeout_ms, expected, new_producer_id)
                break
            except _NeedProducerId:
                new_producer_id = await self._new_producer_id(transactional_id)
                if new_producer_id is None:
                    return ErrorCode.COORDINATOR_NOT_AVAILABLE, NO_PRODUCER_ID, NO_PRODUCER_EPOCH
                error, current, coordinator_epoch = self._state_of(transactional_id)
                if error != ErrorCode.NONE or current is not metadata:
                    return error or ErrorCode.CONCURRENT_TRANSACTIONS, NO_PRODUCER_ID, NO_PRODUCER_EPOCH
        if isinstance(result, int):
            return result, NO_PRODUCER_ID, NO_PRODUCER_EPOCH
        if result.state == S.PREPARE_EPOCH_FENCE:
            # Abort the ongoing transaction first; the client retries and gets the epoch after it.
            # The abort follows the client's transaction version (a v1 client's epoch is bumped once, as Kafka 4.4 does).
            error, _, _ = await self._end_transaction(transactional_id, result.producer_id, result.producer_epoch, False,
                                                      from_client=False, client_transaction_version=metadata.client_transaction_version)
            return (error if error != ErrorCode.NONE else ErrorCode.CONCURRENT_TRANSACTIONS), NO_PRODUCER_ID, NO_PRODUCER_EPOCH
        error = await self._append(metadata, coordinator_epoch, result)
        if error != ErrorCode.NONE:
            log.info("InitProducerId for %s: %s", transactional_id, ErrorCode(error).name)
            return error, NO_PRODUCER_ID, NO_PRODUCER_EPOCH
        log.info("initialized transactional id %s with producer id %d and epoch %d", transactional_id, result.producer_id, result.producer_epoch)
        return ErrorCode.NONE, result.producer_id, result.producer_epoch

    def _prepare_init(self, metadata: TransactionMetadata, timeout_ms: int, expected: tuple[int, int] | None,
                      new_producer_id: int | None) -> Transit | int:
        if metadata.pending_transition_in_progress:
            return ErrorCode.CONCURRENT_TRANSACTIONS
        if expected is not None:
            expected_id, expected_epoch = expected
            valid = (metadata.producer_epoch == NO_PRODUCER_EPOCH or expected_id == metadata.producer_id
                     or (expected_id == metadata.previous_producer_id and is_epoch_exhausted(expected_epoch)))
            if not valid:
                return ErrorCode.PRODUCER_FENCED
        state = metadata.state
        if state in (S.PREPARE_ABORT, S.PREPARE_COMMIT):
            return ErrorCode.CONCURRENT_TRANSACTIONS
        if state in (S.COMPLETE_ABORT, S.COMPLETE_COMMIT, S.EMPTY):
            now = self.clock()
            if metadata.is_producer_epoch_exhausted and (expected is None or expected[1] == metadata.producer_epoch):
                if new_producer_id is None:
                    raise _NeedProducerId
                return metadata.prepare_producer_id_rotation(new_producer_id, timeout_ms, now, expected is not None)
            transit = metadata.prepare_increment_producer_epoch(timeout_ms, None if expected is None else expected[1], now)
            return ErrorCode.PRODUCER_FENCED if transit is None else transit
        if state == S.ONGOING:
            return metadata.prepare_fence_producer_epoch()
        raise IllegalTransition(f"{metadata.transactional_id} found in state {state.state_name}")

    # -- AddPartitionsToTxn / AddOffsetsToTxn ---------------------------------

    async def add_partitions(self, transactional_id: str, producer_id: int, producer_epoch: int, partitions: set[TopicPartition],
                             client_transaction_version: int = 0) -> int:
        if not transactional_id:
            return ErrorCode.INVALID_REQUEST
        error, metadata, coordinator_epoch = self._state_of(transactional_id)
        if error != ErrorCode.NONE:
            return error
        if metadata is None:
            return ErrorCode.INVALID_PRODUCER_ID_MAPPING
        # A pending transition first, as Kafka: under v2 it may be moving to a new
        # producer id (epoch overflow) that the client already uses.
        if metadata.pending_transition_in_progress:
            return ErrorCode.CONCURRENT_TRANSACTIONS
        if metadata.producer_id != producer_id:
            return ErrorCode.INVALID_PRODUCER_ID_MAPPING
        if metadata.producer_epoch != producer_epoch:
            return ErrorCode.PRODUCER_FENCED
        if metadata.state in (S.PREPARE_COMMIT, S.PREPARE_ABORT):
            return ErrorCode.CONCURRENT_TRANSACTIONS
        if metadata.state == S.ONGOING and partitions <= metadata.partitions:
            return ErrorCode.NONE
        transit = metadata.prepare_add_partitions(partitions, self.clock(), client_transaction_version)
        return await self._append(metadata, coordinator_epoch, transit)

    def verify_partitions(self, transactional_id: str, producer_id: int, producer_epoch: int,
                          partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        """AddPartitionsToTxn verify_only (KIP-890 part 1): is each partition in the ongoing transaction?"""
        wanted = list(partitions)
        if not transactional_id:
            return dict.fromkeys(wanted, ErrorCode.INVALID_REQUEST)
        error, metadata, _ = self._state_of(transactional_id)
        if error == ErrorCode.NONE:
            if metadata is None or metadata.producer_id != producer_id:
                error = ErrorCode.INVALID_PRODUCER_ID_MAPPING
            elif metadata.producer_epoch != producer_epoch:
                error = ErrorCode.PRODUCER_FENCED
            elif metadata.state in (S.PREPARE_COMMIT, S.PREPARE_ABORT):
                error = ErrorCode.CONCURRENT_TRANSACTIONS
            else:
                return {p: ErrorCode.NONE if p in metadata.partitions else ErrorCode.TRANSACTION_ABORTABLE for p in wanted}
        return dict.fromkeys(wanted, error)

    # -- EndTxn ---------------------------------------------------------------

    async def end_transaction(self, transactional_id: str, producer_id: int, producer_epoch: int, commit: bool,
                              client_transaction_version: int) -> tuple[int, int, int]:
        """(error, producer id, epoch); the id and epoch are the ones to use next
        under transactions v2 (EndTxn v5), -1 otherwise."""
        return await self._end_transaction(transactional_id, producer_id, producer_epoch, commit, from_client=True,
                                           client_transaction_version=client_transaction_version)

    async def _end_transaction(self, transactional_id: str, producer_id: int, producer_epoch: int, commit: bool, *,
                               from_client: bool, client_transaction_version: int) -> tuple[int, int, int]:
        none = (NO_PRODUCER_ID, NO_PRODUCER_EPOCH)
        if not transactional_id:
            return ErrorCode.INVALID_REQUEST, *none
        error, metadata, coordinator_epoch = self._state_of(transactional_id)
        if error != ErrorCode.NONE:
            return error, *none
        if metadata is None:
            return ErrorCode.INVALID_PRODUCER_ID_MAPPING, *none
        v2 = client_transaction_version >= 2
        is_epoch_fence = metadata.pending_state == S.PREPARE_EPOCH_FENCE
        next_producer_id: int | None = None
        while True:
            try:
                if v2:
                    result = self._prepare_end_v2(metadata, producer_id, producer_epoch, commit, from_client, client_transaction_version, next_producer_id)
                else:
                    result = self._prepare_end_v1(metadata, producer_id, producer_epoch, commit, from_client)
                break
            except _NeedProducerId:
                next_producer_id = await self._new_producer_id(transactional_id)
                if next_producer_id is None:
                    return ErrorCode.COORDINATOR_NOT_AVAILABLE, *none
                error, current, coordinator_epoch = self._state_of(transactional_id)
                if error != ErrorCode.NONE or current is not metadata:
                    return error or ErrorCode.CONCURRENT_TRANSACTIONS, *none
        if isinstance(result, tuple):
            error = result[0]
            if metadata.pending_state == S.PREPARE_EPOCH_FENCE:
                metadata.abort_pending()  # the fence did not go through; do not leave it pending
            return result if error == ErrorCode.NONE and v2 else (error, *none)
        error = await self._append(metadata, coordinator_epoch, result)
        if error != ErrorCode.NONE:
            if is_epoch_fence and self._still_owner(transactional_id, coordinator_epoch, metadata):
                metadata.has_failed_epoch_fence = True
            log.info("EndTxn of %s: storing %s failed: %s", transactional_id, result.state.state_name, ErrorCode(error).name)
            return error, *none
        # Stored PrepareCommit/PrepareAbort: answer, then write the markers.
        if metadata.producer_id != producer_id:
            return ErrorCode.INVALID_PRODUCER_ID_MAPPING, *none
        if metadata.producer_epoch != producer_epoch and not (v2 and metadata.producer_epoch == producer_epoch + 1):
            return ErrorCode.PRODUCER_FENCED, *none
        if metadata.pending_transition_in_progress or metadata.state != (S.PREPARE_COMMIT if commit else S.PREPARE_ABORT):
            return ErrorCode.INVALID_TXN_STATE, *none
        complete = metadata.prepare_complete(self.clock())
        self._spawn(self._send_markers(metadata, coordinator_epoch, commit, complete))
        if not v2:
            return ErrorCode.NONE, *none
        # What the client uses next: the new producer id when the epoch overflowed.
        return ErrorCode.NONE, complete.producer_id, complete.producer_epoch

    def _prepare_end_v1(self, metadata: TransactionMetadata, producer_id: int, producer_epoch: int, commit: bool,
                        from_client: bool) -> Transit | tuple[int, int, int]:
        def err(code: int) -> tuple[int, int, int]:
            return code, NO_PRODUCER_ID, NO_PRODUCER_EPOCH

        if metadata.producer_id != producer_id:
            return err(ErrorCode.INVALID_PRODUCER_ID_MAPPING)
        # Clients must name the current epoch exactly (they never bump it in v1).
        if (from_client and producer_epoch != metadata.producer_epoch) or producer_epoch < metadata.producer_epoch:
            return err(ErrorCode.PRODUCER_FENCED)
        if metadata.pending_transition_in_progress and metadata.pending_state != S.PREPARE_EPOCH_FENCE:
            return err(ErrorCode.CONCURRENT_TRANSACTIONS)
        state = metadata.state
        if state == S.ONGOING:
            next_state = S.PREPARE_COMMIT if commit else S.PREPARE_ABORT
            if next_state == S.PREPARE_ABORT and metadata.pending_state == S.PREPARE_EPOCH_FENCE:
                metadata.pending_state = None
                metadata.producer_epoch = producer_epoch
                metadata.last_producer_epoch = NO_PRODUCER_EPOCH
            return metadata.prepare_abort_or_commit(next_state, 0, NO_PRODUCER_ID, self.clock(), False)
        return err(self._end_error_for_state(metadata, commit))

    def _prepare_end_v2(self, metadata: TransactionMetadata, producer_id: int, producer_epoch: int, commit: bool, from_client: bool,
                        client_transaction_version: int, next_producer_id: int | None) -> Transit | tuple[int, int, int]:
        """Kafka's table for Empty/CompleteAbort/CompleteCommit under transactions v2
        (retry = the epoch before the current one; current = the current one):

                        Abort retry  Abort current  Commit retry  Commit current
            Empty       FENCED       bump           FENCED        INVALID_TXN_STATE
            CompleteAb  NONE         bump           INVALID       INVALID
            CompleteCo  INVALID      bump           NONE          INVALID
        """
        def err(code: int) -> tuple[int, int, int]:
            return code, NO_PRODUCER_ID, NO_PRODUCER_EPOCH

        current_id, current_epoch = metadata.producer_id, metadata.producer_epoch
        is_epoch_fence = metadata.pending_state == S.PREPARE_EPOCH_FENCE
        retry_on_overflow = (not is_epoch_fence and metadata.previous_producer_id == producer_id
                             and producer_epoch == SHORT_MAX - 1 and metadata.producer_epoch == 0)
        retry_on_epoch_bump = not is_epoch_fence and metadata.producer_epoch == producer_epoch + 1
        state = metadata.state
        if is_epoch_fence:
            valid_epoch = (not from_client or producer_epoch == metadata.producer_epoch) and producer_epoch >= metadata.producer_epoch
        elif state in (S.ONGOING, S.EMPTY, S.DEAD, S.PREPARE_EPOCH_FENCE):
            valid_epoch = producer_epoch == metadata.producer_epoch
        elif state in (S.PREPARE_COMMIT, S.PREPARE_ABORT):
            valid_epoch = retry_on_epoch_bump
        else:
            valid_epoch = retry_on_epoch_bump or retry_on_overflow or producer_epoch == metadata.producer_epoch
        is_retry = retry_on_epoch_bump or retry_on_overflow

        def complete(next_state: TransactionState, no_partition_added: bool) -> Transit:
            new_id = NO_PRODUCER_ID
            if not is_epoch_fence and metadata.is_producer_epoch_exhausted:
                if next_producer_id is None:
                    raise _NeedProducerId
                new_id = next_producer_id
            if next_state == S.PREPARE_ABORT and is_epoch_fence:
                # The abort's own bump is the fence (the v1 path takes the fence's
                # epoch instead): Kafka 4.4 ends a fenced v2 transaction at the epoch
                # after the fenced one, kept as last epoch (compared with
                # ReferenceKafka), so the fenced producer's abort retry and KIP-360
                # InitProducerId are answered as retries.
                metadata.pending_state = None
            return metadata.prepare_abort_or_commit(next_state, client_transaction_version, new_id, self.clock(), no_partition_added)

        if metadata.producer_id != producer_id and not retry_on_overflow:
            return err(ErrorCode.INVALID_PRODUCER_ID_MAPPING)
        if not valid_epoch:
            return err(ErrorCode.PRODUCER_FENCED)
        if metadata.pending_transition_in_progress and metadata.pending_state != S.PREPARE_EPOCH_FENCE:
            return err(ErrorCode.CONCURRENT_TRANSACTIONS)
        if state == S.ONGOING:
            return complete(S.PREPARE_COMMIT if commit else S.PREPARE_ABORT, False)
        if state == S.COMPLETE_COMMIT:
            if commit:
                return (ErrorCode.NONE, current_id, current_epoch) if is_retry else err(ErrorCode.INVALID_TXN_STATE)
            return err(ErrorCode.INVALID_TXN_STATE) if is_retry else complete(S.PREPARE_ABORT, True)
        if state == S.COMPLETE_ABORT:
            if not commit:
                return (ErrorCode.NONE, current_id, current_epoch) if is_retry else complete(S.PREPARE_ABORT, True)
            return err(ErrorCode.INVALID_TXN_STATE)
        if state == S.EMPTY:
            return complete(S.PREPARE_ABORT, True) if not commit else err(ErrorCode.INVALID_TXN_STATE)
        return err(self._end_error_for_state(metadata, commit))

    @staticmethod
    def _end_error_for_state(metadata: TransactionMetadata, commit: bool) -> int:
        """EndTxn outside Ongoing (v1): a repeat of what is done or under way is
        NONE or CONCURRENT_TRANSACTIONS; anything else INVALID_TXN_STATE."""
        state = metadata.state
        if state == (S.COMPLETE_COMMIT if commit else S.COMPLETE_ABORT):
            return ErrorCode.NONE
        if state == (S.PREPARE_COMMIT if commit else S.PREPARE_ABORT):
            return ErrorCode.CONCURRENT_TRANSACTIONS
        if state in (S.DEAD, S.PREPARE_EPOCH_FENCE):
            raise IllegalTransition(f"{metadata.transactional_id} found in state {state.state_name}")
        log.warning("transactional id %s is in %s but got EndTxn(%s)", metadata.transactional_id, state.state_name, "commit" if commit else "abort")
        return ErrorCode.INVALID_TXN_STATE

    # -- markers --------------------------------------------------------------

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send_markers(self, metadata: TransactionMetadata, coordinator_epoch: int, commit: bool, complete: Transit) -> None:
        """Write the markers (with the producer id and epoch of the Prepare
        state: under v2 the bumped epoch), then store CompleteCommit/CompleteAbort."""
        transactional_id = metadata.transactional_id
        producer_id, producer_epoch = metadata.producer_id, metadata.producer_epoch
        remaining = set(metadata.partitions)
        backoff = MARKER_RETRY_BACKOFF_S
        while True:
            if not self._still_owner(transactional_id, coordinator_epoch, metadata):
                return
            refused = False
            for partition in sorted(remaining):
                error = self.markers.write(partition, producer_id, producer_epoch, coordinator_epoch, commit)
                if error in (ErrorCode.NONE, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION):
                    remaining.discard(partition)
                elif error in (ErrorCode.INVALID_PRODUCER_EPOCH, ErrorCode.TRANSACTION_COORDINATOR_FENCED):
                    log.warning("marker of %s for %s-%d refused: %s; no more markers are sent for this transaction",
                                transactional_id, partition[0], partition[1], ErrorCode(error).name)
                    refused = True
            if refused:
                # The partition knows a newer producer epoch or coordinator. Kafka
                # 4.4 (TransactionMarkerRequestCompletionHandler) then stops sending
                # the transaction's markers and never stores its completion: it stays
                # in PrepareCommit/PrepareAbort, pending (CONCURRENT_TRANSACTIONS),
                # until the coordinator loads the partition again and retries.
                return
            if not remaining:
                error = await self._append(metadata, coordinator_epoch, complete)
                if error in (ErrorCode.NONE, ErrorCode.NOT_COORDINATOR):
                    if error == ErrorCode.NONE:
                        log.debug("transaction %s completed: %s", transactional_id, complete.state.state_name)
                    return
                # The append failed and dropped the pending state: prepare it again.
                complete = metadata.prepare_complete(self.clock())
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MARKER_RETRY_MAX_BACKOFF_S)

    async def idle(self) -> None:
        """Wait until every marker write under way is done (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def shutdown(self) -> None:
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()

    # -- timeouts and expiry --------------------------------------------------

    async def abort_timed_out_transactions(self) -> None:
        """Fence and abort every Ongoing transaction older than its timeout (Kafka's abortTimedOutTransactions)."""
        now = self.clock()
        timed_out = [
            m for m in self.transactions.values()
            if m.state == S.ONGOING and not m.pending_transition_in_progress and m.txn_start_timestamp + m.txn_timeout_ms < now
            and self.partitions.get(self.partition_for(m.transactional_id), _Partition(-1)).loaded
        ]
        for metadata in timed_out:
            if metadata.pending_transition_in_progress or metadata.state != S.ONGOING:
                continue
            transit = metadata.prepare_fence_producer_epoch()
            log.info("aborting transaction of %s (producer id %d): older than its timeout of %d ms",
                     metadata.transactional_id, metadata.producer_id, metadata.txn_timeout_ms)
            # The broker's finalized transaction.version, not the client's (Kafka's abortTimedOutTransactions).
            error, _, _ = await self._end_transaction(metadata.transactional_id, transit.producer_id, transit.producer_epoch, False,
                                                      from_client=False, client_transaction_version=self.config.transaction_version)
            if error != ErrorCode.NONE:
                log.info("abort of timed-out transaction %s: %s", metadata.transactional_id, ErrorCode(error).name)

    async def expire_transactional_ids(self) -> None:
        """Remove transactional ids idle for transactional.id.expiration.ms in Empty or Complete* (a tombstone)."""
        deadline = self.clock() - self.config.transactional_id_expiration_ms
        expired = [
            m for m in self.transactions.values()
            if m.state.expiration_allowed and not m.pending_transition_in_progress and m.txn_last_update_timestamp <= deadline
        ]
        for metadata in expired:
            error, current, coordinator_epoch = self._state_of(metadata.transactional_id)
            if error != ErrorCode.NONE or current is not metadata or metadata.pending_transition_in_progress:
                continue
            if await self._append(metadata, coordinator_epoch, metadata.prepare_dead()) == ErrorCode.NONE:
                log.info("transactional id %s expired", metadata.transactional_id)

    # -- admin ----------------------------------------------------------------

    def describe(self, transactional_id: str) -> tuple[int, TransactionMetadata | None]:
        if transactional_id == "":
            return ErrorCode.INVALID_REQUEST, None
        error, metadata, _ = self._state_of(transactional_id)
        if error != ErrorCode.NONE:
            return error, None
        if metadata is None or metadata.state == S.DEAD:
            return ErrorCode.TRANSACTIONAL_ID_NOT_FOUND, None
        return ErrorCode.NONE, metadata

    def list_transactions(self, state_filters: Iterable[str], producer_id_filters: Iterable[int], duration_filter_ms: int = -1,
                          transactional_id_pattern: str | None = None) -> tuple[int, list[str], list[ListedTransaction]]:
        """(error, unknown state filters, transactions), Kafka's listTransactionStates.
        An invalid pattern is INVALID_REGULAR_EXPRESSION."""
        if any(not p.loaded for p in self.partitions.values()):
            return ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, [], []
        names = list(state_filters)
        unknown = [name for name in names if TransactionState.from_name(name) is None]
        states = {s for s in (TransactionState.from_name(name) for name in names) if s is not None}
        producer_ids = set(producer_id_filters)
        pattern = None
        if transactional_id_pattern:
            try:
                pattern = re.compile(transactional_id_pattern)
            except re.error:
                return ErrorCode.INVALID_REGULAR_EXPRESSION, [], []
        now = self.clock()
        listed = []
        for metadata in self.transactions.values():
            if metadata.state == S.DEAD:
                continue
            if producer_ids and metadata.producer_id not in producer_ids:
                continue
            if names and metadata.state not in states:
                continue
            if duration_filter_ms >= 0 and now - metadata.txn_start_timestamp <= duration_filter_ms:
                continue
            if pattern is not None and not pattern.fullmatch(metadata.transactional_id):
                continue
            listed.append(ListedTransaction(metadata.transactional_id, metadata.producer_id, metadata.state.state_name))
        return ErrorCode.NONE, unknown, listed


