"""Batch aggregates: a Python class whose process() sees batches of values, usable with GROUP BY.

PostgreSQL calls an aggregate's transition function once per row; two ways keep Python out of that:
* state="array" (one non-array argument): the transition function is array_append, the final function
  hands the group's values to process() in batches (final_array);
* state="object": the state is an int4 handle (by value, unlike int8 on 32-bit builds) of a live
  Python object kept in GD (per session); the generated transition body appends the row's values to
  its buffer, and every `batch` values process(*columns) runs once on the batch. The final function
  flushes, returns finalize() and forgets the object; the combine function merges two objects. The
  handles only mean something in the backend that made them: the functions are PARALLEL UNSAFE (the
  default), so states never cross processes. Objects of a statement that failed are dropped when the
  next transaction makes its first group.
NULL inputs are skipped, as a strict transition function's are.
"""

import itertools
import textwrap

import plpy

from . import _build

_REG = "plcolumns.aggregates"  # GD key: the live objects of this session
_NOW = None  # prepared "SELECT now()": identifies the transaction the objects belong to


class Aggregate:
    """Optional base class: process(*columns) per batch, merge(other), finalize() -> the result."""

    def process(self, *columns):
        raise NotImplementedError

    def merge(self, other):
        raise NotImplementedError("this aggregate cannot merge partial states")

    def finalize(self):
        raise NotImplementedError


class _Registry:
    __slots__ = ("live", "stamp", "ids")

    def __init__(self):
        self.live = {}
        self.stamp = None
        self.ids = itertools.count(1)

    def new(self, entry):
        global _NOW
        if _NOW is None:
            _NOW = plpy.prepare("SELECT now()::text AS t")
        stamp = plpy.execute(_NOW)[0]["t"]
        if stamp != self.stamp:  # a new transaction: what is left belongs to statements that failed
            self.live.clear()
            self.stamp = stamp
        h = next(self.ids)
        if h > 2**31 - 1:  # int4 handles: start again (older handles are long finished)
            self.ids = itertools.count(2)
            h = 1
        self.live[h] = entry
        return h


class _Entry:
    __slots__ = ("obj", "bufs", "spec")

    def __init__(self, spec):
        self.spec = spec
        self.obj = spec.cls()
        self.bufs = [[] for _ in spec.types]

    def flush(self):
        bufs = self.bufs
        if not bufs[0]:
            return
        self.bufs = [[] for _ in bufs]
        self.obj.process(*[self.spec.column(b, t) for b, t in zip(bufs, self.spec.types)])


class _Spec:
    __slots__ = ("cls", "types", "batch", "kind")

    def __init__(self, cls, types, batch, kind):
        self.cls, self.types, self.batch, self.kind = cls, types, batch, kind

    def column(self, values, typoid):
        if self.kind == "list":
            return values
        np = _build.numpy()
        fixed = _build.FIXED.get(typoid)
        if fixed:
            return np.array(values, dtype=fixed[0])
        return np.fromiter(values, dtype=object, count=len(values))


def _registry(GD):
    r = GD.get(_REG)
    if r is None:
        r = GD[_REG] = _Registry()
    return r


def _spec(SD, source, clsname, types, batch, kind):
    spec = SD.get("plcolumns.spec")
    if spec is None:
        ns = {"__name__": "plcolumns_aggregate"}
        exec(compile(source, "<aggregate %s>" % clsname, "exec"), ns)
        spec = SD["plcolumns.spec"] = _Spec(ns[clsname], types, batch, kind)
    return spec


def slow_step(GD, SD, source, clsname, types, batch, kind, state, values):
    """The transition function's first call in a session, and a group's first row: the object is made
    (or found), SD gets the registry the generated body looks objects up in, the values are added."""
    reg = _registry(GD)
    SD["live"] = reg.live
    spec = _spec(SD, source, clsname, types, batch, kind)
    e = reg.live.get(state) if state is not None else None
    if e is None:
        if state is not None:
            _lost(state)
        e = _Entry(spec)
        state = reg.new(e)
    if None not in values:
        for buf, v in zip(e.bufs, values):
            buf.append(v)
        if len(e.bufs[0]) >= batch:
            e.flush()
    return state


def _lost(state):
    plpy.error(
        "plcolumns: the state of this aggregate (handle %d) is gone" % state,
        detail="Its states live in the session that made them, for one statement.",
        sqlstate="55000",
    )


def final(GD, SD, source, clsname, types, batch, kind, state):
    reg = _registry(GD)
    if state is None:  # no row at all: the result of an empty aggregate
        return _spec(SD, source, clsname, types, batch, kind).cls().finalize()
    e = reg.live.pop(state, None)
    if e is None:
        _lost(state)
    e.flush()
    return e.obj.finalize()


def final_array(SD, source, clsname, types, batch, kind, state):
    """The final function of an array-state aggregate: the group's values, collected by array_append
    without any Python per row, go to process() in batches of `batch` non-NULL values."""
    spec = _spec(SD, source, clsname, types, batch, kind)
    obj = spec.cls()
    if state is not None:
        values = [v for v in state if v is not None]
        for i in range(0, len(values), batch):
            obj.process(spec.column(values[i : i + batch], types[0]))
    return obj.finalize()


def merge(GD, a, b):
    if a is None or b is None:
        return b if a is None else a
    live = _registry(GD).live
    ea, eb = live.get(a), live.get(b)
    if ea is None or eb is None:
        _lost(a if ea is None else b)
    ea.flush()
    eb.flush()
    ea.obj.merge(eb.obj)
    del live[b]
    return a


