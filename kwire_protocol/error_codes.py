"""Kafka protocol error codes, as of Apache Kafka 4.4 (-1 and 0 through 136).

Every response carries these as int16 error_code fields. Each member of
`ErrorCode` has Kafka's name and number, plus:

* ``retriable``: whether Kafka classes the error as retriable (its exception
  is a ``RetriableException``), i.e. a client may simply send the request
  again, possibly after refreshing metadata;
* ``message``: a short default description, for logs and for error_message
  fields when the broker has nothing more specific to say.

The numbers, names and retriable flags were read from Kafka 4.4.0's
``org.apache.kafka.common.protocol.Errors`` by scripts/KafkaErrorCodes.java::

    java -cp "$(python -m compat_tests.reference_kafka classpath)" scripts/KafkaErrorCodes.java

and tests/protocol/test_error_codes.py compares this table with its output.
The messages are our own wording.
Codes never change meaning once assigned, so newer Kafka versions only append.
"""

from __future__ import annotations

from enum import IntEnum


class ErrorCode(IntEnum):
    """A Kafka error code, with ``.retriable`` and ``.message``."""

    retriable: bool
    message: str

    def __new__(cls, code: int, retriable: bool, message: str) -> ErrorCode:
        member = int.__new__(cls, code)
        member._value_ = code
        member.retriable = retriable
        member.message = message
        return member

    # name = (code, retriable, message)
    UNKNOWN_SERVER_ERROR = (-1, False, "The server hit an unexpected error while handling the request.")
    NONE = (0, False, "No error.")
    OFFSET_OUT_OF_RANGE = (1, False, "The requested offset is outside the range the partition holds.")
    CORRUPT_MESSAGE = (2, True, "A record batch failed its CRC or size checks, or is otherwise corrupt.")
    UNKNOWN_TOPIC_OR_PARTITION = (3, True, "This server does not host the topic or partition.")
    INVALID_FETCH_SIZE = (4, False, "The requested fetch size is not valid.")
    LEADER_NOT_AVAILABLE = (5, True, "The partition has no leader right now (an election is in progress).")
    NOT_LEADER_OR_FOLLOWER = (6, True, "This broker is not the leader (or not a replica) of the partition.")
    REQUEST_TIMED_OUT = (7, True, "The request timed out.")
    BROKER_NOT_AVAILABLE = (8, False, "The broker is not available.")
    REPLICA_NOT_AVAILABLE = (9, True, "The replica is not available for the partition.")
    MESSAGE_TOO_LARGE = (10, False, "A record batch is larger than the largest the server accepts.")
    STALE_CONTROLLER_EPOCH = (11, False, "The controller has moved to another node.")
    OFFSET_METADATA_TOO_LARGE = (12, False, "The offset commit metadata is too large.")
    NETWORK_EXCEPTION = (13, True, "The connection closed before a response was received.")
    COORDINATOR_LOAD_IN_PROGRESS = (14, True, "The coordinator is still loading its state.")
    COORDINATOR_NOT_AVAILABLE = (15, True, "The coordinator is not available.")
    NOT_COORDINATOR = (16, True, "This broker is not the coordinator for that key.")
    INVALID_TOPIC_EXCEPTION = (17, False, "The topic name is not valid for this operation.")
    RECORD_LIST_TOO_LARGE = (18, False, "The record batch is larger than the configured segment size.")
    NOT_ENOUGH_REPLICAS = (19, True, "Too few in-sync replicas to accept the write.")
    NOT_ENOUGH_REPLICAS_AFTER_APPEND = (20, True, "The write was appended, but to fewer in-sync replicas than required.")
    INVALID_REQUIRED_ACKS = (21, False, "The produce request's acks value is not valid.")
    ILLEGAL_GENERATION = (22, False, "The group generation id is not the current one.")
    INCONSISTENT_GROUP_PROTOCOL = (23, False, "The member's protocols do not match those of the group.")
    INVALID_GROUP_ID = (24, False, "The group id is not valid.")
    UNKNOWN_MEMBER_ID = (25, False, "The coordinator does not know this member id.")
    INVALID_SESSION_TIMEOUT = (26, False, "The session timeout is outside the range the broker allows.")
    REBALANCE_IN_PROGRESS = (27, False, "The group is rebalancing; the member must rejoin.")
    INVALID_COMMIT_OFFSET_SIZE = (28, False, "The committed offset data has an invalid size.")
    TOPIC_AUTHORIZATION_FAILED = (29, False, "Not authorized to access the topic.")
    GROUP_AUTHORIZATION_FAILED = (30, False, "Not authorized to access the group.")
    CLUSTER_AUTHORIZATION_FAILED = (31, False, "Not authorized for this cluster operation.")
    INVALID_TIMESTAMP = (32, False, "A record timestamp is outside the accepted range.")
    UNSUPPORTED_SASL_MECHANISM = (33, False, "The broker does not support that SASL mechanism.")
    ILLEGAL_SASL_STATE = (34, False, "The request is not valid in the current SASL state.")
    UNSUPPORTED_VERSION = (35, False, "The broker does not support this API version.")
    TOPIC_ALREADY_EXISTS = (36, False, "A topic with this name already exists.")
    INVALID_PARTITIONS = (37, False, "The number of partitions is not valid.")
    INVALID_REPLICATION_FACTOR = (38, False, "The replication factor is below 1 or above the number of brokers.")
    INVALID_REPLICA_ASSIGNMENT = (39, False, "The replica assignment is not valid.")
    INVALID_CONFIG = (40, False, "The configuration is not valid.")
    NOT_CONTROLLER = (41, True, "This node is not the active controller.")
    INVALID_REQUEST = (42, False, "The request is malformed or not valid for this broker.")
    UNSUPPORTED_FOR_MESSAGE_FORMAT = (43, False, "The message format in use does not support this request.")
    POLICY_VIOLATION = (44, False, "The request violates a configured policy.")
    OUT_OF_ORDER_SEQUENCE_NUMBER = (45, False, "The broker received a sequence number out of order.")
    DUPLICATE_SEQUENCE_NUMBER = (46, False, "The broker already received this sequence number.")
    INVALID_PRODUCER_EPOCH = (47, False, "The producer epoch is older than the current one.")
    INVALID_TXN_STATE = (48, False, "The transactional operation is not valid in the transaction's state.")
    INVALID_PRODUCER_ID_MAPPING = (49, False, "The producer id is not the one assigned to this transactional id.")
    INVALID_TRANSACTION_TIMEOUT = (50, False, "The transaction timeout exceeds the broker's maximum.")
    CONCURRENT_TRANSACTIONS = (51, True, "Another operation on the same transaction is in progress.")
    TRANSACTION_COORDINATOR_FENCED = (52, False, "The transaction coordinator sending this is no longer current.")
    TRANSACTIONAL_ID_AUTHORIZATION_FAILED = (53, False, "Not authorized to use the transactional id.")
    SECURITY_DISABLED = (54, False, "Security features are disabled.")
    OPERATION_NOT_ATTEMPTED = (55, False, "The broker did not attempt this operation (another in the batch failed).")
    KAFKA_STORAGE_ERROR = (56, True, "A disk error occurred while accessing the log.")
    LOG_DIR_NOT_FOUND = (57, False, "The log directory is not in the broker's configuration.")
    SASL_AUTHENTICATION_FAILED = (58, False, "SASL authentication failed.")
    UNKNOWN_PRODUCER_ID = (59, False, "The broker has no state for this producer id (its records may have expired).")
    REASSIGNMENT_IN_PROGRESS = (60, False, "A partition reassignment is in progress.")
    DELEGATION_TOKEN_AUTH_DISABLED = (61, False, "Delegation tokens are not enabled.")
    DELEGATION_TOKEN_NOT_FOUND = (62, False, "The delegation token was not found.")
    DELEGATION_TOKEN_OWNER_MISMATCH = (63, False, "The principal is not the token's owner or renewer.")
    DELEGATION_TOKEN_REQUEST_NOT_ALLOWED = (64, False, "Delegation token requests are not allowed on this kind of connection.")
    DELEGATION_TOKEN_AUTHORIZATION_FAILED = (65, False, "Not authorized for the delegation token.")
    DELEGATION_TOKEN_EXPIRED = (66, False, "The delegation token has expired.")
    INVALID_PRINCIPAL_TYPE = (67, False, "The principal type is not supported.")
    NON_EMPTY_GROUP = (68, False, "The group still has members.")
    GROUP_ID_NOT_FOUND = (69, False, "The group does not exist.")
    FETCH_SESSION_ID_NOT_FOUND = (70, True, "The fetch session was not found.")
    INVALID_FETCH_SESSION_EPOCH = (71, True, "The fetch session epoch is not valid.")
    LISTENER_NOT_FOUND = (72, True, "The leader has no listener matching the one the metadata request came in on.")
    TOPIC_DELETION_DISABLED = (73, False, "Topic deletion is disabled.")
    FENCED_LEADER_EPOCH = (74, True, "The request's leader epoch is older than the broker's.")
    UNKNOWN_LEADER_EPOCH = (75, True, "The request's leader epoch is newer than the broker's.")
    UNSUPPORTED_COMPRESSION_TYPE = (76, False, "The client does not support the partition's compression type.")
    STALE_BROKER_EPOCH = (77, False, "The broker epoch has changed.")
    OFFSET_NOT_AVAILABLE = (78, True, "The new leader's high watermark has not caught up yet.")
    MEMBER_ID_REQUIRED = (79, False, "The member must obtain a member id before joining the group.")
    PREFERRED_LEADER_NOT_AVAILABLE = (80, True, "The preferred leader is not available.")
    GROUP_MAX_SIZE_REACHED = (81, False, "The group is at its maximum size.")
    FENCED_INSTANCE_ID = (82, False, "Another member registered with the same group.instance.id.")
    ELIGIBLE_LEADERS_NOT_AVAILABLE = (83, True, "No eligible leader is available for the partition.")
    ELECTION_NOT_NEEDED = (84, True, "The partition does not need a leader election.")
    NO_REASSIGNMENT_IN_PROGRESS = (85, False, "No partition reassignment is in progress.")
    GROUP_SUBSCRIBED_TO_TOPIC = (86, False, "The group is subscribed to the topic, so its offsets cannot be deleted.")
    INVALID_RECORD = (87, False, "The broker rejected a record that failed validation.")
    UNSTABLE_OFFSET_COMMIT = (88, True, "Pending transactional offsets must be resolved first.")
    THROTTLING_QUOTA_EXCEEDED = (89, True, "The throttling quota was exceeded.")
    PRODUCER_FENCED = (90, False, "A newer producer with the same transactional id has fenced this one.")
    RESOURCE_NOT_FOUND = (91, False, "The request refers to a resource that does not exist.")
    DUPLICATE_RESOURCE = (92, False, "The request refers to the same resource more than once.")
    UNACCEPTABLE_CREDENTIAL = (93, False, "The credential does not meet the acceptability criteria.")
    INCONSISTENT_VOTER_SET = (94, False, "The sender or receiver is not one of the expected voters.")
    INVALID_UPDATE_VERSION = (95, False, "The update version is not valid.")
    FEATURE_UPDATE_FAILED = (96, False, "Finalized features could not be updated.")
    PRINCIPAL_DESERIALIZATION_FAILURE = (97, False, "The forwarded request's principal could not be deserialized.")
    SNAPSHOT_NOT_FOUND = (98, False, "The requested snapshot was not found.")
    POSITION_OUT_OF_RANGE = (99, False, "The position is negative or past the end of the snapshot.")
    UNKNOWN_TOPIC_ID = (100, True, "This server does not host a topic with this id.")
    DUPLICATE_BROKER_REGISTRATION = (101, False, "This broker id is already registered.")
    BROKER_ID_NOT_REGISTERED = (102, False, "This broker id is not registered.")
    INCONSISTENT_TOPIC_ID = (103, True, "The log's topic id differs from the one in the request.")
    INCONSISTENT_CLUSTER_ID = (104, False, "The cluster id differs from the server's.")
    TRANSACTIONAL_ID_NOT_FOUND = (105, False, "The transactional id was not found.")
    FETCH_SESSION_TOPIC_ID_ERROR = (106, True, "The fetch session mixed topic ids inconsistently.")
    INELIGIBLE_REPLICA = (107, False, "The new ISR contains a replica that is not eligible.")
    NEW_LEADER_ELECTED = (108, False, "The partition state was updated, but a new leader has been elected.")
    OFFSET_MOVED_TO_TIERED_STORAGE = (109, False, "The offset has moved to tiered storage.")
    FENCED_MEMBER_EPOCH = (110, False, "The member epoch is fenced; the member must rejoin without its partitions.")
    UNRELEASED_INSTANCE_ID = (111, False, "Another member still holds this instance id.")
    UNSUPPORTED_ASSIGNOR = (112, False, "The group does not support this assignor or version.")
    STALE_MEMBER_EPOCH = (113, False, "The member epoch is stale; retry after the next heartbeat.")
    MISMATCHED_ENDPOINT_TYPE = (114, False, "The request was sent to the wrong kind of endpoint.")
    UNSUPPORTED_ENDPOINT_TYPE = (115, False, "This kind of endpoint is not supported yet.")
    UNKNOWN_CONTROLLER_ID = (116, False, "The controller id is not known.")
    UNKNOWN_SUBSCRIPTION_ID = (117, False, "The telemetry subscription id is unknown or outdated.")
    TELEMETRY_TOO_LARGE = (118, False, "The telemetry push is larger than the broker accepts.")
    INVALID_REGISTRATION = (119, False, "The controller found the broker registration not valid.")
    TRANSACTION_ABORTABLE = (120, False, "The transaction hit an error; the client may abort it and go on.")
    INVALID_RECORD_STATE = (121, False, "The record's state does not allow this acknowledgement.")
    SHARE_SESSION_NOT_FOUND = (122, True, "The share session was not found.")
    INVALID_SHARE_SESSION_EPOCH = (123, True, "The share session epoch is not valid.")
    FENCED_STATE_EPOCH = (124, False, "The state epoch does not match the coordinator's.")
    INVALID_VOTER_KEY = (125, False, "The voter key does not match the receiving replica.")
    DUPLICATE_VOTER = (126, False, "The voter is already in the voter set.")
    VOTER_NOT_FOUND = (127, False, "The voter is not in the voter set.")
    INVALID_REGULAR_EXPRESSION = (128, False, "The regular expression is not valid.")
    REBOOTSTRAP_REQUIRED = (129, False, "The client's metadata is stale; it must bootstrap again.")
    STREAMS_INVALID_TOPOLOGY = (130, False, "The streams topology is not valid.")
    STREAMS_INVALID_TOPOLOGY_EPOCH = (131, False, "The streams topology epoch is not valid.")
    STREAMS_TOPOLOGY_FENCED = (132, False, "The streams topology epoch is outdated.")
    SHARE_SESSION_LIMIT_REACHED = (133, True, "The maximum number of share sessions has been reached.")
    GROUP_DELETION_FAILED = (134, False, "A group could not be deleted; see its own error message.")
    STREAMS_TOPOLOGY_DESCRIPTION_UPDATE_FAILED = (135, False, "The streams topology description could not be updated.")
    CONTROLLER_ID_NOT_REGISTERED = (136, False, "The controller id is not registered.")
