"""Apache Kafka's own DumpLogSegments (kafka-dump-log.sh) reads kwire's segment files.

The tool comes from Maven (org.apache.kafka:kafka-tools). Version
4.3.1 is used because 4.4.0's kafka-tools-api artifact is not published
there. In Kafka 4.x the tool's main class is
org.apache.kafka.tools.DumpLogSegments (it moved out of kafka.tools). The
resolved classpath is cached under ~/.m2/kwire/, the jars in ~/.m2/repository.

Besides printing every batch and record (which we compare with what kwire
stored), the tool cross-checks each .index and .timeindex entry against the
log and prints "Mismatches in" / "Found timestamp mismatch" on any
disagreement.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from kwire_protocol.records.builder import build_batch
from kwire_protocol.records.record import NewRecord

from kwire_storage.cleaner import clean_log
from kwire_storage.log import Log

from tests.storage.helpers import Clock, read_all, small_config

KAFKA_VERSION = "4.3.1"
MAIN_CLASS = "org.apache.kafka.tools.DumpLogSegments"
CLASSPATH_CACHE = Path.home() / ".m2" / "kwire" / f"kafka-tools-{KAFKA_VERSION}.classpath"
POM = f"""<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>kwire.test</groupId><artifactId>dump-log</artifactId><version>0</version>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>{KAFKA_VERSION}</version>
    </dependency>
  </dependencies>
