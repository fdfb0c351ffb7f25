"""Consumer groups for the kafka-python and aiokafka adapters (scenarios/groups.py).

Mixins of python_clients' adapters. Members use the client's own group
coordinator and assignors; the admin calls are the clients' admin APIs.
Neither client speaks KIP-848's consumer protocol (n/a). kafka-python has
range, roundrobin, sticky and cooperative-sticky; aiokafka has no
cooperative assignor (n/a), no DeleteGroups in its admin client (n/a), and
its DescribeGroups at v3 decodes the answer with the v2 schema (no
authorized_operations), which fails on any broker serving v3 (n/a); its
ListGroups reports neither state nor type. kafka-python polls with a long
timeout (see KAFKA_PYTHON_POLL_MS: a short one can lose an assignment). Two members of a rebalance run
side by side: kafka-python's each in a thread of its own (its consumer is
not thread-safe, and a classic join blocks the poll that sends it),
aiokafka's as two consumers of one event loop.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from typing import Any

import aiokafka
import aiokafka.errors
import kafka
import kafka.errors
from aiokafka.abc import ConsumerRebalanceListener as AioRebalanceListener
from aiokafka.coordinator.assignors.range import RangePartitionAssignor as AioRange
from aiokafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor as AioRoundRobin
from aiokafka.coordinator.assignors.sticky.sticky_assignor import StickyPartitionAssignor as AioSticky
from kafka.coordinator.assignors.cooperative_sticky import CooperativeStickyAssignor
from kafka.coordinator.assignors.range import RangePartitionAssignor
from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
from kafka.coordinator.assignors.sticky.sticky_assignor import StickyPartitionAssignor
from kafka.structs import OffsetAndMetadata

from compat_tests.clients.base import ClientError, Unsupported, error_name, text

KAFKA_PYTHON_ASSIGNORS = {"range": RangePartitionAssignor, "roundrobin": RoundRobinPartitionAssignor,
                          "sticky": StickyPartitionAssignor, "cooperative-sticky": CooperativeStickyAssignor}
AIOKAFKA_ASSIGNORS = {"range": AioRange, "roundrobin": AioRoundRobin, "sticky": AioSticky}
POLL_MS = 100
# kafka-python 3.0.12 loses an assignment when a poll's timeout ends while its SyncGroup is in
# flight: the join task completes in the background, the next poll finds no rejoin needed and
# never runs on_join_complete, so the member owns nothing in a stable group. Its polls get a
# timeout longer than a join round (a poll returns as soon as records come).
KAFKA_PYTHON_POLL_MS = 1000


def _split(a: list[int], b: list[int], partitions: int) -> bool:
    return bool(a) and bool(b) and not set(a) & set(b) and len(set(a) | set(b)) == partitions


def _answer_error(answer: str) -> str:
    """kafka-python's admin answers an error as str(the error): "[Error 69] GroupIdNotFoundError: ..."."""
    code = re.match(r"\[Error (\d+)\]", answer)
    return error_name(kafka.errors.for_code(int(code[1]))()) if code else answer


def _classic_only(client: str, protocol: str, assignor: str | None, assignors: dict[str, Any]) -> list[Any] | None:
    if protocol != "classic":
        raise Unsupported(f"{client}: no KIP-848 consumer protocol")
    if assignor is None:
        return None
    if assignor not in assignors:
        raise Unsupported(f"{client}: no {assignor} assignor")
    return [assignors[assignor]]


