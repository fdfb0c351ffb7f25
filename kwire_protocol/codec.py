"""The table-driven codec: message classes and per-version encoders/decoders.

Theory of operation. Each schema struct becomes a plain Python class (slots,
keyword constructor, equality, repr) holding the union of its fields over all
versions under snake_case names. For a (struct, version) pair the codec
compiles, once and lazily, a list of field readers and writers from the
schema: fields absent in that version get their defaults on decode and are
left out on encode; fields tagged in that version travel in the tagged-field
section (KIP-482), written only when they differ from their defaults. So one
small interpreter serves every API at every version, and there is no
per-version layout anywhere in the source.

Encoding produces chunks rather than one buffer so that record data
(Fetch responses) can be passed through without copying: a `records` value
may be bytes, a memoryview, a `FileRegion` (bytes of an open file that the
broker sends with sendfile), or a list of those.

Errors: bytes that do not decode raise ProtocolError (the peer's fault);
values that cannot be encoded raise ValueError (ours).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from kwire_protocol.errors import ProtocolError
from kwire_protocol.primitives import (
    FLOAT64,
    INT8,
    INT16,
    INT32,
    INT64,
    UINT16,
    UINT32,
    ZERO_UUID,
    Reader,
    write_bytes,
    write_length,
    write_string,
    write_uvarint,
)
from kwire_protocol.schema import FieldSpec, MessageSpec, StructSpec, in_range

# Record data above this size is passed through as its own chunk, not copied.
_RECORDS_INLINE_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class FileRegion:
    """`size` bytes of an open file starting at `position`, to be sent with sendfile."""

    file: Any  # a file descriptor, or an object holding one (`fd` or `fileno()`) that keeps it open
    position: int
    size: int

    def __len__(self) -> int:
        return self.size


Chunk = bytes | bytearray | memoryview | FileRegion


class Output:
    """Where an encoder writes: a growing buffer plus pass-through chunks."""

    __slots__ = ("buf", "chunks")

    def __init__(self) -> None:
        self.buf = bytearray()
        self.chunks: list[Chunk] = []

    def pass_through(self, chunk: Chunk) -> None:
        if self.buf:
            self.chunks.append(self.buf)
            self.buf = bytearray()
        self.chunks.append(chunk)

    def result(self) -> list[Chunk]:
        if self.buf:
            self.chunks.append(self.buf)
            self.buf = bytearray()
        return self.chunks


class Struct:
    """Base of every generated message class."""

    __slots__ = ()
    _attrs: tuple[str, ...] = ()
    _defaults: dict[str, Callable[[], Any]] = {}
    _values: Callable[[Any], tuple] = staticmethod(lambda obj: ())  # type: ignore[assignment]

    def __init__(self, **fields: Any) -> None:
        defaults = self._defaults
        for attr in self._attrs:
            if attr in fields:
                object.__setattr__(self, attr, fields.pop(attr))
            else:
                object.__setattr__(self, attr, defaults[attr]())
        self.unknown_tagged_fields: dict[int, bytes] | None = fields.pop("unknown_tagged_fields", None)
        if fields:
            raise TypeError(f"{type(self).__name__} has no field(s) {', '.join(sorted(fields))}")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values(self) == self._values(other) and (
            (self.unknown_tagged_fields or None) == (other.unknown_tagged_fields or None)  # type: ignore[attr-defined]
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        inner = ", ".join(f"{a}={getattr(self, a)!r}" for a in self._attrs)
        return f"{type(self).__name__}({inner})"

    def to_dict(self) -> dict[str, Any]:
        """Plain data (lists and dicts) for diffs and JSON output."""
        return {a: _plain(getattr(self, a)) for a in self._attrs}


def _plain(value: Any) -> Any:
    if isinstance(value, Struct):
        return value.to_dict()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, memoryview):
        return bytes(value)
    return value


# --- defaults -----------------------------------------------------------------

_INT_TYPES = {"int8", "int16", "uint16", "int32", "uint32", "int64"}


def _parse_int(raw: Any) -> int:
    if raw is None or raw == "":
        return 0
    if isinstance(raw, int):
        return raw
    text = str(raw).strip()
    if text.lower().startswith(("0x", "-0x")):
        return int(text, 16)
    return int(text)


def default_factory(f: FieldSpec, struct_class: Callable[[], Any] | None) -> Callable[[], Any]:
    raw = f.default
    if f.is_array:
        if raw == "null":
            return lambda: None
        return list
    t = f.type
    if struct_class is not None:
        if raw == "null":
            return lambda: None
        return struct_class
    if t in _INT_TYPES:
        value = _parse_int(raw)
    elif t == "bool":
        value = raw is True or str(raw).lower() == "true"
    elif t == "float64":
        value = float(raw) if raw not in (None, "") else 0.0
    elif t == "string":
        value = None if raw == "null" else (raw or "")
    elif t == "bytes":
        value = None if raw == "null" else b""
    elif t == "records":
        value = None
    elif t == "uuid":
        value = ZERO_UUID
    else:
        raise ValueError(f"unknown schema type {t}")
    return lambda: value


# --- class generation ---------------------------------------------------------


def build_classes(message: MessageSpec) -> dict[str, type[Struct]]:
    """One class per struct name of the message (common structs are shared)."""
    classes: dict[str, type[Struct]] = {}

    def build(spec: StructSpec) -> type[Struct]:
        if spec.name in classes:
            return classes[spec.name]
        attrs = tuple(f.attr for f in spec.fields)
        namespace = {
            "__slots__": attrs + ("unknown_tagged_fields",),
            "_attrs": attrs,
            "_values": staticmethod(lambda obj, get=attrgetter(*attrs): (get(obj),) if len(attrs) == 1 else get(obj))
            if attrs
            else staticmethod(lambda obj: ()),
        }
        cls = type(spec.name, (Struct,), namespace)
        classes[spec.name] = cls
        defaults = {}
        for f in spec.fields:
            sub = build(f.struct) if f.struct is not None else None
            if sub is not None:
                setattr(cls, sub.__name__, sub)
            defaults[f.attr] = default_factory(f, sub)
        cls._defaults = defaults
        return cls

    build(message.root)
    return classes


# --- decoding -----------------------------------------------------------------

Decoder = Callable[[Reader], Any]
Encoder = Callable[[Output, Any], None]

_FIXED_READERS: dict[str, Decoder] = {
    "int8": Reader.int8,
    "int16": Reader.int16,
    "uint16": Reader.uint16,
    "int32": Reader.int32,
    "uint32": Reader.uint32,
    "int64": Reader.int64,
    "float64": Reader.float64,
    "bool": Reader.boolean,
    "uuid": Reader.uuid,
}

_FIXED_STRUCTS = {
    "int8": INT8,
    "int16": INT16,
    "uint16": UINT16,
    "int32": INT32,
    "uint32": UINT32,
    "int64": INT64,
    "float64": FLOAT64,
}


_FIXED_FORMATS = {"int8": "b", "int16": "h", "uint16": "H", "int32": "i", "uint32": "I", "int64": "q", "float64": "d", "bool": "?"}


def _fixed_group_reader(struct_name: str, types: list[str]) -> Decoder:
    s = struct.Struct(">" + "".join(_FIXED_FORMATS[t] for t in types))
    size = s.size
    unpack = s.unpack_from

    def read(r: Reader) -> tuple:
        pos = r.pos
        if size > r.end - pos:
            raise ProtocolError(f"{struct_name}: truncated at position {pos}, need {size} bytes, {r.end - pos} remain")
        r.pos = pos + size
        return unpack(r.buf, pos)

    return read


def _fixed_group_writer(struct_name: str, types: list[str]) -> Encoder:
    pack = struct.Struct(">" + "".join(_FIXED_FORMATS[t] for t in types)).pack

    def write(out: Output, values: tuple) -> None:
        try:
            out.buf += pack(*values)
        except struct.error as e:
            raise ValueError(f"{struct_name}: {values!r} do not fit {types}: {e}") from None

    return write


class Codec:
    """Compiles and caches the readers and writers of one message's structs."""

    def __init__(self, message: MessageSpec, classes: dict[str, type[Struct]]) -> None:
        self.message = message
        self.classes = classes
        self._decoders: dict[tuple[str, int, bool], Decoder] = {}
        self._encoders: dict[tuple[str, int, bool], Encoder] = {}

    def is_flexible(self, version: int) -> bool:
        return in_range(version, self.message.flexible_versions)

    def decoder(self, version: int) -> Decoder:
        return self._struct_decoder(self.message.root, version, self.is_flexible(version))

    def encoder(self, version: int) -> Encoder:
        return self._struct_encoder(self.message.root, version, self.is_flexible(version))

    @staticmethod
    def _regular_fields(spec: StructSpec, version: int, flexible: bool) -> list[list[FieldSpec]]:
        """The fields written in order in this version, runs of fixed-width
        scalars grouped so that one struct.pack/unpack handles each run."""
        groups: list[list[FieldSpec]] = []
        previous_fixed = False
        for f in spec.fields:
            if not in_range(version, f.versions) or (flexible and in_range(version, f.tagged_versions)):
                continue
            fixed = not f.is_array and f.struct is None and f.type in _FIXED_FORMATS
            if fixed and previous_fixed:
                groups[-1].append(f)
            else:
                groups.append([f])
            previous_fixed = fixed
        return groups

    # Decoders ---------------------------------------------------------------

    def _struct_decoder(self, spec: StructSpec, version: int, flexible: bool) -> Decoder:
        key = (spec.name, version, flexible)
        cached = self._decoders.get(key)
        if cached is not None:
            return cached
        cls = self.classes[spec.name]
        absent: list[tuple[str, Callable[[], Any]]] = []
        tagged: dict[int, tuple[str, Decoder]] = {}
        for f in spec.fields:
            if not in_range(version, f.versions):
                absent.append((f.attr, cls._defaults[f.attr]))
            elif flexible and in_range(version, f.tagged_versions):
                assert f.tag is not None
                tagged[f.tag] = (f.attr, self._field_decoder(f, version, True))
                absent.append((f.attr, cls._defaults[f.attr]))
        steps: list[tuple[str | tuple[str, ...], Decoder]] = []
        for group in self._regular_fields(spec, version, flexible):
            if len(group) > 1:
                steps.append((tuple(f.attr for f in group), _fixed_group_reader(spec.name, [f.type for f in group])))
            else:
                steps.append((group[0].attr, self._field_decoder(group[0], version, flexible)))
        new = object.__new__
        setattr_ = object.__setattr__
        struct_name = spec.name

        def decode(r: Reader) -> Any:
            obj = new(cls)
            for attrs, read in steps:
                if attrs.__class__ is str:
                    setattr_(obj, attrs, read(r))
                else:
                    for attr, value in zip(attrs, read(r)):
                        setattr_(obj, attr, value)
            for attr, make in absent:
                setattr_(obj, attr, make())
            unknown = None
            if flexible:
                count = r.uvarint()
                if count > r.remaining:
                    raise ProtocolError(f"{struct_name}: {count} tagged fields in {r.remaining} bytes")
                previous = -1
                for _ in range(count):
                    tag = r.uvarint()
                    if tag <= previous:
                        raise ProtocolError(f"{struct_name}: tagged field {tag} out of order")
                    previous = tag
                    size = r.uvarint()
                    body = r.raw(size, "tagged field")
                    known = tagged.get(tag)
                    if known is None:
                        if unknown is None:
                            unknown = {}
                        unknown[tag] = bytes(body)
                        continue
                    sub = Reader(r.buf, r.pos - size, r.pos)
                    value = known[1](sub)
                    if sub.remaining:
                        raise ProtocolError(f"{struct_name}: tagged field {tag} has {sub.remaining} extra bytes")
                    setattr_(obj, known[0], value)
            setattr_(obj, "unknown_tagged_fields", unknown)
            return obj

        self._decoders[key] = decode
        return decode

    def _field_decoder(self, f: FieldSpec, version: int, flexible: bool) -> Decoder:
        compact = flexible if f.flexible_versions is None else in_range(version, f.flexible_versions)
        nullable = in_range(version, f.nullable_versions)
        name = f.name
        if f.is_array:
            element = self._element_decoder(f, f.element_type, version, flexible, compact)

            def read_array(r: Reader) -> list | None:
                n = r.uvarint() - 1 if compact else r.int32()
                if n < 0:
                    if n == -1 and nullable:
                        return None
                    raise ProtocolError(f"field {name}: invalid array length {n}")
                if n > r.remaining:
                    raise ProtocolError(f"field {name}: {n} elements cannot fit in {r.remaining} bytes")
                return [element(r) for _ in range(n)]

            return read_array
        return self._element_decoder(f, f.type, version, flexible, compact)

    def _element_decoder(self, f: FieldSpec, t: str, version: int, flexible: bool, compact: bool) -> Decoder:
        name = f.name
        nullable = in_range(version, f.nullable_versions) and not f.is_array
        if f.struct is not None:
            decode_struct = self._struct_decoder(f.struct, version, flexible)
            if not nullable:
                return decode_struct

            def read_nullable_struct(r: Reader) -> Any:
                marker = r.int8()
                if marker < 0:
                    return None
                return decode_struct(r)

            return read_nullable_struct
        fixed = _FIXED_READERS.get(t)
        if fixed is not None:
            return fixed
        if t == "string":

            def read_string(r: Reader) -> str | None:
                value = r.string(compact)
                if value is None and not nullable:
                    raise ProtocolError(f"field {name}: null for a non-nullable string")
                return value

            return read_string
        if t in ("bytes", "records"):
            copy = t == "bytes"

            def read_bytes(r: Reader) -> bytes | memoryview | None:
                value = r.bytes_view(compact)
                if value is None:
                    if not nullable:
                        raise ProtocolError(f"field {name}: null for non-nullable bytes")
                    return None
                return bytes(value) if copy else value

            return read_bytes
        raise ValueError(f"unknown schema type {t}")

    # Encoders ---------------------------------------------------------------

    def _struct_encoder(self, spec: StructSpec, version: int, flexible: bool) -> Encoder:
        key = (spec.name, version, flexible)
        cached = self._encoders.get(key)
        if cached is not None:
            return cached
        cls = self.classes[spec.name]
        tagged: list[tuple[int, str, Encoder, Any]] = []
        for f in spec.fields:
            if flexible and in_range(version, f.versions) and in_range(version, f.tagged_versions):
                assert f.tag is not None
                tagged.append((f.tag, f.attr, self._field_encoder(f, version, True), cls._defaults[f.attr]()))
        tagged.sort(key=lambda t: t[0])
        steps: list[tuple[Callable[[Any], Any], Encoder]] = []
        for group in self._regular_fields(spec, version, flexible):
            if len(group) > 1:
                steps.append((attrgetter(*(f.attr for f in group)), _fixed_group_writer(spec.name, [f.type for f in group])))
            else:
                steps.append((attrgetter(group[0].attr), self._field_encoder(group[0], version, flexible)))

        def encode(out: Output, obj: Any) -> None:
            for get, write in steps:
                write(out, get(obj))
            if not flexible:
                return
            fields: list[tuple[int, bytes | bytearray]] = []
            for tag, attr, write, default in tagged:
                value = getattr(obj, attr)
                if value == default:
                    continue
                sub = Output()
                write(sub, value)
                if sub.chunks:
                    raise ValueError(f"{spec.name}.{attr}: a tagged field cannot carry pass-through records")
                fields.append((tag, sub.buf))
            unknown = obj.unknown_tagged_fields
            if unknown:
                fields.extend(unknown.items())
                fields.sort(key=lambda item: item[0])
            buf = out.buf
            write_uvarint(buf, len(fields))
            for tag, data in fields:
                write_uvarint(buf, tag)
                write_uvarint(buf, len(data))
                buf += data

        self._encoders[key] = encode
        return encode

    def _field_encoder(self, f: FieldSpec, version: int, flexible: bool) -> Encoder:
        compact = flexible if f.flexible_versions is None else in_range(version, f.flexible_versions)
        nullable = in_range(version, f.nullable_versions)
        name = f.name
        element = self._element_encoder(f, f.element_type, version, flexible, compact, nullable and not f.is_array)
        if not f.is_array:
            return element

        def write_array(out: Output, value: Sequence | None) -> None:
            if value is None:
                if not nullable:
                    raise ValueError(f"field {name}: null for a non-nullable array")
                write_length(out.buf, -1, compact)
                return
            write_length(out.buf, len(value), compact)
            for item in value:
                element(out, item)

        return write_array

    def _element_encoder(
        self, f: FieldSpec, t: str, version: int, flexible: bool, compact: bool, nullable: bool
    ) -> Encoder:
        name = f.name
        if f.struct is not None:
            encode_struct = self._struct_encoder(f.struct, version, flexible)
            if not nullable:

                def write_struct(out: Output, value: Any) -> None:
                    if value is None:
                        raise ValueError(f"field {name}: null for a non-nullable struct")
                    encode_struct(out, value)

                return write_struct

            def write_nullable_struct(out: Output, value: Any) -> None:
                if value is None:
                    out.buf.append(0xFF)
                    return
                out.buf.append(1)
                encode_struct(out, value)

            return write_nullable_struct
        packer = _FIXED_STRUCTS.get(t)
        if packer is not None:
            pack = packer.pack

            def write_fixed(out: Output, value: Any) -> None:
                try:
                    out.buf += pack(value)
                except struct.error as e:
                    raise ValueError(f"field {name}: {value!r} does not fit {t}: {e}") from None

            return write_fixed
        if t == "bool":
            return lambda out, value: out.buf.append(1 if value else 0)
        if t == "uuid":
            return lambda out, value: out.buf.extend(value.bytes)
        if t == "string":

            def write_str(out: Output, value: str | None) -> None:
                if value is None and not nullable:
                    raise ValueError(f"field {name}: null for a non-nullable string")
                write_string(out.buf, value, compact)

            return write_str
        if t == "bytes":

            def write_raw(out: Output, value: Any) -> None:
                if value is None and not nullable:
                    raise ValueError(f"field {name}: null for non-nullable bytes")
                write_bytes(out.buf, value, compact)

            return write_raw
        if t == "records":

            def write_records(out: Output, value: Any) -> None:
                if value is None:
                    write_length(out.buf, -1, compact)
                    return
                parts = value if isinstance(value, (list, tuple)) else (value,)
                write_length(out.buf, sum(len(p) for p in parts), compact)
                for part in parts:
                    if isinstance(part, FileRegion) or len(part) > _RECORDS_INLINE_LIMIT:
                        out.pass_through(part)
                    else:
                        out.buf += part

            return write_records
        raise ValueError(f"unknown schema type {t}")
