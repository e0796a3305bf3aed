"""Batch aggregates: a Python class whose process() sees batches of values, usable with GROUP BY.

PostgreSQL calls an aggregate's transition function once per row. The one plcolumns generates does
almost nothing per row: its state is an int8 handle of a live Python object kept in GD (per session),
and it appends the row's values to that object's buffer; every `batch` values the class's
process(*columns) runs once on the whole batch (lists, or numpy arrays with kind="numpy"). The final
function flushes the buffer, returns finalize() and forgets the object; the combine function (when the
class has merge) merges two objects. NULL inputs are skipped, as a strict transition function's are.
The handles only mean something inside the backend that made them: the functions are PARALLEL UNSAFE
(the default), so states never cross processes. Objects of a statement that failed are dropped when
the next transaction makes its first group.
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


def stepper(GD, SD, source, clsname, types, batch, kind):
    """The transition function's per-row body, made once per session: step(state, *values) -> state."""
    reg = _registry(GD)
    spec = _spec(SD, source, clsname, types, batch, kind)
    live = reg.live
    if len(types) == 1:

        def step(state, v):
            e = live.get(state) if state is not None else None
            if e is None:
                e = _Entry(spec)
                state = reg.new(e) if state is None else _lost(state)
            if v is not None:
                buf = e.bufs[0]
                buf.append(v)
                if len(buf) >= batch:
                    e.flush()
            return state

        return step

    def step_n(state, *values):
        e = live.get(state) if state is not None else None
        if e is None:
            e = _Entry(spec)
            state = reg.new(e) if state is None else _lost(state)
        if None not in values:
            for buf, v in zip(e.bufs, values):
                buf.append(v)
            if len(e.bufs[0]) >= batch:
                e.flush()
        return state

    return step_n


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


def aggregate_sql(name, argtypes, rettype, source, cls, batch=4096, kind="list", types=None):
    """The CREATE FUNCTION / CREATE AGGREGATE statements of a batch aggregate `name`(argtypes) returning
    `rettype`, whose class `cls` is defined by the Python `source`. `types`: the argument types' oids
    (looked up when not given). Put them in a migration, or run them with create_aggregate."""
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
    hasmerge = "def merge" in source
    spec = "%r, %r, %r, %d, %r" % (source, cls, list(types), batch, kind)
    params = ", ".join("v%d %s" % (i + 1, t) for i, t in enumerate(argtypes))
    vals = ", ".join("v%d" % (i + 1) for i in range(len(argtypes)))
    sig = ", ".join(argtypes)
    stmts = [
        "CREATE FUNCTION %s__step(state int8, %s) RETURNS int8 LANGUAGE plpython3u AS %s\n"
        "s = SD.get('step')\n"
        "if s is None:\n"
        "    from plcolumns import _aggregate\n"
        "    s = SD['step'] = _aggregate.stepper(GD, SD, %s)\n"
        "return s(state, %s)\n%s" % (name, params, _TAG, spec, vals, _TAG),
        "CREATE FUNCTION %s__final(state int8) RETURNS %s LANGUAGE plpython3u AS %s\n"
        "from plcolumns import _aggregate\n"
        "return _aggregate.final(GD, SD, %s, state)\n%s" % (name, rettype, _TAG, spec, _TAG),
    ]
    combine = ""
    if hasmerge:
        stmts.append(
            "CREATE FUNCTION %s__merge(a int8, b int8) RETURNS int8 LANGUAGE plpython3u AS %s\n"
            "from plcolumns import _aggregate\n"
            "return _aggregate.merge(GD, a, b)\n%s" % (name, _TAG, _TAG)
        )
        combine = ", COMBINEFUNC = %s__merge" % name
    stmts.append(
        "CREATE AGGREGATE %s(%s) (SFUNC = %s__step, STYPE = int8, FINALFUNC = %s__final,"
        " FINALFUNC_MODIFY = READ_WRITE%s)" % (name, sig, name, name, combine)
    )
    return stmts


def create_aggregate(name, argtypes, rettype, source, cls, batch=4096, kind="list"):
    """Create the batch aggregate `name` (see aggregate_sql) in the current database."""
    for s in aggregate_sql(name, argtypes, rettype, source, cls, batch, kind):
        plpy.execute(s)