class _KafkaPythonMember:
    """A kafka-python member polling in a thread of its own until stopped, publishing its
    assignment after each poll and what its rebalance listener heard."""

    def __init__(self, bootstrap: str, topic: str, group: str, assignors: list[Any] | None) -> None:
        config: dict[str, Any] = {"bootstrap_servers": bootstrap, "group_id": group, "enable_auto_commit": False,
                                  "auto_offset_reset": "earliest", "fetch_max_wait_ms": POLL_MS}
        if assignors:
            config["partition_assignment_strategy"] = assignors
        self.consumer = kafka.KafkaConsumer(**config)
        self.revoked: set[int] = set()
        self.lost: set[int] = set()
        self.owned: list[int] = []
        self.error: BaseException | None = None
        self._stop = threading.Event()
        member = self

        class Listener(kafka.ConsumerRebalanceListener):
            def on_partitions_assigned(self, assigned: Any) -> None:
                pass

            def on_partitions_revoked(self, revoked: Any) -> None:
                member.revoked.update(tp.partition for tp in revoked)

            def on_partitions_lost(self, lost: Any) -> None:
                member.lost.update(tp.partition for tp in lost)

        self.consumer.subscribe([topic], listener=Listener())
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self.consumer.poll(timeout_ms=KAFKA_PYTHON_POLL_MS)
                self.owned = sorted(tp.partition for tp in self.consumer.assignment())
        except Exception as exc:  # noqa: BLE001 - handed to the caller
            self.error = exc
        finally:
            self.consumer.close()

    def assignment(self) -> list[int]:
        if self.error is not None:
            raise ClientError(error_name(self.error), str(self.error))
        return self.owned

    def close(self) -> None:
        self._stop.set()
        self._thread.join(30)


class KafkaPythonGroups:
    # Provided by KafkaPythonAdapter.
    bootstrap: str
    name: str
    _admin: Any
    offsets: Any

    def group_consume(self, topic: str, group: str, count: int, *, protocol: str = "classic", assignor: str | None = None,
                      assigned: int | None = None, timeout: float = 30.0) -> dict[str, Any]:
        assignors = _classic_only(self.name, protocol, assignor, KAFKA_PYTHON_ASSIGNORS)
        config: dict[str, Any] = {"bootstrap_servers": self.bootstrap, "group_id": group, "enable_auto_commit": False,
                                  "auto_offset_reset": "earliest", "fetch_max_wait_ms": POLL_MS}
        if assignors:
            config["partition_assignment_strategy"] = assignors
        consumer = kafka.KafkaConsumer(**config)
        try:
            consumer.subscribe([topic])
            records: list[dict[str, Any]] = []
            commit: dict[int, int] = {}
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if len(records) >= count and (assigned is None or len(consumer.assignment()) == assigned):
                    break
                try:
                    polled = consumer.poll(timeout_ms=KAFKA_PYTHON_POLL_MS)
                except kafka.errors.KafkaError as exc:
                    raise ClientError(error_name(exc), str(exc)) from exc
                for m in (m for batch in polled.values() for m in batch):
                    if len(records) < count:
                        records.append({"partition": m.partition, "offset": m.offset, "value": text(m.value)})
                        commit[m.partition] = m.offset + 1
            # Only the records taken are committed (a poll may return more than count).
            if commit:
                consumer.commit({kafka.TopicPartition(topic, p): OffsetAndMetadata(o, "", -1) for p, o in commit.items()})
            mine = sorted(tp.partition for tp in consumer.assignment())
            committed = {str(p): consumer.committed(kafka.TopicPartition(topic, p)) for p in mine}
            return {"assigned": mine, "records": records, "committed": committed}
        finally:
            consumer.close()

    def group_rebalance(self, topic: str, group: str, partitions: int, *, protocol: str = "classic",
                        assignor: str | None = None, timeout: float = 60.0) -> dict[str, Any]:
        assignors = _classic_only(self.name, protocol, assignor, KAFKA_PYTHON_ASSIGNORS)
        deadline = time.monotonic() + timeout
        a = _KafkaPythonMember(self.bootstrap, topic, group, assignors)
        b = None
        try:
            while len(a.assignment()) < partitions:
                if time.monotonic() > deadline:
                    raise ClientError("REQUEST_TIMED_OUT", f"the first member has {a.assignment()}")
                time.sleep(0.05)
            first = a.assignment()
            a.revoked.clear()
            a.lost.clear()
            b = _KafkaPythonMember(self.bootstrap, topic, group, assignors)
            while not _split(a.assignment(), b.assignment(), partitions):
                if time.monotonic() > deadline:
                    raise ClientError("REQUEST_TIMED_OUT", f"the members have {a.assignment()} and {b.assignment()}")
                time.sleep(0.05)
            return {"first": first, "a": a.assignment(), "b": b.assignment(), "a_revoked": sorted(a.revoked),
                    "a_lost": sorted(a.lost)}
        finally:
            for member in (b, a):
                if member is not None:
                    member.close()

    def describe_groups(self, groups: list[str], *, protocol: str = "classic") -> dict[str, Any]:
        if protocol != "classic":
            raise Unsupported(f"{self.name}: no ConsumerGroupDescribe")
        admin = self._admin()
        try:
            out: dict[str, Any] = {}
            for name, g in admin.describe_groups(groups).items():
                if g["error"] is not None:
                    out[name] = {"error": _answer_error(g["error"])}
                    continue
                members = [{"client_id": m["client_id"],
                            "assigned": sorted([t, p] for t, ps in (m["member_assignment"] or {}).get("assignment", []) for p in ps)}
                           for m in g["members"]]
                out[name] = {"state": g["group_state"], "members": members}
            return out
        finally:
            admin.close()

    def list_groups(self) -> dict[str, dict[str, Any]]:
        admin = self._admin()
        try:
            return {g["group_id"]: {"state": g["group_state"], "group_type": g["group_type"], "protocol_type": g["protocol_type"]}
                    for g in admin.list_groups()}
        finally:
            admin.close()

    def delete_groups(self, groups: list[str]) -> dict[str, str | None]:
        admin = self._admin()
        try:
            # kafka-python answers "OK" or the error's class name per group.
            return {name: None if answer == "OK" else error_name(getattr(kafka.errors, answer)())
                    for name, answer in admin.delete_groups(groups).items()}
        finally:
            admin.close()

    def group_offsets(self, group: str, topic: str) -> dict[str, Any]:
        admin = self._admin()
        try:
            found = admin.list_group_offsets({group: None})[group]
        finally:
            admin.close()
        committed = {tp.partition: om.offset for tp, om in found.items() if tp.topic == topic}
        ends = self.offsets(topic, sorted(committed), [])["end"]
        return {"committed": {str(p): o for p, o in sorted(committed.items())},
                "lag": {str(p): ends[str(p)] - o for p, o in sorted(committed.items())}}


