"""SIGKILL crash test: a child appends until killed at a random moment; the log must recover.

60 seeded rounds on one log directory: each round starts a child
(crash_child.py) that continues the log, waits for a random number of
acknowledged appends, sleeps a random sub-millisecond-to-milliseconds
moment (so the kill often lands inside a write), kills it with SIGKILL and
reopens the directory as an unclean shutdown. Then:

* every acknowledged append is present, byte for byte, at its offsets
  (a killed process loses nothing the kernel already has, flushed or not;
  what flush.messages adds is protection against power loss, which a test
  cannot simulate);
* the log holds exactly batches 0..n-1 of the child's sequence, where n is
  the number acknowledged or one more (the append in flight) - no partial
  batch, nothing else;
* every index entry points at the batch it names;
* any cut recovery made is at the tail and reported.

In about a third of the rounds the kill is followed by a simulated power
loss: the active segment file is cut at a random byte after the last point
the child reported as flushed (its recovery point, or what the previous
recovery made durable). Then every flushed batch must survive, the log
must still be an exact prefix of the sequence, and the torn batch is cut
and reported. This is what exercises torn-tail recovery: a SIGKILL alone
never tears a write on Linux.

The transactional variant runs the same way over `crash_child.txn_ops`
(several producers' transactional and plain batches, commit and abort
markers): after each restart the log is a prefix of the operations that
holds every acknowledged one, and its last stable offset, open
transactions, aborted-transaction list (from the rebuilt .txnindex files)
and what a read_committed reader sees agree with a model replayed from
that prefix (test_transaction_properties.py).
"""

from __future__ import annotations

import logging
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from kwire_protocol.records.batch import RecordBatch, set_base_offset

from kwire_storage.manager import LogManager

from tests.storage.crash_child import TOPIC, batch_for, config, txn_ops
from tests.storage.helpers import check_indexes, read_all
from tests.storage.test_transaction_properties import Appended, check

ROUNDS = 60
SEED = 20240611
REPO = Path(__file__).resolve().parents[2]


def expected_batch(i: int, base_offset: int) -> bytes:
    data = bytearray(batch_for(i))
    set_base_offset(data, base_offset)
    return bytes(data)


def run_child(log_dir: Path, rng: random.Random, *mode: str) -> list[tuple[int, int, int, int]]:
    """Start a child, kill it at a random moment, return its acknowledged appends."""
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.storage.crash_child", str(log_dir), str(rng.choice([1, 5, 2**63 - 1])), *mode],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    acked: list[tuple[int, int, int, int]] = []
    try:
        wanted = rng.randint(1, 40)
        deadline = time.monotonic() + 30
        assert child.stdout is not None
        while len(acked) < wanted and time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            acked.append(tuple(int(x) for x in line.split()))  # type: ignore[arg-type]
        time.sleep(rng.choice([0, 0.0002, 0.001, 0.003]))
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    # The dead child's pipes are at EOF; read through the buffered wrappers,
    # which may already hold acknowledged lines.
    out, err = child.stdout.read(), child.stderr.read()  # type: ignore[union-attr]
    child.stdout.close()  # type: ignore[union-attr]
    child.stderr.close()  # type: ignore[union-attr]
    assert child.returncode == -signal.SIGKILL, err
    for line in out.splitlines(keepends=True):
        assert line.endswith("\n"), f"torn acknowledgement line {line!r}"
        fields = tuple(int(x) for x in line.split())
        assert len(fields) == 4, f"unexpected child output {line!r}"
        acked.append(fields)  # type: ignore[arg-type]
    return acked


def lose_unflushed_tail(partition_dir: Path, durable_end: int, rng: random.Random) -> bool:
    """Cut the active segment somewhere after `durable_end`'s batch; True if anything was cut."""
    active = max(partition_dir.glob("*.log"))
    data = active.read_bytes()
    position = 0
    while position + 61 <= len(data):
        size = int.from_bytes(data[position + 8:position + 12], "big") + 12
        if position + size > len(data):
            break  # the kill already tore this write
        if RecordBatch(memoryview(data)[position:position + size]).base_offset >= durable_end:
            break
        position += size
    if position >= len(data):
        return False
    cut = rng.randint(position, len(data) - 1)
    os.truncate(active, cut)
    return True


