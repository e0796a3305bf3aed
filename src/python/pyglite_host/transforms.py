"""TRANSFORM FOR TYPE, TO SQL: Python values -> the text form of hstore and jsonb, as contrib/hstore_plpython
(plpython_to_hstore) and contrib/jsonb_plpython (PLyObject_ToJsonbValue) build those values, with their
errors. The engine gives the text to the type's input function (native/call/convert.c N_TRANSFORM). The
FROM SQL halves are in src/python/transforms.ts. numpy_plpython3u's arrays go to ndarrays.to_sql, whose
("ndarray", dims, data, bitmap) the engine lays out as the array without a text form.

to_sql returns the text, or ("error", message, sqlstate, cause): with a cause (an exception carrying no
frame of this module), the error is reported as PLy_elog reports a pending Python error (detail and
traceback); without one, as a plain ereport.
"""

import decimal
import json
import re

from . import ndarrays


class _Fail(Exception):
    def __init__(self, message, sqlstate, cause=None):
        super().__init__(message)
        self.message = message
        self.sqlstate = sqlstate
        self.cause = cause


def _own_frames_dropped(e):
    """The exception as C would have seen it: raised by the object's method, not through this module."""
    tb = e.__traceback__
    while tb is not None and tb.tb_frame.f_globals.get("__name__") == __name__:
        tb = tb.tb_next
    return e.with_traceback(tb)


def _as_string(v):
    """PLyObject_AsString: str as is, repr() of floats, str() of the rest; C strings end at a NUL."""
    if isinstance(v, str):
        s = v
    elif isinstance(v, float):
        s = repr(v)
    else:
        s = str(v)
    z = s.find("\0")
    return s if z < 0 else s[:z]


def _is_sequence(o):
    """PySequence_Check: not a dict, and the type has __getitem__."""
    return not isinstance(o, dict) and hasattr(type(o), "__getitem__")


def _is_mapping(o):
    """PyMapping_Check: the type has __getitem__."""
    return hasattr(type(o), "__getitem__")


def _items(o):
    """PyMapping_Items: dict.items of a plain dict, else list(o.items())."""
    return list(dict.items(o)) if type(o) is dict else list(o.items())


# ------------------------------------------------------------------ hstore


def _hstore_quote(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _to_hstore(obj):
    if _is_sequence(obj) or not _is_mapping(obj):
        raise _Fail("not a Python mapping", "42809")
    try:
        n = len(obj)
    except Exception:  # noqa: BLE001 - ereport without the Python error, as plpython_to_hstore
        raise _Fail("could not get size of Python mapping", "42804") from None
    try:
        items = _items(obj)
    except Exception:  # noqa: BLE001
        raise _Fail("could not get items from Python mapping", "42804") from None
    parts = []
    for i in range(n):
        item = items[i] if i < len(items) else None
        if not isinstance(item, tuple) or len(item) < 2:
            raise _Fail("items() of a Python mapping must return key/value pairs", "42804")
        k, v = item[0], item[1]
        parts.append(_hstore_quote(_as_string(k)) + "=>" + ("NULL" if v is None else _hstore_quote(_as_string(v))))
    return ", ".join(parts)


# ------------------------------------------------------------------ jsonb

_NUMERIC = re.compile(r"\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*\Z")
_NAN = ("nan", "+nan", "-nan")
_INF = ("inf", "+inf", "-inf", "infinity", "+infinity", "-infinity")


def _jsonb_number(obj):
    s = _as_string(obj)
    t = s.strip().lower()
    if t in _NAN:
        raise _Fail("cannot convert NaN to jsonb", "22003")
    if t in _INF:
        raise _Fail("cannot convert infinity to jsonb", "22003")
    if not _NUMERIC.match(s):
        raise _Fail('could not convert value "%s" to jsonb' % s, "42804")
    return str(decimal.Decimal(s.strip()))


def _jsonb(obj, out, depth):
    if depth > 1000:
        raise _Fail("stack depth limit exceeded", "54001")
    if not isinstance(obj, str):
        if _is_sequence(obj):
            try:
                n = len(obj)
            except Exception:  # noqa: BLE001 - PySequence_Size's failure is not checked there
                n = 0
            out.append("[")
            for i in range(n):
                try:
                    v = obj[i]
                except Exception as e:  # noqa: BLE001
                    raise _Fail("could not get element %d from sequence" % i, "38000", _own_frames_dropped(e)) from None
                if i:
                    out.append(", ")
                _jsonb(v, out, depth + 1)
            out.append("]")
            return
        if _is_mapping(obj):
            try:
                n = len(obj)
            except Exception as e:  # noqa: BLE001
                raise _Fail("could not get size of Python mapping", "38000", _own_frames_dropped(e)) from None
            try:
                items = _items(obj)
            except Exception as e:  # noqa: BLE001
                raise _Fail("could not get items from Python mapping", "38000", _own_frames_dropped(e)) from None
            out.append("{")
            for i in range(n):
                if i >= len(items):
                    # PyList_GetItem's IndexError is pending (it has no traceback)
                    msg = "items() of a Python mapping must return key/value pairs"
                    raise _Fail(msg, "38000", IndexError("list index out of range"))
                item = items[i]
                if not isinstance(item, tuple) or len(item) < 2:
                    raise _Fail("items() of a Python mapping must return key/value pairs", "38000")
                k, v = item[0], item[1]
                if i:
                    out.append(", ")
                out.append(json.dumps("" if k is None else _as_string(k), ensure_ascii=False))
                out.append(": ")
                _jsonb(v, out, depth + 1)
            out.append("}")
            return
    if obj is None:
        out.append("null")
    elif isinstance(obj, str):
        out.append(json.dumps(_as_string(obj), ensure_ascii=False))
    elif isinstance(obj, bool):
        out.append("true" if obj else "false")
    elif _is_number(obj):
        out.append(_jsonb_number(obj))
    else:
        raise _Fail('Python type "%s" cannot be transformed to jsonb' % _as_string(type(obj)), "0A000")


def _is_number(o):
    """PyNumber_Check: __index__, __int__ or __float__, or a complex."""
    t = type(o)
    return isinstance(o, complex) or any(hasattr(t, m) for m in ("__index__", "__int__", "__float__"))


def _to_jsonb(obj):
    out = []
    _jsonb(obj, out, 0)
    return "".join(out)


_TO_SQL = {"plpython_to_hstore": _to_hstore, "plpython_to_jsonb": _to_jsonb}

# numpy_plpython3u (src/python/transforms.ts NUMPY): arrays of these element types, named by the element
# transform's FROM SQL symbol; the result is ("ndarray", dims, data, bitmap), laid out in one piece
_NUMPY = {
    "numpy_int2_to_plpython": "h",
    "numpy_int4_to_plpython": "i",
    "numpy_int8_to_plpython": "q",
    "numpy_float4_to_plpython": "f",
    "numpy_float8_to_plpython": "d",
    "numpy_bool_to_plpython": "?",
    "numpy_oid_to_plpython": "I",
}


def to_sql(symbol, value):
    code = _NUMPY.get(symbol)
    if code is not None:
        r = ndarrays.to_sql(code, value)
        return ("ndarray",) + r[1:] if r[0] == "ok" else ("error", r[1], r[2], None)
    try:
        return _TO_SQL[symbol](value)
    except _Fail as f:
        return ("error", f.message, f.sqlstate, f.cause)
    except RecursionError:
        return ("error", "stack depth limit exceeded", "54001", None)
