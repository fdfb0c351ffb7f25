"""InitProducerId (api key 22), versions 0-5 (v6 is unstable in Kafka 4.4).

Idempotent producers (no transactional id) get a fresh producer id at epoch
0 on every call, at every version: Kafka's TransactionCoordinator
(handleInitProducerId) "blindly accepts" a request without a transactional
id and ignores the producer id and epoch it carries. KIP-360's epoch bump
for idempotent producers happens in the client, which keeps its producer
id and bumps the epoch locally; the broker's producer state accepts the new
epoch at sequence 0 (kwire_storage producer_state.py). Versions 0 and 1
(aiokafka, kafkajs) differ from the newer ones only in their encoding.

With a transactional id, as Kafka checks before the coordinator: an empty
id is INVALID_REQUEST, a transaction.timeout.ms of 0 or above
transaction.max.timeout.ms is INVALID_TRANSACTION_TIMEOUT.

Not implemented yet (issue 7): transactional ids themselves (answered
COORDINATOR_NOT_AVAILABLE until the transaction coordinator exists, since
FindCoordinator for transactions is not served either), and with them the
v3+ epoch bump of a transactional producer that names its current id and
epoch.
"""

from __future__ import annotations

import asyncio
from typing import Any

from kwire_protocol import messages
from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.messages import ApiKey

from kwire.handlers import handles

InitProducerIdResponse = messages.InitProducerIdResponse


def _error(code: int) -> Any:
    return InitProducerIdResponse(error_code=code, producer_id=-1, producer_epoch=-1, throttle_time_ms=0)


@handles(ApiKey.INIT_PRODUCER_ID)
async def init_producer_id(broker: Any, request: Any) -> Any:
    body = request.body
    if body.transactional_id is not None:
        if body.transactional_id == "":
            return _error(ErrorCode.INVALID_REQUEST)
        if not 0 < body.transaction_timeout_ms <= broker.config["transaction.max.timeout.ms"]:
            return _error(ErrorCode.INVALID_TRANSACTION_TIMEOUT)
        return _error(ErrorCode.COORDINATOR_NOT_AVAILABLE)
    try:
        producer_id = await broker.producer_ids.next_id()
    except (asyncio.TimeoutError, Exception):
        return _error(ErrorCode.COORDINATOR_NOT_AVAILABLE)
    return InitProducerIdResponse(error_code=ErrorCode.NONE, producer_id=producer_id, producer_epoch=0, throttle_time_ms=0)
