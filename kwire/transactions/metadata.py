"""One transactional id's state and its prepared transitions (Kafka's
TransactionMetadata and TxnTransitMetadata).

A change is two steps, as in Kafka: `prepare_*` computes the next state as a
`Transit` and marks the metadata with a pending state (so concurrent
requests get CONCURRENT_TRANSACTIONS); once the transit is stored in
__transaction_state, `complete_transition` applies it, or `abort_pending`
drops it when the write failed.

Epochs: `producer_epoch` is the current one, `last_producer_epoch` the one
before a bump (so a retried InitProducerId (KIP-360) or EndTxn (KIP-890) is
recognised). An epoch at Short.MAX_VALUE - 1 is exhausted: the next bump
takes a new producer id (`next_producer_id` holds it between PrepareX and
CompleteX under transactions v2).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from kwire.transactions.state import TransactionState

NO_PRODUCER_ID = -1
NO_PRODUCER_EPOCH = -1
SHORT_MAX = 32767

TopicPartition = tuple[str, int]


def is_epoch_exhausted(epoch: int) -> bool:
    # The coordinator keeps MAX_VALUE for itself, so it can always fence a producer.
    return epoch >= SHORT_MAX - 1


@dataclass(frozen=True)
class Transit:
    """The state a transactional id moves to (what __transaction_state stores)."""

    producer_id: int
    previous_producer_id: int
    next_producer_id: int
    producer_epoch: int
    last_producer_epoch: int
    txn_timeout_ms: int
    state: TransactionState
    partitions: frozenset[TopicPartition]
    txn_start_timestamp: int
    txn_last_update_timestamp: int
    client_transaction_version: int


class IllegalTransition(Exception):
    """A transition Kafka's state machine does not allow: a coordinator bug, not a client error."""


