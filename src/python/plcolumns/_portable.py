"""plcolumns' pure-Python path: the same raw columns as pyglite's fast path, made with plain
plpy.execute / plpy.cursor from PL/Python's row dicts. This is what runs on PostgreSQL + plpython3u."""

import itertools

import plpy

_counter = itertools.count(1)


def _transpose(result, names):
    n = len(result)
    if not n:
        return [[] for _ in names]
    if len(set(names)) != len(names):
        return [[] for _ in names]  # rejected by _build.duplicate_check before it matters
    return [list(c) for c in zip(*[tuple(row.values()) for row in result])]


def execute_raw(query, args, datetimes):
    if isinstance(query, str) and args is not None:
        raise TypeError("plcolumns.execute: arguments need a plan (plpy.prepare) in PL/Python")
    r = plpy.execute(query) if args is None else plpy.execute(query, args)
    try:
        names = r.colnames()
        types = r.coltypes()
    except plpy.Error:
        return None  # the statement returned no rows (DML without RETURNING, utility statements)
    return names, types, _transpose(r, names), len(r)


class Fetcher:
    """A SQL cursor (DECLARE ... CURSOR) read with FETCH: unlike a plpy.cursor's fetch(), FETCH's result
    knows its column names and types, also when a batch is empty."""

    __slots__ = ("name", "closed")

    def __init__(self, query):
        self.name = "plcolumns_cursor_%d" % next(_counter)
        q = query.rstrip().rstrip(";")
        plpy.execute("DECLARE %s NO SCROLL CURSOR FOR %s" % (self.name, q))
        self.closed = False

    def fetch(self, n):
        if self.closed:
            raise ValueError("fetch from a closed cursor")
        r = plpy.execute("FETCH FORWARD %d FROM %s" % (n, self.name))
        names = r.colnames()
        return names, r.coltypes(), _transpose(r, names), len(r)

    def close(self):
        if not self.closed:
            self.closed = True
            plpy.execute("CLOSE %s" % self.name)


class PlanFetcher:
    """A prepared plan's cursor (plpy.cursor(plan, args)). PL/Python's cursor results carry no column
    types, so they are inferred from the values: bool, int (int64), float (float64), else object."""

    __slots__ = ("cursor", "closed")

    def __init__(self, plan, args):
        self.cursor = plpy.cursor(plan, args if args is not None else [])
        self.closed = False

    def fetch(self, n):
        rows = self.cursor.fetch(n)
        if not len(rows):
            return None
        names = list(rows[0].keys())
        cols = _transpose(rows, names)
        types = [_infer(c) for c in cols]
        return names, types, cols, len(rows)

    def close(self):
        if not self.closed:
            self.closed = True
            self.cursor.close()


def _infer(values):
    t = None
    for v in values:
        if v is not None:
            t = type(v)
            break
    return {bool: 16, int: 20, float: 701}.get(t, 0)
