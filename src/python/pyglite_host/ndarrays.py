"""numpy_plpython3u (docs/columns.md): numeric arrays <-> numpy for functions that name the element type in
TRANSFORM FOR TYPE (src/python/transforms.ts says which). The engine moves the bytes in one piece
(native/core/codec.c T_NDARRAY in, native/call/convert.c out); this module only sees bytes and numpy.

from_sql(code, dims, data, bitmap): an array's packed elements (`data`, a bytearray: the non-NULL elements
as ARR_DATA_PTR stores them) and its NULL bitmap (utils/array.h: bit set = not NULL; None without NULLs)
-> an ndarray of the array's shape wrapping `data` (no Python object per element), or a MaskedArray
whose mask is the NULLs. Lower bounds are dropped, as PL/Python drops them; an empty array has shape (0,).

to_sql(code, obj) -> ("ok", dims, data, bitmap) with `data` a C-contiguous byte view of the non-NULL
elements in storage order, or ("error", message, sqlstate) as PostgreSQL would report it.

`code` is the element type's struct code: h int2, i int4, q int8, f float4, d float8, ? bool, I oid.
"""

import numbers

_DTYPES = {"h": "<i2", "i": "<i4", "q": "<i8", "f": "<f4", "d": "<f8", "?": "?", "I": "<u4"}
_NAMES = {
    "h": "smallint",
    "i": "integer",
    "q": "bigint",
    "f": "real",
    "d": "double precision",
    "?": "boolean",
    "I": "oid",
}
MAXDIM = 6  # utils/array.h
RAGGED = "multidimensional arrays must have array expressions with matching dimensions"


def _numpy():
    try:
        import numpy
    except ImportError as e:
        raise ImportError("the numpy_plpython3u transform needs numpy: %s" % e) from None
    return numpy


def from_sql(code, dims, data, bitmap):
    np = _numpy()
    dt = np.dtype(_DTYPES[code])
    n = 1
    for d in dims:
        n *= d
    if not dims or n == 0:
        return np.empty(0, dt)
    if bitmap is None:
        a = np.frombuffer(data, dt, n)
        return a if len(dims) == 1 else a.reshape(dims)
    notnull = np.unpackbits(np.frombuffer(bitmap, np.uint8), count=n, bitorder="little").view(bool)
    values = np.zeros(n, dt)
    values[notnull] = np.frombuffer(data, dt, int(np.count_nonzero(notnull)))
    return np.ma.MaskedArray(values.reshape(dims), mask=~notnull.reshape(dims))


class _Fail(Exception):
    def __init__(self, message, sqlstate):
        super().__init__(message)
        self.message = message
        self.sqlstate = sqlstate


def to_sql(code, obj):
    try:
        np = _numpy()
    except ImportError as e:
        # PLy_elog(ERROR, NULL) with this exception pending: its text is the message
        return ("error", "ImportError: %s" % e, "38000")
    try:
        with np.errstate(all="ignore"):  # overflow is checked, not warned about
            return ("ok",) + _to_sql(np, code, obj)
    except _Fail as f:
        return ("error", f.message, f.sqlstate)


def _not_a_number(name, text):
    """What the type's input function says of str() of the value, as PL/Python would pass it to it."""
    return _Fail('invalid input syntax for type %s: "%s"' % (name, text), "22P02")


def _out_of_range(name, text):
    return _Fail('value "%s" is out of range for type %s' % (text, name), "22003")


def _text(x):
    """A value as the messages show it: ints as ints, floats as repr() (PL/Python's str of a float)."""
    if isinstance(x, (bool, numbers.Integral)):
        return str(int(x))
    try:
        return repr(float(x))
    except (TypeError, ValueError):
        return str(x)


