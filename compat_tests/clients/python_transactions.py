"""Idempotence, fencing and crash-safe consume-transform-produce for the Python clients.

Mixins for the adapters in python_clients.py (see `Adapter.idempotent_config`,
`fenced_transaction` and `transform_process`). `transform_steps` is the
worker itself; `transform_process` runs it in a child process
(compat_tests.clients.child) so that it can be SIGKILLed mid-transaction.
The worker assigns partition 0 and sends its offsets with the bare group id
(TxnOffsetCommit with generation -1 and no member id, which Kafka accepts
for any group): fencing comes from the transactional id alone, so a
successor needs no rebalance and no wait for the dead member's session.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiokafka.errors
import confluent_kafka
import kafka
import kafka.errors
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition as AioTopicPartition

from compat_tests.clients.base import ClientError, confluent_error_name, data, error_name, text
from compat_tests.clients.child import run_transform_child

REPO = Path(__file__).resolve().parents[2]
Held = Callable[[Any], Any]


class _InChild:
    name: str
    bootstrap: str

    def transform_process(self, source: str, target: str, group: str, count: int, *, transactional_id: str,
                          crash: bool, timeout: float = 30.0) -> dict[str, Any]:
        command = {"source": source, "target": target, "group": group, "count": count, "transactional_id": transactional_id,
                   "hold": crash, "timeout": timeout}
        return run_transform_child([sys.executable, "-m", "compat_tests.clients.child", self.name, self.bootstrap], command,
                                   crash=crash, timeout=timeout + 30, cwd=REPO)

    def transform(self, source: str, target: str, group: str, count: int, *, transactional_id: str, commit: bool,
                  timeout: float = 30.0) -> dict[str, Any]:
        # In this process: the worker of transform_process, ending with commit or abort.
        done = self.transform_steps(source, target, group, count, transactional_id, False, timeout, commit=commit)  # type: ignore[attr-defined]
        return {"records": done["records"], "committed": commit}


def _fencing_name(error: Any) -> str:
    # librdkafka reports its fatal "fenced by a newer instance" (for the broker's PRODUCER_FENCED, and for
    # INVALID_PRODUCER_EPOCH on a transactional produce) as the local _FENCED: that is Kafka's PRODUCER_FENCED.
    name = confluent_error_name(error)
    return "PRODUCER_FENCED" if name == "_FENCED" else name


def _headers(record: dict[str, Any]) -> list[tuple[str, bytes | None]]:
    return [(k, data(v)) for k, v in record.get("headers", [])]


def _taken(offset: int, value: bytes | None) -> dict[str, Any]:
    return {"partition": 0, "offset": offset, "value": text(value)}


class KafkaPythonTransactions(_InChild):
    def idempotent_config(self) -> dict[str, Any]:
        return {"enable_idempotence": True, "acks": "all"}

    def _txn_producer(self, transactional_id: str) -> kafka.KafkaProducer:
        producer = kafka.KafkaProducer(bootstrap_servers=self.bootstrap, transactional_id=transactional_id, acks="all",
                                       linger_ms=20, max_block_ms=15000)
        producer.init_transactions()
        return producer

    @staticmethod
    def _send(producer: kafka.KafkaProducer, topic: str, records: list[dict[str, Any]]) -> None:
        futures = [producer.send(topic, key=data(r.get("key")), value=data(r.get("value")), partition=r.get("partition"))
                   for r in records]
        producer.flush(15)
        for future in futures:
            future.get(15)

    def produce_transaction(self, topic: str, records: list[dict[str, Any]], *, transactional_id: str,
                            commit: bool) -> list[dict[str, Any]]:
        producer = None
        try:
            producer = self._txn_producer(transactional_id)
            producer.begin_transaction()
            futures = [producer.send(topic, key=data(r.get("key")), value=data(r.get("value")), partition=r.get("partition"),
                                     headers=_headers(r)) for r in records]
            producer.flush(15)
            sent = [future.get(15) for future in futures]
            if commit:
                producer.commit_transaction()
            else:
                producer.abort_transaction()
            return [{"partition": m.partition, "offset": m.offset, "timestamp": m.timestamp} for m in sent]
        except kafka.errors.KafkaError as exc:
            raise ClientError(error_name(exc), str(exc)) from exc
        finally:
            if producer is not None:
                producer.close(timeout=5)

    def consume_isolated(self, topic: str, partition: int, offset: int, count: int, *, isolation: str,
                         timeout: float = 10.0) -> list[dict[str, Any]]:
        consumer = self._consumer(isolation_level=isolation)  # type: ignore[attr-defined]
        try:
            tp = kafka.TopicPartition(topic, partition)
            consumer.assign([tp])
            consumer.seek(tp, offset)
            return self._poll(consumer, count, timeout)  # type: ignore[attr-defined]
        finally:
            consumer.close()

    def fenced_transaction(self, topic: str, first: list[dict[str, Any]], second: list[dict[str, Any]],
                           late: list[dict[str, Any]], *, transactional_id: str) -> dict[str, Any]:
        producers: list[kafka.KafkaProducer] = []
        try:
            try:
                a = self._txn_producer(transactional_id)
                producers.append(a)
                a.begin_transaction()
                self._send(a, topic, first)
                b = self._txn_producer(transactional_id)
                producers.append(b)
                b.begin_transaction()
                self._send(b, topic, second)
                b.commit_transaction()
            except kafka.errors.KafkaError as exc:
                raise ClientError(error_name(exc), str(exc)) from exc
            out: dict[str, Any] = {"send": None, "commit": None}
            try:
                self._send(a, topic, late)
            except kafka.errors.KafkaError as exc:
                out["send"] = error_name(exc)
            try:
                a.commit_transaction()
            except kafka.errors.KafkaError as exc:
                out["commit"] = error_name(exc)
            return out
        finally:
            for producer in producers:
                producer.close(timeout=5)

    def transform_steps(self, source: str, target: str, group: str, count: int, transactional_id: str, hold: bool,
                        timeout: float, held: Held | None = None, commit: bool = True) -> dict[str, Any]:
        producer = consumer = None
        try:
            producer = self._txn_producer(transactional_id)
            consumer = kafka.KafkaConsumer(bootstrap_servers=self.bootstrap, group_id=group, enable_auto_commit=False,
                                           auto_offset_reset="earliest", isolation_level="read_committed", fetch_max_wait_ms=100)
            tp = kafka.TopicPartition(source, 0)
            consumer.assign([tp])
            producer.begin_transaction()
            records: list[dict[str, Any]] = []
            deadline = time.monotonic() + timeout
            while len(records) < count and time.monotonic() < deadline:
                for batch in consumer.poll(timeout_ms=200, max_records=count - len(records)).values():
                    for m in batch:
                        records.append(_taken(m.offset, m.value))
                        producer.send(target, key=m.key, value=m.value, partition=0)
            producer.flush(15)
            if records:
                offsets = {tp: kafka.structs.OffsetAndMetadata(records[-1]["offset"] + 1, "", -1)}
                producer.send_offsets_to_transaction(offsets, group)
            if hold and held is not None:
                held({"records": records})
            if commit and not hold:
                producer.commit_transaction()
            else:
                producer.abort_transaction()
            return {"records": records}
        except kafka.errors.KafkaError as exc:
            raise ClientError(error_name(exc), str(exc)) from exc
        finally:
            if consumer is not None:
                consumer.close()
            if producer is not None:
                producer.close(timeout=5)


class AiokafkaTransactions(_InChild):
    def idempotent_config(self) -> dict[str, Any]:
        return {"enable_idempotence": True, "acks": "all"}

    async def _txn_producer(self, transactional_id: str) -> AIOKafkaProducer:
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, transactional_id=transactional_id, acks="all",
                                    linger_ms=20, request_timeout_ms=15000)
        await asyncio.wait_for(producer.start(), 15)  # InitProducerId
        return producer

    @staticmethod
    async def _send(producer: AIOKafkaProducer, topic: str, records: list[dict[str, Any]]) -> None:
        futures = [await producer.send(topic, key=data(r.get("key")), value=data(r.get("value")), partition=r.get("partition"))
                   for r in records]
        for future in futures:
            await asyncio.wait_for(future, 15)

    def produce_transaction(self, topic: str, records: list[dict[str, Any]], *, transactional_id: str,
                            commit: bool) -> list[dict[str, Any]]:
        async def run() -> list[dict[str, Any]]:
            producer = await self._txn_producer(transactional_id)
            try:
                await producer.begin_transaction()
                futures = [await producer.send(topic, key=data(r.get("key")), value=data(r.get("value")), partition=r.get("partition"),
                                               headers=_headers(r)) for r in records]
                sent = [await asyncio.wait_for(future, 15) for future in futures]
                if commit:
                    await producer.commit_transaction()
                else:
                    await producer.abort_transaction()
                return [{"partition": m.partition, "offset": m.offset, "timestamp": m.timestamp} for m in sent]
            except aiokafka.errors.KafkaError as exc:
                raise ClientError(error_name(exc), str(exc)) from exc
            finally:
                await asyncio.wait_for(producer.stop(), 10)
        return asyncio.run(run())

    def consume_isolated(self, topic: str, partition: int, offset: int, count: int, *, isolation: str,
                         timeout: float = 10.0) -> list[dict[str, Any]]:
        async def run() -> list[dict[str, Any]]:
            consumer = await self._consumer(isolation_level=isolation)  # type: ignore[attr-defined]
            try:
                tp = AioTopicPartition(topic, partition)
                consumer.assign([tp])
                consumer.seek(tp, offset)
                return await self._poll(consumer, count, timeout)  # type: ignore[attr-defined]
            finally:
                await asyncio.wait_for(consumer.stop(), 10)
        return asyncio.run(run())

    def fenced_transaction(self, topic: str, first: list[dict[str, Any]], second: list[dict[str, Any]],
                           late: list[dict[str, Any]], *, transactional_id: str) -> dict[str, Any]:
        async def run() -> dict[str, Any]:
            producers: list[AIOKafkaProducer] = []
            try:
                try:
                    a = await self._txn_producer(transactional_id)
                    producers.append(a)
                    await a.begin_transaction()
                    await self._send(a, topic, first)
                    b = await self._txn_producer(transactional_id)
                    producers.append(b)
                    await b.begin_transaction()
                    await self._send(b, topic, second)
                    await b.commit_transaction()
                except aiokafka.errors.KafkaError as exc:
                    raise ClientError(error_name(exc), str(exc)) from exc
                out: dict[str, Any] = {"send": None, "commit": None}
                try:
                    await self._send(a, topic, late)
                except aiokafka.errors.KafkaError as exc:
                    out["send"] = error_name(exc)
                try:
                    await asyncio.wait_for(a.commit_transaction(), 15)
                except aiokafka.errors.KafkaError as exc:
                    out["commit"] = error_name(exc)
                return out
            finally:
                for producer in producers:
                    await asyncio.wait_for(producer.stop(), 10)
        return asyncio.run(run())

    def transform_steps(self, source: str, target: str, group: str, count: int, transactional_id: str, hold: bool,
                        timeout: float, held: Held | None = None, commit: bool = True) -> dict[str, Any]:
        async def run() -> dict[str, Any]:
            producer = await self._txn_producer(transactional_id)
            consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=group, enable_auto_commit=False,
                                        auto_offset_reset="earliest", isolation_level="read_committed", fetch_max_wait_ms=100)
            try:
                await asyncio.wait_for(consumer.start(), 15)
                tp = AioTopicPartition(source, 0)
                consumer.assign([tp])
                await producer.begin_transaction()
                records: list[dict[str, Any]] = []
                futures = []
                deadline = time.monotonic() + timeout
                while len(records) < count and time.monotonic() < deadline:
                    for batch in (await consumer.getmany(tp, timeout_ms=200, max_records=count - len(records))).values():
                        for m in batch:
                            records.append(_taken(m.offset, m.value))
                            futures.append(await producer.send(target, key=m.key, value=m.value, partition=0))
                for future in futures:
                    await asyncio.wait_for(future, 15)
                if records:
                    await producer.send_offsets_to_transaction({tp: records[-1]["offset"] + 1}, group)
                if hold and held is not None:
                    held({"records": records})
                if commit and not hold:
                    await producer.commit_transaction()
                else:
                    await producer.abort_transaction()
                return {"records": records}
            except aiokafka.errors.KafkaError as exc:
                raise ClientError(error_name(exc), str(exc)) from exc
            finally:
                await asyncio.wait_for(consumer.stop(), 10)
                await asyncio.wait_for(producer.stop(), 10)
        return asyncio.run(run())


class ConfluentTransactions(_InChild):
    def idempotent_config(self) -> dict[str, Any]:
        return {"enable.idempotence": True, "acks": "all"}

    def _txn_producer(self, transactional_id: str) -> confluent_kafka.Producer:
        # error_cb: a fenced producer's fatal error is reported by the calls that fail, not raised from poll.
        producer = confluent_kafka.Producer({"bootstrap.servers": self.bootstrap, "transactional.id": transactional_id,
                                             "linger.ms": 20, "message.timeout.ms": 15000, "error_cb": lambda _: None})
        producer.init_transactions(15)
        return producer

    @staticmethod
    def _send(producer: confluent_kafka.Producer, topic: str, records: list[dict[str, Any]]) -> None:
        # Without delivery callbacks: confluent-kafka fails a callback for a fenced producer's
        # message with a SystemError; a failed delivery shows in the transaction's commit.
        for r in records:
            producer.produce(topic, key=data(r.get("key")), value=data(r.get("value")), partition=r.get("partition", -1))
        producer.flush(15)

    def fenced_transaction(self, topic: str, first: list[dict[str, Any]], second: list[dict[str, Any]],
                           late: list[dict[str, Any]], *, transactional_id: str) -> dict[str, Any]:
        try:
            a = self._txn_producer(transactional_id)
            a.begin_transaction()
            self._send(a, topic, first)
            b = self._txn_producer(transactional_id)
            b.begin_transaction()
            self._send(b, topic, second)
            b.commit_transaction(15)
        except confluent_kafka.KafkaException as exc:
            raise ClientError(confluent_error_name(exc.args[0]), str(exc)) from exc
        out: dict[str, Any] = {"send": None, "commit": None}
        try:
            self._send(a, topic, late)
        except confluent_kafka.KafkaException as exc:
            out["send"] = _fencing_name(exc.args[0])
        try:
            a.commit_transaction(15)
        except confluent_kafka.KafkaException as exc:
            out["commit"] = _fencing_name(exc.args[0])
        return out

    def transform_steps(self, source: str, target: str, group: str, count: int, transactional_id: str, hold: bool,
                        timeout: float, held: Held | None = None, commit: bool = True) -> dict[str, Any]:
        try:
            producer = self._txn_producer(transactional_id)
            consumer = confluent_kafka.Consumer({"bootstrap.servers": self.bootstrap, "group.id": group, "enable.auto.commit": False,
                                                 "auto.offset.reset": "earliest", "isolation.level": "read_committed",
                                                 "fetch.wait.max.ms": 100})
        except confluent_kafka.KafkaException as exc:
            raise ClientError(confluent_error_name(exc.args[0]), str(exc)) from exc
        try:
            consumer.assign([confluent_kafka.TopicPartition(source, 0)])  # no offset: the group's committed one
            producer.begin_transaction()
            records: list[dict[str, Any]] = []
            deadline = time.monotonic() + timeout
            while len(records) < count and time.monotonic() < deadline:
                for m in consumer.consume(num_messages=count - len(records), timeout=0.2):
                    if m.error() is not None:
                        raise confluent_kafka.KafkaException(m.error())
                    records.append(_taken(m.offset(), m.value()))
                    producer.produce(target, key=m.key(), value=m.value(), partition=0)
            producer.flush(15)
            if records:
                offsets = [confluent_kafka.TopicPartition(source, 0, records[-1]["offset"] + 1)]
                producer.send_offsets_to_transaction(offsets, consumer.consumer_group_metadata(), 15)
            if hold and held is not None:
                held({"records": records})
            if commit and not hold:
                producer.commit_transaction(15)
            else:
                producer.abort_transaction(15)
            return {"records": records}
        except confluent_kafka.KafkaException as exc:
            raise ClientError(confluent_error_name(exc.args[0]), str(exc)) from exc
        finally:
            consumer.close()
