"""Python results -> PostgreSQL values, by PL/Python's rules (plpy_typeio.c).

A converter turns the value a procedure returned into a codec byte string that the engine decodes
(src/plpython/codec.ts, tags in native/pyglite.h) and feeds to the result type's input function.
Common scalar results never come here: the native addon converts them directly.
"""

import struct

T_NONE = 0
T_FALSE = 1
T_TRUE = 2
T_INT64 = 4
T_FLOAT64 = 5
T_STR = 6
T_BYTES = 7

_u32 = struct.Struct("<I").pack

# procedure id -> metadata used by the error formatter (name, munged source)
procedures = {}


def register_procedure(pid, meta, source):
    procedures[pid] = {"name": meta["name"], "source": source, "kind": meta.get("kind", "function")}


class ConversionError(Exception):
    """A PL/Python conversion failure reported with a SQLSTATE (e.g. 22P02 for bad input)."""

    def __init__(self, message, sqlstate="XX000", detail=None):
        super().__init__(message)
        self.sqlstate = sqlstate
        self.detail = detail


def to_cstring(value):
    """PLyObject_AsString: str(), repr() for floats, the bytes as they are; NUL bytes are rejected."""
    if isinstance(value, str):
        s = value
    elif isinstance(value, float):
        s = repr(value)
    elif isinstance(value, bytes):
        s = value.decode("utf-8")
    else:
        s = str(value)
    if "\x00" in s:
        raise ConversionError(
            "could not convert Python object into cstring: Python string representation appears to contain null bytes",
            "42804",
        )
    return s


def encode_text(value):
    b = to_cstring(value).encode("utf-8")
    return bytes([T_STR]) + _u32(len(b)) + b


def _void(value):
    if value is not None:
        raise ConversionError('PL/Python function with return type "void" did not return None', "42804")
    return bytes([T_NONE])


def _bool(value):
    return bytes([T_TRUE if value else T_FALSE])


def _bytea(value):
    b = bytes(value) if not isinstance(value, str) else value.encode("utf-8")
    return bytes([T_BYTES]) + _u32(len(b)) + b


def result_converter(desc):
    """The converter for a result descriptor from the engine's catalog code."""
    kind = desc.get("kind", "scalar")
    if kind == "void":
        return _void
    if kind == "bool":
        return _bool
    if kind == "bytea":
        return _bytea
    return encode_text
