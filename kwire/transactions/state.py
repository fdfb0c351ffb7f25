"""Transaction states, as Kafka's TransactionState: ids (stored in
__transaction_state), names (shown by DescribeTransactions and
ListTransactions) and the transition table.

    Empty --AddPartitions--> Ongoing --EndTxn--> PrepareCommit --markers--> CompleteCommit
                                     \\--EndTxn/timeout--> PrepareAbort --markers--> CompleteAbort
    Ongoing --InitProducerId/timeout--> PrepareEpochFence (never stored) --> PrepareAbort
    Empty/Complete* --expiry--> Dead (a tombstone)

Transactions v2 (KIP-890) also allow Empty/CompleteCommit/CompleteAbort ->
PrepareAbort (an abort the client sends when unsure of the server state).
"""

from __future__ import annotations

import enum


class TransactionState(enum.Enum):
    EMPTY = (0, "Empty", True)
    ONGOING = (1, "Ongoing", False)
    PREPARE_COMMIT = (2, "PrepareCommit", False)
    PREPARE_ABORT = (3, "PrepareAbort", False)
    COMPLETE_COMMIT = (4, "CompleteCommit", True)
    COMPLETE_ABORT = (5, "CompleteAbort", True)
    DEAD = (6, "Dead", False)
    PREPARE_EPOCH_FENCE = (7, "PrepareEpochFence", False)

    def __init__(self, id_: int, state_name: str, expiration_allowed: bool) -> None:
        self.id = id_
        self.state_name = state_name
        self.expiration_allowed = expiration_allowed

    @classmethod
    def from_id(cls, id_: int) -> TransactionState:
        for state in cls:
            if state.id == id_:
                return state
        raise ValueError(f"unknown transaction state id {id_}")

    @classmethod
    def from_name(cls, name: str) -> TransactionState | None:
        return _BY_NAME.get(name)

    @property
    def previous_states(self) -> frozenset[TransactionState]:
        return VALID_PREVIOUS_STATES[self]


_BY_NAME = {state.state_name: state for state in TransactionState}

S = TransactionState
VALID_PREVIOUS_STATES: dict[TransactionState, frozenset[TransactionState]] = {
    S.EMPTY: frozenset({S.EMPTY, S.COMPLETE_COMMIT, S.COMPLETE_ABORT}),
    S.ONGOING: frozenset({S.ONGOING, S.EMPTY, S.COMPLETE_COMMIT, S.COMPLETE_ABORT}),
    S.PREPARE_COMMIT: frozenset({S.ONGOING}),
    S.PREPARE_ABORT: frozenset({S.ONGOING, S.PREPARE_EPOCH_FENCE, S.EMPTY, S.COMPLETE_COMMIT, S.COMPLETE_ABORT}),
    S.COMPLETE_COMMIT: frozenset({S.PREPARE_COMMIT}),
    S.COMPLETE_ABORT: frozenset({S.PREPARE_ABORT}),
    S.DEAD: frozenset({S.EMPTY, S.COMPLETE_ABORT, S.COMPLETE_COMMIT}),
    S.PREPARE_EPOCH_FENCE: frozenset({S.ONGOING}),
}
del S