def test_sigkill_at_random_moments_loses_no_acknowledged_append(tmp_path, caplog):
    rng = random.Random(SEED)
    log_dir = tmp_path / "data"
    acknowledged: dict[int, tuple[int, int]] = {}
    durable_end = 0  # everything below this offset was fsynced
    torn_tails = power_losses = 0
    started = time.monotonic()
    for round_number in range(ROUNDS):
        for i, first, last, recovery_point in run_child(log_dir, rng):
            acknowledged[i] = (first, last)
            durable_end = max(durable_end, recovery_point)
        power_loss = rng.random() < 0.35 and lose_unflushed_tail(log_dir / f"{TOPIC}-0", durable_end, rng)
        if power_loss:
            power_losses += 1
            # Acknowledged but unflushed appends may be gone; flushed ones may not.
            must_survive = sum(1 for first, last in acknowledged.values() if last < durable_end)
        caplog.clear()
        with caplog.at_level(logging.ERROR, logger="kwire_storage"):
            manager = LogManager(log_dir, config(2**63 - 1))
            manager.startup()
        assert not manager.had_clean_shutdown
        log = manager.get_log(TOPIC, 0)
        assert log is not None
        report = log.load_report
        assert report.removed_segments == []
        for truncation in report.truncations:
            # Only ever a torn tail: the cut is at the end of the last segment.
            assert truncation.segment_base_offset == log.active_segment.base_offset
            assert truncation.last_valid_offset == log.log_end_offset - 1 or truncation.position == 0
            assert f"truncated {truncation.bytes_truncated} bytes" in caplog.text
            torn_tails += 1
        batches = read_all(log, 0)
        if power_loss:
            assert must_survive <= len(batches) <= len(acknowledged) + 1, (round_number, len(batches))
            acknowledged = {i: v for i, v in acknowledged.items() if i < len(batches)}
        else:
            assert len(acknowledged) <= len(batches) <= len(acknowledged) + 1, (round_number, len(batches))
        offset = 0
        for i, batch in enumerate(batches):
            assert bytes(batch.buffer) == expected_batch(i, offset), f"round {round_number}: batch {i} differs"
            if i in acknowledged:
                assert acknowledged[i] == (batch.base_offset, batch.last_offset)
            offset = batch.next_offset
        assert log.log_end_offset == offset
        for i, (first, _) in acknowledged.items():
            assert RecordBatch(memoryview(log.read(first, 1).read())).base_offset == first
        check_indexes(log)
        if len(batches) > len(acknowledged):
            acknowledged[len(batches) - 1] = (batches[-1].base_offset, batches[-1].last_offset)
        durable_end = log.log_end_offset  # recovery fsyncs what it kept
        manager.abandon()  # next round starts from this state as an unclean shutdown too
    print(f"{len(acknowledged)} appends kept, {power_losses} power losses, {torn_tails} torn tails cut by recovery")
    assert len(acknowledged) > ROUNDS and power_losses > 10 and torn_tails > 5
    assert time.monotonic() - started < 150


TXN_ROUNDS = 20


def test_sigkill_with_transactions_recovers_lso_and_aborted_transactions(tmp_path, caplog):
    rng = random.Random(SEED + 1)
    log_dir = tmp_path / "data"
    ops = txn_ops()
    acknowledged = 0
    durable_end = 0
    aborts = 0
    for round_number in range(TXN_ROUNDS):
        acked = run_child(log_dir, rng, "txn")
        if acked:
            acknowledged = acked[-1][0] + 1
            durable_end = max(durable_end, max(recovery_point for *_, recovery_point in acked))
        must_survive = acknowledged
        if rng.random() < 0.35 and lose_unflushed_tail(log_dir / f"{TOPIC}-0", durable_end, rng):
            must_survive = min(acknowledged, sum(1 for b in read_all_from_disk(log_dir) if b.last_offset < durable_end))
        with caplog.at_level(logging.ERROR, logger="kwire_storage"):
            manager = LogManager(log_dir, config(2**63 - 1))
            manager.startup()
        log = manager.get_log(TOPIC, 0)
        assert log is not None
        batches = read_all(log, 0)
        assert must_survive <= len(batches) <= acknowledged + 1, (round_number, len(batches))
        appended = []
        for (kind, producer_id, flag, values, _), batch in zip(ops, batches):
            assert batch.is_control == (kind == "marker") and batch.producer_id == producer_id, round_number
            if kind != "marker":
                assert [r.value for r in batch.records()] == values
            appended.append(Appended(producer_id, batch.base_offset, batch.last_offset, values,
                                     transactional=flag and kind == "data", marker=flag if kind == "marker" else None))
        expected = check(log, appended, 1 << 16)
        aborts = max(aborts, len(expected.aborted))
        check_indexes(log)
        acknowledged = len(batches)
        durable_end = log.log_end_offset
        manager.abandon()
    assert acknowledged > TXN_ROUNDS and aborts > 5, (acknowledged, aborts)


def read_all_from_disk(log_dir: Path) -> list[RecordBatch]:
    """The whole batches in the partition's segment files, in order (without opening the log)."""
    batches = []
    for path in sorted((log_dir / f"{TOPIC}-0").glob("*.log")):
        data = path.read_bytes()
        position = 0
        while position + 61 <= len(data):
            size = int.from_bytes(data[position + 8:position + 12], "big") + 12
            if position + size > len(data):
                break
            batches.append(RecordBatch(memoryview(data)[position:position + size]))
            position += size
    return batches
