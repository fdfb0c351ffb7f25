"""Fault injection: answer chosen requests with an error, late, or not at all.

Tests of client resilience need a broker that misbehaves on cue: "the next
3 Produce requests get NOT_LEADER_OR_FOLLOWER", "Fetch answers 500 ms
late", "JoinGroup drops the connection once". A `FaultRule` says which
requests it takes (an api key, optionally a topic and partition) and what
happens to them; `Faults` is the broker's list of rules. The hook is in one
place, the connection's dispatch (`Connection._handle` calls `intercept`
when any rule is set): handlers know nothing of it.

What a rule does to a request it takes, in order:

* latency: wait `latency_ms` before going on;
* drop: close the connection without an answer (as Kafka does after a
  failed acks=0 Produce; the client sees a network error);
* error: answer with `error` instead of calling the handler. The answer is
  built from the response schema (`error_response`), not by hand per API;
* otherwise (latency only): the handler answers as usual.

A rule fires on the next `count` requests it matches (None: until removed)
and removes itself afterwards. With `topic` (and `partition`) it matches
only requests that name that topic (partition); the whole request is then
answered with the error, so a request naming several topics sees it on all
of them. Requests whose client id is `HELPER_CLIENT_ID` (the test helpers'
own, kwire.testing) never match, so a test can arm a fault and then use the
helpers to look at the outcome.

Every fault that fires is logged at WARNING by logger `kwire.faults`.

Error answers from the schema. Kafka builds them per request class
(`AbstractRequest.getErrorResponse`); kwire derives them from the response
schema at the request's version: every `ErrorCode` field is set (and
`ErrorMessage` fields are set to the error's message), and every response
array that has a counterpart in the request mirrors it, one entry per
request entry, with the entry's keys copied: topic name or id, partition
index, group id, coordinator key, config resource. Counterparts are found
by the keys both sides carry (`entityType` and `mapKey` in Kafka's
schemas, and the handful of partition-index field names). So a Produce for
two partitions gets two partition answers with the error, an OffsetFetch
gets its partitions back with the error, a JoinGroup its top-level error.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from kwire_protocol.error_codes import ErrorCode
from kwire_protocol.messages import APIS, Api, ApiKey
from kwire_protocol.schema import FieldSpec, StructSpec, in_range

from kwire.handlers import CLOSE_CONNECTION

log = logging.getLogger(__name__)

HELPER_CLIENT_ID = "kwire-testing-helper"
INJECTED = " (injected by kwire)"


def api_key_of(name: str | int) -> int:
    """'Produce', 'PRODUCE', 'produce' or 0 -> 0."""
    if isinstance(name, int) or (isinstance(name, str) and name.isdigit()):
        key = int(name)
        if key not in APIS:
            raise ValueError(f"unknown api key {key}")
        return key
    wanted = name.replace("_", "").lower()
    for key, api in APIS.items():
        if api.name.lower() == wanted:
            return key
    raise ValueError(f"unknown API {name!r} (use Kafka's names, e.g. Produce, Fetch, JoinGroup)")


def error_code_of(name: str | int) -> ErrorCode:
    """'NOT_LEADER_OR_FOLLOWER' or 6 -> ErrorCode.NOT_LEADER_OR_FOLLOWER."""
    try:
        if isinstance(name, int) or name.lstrip("-").isdigit():
            return ErrorCode(int(name))
        return ErrorCode[name.upper()]
    except (KeyError, ValueError):
        raise ValueError(f"unknown Kafka error {name!r}") from None


@dataclass
class FaultRule:
    id: int
    api: str  # Kafka's API name, e.g. 'Produce'
    error: str | None = None  # an ErrorCode name
    latency_ms: int = 0
    drop: bool = False
    topic: str | None = None
    partition: int | None = None
    count: int | None = 1  # requests still to take; None: until removed
    fired: int = 0

    def describe(self) -> str:
        what = []
        if self.latency_ms:
            what.append(f"{self.latency_ms} ms latency")
        if self.drop:
            what.append("connection dropped")
        elif self.error:
            what.append(f"error {self.error}")
        return ", ".join(what) or "no effect"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Faults:
    """The broker's fault rules. Thread-safe: tests add rules from their own
    thread while the broker's event loop takes them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: dict[int, FaultRule] = {}
        self._ids = itertools.count(1)

    @property
    def active(self) -> bool:
        return bool(self._rules)

    def add(
        self,
        api: str | int,
        error: str | int | None = None,
        *,
        count: int | None = 1,
        latency_ms: int = 0,
        drop: bool = False,
        topic: str | None = None,
        partition: int | None = None,
    ) -> FaultRule:
        """Add a rule; ValueError for an unknown API or error, or a rule that does nothing."""
        key = api_key_of(api)
        code = error_code_of(error) if error is not None else None
        if code is None and not latency_ms and not drop:
            raise ValueError("a fault needs an error, a latency or drop")
        if count is not None and count < 1:
            raise ValueError("count must be at least 1 (or None: until removed)")
        if latency_ms < 0:
            raise ValueError("latency_ms must not be negative")
        if partition is not None and topic is None:
            raise ValueError("a partition needs its topic")
        with self._lock:
            rule = FaultRule(next(self._ids), APIS[key].name, code.name if code is not None else None, latency_ms, drop, topic, partition, count)
            self._rules[rule.id] = rule
        log.warning("fault #%d added: %s on %s%s, %s", rule.id, rule.describe(), rule.api, _where(rule), "until removed" if count is None else f"next {count} request(s)")
        return rule

    def remove(self, rule_id: int) -> bool:
        with self._lock:
            rule = self._rules.pop(rule_id, None)
        if rule is not None:
            log.warning("fault #%d removed (fired %d time(s))", rule_id, rule.fired)
        return rule is not None

    def clear(self) -> int:
        with self._lock:
            removed, self._rules = len(self._rules), {}
        if removed:
            log.warning("all %d fault(s) removed", removed)
        return removed

    def rules(self) -> list[FaultRule]:
        with self._lock:
            return [FaultRule(**r.to_dict()) for r in self._rules.values()]

    def take(self, request: Any, topic_ids: Callable[[str], uuid.UUID | None] = lambda name: None) -> FaultRule | None:
        """The first rule matching `request`, counted as fired (a copy), or None."""
        if request.header.client_id == HELPER_CLIENT_ID:
            return None
        name = request.api.name
        with self._lock:
            for rule in self._rules.values():
                if rule.api != name:
                    continue
                if rule.topic is not None and not _names(request.api, request.version, request.body, rule.topic, topic_ids(rule.topic), rule.partition):
                    continue
                rule.fired += 1
                if rule.count is not None:
                    rule.count -= 1
                    if rule.count == 0:
                        del self._rules[rule.id]
                return FaultRule(**rule.to_dict())
        return None

    async def intercept(self, broker: Any, request: Any, handler: Callable[[Any, Any], Any], peer: str = "") -> Any:
        """What the connection's dispatch calls instead of `handler` while rules are set."""
        rule = self.take(request, lambda name: _topic_id(broker, name))
        if rule is not None:
            log.warning(
                "fault #%d injected into %s v%d (correlation id %d, client %s, %s): %s%s",
                rule.id, request.api.name, request.version, request.correlation_id, request.header.client_id, peer or "?",
                rule.describe(), "" if rule.count is None else f", {rule.count} left",
            )
            if rule.latency_ms:
                await asyncio.sleep(rule.latency_ms / 1000)
            if rule.drop:
                return CLOSE_CONNECTION
            if rule.error is not None:
                if request.api.key == ApiKey.PRODUCE and request.body.acks == 0:
                    # acks=0 expects no answer; Kafka tells such a producer of an error by closing.
                    return CLOSE_CONNECTION
                return error_response(request.api, request.version, request.body, ErrorCode[rule.error])
        response = handler(broker, request)
        if inspect.isawaitable(response):
            response = await response
        return response