def _to_sql(np, code, obj):
    name = _NAMES[code]
    mask = None
    if isinstance(obj, np.ma.MaskedArray):
        mask = np.ma.getmaskarray(obj)
        arr = np.asarray(obj.data)
    else:
        try:
            arr = np.asarray(obj)
        except ValueError:  # numpy >= 1.24: inhomogeneous nesting
            raise _Fail(RAGGED, "22P02") from None
    if arr.ndim == 0:
        # PLySequence_ToArray's check (a str is a sequence there: here it is not a number either)
        raise _Fail("return value of function with array return type is not a Python sequence", "42804")
    if arr.ndim > MAXDIM:
        raise _Fail(
            "number of array dimensions (%d) exceeds the maximum allowed (%d)" % (arr.ndim, MAXDIM), "54000"
        )
    dims = tuple(int(d) for d in arr.shape)
    if arr.size == 0:
        return (), b"", None
    if arr.dtype.kind == "O":
        out, nones = _objects(np, arr, code, name)
        mask = nones if mask is None else (mask | nones)
        if not mask.any():
            mask = None
    else:
        if arr.dtype.kind not in "biuf":
            raise _not_a_number(name, arr.reshape(-1)[0])
        if mask is not None and mask.any():
            arr = arr.copy()
            arr[mask] = 0  # masked values are not converted, whatever the data under the mask holds
        else:
            mask = None
        out = _convert(np, arr, code, name)
    out = np.ascontiguousarray(out)
    if mask is None:
        return dims, memoryview(out.reshape(-1)).cast("B"), None
    bitmap = np.packbits(~mask.reshape(-1), bitorder="little").tobytes()
    return dims, memoryview(np.ascontiguousarray(out[~mask])).cast("B"), bitmap


def _objects(np, arr, code, name):
    """An object array (lists holding None, Decimal, big ints …): None -> masked, the numbers converted one
    by one (they are Python objects already), anything else refused."""
    flat = arr.reshape(-1)
    nones = np.zeros(flat.shape, bool)
    ints = True
    for i, x in enumerate(flat):
        if x is None:
            nones[i] = True
        elif isinstance(x, (list, tuple, np.ndarray)):
            raise _Fail(RAGGED, "22P02")
        elif isinstance(x, complex) or not isinstance(x, (numbers.Number, np.bool_)):
            raise _not_a_number(name, x)
        elif not isinstance(x, (bool, np.bool_, numbers.Integral)):
            ints = False
    target = np.dtype(_DTYPES[code])
    if code == "?":
        values = [False if x is None else bool(x) for x in flat]
    elif ints and code in "hiqI":
        info = np.iinfo(target)
        values = [0 if x is None else int(x) for x in flat]
        for v in values:
            if not int(info.min) <= v <= int(info.max):
                raise _out_of_range(name, str(v))
    else:
        try:
            values = np.array([0.0 if x is None else float(x) for x in flat], dtype=np.float64)
        except OverflowError:  # an int beyond float8
            big = next(x for x in flat if x is not None and abs(x) > 2**1023)
            raise _out_of_range(name, _text(big)) from None
        return _convert(np, values, code, name).reshape(arr.shape), nones.reshape(arr.shape)
    return np.array(values, dtype=target).reshape(arr.shape), nones.reshape(arr.shape)


def _first(np, arr, bad):
    return arr.reshape(-1)[np.flatnonzero(bad.reshape(-1))[0]]


def _convert(np, arr, code, name):
    target = np.dtype(_DTYPES[code])
    kind = arr.dtype.kind
    if code == "?" or kind == "b":
        return arr.astype(target)
    if code in "hiqI":
        info = np.iinfo(target)
        if kind == "f":
            bad = ~np.isfinite(arr)
            if bad.any():
                raise _out_of_range(name, _text(_first(np, arr, bad)))
            bad = arr != np.trunc(arr)
            if bad.any():
                # what int4in says of str(2.5), as PL/Python would pass it
                raise _Fail('invalid input syntax for type %s: "%s"' % (name, _text(_first(np, arr, bad))), "22P02")
            bad = (arr < float(int(info.min))) | (arr >= float(int(info.max) + 1))
        elif np.can_cast(arr.dtype, target, "safe"):
            return arr.astype(target)
        elif kind == "u":
            bad = arr > np.uint64(info.max)
        else:
            bad = (arr < int(info.min)) | (arr > int(info.max))
        if bad.any():
            raise _out_of_range(name, _text(_first(np, arr, bad)))
        return arr.astype(target)
    if code == "f":
        out = arr.astype(target)
        if kind == "f":
            finite = np.isfinite(arr)
            bad = finite & (~np.isfinite(out) | ((out == 0) & (arr != 0)))  # float4in's overflow and underflow
            if bad.any():
                raise _out_of_range(name, _text(_first(np, arr, bad)))
        return out
    return arr.astype(target)
