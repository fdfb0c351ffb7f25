"""AddPartitionsToTxn (api key 24), versions 0-5.

v0-3 come from producers and carry one transaction; v4+ (KIP-890) come
from brokers and batch several, each possibly `verify_only` (is every
partition in the ongoing transaction? TRANSACTION_ABORTABLE for those that
are not; kwire's own produce path asks its coordinator directly).

As Kafka's KafkaApis: a partition that does not exist fails its whole
transaction with UNKNOWN_TOPIC_OR_PARTITION, the other partitions getting
OPERATION_NOT_ATTEMPTED; otherwise the coordinator's error is the answer
of every partition of the transaction. Before v2, PRODUCER_FENCED is
answered INVALID_PRODUCER_EPOCH, which older clients know. kwire has no
ACLs, so nothing is refused for authorization.
"""

from __future__ import annotations

from typing import Any

from kwire_protocol import messages
from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.messages import ApiKey

from kwire.handlers import handles

AddPartitionsToTxnResponse = messages.AddPartitionsToTxnResponse
Result = AddPartitionsToTxnResponse.cls.AddPartitionsToTxnResult
TopicResult = AddPartitionsToTxnResponse.cls.AddPartitionsToTxnTopicResult
PartitionResult = TopicResult.AddPartitionsToTxnPartitionResult


@handles(ApiKey.ADD_PARTITIONS_TO_TXN)
async def add_partitions_to_txn(broker: Any, request: Any) -> Any:
    body = request.body
    version = request.version
    if version < 4:
        errors = await _transaction(broker, version, body.v3_and_below_transactional_id, body.v3_and_below_producer_id,
                                    body.v3_and_below_producer_epoch, False, body.v3_and_below_topics)
        return AddPartitionsToTxnResponse(throttle_time_ms=0, results_by_topic_v3_and_below=_topic_results(errors))
    results = []
    for txn in body.transactions:
        errors = await _transaction(broker, version, txn.transactional_id, txn.producer_id, txn.producer_epoch, txn.verify_only, txn.topics)
        results.append(Result(transactional_id=txn.transactional_id, topic_results=_topic_results(errors)))
    return AddPartitionsToTxnResponse(throttle_time_ms=0, error_code=ErrorCode.NONE, results_by_transaction=results)


async def _transaction(broker: Any, version: int, transactional_id: str, producer_id: int, producer_epoch: int, verify_only: bool,
                       topics: Any) -> dict[tuple[str, int], int]:
    partitions = [(t.name, p) for t in topics for p in t.partitions]
    image = broker.image
    missing = {tp for tp in partitions if (topic := image.topic(tp[0])) is None or topic.partition(tp[1]) is None}
    if missing:
        return {tp: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION if tp in missing else ErrorCode.OPERATION_NOT_ATTEMPTED for tp in partitions}
    runner = broker.transaction_coordinator
    if runner is None:
        return dict.fromkeys(partitions, ErrorCode.COORDINATOR_NOT_AVAILABLE)
    coordinator = runner.coordinator
    if verify_only:
        return coordinator.verify_partitions(transactional_id, producer_id, producer_epoch, partitions)
    # Brokers send v5 for transactions v2 clients (the partition is added on their produce).
    error = await coordinator.add_partitions(transactional_id, producer_id, producer_epoch, set(partitions), 2 if version >= 5 else 0)
    if version < 2 and error == ErrorCode.PRODUCER_FENCED:
        error = ErrorCode.INVALID_PRODUCER_EPOCH
    return dict.fromkeys(partitions, error)


def _topic_results(errors: dict[tuple[str, int], int]) -> list[Any]:
    by_topic: dict[str, list[Any]] = {}
    for (topic, partition), error in errors.items():
        by_topic.setdefault(topic, []).append(PartitionResult(partition_index=partition, partition_error_code=error))
    return [TopicResult(name=topic, results_by_partition=results) for topic, results in by_topic.items()]
