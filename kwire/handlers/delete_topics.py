"""DeleteTopics (api key 20), versions 1-6.

Checks and the quorum write in kwire/topic_admin.py. v1-5 name topics;
v6+ names each topic by name or by id (KIP-516), never both. Once the
deletion is applied this broker deletes the topic's logs from disk
(PartitionManager.apply_image) before answering, so a topic created again
under the same name gets a new id and starts empty.

delete.topic.enable=false refuses every topic: TOPIC_DELETION_DISABLED, or
INVALID_REQUEST before v3, which predates that error (as Kafka 4.4 answers).
Internal topics are not protected: Kafka 4.x deletes them when asked.
"""

from __future__ import annotations

from typing import Any

from kwire_protocol import messages
from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.messages import ApiKey
from kwire_protocol.primitives import ZERO_UUID

from kwire.handlers import handles
from kwire.topic_admin import DeleteResult, delete_topics

DeleteTopicsResponse = messages.DeleteTopicsResponse
Result = DeleteTopicsResponse.cls.DeletableTopicResult


@handles(ApiKey.DELETE_TOPICS)
async def delete_topics_handler(broker: Any, request: Any) -> Any:
    body = request.body
    if request.version >= 6:
        topics = [(t.name, None if t.topic_id == ZERO_UUID else t.topic_id) for t in body.topics]
    else:
        topics = [(name, None) for name in body.topic_names]
    if not broker.config["delete.topic.enable"]:
        code = ErrorCode.TOPIC_DELETION_DISABLED if request.version >= 3 else ErrorCode.INVALID_REQUEST
        results = [DeleteResult(name, topic_id, code) for name, topic_id in topics]
    else:
        results = await delete_topics(broker, topics, body.timeout_ms)
    return DeleteTopicsResponse(
        throttle_time_ms=0,
        responses=[
            # Before v6 the name is not nullable: a result always has one there.
            Result(name=r.name if request.version >= 6 else (r.name or ""), topic_id=r.topic_id or ZERO_UUID, error_code=r.error_code, error_message=r.error_message)
            for r in results
        ],
    )
