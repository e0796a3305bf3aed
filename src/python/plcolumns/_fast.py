"""plcolumns' fast path inside pyglite: the engine builds the columns from its Datums (src/columns/), so
no row dict and, for fixed-width types, no Python object per value is made. Importing this module
outside pyglite fails (there is no _pyglite), and plcolumns then uses its pure-Python path."""

import itertools

import _pyglite  # noqa: F401 - only pyglite has it: the ImportError is how plcolumns tells
from _plpy import spi as _spi
from _plpy.exc import call

import plpy

if not hasattr(_spi, "_args_bytes") or not hasattr(_spi, "PLyPlan"):
    raise ImportError("this pyglite's plpy has no plan argument encoder")


def _take(col, nrows):
    """A packed column's chunks (in wasm memory, src/columns/encode.ts) copied into Python buffers: the raw
    column (code, data, nulls | None) that _build reads, `data` a bytearray numpy can wrap without a copy."""
    code, size, chunks, hasnull = col
    data = bytearray(size * nrows)
    nulls = bytearray(nrows) if hasnull else None
    dv = memoryview(data)
    nv = memoryview(nulls) if hasnull else None
    pos = 0
    for addr, naddr, rows in chunks:
        _pyglite.wasm_read(addr, dv[pos * size : (pos + rows) * size])
        if hasnull:
            _pyglite.wasm_read(naddr, nv[pos : pos + rows])
        pos += rows
    return code, data, nulls


def _raw(r):
    """(status, (names, types, columns, nrows) | None) -> (names, types, raws, nrows) or None."""
    if r[1] is None:
        return None
    names, types, cols, nrows = r[1]
    try:
        raws = [_take(c, nrows) if type(c) is tuple else c for c in cols]
    finally:
        call("columns_release")
    return names, types, raws, nrows


def execute_raw(query, args, datetimes):
    if isinstance(query, str) and args is None and "\x00" not in query:
        return _raw(call("columns_execute", query, bool(datetimes)))
    if type(query) is _spi.PLyPlan:
        values = _spi._MISSING if args is None else args
        return _raw(call("columns_execute_plan", query._id, _spi._args_bytes(query, values, "execute"), bool(datetimes)))
    if isinstance(query, str):
        raise TypeError("plcolumns.execute: arguments need a plan (plpy.prepare) in PL/Python")
    raise plpy.Error("plcolumns.execute expected a query or a plan")


class Fetcher:
    """A portal's batches as raw columns (src/columns/ops.ts). The portal is not pinned, unlike a
    plpy.cursor's: one left open (a generator dropped by LIMIT) goes with its transaction."""

    __slots__ = ("name", "datetimes", "closed")

    def __init__(self, query, args, datetimes):
        self.datetimes = bool(datetimes)
        self.closed = False
        if isinstance(query, str):
            self.name = call("columns_cursor", query)
        else:
            values = _spi._MISSING if args is None else args
            self.name = call("columns_cursor_plan", query._id, _spi._args_bytes(query, values, "cursor"))

    def fetch(self, n):
        if self.closed:
            raise ValueError("fetch from a closed cursor")
        r = call("columns_fetch", self.name, n, self.datetimes)
        if r is False:
            raise ValueError("iterating a cursor in an aborted subtransaction")
        return _raw(r)

    def close(self):
        if not self.closed:
            self.closed = True
            if _pyglite.in_call():  # else no call runs (executor shutdown): the transaction drops it
                call("columns_close", self.name)


# rows handed over as column batches since start-up (tests and curious users can see the fast path ran)
stats = {"rows_handed_over": 0}

_INT_RANGE = {"h": (-(2**15), 2**15 - 1), "i": (-(2**31), 2**31 - 1), "q": (-(2**63), 2**63 - 1), "I": (0, 2**32 - 1)}
_DTYPE = {"?": "u1", "h": "<i2", "i": "<i4", "q": "<i8", "I": "<u4", "d": "<f8"}


