"""Python results -> PostgreSQL values, by PL/Python's output conversions (plpy_typeio.c).

A converter is built once per result descriptor (made by src/plpython/output.ts: scalar, bool, bytea,
void, array of X, row of named columns) and walks a returned object the way PLyObject_ToScalar,
PLyObject_ToBool, PLyObject_ToBytea, PLySequence_ToArray and PLyObject_ToComposite do. It writes the
codec stream (tags shared with src/plpython/codec.ts) that the engine's builders turn into Datums with the
types' input functions, construct_md_array, heap_form_tuple, record_in and domain_check. A failure is
written as an ERROR tag at the point where PostgreSQL would raise it, and the walk stops there.
Common scalar results never come here: the native addon converts them directly.
"""

import json
import struct

import _pyglite

from . import errors

T_NONE = 0
T_FALSE = 1
T_TRUE = 2
T_STR = 6
T_BYTES = 7
T_LIST = 9
T_ARRAY = 14
T_ARRAY_END = 15
T_ROW = 16
T_ERROR = 17

MAXDIM = 6

_u32 = struct.Struct("<I").pack

# procedure id -> metadata used by the error formatter (name, munged source, kind)
procedures = {}

# the procedure whose result is being converted (for tracebacks of errors raised by user __str__ etc.)
_current_pid = None

_sequence_check = _pyglite.sequence_check
_mapping_check = _pyglite.mapping_check
_object_bytes = _pyglite.object_bytes


def register_procedure(pid, meta, source):
    procedures[pid] = {"name": meta["name"], "source": source, "kind": meta.get("kind", "function")}


class ConversionError(Exception):
    """A conversion failure with a SQLSTATE (e.g. 42804), reported without a Python traceback."""

    def __init__(self, message, sqlstate="XX000", detail=None, hint=None):
        super().__init__(message)
        self.sqlstate = sqlstate
        self.detail = detail
        self.hint = hint


class _Abort(Exception):
    """Unwinds a converter after an ERROR tag was written."""


def _put_text(out, tag, b):
    out.append(tag)
    out += _u32(len(b))
    out += b


def _put_opt(out, s):
    if s is None:
        out.append(T_NONE)
    else:
        _put_text(out, T_STR, str(s).encode("utf-8", "replace"))


def _fail(out, message, sqlstate, detail=None, hint=None, context=None):
    """ereport(ERROR, ...) at this point of the stream."""
    out.append(T_ERROR)
    out.append(T_LIST)
    out += _u32(5)
    for s in (message, sqlstate, detail, hint, context):
        _put_opt(out, s)
    raise _Abort()


def _fail_py(out, message, exc):
    """PLy_elog(ERROR, message) with a Python exception pending: it becomes the detail, its traceback the
    context (the frame C called into is skipped, as PLy_traceback does)."""
    f = errors.fields_for(exc, procedures.get(_current_pid), 0, message=message, skip_first=True)
    _fail(out, f[0], f[1], f[2], f[3], f[4])


def as_cstring(value, out):
    """PLyObject_AsString: str as is, repr() for floats (str() is lossy), str() for anything else."""
    try:
        if isinstance(value, str):
            s = value
        elif isinstance(value, float):
            s = repr(value)
        else:
            s = str(value)
    except Exception as e:  # noqa: BLE001 - PostgreSQL 18 crashes here; we report the error instead
        _fail_py(out, "could not create string representation of Python object", e)
    try:
        b = s.encode("utf-8")
    except Exception as e:  # noqa: BLE001
        _fail_py(out, "could not convert Python Unicode object to bytes", e)
    # PLyUnicode_Bytes rebuilds the bytes with strlen(): the string ends at its first NUL (so PostgreSQL's
    # "appears to contain null bytes" check never fires)
    nul = b.find(b"\x00")
    return b if nul < 0 else b[:nul]


def _scalar(value, out, inarray):
    if value is None:
        out.append(T_NONE)
        return
    _put_text(out, T_STR, as_cstring(value, out))


def _bool(value, out, inarray):
    if value is None:
        out.append(T_NONE)
        return
    try:
        t = bool(value)
    except Exception:  # noqa: BLE001 - PyObject_IsTrue's -1 is "true" to PLyObject_ToBool
        t = True
    out.append(T_TRUE if t else T_FALSE)


def _bytea(value, out, inarray):
    if value is None:
        out.append(T_NONE)
        return
    try:
        b = _object_bytes(value)
    except Exception as e:  # noqa: BLE001
        _fail_py(out, "could not create bytes representation of Python object", e)
    _put_text(out, T_BYTES, b)


def _void(procedure):
    def conv(value, out, inarray):
        if value is not None:
            if procedure:
                _fail(out, "PL/Python procedure did not return None", "42804")
            _fail(out, 'PL/Python function with return type "void" did not return None', "42804")
        out.append(T_NONE)

    return conv


