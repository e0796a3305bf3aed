"""plcolumns: Python over whole columns, for PL/Python functions (docs/columns.md).

    import plcolumns
    cols = plcolumns.execute("SELECT cpu, mem FROM system_metrics", kind="numpy")
    for batch in plcolumns.cursor("SELECT a, b FROM t", batch=10000, kind="numpy"): ...
    return plcolumns.rows({"a": a, "b": a * 2})          # a set-returning function's rows
    return plcolumns.transform(query, fn, kind="numpy")  # a table function over any query
    plcolumns.create_aggregate(...)                      # a batch aggregate usable with GROUP BY

The same module runs in pyglite, where the engine builds the columns from its Datums, and on
PostgreSQL 15+ with plpython3u, where it is pure Python over plpy.execute/plpy.cursor (copy this
directory onto the server's Python path). Results are the same; pyglite's are faster.
"""

from . import _build
from ._build import Columns

try:
    from . import _fast as _impl

    FAST = True
except ImportError:
    from . import _portable as _impl

    FAST = False

from ._aggregate import Aggregate, create_aggregate  # noqa: E402
from . import _rows  # noqa: E402
from ._rows import result_columns, rows  # noqa: E402

if FAST:
    _rows.stream = _impl.ColumnStream

__all__ = [
    "Aggregate",
    "Columns",
    "FAST",
    "create_aggregate",
    "cursor",
    "execute",
    "ndarray",
    "result_columns",
    "rows",
    "transform",
]

DEFAULT_BATCH = 10000

_SQL_DTYPES = {"int2": "int16", "int4": "int32", "int8": "int64", "float4": "float32", "float8": "float64", "oid": "uint32"}


def ndarray(value, dtype):
    """An array argument as numpy_plpython3u gives it (docs/columns.md), on any server: in pyglite a function
    that names the element type in TRANSFORM FOR TYPE already has the numpy array, returned as is; on
    PostgreSQL, whose PL/Python hands over nested lists, the same array (a MaskedArray when it has NULLs)
    is built from them. `dtype`: the element type (int2 … float8, bool, oid) or a numpy dtype."""
    import numpy

    if isinstance(value, numpy.ndarray) or value is None:
        return value
    dt = numpy.dtype(_SQL_DTYPES.get(dtype, dtype))
    obj = numpy.array(value, dtype=object)
    if obj.ndim == 0:
        raise TypeError("plcolumns.ndarray expected a list, not %s" % type(value).__name__)
    mask = numpy.equal(obj, None)
    data = numpy.where(mask, 0, obj).astype(dt) if obj.size else numpy.empty(obj.shape, dt)
    return numpy.ma.MaskedArray(data, mask=mask) if mask.any() else data


def _check_query(what, query, args):
    if isinstance(query, str):
        if args is not None:
            raise TypeError("plcolumns.%s: arguments need a plan (plpy.prepare) in PL/Python" % what)
    elif type(query).__name__ != "PLyPlan":
        raise TypeError("plcolumns.%s expected a query text or a plan, not %s" % (what, type(query).__name__))


def execute(query, args=None, kind="list", nulls="mask", datetimes=False):
    """Run a query (a text, or a plan from plpy.prepare with its args) and return its result as columns:
    a Columns mapping name -> column (a list, or a numpy array with kind="numpy"), or a pandas DataFrame
    with kind="pandas". NULLs: None in lists and object columns; in fixed-width numpy columns by the
    nulls= rule ("mask": a numpy.ma.MaskedArray, "nan": NaN, "raise": an error). datetimes=True: dates
    and timestamps as numpy datetime64 instead of PL/Python's text (numpy and pandas forms; lists keep
    PL/Python's values)."""
    _build.check_options(kind, nulls)
    _check_query("execute", query, args)
    datetimes = bool(datetimes) and kind != "list"  # lists keep PL/Python's values
    raw = _impl.execute_raw(query, args, datetimes)
    if raw is None:
        raise ValueError("plcolumns.execute: the statement returned no rows (use plpy.execute for commands)")
    names, types, raws, nrows = raw
    return _build.build(names, types, raws, nrows, kind, nulls, datetimes)


class Batches:
    """The batches of a cursor over a query, each a Columns (or DataFrame) of at most `batch` rows.
    Iterate it; close() (or leaving a `with` block, or the end of the data) closes the cursor."""

    def __init__(self, fetcher, batch, kind, nulls, datetimes):
        self._fetcher = fetcher
        self._batch = batch
        self._opts = (kind, nulls, datetimes)
        self.closed = False

    def __iter__(self):
        return self

    def __next__(self):
        if self.closed:
            raise StopIteration
        raw = self._fetcher.fetch(self._batch)
        if raw is None or raw[3] == 0:
            self.close()
            raise StopIteration
        names, types, raws, nrows = raw
        return _build.build(names, types, raws, nrows, *self._opts)

    def close(self):
        if not self.closed:
            self.closed = True
            self._fetcher.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def cursor(query, args=None, batch=DEFAULT_BATCH, kind="list", nulls="mask", datetimes=False):
    """Stream a query's result in column batches (see execute() for the forms): a query larger than
    memory is read `batch` rows at a time."""
    _build.check_options(kind, nulls)
    if not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
        raise ValueError("plcolumns.cursor: batch must be a positive int, not %r" % (batch,))
    _check_query("cursor", query, args)
    datetimes = bool(datetimes) and kind != "list"  # lists keep PL/Python's values
    if FAST:
        fetcher = _impl.Fetcher(query, args, datetimes)
    elif isinstance(query, str):
        fetcher = _impl.Fetcher(query)
    else:
        fetcher = _impl.PlanFetcher(query, args)
    return Batches(fetcher, batch, kind, nulls, datetimes)


def transform(query, fn, args=None, batch=DEFAULT_BATCH, kind="list", nulls="mask", datetimes=False, lazy=False):
    """A table function over any query: read `query` in column batches, call fn(batch) on each and
    yield the rows of what it returns (a mapping of columns, a structured array, a DataFrame, or None
    for nothing). Return it from a set-returning plpython3u function. The input cursor is closed when
    the output ends, stops early or fails. In pyglite the rows are handed over batch by batch without a
    Python object per value (PostgreSQL reads a function in FROM completely anyway); lazy=True keeps
    PL/Python's one row per call instead, so that a LIMIT in the select list stops reading the input."""
    # the function's result columns are looked up now, while its frame is on the stack
    cols = result_columns()
    batches = cursor(query, args, batch, kind, nulls, datetimes)
    outs = _outputs(cols, batches, fn)
    if _rows.stream is not None and not lazy and not cols.generator:
        return _rows.stream(cols, outs)
    return _lazy_rows(cols, outs)


def _outputs(cols, batches, fn):
    """(out, matched columns) of each batch's result, the input cursor closed at the end or on failure."""
    try:
        for b in batches:
            out = fn(b)
            if out is not None:
                yield out, _rows.match(out, cols)
    finally:
        batches.close()


def _lazy_rows(cols, outs):
    for out, matched in outs:
        yield from _rows.value_rows(out, matched, cols)
