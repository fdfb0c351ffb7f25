"""The kwire pytest plugin, run as a user would: inner pytest runs in a subprocess.

Each inner run gets its own TMPDIR, so "no temp dir left" is "TMPDIR is empty
afterwards"; broker processes started by subprocess mode write their PID,
which must be gone when the inner run has ended.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from _pytest.pytester import Pytester

# Strict like kwire's own config (and like many users'): a warning fails the
# run. kafka-python 3.0 itself warns on import, so its users need that filter.
INI = """
[pytest]
filterwarnings =
    error
    ignore:(read_text|open_text) is deprecated:DeprecationWarning
kwire_mode = {mode}
"""

CLIENTS_TEST = '''
import asyncio
import os

import confluent_kafka
import kafka
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer


def _note(kafka_broker):
    with open(os.environ["KWIRE_NOTES"], "a") as f:
        f.write(f"{getattr(kafka_broker, 'pid', os.getpid())} {kafka_broker.data_dir} {kafka_broker.bootstrap_servers}\\n")


def test_kafka_python(kafka_broker):
    _note(kafka_broker)
    kafka_broker.create_topic("kp")
    producer = kafka.KafkaProducer(bootstrap_servers=kafka_broker.bootstrap_servers)
    for i in range(3):
        producer.send("kp", key=b"k", value=b"v%d" % i)
    producer.flush(10)
    producer.close(5)
    assert [(r.offset, r.key, r.value) for r in kafka_broker.read_all("kp")] == [(0, b"k", b"v0"), (1, b"k", b"v1"), (2, b"k", b"v2")]
    consumer = kafka.KafkaConsumer("kp", bootstrap_servers=kafka_broker.bootstrap_servers, group_id="g-kp",
                                   auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=10000)
    values = [m.value for _, m in zip(range(3), consumer)]
    consumer.commit()
    consumer.close()
    assert values == [b"v0", b"v1", b"v2"]
    assert kafka_broker.committed_offsets("g-kp") == {("kp", 0): 3}


def test_aiokafka(kafka_broker):
    _note(kafka_broker)
    kafka_broker.produce("aio", b"one", (b"k", b"two"))

    async def run():
        consumer = AIOKafkaConsumer("aio", bootstrap_servers=kafka_broker.bootstrap_servers, group_id="g-aio",
                                    auto_offset_reset="earliest", enable_auto_commit=False)
        await consumer.start()
        try:
            got = [await asyncio.wait_for(consumer.getone(), 10) for _ in range(2)]
            await consumer.commit()
        finally:
            await consumer.stop()
        producer = AIOKafkaProducer(bootstrap_servers=kafka_broker.bootstrap_servers)
        await producer.start()
        try:
            await producer.send_and_wait("aio", b"three")
        finally:
            await producer.stop()
        return [(m.key, m.value) for m in got]

    assert asyncio.run(run()) == [(None, b"one"), (b"k", b"two")]
    assert kafka_broker.committed_offsets("g-aio") == {("aio", 0): 2}
    assert [r.value for r in kafka_broker.read_all("aio")] == [b"one", b"two", b"three"]


def test_confluent_kafka(kafka_broker):
    _note(kafka_broker)
    kafka_broker.create_topic("ck", partitions=2)
    producer = confluent_kafka.Producer({"bootstrap.servers": kafka_broker.bootstrap_servers})
    producer.produce("ck", value=b"p1", partition=1)
    producer.produce("ck", value=b"p0", partition=0)
    assert producer.flush(10) == 0
    consumer = confluent_kafka.Consumer({"bootstrap.servers": kafka_broker.bootstrap_servers, "group.id": "g-ck",
                                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe(["ck"])
    got = []
    for _ in range(200):
        if len(got) == 2:
            break
        message = consumer.poll(0.1)
        if message is not None and message.error() is None:
            got.append((message.partition(), message.value()))
    consumer.commit(asynchronous=False)
    consumer.close()
    assert sorted(got) == [(0, b"p0"), (1, b"p1")]
    assert kafka_broker.committed_offsets("g-ck") == {("ck", 0): 1, ("ck", 1): 1}
    assert [(r.partition, r.value) for r in kafka_broker.read_all("ck")] == [(0, b"p0"), (1, b"p1")]
'''


def _run(pytester: Pytester, tmp_path: Path, mode: str, test_source: str, *args: str) -> tuple[pytest.RunResult, Path, Path]:
    monkeypatch = pytest.MonkeyPatch()
    pytester.makefile(".ini", pytest=INI.format(mode=mode))
    pytester.makepyfile(test_inner=test_source)
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    notes = tmp_path / "notes"
    notes.touch()
    with monkeypatch.context() as env:
        env.setenv("TMPDIR", str(tmpdir))
        env.setenv("KWIRE_NOTES", str(notes))
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=300)
    return result, tmpdir, notes


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.parametrize("mode", ["inprocess", "subprocess"])
def test_each_python_client_passes_against_kafka_broker(pytester: Pytester, tmp_path: Path, mode: str) -> None:
    result, tmpdir, notes = _run(pytester, tmp_path, mode, CLIENTS_TEST)
    result.assert_outcomes(passed=3)
    lines = [line.split() for line in notes.read_text().splitlines()]
    assert len(lines) == 3
    # session scope: one broker (one PID, one data dir, one address) for all three tests
    assert len({tuple(line) for line in lines}) == 1
    pid, data_dir, _ = lines[0]
    assert Path(data_dir).parent == tmpdir
    assert not Path(data_dir).exists()
    assert list(tmpdir.iterdir()) == []
    if mode == "subprocess":
        assert int(pid) != result.ret and _gone(int(pid))


FRESH_TEST = '''
import os

def _note(broker):
    with open(os.environ["KWIRE_NOTES"], "a") as f:
        f.write(f"{getattr(broker, 'pid', 0)} {broker.data_dir} {broker.bootstrap_servers}\\n")

def test_one(fresh_kafka_broker):
    _note(fresh_kafka_broker)
    fresh_kafka_broker.produce("t", b"from one")
    assert [r.value for r in fresh_kafka_broker.read_all("t")] == [b"from one"]

def test_two(fresh_kafka_broker):
    _note(fresh_kafka_broker)
    fresh_kafka_broker.produce("t", b"from two")
    assert [r.value for r in fresh_kafka_broker.read_all("t")] == [b"from two"]
'''


@pytest.mark.parametrize("mode", ["inprocess", "subprocess"])
def test_fresh_kafka_broker_is_per_test_and_cleaned_up(pytester: Pytester, tmp_path: Path, mode: str) -> None:
    result, tmpdir, notes = _run(pytester, tmp_path, mode, FRESH_TEST)
    result.assert_outcomes(passed=2)
    lines = [line.split() for line in notes.read_text().splitlines()]
    assert len(lines) == 2 and lines[0][1] != lines[1][1]
    assert list(tmpdir.iterdir()) == []
    if mode == "subprocess":
        assert lines[0][0] != lines[1][0]
        assert all(_gone(int(line[0])) for line in lines)


FAULTS_CLEARED_TEST = '''
def test_arms_a_fault_and_leaves(kafka_broker):
    kafka_broker.add_fault("Produce", "NOT_LEADER_OR_FOLLOWER", count=None)
    assert [f["api"] for f in kafka_broker.faults()] == ["Produce"]

def test_next_test_starts_without_it(kafka_broker):
    assert kafka_broker.faults() == []
'''


def test_fault_rules_do_not_leak_between_tests(pytester: Pytester, tmp_path: Path) -> None:
    result, tmpdir, _ = _run(pytester, tmp_path, "inprocess", FAULTS_CLEARED_TEST)
    result.assert_outcomes(passed=2)
    assert list(tmpdir.iterdir()) == []


def test_command_line_option_overrides_ini_and_bad_mode_is_a_usage_error(pytester: Pytester, tmp_path: Path) -> None:
    source = "def test_mode(kafka_broker):\n    assert type(kafka_broker).__name__ == 'BrokerProcess'\n"
    result, tmpdir, _ = _run(pytester, tmp_path, "inprocess", source, "--kwire-mode=subprocess")
    result.assert_outcomes(passed=1)
    assert list(tmpdir.iterdir()) == []
    bad = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-o", "kwire_mode=docker", timeout=60)
    bad.assert_outcomes(errors=1)
    bad.stdout.fnmatch_lines(["*kwire_mode must be one of inprocess, subprocess, not 'docker'*"])


def test_readme_pytest_example_passes(pytester: Pytester, tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme[readme.index("## Use it in CI"):]
    example = section[section.index("```python\n") + len("```python\n"):]
    example = example[: example.index("```")]
    result, tmpdir, _ = _run(pytester, tmp_path, "inprocess", example)
    result.assert_outcomes(passed=2)
    assert list(tmpdir.iterdir()) == []


RESTART_TEST = '''
import gc

def test_restart_keeps_data_under_strict_warnings(fresh_kafka_broker):
    port = fresh_kafka_broker.port
    fresh_kafka_broker.produce("t", b"before")
    fresh_kafka_broker.restart()
    gc.collect()
    assert fresh_kafka_broker.port == port
    fresh_kafka_broker.produce("t", b"after")
    assert [r.value for r in fresh_kafka_broker.read_all("t")] == [b"before", b"after"]
'''


@pytest.mark.parametrize("mode", ["inprocess", "subprocess"])
def test_restart_through_the_fixture(pytester: Pytester, tmp_path: Path, mode: str) -> None:
    result, tmpdir, _ = _run(pytester, tmp_path, mode, RESTART_TEST)
    result.assert_outcomes(passed=1)
    assert list(tmpdir.iterdir()) == []
