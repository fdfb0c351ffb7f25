"""Hypothesis strategies that build any schema message at any version.

Only fields present in the version get values; the rest keep their defaults,
which is exactly what a decode of that version yields, so
decode(encode(m, v), v) == m must hold for every generated m.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from kwire_protocol.codec import Struct
from kwire_protocol.messages import MessageType
from kwire_protocol.schema import FieldSpec, StructSpec, in_range

_INTS = {
    "int8": st.integers(-(2**7), 2**7 - 1),
    "int16": st.integers(-(2**15), 2**15 - 1),
    "uint16": st.integers(0, 2**16 - 1),
    "int32": st.integers(-(2**31), 2**31 - 1),
    "uint32": st.integers(0, 2**32 - 1),
    "int64": st.integers(-(2**63), 2**63 - 1),
}


def _scalar(t: str) -> st.SearchStrategy[Any]:
    if t in _INTS:
        return _INTS[t]
    if t == "bool":
        return st.booleans()
    if t == "float64":
        return st.floats(allow_nan=False)
    if t == "string":
        return st.text(max_size=12)
    if t in ("bytes", "records"):
        return st.binary(max_size=24)
    if t == "uuid":
        return st.uuids()
    raise ValueError(t)


def struct_strategy(mtype: MessageType, spec: StructSpec, version: int) -> st.SearchStrategy[Struct]:
    cls = mtype.codec.classes[spec.name]
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for f in spec.fields:
        if in_range(version, f.versions):
            fields[f.attr] = _field(mtype, f, version)
    return st.fixed_dictionaries(fields).map(lambda kw: cls(**kw))


def _field(mtype: MessageType, f: FieldSpec, version: int) -> st.SearchStrategy[Any]:
    nullable = in_range(version, f.nullable_versions)
    if f.struct is not None:
        element = st.deferred(lambda: struct_strategy(mtype, f.struct, version))  # type: ignore[arg-type]
    else:
        element = _scalar(f.element_type)
    if f.is_array:
        value = st.lists(element, max_size=2)
    else:
        value = element
    if nullable:
        value = st.one_of(st.none(), value)
    return value


def message_strategy(mtype: MessageType, version: int) -> st.SearchStrategy[Struct]:
    return struct_strategy(mtype, mtype.spec.root, version)
