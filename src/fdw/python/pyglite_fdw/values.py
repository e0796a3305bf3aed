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