def _where(rule: FaultRule) -> str:
    if rule.topic is None:
        return ""
    return f" for {rule.topic}" + ("" if rule.partition is None else f"-{rule.partition}")


def _topic_id(broker: Any, name: str) -> uuid.UUID | None:
    topic = broker.image.topic(name) if broker is not None else None
    return topic.topic_id if topic is not None else None


# --- keys: what a field names ---------------------------------------------------

_KEY_ENTITIES = {"topicName": "topic", "groupId": "group", "transactionalId": "transactional_id"}
_PARTITION_FIELDS = {"partition", "partition_index", "partition_indexes", "index", "partition_id"}
_OTHER_KEYS = {
    ("uuid", "topic_id"): "topic_id",
    ("string", "key"): "coordinator_key",  # FindCoordinator v0-3 key / v4+ coordinator_keys
    ("string", "coordinator_keys"): "coordinator_key",
    ("string", "resource_name"): "resource_name",
    ("int8", "resource_type"): "resource_type",
}


def _key_of(f: FieldSpec) -> str | None:
    """What `f` keys its struct by ('topic', 'partition', ...), or None if not a key."""
    if f.struct is not None:
        return None
    if f.entity_type in _KEY_ENTITIES:
        return _KEY_ENTITIES[f.entity_type]
    t = f.element_type
    if t == "int32" and f.attr in _PARTITION_FIELDS:
        return "partition"
    return _OTHER_KEYS.get((t, f.attr))