_TAG = "$plcolumns$"


def aggregate_sql(name, argtypes, rettype, source, cls, batch=4096, kind="list", types=None, state=None):
    """The CREATE FUNCTION / CREATE AGGREGATE statements of a batch aggregate `name`(argtypes) returning
    `rettype`, whose class `cls` is defined by the Python `source`. `types`: the argument types' oids
    (looked up when not given). Put them in a migration, or run them with create_aggregate.

    state="array" (the default for one non-array argument): the transition function is PostgreSQL's
    array_append, so no Python runs per row; the final function hands the group's values to process()
    in batches. It keeps a group's values until its end (an array, at most 1 GB) and works as a window
    aggregate. state="object": the int4-handle transition function described in this module's doc,
    which holds at most `batch` values per group and calls merge() as the combine function."""
    # a body written inside a plpython3u function or DO block arrives indented (PL/Python indents every
    # line of a body before compiling it, string literals included)
    source = textwrap.dedent(source)
    if kind not in ("list", "numpy"):
        raise ValueError("plcolumns: an aggregate's kind is 'list' or 'numpy', not %r" % (kind,))
    if not isinstance(batch, int) or batch < 1:
        raise ValueError("plcolumns: batch must be a positive int")
    if _TAG in source:
        raise ValueError("plcolumns: the class source may not contain %s" % _TAG)
    argtypes = list(argtypes)
    if types is None:
        types = [plpy.execute("SELECT %s::regtype::oid::int AS o" % plpy.quote_literal(t))[0]["o"] for t in argtypes]
    if state is None:
        single = len(argtypes) == 1 and not argtypes[0].rstrip().endswith("]")
        if single and types[0]:
            r = plpy.execute("SELECT typcategory::text AS c FROM pg_type WHERE oid = %d" % int(types[0]))
            single = len(r) == 1 and r[0]["c"] != "A"
        state = "array" if single else "object"
    if state not in ("array", "object"):
        raise ValueError("plcolumns: an aggregate's state is 'array' or 'object', not %r" % (state,))
    spec = "%r, %r, %r, %d, %r" % (source, cls, list(types), batch, kind)
    if state == "array":
        if len(argtypes) != 1:
            raise ValueError("plcolumns: state='array' needs exactly one argument")
        return [
            "CREATE FUNCTION %s__final(state %s[]) RETURNS %s LANGUAGE plpython3u AS %s\n"
            "from plcolumns import _aggregate\n"
            "return _aggregate.final_array(SD, %s, state)\n%s" % (name, argtypes[0], rettype, _TAG, spec, _TAG),
            "CREATE AGGREGATE %s(%s) (SFUNC = array_append, STYPE = %s[], FINALFUNC = %s__final)"
            % (name, argtypes[0], argtypes[0], name),
        ]
    hasmerge = "def merge" in source
    params = ", ".join("v%d %s" % (i + 1, t) for i, t in enumerate(argtypes))
    vals = ", ".join("v%d" % (i + 1) for i in range(len(argtypes)))
    sig = ", ".join(argtypes)
    stmts = [
        # the per-row body: a dict lookup and an append, no further Python call (slow_step otherwise)
        "CREATE FUNCTION %s__step(state int4, %s) RETURNS int4 LANGUAGE plpython3u AS %s\n"
        "L = SD.get('live')\n"
        "e = L.get(state) if L is not None else None\n"
        "if e is not None:\n"
        "    if %s:\n"
        "        b = e.bufs\n"
        "%s"
        "        if len(b[0]) >= %d:\n"
        "            e.flush()\n"
        "    return state\n"
        "from plcolumns import _aggregate\n"
        "return _aggregate.slow_step(GD, SD, %s, state, (%s,))\n%s"
        % (
            name,
            params,
            _TAG,
            " and ".join("v%d is not None" % (i + 1) for i in range(len(argtypes))),
            "".join("        b[%d].append(v%d)\n" % (i, i + 1) for i in range(len(argtypes))),
            batch,
            spec,
            vals,
            _TAG,
        ),
        "CREATE FUNCTION %s__final(state int4) RETURNS %s LANGUAGE plpython3u AS %s\n"
        "from plcolumns import _aggregate\n"
        "return _aggregate.final(GD, SD, %s, state)\n%s" % (name, rettype, _TAG, spec, _TAG),
    ]
    combine = ""
    if hasmerge:
        stmts.append(
            "CREATE FUNCTION %s__merge(a int4, b int4) RETURNS int4 LANGUAGE plpython3u AS %s\n"
            "from plcolumns import _aggregate\n"
            "return _aggregate.merge(GD, a, b)\n%s" % (name, _TAG, _TAG)
        )
        combine = ", COMBINEFUNC = %s__merge" % name
    stmts.append(
        "CREATE AGGREGATE %s(%s) (SFUNC = %s__step, STYPE = int4, FINALFUNC = %s__final,"
        " FINALFUNC_MODIFY = READ_WRITE%s)" % (name, sig, name, name, combine)
    )
    return stmts


def create_aggregate(name, argtypes, rettype, source, cls, batch=4096, kind="list", state=None):
    """Create the batch aggregate `name` (see aggregate_sql) in the current database."""
    for s in aggregate_sql(name, argtypes, rettype, source, cls, batch, kind, state=state):
        plpy.execute(s)