def _array(col):
    """(ndarray, mask or None) of a numpy/pandas column with a plain numeric dtype, else (None, None)."""
    try:
        import numpy as np
    except ImportError:
        return None, None
    if hasattr(col, "to_numpy") and hasattr(col, "isna"):  # pandas
        if type(col.dtype).__module__.startswith("pandas"):  # nullable: NA is NULL
            mask = col.isna().to_numpy()
            kind = getattr(col.dtype, "kind", "O")
            if kind not in "biuf":
                return None, None
            return col.to_numpy(dtype=col.dtype.numpy_dtype, na_value=0), (mask if mask.any() else None)
        col = col.to_numpy()
    if not isinstance(col, np.ndarray):
        return None, None
    mask = None
    if isinstance(col, np.ma.MaskedArray):
        mask = np.ma.getmaskarray(col)
        col = col.data
        if not mask.any():
            mask = None
    if col.ndim != 1 or col.dtype.kind not in "biuf":
        return None, None
    return col, mask


def _text(col, code):
    """PL/Python's conversion of each value: str() (repr() of floats) for the input function; bool by truth."""
    from ._rows import _values

    values = _values(col)
    if code == "?":
        return [None if v is None else ("t" if v else "f") for v in values]
    return [None if v is None else (repr(v) if isinstance(v, float) else str(v)) for v in values]


def _pack(col, code):
    """A column for columns_put: (code, contiguous array, NULL bytes | None) when it can travel packed,
    else its values as text."""
    if code in _DTYPE:
        arr, mask = _array(col)
        if arr is not None:
            kind = arr.dtype.kind
            live = arr if mask is None else arr[~mask]
            ok = False
            if code == "?":
                arr, ok = arr != 0, True
            elif code == "d":
                ok = kind in "iuf"
            elif kind in "iu":
                lo, hi = _INT_RANGE[code]
                ok = not live.size or (int(live.min()) >= lo and int(live.max()) <= hi)
            if ok:
                import numpy as np

                data = np.ascontiguousarray(arr.astype(_DTYPE[code], copy=False))
                return code, data, None if mask is None else np.ascontiguousarray(mask, dtype="u1")
    return _text(col, code)


def _round8(n):
    return (n + 7) & ~7


def _put(packs, n):
    """Write a batch's packed columns into the area the engine gives (columns_area) and put its rows."""
    need = sum(_round8(p[1].nbytes) + (_round8(n) if p[2] is not None else 0) for p in packs if type(p) is tuple)
    at = call("columns_area", need) if need else 0
    cols = []
    for p in packs:
        if type(p) is not tuple:
            cols.append(p)
            continue
        code, data, mask = p
        _pyglite.wasm_write(at, data)
        spec = [code, at, 0]
        at += _round8(data.nbytes)
        if mask is not None:
            _pyglite.wasm_write(at, mask)
            spec[2] = at
            at += _round8(n)
        cols.append(spec)
    return call("columns_put", cols, n)


class ColumnStream:
    """The rows of rows()/transform() in pyglite. PostgreSQL may take a set-returning function's result
    as a tuplestore (materialize mode): then the whole result is handed over at the first row asked for,
    one batch at a time, the engine forming each row from the column buffers (src/columns/put.ts).
    Otherwise it is an iterator of rows as PL/Python's value-per-call protocol wants them."""

    __slots__ = ("_cols", "_outs", "_rows")

    def __init__(self, cols, outs):
        self._cols = cols
        self._outs = outs  # iterator of (out, matched columns)
        self._rows = None

    def __iter__(self):
        return self

    def __next__(self):
        if self._rows is None:
            self._rows = iter(())
            modes = call("columns_offer") if self._cols.known else None
            if modes is not None:
                self._hand_over(modes)
                raise StopIteration
            from ._rows import value_rows

            self._rows = itertools.chain.from_iterable(value_rows(o, m, self._cols) for o, m in self._outs)
        return next(self._rows)

    def _hand_over(self, modes):
        try:
            for out, matched in self._outs:
                if matched is None:
                    raise AssertionError("a known result has matched columns")
                n = len(matched[0]) if matched else 0
                if not n:
                    continue
                if not _put([_pack(c, m) for c, m in zip(matched, modes)], n):
                    return  # a value did not convert: the engine raises it
                stats["rows_handed_over"] += n
        finally:
            call("columns_end")