</project>
"""
T0 = 1_700_000_000_000


@pytest.fixture(scope="module")
def classpath() -> str:
    if shutil.which("mvn") is None or shutil.which("java") is None:
        pytest.skip("mvn and java are needed to fetch and run Kafka's DumpLogSegments")
    if CLASSPATH_CACHE.exists():
        cached = CLASSPATH_CACHE.read_text().strip()
        if cached and all(Path(jar).exists() for jar in cached.split(":")):
            return cached
    with tempfile.TemporaryDirectory() as work:
        (Path(work) / "pom.xml").write_text(POM)
        out = Path(work) / "classpath.txt"
        result = subprocess.run(
            ["mvn", "-q", "-B", "dependency:build-classpath", f"-Dmdep.outputFile={out}"],
            cwd=work, capture_output=True, text=True, timeout=600,
        )
        assert result.returncode == 0, f"mvn could not resolve kafka-tools {KAFKA_VERSION}:\n{result.stdout}\n{result.stderr}"
        jars = out.read_text().strip()
    CLASSPATH_CACHE.parent.mkdir(parents=True, exist_ok=True)
    CLASSPATH_CACHE.write_text(jars)
    return jars


def dump(classpath: str, files: list[Path]) -> str:
    result = subprocess.run(
        ["java", "-cp", classpath, MAIN_CLASS, "--files", ",".join(str(f) for f in files),
         "--print-data-log", "--deep-iteration"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    output = result.stdout
    for problem in ("Mismatches in", "mismatch", "isvalid: false", "Exception", "corrupt"):
        assert problem not in output, output
    return output


def decode_internal_records(classpath: str, directory: Path, pairs: list[tuple[bytes, bytes | None]], decoder: str) -> str:
    """Write `pairs` (key, value) as one batch stamped T0 to a new log in
    `directory` (named like the internal topic's partition) and return what
    DumpLogSegments prints with `decoder` (--offsets-decoder,
    --transaction-log-decoder); it must decode every record."""
    log = Log(directory, small_config(), clock=Clock(T0))
    log.append(build_batch([NewRecord(key, value, timestamp=T0) for key, value in pairs]))
    log.close()
    result = subprocess.run(
        ["java", "-cp", classpath, MAIN_CLASS, "--files", str(directory / "00000000000000000000.log"), decoder],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    output = result.stdout
    assert "Exception" not in output and "Unknown" not in output, output
    return output


_BATCH = re.compile(r"^baseOffset: (\d+) lastOffset: (\d+) count: (\d+) .*deleteHorizonMs: (\S+) position: (\d+) "
                    r"(CreateTime|LogAppendTime): (\d+) size: (\d+) magic: 2 compresscodec: (\w+) crc: (\d+) isvalid: true$")
# A null key or value is printed by leaving out "key:" / "payload:".
_RECORD = re.compile(r"^\| offset: (\d+) (CreateTime|LogAppendTime): (\d+) .*?headerKeys: \[[^\]]*\]"
                     r"(?: key: (\S*))?(?: payload: (.*))?$")


def parse(output: str) -> tuple[list[tuple[int, ...]], list[tuple[int, int, str, str]]]:
    batches, records = [], []
    for line in output.splitlines():
        m = _BATCH.match(line)
        if m:
            batches.append((int(m[1]), int(m[2]), int(m[3]), int(m[5]), int(m[8]), int(m[10])))
            continue
        m = _RECORD.match(line)
        if m:
            records.append((int(m[1]), int(m[3]), m[4] or "null", m[5] or "null"))
    return batches, records


def segment_paths(log: Log) -> list[Path]:
    return [p for s in log.segments for p in (s.log.path, s.offset_index.path, s.time_index.path)]


def expected_from(log: Log) -> tuple[list[tuple[int, ...]], list[tuple[int, int, str, str]]]:
    batches, records = [], []
    for segment in log.segments:
        for header in segment.log.headers(0):
            batch = next(b for b in read_all(log) if b.base_offset == header.base_offset)
            batches.append((batch.base_offset, batch.last_offset, batch.records_count, header.position,
                            batch.size, batch.crc))
            for r in batch.records():
                records.append((r.offset, r.timestamp, "null" if r.key is None else r.key.decode(),
                                "null" if r.value is None else r.value.decode()))
    return batches, records


def test_kafka_dump_log_reads_kwire_segments_and_agrees_with_their_indexes(tmp_path, classpath):
    log = Log(tmp_path / "orders-0", small_config(**{"internal.segment.bytes": 2048, "index.interval.bytes": 200}),
              clock=Clock(T0))
    for i in range(40):
        log.append(build_batch(
            [NewRecord(key=None if j == 1 else b"key-%d" % i, value=b"value-%d-%d" % (i, j),
                       headers=[("trace", b"t%d" % j)], timestamp=T0 + 10 * i + j) for j in range(3)],
            compression=i % 5,
        ), leader_epoch=i // 10)
    assert len(log.segments) >= 3
    expected = expected_from(log)
    log.close()
    output = dump(classpath, segment_paths(log))
    assert parse(output) == expected
    assert output.count("Dumping ") == 3 * len(log.segments)
    assert "partitionLeaderEpoch: 3" in output and "compresscodec: zstd" in output


def test_kafka_dump_log_reads_log_append_time_and_compacted_segments(tmp_path, classpath):
    clock = Clock(T0)
    config = small_config(**{"internal.segment.bytes": 1024, "cleanup.policy": "compact",
                             "message.timestamp.type": "LogAppendTime", "delete.retention.ms": 1000})
    log = Log(tmp_path / "compacted-0", config, clock=clock)
    for i in range(60):
        value = None if i % 13 == 12 else b"v%d" % i
        log.append(build_batch([NewRecord(key=b"hot" if i % 3 == 0 else b"k%d" % i, value=value, timestamp=T0)], compression=i % 3))
        clock.advance(5)
    log.update_high_watermark(log.log_end_offset)
    result = clean_log(log, clock.now, force=True)
    assert result is not None and result.records_removed > 0
    expected = expected_from(log)
    log.close()
    output = dump(classpath, segment_paths(log))
    assert parse(output) == expected
    offsets = [r[0] for r in expected[1]]
    assert offsets != list(range(offsets[0], offsets[0] + len(offsets)))  # gaps left by compaction
    assert "LogAppendTime:" in output
    assert re.search(r"deleteHorizonMs: OptionalLong\[\d+\]", output), output


def test_producer_snapshot(classpath: str, tmp_path: Path) -> None:
    """`.snapshot` files are Kafka's ProducerSnapshot v1 (its CRC checked by Kafka): one entry per cached batch."""
    log = Log(tmp_path / "idem-0", small_config(), clock=Clock(T0))
    for producer_id in (7, 8):
        for sequence in range(0, 9, 3):
            log.append(build_batch([NewRecord(value=b"x", timestamp=T0)] * 3, producer_id=producer_id, producer_epoch=2,
                                   base_sequence=sequence))
    log.close()
    snapshot = tmp_path / "idem-0" / f"{18:020d}.snapshot"
    lines = [line for line in dump(classpath, [snapshot]).splitlines() if line.startswith("producerId")]
    assert len(lines) == 6
    assert lines[-1] == (f"producerId: 8 producerEpoch: 2 coordinatorEpoch: -1 currentTxnFirstOffset: OptionalLong.empty "
                         f"lastTimestamp: {T0} firstSequence: 6 lastSequence: 8 lastOffset: 17 offsetDelta: 2 timestamp: {T0}")


def test_transaction_markers_txnindex_and_open_transactions(classpath: str, tmp_path: Path) -> None:
    """Kafka reads kwire's control batches, `.txnindex` entries and open transactions in `.snapshot` files."""
    log = Log(tmp_path / "txn-0", small_config(), clock=Clock(T0))

    def data(producer_id: int, sequence: int) -> bytes:
        return build_batch([NewRecord(value=b"x", timestamp=T0)], producer_id=producer_id, producer_epoch=1,
                           base_sequence=sequence, is_transactional=True)

    log.append(data(1, 0))                                  # 0
    log.append(data(2, 0))                                  # 1
    log.append_marker(1, 1, 4, commit=False)                # 2: aborts producer 1 while 2 is open
    log.append_marker(2, 1, 4, commit=True)                 # 3
    log.append(data(2, 1))                                  # 4: open at close
    log.close()
    files = [tmp_path / "txn-0" / f"{0:020d}{suffix}" for suffix in (".log", ".txnindex")]
    output = dump(classpath, [*files, tmp_path / "txn-0" / f"{5:020d}.snapshot"])
    assert "version: 0 producerId: 1 firstOffset: 0 lastOffset: 2 lastStableOffset: 1" in output
    markers = [line for line in output.splitlines() if "endTxnMarker" in line]
    assert [("ABORT" in m, "coordinatorEpoch: 4" in m) for m in markers] == [(True, True), (False, True)]
    assert re.search(r"baseOffset: 2 lastOffset: 2 count: 1 .*producerId: 1 producerEpoch: 1 .*isTransactional: true "
                     r"isControl: true", output), output
    assert "producerId: 2 producerEpoch: 1 coordinatorEpoch: 4 currentTxnFirstOffset: OptionalLong[4]" in output
