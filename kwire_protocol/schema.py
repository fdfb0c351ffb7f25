"""Kafka's JSON message schemas, loaded into a small typed model.

The schemas are Apache Kafka's own (`clients/src/main/resources/common/
message/*.json`). kafka-python 3.x ships them as package data, and that copy
is the source of every message layout here: nothing is hand-written per
version. Where Apache Kafka 4.4 has a message or version that kafka-python's
copy lacks, `kwire_protocol/schemas/` holds the schema facts (fields, types,
versions; no prose) in the same JSON form, and a file there replaces the
packaged one of the same name. docs/protocol.md lists them.

A schema file is JSON with `//` comments. Its tree of fields becomes
`StructSpec`s of `FieldSpec`s; versions are kept as inclusive ranges.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path
from typing import Any

OVERLAY_SCHEMAS = Path(__file__).parent / "schemas"

NO_VERSIONS = (1, 0)  # an empty range: lo > hi


def parse_versions(text: str | None) -> tuple[int, int]:
    """'3+' -> (3, 32767); '0-2' -> (0, 2); '5' -> (5, 5); 'none' -> empty."""
    if text is None or text == "none":
        return NO_VERSIONS
    if text.endswith("+"):
        return int(text[:-1]), 0x7FFF
    if "-" in text:
        lo, hi = text.split("-")
        return int(lo), int(hi)
    return int(text), int(text)


def in_range(version: int, versions: tuple[int, int]) -> bool:
    return versions[0] <= version <= versions[1]


_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def snake_case(name: str) -> str:
    """'ThrottleTimeMs' -> 'throttle_time_ms', 'IsrNodes' -> 'isr_nodes'."""
    return _CAMEL_BOUNDARY.sub("_", name).lower()


PRIMITIVE_TYPES = frozenset(
    {"bool", "int8", "int16", "uint16", "int32", "uint32", "int64", "float64", "string", "bytes", "uuid", "records"}
)


@dataclass
class FieldSpec:
    name: str
    attr: str
    type: str  # a primitive, a struct name, or '[]' + either
    versions: tuple[int, int]
    nullable_versions: tuple[int, int]
    tagged_versions: tuple[int, int]
    tag: int | None
    # Field-level override of the message's flexible versions (RequestHeader's
    # ClientId stays a non-compact string in header v2).
    flexible_versions: tuple[int, int] | None
    default: Any  # raw default from the schema (None when absent)
    ignorable: bool
    struct: StructSpec | None = None
    # What the field names, when it names something ('topicName', 'groupId',
    # 'transactionalId', 'brokerId', ...), and whether it keys its array.
    entity_type: str | None = None
    map_key: bool = False

    @property
    def is_array(self) -> bool:
        return self.type.startswith("[]")

    @property
    def element_type(self) -> str:
        return self.type[2:] if self.is_array else self.type


@dataclass
class StructSpec:
    name: str
    fields: list[FieldSpec] = field(default_factory=list)


@dataclass
class MessageSpec:
    name: str
    api_key: int | None
    type: str  # 'request', 'response', 'header', 'data'
    valid_versions: tuple[int, int]
    flexible_versions: tuple[int, int]
    latest_version_unstable: bool
    root: StructSpec
    listeners: tuple[str, ...] = ()


_STRING_OR_COMMENT = re.compile(r'"(?:\\.|[^"\\])*"|//[^\n]*')


def strip_comments(text: str) -> str:
    """Remove // comments outside JSON strings (the schemas are JSON with comments).

    Kafka's schemas put comments on lines of their own; those lines are
    dropped (kept empty, so JSON errors keep their line numbers) without a
    regular expression, which halves the schema load at import. Any other
    line holding "//" goes through the string-aware expression.
    """
    lines = text.split("\n")
    for number, line in enumerate(lines):
        if "//" in line:
            lines[number] = "" if line.lstrip().startswith("//") else _STRING_OR_COMMENT.sub(_keep_strings, line)
    return "\n".join(lines)


def _keep_strings(match: re.Match[str]) -> str:
    text = match.group(0)
    return "" if text.startswith("//") else text


def _build_struct(name: str, raw_fields: list[dict], common: dict[str, list[dict]]) -> StructSpec:
    spec = StructSpec(name)
    for raw in raw_fields:
        ftype = raw["type"]
        element = ftype[2:] if ftype.startswith("[]") else ftype
        struct = None
        if element not in PRIMITIVE_TYPES:
            sub_fields = raw.get("fields")
            if sub_fields is None:
                if element not in common:
                    raise ValueError(f"schema struct {element} has no fields and is not a common struct")
                sub_fields = common[element]
            struct = _build_struct(element, sub_fields, common)
        flexible = raw.get("flexibleVersions")
        spec.fields.append(
            FieldSpec(
                name=raw["name"],
                attr=snake_case(raw["name"]),
                type=ftype,
                versions=parse_versions(raw.get("versions")),
                nullable_versions=parse_versions(raw.get("nullableVersions")),
                tagged_versions=parse_versions(raw.get("taggedVersions")),
                tag=raw.get("tag"),
                flexible_versions=None if flexible is None else parse_versions(flexible),
                default=raw.get("default"),
                ignorable=bool(raw.get("ignorable", False)),
                struct=struct,
                entity_type=raw.get("entityType"),
                map_key=bool(raw.get("mapKey", False)),
            )
        )
    return spec


def parse_schema(text: str) -> MessageSpec:
    data = json.loads(strip_comments(text))
    common = {s["name"]: s["fields"] for s in data.get("commonStructs", [])}
    return MessageSpec(
        name=data["name"],
        api_key=data.get("apiKey"),
        type=data["type"],
        valid_versions=parse_versions(data.get("validVersions")),
        flexible_versions=parse_versions(data.get("flexibleVersions")),
        latest_version_unstable=bool(data.get("latestVersionUnstable", False)),
        root=_build_struct(data["name"], data.get("fields", []), common),
        listeners=tuple(data.get("listeners", ())),
    )


def packaged_schemas() -> Path:
    """kafka-python's copy of the schemas, found without importing the kafka
    package (whose import pulls in its whole client, ~70 ms of start-up)."""
    spec = find_spec("kafka")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("kafka-python 3.x is required: its package data holds Kafka's message schemas")
    return Path(spec.submodule_search_locations[0]) / "protocol" / "schemas" / "resources"


def schema_texts() -> dict[str, str]:
    """Schema name -> JSON text; kwire's overlay files replace packaged ones of the same name."""
    texts: dict[str, str] = {}
    for directory in (packaged_schemas(), OVERLAY_SCHEMAS):
        for path in sorted(directory.glob("*.json")):
            texts[path.stem] = path.read_text(encoding="utf-8")
    return texts


def load_schemas() -> dict[str, MessageSpec]:
    return {name: parse_schema(text) for name, text in schema_texts().items()}
