"""Columns -> the rows of a set-returning function (plcolumns.rows), matched to the function's result
columns by name. Works the same in pyglite and in PL/Python: the result columns are looked up in the
catalog for the running function (PL/Python names its code object __plpython_procedure_<name>_<oid>)."""

import sys

import plpy

_PREFIX = "__plpython_procedure_"
_RECORD = 2249
_CATALOG = None  # the prepared catalog query (per session: plans are per backend)


class ResultColumns:
    """A function's result: `names`/`types` of its columns; `scalar` when it returns one value per row
    (SETOF a scalar type, or a single OUT column); `known` False for RETURNS SETOF record without OUT
    parameters (the column definition list is the call's: rows are then yielded as dicts)."""

    __slots__ = ("names", "types", "scalar", "known", "generator")

    def __init__(self, names, types, scalar, known=True):
        self.names, self.types, self.scalar, self.known = names, types, scalar, known
        # the function's body is a generator (it yields): its rows go one per call, since it may yield
        # other rows besides these
        self.generator = False


_CO_GENERATOR = 0x20  # inspect.CO_GENERATOR


def _function_oid():
    """(oid, body is a generator) of the running plpython3u function."""
    f = sys._getframe(1)
    while f is not None:
        name = f.f_code.co_name
        if name.startswith(_PREFIX):
            tail = name.rsplit("_", 1)[-1]
            if tail.isdigit():
                return int(tail), bool(f.f_code.co_flags & _CO_GENERATOR)
        f = f.f_back
    raise RuntimeError("plcolumns.rows: call it from the body of a set-returning plpython3u function")


def result_columns():
    """The running plpython3u function's result columns (one catalog query)."""
    oid, generator = _function_oid()
    cols = _lookup(oid)
    cols.generator = generator
    return cols


def _lookup(oid):
    global _CATALOG
    if _CATALOG is None:
        _CATALOG = plpy.prepare(
            "SELECT p.prorettype::int AS rettype, t.typtype::text AS typtype, p.proname::text AS proname,"
            " (SELECT array_agg(a.attname::text ORDER BY a.attnum) FROM pg_attribute a"
            "   WHERE t.typtype = 'c' AND a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped) AS attnames,"
            " (SELECT array_agg(a.atttypid::int ORDER BY a.attnum) FROM pg_attribute a"
            "   WHERE t.typtype = 'c' AND a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped) AS atttypes,"
            " (SELECT array_agg(u.n::text ORDER BY u.i) FROM unnest(p.proargnames, p.proallargtypes, p.proargmodes::text[])"
            "   WITH ORDINALITY AS u(n, ty, m, i) WHERE u.m IN ('o', 'b', 't')) AS outnames,"
            " (SELECT array_agg(u.ty::int ORDER BY u.i) FROM unnest(p.proargnames, p.proallargtypes, p.proargmodes::text[])"
            "   WITH ORDINALITY AS u(n, ty, m, i) WHERE u.m IN ('o', 'b', 't')) AS outtypes"
            " FROM pg_proc p JOIN pg_type t ON t.oid = p.prorettype WHERE p.oid = $1",
            ["oid"],
        )
    r = plpy.execute(_CATALOG, [oid])
    if not len(r):
        raise RuntimeError("plcolumns.rows: function %d not found in pg_proc" % oid)
    row = r[0]
    if row["outnames"]:
        names, types = row["outnames"], row["outtypes"]
        return ResultColumns(names, types, len(names) == 1)
    if row["typtype"] == "c":
        return ResultColumns(row["attnames"] or [], row["atttypes"] or [], False)
    if row["rettype"] == _RECORD:
        return ResultColumns([], [], False, known=False)
    return ResultColumns([row["proname"]], [row["rettype"]], True)


def _fail(message, detail=None, hint=None):
    plpy.error(message, detail=detail, hint=hint, sqlstate="42804")


def _columns_of(out):
    """(names, columns) of what a function returned: a mapping, a numpy structured array, a DataFrame."""
    dtype = getattr(out, "dtype", None)
    if dtype is not None and getattr(dtype, "names", None):
        return list(dtype.names), [out[n] for n in dtype.names]
    if hasattr(out, "columns") and hasattr(out, "iloc"):  # a pandas DataFrame
        names = [str(c) for c in out.columns]
        return names, [out.iloc[:, i] for i in range(len(names))]
    if hasattr(out, "keys") and hasattr(out, "__getitem__"):
        names = list(out.keys())
        return [str(n) for n in names], [out[n] for n in names]
    return None, None


