"""InitProducerId (api key 22), versions 0-5 (v6, KIP-939 two-phase commit,
is unstable in Kafka 4.4 and not served).

Idempotent producers (no transactional id) get a fresh producer id at epoch
0 on every call, at every version: Kafka's TransactionCoordinator
(handleInitProducerId) "blindly accepts" a request without a transactional
id and ignores the producer id and epoch it carries. KIP-360's epoch bump
for idempotent producers happens in the client, which keeps its producer
id and bumps the epoch locally; the broker's producer state accepts the new
epoch at sequence 0 (kwire_storage producer_state.py). Versions 0 and 1
(aiokafka, kafkajs) differ from the newer ones only in their encoding.

With a transactional id the transaction coordinator answers
(kwire/transactions/coordinator.py): an empty id is INVALID_REQUEST, a
transaction.timeout.ms of 0 or above transaction.max.timeout.ms
INVALID_TRANSACTION_TIMEOUT; the id keeps its producer id and gets the
next epoch, fencing the previous producer (an ongoing transaction of it is
aborted first: CONCURRENT_TRANSACTIONS until then). v3+ (KIP-360) name the
producer's current id and epoch to bump them; a producer id without an
epoch or the reverse is INVALID_REQUEST. Before v4, PRODUCER_FENCED is
answered INVALID_PRODUCER_EPOCH, which older clients know (as Kafka's
KafkaApis does).
"""

from __future__ import annotations

import asyncio
from typing import Any

from kwire_protocol import messages
from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.messages import ApiKey

from kwire.handlers import handles

InitProducerIdResponse = messages.InitProducerIdResponse


def _error(code: int, version: int) -> Any:
    if version < 4 and code == ErrorCode.PRODUCER_FENCED:
        code = ErrorCode.INVALID_PRODUCER_EPOCH
    return InitProducerIdResponse(error_code=code, producer_id=-1, producer_epoch=-1, throttle_time_ms=0)


@handles(ApiKey.INIT_PRODUCER_ID)
async def init_producer_id(broker: Any, request: Any) -> Any:
    body = request.body
    version = request.version
    if (body.producer_id == -1) != (body.producer_epoch == -1):
        return _error(ErrorCode.INVALID_REQUEST, version)
    if body.transactional_id is not None:
        runner = broker.transaction_coordinator
        if runner is None:
            return _error(ErrorCode.COORDINATOR_NOT_AVAILABLE, version)
        expected = None if body.producer_id == -1 else (body.producer_id, body.producer_epoch)
        error, producer_id, epoch = await runner.coordinator.init_producer_id(body.transactional_id, body.transaction_timeout_ms, expected)
        if error != ErrorCode.NONE:
            return _error(error, version)
        return InitProducerIdResponse(error_code=ErrorCode.NONE, producer_id=producer_id, producer_epoch=epoch, throttle_time_ms=0)
    try:
        producer_id = await broker.producer_ids.next_id()
    except (asyncio.TimeoutError, Exception):
        return _error(ErrorCode.COORDINATOR_NOT_AVAILABLE, version)
    return InitProducerIdResponse(error_code=ErrorCode.NONE, producer_id=producer_id, producer_epoch=0, throttle_time_ms=0)
