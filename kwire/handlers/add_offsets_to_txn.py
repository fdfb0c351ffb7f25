"""AddOffsetsToTxn (api key 25), versions 0-4.

Adds the group's __consumer_offsets partition (abs(String.hashCode(group))
% offsets.topic.num.partitions) to the producer's transaction, so the
transaction's markers reach the offsets its TxnOffsetCommit writes there.
Before v2, PRODUCER_FENCED is answered INVALID_PRODUCER_EPOCH, as Kafka's
KafkaApis does for older clients.
"""

from __future__ import annotations

from typing import Any

from kwire_protocol import messages
from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.messages import ApiKey

from kwire.handlers import handles
from kwire.topics import GROUP_METADATA_TOPIC

AddOffsetsToTxnResponse = messages.AddOffsetsToTxnResponse


@handles(ApiKey.ADD_OFFSETS_TO_TXN)
async def add_offsets_to_txn(broker: Any, request: Any) -> Any:
    body = request.body
    runner = broker.transaction_coordinator
    if runner is None:
        error = ErrorCode.COORDINATOR_NOT_AVAILABLE
    else:
        partition = broker.group_coordinator.coordinator.partition_for(body.group_id)
        error = await runner.coordinator.add_partitions(body.transactional_id, body.producer_id, body.producer_epoch,
                                                        {(GROUP_METADATA_TOPIC, partition)})
    if request.version < 2 and error == ErrorCode.PRODUCER_FENCED:
        error = ErrorCode.INVALID_PRODUCER_EPOCH
    return AddOffsetsToTxnResponse(throttle_time_ms=0, error_code=error)
