"""Fixtures for broker tests: real `kwire serve` processes on free 127.0.0.1 ports.

* `broker`: one broker shared by a test module (start-up costs ~0.3 s); tests
  on it use their own topic names (`topic_name`), so they do not see each
  other's data.
* `admin` / `cadmin`: kafka-python's and confluent-kafka's admin clients of
  `broker`, shared by the module.
* `broker_factory`: `broker_factory(overrides)` starts a broker of the
  test's own (for restarts, kills, non-default configs); each is stopped by
  PID at teardown.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient
from kafka.admin import KafkaAdminClient

from kwire.testing import BrokerProcess

_counter = itertools.count()


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    process = BrokerProcess(tmp_path_factory.mktemp("broker"))
    with process:
        yield process


@pytest.fixture(scope="module")
def admin(broker: BrokerProcess) -> Iterator[KafkaAdminClient]:
    client = KafkaAdminClient(bootstrap_servers=broker.bootstrap_servers, request_timeout_ms=15000)
    yield client
    client.close()


@pytest.fixture(scope="module")
def cadmin(broker: BrokerProcess) -> AdminClient:
    return AdminClient({"bootstrap.servers": broker.bootstrap_servers})


@pytest.fixture
def broker_factory(tmp_path: Path) -> Iterator[Callable[..., BrokerProcess]]:
    started: list[BrokerProcess] = []

    def start(overrides: dict[str, str] | None = None, *, data_dir: Path | None = None, dev: bool = True) -> BrokerProcess:
        process = BrokerProcess(data_dir or tmp_path / f"broker-{len(started)}", overrides, dev=dev)
        started.append(process)
        return process.start()

    yield start
    for process in started:
        process.stop()
        process.kill()


@pytest.fixture
def topic_name(request: pytest.FixtureRequest) -> str:
    """A topic name unique to this test (valid Kafka characters only)."""
    base = re.sub(r"[^a-zA-Z0-9._-]", "-", request.node.name)[:180]
    return f"{base}-{next(_counter)}"
