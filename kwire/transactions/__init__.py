"""The transaction coordinator (KIP-98, KIP-360, KIP-890): see docs/transactions.md.

`state.py` the states and their transition table, `metadata.py` one
transactional id's state and its prepared transitions, `records.py` the
__transaction_state records, `coordinator.py` the coordinator (pure, on
the event loop, with injected log, marker writer, producer ids and clock),
`runner.py` what connects it to the broker (the topic, loading, markers,
periodic aborts and expiry).
"""
