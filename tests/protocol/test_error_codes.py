"""kwire_protocol.error_codes against two independent sources.

1. kafka-python's `kafka.errors` (always run): every broker error class it
   defines with an errno must exist in our table under the same number, with
   the same name (or a known kafka-python alias) and the same retriable flag.
   The places where kafka-python disagrees with Kafka are listed explicitly
   below, and the test fails if that list goes stale in either direction.
2. Kafka 4.4.0's own `Errors` enum (when java and Maven are available): the
   table must match it exactly in numbers, names and retriable flags.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import kafka.errors

from kwire_protocol.error_codes import ErrorCode

REPO = Path(__file__).resolve().parents[2]

# kafka-python names that differ from Kafka's (older or its own).
KAFKA_PYTHON_NAME_ALIASES = {
    -1: "UNKNOWN",  # Kafka: UNKNOWN_SERVER_ERROR
    0: "NO_ERROR",  # Kafka: NONE
    6: "NOT_LEADER_FOR_PARTITION",  # Kafka: NOT_LEADER_OR_FOLLOWER (renamed in 2.7, KIP-392)
    10: "MESSAGE_SIZE_TOO_LARGE",  # Kafka: MESSAGE_TOO_LARGE
    17: "INVALID_TOPIC",  # Kafka: INVALID_TOPIC_EXCEPTION
    39: "INVALID_REPLICATION_ASSIGNMENT",  # Kafka: INVALID_REPLICA_ASSIGNMENT
}

# Codes whose retriable flag in kafka-python differs from Kafka's.
# CORRUPT_MESSAGE: Kafka's CorruptRecordException extends RetriableException;
# kafka-python's CorruptRecordError is not retriable.
KAFKA_PYTHON_RETRIABLE_DISAGREEMENTS = {2: False}


def test_codes_are_contiguous_from_minus_one():
    codes = [int(code) for code in ErrorCode]
    assert codes == list(range(-1, len(codes) - 1))
    assert ErrorCode.CONTROLLER_ID_NOT_REGISTERED == 136  # the highest code in Kafka 4.4


def test_every_member_has_a_message_and_flag():
    for code in ErrorCode:
        assert isinstance(code.retriable, bool)
        assert isinstance(code.message, str) and code.message.strip(), code.name


def test_well_known_codes():
    assert ErrorCode(0) is ErrorCode.NONE
    assert ErrorCode.UNKNOWN_SERVER_ERROR == -1 and not ErrorCode.UNKNOWN_SERVER_ERROR.retriable
    assert ErrorCode.OFFSET_OUT_OF_RANGE == 1 and not ErrorCode.OFFSET_OUT_OF_RANGE.retriable
    assert ErrorCode.CORRUPT_MESSAGE == 2 and ErrorCode.CORRUPT_MESSAGE.retriable
    assert ErrorCode.UNKNOWN_TOPIC_OR_PARTITION == 3 and ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.retriable
    assert ErrorCode.NOT_LEADER_OR_FOLLOWER == 6 and ErrorCode.NOT_LEADER_OR_FOLLOWER.retriable
    assert ErrorCode.MESSAGE_TOO_LARGE == 10 and not ErrorCode.MESSAGE_TOO_LARGE.retriable
    assert ErrorCode.NOT_COORDINATOR == 16 and ErrorCode.NOT_COORDINATOR.retriable
    assert ErrorCode.UNSUPPORTED_VERSION == 35 and not ErrorCode.UNSUPPORTED_VERSION.retriable
    assert ErrorCode.TOPIC_ALREADY_EXISTS == 36
    assert ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER == 45 and not ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER.retriable
    assert ErrorCode.UNKNOWN_TOPIC_ID == 100 and ErrorCode.UNKNOWN_TOPIC_ID.retriable
    assert ErrorCode["NOT_LEADER_OR_FOLLOWER"].message


def _kafka_python_errors() -> list[type]:
    """Every broker error class in kafka.errors that has an errno (subclasses included)."""
    classes = {value for value in vars(kafka.errors).values() if isinstance(value, type)}
    return sorted(
        (cls for cls in classes if issubclass(cls, kafka.errors.BrokerResponseError) and cls.errno is not None),
        key=lambda cls: (cls.errno, cls.__name__),
    )


def test_against_kafka_python():
    classes = _kafka_python_errors()
    assert len({cls.errno for cls in classes}) >= 120, "kafka-python's error list looks truncated"
    name_mismatches = {}
    retriable_mismatches = {}
    for cls in classes:
        ours = ErrorCode(cls.errno)  # raises ValueError if we lack the code
        if cls.message != ours.name:
            name_mismatches[cls.errno] = cls.message
        if cls.retriable != ours.retriable:
            retriable_mismatches[cls.errno] = cls.retriable
    assert name_mismatches == KAFKA_PYTHON_NAME_ALIASES
    assert retriable_mismatches == KAFKA_PYTHON_RETRIABLE_DISAGREEMENTS


def _kafka_errors_table() -> list[tuple[int, str, bool]]:
    sys.path.insert(0, str(REPO))
    try:
        from compat_tests import reference_kafka
    finally:
        sys.path.remove(str(REPO))
    reason = reference_kafka.missing_prerequisites()
    if reason:
        pytest.skip(f"cannot read Kafka's Errors enum: {reason}")
    classpath = reference_kafka.resolve_classpath(reference_kafka.SERVER)
    result = subprocess.run(
        ["java", "-cp", classpath, str(REPO / "scripts" / "KafkaErrorCodes.java")],
        capture_output=True, text=True, timeout=300, check=True,
    )
    lines = result.stdout.splitlines()
    assert lines[0] == "# from kafka-clients-4.4.0.jar", lines[0]
    table = []
    for line in lines[1:]:
        code, name, retriable, _exception, _message = line.split("\t")
        table.append((int(code), name, retriable == "true"))
    return table


def test_matches_kafka_errors_enum():
    expected = _kafka_errors_table()
    ours = [(int(code), code.name, code.retriable) for code in ErrorCode]
    assert ours == expected
