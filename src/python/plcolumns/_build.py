"""Raw columns -> the column objects the user asked for (lists, numpy arrays, a pandas DataFrame).

A raw column is what a fetch produced, before the user's choice of form:
  * a list of Python values with None for NULL (PL/Python's own conversions: int, float, bool, Decimal,
    str, bytes, lists, dicts), or
  * a tuple (code, data, nulls) from pyglite's fast path: `data` the column's values packed in native
    byte order (struct format `code`: h i q f d ? I, or 'D' days / 'T' microseconds since 2000-01-01
    for dates and timestamps), `nulls` one byte per row (1 = NULL) or None when the column has none.
Both give the same result for the same data: that is what makes the module portable.
"""

import datetime

# type oid -> (numpy dtype, struct code) of the fixed-width types; dates/timestamps only with datetimes=True
FIXED = {
    16: ("bool", "?"),
    20: ("int64", "q"),
    21: ("int16", "h"),
    23: ("int32", "i"),
    26: ("uint32", "I"),
    700: ("float32", "f"),
    701: ("float64", "d"),
}
TEMPORAL = {1082: ("datetime64[D]", "D"), 1114: ("datetime64[us]", "T"), 1184: ("datetime64[us]", "T")}
KINDS = ("list", "numpy", "pandas")
NULLS = ("mask", "nan", "raise")
_EPOCH_DAYS = 10957  # 2000-01-01 - 1970-01-01 in days (PostgreSQL's epoch vs Unix's)
_EPOCH_US = _EPOCH_DAYS * 86400 * 1000000


def numpy():
    """numpy, or a clear error when it cannot be imported (the list form needs nothing)."""
    try:
        import numpy as np
    except ImportError as e:
        raise ImportError(
            "plcolumns: kind='numpy' and kind='pandas' need numpy, which cannot be imported here (%s); "
            "kind='list' works without it" % e
        ) from None
    return np


def pandas():
    try:
        import pandas as pd
    except ImportError as e:
        raise ImportError(
            "plcolumns: kind='pandas' needs pandas, which cannot be imported here (%s)" % e
        ) from None
    return pd


def check_options(kind, nulls):
    if kind not in KINDS:
        raise ValueError("plcolumns: kind must be one of %s, not %r" % (", ".join(KINDS), kind))
    if nulls not in NULLS:
        raise ValueError("plcolumns: nulls must be one of %s, not %r" % (", ".join(NULLS), nulls))
    if kind != "list":
        numpy()
        if kind == "pandas":
            pandas()


def _unpack(code, data, nulls):
    """A raw fast-path column as a list with None for NULL, without numpy."""
    if code == "D" or code == "T":
        raise AssertionError("temporal raw columns are only made for datetimes=True")
    values = memoryview(data).cast(code).tolist()
    if nulls is not None:
        for i, n in enumerate(nulls):
            if n:
                values[i] = None
    return values


def _parse_temporal(typoid, s):
    """PL/Python's text of a date/timestamp/timestamptz -> microseconds or days since 1970 (portable path)."""
    if s in ("infinity", "-infinity"):
        raise ValueError("plcolumns: %s cannot be held by numpy.datetime64 (%s)" % (s, "an infinite date or time"))
    if typoid == 1082:
        d = datetime.date.fromisoformat(s)
        return (d - datetime.date(1970, 1, 1)).days
    t = datetime.datetime.fromisoformat(s)
    if t.tzinfo is not None:
        t = t.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    delta = t - datetime.datetime(1970, 1, 1)
    return (delta.days * 86400 + delta.seconds) * 1000000 + delta.microseconds


def _infinite(code, np, raw):
    lo, hi = (np.iinfo(np.int32).min, np.iinfo(np.int32).max) if code == "D" else (
        np.iinfo(np.int64).min, np.iinfo(np.int64).max)
    if raw.size and (raw.min() == lo or raw.max() == hi):
        raise ValueError("plcolumns: infinity cannot be held by numpy.datetime64 (%s)" % "an infinite date or time")


