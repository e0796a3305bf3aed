"""Values between PostgreSQL and a wrapper, in the JSON the engine exchanges with src/fdw.

from_pg: a value JS read from a Datum (numbers and booleans as JSON, anything else as the type's output
text) → the Python object multicorn2 hands a wrapper: int, float, Decimal, str, bool, date/datetime/time,
bytes, lists for arrays. The category `c` comes from src/fdw/values.ts (typeCategory).

to_pg: a value a wrapper returned → what JS stores: numbers/booleans/str for the column kinds JS builds
itself, otherwise the text the column type's input function reads (as multicorn2 converts most values).
"""

import datetime
import decimal
import json
from array import array


def _parse_array(s):
    """A PostgreSQL array literal ({1,2,"a b",NULL,{3,4}}) → nested lists of str/None."""
    pos = 0
    if s.startswith("["):  # explicit bounds: [1:2]={...}
        pos = s.index("=") + 1

    def parse(i):
        assert s[i] == "{"
        i += 1
        out = []
        if s[i] == "}":
            return out, i + 1
        while True:
            if s[i] == "{":
                v, i = parse(i)
                out.append(v)
            elif s[i] == '"':
                i += 1
                buf = []
                while s[i] != '"':
                    if s[i] == "\\":
                        i += 1
                    buf.append(s[i])
                    i += 1
                out.append("".join(buf))
                i += 1
            else:
                j = i
                while s[j] not in ",}":
                    j += 1
                tok = s[i:j].strip()
                out.append(None if tok.upper() == "NULL" else tok)
                i = j
            if s[i] == ",":
                i += 1
                continue
            return out, i + 1

    return parse(pos)[0]


def _timestamp(s):
    try:
        return datetime.datetime.fromisoformat(s)
    except ValueError:
        return s  # infinity, BC dates: the text


def _date(s):
    try:
        return datetime.date.fromisoformat(s)
    except ValueError:
        return s


def _time(s):
    try:
        return datetime.time.fromisoformat(s)
    except ValueError:
        return s


def _bytea(s):
    return bytes.fromhex(s[2:]) if s.startswith("\\x") else s.encode()


_SCALAR = {
    "i": int,
    "f": float,
    "n": decimal.Decimal,
    "d": _date,
    "ts": _timestamp,
    "tz": _timestamp,
    "tm": _time,
    "y": _bytea,
    "b": lambda s: s in ("t", "true", True),
}


def _convert(v, c):
    if v is None:
        return None
    if isinstance(v, str):
        f = _SCALAR.get(c)
        return f(v) if f is not None else v
    if c == "f" and type(v) is int:
        return float(v)  # JSON writes 2.0 as 2: a float column's value is a float (multicorn2: PyFloat)
    return v  # JSON number or boolean, already the right kind


def from_pg(v, c):
    if v is None:
        return None
    if c.startswith("a:"):
        ec = c[2:]

        def walk(x):
            return [walk(e) for e in x] if isinstance(x, list) else _convert(x, ec)

        return walk(_parse_array(v))
    return _convert(v, c)


_NATIVE = {"i": {int, type(None)}, "f": {float, type(None)}, "b": {bool, type(None)}, "t": {str, type(None)}}


def column_from_pg(col, c):
    """A column of values as from_pg makes them; numbers, booleans and text are already right in JSON."""
    ok = _NATIVE.get(c)
    if ok is not None and set(map(type, col)) <= ok:
        return col
    return [from_pg(v, c) for v in col]


# ------------------------------------------------------------------------------------------ to_pg

_MAX_EXACT = 1 << 53


def _quote_elem(x):
    if x is None:
        return "NULL"
    if isinstance(x, (list, tuple)):
        return _array_literal(x)
    t = _text(x)
    return '"' + t.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _array_literal(v):
    return "{" + ",".join(_quote_elem(x) for x in v) + "}"


def _text(v):
    """The text a type's input function reads for a Python value (multicorn2's conversions)."""
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (datetime.date, datetime.time)):
        return v.isoformat()
    if isinstance(v, (bytes, bytearray, memoryview)):
        return "\\x" + bytes(v).hex()
    if isinstance(v, dict):
        return json.dumps(v, default=str)
    if isinstance(v, (list, tuple)):
        return _array_literal(v)
    return str(v)


def _finite(x):
    return x is None or (x == x and x not in (_INF, -_INF))


_INF = float("inf")
_NONE = type(None)


def column_to_pg(col, k):
    """to_pg over a whole column; a column already of the kind's Python type is returned as it is."""
    types = set(map(type, col))
    if k == "t":
        if types <= {str, _NONE}:
            return col
    elif k == "i":
        if types <= {int, _NONE}:
            vals = [x for x in col if x is not None] if _NONE in types else col
            if not vals or (-_MAX_EXACT < min(vals) and max(vals) < _MAX_EXACT):
                return col
    elif k == "f":
        if types <= {float, _NONE} and all(map(_finite, col)):
            return col
    elif k == "b":
        if types <= {bool, _NONE}:
            return col
    return [to_pg(v, k) for v in col]


def pack(col, k):
    """A column for JS (src/fdw/scan.ts): ("i4"|"i8", int32/int64 bytes), ("f8", double bytes), ("b", one
    byte each), ("t", the UTF-8 of the values joined by NUL), or ("j", JSON of to_pg's values) when a
    value is NULL, of another type, out of range or contains a NUL."""
    types = set(map(type, col))
    try:
        if k == "t" and types == _STR:
            joined = "\x00".join(col)
            if joined.count("\x00") == len(col) - 1:
                # strict: a lone surrogate is multicorn2's UnicodeEncodeError, not bytes that are not UTF-8
                return ("t", joined.encode("utf-8"))
        elif k == "i" and types == _INT:
            try:
                return ("i4", array("i", col).tobytes())
            except OverflowError:
                return ("i8", array("q", col).tobytes())
        elif k == "f" and types <= _FLOAT:
            return ("f8", array("d", col).tobytes())
        elif k == "b" and types == _BOOL:
            return ("b", bytes(col))
    except OverflowError:
        pass
    out = json.dumps(column_to_pg(col, k), allow_nan=False, default=str, ensure_ascii=False)
    # JavaScript would turn a lone surrogate into U+FFFD; multicorn2 fails to encode it (UnicodeEncodeError)
    out.encode("utf-8")
    return ("j", out)


_STR = {str}
_INT = {int}
_FLOAT = {float} | {int}
_BOOL = {bool}


def to_pg(v, k):
    """k: 'i' integer types, 'f' float types, 'b' bool, 't' text, 'j' json/jsonb, 'a' arrays, 'g' other."""
    if v is None:
        return None
    t = type(v)
    if k == "t":
        return v if t is str else (bytes(v).decode() if t in (bytes, bytearray) else _text(v))
    if k == "i":
        return v if t is int and -_MAX_EXACT < v < _MAX_EXACT else _text(v)
    if k == "f":
        if t is float:
            return v if v == v and v not in (float("inf"), float("-inf")) else str(v)
        return v if t is int and -_MAX_EXACT < v < _MAX_EXACT else _text(v)
    if k == "b":
        return v if t is bool else _text(v)
    if k == "j":
        return v if t is str else json.dumps(v, default=str)
    return _text(v)
