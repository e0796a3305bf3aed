"""The engine side of Python foreign tables (src/fdw): wrapper instances, scans, writes, transaction events.

Called from JavaScript (src/fdw/python.ts) through the Python host with JSON strings; every entry point
catches every exception and returns ["error", fields] (pyglite_host.errors.FIELDS) for the engine to raise
as a PostgreSQL ERROR, so no Python exception ever crosses into the engine.

One wrapper instance per (client session, foreign table), re-made when the table's options or columns
change, as multicorn2 keeps one per foreign table in each backend (getCacheEntry in its python.c).
"""

import json
import os
import signal
import traceback
from collections import OrderedDict
from itertools import islice

import multicorn
from multicorn.utils import MulticornException

from . import values

_HERE = os.path.dirname(os.path.abspath(__file__)) + os.sep


class _Entry(object):
    __slots__ = ("instance", "key", "depth", "sid")

    def __init__(self, instance, key, sid):
        self.instance = instance
        self.key = key
        self.depth = 0
        self.sid = sid


_instances = {}  # (sid, table oid) -> _Entry
_scans = {}  # scan id -> _Scan
_next_scan = [1]


# ------------------------------------------------------------------------------------------ errors


def _traceback(exc):
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith(_HERE)]
    if not frames:
        return None
    out = ["Traceback (most recent call last):"]
    for f in frames:
        out.append('  File "%s", line %d, in %s' % (f.filename, f.lineno, f.name))
        if f.line:
            out.append("    " + f.line.strip())
    return "\n".join(out)


def _fields(exc):
    """PostgreSQL error fields for a Python exception, as multicorn2's errorCheck reports them: a
    log_to_postgres ERROR as its message/hint/detail; anything else as "Error in python: <type>" with the
    exception text as DETAIL; the traceback (multicorn2 writes it to the server log) as CONTEXT."""
    from pyglite_host import errors

    if errors.QueryCanceled is not None and isinstance(exc, errors.QueryCanceled):
        return list(errors.fields_for(exc, None, 0))
    import plpy

    if isinstance(exc, (plpy.SPIError, plpy.Error)):
        f = list(errors.fields_for(exc, None, 0))
        f[4] = _traceback(exc)
        return f
    if getattr(exc, "_is_multicorn_exception", False):
        msg, detail, hint, ctx = str(exc.message), exc.detail, exc.hint, None
    else:
        msg, detail, hint, ctx = "Error in python: %s" % type(exc).__name__, str(exc), None, _traceback(exc)
    s = lambda v: None if v is None else str(v)  # noqa: E731
    return [msg, "XX000", s(detail), s(hint), ctx, 0, None, 0, None, None, None, None, None, 21, 0]


def _guard(fn):
    def run(*args):
        # SIGUSR2 (cancel, statement_timeout) is installed with SA_RESTART, under which a blocked lock wait
        # (queue.get) or socket read is resumed by the kernel and Python never sees the signal. While a
        # wrapper runs, only Python is on this thread: let the signal interrupt those waits (EINTR), so the
        # handler raises QueryCanceled inside the wrapper and its finally blocks run.
        signal.siginterrupt(signal.SIGUSR2, True)
        try:
            return fn(*args)
        except BaseException as e:  # noqa: BLE001 - everything goes back to the engine as an ERROR
            try:
                return ["error", _fields(e)]
            except BaseException as e2:  # noqa: BLE001
                return ["error", ["could not report a Python error: %s" % e2, "XX000"] + [None] * 13]
        finally:
            signal.siginterrupt(signal.SIGUSR2, False)

    run.__name__ = fn.__name__
    return run


# ---------------------------------------------------------------------------------------- instances


def _instance(d):
    """The wrapper instance for table definition `d` (JSON from src/fdw/catalog.ts), made or re-made,
    with begin/sub_begin called up to the current transaction level (multicorn2's begin_remote_xact)."""
    key = (d["sid"], d["relid"])
    fp = d["fingerprint"]
    e = _instances.get(key)
    if e is None or e.key != fp:
        _forget_closed_sessions(d["sid"])
        options = dict(d["options"])
        cls = multicorn.get_class(options.pop("wrapper"))
        cols = OrderedDict()
        for name, typoid, typmod, typname, basename, opts in d["columns"]:
            cols[name] = multicorn.ColumnDefinition(name, typoid, typmod, typname, basename, opts)
        e = _Entry(cls(options, cols), fp, d["sid"])
        _instances[key] = e
    level = d.get("level", 0)
    if level > 0:
        if e.depth <= 0:
            e.instance.begin(bool(d.get("serializable")))
            e.depth = 1
        while e.depth < level:
            e.depth += 1
            e.instance.sub_begin(e.depth)
    return e.instance