def to_numpy(name, typoid, raw, nulls, datetimes):
    """(array, mask or None) of one column. Fixed-width types get their own dtype, dates and timestamps
    datetime64 when asked, everything else an object array with None for NULL."""
    np = numpy()
    spec = FIXED.get(typoid) or (TEMPORAL.get(typoid) if datetimes else None)
    if spec is None:
        values = _unpack(*raw) if isinstance(raw, tuple) else raw
        return np.fromiter(values, dtype=object, count=len(values)), None
    dtype, code = spec
    if isinstance(raw, tuple):
        rcode, data, nullbytes = raw
        if rcode in ("D", "T"):
            arr = np.frombuffer(data, dtype=np.int32 if rcode == "D" else np.int64)
        else:
            arr = np.frombuffer(data, dtype=dtype)
        mask = np.frombuffer(nullbytes, dtype=np.bool_) if nullbytes is not None else None
        if mask is not None and not mask.any():
            mask = None
        if rcode in ("D", "T"):
            live = arr if mask is None else arr[~mask]
            _infinite(rcode, np, live)
            arr = arr + (_EPOCH_DAYS if rcode == "D" else _EPOCH_US)
            if mask is not None:
                arr[mask] = 0
            arr = arr.astype(dtype) if rcode == "D" else arr.view(dtype)
        elif not arr.flags.writeable:
            arr = arr.copy()  # frombuffer over bytes is read-only; the user may write into a column
    else:
        mask = None
        if any(v is None for v in raw):
            mask = np.fromiter((v is None for v in raw), dtype=np.bool_, count=len(raw))
        if code in ("D", "T"):
            ints = [0 if v is None else _parse_temporal(typoid, v) for v in raw]
            arr = np.array(ints, dtype=np.int64).astype(dtype if code == "D" else "datetime64[us]")
        else:
            arr = np.array([0 if v is None else v for v in raw], dtype=dtype)
    if mask is not None:
        arr[mask] = 0 if arr.dtype.kind != "M" else np.datetime64("NaT")
    return arr, mask


def apply_nulls(np, name, arr, mask, nulls):
    """numpy form of a fixed-width column with NULLs, by the nulls= rule."""
    if mask is None:
        return arr
    if nulls == "raise":
        raise ValueError(
            'plcolumns: column "%s" has %d NULL value(s) and nulls="raise" was asked for' % (name, int(mask.sum()))
        )
    if nulls == "nan":
        if arr.dtype.kind == "M":
            out = arr.copy()
            out[mask] = np.datetime64("NaT")
            return out
        out = arr.astype(np.float32 if arr.dtype == np.float32 else np.float64)
        out[mask] = np.nan
        return out
    return np.ma.MaskedArray(arr, mask=mask)


class Columns(dict):
    """The result of a query as columns: a dict name -> column (in the query's column order), with
    .nrows, .types (name -> type oid) and .nulls (name -> a mask of the NULL rows, or None when the
    column has no NULL; for object and list columns the NULLs are None values)."""

    __slots__ = ("nrows", "types", "nulls")

    def __init__(self, names=(), columns=(), types=None, nulls=None, nrows=0):
        super().__init__(zip(names, columns))
        self.nrows = nrows
        self.types = types if types is not None else {}
        self.nulls = nulls if nulls is not None else {}

    def __repr__(self):
        return "<plcolumns.Columns nrows=%d columns=%s>" % (self.nrows, list(self))


def duplicate_check(names):
    seen = set()
    for n in names:
        if n in seen:
            raise ValueError(
                'plcolumns: the query has more than one column named "%s"; give its columns distinct names' % n
            )
        seen.add(n)


def build(names, types, raws, nrows, kind, nulls, datetimes):
    """Columns (or a DataFrame) of the requested form from raw columns."""
    duplicate_check(names)
    if kind == "list":
        cols = [_unpack(*r) if isinstance(r, tuple) else r for r in raws]
        masks = {n: ([v is None for v in c] if any(v is None for v in c) else None) for n, c in zip(names, cols)}
        return Columns(names, cols, dict(zip(names, types)), masks, nrows)
    np = numpy()
    cols, masks = [], {}
    for name, typoid, raw in zip(names, types, raws):
        arr, mask = to_numpy(name, typoid, raw, nulls, datetimes)
        if arr.dtype != object and kind == "numpy":
            arr = apply_nulls(np, name, arr, mask, nulls)
        elif arr.dtype != object and mask is not None:
            arr = (arr, mask)  # pandas: made nullable below
        elif arr.dtype == object:
            mask = np.fromiter((v is None for v in arr), dtype=np.bool_, count=len(arr))
            mask = mask if mask.any() else None
        cols.append(arr)
        masks[name] = mask
    if kind == "numpy":
        return Columns(names, cols, dict(zip(names, types)), masks, nrows)
    return to_pandas(names, cols, nulls)


def to_pandas(names, cols, nulls):
    pd = pandas()
    np = numpy()
    data = {}
    for name, col in zip(names, cols):
        if isinstance(col, tuple):
            arr, mask = col
            if arr.dtype.kind == "M":
                col = arr  # NaT already marks the NULLs
            elif nulls == "mask":
                kind = arr.dtype.kind
                make = pd.arrays.BooleanArray if kind == "b" else pd.arrays.FloatingArray if kind == "f" else pd.arrays.IntegerArray
                col = make(arr, mask.copy())
            else:
                col = apply_nulls(np, name, arr, mask, nulls)
        data[name] = col
    return pd.DataFrame(data, columns=list(names), copy=False)