def _values(col):
    """A column as a list of Python values with None for NULL (what PL/Python converts per value)."""
    if type(col) is list:
        return col
    if type(col) is tuple:
        return list(col)
    dtype = getattr(col, "dtype", None)
    if dtype is not None and hasattr(col, "to_numpy"):  # pandas Series / extension array
        if getattr(dtype, "kind", "O") == "M":
            return [None if v is None else v.to_pydatetime() for v in col.astype(object).where(col.notna(), None)]
        if type(dtype).__module__.startswith("pandas"):  # nullable dtypes: pd.NA is NULL
            return col.to_numpy(dtype=object, na_value=None).tolist()
        return col.to_numpy().tolist()
    if dtype is not None and hasattr(col, "tolist"):  # numpy (masked entries become None)
        if dtype.kind == "M":
            col = col.astype("datetime64[us]")
        return col.tolist()
    if isinstance(col, (str, bytes)) or not hasattr(col, "__len__"):
        _fail(
            "plcolumns.rows: a column must be a sequence of values, not %s" % type(col).__name__,
            hint="Return a mapping of equal-length lists or numpy arrays, a structured array or a DataFrame.",
        )
    return list(col)


# pyglite sets this (plcolumns/_fast.py): rows handed over as column batches when the engine offers it
stream = None


def match(out, cols):
    """The columns of `out` in the order of the function's result columns (the checks rows() documents),
    or None when the rows must be dicts (RETURNS SETOF record without OUT parameters)."""
    names, columns = _columns_of(out)
    if names is None:
        if cols.scalar:
            return [out]
        _fail(
            "plcolumns.rows: expected a mapping of columns, a structured array or a DataFrame, not %s"
            % type(out).__name__
        )
    lengths = [_length(c) for c in columns]
    if len(set(lengths)) > 1:
        _fail(
            "plcolumns.rows: the columns have different lengths",
            detail=", ".join("%s: %d" % (n, k) for n, k in zip(names, lengths)),
        )
    if not cols.known:
        return None
    if cols.scalar and len(names) == 1 and (len(cols.names) != 1 or names[0] not in cols.names):
        return columns  # one value per row: its name does not matter
    by_name = dict(zip(names, columns))
    missing = [n for n in cols.names if n not in by_name]
    extra = [n for n in names if n not in cols.names]
    if missing or extra:
        parts = []
        if missing:
            parts.append("missing: %s" % ", ".join(missing))
        if extra:
            parts.append("not in the result: %s" % ", ".join(extra))
        _fail(
            "plcolumns.rows: the columns returned do not match the function's result columns",
            detail="; ".join(parts) + " (result columns: %s)" % ", ".join(cols.names),
        )
    return [by_name[n] for n in cols.names]


def _length(col):
    if isinstance(col, (str, bytes)) or not hasattr(col, "__len__"):
        _fail(
            "plcolumns.rows: a column must be a sequence of values, not %s" % type(col).__name__,
            hint="Return a mapping of equal-length lists or numpy arrays, a structured array or a DataFrame.",
        )
    return len(col)


def value_rows(out, matched, cols):
    """Rows one by one, converted by PL/Python per value: tuples, values (scalar results) or dicts."""
    if matched is None:
        names, columns = _columns_of(out)
        lists = [_values(c) for c in columns]
        return iter([dict(zip(names, vals)) for vals in zip(*lists)])
    lists = [_values(c) for c in matched]
    if cols.scalar:
        return iter(lists[0])
    return zip(*lists)


def rows(out, cols=None, lazy=False):
    """The rows of `out` for the running set-returning function: `return plcolumns.rows(out)`.
    `out` is a mapping of equal-length columns (lists, numpy arrays, pandas Series), a numpy structured
    array or a pandas DataFrame; for a function returning one scalar column also a plain sequence.
    Columns are matched to the function's result columns by name; a missing or extra column or columns
    of different lengths are errors (SQLSTATE 42804), raised before any row is returned. In pyglite the
    rows are handed over as column batches when PostgreSQL allows it, unless lazy=True or the function's
    body is itself a generator (then they go one per call, as in PL/Python)."""
    if cols is None:
        cols = result_columns()
    matched = match(out, cols)
    if stream is not None and not lazy and not cols.generator:
        return stream(cols, iter([(out, matched)]))
    return value_rows(out, matched, cols)