def _forget_closed_sessions(current):
    """Drop the instances of client sessions that have ended (pyglite_host.sessions forgets a session when
    its client disconnects; its wrappers go with it the next time an instance is made)."""
    from pyglite_host import sessions

    sessions.get(current)  # the running session is registered (dropped when its client disconnects)
    live = sessions._sessions  # noqa: SLF001 - the host's registry of open sessions
    for k in [k for k in _instances if k[0] not in live]:
        del _instances[k]


def _quals(qs):
    out = []
    for q in qs:
        v = values.from_pg(q["v"], q["c"])
        op = (q["o"], bool(q["any"])) if q.get("list") else q["o"]
        out.append(multicorn.Qual(q["f"], op, v))
    return out


def _sortkeys(sks):
    return [multicorn.SortKey(s[0], s[1], bool(s[2]), bool(s[3]), s[4]) for s in sks or []]


@_guard
def validate_class(name):
    multicorn.get_class(name)
    return None


@_guard
def plan(defn, quals, columns):
    """get_rel_size and get_path_keys for the planner: {rows, width, startup, pathkeys}."""
    d = json.loads(defn)
    inst = _instance(d)
    rows, width = inst.get_rel_size(_quals(json.loads(quals)), set(json.loads(columns)))
    pk = []
    for cols, n in inst.get_path_keys() or []:
        pk.append([[cols] if isinstance(cols, str) else list(cols), float(n)])
    return json.dumps(
        {"rows": float(rows), "width": int(width), "startup": float(getattr(inst, "_startup_cost", 20)), "pathkeys": pk}
    )


@_guard
def can_sort(defn, sortkeys):
    inst = _instance(json.loads(defn))
    wanted = _sortkeys(json.loads(sortkeys))
    got = inst.can_sort(wanted) or []
    n = 0
    for a, b in zip(wanted, got):  # only the leading keys count (cumulative sorts)
        if a.attname != b.attname or a.is_reversed != b.is_reversed or a.nulls_first != b.nulls_first:
            break
        n += 1
    return n


@_guard
def can_limit(defn, limit, offset):
    inst = _instance(json.loads(defn))
    return bool(inst.can_limit(None if limit < 0 else limit, None if offset < 0 else offset))


def _kwargs(s):
    kw = {}
    if s.get("sortkeys"):
        kw["sortkeys"] = _sortkeys(s["sortkeys"])
    if s.get("limit", -1) >= 0:
        kw["limit"] = s["limit"]
    if s.get("offset", -1) >= 0:
        kw["offset"] = s["offset"]
    return kw


@_guard
def explain(defn, scan, verbose):
    s = json.loads(scan)
    inst = _instance(json.loads(defn))
    kw = _kwargs(s)
    kw["verbose"] = bool(verbose)
    lines = inst.explain(_quals(s["quals"]), set(s["columns"]), **kw) or []
    return [str(x) for x in lines]


# --------------------------------------------------------------------------------------------- scans


class _Scan(object):
    __slots__ = ("inst", "it", "names", "attnos", "kinds", "done")


@_guard
def begin_scan(defn, scan):
    """execute(quals, columns[, sortkeys, limit, offset]) and an iterator of its rows: the scan's id."""
    d = json.loads(defn)
    s = json.loads(scan)
    inst = _instance(d)
    result = inst.execute(_quals(s["quals"]), set(s["columns"]), **_kwargs(s))
    st = _Scan()
    st.inst = inst
    st.it = iter(result) if result is not None else iter(())
    st.names = [c[0] for c in d["columns"]]
    st.attnos = s["attnos"]  # 0-based positions in st.names of the columns JS wants, in order
    st.kinds = s["kinds"]
    st.done = False
    sid = _next_scan[0]
    _next_scan[0] += 1
    _scans[sid] = st
    return sid


@_guard
def fetch(sid, n):
    """Up to n rows, column by column: [rows, column, column, ...], each column packed by values.pack
    (binary for integers, floats, booleans and text; JSON otherwise). Fewer than n rows means the iterator
    is exhausted. The rows are pulled first (islice: no more than n are taken from a generator)."""
    st = _scans[sid]
    if st.done:
        return [0]
    rows = list(islice(st.it, n))
    if len(rows) < n:
        st.done = True
    out = [len(rows)]
    if not rows or not st.attnos:
        return out
    names, attnos, kinds = st.names, st.attnos, st.kinds
    types = set(map(type, rows))
    pack = values.pack
    if types <= _SEQUENCES and min(map(len, rows)) > max(attnos):
        cols = list(zip(*rows))
        for a, k in zip(attnos, kinds):
            out.append(pack(cols[a], k))
    elif types == _DICT:
        for a, k in zip(attnos, kinds):
            name = names[a]
            out.append(pack([r.get(name) for r in rows], k))
    else:
        for a, k in zip(attnos, kinds):
            out.append(pack([_cell(r, a, names[a]) for r in rows], k))
    return out


_SEQUENCES = {tuple, list}
_DICT = {dict}