class _AioMember:
    def __init__(self, consumer: aiokafka.AIOKafkaConsumer, topic: str) -> None:
        self.consumer = consumer
        self.revoked: set[int] = set()
        member = self

        class Listener(AioRebalanceListener):  # type: ignore[misc]
            async def on_partitions_assigned(self, assigned: Any) -> None:
                pass

            async def on_partitions_revoked(self, revoked: Any) -> None:
                member.revoked.update(tp.partition for tp in revoked)

        consumer.subscribe([topic], listener=Listener())

    def assignment(self) -> list[int]:
        return sorted(tp.partition for tp in self.consumer.assignment())

    async def poll(self) -> None:
        try:
            await self.consumer.getmany(timeout_ms=POLL_MS)
        except aiokafka.errors.KafkaError as exc:
            raise ClientError(error_name(exc), str(exc)) from exc


class AiokafkaGroups:
    # Provided by AiokafkaAdapter.
    bootstrap: str
    name: str
    _admin_call: Any
    offsets: Any

    async def _member(self, topic: str, group: str, assignors: list[Any] | None) -> _AioMember:
        config: dict[str, Any] = {"bootstrap_servers": self.bootstrap, "group_id": group, "enable_auto_commit": False,
                                  "auto_offset_reset": "earliest", "fetch_max_wait_ms": POLL_MS}
        if assignors:
            config["partition_assignment_strategy"] = assignors
        consumer = aiokafka.AIOKafkaConsumer(**config)
        await asyncio.wait_for(consumer.start(), 15)
        return _AioMember(consumer, topic)

    def group_consume(self, topic: str, group: str, count: int, *, protocol: str = "classic", assignor: str | None = None,
                      assigned: int | None = None, timeout: float = 30.0) -> dict[str, Any]:
        assignors = _classic_only(self.name, protocol, assignor, AIOKAFKA_ASSIGNORS)

        async def run() -> dict[str, Any]:
            member = await self._member(topic, group, assignors)
            consumer = member.consumer
            try:
                records: list[dict[str, Any]] = []
                commit: dict[int, int] = {}
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline:
                    if len(records) >= count and (assigned is None or len(member.assignment()) == assigned):
                        break
                    try:
                        polled = await consumer.getmany(timeout_ms=POLL_MS)
                    except aiokafka.errors.KafkaError as exc:
                        raise ClientError(error_name(exc), str(exc)) from exc
                    for m in (m for batch in polled.values() for m in batch):
                        if len(records) < count:
                            records.append({"partition": m.partition, "offset": m.offset, "value": text(m.value)})
                            commit[m.partition] = m.offset + 1
                if commit:
                    await consumer.commit({aiokafka.TopicPartition(topic, p): o for p, o in commit.items()})
                mine = member.assignment()
                committed = {str(p): await consumer.committed(aiokafka.TopicPartition(topic, p)) for p in mine}
                return {"assigned": mine, "records": records, "committed": committed}
            finally:
                await asyncio.wait_for(consumer.stop(), 15)
        return asyncio.run(run())

    def group_rebalance(self, topic: str, group: str, partitions: int, *, protocol: str = "classic",
                        assignor: str | None = None, timeout: float = 60.0) -> dict[str, Any]:
        assignors = _classic_only(self.name, protocol, assignor, AIOKAFKA_ASSIGNORS)

        async def run() -> dict[str, Any]:
            deadline = time.monotonic() + timeout
            a = await self._member(topic, group, assignors)
            b = None
            try:
                while len(a.assignment()) < partitions:
                    if time.monotonic() > deadline:
                        raise ClientError("REQUEST_TIMED_OUT", f"the first member has {a.assignment()}")
                    await a.poll()
                first = a.assignment()
                a.revoked.clear()
                b = await self._member(topic, group, assignors)
                while not _split(a.assignment(), b.assignment(), partitions):
                    if time.monotonic() > deadline:
                        raise ClientError("REQUEST_TIMED_OUT", f"the members have {a.assignment()} and {b.assignment()}")
                    await asyncio.gather(a.poll(), b.poll())
                # aiokafka's listener has no "lost": a lost partition is revoked.
                return {"first": first, "a": a.assignment(), "b": b.assignment(), "a_revoked": sorted(a.revoked), "a_lost": []}
            finally:
                for member in (b, a):
                    if member is not None:
                        await asyncio.wait_for(member.consumer.stop(), 15)
        return asyncio.run(run())

    def describe_groups(self, groups: list[str], *, protocol: str = "classic") -> dict[str, Any]:
        raise Unsupported(f"{self.name}: its DescribeGroups v3 decodes the answer with the v2 schema (no authorized_operations)")

    def delete_groups(self, groups: list[str]) -> dict[str, str | None]:
        raise Unsupported(f"{self.name}: no DeleteGroups in its admin client")

    def list_groups(self) -> dict[str, dict[str, Any]]:
        # aiokafka's ListGroups (v0-v2) answers no state and no type.
        return {group: {"protocol_type": protocol_type}
                for group, protocol_type in self._admin_call(lambda admin: admin.list_consumer_groups())}

    def group_offsets(self, group: str, topic: str) -> dict[str, Any]:
        found = self._admin_call(lambda admin: admin.list_consumer_group_offsets(group))
        committed = {tp.partition: om.offset for tp, om in found.items() if tp.topic == topic}
        ends = self.offsets(topic, sorted(committed), [])["end"]
        return {"committed": {str(p): o for p, o in sorted(committed.items())},
                "lag": {str(p): ends[str(p)] - o for p, o in sorted(committed.items())}}

