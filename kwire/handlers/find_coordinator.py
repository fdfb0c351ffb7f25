"""FindCoordinator (api key 10), versions 0-6.

Group keys (key type 0): the coordinator is the leader of the group's
__consumer_offsets partition (abs(String.hashCode) % partitions). The
first request creates the topic, as Kafka does; Kafka answers that request
COORDINATOR_NOT_AVAILABLE and lets the client retry, kwire waits (bounded)
for the creation and answers with the coordinator at once. See
kwire/groups/loader.py for the replication factor.

Transaction keys (key type 1): the coordinator is the leader of the
transactional id's __transaction_state partition, created on the first
such request in the same way (kwire/transactions/runner.py).
Other key types (share, 2) get INVALID_REQUEST.

v0-3 carry one key; v4+ a batch (`coordinator_keys`), each answered in
its own entry (KIP-699).
"""

from __future__ import annotations

from typing import Any

from kwire_protocol import messages
from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.messages import ApiKey

from kwire.handlers import handles
from kwire.topics import GROUP_METADATA_TOPIC

FindCoordinatorResponse = messages.FindCoordinatorResponse
Coordinator = FindCoordinatorResponse.cls.Coordinator

GROUP_KEY = 0
TRANSACTION_KEY = 1


@handles(ApiKey.FIND_COORDINATOR)
async def find_coordinator(broker: Any, request: Any) -> Any:
    body = request.body
    keys = list(body.coordinator_keys) if request.version >= 4 else [body.key]
    answers = [await _find(broker, body.key_type, key) for key in keys]
    if request.version >= 4:
        return FindCoordinatorResponse(
            throttle_time_ms=0,
            coordinators=[
                # Kafka 4.4 leaves a batched entry's error message empty.
                Coordinator(key=key, node_id=node, host=host, port=port, error_code=error, error_message=_message(error) if error == ErrorCode.NONE else "")
                for key, (error, node, host, port) in zip(keys, answers)
            ],
        )
    error, node, host, port = answers[0]
    return FindCoordinatorResponse(throttle_time_ms=0, error_code=error, error_message=_message(error), node_id=node, host=host, port=port)


def _message(error: int) -> str:
    # Kafka sets Errors.message(), which for NONE is the string "NONE".
    return "NONE" if error == ErrorCode.NONE else ErrorCode(error).message


async def _find(broker: Any, key_type: int, key: str) -> tuple[int, int, str, int]:
    if key_type == GROUP_KEY:
        runner = broker.group_coordinator
        error = await runner.ensure_offsets_topic()
        if error != ErrorCode.NONE:
            return error, -1, "", -1
        node = _leader_of(broker, runner.coordinator.partition_for(key))
    elif key_type == TRANSACTION_KEY:
        txn = broker.transaction_coordinator
        if txn is None:
            return ErrorCode.COORDINATOR_NOT_AVAILABLE, -1, "", -1
        error, node = await txn.find_coordinator(key)
        if error != ErrorCode.NONE:
            return error, -1, "", -1
    else:
        return ErrorCode.INVALID_REQUEST, -1, "", -1
    found = broker.image.brokers.get(node) if node >= 0 else None
    if found is None:
        return ErrorCode.COORDINATOR_NOT_AVAILABLE, -1, "", -1
    return ErrorCode.NONE, found.node_id, found.host, found.port


def _leader_of(broker: Any, partition: int) -> int:
    topic = broker.image.topic(GROUP_METADATA_TOPIC)
    state = topic.partition(partition) if topic is not None else None
    return state.leader if state is not None else -1
