"""DescribeTransactions (api key 65), version 0 (KIP-664, kafka-transactions.sh describe).

Per transactional id, from its coordinator here: state name, producer id
and epoch, timeout, start time (-1 when none is open) and partitions.
NOT_COORDINATOR when its __transaction_state partition is not led here,
COORDINATOR_LOAD_IN_PROGRESS while it loads, TRANSACTIONAL_ID_NOT_FOUND
for an unknown id, INVALID_REQUEST for an empty one.
"""

from __future__ import annotations

from typing import Any

from kwire_protocol import messages
from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.messages import ApiKey

from kwire.handlers import handles

DescribeTransactionsResponse = messages.DescribeTransactionsResponse
TransactionState = DescribeTransactionsResponse.cls.TransactionState
TopicData = TransactionState.TopicData


@handles(ApiKey.DESCRIBE_TRANSACTIONS)
def describe_transactions(broker: Any, request: Any) -> Any:
    runner = broker.transaction_coordinator
    states = []
    for transactional_id in request.body.transactional_ids:
        if runner is None:
            states.append(TransactionState(transactional_id=transactional_id, error_code=ErrorCode.COORDINATOR_NOT_AVAILABLE))
            continue
        error, metadata = runner.coordinator.describe(transactional_id)
        if metadata is None:
            states.append(TransactionState(transactional_id=transactional_id, error_code=error))
            continue
        by_topic: dict[str, list[int]] = {}
        for topic, partition in sorted(metadata.partitions):
            by_topic.setdefault(topic, []).append(partition)
        states.append(TransactionState(
            error_code=ErrorCode.NONE,
            transactional_id=transactional_id,
            transaction_state=metadata.state.state_name,
            transaction_timeout_ms=metadata.txn_timeout_ms,
            transaction_start_time_ms=metadata.txn_start_timestamp,
            producer_id=metadata.producer_id,
            producer_epoch=metadata.producer_epoch,
            topics=[TopicData(topic=topic, partitions=partitions) for topic, partitions in by_topic.items()],
        ))
    return DescribeTransactionsResponse(throttle_time_ms=0, transaction_states=states)
