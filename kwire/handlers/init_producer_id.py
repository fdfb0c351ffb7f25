"""InitProducerId (api key 22), versions 0-5 (v6 is unstable in Kafka 4.4).

Idempotent producers (no transactional id) get a fresh producer id at epoch
0; a producer that names its current id and epoch (v3+, KIP-360) gets the
epoch bumped, or a new id once the epoch would overflow.

Not implemented yet (issue 7): transactional ids (answered
COORDINATOR_NOT_AVAILABLE until the transaction coordinator exists, since
FindCoordinator for transactions is not served either) and the broker-side
sequence checks that make idempotence exact.
"""

from __future__ import annotations

import asyncio
from typing import Any

from kwire_protocol import messages
from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.messages import ApiKey

from kwire.handlers import handles

InitProducerIdResponse = messages.InitProducerIdResponse
MAX_EPOCH = 32767


@handles(ApiKey.INIT_PRODUCER_ID)
async def init_producer_id(broker: Any, request: Any) -> Any:
    body = request.body
    if body.transactional_id is not None:
        return InitProducerIdResponse(error_code=ErrorCode.COORDINATOR_NOT_AVAILABLE, producer_id=-1, producer_epoch=-1)
    if body.producer_id >= 0 and 0 <= body.producer_epoch < MAX_EPOCH - 1:
        return InitProducerIdResponse(error_code=ErrorCode.NONE, producer_id=body.producer_id, producer_epoch=body.producer_epoch + 1)
    try:
        producer_id = await broker.producer_ids.next_id()
    except (asyncio.TimeoutError, Exception):
        return InitProducerIdResponse(error_code=ErrorCode.COORDINATOR_NOT_AVAILABLE, producer_id=-1, producer_epoch=-1)
    return InitProducerIdResponse(error_code=ErrorCode.NONE, producer_id=producer_id, producer_epoch=0)
