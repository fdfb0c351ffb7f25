"""Topic names: Kafka's rules for legal names and internal topics.

Kafka (`org.apache.kafka.common.internals.Topic`): at most 249 characters of
[a-zA-Z0-9._-], not "." or "..". Names that differ only by '.' vs '_'
collide in metric names, so a topic colliding with an existing one is
refused (INVALID_TOPIC_EXCEPTION) like any invalid name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MAX_NAME_LENGTH = 249
_LEGAL = re.compile(r"[a-zA-Z0-9._-]+")

GROUP_METADATA_TOPIC = "__consumer_offsets"
TRANSACTION_STATE_TOPIC = "__transaction_state"
INTERNAL_TOPICS = frozenset({GROUP_METADATA_TOPIC, TRANSACTION_STATE_TOPIC})


def invalid_topic_reason(name: str | None) -> str | None:
    """Why `name` cannot be a topic name, or None when it can.

    The messages are those of Kafka 4.x's controller (checked against
    Apache Kafka 4.4 CreateTopics answers), not the older Topic.validate ones.
    """
    if not name:
        return "Topic name is invalid: the empty string is not allowed"
    if name in (".", ".."):
        return f"Topic name is invalid: '{name}' is not allowed"
    if len(name) > MAX_NAME_LENGTH:
        return f"Topic name is invalid: the length of '{name}' is longer than the max allowed length {MAX_NAME_LENGTH}"
    if not _LEGAL.fullmatch(name):
        return f"Topic name is invalid: '{name}' contains one or more characters other than ASCII alphanumerics, '.', '_' and '-'"
    return None


def is_internal(name: str) -> bool:
    return name in INTERNAL_TOPICS


def colliding_topic(name: str, existing: Iterable[str]) -> str | None:
    """An existing topic whose name equals `name` once '.' and '_' are unified."""
    if "." not in name and "_" not in name:
        return None
    key = name.replace(".", "_")
    for other in existing:
        if other != name and other.replace(".", "_") == key:
            return other
    return None