def _array(elem):
    _mismatch = "multidimensional arrays must have array expressions with matching dimensions"

    def conv(value, out, inarray):
        if value is None:
            out.append(T_NONE)
            return
        if not _sequence_check(value):
            _fail(out, "return value of function with array return type is not a Python sequence", "42804")
        out.append(T_ARRAY)
        try:
            first = len(value)
        except Exception:  # noqa: BLE001 - reported by the walk below, as PostgreSQL does
            first = -1
        dims = [first] + [0] * (MAXDIM - 1)
        state = [1, False]  # ndims, a scalar was seen

        def walk(obj, depth):
            try:
                n = len(obj)
            except Exception as e:  # noqa: BLE001
                _fail_py(out, "could not determine sequence length for function return value", e)
            for i in range(n):
                try:
                    sub = obj[i]
                except Exception as e:  # noqa: BLE001
                    _fail_py(out, "could not get element %d from sequence" % i, e)
                if isinstance(sub, list):
                    if i == 0 and state[0] == depth:
                        if state[1]:
                            _fail(out, _mismatch, "22P02")
                        if depth >= MAXDIM:
                            _fail(
                                out,
                                "number of array dimensions exceeds the maximum allowed (%d)" % MAXDIM,
                                "54000",
                            )
                        dims[state[0]] = len(sub)
                        state[0] += 1
                    elif depth >= state[0] or len(sub) != dims[depth]:
                        _fail(out, _mismatch, "22P02")
                    walk(sub, depth + 1)
                else:
                    if state[0] != depth:
                        _fail(out, _mismatch, "22P02")
                    elem(sub, out, True)
                    state[1] = True

        walk(value, 1)
        out.append(T_ARRAY_END)
        ndims = state[0]
        out.append(ndims)
        for d in dims[:ndims]:
            out += _u32(d)

    return conv


_ARRAY_HINT = "To return a composite type in an array, return the composite type as a Python tuple, e.g., \"[('foo',)]\"."


def _row(names, types):
    live = sum(1 for n in names if n is not None)
    natts = len(names)
    header = bytes([T_ROW]) + _u32(natts)
    cols = list(zip(names, types))

    def conv(value, out, inarray):
        if value is None:
            out.append(T_NONE)
            return
        if isinstance(value, str):
            b = as_cstring(value, out)
            if inarray and not b.lstrip(b" \t\n\r\v\f").startswith(b"("):
                _fail(
                    out,
                    'malformed record literal: "%s"' % b.decode("utf-8"),
                    "22P02",
                    "Missing left parenthesis.",
                    _ARRAY_HINT,
                )
            _put_text(out, T_STR, b)
            return
        if _sequence_check(value):
            try:
                n = len(value)
            except Exception:  # noqa: BLE001
                n = -1
            if n != live:
                _fail(out, "length of returned sequence did not match number of columns in row", "42804")
            out += header
            idx = 0
            for name, conv_att in cols:
                if name is None:
                    out.append(T_NONE)
                    continue
                try:
                    item = value[idx]
                except Exception as e:  # noqa: BLE001
                    _fail_py(out, "could not get element %d from sequence" % idx, e)
                conv_att(item, out, False)
                idx += 1
        elif _mapping_check(value):
            out += header
            for name, conv_att in cols:
                if name is None:
                    out.append(T_NONE)
                    continue
                try:
                    item = value[name]
                except Exception:  # noqa: BLE001 - any failure of PyMapping_GetItemString
                    _fail(
                        out,
                        'key "%s" not found in mapping' % name,
                        "42703",
                        hint="To return null in a column, add the value None to the mapping with the key named after the column.",
                    )
                conv_att(item, out, False)
        else:
            out += header
            for name, conv_att in cols:
                if name is None:
                    out.append(T_NONE)
                    continue
                try:
                    item = getattr(value, name)
                except Exception:  # noqa: BLE001
                    _fail(
                        out,
                        'attribute "%s" does not exist in Python object' % name,
                        "42703",
                        hint=_ARRAY_HINT
                        if inarray
                        else "To return null in a column, let the returned object have an attribute named after column with value None.",
                    )
                conv_att(item, out, False)

    return conv


def _unknown_record(value, out, inarray):
    _fail(out, "function returning record called in context that cannot accept type record", "0A000")


def build(desc):
    """A converter conv(value, out: bytearray, inarray) for a descriptor dict."""
    k = desc["k"]
    if k == "s":
        return _scalar
    if k == "b":
        return _bool
    if k == "y":
        return _bytea
    if k == "v":
        return _void(bool(desc.get("p")))
    if k == "a":
        return _array(build(desc["e"]))
    if k == "r":
        return _row(desc["n"], [build(t) for t in desc["t"]])
    if k == "R":
        return _unknown_record
    raise ValueError("unknown result descriptor %r" % (desc,))


_converters = {}


def result_converter(desc):
    """The top-level converter for a descriptor (JSON text or the dict itself; cached per descriptor):
    f(value, pid=None) -> codec bytes. pid names the running procedure for tracebacks."""
    if isinstance(desc, str):
        desc_json = desc
    else:
        desc_json = json.dumps(desc, sort_keys=True)
    f = _converters.get(desc_json)
    if f is None:
        c = build(json.loads(desc_json))

        def f(value, pid=None, c=c):
            global _current_pid
            out = bytearray()
            prev, _current_pid = _current_pid, pid
            try:
                c(value, out, False)
            except _Abort:
                pass
            finally:
                _current_pid = prev
            return bytes(out)

        _converters[desc_json] = f
    return f