def _cell(row, a, name):
    if isinstance(row, dict):
        return row.get(name)
    if isinstance(row, (list, tuple)):
        return row[a] if a < len(row) else None
    raise TypeError("a row must be a dict or a sequence, not %s" % type(row).__name__)


def _close(st):
    it = st.it
    st.it = iter(())
    close = getattr(it, "close", None)
    if close is not None:
        close()  # a generator's finally blocks and context managers run now


@_guard
def rescan(sid):
    st = _scans.get(sid)
    if st is not None:
        _close(st)
        _scans.pop(sid, None)
    return None


@_guard
def end_scan(sid, call_end):
    st = _scans.pop(sid, None)
    if st is not None:
        try:
            _close(st)
        finally:
            if call_end:
                st.inst.end_scan()
    return None


@_guard
def end_scan_instance(defn):
    """EndForeignScan of a scan that never fetched: multicorn2 still calls end_scan."""
    _instance(json.loads(defn)).end_scan()
    return None


@_guard
def drop_scan(sid):
    """Forget a scan whose statement failed (the iterator is closed, no callbacks)."""
    st = _scans.pop(sid, None)
    if st is not None:
        _close(st)
    return None


# -------------------------------------------------------------------------------------------- writes


@_guard
def rowid(defn):
    """The wrapper's rowid_column (its NotImplementedError is the error a read-only wrapper gives)."""
    return str(_instance(json.loads(defn)).rowid_column)


@_guard
def modify_info(defn):
    """modify_batch_size."""
    inst = _instance(json.loads(defn))
    return json.dumps({"batch": int(inst.modify_batch_size or 1)})


def _rows(p):
    """The rows of a payload (column-major JSON from src/fdw/modify.ts) as dicts by column name."""
    names = p["names"]
    cols = [values.column_from_pg(col, c) for col, c in zip(p["cols"], p["cats"])]
    return [dict(zip(names, vals)) for vals in zip(*cols)] if cols else [{} for _ in range(p["n"])]


@_guard
def modify(defn, op, payload):
    """insert / bulk_insert / update / delete with the values of one or more rows (JSON). What insert or
    update return (a dict: values the foreign side changed or made, e.g. a generated key) becomes the row
    PostgreSQL keeps (RETURNING, AFTER triggers), packed as fetch packs rows; None otherwise."""
    d = json.loads(defn)
    inst = _instance(d)
    p = json.loads(payload)
    r = None
    if op == "insert":
        r = inst.insert(_rows(p)[0])
    elif op == "bulk_insert":
        inst.bulk_insert(_rows(p))
    elif op == "update":
        r = inst.update(values.from_pg(p["rowid"], p["rowidcat"]), _rows(p)[0])
    elif op == "delete":
        inst.delete(values.from_pg(p["rowid"], p["rowidcat"]))
    if not isinstance(r, dict):
        return None
    return [1] + [values.pack([r.get(n)], k) for n, k in zip(p["names"], p["kinds"])]


@_guard
def end_modify(defn):
    _instance(json.loads(defn)).end_modify()
    return None


# ------------------------------------------------------------------------------------- transactions


@_guard
def xact(sid, event):
    """pre_commit / commit / rollback of every instance of the session a transaction began on
    (multicorn_xact_callback). All are called even if one fails; the first failure is reported."""
    first = None
    for e in list(_instances.values()):
        if e.sid != sid or e.depth <= 0:
            continue
        try:
            if event == "pre_commit":
                e.instance.pre_commit()
            elif event == "commit":
                e.depth = 0
                e.instance.commit()
            elif event == "rollback":
                e.depth = 0
                e.instance.rollback()
        except BaseException as exc:  # noqa: BLE001
            if first is None:
                first = exc
    if first is not None:
        raise first
    return None


@_guard
def subxact(sid, event, level):
    """sub_commit / sub_rollback of the instances that began a subtransaction at `level`."""
    first = None
    for e in list(_instances.values()):
        if e.sid != sid or e.depth < level:
            continue
        try:
            e.depth -= 1
            if event == "commit":
                e.instance.sub_commit(level)
            else:
                e.instance.sub_rollback(level)
        except BaseException as exc:  # noqa: BLE001
            if first is None:
                first = exc
    if first is not None:
        raise first
    return None


@_guard
def drop_session(sid):
    for k in [k for k in _instances if k[0] == sid]:
        del _instances[k]
    return None


# ------------------------------------------------------------------------------------ import schema


@_guard
def import_schema(req):
    """IMPORT FOREIGN SCHEMA: the class's import_schema → CREATE FOREIGN TABLE statements."""
    r = json.loads(req)
    srv = dict(r["server_options"])
    cls = multicorn.get_class(srv.pop("wrapper"))
    tables = cls.import_schema(r["remote_schema"], srv, r["options"], r["restriction"], r["tables"]) or []
    return [t.to_statement(r["local_schema"], r["server"]) for t in tables]