def _scalar_keys(spec: StructSpec, version: int) -> dict[str, FieldSpec]:
    return {k: f for f in spec.fields if in_range(version, f.versions) and not f.is_array and (k := _key_of(f))}


def _counterpart(f: FieldSpec, request_spec: StructSpec, version: int) -> FieldSpec | None:
    """The request array that response array `f` answers entry by entry: the one
    sharing most keys with it (the first on a tie, so Fetch's `topics` wins
    over `forgotten_topics_data`)."""
    assert f.struct is not None
    wanted = set(_scalar_keys(f.struct, version))
    best, best_score = None, 0
    for g in request_spec.fields:
        if not g.is_array or not in_range(version, g.versions):
            continue
        if g.struct is not None:
            score = len(wanted & set(_scalar_keys(g.struct, version)))
        else:
            score = 1 if _key_of(g) in wanted else 0
        if score > best_score:
            best, best_score = g, score
    return best


# --- error answers --------------------------------------------------------------


def error_response(api: Api, version: int, request_body: Any, error: ErrorCode) -> Any:
    """The response to `request_body` (of `api` at `version`) that fails all of it with `error`."""
    message = error.message + INJECTED
    return _build(api.response.spec.root, api.response.cls, api.request.spec.root, request_body, {}, version, error, message)


def _build(
    spec: StructSpec, cls: type, request_spec: StructSpec | None, request_obj: Any, keys: dict[str, Any], version: int, error: ErrorCode, message: str
) -> Any:
    if request_spec is not None and request_obj is not None:
        keys = {**keys, **{k: getattr(request_obj, g.attr) for k, g in _scalar_keys(request_spec, version).items()}}
    values: dict[str, Any] = {}
    for f in spec.fields:
        if not in_range(version, f.versions):
            continue
        if f.attr == "error_code" and f.type == "int16":
            values[f.attr] = int(error)
        elif f.attr == "error_message" and f.type == "string":
            values[f.attr] = message
        elif f.is_array and f.struct is not None and request_spec is not None and request_obj is not None:
            g = _counterpart(f, request_spec, version)
            entries = getattr(request_obj, g.attr) if g is not None else None
            if g is None or entries is None:
                continue
            sub = getattr(cls, f.struct.name)
            if g.struct is not None:
                values[f.attr] = [_build(f.struct, sub, g.struct, e, {}, version, error, message) for e in entries]
            else:
                key = _key_of(g)
                values[f.attr] = [_build(f.struct, sub, None, None, {key: e}, version, error, message) for e in entries]  # type: ignore[dict-item]
        elif not f.is_array and (k := _key_of(f)) in keys:
            values[f.attr] = keys[k]
    return cls(**values)


def _names(api: Api, version: int, body: Any, topic: str, topic_id: uuid.UUID | None, partition: int | None) -> bool:
    """Whether a request body names `topic` (by name or id), and `partition` of it if given."""

    def walk(spec: StructSpec, obj: Any, in_topic: bool) -> bool:
        keys = _scalar_keys(spec, version)
        if "topic" in keys or "topic_id" in keys:
            name = getattr(obj, keys["topic"].attr) if "topic" in keys else None
            tid = getattr(obj, keys["topic_id"].attr) if "topic_id" in keys else None
            in_topic = name == topic or (topic_id is not None and tid == topic_id)
            if in_topic and partition is None:
                return True
        if in_topic and partition is not None and "partition" in keys and getattr(obj, keys["partition"].attr) == partition:
            return True
        for f in spec.fields:
            if not f.is_array or not in_range(version, f.versions):
                continue
            entries = getattr(obj, f.attr) or []
            if f.struct is not None:
                if any(walk(f.struct, e, in_topic) for e in entries):
                    return True
            elif _key_of(f) == "topic" and topic in entries and partition is None:
                return True
            elif _key_of(f) == "partition" and in_topic and partition in entries:
                return True
        return False

    return walk(api.request.spec.root, body, False)
