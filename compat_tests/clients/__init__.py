"""Client adapters: one small, common interface over each real client.

Every adapter is bound to one bootstrap address and offers the same
methods (see `Adapter`); values cross the interface as JSON-able data so
that a scenario's observable result can be written and compared as is:
keys, values and header values as `str` (UTF-8) or None, errors as Kafka's
error names (`UNKNOWN_TOPIC_OR_PARTITION`) whatever exception the client
raised. A method a client cannot express raises `Unsupported`, which the
runner reports as "n/a" rather than skipping.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from typing import Any

from compat_tests.clients.base import Adapter, ClientError, Unsupported

__all__ = ["ADAPTERS", "Adapter", "ClientError", "Unsupported", "available", "make"]


def _python(name: str) -> Callable[[str], Adapter]:
    def make_adapter(bootstrap: str) -> Adapter:
        from compat_tests.clients import python_clients
        return python_clients.ADAPTERS[name](bootstrap)
    return make_adapter


def _java(bootstrap: str) -> Adapter:
    from compat_tests.clients.java import JavaAdapter
    return JavaAdapter(bootstrap)


def _kafkajs(bootstrap: str) -> Adapter:
    from compat_tests.clients.kafkajs import KafkajsAdapter
    return KafkajsAdapter(bootstrap)


def _franz(bootstrap: str) -> Adapter:
    from compat_tests.clients.franz import FranzAdapter
    return FranzAdapter(bootstrap)


def _kafka_cli(bootstrap: str) -> Adapter:
    from compat_tests.clients.kafka_cli import KafkaCliAdapter
    return KafkaCliAdapter(bootstrap)


def _kcat(bootstrap: str) -> Adapter:
    from compat_tests.clients.kcat import KcatAdapter
    return KcatAdapter(bootstrap)


ADAPTERS: dict[str, Callable[[str], Adapter]] = {
    "kafka-python": _python("kafka-python"),
    "aiokafka": _python("aiokafka"),
    "confluent": _python("confluent"),
    "java": _java,
    "kcat": _kcat,
    "kafka-cli": _kafka_cli,
    "kafkajs": _kafkajs,
    "franz-go": _franz,
}


def available(name: str) -> str | None:
    """Why client `name` cannot run on this machine, or None."""
    if name == "java":
        missing = [tool for tool in ("java", "mvn") if shutil.which(tool) is None]
        return f"{' and '.join(missing)} not on PATH" if missing else None
    if name == "kafkajs":
        from compat_tests.clients.kafkajs import missing_tools
        return missing_tools()
    if name == "franz-go":
        return None if shutil.which("go") else "go is not on PATH"
    if name == "kafka-cli":
        from compat_tests.clients.kafka_cli import missing_tools as missing_cli_tools
        return missing_cli_tools()
    if name == "kcat":
        return None if (shutil.which("kcat") or shutil.which("kafkacat")) else "kcat is not installed"
    return None


def make(name: str, bootstrap: str) -> Any:
    return ADAPTERS[name](bootstrap)