@dataclass
class TransactionMetadata:
    transactional_id: str
    producer_id: int
    previous_producer_id: int = NO_PRODUCER_ID
    next_producer_id: int = NO_PRODUCER_ID
    producer_epoch: int = NO_PRODUCER_EPOCH
    last_producer_epoch: int = NO_PRODUCER_EPOCH
    txn_timeout_ms: int = 60000
    state: TransactionState = TransactionState.EMPTY
    partitions: set[TopicPartition] = field(default_factory=set)
    txn_start_timestamp: int = -1
    txn_last_update_timestamp: int = -1
    client_transaction_version: int = 0
    pending_state: TransactionState | None = None
    # A fence whose write failed already bumped the epoch in memory; the
    # next fence must not bump it again (the client never saw it).
    has_failed_epoch_fence: bool = False

    @classmethod
    def from_transit(cls, transactional_id: str, transit: Transit) -> TransactionMetadata:
        return cls(
            transactional_id, transit.producer_id, transit.previous_producer_id, transit.next_producer_id, transit.producer_epoch,
            transit.last_producer_epoch, transit.txn_timeout_ms, transit.state, set(transit.partitions),
            transit.txn_start_timestamp, transit.txn_last_update_timestamp, transit.client_transaction_version,
        )

    @property
    def pending_transition_in_progress(self) -> bool:
        return self.pending_state is not None

    @property
    def is_producer_epoch_exhausted(self) -> bool:
        return is_epoch_exhausted(self.producer_epoch)

    @property
    def has_pending_transaction(self) -> bool:
        return self.state in (TransactionState.ONGOING, TransactionState.PREPARE_ABORT, TransactionState.PREPARE_COMMIT)

    def _current(self) -> Transit:
        return Transit(
            self.producer_id, self.previous_producer_id, self.next_producer_id, self.producer_epoch, self.last_producer_epoch,
            self.txn_timeout_ms, self.state, frozenset(self.partitions), self.txn_start_timestamp, self.txn_last_update_timestamp,
            self.client_transaction_version,
        )

    def _prepare(self, state: TransactionState, **changes: object) -> Transit:
        if self.pending_state is not None:
            raise IllegalTransition(f"{self.transactional_id}: transition to {state.state_name} while {self.pending_state.state_name} is pending")
        if self.state not in state.previous_states:
            raise IllegalTransition(f"{self.transactional_id}: no transition from {self.state.state_name} to {state.state_name}")
        # The transit's previous producer id is the one in use before it (Kafka's prepareTransitionTo).
        transit = dataclasses.replace(self._current(), state=state, previous_producer_id=self.producer_id, **changes)  # type: ignore[arg-type]
        if transit.producer_id < 0 or (state != TransactionState.DEAD and transit.producer_epoch < 0):
            raise IllegalTransition(f"{self.transactional_id}: producer id/epoch {transit.producer_id}/{transit.producer_epoch}")
        self.pending_state = state
        return transit

    def prepare_fence_producer_epoch(self) -> Transit:
        if self.producer_epoch == SHORT_MAX:
            raise IllegalTransition("cannot fence a producer at epoch Short.MAX_VALUE")
        epoch = self.producer_epoch if self.has_failed_epoch_fence else self.producer_epoch + 1
        return self._prepare(TransactionState.PREPARE_EPOCH_FENCE, producer_epoch=epoch)

    def prepare_increment_producer_epoch(self, timeout_ms: int, expected_epoch: int | None, now: int) -> Transit | None:
        """Empty with the next epoch; None when `expected_epoch` is fenced (PRODUCER_FENCED)."""
        bumped = self.producer_epoch + 1
        if expected_epoch is None:
            epoch, last = bumped, NO_PRODUCER_EPOCH
        elif self.producer_epoch == NO_PRODUCER_EPOCH or expected_epoch == self.producer_epoch:
            epoch, last = bumped, self.producer_epoch
        elif expected_epoch == self.last_producer_epoch:
            # A retry of a bump that succeeded: answer the same epoch again.
            epoch, last = self.producer_epoch, self.last_producer_epoch
        else:
            return None
        return self._prepare(TransactionState.EMPTY, producer_epoch=epoch, last_producer_epoch=last, txn_timeout_ms=timeout_ms,
                             partitions=frozenset(), txn_start_timestamp=-1, txn_last_update_timestamp=now)

    def prepare_producer_id_rotation(self, new_producer_id: int, timeout_ms: int, now: int, record_last_epoch: bool) -> Transit:
        if self.has_pending_transaction:
            raise IllegalTransition("cannot rotate producer ids while a transaction is pending")
        return self._prepare(TransactionState.EMPTY, producer_id=new_producer_id, producer_epoch=0,
                             last_producer_epoch=self.producer_epoch if record_last_epoch else NO_PRODUCER_EPOCH,
                             txn_timeout_ms=timeout_ms, partitions=frozenset(), txn_start_timestamp=-1, txn_last_update_timestamp=now)

    def prepare_add_partitions(self, added: set[TopicPartition], now: int, client_transaction_version: int) -> Transit:
        starts = self.state in (TransactionState.EMPTY, TransactionState.COMPLETE_ABORT, TransactionState.COMPLETE_COMMIT)
        return self._prepare(TransactionState.ONGOING, partitions=frozenset(self.partitions | added),
                             txn_start_timestamp=now if starts else self.txn_start_timestamp, txn_last_update_timestamp=now,
                             client_transaction_version=client_transaction_version)

    def prepare_abort_or_commit(self, state: TransactionState, client_transaction_version: int, next_producer_id: int,
                                now: int, no_partition_added: bool) -> Transit:
        if client_transaction_version >= 2:
            # KIP-890: every transaction ends with an epoch bump, so a late write of it is fenced.
            epoch, last = self.producer_epoch + 1, self.producer_epoch
        else:
            epoch, last = self.producer_epoch, self.last_producer_epoch
        # Transactions v2 may abort with no partition added: the start is then now.
        return self._prepare(state, producer_epoch=epoch, last_producer_epoch=last,
                             txn_start_timestamp=now if no_partition_added else self.txn_start_timestamp,
                             next_producer_id=next_producer_id, txn_last_update_timestamp=now,
                             client_transaction_version=client_transaction_version)

    def prepare_complete(self, now: int) -> Transit:
        self.has_failed_epoch_fence = False
        state = TransactionState.COMPLETE_COMMIT if self.state == TransactionState.PREPARE_COMMIT else TransactionState.COMPLETE_ABORT
        if self.client_transaction_version >= 2 and self.next_producer_id != NO_PRODUCER_ID:
            # The epoch overflowed: the next transaction uses the new producer id.
            producer_id, epoch = self.next_producer_id, 0
        else:
            producer_id, epoch = self.producer_id, self.producer_epoch
        return self._prepare(state, producer_id=producer_id, producer_epoch=epoch, next_producer_id=NO_PRODUCER_ID,
                             partitions=frozenset(), txn_last_update_timestamp=now)

    def prepare_dead(self) -> Transit:
        return self._prepare(TransactionState.DEAD, partitions=frozenset())

    def complete_transition(self, transit: Transit) -> None:
        if self.pending_state != transit.state:
            raise IllegalTransition(f"{self.transactional_id}: completing {transit.state.state_name}, pending {self.pending_state}")
        self.producer_id = transit.producer_id
        self.previous_producer_id = transit.previous_producer_id
        self.next_producer_id = transit.next_producer_id
        self.producer_epoch = transit.producer_epoch
        self.last_producer_epoch = transit.last_producer_epoch
        self.txn_timeout_ms = transit.txn_timeout_ms
        self.partitions = set(transit.partitions)
        self.txn_start_timestamp = transit.txn_start_timestamp
        self.txn_last_update_timestamp = transit.txn_last_update_timestamp
        self.client_transaction_version = transit.client_transaction_version
        self.state = transit.state
        self.pending_state = None

    def abort_pending(self) -> None:
        self.pending_state = None
