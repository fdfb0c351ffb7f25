"""kafka-python, aiokafka and confluent-kafka (librdkafka) adapters.

Consumers never join a group: they assign partitions and seek. Each call
makes its own client and closes it.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
import warnings
from typing import Any

import aiokafka.errors
import confluent_kafka
import confluent_kafka.admin
import kafka
import kafka.errors
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions
from aiokafka.admin.config_resource import ConfigResource as AioConfigResource
from aiokafka.admin.config_resource import ConfigResourceType as AioConfigResourceType
from aiokafka.admin import NewTopic as AioNewTopic
from aiokafka.structs import TopicPartition as AioTopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic

from compat_tests.clients.base import Adapter, ClientError, Unsupported, confluent_error_name, data, error_name, text
from compat_tests.clients.python_transactions import AiokafkaTransactions, ConfluentTransactions, KafkaPythonTransactions
from compat_tests.clients.group_member import start_member
from compat_tests.clients.python_groups import AiokafkaGroups, KafkaPythonGroups

TIMESTAMP_TYPES = {0: "CreateTime", 1: "LogAppendTime"}
# DescribeConfigsResponse's config_source (Kafka's ConfigSource ids).
CONFIG_SOURCES = {0: "UNKNOWN", 1: "DYNAMIC_TOPIC_CONFIG", 2: "DYNAMIC_BROKER_CONFIG", 3: "DYNAMIC_DEFAULT_BROKER_CONFIG",
                  4: "STATIC_BROKER_CONFIG", 5: "DEFAULT_CONFIG", 6: "DYNAMIC_BROKER_LOGGER_CONFIG", 7: "CLIENT_METRICS_CONFIG",
                  8: "GROUP_CONFIG"}


def _record(partition: int, offset: int, key: bytes | None, value: bytes | None, headers: Any, timestamp: int,
            timestamp_type: int) -> dict[str, Any]:
    return {"partition": partition, "offset": offset, "key": text(key), "value": text(value),
            "headers": [[k, text(v)] for k, v in headers], "timestamp": timestamp,
            "timestamp_type": TIMESTAMP_TYPES.get(timestamp_type, str(timestamp_type))}


def _headers(record: dict[str, Any]) -> list[tuple[str, bytes | None]]:
    return [(k, data(v)) for k, v in record.get("headers", [])]


def _code_error(code: int) -> str | None:
    return None if code == 0 else error_name(kafka.errors.for_code(code)())


class KafkaPythonAdapter(KafkaPythonGroups, KafkaPythonTransactions, Adapter):
    name = "kafka-python"
    group_member = start_member

    def _admin(self) -> kafka.KafkaAdminClient:
        return kafka.KafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=15000)

    def cluster(self) -> dict[str, Any]:
        admin = self._admin()
        try:
            described = admin.describe_cluster()
            return {"cluster_id": described["cluster_id"], "controller": described["controller_id"],
                    "brokers": sorted([b["broker_id"], b["host"], b["port"]] for b in described["brokers"])}
        finally:
            admin.close()

    def list_topics(self) -> list[str]:
        admin = self._admin()
        try:
            return sorted(admin.list_topics())
        finally:
            admin.close()

    def create_topics(self, specs: list[dict[str, Any]]) -> dict[str, str | None]:
        admin = self._admin()
        out: dict[str, str | None] = {}
        try:
            for spec in specs:
                try:
                    admin.create_topics([NewTopic(spec["name"], spec.get("partitions", 1), 1, topic_configs=spec.get("configs", {}))])
                    out[spec["name"]] = None
                except kafka.errors.KafkaError as exc:
                    out[spec["name"]] = error_name(exc)
            return out
        finally:
            admin.close()

    def describe_topics(self, names: list[str]) -> dict[str, Any]:
        admin = self._admin()
        out: dict[str, Any] = {}
        try:
            for name in names:
                try:
                    [topic] = admin.describe_topics([name])
                except kafka.errors.KafkaError as exc:
                    out[name] = {"error": error_name(exc)}
                    continue
                if topic["error_code"]:
                    out[name] = {"error": error_name(kafka.errors.for_code(topic["error_code"])())}
                    continue
                out[name] = {"id": str(topic.get("topic_id")), "partitions": sorted(
                    ({"partition": p["partition_index"], "leader": p["leader_id"], "replicas": p["replica_nodes"],
                      "isr": p["isr_nodes"]} for p in topic["partitions"]), key=lambda p: p["partition"])}
            return out
        finally:
            admin.close()

    def delete_topics(self, names: list[str]) -> dict[str, str | None]:
        admin = self._admin()
        out: dict[str, str | None] = {}
        try:
            for name in names:
                try:
                    admin.delete_topics([name])
                    out[name] = None
                except kafka.errors.KafkaError as exc:
                    out[name] = error_name(exc)
            return out
        finally:
            admin.close()

    def produce(self, topic: str, records: list[dict[str, Any]], *, compression: str = "none",
                config: dict[str, Any] | None = None, transactional: bool = False) -> list[dict[str, Any]]:
        if any(v is None for r in records for _, v in r.get("headers", [])):
            raise Unsupported("kafka-python: a null header value (send() requires bytes)")
        producer = kafka.KafkaProducer(**{"bootstrap_servers": self.bootstrap, "acks": 1, "linger_ms": 20, "max_block_ms": 10000,
                                          "compression_type": None if compression == "none" else compression, **(config or {})})
        try:
            if transactional:
                try:
                    producer.init_transactions()
                    producer.begin_transaction()
                except kafka.errors.KafkaError as exc:
                    raise ClientError(error_name(exc), str(exc)) from exc
            futures = [producer.send(topic, key=data(r.get("key")), value=data(r.get("value")), headers=_headers(r),
                                     timestamp_ms=r.get("timestamp"), partition=r.get("partition")) for r in records]
            if transactional:
                try:
                    producer.commit_transaction()
                except kafka.errors.KafkaError as exc:
                    raise ClientError(error_name(exc), str(exc)) from exc
            producer.flush(15)
            out = []
            for future in futures:
                try:
                    m = future.get(15)
                except kafka.errors.KafkaError as exc:
                    raise ClientError(error_name(exc), str(exc)) from exc
                out.append({"partition": m.partition, "offset": m.offset, "timestamp": m.timestamp})
            return out
        finally:
            producer.close(timeout=5)

    def _consumer(self, **config: Any) -> kafka.KafkaConsumer:
        return kafka.KafkaConsumer(**{"bootstrap_servers": self.bootstrap, "group_id": None, "enable_auto_commit": False,
                                      "fetch_max_wait_ms": 100, **config})

    def consume(self, topic: str, partition: int, offset: int | str, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        consumer = self._consumer()
        try:
            tp = kafka.TopicPartition(topic, partition)
            consumer.assign([tp])
            if offset == "earliest":
                consumer.seek_to_beginning(tp)
            elif offset == "latest":
                consumer.seek_to_end(tp)
            else:
                consumer.seek(tp, offset)
            return self._poll(consumer, count, timeout)
        finally:
            consumer.close()

    @staticmethod
    def _poll(consumer: kafka.KafkaConsumer, count: int, timeout: float) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while len(out) < count and time.monotonic() < deadline:
            try:
                polled = consumer.poll(timeout_ms=200)
            except kafka.errors.KafkaError as exc:
                raise ClientError(error_name(exc), str(exc)) from exc
            for batch in polled.values():
                out += [_record(m.partition, m.offset, m.key, m.value, m.headers, m.timestamp, m.timestamp_type) for m in batch]
        return out

    def consume_from(self, topic: str, partition: int, start: int | None, count: int, *, reset: str = "none",
                     max_wait_ms: int = 100, timeout: float = 10.0) -> list[dict[str, Any]]:
        group = f"compat-reset-{uuid.uuid4().hex[:8]}" if start is None else None
        consumer = self._consumer(group_id=group, auto_offset_reset=reset, fetch_max_wait_ms=max_wait_ms,
                                  request_timeout_ms=max_wait_ms + 30000)
        try:
            tp = kafka.TopicPartition(topic, partition)
            consumer.assign([tp])
            if start is not None:
                consumer.seek(tp, start)
            return self._poll(consumer, count, timeout)
        finally:
            consumer.close()

    def offsets(self, topic: str, partitions: list[int], times: list[int]) -> dict[str, Any]:
        consumer = self._consumer()
        try:
            tps = [kafka.TopicPartition(topic, p) for p in partitions]
            out: dict[str, Any] = {"beginning": {str(tp.partition): o for tp, o in consumer.beginning_offsets(tps).items()},
                                   "end": {str(tp.partition): o for tp, o in consumer.end_offsets(tps).items()}, "for_times": {}}
            for t in times:
                found = consumer.offsets_for_times({tp: t for tp in tps})
                out["for_times"][str(t)] = {str(tp.partition): None if ot is None else [ot.offset, ot.timestamp] for tp, ot in found.items()}
            return out
        finally:
            consumer.close()


    def producer_config(self, *, acks: str | None = None, max_request_bytes: int | None = None,
                        retries: int | None = None) -> dict[str, Any]:
        return _python_producer_config(acks, max_request_bytes, {} if retries is None else {"retries": retries})

    def create_partitions(self, topic: str, count: int) -> str | None:
        admin = self._admin()
        try:
            admin.create_partitions({topic: count})
            return None
        except kafka.errors.KafkaError as exc:
            return error_name(exc)
        finally:
            admin.close()

    def describe_configs(self, topic: str) -> dict[str, dict[str, Any]]:
        admin = self._admin()
        try:
            try:
                found = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)], config_filter="all")
            except kafka.errors.KafkaError as exc:
                raise ClientError(error_name(exc), str(exc)) from exc
            return {name: {"value": e["value"], "source": e["config_source"], "read_only": e["read_only"], "sensitive": e["is_sensitive"]}
                    for name, e in found["topic"][topic].items()}
        finally:
            admin.close()

    def alter_configs(self, topic: str, set: dict[str, str], delete: list[str] | None = None, *,
                      incremental: bool = True) -> None:
        if not incremental:
            raise Unsupported("kafka-python: alter_configs(incremental=False) first adds the topic's other overrides to the "
                              "request, so the legacy AlterConfigs never resets what it leaves out")
        configs: dict[str, Any] = dict(set)
        if delete:
            configs.update({name: ("DELETE", None) for name in delete})
        admin = self._admin()
        try:
            try:
                answer = admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs=configs)],
                                             incremental=True, raise_on_unknown=False)["topic"][topic]
            except kafka.errors.KafkaError as exc:
                raise ClientError(error_name(exc), str(exc)) from exc
            if answer != "OK":  # kafka-python answers str(the error): "[Error 40] InvalidConfigurationError: ..."
                code = re.match(r"\[Error (\d+)\]", answer)
                raise ClientError(_code_error(int(code[1])) if code else answer, answer)
        finally:
            admin.close()


def _python_producer_config(acks: str | None, max_request_bytes: int | None, extra: dict[str, Any]) -> dict[str, Any]:
    """kafka-python's and aiokafka's producer settings (acks as 0, 1 or "all"; max_request_size)."""
    config = dict(extra)
    if acks is not None:
        config["acks"] = "all" if acks == "all" else int(acks)
    if max_request_bytes is not None:
        config["max_request_size"] = max_request_bytes
    return config


class AiokafkaAdapter(AiokafkaGroups, AiokafkaTransactions, Adapter):
    name = "aiokafka"
    group_member = start_member

    def _admin_call(self, call: Any) -> Any:
        async def run() -> Any:
            admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=15000)
            await asyncio.wait_for(admin.start(), 15)
            try:
                return await asyncio.wait_for(call(admin), 30)
            finally:
                await admin.close()
        return asyncio.run(run())

    def cluster(self) -> dict[str, Any]:
        c = self._admin_call(lambda admin: admin.describe_cluster())
        return {"cluster_id": c["cluster_id"], "controller": c["controller_id"],
                "brokers": sorted([b["node_id"], b["host"], b["port"]] for b in c["brokers"])}

    def list_topics(self) -> list[str]:
        return sorted(self._admin_call(lambda admin: admin.list_topics()))

    def create_topics(self, specs: list[dict[str, Any]]) -> dict[str, str | None]:
        topics = [AioNewTopic(s["name"], s.get("partitions", 1), 1, topic_configs=s.get("configs", {})) for s in specs]
        answer = self._admin_call(lambda admin: admin.create_topics(topics)).to_object()
        return {t["topic"]: _code_error(t["error_code"]) for t in answer["topic_errors"]}

    def delete_topics(self, names: list[str]) -> dict[str, str | None]:
        answer = self._admin_call(lambda admin: admin.delete_topics(names)).to_object()
        return {t["topic"]: _code_error(t["error_code"]) for t in answer["topic_error_codes"]}

    def describe_topics(self, names: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for t in self._admin_call(lambda admin: admin.describe_topics(names)):
            if t["error_code"]:
                out[t["topic"]] = {"error": _code_error(t["error_code"])}
            else:
                out[t["topic"]] = {"partitions": sorted(({"partition": p["partition"], "leader": p["leader"], "replicas": p["replicas"],
                                                          "isr": p["isr"]} for p in t["partitions"]), key=lambda p: p["partition"])}
        return out

    def produce(self, topic: str, records: list[dict[str, Any]], *, compression: str = "none",
                config: dict[str, Any] | None = None, transactional: bool = False) -> list[dict[str, Any]]:
        async def run() -> list[dict[str, Any]]:
            producer = AIOKafkaProducer(**{"bootstrap_servers": self.bootstrap, "acks": 1, "linger_ms": 20, "request_timeout_ms": 15000,
                                             "compression_type": None if compression == "none" else compression, **(config or {})})
            try:
                await asyncio.wait_for(producer.start(), 15)
            except (aiokafka.errors.KafkaError, asyncio.TimeoutError) as exc:
                await asyncio.wait_for(producer.stop(), 10)
                raise ClientError(error_name(exc) if str(exc) else "REQUEST_TIMED_OUT", str(exc)) from exc
            try:
                if transactional:
                    await producer.begin_transaction()
                futures = [await producer.send(topic, key=data(r.get("key")), value=data(r.get("value")), headers=_headers(r),
                                               timestamp_ms=r.get("timestamp"), partition=r.get("partition")) for r in records]
                out = []
                for future in futures:
                    try:
                        m = await asyncio.wait_for(future, 15)
                    except kafka.errors.KafkaError as exc:
                        raise ClientError(error_name(exc), str(exc)) from exc
                    except Exception as exc:  # aiokafka's own error classes (same errno)
                        raise ClientError(error_name(exc), str(exc)) from exc
                    # acks=0: aiokafka resolves the send with None (there is no answer).
                    out.append({"partition": None, "offset": None, "timestamp": None} if m is None else
                               {"partition": m.partition, "offset": m.offset, "timestamp": m.timestamp})
                if transactional:
                    try:
                        await producer.commit_transaction()
                    except aiokafka.errors.KafkaError as exc:
                        raise ClientError(error_name(exc), str(exc)) from exc
                return out
            finally:
                await asyncio.wait_for(producer.stop(), 10)
        return asyncio.run(run())

    def producer_config(self, *, acks: str | None = None, max_request_bytes: int | None = None,
                        retries: int | None = None) -> dict[str, Any]:
        # aiokafka has no retry count: it retries retriable errors until request_timeout_ms.
        return _python_producer_config(acks, max_request_bytes, {})

    def create_partitions(self, topic: str, count: int) -> str | None:
        try:
            self._admin_call(lambda admin: admin.create_partitions({topic: NewPartitions(count)}))
            return None
        except aiokafka.errors.KafkaError as exc:
            return error_name(exc)

    def describe_configs(self, topic: str) -> dict[str, dict[str, Any]]:
        [answer] = self._admin_call(lambda admin: admin.describe_configs([AioConfigResource(AioConfigResourceType.TOPIC, topic)]))
        [resource] = answer.to_object()["resources"]
        if resource["error_code"]:
            raise ClientError(_code_error(resource["error_code"]) or "", resource["error_message"] or "")
        return {e["config_names"]: {"value": e["config_value"], "source": CONFIG_SOURCES.get(e["config_source"], str(e["config_source"])),
                                    "read_only": e["read_only"], "sensitive": e["is_sensitive"]} for e in resource["config_entries"]}

    def alter_configs(self, topic: str, set: dict[str, str], delete: list[str] | None = None, *,
                      incremental: bool = True) -> None:
        if incremental:
            raise Unsupported("aiokafka: no IncrementalAlterConfigs (its admin sends the legacy AlterConfigs)")
        answers = self._admin_call(lambda admin: admin.alter_configs([AioConfigResource(AioConfigResourceType.TOPIC, topic, set)]))
        for answer in answers:
            for resource in answer.to_object()["resources"]:
                if resource["error_code"]:
                    raise ClientError(_code_error(resource["error_code"]) or "", resource["error_message"] or "")

    async def _consumer(self, **config: Any) -> AIOKafkaConsumer:
        consumer = AIOKafkaConsumer(**{"bootstrap_servers": self.bootstrap, "group_id": None, "enable_auto_commit": False,
                                       "fetch_max_wait_ms": 100, **config})
        await asyncio.wait_for(consumer.start(), 15)
        return consumer

    @staticmethod
    async def _poll(consumer: AIOKafkaConsumer, count: int, timeout: float) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while len(out) < count and time.monotonic() < deadline:
            try:
                polled = await consumer.getmany(timeout_ms=200)
            except aiokafka.errors.KafkaError as exc:
                raise ClientError(error_name(exc), str(exc)) from exc
            for batch in polled.values():
                out += [_record(m.partition, m.offset, m.key, m.value, m.headers, m.timestamp, m.timestamp_type) for m in batch]
        return out

    def consume_from(self, topic: str, partition: int, start: int | None, count: int, *, reset: str = "none",
                     max_wait_ms: int = 100, timeout: float = 10.0) -> list[dict[str, Any]]:
        async def run() -> list[dict[str, Any]]:
            group = f"compat-reset-{uuid.uuid4().hex[:8]}" if start is None else None
            consumer = await self._consumer(group_id=group, auto_offset_reset=reset, fetch_max_wait_ms=max_wait_ms,
                                            request_timeout_ms=max_wait_ms + 30000)
            try:
                tp = AioTopicPartition(topic, partition)
                consumer.assign([tp])
                if start is not None:
                    consumer.seek(tp, start)
                return await self._poll(consumer, count, timeout)
            finally:
                await asyncio.wait_for(consumer.stop(), 10)
        return asyncio.run(run())

    def consume(self, topic: str, partition: int, offset: int | str, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        async def run() -> list[dict[str, Any]]:
            consumer = await self._consumer()
            try:
                tp = AioTopicPartition(topic, partition)
                consumer.assign([tp])
                if offset == "earliest":
                    await consumer.seek_to_beginning(tp)
                elif offset == "latest":
                    await consumer.seek_to_end(tp)
                else:
                    consumer.seek(tp, offset)
                return await self._poll(consumer, count, timeout)
            finally:
                await asyncio.wait_for(consumer.stop(), 10)
        return asyncio.run(run())

    def offsets(self, topic: str, partitions: list[int], times: list[int]) -> dict[str, Any]:
        async def run() -> dict[str, Any]:
            consumer = await self._consumer()
            try:
                tps = [AioTopicPartition(topic, p) for p in partitions]
                out: dict[str, Any] = {"beginning": {str(tp.partition): o for tp, o in (await consumer.beginning_offsets(tps)).items()},
                                       "end": {str(tp.partition): o for tp, o in (await consumer.end_offsets(tps)).items()},
                                       "for_times": {}}
                for t in times:
                    found = await consumer.offsets_for_times({tp: t for tp in tps})
                    out["for_times"][str(t)] = {str(tp.partition): None if ot is None else [ot.offset, ot.timestamp] for tp, ot in found.items()}
                return out
            finally:
                await asyncio.wait_for(consumer.stop(), 10)
        return asyncio.run(run())


class ConfluentAdapter(ConfluentTransactions, Adapter):
    name = "confluent"
    group_member = start_member

    def _admin(self) -> confluent_kafka.admin.AdminClient:
        return confluent_kafka.admin.AdminClient({"bootstrap.servers": self.bootstrap})

    def cluster(self) -> dict[str, Any]:
        metadata = self._admin().list_topics(timeout=15)
        return {"cluster_id": metadata.cluster_id, "controller": metadata.controller_id,
                "brokers": sorted([b.id, b.host, b.port] for b in metadata.brokers.values())}

    def list_topics(self) -> list[str]:
        return sorted(self._admin().list_topics(timeout=15).topics)

    def _per_topic(self, futures: dict[str, Any], admin: Any) -> dict[str, str | None]:
        # `admin` is held until the futures resolve: a collected AdminClient fails them with _DESTROY.
        out: dict[str, str | None] = {}
        for name, future in futures.items():
            try:
                future.result(timeout=30)
                out[name] = None
            except confluent_kafka.KafkaException as exc:
                out[name] = confluent_error_name(exc.args[0])
        return out

    def create_topics(self, specs: list[dict[str, Any]]) -> dict[str, str | None]:
        topics = [confluent_kafka.admin.NewTopic(s["name"], s.get("partitions", 1), 1, config=s.get("configs", {})) for s in specs]
        admin = self._admin()
        return self._per_topic(admin.create_topics(topics, request_timeout=15), admin)

    def delete_topics(self, names: list[str]) -> dict[str, str | None]:
        admin = self._admin()
        return self._per_topic(admin.delete_topics(names, request_timeout=15), admin)

    def describe_topics(self, names: list[str]) -> dict[str, Any]:
        admin = self._admin()
        futures = admin.describe_topics(confluent_kafka.TopicCollection(names), request_timeout=15)
        out: dict[str, Any] = {}
        for name, future in futures.items():
            try:
                d = future.result(timeout=30)
            except confluent_kafka.KafkaException as exc:
                out[name] = {"error": confluent_error_name(exc.args[0])}
                continue
            out[name] = {"id": str(d.topic_id), "partitions": sorted(
                ({"partition": p.id, "leader": p.leader.id if p.leader else None, "replicas": [n.id for n in p.replicas],
                  "isr": [n.id for n in p.isr]} for p in d.partitions), key=lambda p: p["partition"])}
        return out

    def produce(self, topic: str, records: list[dict[str, Any]], *, compression: str = "none",
                config: dict[str, Any] | None = None, transactional: bool = False) -> list[dict[str, Any]]:
        producer = confluent_kafka.Producer({"bootstrap.servers": self.bootstrap, "acks": "1", "linger.ms": 20,
                                             "compression.type": compression, "message.timeout.ms": 15000,
                                             "enable.idempotence": False, **(config or {})})
        results: list[Any] = [None] * len(records)

        def report(index: int) -> Any:
            def on_delivery(error: Any, message: Any) -> None:
                results[index] = error if error is not None else {
                    "partition": message.partition(), "offset": message.offset(), "timestamp": message.timestamp()[1]}
            return on_delivery

        if transactional:
            try:
                producer.init_transactions(15)
                producer.begin_transaction()
            except confluent_kafka.KafkaException as exc:
                raise ClientError(confluent_error_name(exc.args[0]), str(exc)) from exc
        for i, r in enumerate(records):
            kwargs: dict[str, Any] = {"key": data(r.get("key")), "value": data(r.get("value")), "on_delivery": report(i)}
            if r.get("partition") is not None:
                kwargs["partition"] = r["partition"]
            if r.get("headers"):
                kwargs["headers"] = _headers(r)
            if r.get("timestamp") is not None:
                kwargs["timestamp"] = r["timestamp"]
            producer.produce(topic, **kwargs)
        if transactional:
            try:
                producer.commit_transaction(15)
            except confluent_kafka.KafkaException as exc:
                raise ClientError(confluent_error_name(exc.args[0]), str(exc)) from exc
        producer.flush(20)
        for result in results:
            if result is None:
                raise ClientError("REQUEST_TIMED_OUT", "not delivered")
            if not isinstance(result, dict):
                raise ClientError(confluent_error_name(result), str(result))
        return results

    def producer_config(self, *, acks: str | None = None, max_request_bytes: int | None = None,
                        retries: int | None = None) -> dict[str, Any]:
        config: dict[str, Any] = {}
        if acks is not None:
            config["acks"] = acks
        if max_request_bytes is not None:
            config["message.max.bytes"] = max_request_bytes  # librdkafka's limit for a request and a record
        if retries is not None:
            config["retries"] = retries
        return config

    def create_partitions(self, topic: str, count: int) -> str | None:
        admin = self._admin()
        return self._per_topic(admin.create_partitions([confluent_kafka.admin.NewPartitions(topic, count)], request_timeout=15), admin)[topic]

    def describe_configs(self, topic: str) -> dict[str, dict[str, Any]]:
        admin = self._admin()
        resource = confluent_kafka.admin.ConfigResource(confluent_kafka.admin.ResourceType.TOPIC, topic)
        try:
            entries = admin.describe_configs([resource], request_timeout=15)[resource].result(timeout=30)
        except confluent_kafka.KafkaException as exc:
            raise ClientError(confluent_error_name(exc.args[0]), str(exc)) from exc
        return {name: {"value": e.value, "source": confluent_kafka.admin.ConfigSource(e.source).name, "read_only": e.is_read_only,
                       "sensitive": e.is_sensitive} for name, e in entries.items()}

    def alter_configs(self, topic: str, set: dict[str, str], delete: list[str] | None = None, *,
                      incremental: bool = True) -> None:
        admin_module = confluent_kafka.admin
        admin = self._admin()
        if incremental:
            ops = [admin_module.ConfigEntry(name, value, incremental_operation=admin_module.AlterConfigOpType.SET) for name, value in set.items()]
            ops += [admin_module.ConfigEntry(name, None, incremental_operation=admin_module.AlterConfigOpType.DELETE) for name in delete or []]
            resource = admin_module.ConfigResource(admin_module.ResourceType.TOPIC, topic, incremental_configs=ops)
            futures = admin.incremental_alter_configs([resource], request_timeout=15)
        else:
            if delete:
                raise ValueError("legacy AlterConfigs has no delete: leave the config out of `set`")
            resource = admin_module.ConfigResource(admin_module.ResourceType.TOPIC, topic, set_config=set)
            # Deprecated in confluent-kafka, and still its only way to send the legacy AlterConfigs this tests.
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "alter_configs has been deprecated", DeprecationWarning)
                futures = admin.alter_configs([resource], request_timeout=15)
        try:
            futures[resource].result(timeout=30)
        except confluent_kafka.KafkaException as exc:
            raise ClientError(confluent_error_name(exc.args[0]), str(exc)) from exc

    def _consumer(self, **config: Any) -> confluent_kafka.Consumer:
        return confluent_kafka.Consumer({"bootstrap.servers": self.bootstrap, "group.id": "compat-assign-only",
                                         "enable.auto.commit": False, "enable.auto.offset.store": False, "fetch.wait.max.ms": 100,
                                         **config})

    def consume(self, topic: str, partition: int, offset: int | str, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        consumer = self._consumer()
        try:
            start = {"earliest": confluent_kafka.OFFSET_BEGINNING, "latest": confluent_kafka.OFFSET_END}.get(offset, offset)  # type: ignore[call-overload]
            consumer.assign([confluent_kafka.TopicPartition(topic, partition, start)])
            return self._poll(consumer, count, timeout)
        finally:
            consumer.close()

    @staticmethod
    def _poll(consumer: confluent_kafka.Consumer, count: int, timeout: float) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while len(out) < count and time.monotonic() < deadline:
            for m in consumer.consume(num_messages=max(1, count - len(out)), timeout=0.2):
                if m.error() is not None:
                    raise ClientError(_consume_error_name(m.error()), str(m.error()))
                kind, timestamp = m.timestamp()
                kind = {confluent_kafka.TIMESTAMP_CREATE_TIME: 0, confluent_kafka.TIMESTAMP_LOG_APPEND_TIME: 1}.get(kind, -1)
                out.append(_record(m.partition(), m.offset(), m.key(), m.value(), m.headers() or [], timestamp, kind))
        return out

    def consume_from(self, topic: str, partition: int, start: int | None, count: int, *, reset: str = "none",
                     max_wait_ms: int = 100, timeout: float = 10.0) -> list[dict[str, Any]]:
        # librdkafka names the "none" policy "error"; without a start it reads the group's committed offset.
        group = f"compat-reset-{uuid.uuid4().hex[:8]}"
        consumer = self._consumer(**{"group.id": group, "auto.offset.reset": "error" if reset == "none" else reset,
                                     "fetch.wait.max.ms": max_wait_ms})
        try:
            consumer.assign([confluent_kafka.TopicPartition(topic, partition, confluent_kafka.OFFSET_STORED if start is None else start)])
            return self._poll(consumer, count, timeout)
        finally:
            consumer.close()

    def offsets(self, topic: str, partitions: list[int], times: list[int]) -> dict[str, Any]:
        consumer = self._consumer()
        try:
            out: dict[str, Any] = {"beginning": {}, "end": {}, "for_times": {}}
            for p in partitions:
                low, high = consumer.get_watermark_offsets(confluent_kafka.TopicPartition(topic, p), timeout=15)
                out["beginning"][str(p)], out["end"][str(p)] = low, high
            for t in times:
                found = consumer.offsets_for_times([confluent_kafka.TopicPartition(topic, p, t) for p in partitions], timeout=15)
                # librdkafka has no timestamp in the answer, and -1 (OFFSET_END) where Java says null.
                out["for_times"][str(t)] = {str(tp.partition): None if tp.offset < 0 else [tp.offset, None] for tp in found}
            return out
        finally:
            consumer.close()


    # -- groups ---------------------------------------------------------------

    def _member(self, topic: str, group: str, protocol: str, assignor: str | None, **config: Any) -> _ConfluentMember:
        conf: dict[str, Any] = {"bootstrap.servers": self.bootstrap, "group.id": group, "enable.auto.commit": False,
                                "auto.offset.reset": "earliest", "fetch.wait.max.ms": 100, **config}
        if protocol == "consumer":
            conf["group.protocol"] = "consumer"
            if assignor is not None:
                conf["group.remote.assignor"] = assignor
        elif assignor is not None:
            conf["partition.assignment.strategy"] = assignor
        return _ConfluentMember(confluent_kafka.Consumer(conf), topic)

    def group_consume(self, topic: str, group: str, count: int, *, protocol: str = "classic", assignor: str | None = None,
                      assigned: int | None = None, timeout: float = 30.0) -> dict[str, Any]:
        member = self._member(topic, group, protocol, assignor)
        try:
            records: list[dict[str, Any]] = []
            commit: dict[int, int] = {}
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if len(records) >= count and (assigned is None or len(member.assignment()) == assigned):
                    break
                for m in member.consumer.consume(num_messages=100, timeout=0.1):
                    if m.error() is not None:
                        raise ClientError(confluent_error_name(m.error()), str(m.error()))
                    if len(records) < count:
                        records.append({"partition": m.partition(), "offset": m.offset(), "value": text(m.value())})
                        commit[m.partition()] = m.offset() + 1
            # Only the records taken are committed (a poll may return more than count).
            if commit:
                member.consumer.commit(offsets=[confluent_kafka.TopicPartition(topic, p, o) for p, o in commit.items()],
                                       asynchronous=False)
            mine = member.assignment()
            committed = member.consumer.committed([confluent_kafka.TopicPartition(topic, p) for p in mine], timeout=15)
            return {"assigned": mine, "records": records,
                    "committed": {str(tp.partition): tp.offset if tp.offset >= 0 else None for tp in committed}}
        finally:
            member.consumer.close()

    def group_rebalance(self, topic: str, group: str, partitions: int, *, protocol: str = "classic",
                        assignor: str | None = None, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        a = self._member(topic, group, protocol, assignor)
        b = None
        try:
            while len(a.assignment()) < partitions:
                if time.monotonic() > deadline:
                    raise ClientError("REQUEST_TIMED_OUT", f"the first member has {a.assignment()}")
                a.poll()
            first = a.assignment()
            a.revoked.clear()
            a.lost.clear()
            b = self._member(topic, group, protocol, assignor)
            while not _split(a.assignment(), b.assignment(), partitions):
                if time.monotonic() > deadline:
                    raise ClientError("REQUEST_TIMED_OUT", f"the members have {a.assignment()} and {b.assignment()}")
                a.poll()
                b.poll()
            return {"first": first, "a": a.assignment(), "b": b.assignment(), "a_revoked": sorted(a.revoked),
                    "a_lost": sorted(a.lost)}
        finally:
            for member in (b, a):
                if member is not None:
                    member.consumer.close()

    def describe_groups(self, groups: list[str], *, protocol: str = "classic") -> dict[str, Any]:
        # librdkafka picks DescribeGroups or ConsumerGroupDescribe by the group's type itself.
        admin = self._admin()
        out: dict[str, Any] = {}
        for name, future in admin.describe_consumer_groups(groups, request_timeout=15).items():
            try:
                g = future.result(timeout=30)
            except confluent_kafka.KafkaException as exc:
                out[name] = {"error": confluent_error_name(exc.args[0])}
                continue
            members = [{"client_id": m.client_id, "assigned": sorted([tp.topic, tp.partition] for tp in m.assignment.topic_partitions)}
                       for m in g.members]
            out[name] = {"state": GROUP_STATES.get(g.state.name, g.state.name), "members": members}
        return out

    def list_groups(self) -> dict[str, dict[str, Any]]:
        admin = self._admin()
        listed = admin.list_consumer_groups(request_timeout=15).result(timeout=30)
        return {g.group_id: {"state": GROUP_STATES.get(g.state.name, g.state.name), "group_type": g.type.name.lower()}
                for g in listed.valid}

    def delete_groups(self, groups: list[str]) -> dict[str, str | None]:
        admin = self._admin()
        return self._per_topic(admin.delete_consumer_groups(groups, request_timeout=15), admin)

    def group_offsets(self, group: str, topic: str) -> dict[str, Any]:
        admin = self._admin()
        request = [confluent_kafka.ConsumerGroupTopicPartitions(group)]
        [future] = admin.list_consumer_group_offsets(request, request_timeout=15).values()
        committed = {tp.partition: tp.offset for tp in future.result(timeout=30).topic_partitions if tp.topic == topic}
        ends = self.offsets(topic, sorted(committed), [])["end"]
        return {"committed": {str(p): o for p, o in sorted(committed.items())},
                "lag": {str(p): ends[str(p)] - o for p, o in sorted(committed.items())}}

    # -- transactions ---------------------------------------------------------

    def _transactional(self, transactional_id: str) -> confluent_kafka.Producer:
        producer = confluent_kafka.Producer({"bootstrap.servers": self.bootstrap, "transactional.id": transactional_id,
                                             "linger.ms": 20, "message.timeout.ms": 15000})
        try:
            producer.init_transactions(15)
            producer.begin_transaction()
        except confluent_kafka.KafkaException as exc:
            raise ClientError(confluent_error_name(exc.args[0]), str(exc)) from exc
        return producer

    @staticmethod
    def _end(producer: confluent_kafka.Producer, commit: bool) -> None:
        try:
            if commit:
                producer.commit_transaction(15)
            else:
                producer.abort_transaction(15)
        except confluent_kafka.KafkaException as exc:
            raise ClientError(confluent_error_name(exc.args[0]), str(exc)) from exc

    def produce_transaction(self, topic: str, records: list[dict[str, Any]], *, transactional_id: str,
                            commit: bool) -> list[dict[str, Any]]:
        producer = self._transactional(transactional_id)
        sent: list[Any] = []

        def on_delivery(error: Any, message: Any) -> None:
            sent.append(error if error is not None else {"partition": message.partition(), "offset": message.offset(),
                                                         "timestamp": message.timestamp()[1]})

        for r in records:
            producer.produce(topic, key=data(r.get("key")), value=data(r.get("value")), partition=r.get("partition", -1),
                             headers=_headers(r) or None, on_delivery=on_delivery)
        producer.flush(15)
        self._end(producer, commit)
        for result in sent:
            if not isinstance(result, dict):
                raise ClientError(confluent_error_name(result), str(result))
        return sent

    def consume_isolated(self, topic: str, partition: int, offset: int, count: int, *, isolation: str,
                         timeout: float = 10.0) -> list[dict[str, Any]]:
        consumer = self._consumer(**{"isolation.level": isolation})
        try:
            consumer.assign([confluent_kafka.TopicPartition(topic, partition, offset)])
            return self._poll(consumer, count, timeout)
        finally:
            consumer.close()

    def transform(self, source: str, target: str, group: str, count: int, *, transactional_id: str, commit: bool,
                  timeout: float = 30.0) -> dict[str, Any]:
        member = self._member(source, group, "classic", None, **{"isolation.level": "read_committed"})
        producer = self._transactional(transactional_id)
        try:
            records: list[dict[str, Any]] = []
            deadline = time.monotonic() + timeout
            while len(records) < count and time.monotonic() < deadline:
                for m in member.consumer.consume(num_messages=count - len(records), timeout=0.1):
                    if m.error() is not None:
                        raise ClientError(confluent_error_name(m.error()), str(m.error()))
                    records.append({"partition": m.partition(), "offset": m.offset(), "value": text(m.value())})
                    producer.produce(target, key=m.key(), value=m.value(), partition=m.partition())
            producer.flush(15)
            positions = member.consumer.position(member.consumer.assignment())
            producer.send_offsets_to_transaction(positions, member.consumer.consumer_group_metadata(), 15)
            self._end(producer, commit)
            return {"records": records, "committed": commit}
        finally:
            member.consumer.close()

def _consume_error_name(error: Any) -> str:
    """librdkafka reports both cases of the "none" (error) reset policy as its local _AUTO_OFFSET_RESET;
    its message tells an out-of-range offset from a missing committed one."""
    if error.code() == confluent_kafka.KafkaError._AUTO_OFFSET_RESET:
        return "OFFSET_OUT_OF_RANGE" if "out of range" in error.str().lower() else "NO_OFFSET_FOR_PARTITION"
    return confluent_error_name(error)


GROUP_STATES = {"PREPARING_REBALANCING": "PreparingRebalance", "COMPLETING_REBALANCING": "CompletingRebalance",
                "STABLE": "Stable", "DEAD": "Dead", "EMPTY": "Empty", "UNKNOWN": "Unknown"}


class _ConfluentMember:
    """A confluent-kafka group member and what its rebalance callbacks told it (librdkafka
    assigns by itself after the callback when the callback does not)."""

    def __init__(self, consumer: confluent_kafka.Consumer, topic: str) -> None:
        self.consumer = consumer
        self.revoked: set[int] = set()
        self.lost: set[int] = set()
        consumer.subscribe([topic], on_revoke=lambda _, tps: self.revoked.update(tp.partition for tp in tps),
                           on_lost=lambda _, tps: self.lost.update(tp.partition for tp in tps))

    def assignment(self) -> list[int]:
        return sorted(tp.partition for tp in self.consumer.assignment())

    def poll(self) -> None:
        """A short poll, which serves the rebalance callbacks; its records are dropped."""
        for m in self.consumer.consume(num_messages=100, timeout=0.1):
            if m.error() is not None:
                raise ClientError(confluent_error_name(m.error()), str(m.error()))


def _split(a: list[int], b: list[int], partitions: int) -> bool:
    return bool(a) and bool(b) and not set(a) & set(b) and len(set(a) | set(b)) == partitions

ADAPTERS = {"kafka-python": KafkaPythonAdapter, "aiokafka": AiokafkaAdapter, "confluent": ConfluentAdapter}
