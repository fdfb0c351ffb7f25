"""Error codes and exceptions of the metadata quorum.

Command results carry Kafka's error code numbers as plain ints so that the
broker can copy them into responses unchanged. kwire_raft imports nothing
from kwire_protocol (layering, docs/ARCHITECTURE.md), so the few codes it
needs are repeated here; tests check them against kwire_protocol's table.

Exceptions are for the quorum itself failing to run a command (no leader,
timeout, stopped), never for a command that ran and was refused: a refused
command completes normally with a non-zero error code in its result.
"""

from __future__ import annotations

# Kafka error codes (clients/src/main/java/org/apache/kafka/common/protocol/Errors.java).
NONE = 0
UNKNOWN_TOPIC_OR_PARTITION = 3
REQUEST_TIMED_OUT = 7
INVALID_TOPIC_EXCEPTION = 17
TOPIC_ALREADY_EXISTS = 36
INVALID_PARTITIONS = 37
INVALID_REPLICATION_FACTOR = 38
INVALID_REPLICA_ASSIGNMENT = 39
INVALID_CONFIG = 40
NOT_CONTROLLER = 41
INVALID_REQUEST = 42
INVALID_UPDATE_VERSION = 95
UNKNOWN_TOPIC_ID = 100
BROKER_ID_NOT_REGISTERED = 102


class QuorumError(Exception):
    """The quorum could not run a command; its outcome is not known to have happened.

    `reason` names pysyncobj's FAIL_REASON (or "TIMEOUT", "STOPPED") for logs.
    `error_code` is the Kafka code a broker should answer with.
    """

    error_code = REQUEST_TIMED_OUT

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason


class NotLeaderError(QuorumError):
    """No leader is known, or leadership changed before the command committed.

    Retriable: Kafka answers NOT_CONTROLLER and the client retries (KIP-590).
    """

    error_code = NOT_CONTROLLER


class QuorumTimeoutError(QuorumError, TimeoutError):
    """The command was not acknowledged in time. It may still be applied later."""

    error_code = REQUEST_TIMED_OUT


class QuorumStoppedError(QuorumError):
    """The quorum is stopped (or was never started)."""

    error_code = NOT_CONTROLLER
