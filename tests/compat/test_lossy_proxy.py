"""compat_tests.lossy_proxy really loses a Produce answer after the broker appended:
without idempotence the client's retry writes the batch a second time (so
idempotent-produce-retries cannot pass vacuously); with idempotence the retry
is recognised as a duplicate and the log holds each record once. Every
request goes through the proxy (Metadata answers are readdressed to it)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from compat_tests.clients.python_clients import KafkaPythonAdapter
from compat_tests.lossy_proxy import LossyProxy
from kwire.testing import BrokerProcess

RECORDS = [{"key": f"k{i}", "value": f"v{i}", "partition": 0} for i in range(4)]


@pytest.fixture(scope="module")
def bootstrap() -> Iterator[str]:
    with BrokerProcess(overrides={"auto.create.topics.enable": "false"}) as broker:
        yield broker.bootstrap_servers


def produce_through_proxy(bootstrap: str, config: dict) -> tuple[list[list], LossyProxy]:
    direct = KafkaPythonAdapter(bootstrap)
    topic = f"lossy-{uuid.uuid4().hex[:8]}"
    assert direct.create_topics([{"name": topic, "partitions": 1}]) == {topic: None}
    with LossyProxy(bootstrap, lose_produce_responses=1) as proxy:
        KafkaPythonAdapter(proxy.bootstrap).produce(topic, RECORDS, config={"acks": "all", "linger_ms": 100, **config})
    end = direct.offsets(topic, [0], [])["end"]["0"]
    return [[r["offset"], r["value"]] for r in direct.consume(topic, 0, 0, end, timeout=5)], proxy


def test_without_idempotence_the_retry_duplicates_the_batch(bootstrap: str) -> None:
    log, proxy = produce_through_proxy(bootstrap, {"enable_idempotence": False, "retries": 3})
    assert [proxy.lost, proxy.produce_requests] == [1, 2]
    assert log == [[i, f"v{i}"] for i in range(4)] + [[4 + i, f"v{i}"] for i in range(4)]


def test_with_idempotence_each_record_is_in_the_log_once(bootstrap: str) -> None:
    log, proxy = produce_through_proxy(bootstrap, {"enable_idempotence": True})
    assert [proxy.lost, proxy.produce_requests] == [1, 2]
    assert log == [[i, f"v{i}"] for i in range(4)]
