"""Authorized operations, as reported in Metadata, DescribeGroups and
DescribeCluster (KIP-430).

kwire has no ACLs yet, so every operation that applies to a resource type is
allowed, and the bit fields list exactly those (Kafka's AclOperation codes).
A request that does not ask for them gets Kafka's "not requested" value.
"""

from __future__ import annotations

import enum


class AclOperation(enum.IntEnum):
    UNKNOWN = 0
    ANY = 1
    ALL = 2
    READ = 3
    WRITE = 4
    CREATE = 5
    DELETE = 6
    ALTER = 7
    DESCRIBE = 8
    CLUSTER_ACTION = 9
    DESCRIBE_CONFIGS = 10
    ALTER_CONFIGS = 11
    IDEMPOTENT_WRITE = 12
    CREATE_TOKENS = 13
    DESCRIBE_TOKENS = 14
    TWO_PHASE_COMMIT = 15


NOT_REQUESTED = -(2**31)  # Integer.MIN_VALUE in Kafka

_BY_RESOURCE = {
    "topic": (AclOperation.READ, AclOperation.WRITE, AclOperation.CREATE, AclOperation.DELETE, AclOperation.ALTER,
              AclOperation.DESCRIBE, AclOperation.DESCRIBE_CONFIGS, AclOperation.ALTER_CONFIGS),
    # Kafka 4.4 answers 3400 for a group (DescribeGroups and ConsumerGroupDescribe):
    # group configs (KIP-848) added DESCRIBE_CONFIGS and ALTER_CONFIGS.
    "group": (AclOperation.READ, AclOperation.DESCRIBE, AclOperation.DELETE, AclOperation.DESCRIBE_CONFIGS, AclOperation.ALTER_CONFIGS),
    "cluster": (AclOperation.CREATE, AclOperation.CLUSTER_ACTION, AclOperation.DESCRIBE_CONFIGS, AclOperation.ALTER_CONFIGS,
                AclOperation.IDEMPOTENT_WRITE, AclOperation.ALTER, AclOperation.DESCRIBE),
}


def authorized_operations(resource_type: str, requested: bool = True) -> int:
    if not requested:
        return NOT_REQUESTED
    bits = 0
    for operation in _BY_RESOURCE[resource_type]:
        bits |= 1 << operation
    return bits
