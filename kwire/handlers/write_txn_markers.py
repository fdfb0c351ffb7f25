"""WriteTxnMarkers (api key 27), versions 1-2.

What a transaction coordinator sends the partition leaders: one commit or
abort marker per partition, written by the same writer the coordinator of
this broker uses (kwire/transactions/runner.py write_marker), so a marker
in a __consumer_offsets partition also commits or drops the producer's
pending transactional offsets. Per partition: UNKNOWN_TOPIC_OR_PARTITION
when it does not exist, NOT_LEADER_OR_FOLLOWER when not led here,
INVALID_PRODUCER_EPOCH / TRANSACTION_COORDINATOR_FENCED when the partition
knows a newer producer epoch / coordinator epoch. v2 adds the
transaction version, which changes nothing for the partition.
"""

from __future__ import annotations

from typing import Any

from kwire_protocol import messages
from kwire_protocol.messages import ApiKey

from kwire.handlers import handles
from kwire.transactions.runner import write_marker

WriteTxnMarkersResponse = messages.WriteTxnMarkersResponse
MarkerResult = WriteTxnMarkersResponse.cls.WritableTxnMarkerResult
TopicResult = MarkerResult.WritableTxnMarkerTopicResult
PartitionResult = TopicResult.WritableTxnMarkerPartitionResult


@handles(ApiKey.WRITE_TXN_MARKERS)
def write_txn_markers(broker: Any, request: Any) -> Any:
    results = []
    for marker in request.body.markers:
        topics = []
        for topic in marker.topics:
            partitions = [
                PartitionResult(partition_index=index, error_code=write_marker(
                    broker, (topic.name, index), marker.producer_id, marker.producer_epoch, marker.coordinator_epoch, marker.transaction_result))
                for index in topic.partition_indexes
            ]
            topics.append(TopicResult(name=topic.name, partitions=partitions))
        results.append(MarkerResult(producer_id=marker.producer_id, topics=topics))
    return WriteTxnMarkersResponse(markers=results)
