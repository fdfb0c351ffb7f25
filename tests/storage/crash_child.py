"""Child process of test_crash.py: appends deterministic batches until killed.

Usage: python -m tests.storage.crash_child LOG_DIR FLUSH_MESSAGES [txn]

Batch i (one per append, i counted from the start of the log) is a pure
function of i, so the parent can tell exactly what must be on disk. With
`txn`, append i is `txn_ops()[i]`: plain batches, idempotent and
transactional batches of three producers, and commit/abort markers. After
each append returns, the child writes "i first_offset last_offset
recovery_point" to stdout with one write(2): a line is an acknowledged
append.
"""

from __future__ import annotations

import os
import random
import sys

from kwire_protocol.records.builder import build_batch
from kwire_protocol.records.record import NewRecord

from kwire_storage.config import LogConfig
from kwire_storage.log import AppendInfo, Log
from kwire_storage.manager import LogManager

T0 = 1_700_000_000_000
TOPIC = "crash"


def batch_for(i: int) -> bytes:
    rng = random.Random(i * 7919 + 17)
    count = rng.randint(1, 5)
    big = rng.random() < 0.1
    records = [
        NewRecord(key=b"k%d" % rng.randrange(50), value=rng.randbytes(rng.randint(0, 150_000 if big else 3000)),
                  timestamp=T0 + i)
        for _ in range(count)
    ]
    return build_batch(records, compression=rng.choice([0, 0, 0, 1, 3, 4]))


def txn_ops(count: int = 5000) -> list[tuple[str, int, bool, list[bytes], int]]:
    """(kind, producer id, transactional or commit, values, base sequence) for each append, always valid."""
    rng = random.Random(4242)
    sequences = {1: 0, 2: 0, 3: 0}
    open_txn = {1: False, 2: False, 3: False}
    ops: list[tuple[str, int, bool, list[bytes], int]] = []
    for i in range(count):
        producer_id = rng.choice([1, 2, 3])
        roll = rng.random()
        values = [b"%d-%d-" % (i, n) + rng.randbytes(rng.randint(0, 4000)) for n in range(rng.randint(1, 4))]
        if roll < 0.15:
            ops.append(("plain", -1, False, values, -1))
        elif roll < 0.35:
            ops.append(("marker", producer_id, rng.random() < 0.5, [], -1))
            open_txn[producer_id] = False
        else:
            transactional = open_txn[producer_id] or rng.random() < 0.8
            ops.append(("data", producer_id, transactional, values, sequences[producer_id]))
            sequences[producer_id] += len(values)
            open_txn[producer_id] = transactional
    return ops


def append_txn_op(log: Log, op: tuple[str, int, bool, list[bytes], int]) -> AppendInfo:
    kind, producer_id, flag, values, sequence = op
    if kind == "marker":
        return log.append_marker(producer_id, 0, 0, commit=flag)
    records = [NewRecord(key=None, value=v, timestamp=T0) for v in values]
    if kind == "plain":
        return log.append(build_batch(records))
    return log.append(build_batch(records, producer_id=producer_id, producer_epoch=0, base_sequence=sequence,
                                  is_transactional=flag))


def config(flush_messages: int) -> LogConfig:
    return LogConfig({"internal.segment.bytes": 1024 * 1024, "index.interval.bytes": 1024,
                      "flush.messages": flush_messages, "file.delete.delay.ms": 0})


def main() -> None:
    log_dir, flush_messages = sys.argv[1], int(sys.argv[2])
    ops = txn_ops() if sys.argv[3:] == ["txn"] else None
    manager = LogManager(log_dir, config(flush_messages))
    manager.startup()
    log = manager.get_or_create_log(TOPIC, 0)
    i = sum(1 for s in log.segments for _ in s.log.headers(0))
    while True:
        info = append_txn_op(log, ops[i]) if ops is not None else log.append(bytearray(batch_for(i)))
        log.update_high_watermark(log.log_end_offset)
        # One write(2) of a short line to a pipe is atomic: a line is there whole or not at all.
        os.write(1, f"{i} {info.first_offset} {info.last_offset} {log.recovery_point}\n".encode())
        if i % 7 == 0:
            manager.checkpoint()
        i += 1


if __name__ == "__main__":
    main()
