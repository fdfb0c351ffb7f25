"""ListTransactions (api key 66), versions 0-2 (KIP-664, kafka-transactions.sh list).

The transactional ids this broker coordinates, filtered by state names
(unknown names are echoed in unknown_state_filters), producer ids, v1's
duration (only transactions running longer than duration_filter ms;
-1: no filter, KIP-994) and v2's transactional-id pattern (a regular
expression the whole id must match, KIP-1152). COORDINATOR_LOAD_IN_PROGRESS
while a __transaction_state partition loads.
"""

from __future__ import annotations

from typing import Any

from kwire_protocol import messages
from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.messages import ApiKey

from kwire.handlers import handles

ListTransactionsResponse = messages.ListTransactionsResponse
TransactionState = ListTransactionsResponse.cls.TransactionState


@handles(ApiKey.LIST_TRANSACTIONS)
def list_transactions(broker: Any, request: Any) -> Any:
    body = request.body
    runner = broker.transaction_coordinator
    if runner is None:
        return ListTransactionsResponse(throttle_time_ms=0, error_code=ErrorCode.COORDINATOR_NOT_AVAILABLE)
    duration = body.duration_filter if request.version >= 1 else -1
    pattern = body.transactional_id_pattern if request.version >= 2 else None
    error, unknown, listed = runner.coordinator.list_transactions(body.state_filters, body.producer_id_filters, duration, pattern)
    return ListTransactionsResponse(
        throttle_time_ms=0,
        error_code=error,
        unknown_state_filters=unknown,
        transaction_states=[TransactionState(transactional_id=t.transactional_id, producer_id=t.producer_id, transaction_state=t.state)
                            for t in listed],
    )
