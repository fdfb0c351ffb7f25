"""Model-based test: any sequence of log operations matches a list-of-batches model.

The model is the list of batches (exact bytes, after offset assignment) the
log should hold, plus the log start offset and high watermark. After every
step the log must return exactly the model's batches from its start offset,
keep log start offset <= high watermark <= log end offset, and have indexes
that point at batch starts.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from kwire_protocol.records.batch import RecordBatch

from kwire_storage.log import Log
from kwire_storage.retention import delete_old_segments

from tests.storage.helpers import Clock, check_indexes, make_batch, read_all, small_config

T0 = 1_700_000_000_000
CONFIG = small_config(**{"internal.segment.bytes": 4096, "index.interval.bytes": 128, "retention.bytes": 6000,
                         "retention.ms": 60_000, "segment.index.bytes": 160})


class LogMachine(RuleBasedStateMachine):
    @initialize()
    def open(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="kwire-prop-"))
        self.clock = Clock(T0)
        self.log = Log(self.root / "prop-0", CONFIG, clock=self.clock)
        self.batches: list[bytes] = []  # model: batches in the log, in order
        self.start = 0
        self.end = 0
        self.high_watermark = 0

    def teardown(self) -> None:
        if hasattr(self, "log"):
            self.log.close()
            shutil.rmtree(self.root, ignore_errors=True)

    @staticmethod
    def _batch(data: bytes) -> RecordBatch:
        return RecordBatch(memoryview(data))

    @rule(records=st.integers(1, 4), size=st.integers(0, 200), batches=st.integers(1, 3), age=st.integers(0, 120_000))
    def append(self, records: int, size: int, batches: int, age: int) -> None:
        blob = bytearray()
        for n in range(batches):
            blob += make_batch([bytes([65 + n]) * size] * records, timestamp=self.clock.now - age)
        info = self.log.append(blob)
        assert info.first_offset == self.end
        view = memoryview(blob)
        position = 0
        while position < len(view):
            batch = RecordBatch(view[position:position + int.from_bytes(view[position + 8:position + 12], "big") + 12])
            self.batches.append(bytes(batch.buffer))
            position += batch.size
        self.end = info.last_offset + 1

    @rule()
    def roll(self) -> None:
        self.log.roll()

    @rule(fraction=st.floats(0, 1))
    def set_high_watermark(self, fraction: float) -> None:
        target = self.start + int((self.end - self.start) * fraction)
        assert self.log.update_high_watermark(target) == target
        self.high_watermark = target

    @rule(fraction=st.floats(0, 1))
    def delete_records(self, fraction: float) -> None:
        target = self.start + int((self.high_watermark - self.start) * fraction)
        assert self.log.delete_records(target) == max(target, self.start)
        self.start = max(target, self.start)
        self._drop_below_start()

    @rule(advance=st.integers(0, 120_000))
    def retention(self, advance: int) -> None:
        self.clock.advance(advance)
        size_before = self.log.size
        removed = delete_old_segments(self.log)
        assert self.log.log_start_offset >= self.start
        if removed:
            assert self.log.log_start_offset == self.log.segments[0].base_offset or self.log.log_start_offset == self.start
            assert self.log.size < size_before
        self.start = self.log.log_start_offset
        self._drop_below_start()

    @rule(fraction=st.floats(0, 1))
    def truncate(self, fraction: float) -> None:
        target = self.start + int((self.end - self.start) * fraction)
        truncated = self.log.truncate_to(target)
        assert truncated == (target < self.end)
        if not truncated:
            return
        kept = [b for b in self.batches if self._batch(b).last_offset < target]
        straddling = [b for b in self.batches if self._batch(b).base_offset < target <= self._batch(b).last_offset]
        self.batches = kept
        self.end = self._batch(straddling[0]).base_offset if straddling else target
        if self.end < self.start:
            self.batches, self.end = [], self.start
        self.high_watermark = min(self.high_watermark, self.end)

    @rule(clean=st.booleans())
    def reopen(self, clean: bool) -> None:
        recovery_point = self.log.recovery_point
        if clean:
            self.log.close()
        else:
            self.log.close_unclean()
        self.log = Log(self.root / "prop-0", CONFIG, clock=self.clock, recovery_point=recovery_point,
                       log_start_offset=self.start, high_watermark=self.high_watermark, clean_shutdown=clean)
        assert self.log.load_report.truncations == []

    @invariant()
    def offsets_hold(self) -> None:
        if not hasattr(self, "log"):
            return
        log = self.log
        assert (log.log_start_offset, log.high_watermark, log.log_end_offset) == (self.start, self.high_watermark, self.end)
        assert log.log_start_offset <= log.high_watermark <= log.log_end_offset
        assert log.recovery_point <= log.log_end_offset

    @invariant()
    def returns_exactly_the_model(self) -> None:
        if not hasattr(self, "log"):
            return
        assert [bytes(b.buffer) for b in read_all(self.log)] == self.batches
        check_indexes(self.log)
        for data in self.batches[:: max(1, len(self.batches) // 5)]:
            batch = self._batch(data)
            offset = max(batch.last_offset, self.start)
            assert self.log.read(offset, 1).read() == data

    def _drop_below_start(self) -> None:
        self.batches = [b for b in self.batches if self._batch(b).last_offset >= self.start]


LogMachine.TestCase.settings = settings(
    max_examples=200, stateful_step_count=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestLogMachine = LogMachine.TestCase
