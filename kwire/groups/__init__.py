"""Consumer groups: the classic group protocol and committed offsets.

    state.py        the group state machine (a transition table)
    group.py        a classic group and its members
    coordinator.py  the coordinator: joins, syncs, heartbeats, leaves, offsets, on the event loop
    records.py      __consumer_offsets record formats (Kafka's) and group -> partition
    transactional_offsets.py  TxnOffsetCommit offsets pending until their transaction's marker
    migration.py    KIP-848 online migration: classic members in consumer groups, upgrade/downgrade
    timers.py       injectable clock and timers (loop-driven, or manual for tests)
    loader.py       the coordinator in the broker: the internal topic, loading, retention

The API handlers (kwire/handlers/*_group*.py, offset_*.py, find_coordinator.py)
translate requests to coordinator calls. docs/groups.md describes what is served.
"""
