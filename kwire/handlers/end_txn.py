"""EndTxn (api key 26), versions 0-5.

Commits or aborts the producer's transaction through the transaction
coordinator (kwire/transactions/coordinator.py): PrepareCommit/PrepareAbort
is stored in __transaction_state, the client is answered, and the markers
follow. v5 is transactions v2 (KIP-890): the coordinator bumps the epoch
and the answer carries the producer id and epoch for the next transaction
(-1 before v5). Before v2, PRODUCER_FENCED is answered
INVALID_PRODUCER_EPOCH, as Kafka's KafkaApis does for older clients.
"""

from __future__ import annotations

from typing import Any

from kwire_protocol import messages
from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.messages import ApiKey

from kwire.handlers import handles

EndTxnResponse = messages.EndTxnResponse


@handles(ApiKey.END_TXN)
async def end_txn(broker: Any, request: Any) -> Any:
    body = request.body
    runner = broker.transaction_coordinator
    if runner is None:
        error, producer_id, epoch = ErrorCode.COORDINATOR_NOT_AVAILABLE, -1, -1
    else:
        client_transaction_version = 2 if request.version > 4 else 0
        error, producer_id, epoch = await runner.coordinator.end_transaction(
            body.transactional_id, body.producer_id, body.producer_epoch, body.committed, client_transaction_version)
    if request.version < 2 and error == ErrorCode.PRODUCER_FENCED:
        error = ErrorCode.INVALID_PRODUCER_EPOCH
    return EndTxnResponse(throttle_time_ms=0, error_code=error, producer_id=producer_id, producer_epoch=epoch)
