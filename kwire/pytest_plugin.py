"""The kwire pytest plugin: a real Kafka-compatible broker as a fixture.

Installed with the package (entry point `pytest11`), so `pip install kwire`
is all a test suite needs:

    def test_roundtrip(kafka_broker):
        producer = KafkaProducer(bootstrap_servers=kafka_broker.bootstrap_servers)
        ...
        assert [r.value for r in kafka_broker.read_all("orders")] == [b"one"]

Fixtures:

* `kafka_broker` (session scope): one broker for the whole run; tests use
  their own topic names. Fault rules a test adds are cleared after it.
* `fresh_kafka_broker` (function scope): a broker of the test's own, for
  tests that restart it or need it empty.

Both yield a `kwire.testing.Broker` (in-process, the default) or a
`kwire.testing.BrokerProcess` (`kwire serve` as a child process): choose
with `--kwire-mode=subprocess` or the ini option `kwire_mode`. Extra broker
configuration goes in the ini option `kwire_overrides` (one key=value a
line). Either broker runs with `kwire serve --dev` defaults on a free
127.0.0.1 port, with a temporary data dir that teardown removes; teardown
stops everything it started (by PID in subprocess mode).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

MODES = ("inprocess", "subprocess")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kwire", "kwire Kafka broker fixtures")
    group.addoption("--kwire-mode", choices=MODES, default=None, help="run kafka_broker fixtures in this process (default) or as a child process")
    parser.addini("kwire_mode", "inprocess (default) or subprocess: how kafka_broker fixtures run the broker", default="inprocess")
    parser.addini("kwire_overrides", "broker configuration for kafka_broker fixtures, one key=value a line", type="linelist", default=[])


def pytest_configure(config: pytest.Config) -> None:
    # pysyncobj 0.3.x (the metadata quorum) reads raft.journal.meta with
    # open(...).read() and never closes the file (MetaStorer.getMeta), so
    # reopening a broker's data dir (restart) leaves a ResourceWarning for the
    # garbage collector. Under `filterwarnings = error` pytest would fail
    # whichever test runs when that file object is collected; it is not the
    # user's doing, so this one message is ignored.
    config.addinivalue_line("filterwarnings", r"ignore:Exception ignored in.*raft\.journal\.meta:pytest.PytestUnraisableExceptionWarning")


def _running(config: pytest.Config) -> Iterator[Any]:
    """Start a broker as the options say, yield it, stop it (by PID in subprocess mode)."""
    from kwire.testing import Broker, BrokerProcess

    mode = config.getoption("kwire_mode") or config.getini("kwire_mode")
    if mode not in MODES:
        raise pytest.UsageError(f"kwire_mode must be one of {', '.join(MODES)}, not {mode!r}")
    overrides = {}
    for line in config.getini("kwire_overrides"):
        key, sep, value = line.partition("=")
        if not sep:
            raise pytest.UsageError(f"kwire_overrides: {line!r} is not key=value")
        overrides[key.strip()] = value.strip()
    broker = Broker(overrides=overrides) if mode == "inprocess" else BrokerProcess(overrides=overrides)
    try:
        broker.start()
        yield broker
    finally:
        broker.close()  # stop, then remove the temporary data dir


@pytest.fixture(scope="session")
def kafka_broker(pytestconfig: pytest.Config) -> Iterator[Any]:
    """A kwire broker shared by the session (see kwire/pytest_plugin.py)."""
    yield from _running(pytestconfig)


@pytest.fixture
def fresh_kafka_broker(pytestconfig: pytest.Config) -> Iterator[Any]:
    """A kwire broker of this test's own, stopped after it."""
    yield from _running(pytestconfig)


@pytest.fixture(autouse=True)
def _kwire_clear_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    # Fault rules are per test: what one test arms on the shared broker must
    # not fire in the next one. Only tests that use kafka_broker pay anything.
    broker = request.getfixturevalue("kafka_broker") if "kafka_broker" in request.fixturenames else None
    yield
    if broker is not None:
        broker.clear_faults()
