"""A small Kafka wire codec for the tests: enough of the protocol's types
(ints, strings, arrays, nullable and compact forms, empty tagged fields) to
build any request the clients here cannot send and to parse its response
strictly (every byte accounted for).

A schema is a list of (name, type); a type is one of the strings below or
("array", schema | type), ("narray", …) for a nullable array. `flexible`
selects the compact encodings and tagged-field sections (KIP-482).
"""

from __future__ import annotations

import socket
import struct

from conftest import read_frame

INTS = {"i8": ">b", "i16": ">h", "i32": ">i", "i64": ">q", "bool": ">?", "f64": ">d"}


def _uvarint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _read_uvarint(buf: bytes, pos: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7


def encode(schema, value: dict, flexible: bool) -> bytes:
    out = b""
    for name, typ in schema:
        out += _encode_one(typ, value[name], flexible)
    if flexible:
        out += b"\x00"
    return out


def _encode_one(typ, v, flexible: bool) -> bytes:
    if isinstance(typ, tuple):
        kind, inner = typ
        if v is None:
            assert kind == "narray"
            return b"\x00" if flexible else struct.pack(">i", -1)
        n = _uvarint(len(v) + 1) if flexible else struct.pack(">i", len(v))
        for item in v:
            n += encode(inner, item, flexible) if isinstance(inner, list) else _encode_one(inner, item, flexible)
        return n
    if typ in INTS:
        return struct.pack(INTS[typ], v)
    if typ in ("str", "nstr"):
        if v is None:
            assert typ == "nstr"
            return b"\x00" if flexible else struct.pack(">h", -1)
        b = v.encode()
        return (_uvarint(len(b) + 1) if flexible else struct.pack(">h", len(b))) + b
    raise ValueError(typ)


def decode(schema, buf: bytes, pos: int, flexible: bool) -> tuple[dict, int]:
    out = {}
    for name, typ in schema:
        out[name], pos = _decode_one(typ, buf, pos, flexible)
    if flexible:
        pos = _skip_tags(buf, pos)
    return out, pos


def _skip_tags(buf: bytes, pos: int) -> int:
    n, pos = _read_uvarint(buf, pos)
    for _ in range(n):
        _tag, pos = _read_uvarint(buf, pos)
        size, pos = _read_uvarint(buf, pos)
        pos += size
    return pos


def _decode_one(typ, buf: bytes, pos: int, flexible: bool):
    if isinstance(typ, tuple):
        _kind, inner = typ
        if flexible:
            n, pos = _read_uvarint(buf, pos)
            n -= 1
        else:
            (n,) = struct.unpack_from(">i", buf, pos)
            pos += 4
        if n < 0:
            return None, pos
        items = []
        for _ in range(n):
            if isinstance(inner, list):
                item, pos = decode(inner, buf, pos, flexible)
            else:
                item, pos = _decode_one(inner, buf, pos, flexible)
            items.append(item)
        return items, pos
    if typ in INTS:
        (v,) = struct.unpack_from(INTS[typ], buf, pos)
        return v, pos + struct.calcsize(INTS[typ])
    if typ in ("str", "nstr"):
        if flexible:
            n, pos = _read_uvarint(buf, pos)
            n -= 1
        else:
            (n,) = struct.unpack_from(">h", buf, pos)
            pos += 2
        if n < 0:
            return None, pos
        return buf[pos:pos + n].decode(), pos + n
    raise ValueError(typ)


def call(bootstrap: str, api_key: int, version: int, req_schema, req: dict, resp_schema,
         flexible: bool, timeout: float = 10.0, correlation_id: int = 77) -> dict:
    """One request on a fresh connection; returns the decoded response body."""
    host, port = bootstrap.rsplit(":", 1)
    header = struct.pack(">hhih", api_key, version, correlation_id, len(b"wire-test")) + b"wire-test"
    if flexible:
        header += b"\x00"
    payload = header + encode(req_schema, req, flexible)
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.settimeout(timeout)
        s.sendall(struct.pack(">i", len(payload)) + payload)
        frame = read_frame(s)
    (cid,) = struct.unpack_from(">i", frame, 0)
    assert cid == correlation_id
    pos = 4
    if flexible:
        pos = _skip_tags(frame, pos)
    body, pos = decode(resp_schema, frame, pos, flexible)
    assert pos == len(frame), f"api {api_key} v{version}: parsed {pos} of {len(frame)} bytes"
    return body
