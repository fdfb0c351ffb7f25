"""A group member of a Python client in a process of its own (base.MemberProcess).

    python -m compat_tests.clients.group_member CLIENT BOOTSTRAP CONFIG

CLIENT is kafka-python, aiokafka or confluent; CONFIG a JSON object: topic,
group, session_timeout_ms, instance_id (null: a dynamic member). The member
subscribes from the earliest offset, commits synchronously what each poll
returned after printing it, and prints its assignments as MemberProcess
describes; SIGTERM closes the consumer. None of these clients tells its
generation through its public API, so "generation" is null.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from typing import Any

from compat_tests.clients.base import Adapter, MemberProcess, error_name
from compat_tests.clients.python_groups import KAFKA_PYTHON_POLL_MS

POLL_SECONDS = 0.1


def start_member(adapter: Adapter, topic: str, group: str, *, session_timeout_ms: int = 6000,
                 instance_id: str | None = None) -> MemberProcess:
    """Adapter.group_member for the Python clients: this module, run as a child."""
    config = {"topic": topic, "group": group, "session_timeout_ms": session_timeout_ms, "instance_id": instance_id}
    return MemberProcess([sys.executable, "-m", "compat_tests.clients.group_member", adapter.name, adapter.bootstrap,
                          json.dumps(config)], f"{adapter.name} member {instance_id or ''}".strip())


def emit(**event: Any) -> None:
    print(json.dumps(event), flush=True)


def records_event(records: list[tuple[int, int, bytes | None]]) -> None:
    emit(records=[{"partition": p, "offset": o, "value": None if v is None else v.decode(errors="replace")} for p, o, v in records])


class Stop:
    """Set by SIGTERM."""

    def __init__(self) -> None:
        self.requested = False
        signal.signal(signal.SIGTERM, lambda *_: setattr(self, "requested", True))


def run_confluent(bootstrap: str, config: dict[str, Any], stop: Stop) -> None:
    import confluent_kafka

    conf: dict[str, Any] = {"bootstrap.servers": bootstrap, "group.id": config["group"], "enable.auto.commit": False,
                            "auto.offset.reset": "earliest", "fetch.wait.max.ms": 100,
                            "session.timeout.ms": config["session_timeout_ms"]}
    if config.get("instance_id"):
        conf["group.instance.id"] = config["instance_id"]
    consumer = confluent_kafka.Consumer(conf)
    owned: set[int] = set()

    def assigned(_: Any, tps: list[Any]) -> None:
        owned.update(tp.partition for tp in tps)
        emit(assigned=sorted(owned), generation=None)

    def gave_up(kind: str) -> Any:
        def callback(_: Any, tps: list[Any]) -> None:
            owned.difference_update(tp.partition for tp in tps)
            emit(**{kind: sorted(tp.partition for tp in tps)})
        return callback

    consumer.subscribe([config["topic"]], on_assign=assigned, on_revoke=gave_up("revoked"), on_lost=gave_up("lost"))
    try:
        while not stop.requested:
            taken = [m for m in consumer.consume(num_messages=500, timeout=POLL_SECONDS) if m.error() is None]
            if not taken:
                continue
            records_event([(m.partition(), m.offset(), m.value()) for m in taken])
            last = {m.partition(): m.offset() + 1 for m in taken}
            try:
                consumer.commit(offsets=[confluent_kafka.TopicPartition(config["topic"], p, o) for p, o in last.items()],
                                asynchronous=False)
            except confluent_kafka.KafkaException as exc:
                emit(commit_error=error_name(exc))
    finally:
        consumer.close()


def run_kafka_python(bootstrap: str, config: dict[str, Any], stop: Stop) -> None:
    import kafka
    import kafka.errors
    from kafka.structs import OffsetAndMetadata

    consumer = kafka.KafkaConsumer(bootstrap_servers=bootstrap, group_id=config["group"], enable_auto_commit=False,
                                   auto_offset_reset="earliest", fetch_max_wait_ms=100,
                                   session_timeout_ms=config["session_timeout_ms"],
                                   heartbeat_interval_ms=config["session_timeout_ms"] // 3,
                                   group_instance_id=config.get("instance_id"))
    owned: set[int] = set()

    class Listener(kafka.ConsumerRebalanceListener):
        def on_partitions_assigned(self, assigned: Any) -> None:
            owned.update(tp.partition for tp in assigned)
            emit(assigned=sorted(owned), generation=None)

        def on_partitions_revoked(self, revoked: Any) -> None:
            owned.difference_update(tp.partition for tp in revoked)
            emit(revoked=sorted(tp.partition for tp in revoked))

    consumer.subscribe([config["topic"]], listener=Listener())
    try:
        while not stop.requested:
            polled = consumer.poll(timeout_ms=KAFKA_PYTHON_POLL_MS)
            taken = [m for batch in polled.values() for m in batch]
            if not taken:
                continue
            records_event([(m.partition, m.offset, m.value) for m in taken])
            last = {kafka.TopicPartition(m.topic, m.partition): OffsetAndMetadata(m.offset + 1, "", -1) for m in taken}
            try:
                consumer.commit(last)
            except kafka.errors.KafkaError as exc:
                emit(commit_error=error_name(exc))
    finally:
        consumer.close()


def run_aiokafka(bootstrap: str, config: dict[str, Any], stop: Stop) -> None:
    import aiokafka
    import aiokafka.errors
    from aiokafka.abc import ConsumerRebalanceListener

    owned: set[int] = set()

    class Listener(ConsumerRebalanceListener):  # type: ignore[misc]
        async def on_partitions_assigned(self, assigned: Any) -> None:
            owned.update(tp.partition for tp in assigned)
            emit(assigned=sorted(owned), generation=None)

        async def on_partitions_revoked(self, revoked: Any) -> None:
            owned.difference_update(tp.partition for tp in revoked)
            emit(revoked=sorted(tp.partition for tp in revoked))

    async def run() -> None:
        consumer = aiokafka.AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=config["group"], enable_auto_commit=False,
                                             auto_offset_reset="earliest", fetch_max_wait_ms=100,
                                             session_timeout_ms=config["session_timeout_ms"],
                                             heartbeat_interval_ms=config["session_timeout_ms"] // 3,
                                             group_instance_id=config.get("instance_id"))
        await consumer.start()
        consumer.subscribe([config["topic"]], listener=Listener())
        try:
            while not stop.requested:
                polled = await consumer.getmany(timeout_ms=int(POLL_SECONDS * 1000))
                taken = [m for batch in polled.values() for m in batch]
                if not taken:
                    continue
                records_event([(m.partition, m.offset, m.value) for m in taken])
                last = {aiokafka.TopicPartition(m.topic, m.partition): m.offset + 1 for m in taken}
                try:
                    await consumer.commit(last)
                except aiokafka.errors.KafkaError as exc:
                    emit(commit_error=error_name(exc))
        finally:
            await consumer.stop()

    asyncio.run(run())


MEMBERS = {"confluent": run_confluent, "kafka-python": run_kafka_python, "aiokafka": run_aiokafka}


def main() -> None:
    client, bootstrap, config = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    MEMBERS[client](bootstrap, config, Stop())


if __name__ == "__main__":
    main()
