"""CreatePartitions (api key 37), versions 0-3.

Checks (Kafka's order and messages), placement and the quorum write in
kwire/topic_admin.py. A topic only grows (INVALID_PARTITIONS otherwise);
explicit replica lists must cover exactly the new partitions, name
registered brokers once each and match the topic's replication factor
(INVALID_REPLICA_ASSIGNMENT). A topic named twice in one request gets one
INVALID_REQUEST. `validate_only` checks and changes nothing. The answer
comes after this broker has opened the new partitions' logs, so they take
produce and fetch at once.
"""

from __future__ import annotations

from typing import Any

from kwire_protocol import messages
from kwire_protocol.messages import ApiKey

from kwire.handlers import handles
from kwire.topic_admin import PartitionsRequest, create_partitions

CreatePartitionsResponse = messages.CreatePartitionsResponse
Result = CreatePartitionsResponse.cls.CreatePartitionsTopicResult


@handles(ApiKey.CREATE_PARTITIONS)
async def create_partitions_handler(broker: Any, request: Any) -> Any:
    body = request.body
    requests = [
        PartitionsRequest(
            name=t.name,
            count=t.count,
            assignments=None if t.assignments is None else [list(a.broker_ids) for a in t.assignments],
        )
        for t in body.topics
    ]
    results = await create_partitions(broker, requests, body.validate_only, body.timeout_ms)
    return CreatePartitionsResponse(
        throttle_time_ms=0,
        results=[Result(name=r.name, error_code=r.error_code, error_message=r.error_message) for r in results],
    )
