"""CreateTopics (api key 19), versions 2-7.

Checks and placement in kwire/topic_admin.py, in Kafka's order and with its
messages; the quorum decides whether a name is still free when the creation
is applied. `validate_only` runs every check and creates nothing;
`timeout_ms` <= 0 answers REQUEST_TIMED_OUT and creates nothing (as Kafka
4.4 does). A name given twice gets one INVALID_REQUEST result. v5+
answers with the partition count, replication factor and the topic's full
config list (with sources), as Kafka does, so that admin clients need no
DescribeConfigs round trip.
"""

from __future__ import annotations

from typing import Any

from kwire_protocol import messages
from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.messages import ApiKey
from kwire_protocol.primitives import ZERO_UUID

from kwire.handlers import handles
from kwire.topic_admin import TopicRequest, create_topics
from kwire.topic_configs import BrokerLayers, describe_topic_configs

CreateTopicsResponse = messages.CreateTopicsResponse
Result = CreateTopicsResponse.cls.CreatableTopicResult
ConfigEntry = Result.CreatableTopicConfigs


@handles(ApiKey.CREATE_TOPICS)
async def create_topics_handler(broker: Any, request: Any) -> Any:
    body = request.body
    requests = [
        TopicRequest(
            name=t.name,
            num_partitions=t.num_partitions,
            replication_factor=t.replication_factor,
            assignments={a.partition_index: list(a.broker_ids) for a in t.assignments},
            configs={c.name: c.value for c in t.configs},
        )
        for t in body.topics
    ]
    results = await create_topics(broker, requests, validate_only=body.validate_only, timeout_ms=body.timeout_ms)
    layers = BrokerLayers.of(broker.config, broker.image.broker_configs, broker.node_id)  # dynamic broker defaults too
    out = []
    for result in results:
        ok = result.error_code == ErrorCode.NONE
        out.append(
            Result(
                name=result.name,
                topic_id=result.topic_id or ZERO_UUID,
                error_code=result.error_code,
                error_message=result.error_message,
                num_partitions=result.num_partitions if ok else -1,
                replication_factor=result.replication_factor if ok else -1,
                configs=[
                    ConfigEntry(name=e.name, value=e.value, read_only=e.read_only, config_source=e.source, is_sensitive=e.is_sensitive)
                    for e in describe_topic_configs(broker.config, result.configs, layers=layers)
                ]
                if ok
                else None,
            )
        )
    return CreateTopicsResponse(throttle_time_ms=0, topics=out)
