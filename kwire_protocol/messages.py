"""Every Kafka API's request and response types, derived from the schemas.

`APIS` maps an api key to an `Api` holding its request and response
`MessageType`s. A MessageType knows its versions, builds its message class
(`messages.ProduceRequest`, with nested struct classes as attributes, e.g.
`ProduceRequest.TopicProduceData`), and encodes/decodes any version.

Which versions kwire *serves* is the broker's decision (its handler
registry); this module can speak every version the schemas define.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from kwire_protocol.codec import Chunk, Codec, Output, Struct, build_classes
from kwire_protocol.errors import ProtocolError
from kwire_protocol.primitives import Reader
from kwire_protocol.schema import MessageSpec, in_range, load_schemas, snake_case


class MessageType:
    """One schema message: its class and its codec over all valid versions."""

    def __init__(self, spec: MessageSpec) -> None:
        self.spec = spec
        self.name = spec.name
        classes = build_classes(spec)
        self.cls: type[Struct] = classes[spec.name]
        self.codec = Codec(spec, classes)

    @property
    def min_version(self) -> int:
        return self.spec.valid_versions[0]

    @property
    def max_version(self) -> int:
        return self.spec.valid_versions[1]

    def has_version(self, version: int) -> bool:
        return in_range(version, self.spec.valid_versions)

    def is_flexible(self, version: int) -> bool:
        return self.codec.is_flexible(version)

    def _check_version(self, version: int) -> None:
        if not self.has_version(version):
            raise UnsupportedVersionError(
                f"{self.name} v{version} is not defined (valid {self.min_version}-{self.max_version})"
            )

    def decode(self, data: bytes | bytearray | memoryview | Reader, version: int) -> Any:
        """Decode a whole message body; bytes left over are an error."""
        self._check_version(version)
        reader = data if isinstance(data, Reader) else Reader(data)
        message = self.codec.decoder(version)(reader)
        if reader.remaining:
            raise ProtocolError(f"{self.name} v{version}: {reader.remaining} unexpected bytes after the message")
        return message

    def encode_into(self, out: Output, message: Any, version: int) -> None:
        self._check_version(version)
        if type(message) is not self.cls:
            raise TypeError(f"expected a {self.name}, got {type(message).__name__}")
        self.codec.encoder(version)(out, message)

    def encode_chunks(self, message: Any, version: int) -> list[Chunk]:
        out = Output()
        self.encode_into(out, message, version)
        return out.result()

    def encode(self, message: Any, version: int) -> bytes:
        """Encode to one bytes object (record data, if any, must be in memory)."""
        return b"".join(bytes(c) if not isinstance(c, (bytes, bytearray, memoryview)) else c for c in self.encode_chunks(message, version))

    def __call__(self, **fields: Any) -> Any:
        return self.cls(**fields)

    def __repr__(self) -> str:
        return f"MessageType({self.name}, v{self.min_version}-{self.max_version})"


class UnsupportedVersionError(ProtocolError):
    """A request names an api key or version that is not defined or not served."""


@dataclass(frozen=True)
class Api:
    key: int
    name: str  # e.g. 'Produce'
    request: MessageType
    response: MessageType

    @property
    def min_version(self) -> int:
        return self.request.min_version

    @property
    def max_version(self) -> int:
        return self.request.max_version

    @property
    def latest_version_unstable(self) -> bool:
        return self.request.spec.latest_version_unstable

    @cached_property
    def max_stable_version(self) -> int:
        """The newest version Apache Kafka serves by default (unstable versions are off)."""
        return self.max_version - 1 if self.latest_version_unstable else self.max_version

    @property
    def listeners(self) -> tuple[str, ...]:
        return self.request.spec.listeners

    def request_header_version(self, version: int) -> int:
        return 2 if self.request.is_flexible(version) else 1

    def response_header_version(self, version: int) -> int:
        # KIP-511: ApiVersions responses always use header v0, so that a client
        # that sent a version the broker does not know can still read the reply.
        if self.key == ApiKey.API_VERSIONS:
            return 0
        return 1 if self.response.is_flexible(version) else 0


def _load() -> tuple[dict[str, MessageType], dict[int, Api]]:
    specs = load_schemas()
    types = {name: MessageType(spec) for name, spec in specs.items()}
    apis: dict[int, Api] = {}
    for name, mtype in types.items():
        if mtype.spec.type != "request" or mtype.spec.api_key is None:
            continue
        base = name[: -len("Request")]
        response = types.get(base + "Response")
        if response is None:
            raise RuntimeError(f"schema {name} has no matching response")
        apis[mtype.spec.api_key] = Api(mtype.spec.api_key, base, mtype, response)
    return types, dict(sorted(apis.items()))


MESSAGE_TYPES, APIS = _load()

ApiKey = enum.IntEnum(  # type: ignore[misc]
    "ApiKey",
    {snake_case(api.name).upper(): key for key, api in APIS.items()},
)
ApiKey.__doc__ = "Api keys by Kafka's names: ApiKey.PRODUCE == 0, ApiKey.API_VERSIONS == 18."

RequestHeader = MESSAGE_TYPES["RequestHeader"]
ResponseHeader = MESSAGE_TYPES["ResponseHeader"]


def api(key: int) -> Api:
    try:
        return APIS[key]
    except KeyError:
        raise UnsupportedVersionError(f"unknown api key {key}") from None


def __getattr__(name: str) -> MessageType:
    """`messages.ProduceRequest` etc.: every schema message by its name."""
    try:
        return MESSAGE_TYPES[name]
    except KeyError:
        raise AttributeError(name) from None
