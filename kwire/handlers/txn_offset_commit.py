"""TxnOffsetCommit (api key 28), versions 0-6.

A transactional producer commits a group's offsets inside its transaction
(KIP-98; the consume-transform-produce loop's sendOffsetsToTransaction).
The offsets are written to the group's __consumer_offsets partition as one
transactional batch of the producer (its id and epoch, base sequence -1)
and stay pending until the transaction coordinator writes the COMMIT or
ABORT marker there: only then do they become the group's committed offsets
(or vanish). Until then OffsetFetch with require_stable answers
UNSTABLE_OFFSET_COMMIT for those partitions (see groups/transactional_offsets.py).

Checks as Kafka 4.4's OffsetMetadataManager.validateTransactionalOffsetCommit:
an unknown group is created (empty, "simple") when no generation is given,
else ILLEGAL_GENERATION; a classic group checks member id, instance id
(FENCED_INSTANCE_ID) and generation (ILLEGAL_GENERATION) when v3+ sends
them, and, unlike OffsetCommit, neither refuses a commit without member id
from a group with members (v0-2 have none) nor one during a rebalance. A
KIP-848 consumer group checks the member (UNKNOWN_MEMBER_ID) and its epoch:
a stale one fails the request with ILLEGAL_GENERATION. Metadata over
offset.metadata.max.bytes gets OFFSET_METADATA_TOO_LARGE; a topic that does
not exist UNKNOWN_TOPIC_OR_PARTITION (v6 names topics by id:
UNKNOWN_TOPIC_ID). An empty group id is INVALID_GROUP_ID; coordinator
errors (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS, and append failures
mapped as Kafka's coordinator runtime does) go to every partition. A
producer epoch older than the one __consumer_offsets knows for the
producer gets INVALID_PRODUCER_EPOCH.

Transaction verification (KIP-890), before any group check, as Kafka 4.4's
coordinator runtime does when the group's __consumer_offsets partition has
no transaction of this producer open yet: v5+ (transactions v2 clients,
which send no AddOffsetsToTxn) add the partition to the transaction
implicitly; older versions, when transaction.partition.verification.enable
is on (default), must have added it (AddOffsetsToTxn), else
TRANSACTION_ABORTABLE from v4 (KIP-890 clients), INVALID_TXN_STATE before
(Kafka 4.4's answers, compared with compat_tests.reference_kafka). The transaction coordinator's errors reach every
partition as Kafka maps them: PRODUCER_FENCED -> INVALID_PRODUCER_EPOCH,
INVALID_PRODUCER_ID_MAPPING as is, coordinator unavailability and
concurrent transactions -> COORDINATOR_NOT_AVAILABLE (retriable).
"""

from __future__ import annotations

from typing import Any

from kwire_protocol import messages
from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.messages import ApiKey

from kwire.handlers import handles
from kwire.handlers.offset_commit import requested_commits, response_topics
from kwire.topics import GROUP_METADATA_TOPIC

TxnOffsetCommitResponse = messages.TxnOffsetCommitResponse
Topic = TxnOffsetCommitResponse.cls.TxnOffsetCommitResponseTopic
Partition = Topic.TxnOffsetCommitResponsePartition

IMPLICIT_ADD_VERSION = 5
ABORTABLE_VERSION = 4
_RETRIABLE = {ErrorCode.NOT_COORDINATOR, ErrorCode.COORDINATOR_NOT_AVAILABLE, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
              ErrorCode.CONCURRENT_TRANSACTIONS}


@handles(ApiKey.TXN_OFFSET_COMMIT)
async def txn_offset_commit(broker: Any, request: Any) -> Any:
    body = request.body
    version = request.version
    commits, errors = requested_commits(broker.image, body.topics, by_id=version >= 6)
    coordinator = broker.group_coordinator.coordinator
    group_error = ErrorCode.NONE
    commit_errors: list[int] = []
    if body.group_id:
        group_error = await _verify_transaction(broker, body, version, coordinator.partition_for(body.group_id))
    if group_error == ErrorCode.NONE:
        group_error, commit_errors = await coordinator.commit_transactional_offsets(
            body.group_id,
            body.producer_id,
            body.producer_epoch,
            body.generation_id_or_member_epoch,
            body.member_id or "",
            body.group_instance_id,
            commits,
        )
    topics = response_topics(body.topics, errors, group_error, commit_errors, Topic, Partition)
    return TxnOffsetCommitResponse(throttle_time_ms=0, topics=topics)


async def _verify_transaction(broker: Any, body: Any, version: int, partition: int) -> int:
    """Is the group's __consumer_offsets partition in the producer's transaction
    (added now for v5+)? An error code for every partition, or NONE."""
    runner = getattr(broker, "transaction_coordinator", None)
    implicit_add = version >= IMPLICIT_ADD_VERSION
    if runner is None or not (implicit_add or broker.config["transaction.partition.verification.enable"]):
        return ErrorCode.NONE
    partition_log = broker.partitions.get(GROUP_METADATA_TOPIC, partition)
    entry = partition_log.producer_state.producers.get(body.producer_id) if partition_log is not None else None
    if entry is not None and entry.current_txn_first_offset >= 0 and entry.epoch == body.producer_epoch:
        return ErrorCode.NONE  # the transaction is open on that partition already
    topic_partition = (GROUP_METADATA_TOPIC, partition)
    if implicit_add:
        error = await runner.coordinator.add_partitions(body.transactional_id, body.producer_id, body.producer_epoch, {topic_partition}, 2)
    else:
        error = runner.coordinator.verify_partitions(body.transactional_id, body.producer_id, body.producer_epoch, [topic_partition])[topic_partition]
    if error == ErrorCode.PRODUCER_FENCED:
        return ErrorCode.INVALID_PRODUCER_EPOCH
    if error == ErrorCode.TRANSACTION_ABORTABLE and version < ABORTABLE_VERSION:
        return ErrorCode.INVALID_TXN_STATE
    if error in _RETRIABLE:
        return ErrorCode.COORDINATOR_NOT_AVAILABLE
    return int(error)
