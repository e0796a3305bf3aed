"""plpy.execute, plpy.prepare, plpy.cursor and their objects (plpy_spi.c, plpy_resultobject.c,
plpy_planobject.c, plpy_cursorobject.c).

The SQL runs in the engine through SPI, inside the calling statement, each operation in an internal
subtransaction (src/plpy-shim/spi.ts). Results arrive through the codec as
(status, nrows, rows, (colnames, coltypes, coltypmods) or None). Plan arguments are converted here by
the language core's output converters (pyglite_host.convert, PL/Python's rules for function results)
and handed to the engine as codec bytes; the type's input function runs in the engine.
"""

import json
import operator
import struct

import _pyglite

from _plpy.exc import Error, call, external_routine_error, no_args, spi_error

_jscall = _pyglite.jscall
_PgError = _pyglite.PgError

# plans and cursors whose Python object died while no PL/Python call was running: released by the next
# engine operation (the engine cannot be entered from a destructor outside a call)
_pending_release = []


def _flush_pending():
    while _pending_release:
        op, handle = _pending_release.pop()
        try:
            _jscall(op, handle)
        except BaseException:  # noqa: BLE001 - releasing is best effort, as in the C destructors
            pass


def _c_int(v):
    """PyArg_ParseTuple's "i": a C int, with its OverflowErrors (a C long first)."""
    if isinstance(v, float) or not hasattr(v, "__index__"):
        raise TypeError("'%s' object cannot be interpreted as an integer" % type(v).__name__)
    v = operator.index(v)
    if not -(2**63) <= v < 2**63:
        raise OverflowError("Python int too large to convert to C long")
    if v >= 2**31:
        raise OverflowError("signed integer is greater than maximum")
    if v < -(2**31):
        raise OverflowError("signed integer is less than minimum")
    return v


def _c_string(s):
    """What PyArg_ParseTuple's "s" takes: text without NUL that encodes to UTF-8 (no lone surrogate)."""
    if "\x00" in s:
        return False
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _release(op, handle):
    if _pyglite.in_call():
        try:
            _jscall(op, handle)
            return
        except BaseException:  # noqa: BLE001
            pass
    _pending_release.append((op, handle))


class PLyResult(_pyglite.ResultBase):
    """The result of plpy.execute / cursor.fetch: a list of row dicts with the command's metadata.
    PLyResult(status, nrows, rows or None, desc); construction, len(), [i], [i] = v, del and iteration
    are C (native/plpy/result.c), as in plpy_resultobject.c: a loop over plpy.execute runs no Python frame
    for them."""

    __slots__ = ()

    # METH_VARARGS in PL/Python (plpy_resultobject.c): arguments are ignored
    def nrows(self, *_, **kw):
        if kw:
            raise TypeError("PLyResult.nrows() takes no keyword arguments")
        return self._nrows

    def status(self, *_, **kw):
        if kw:
            raise TypeError("PLyResult.status() takes no keyword arguments")
        return self._status

    def _tupdesc(self, i):
        if self._desc is None:
            raise Error("command did not produce a result set")
        # the engine sends the tuple descriptor as JSON bytes, parsed only when asked for
        return json.loads(self._desc)[i]

    # METH_NOARGS: CPython's own errors for arguments
    def colnames(self, *args, **kw):
        no_args("PLyResult.colnames", args, kw)
        return self._tupdesc(0)

    def coltypes(self, *args, **kw):
        no_args("PLyResult.coltypes", args, kw)
        return self._tupdesc(1)

    def coltypmods(self, *args, **kw):
        no_args("PLyResult.coltypmods", args, kw)
        return self._tupdesc(2)

    def __str__(self):
        return "<PLyResult status=%s nrows=%s rows=%s>" % (self._status, self._nrows, self._rows)


def _result(r):
    return PLyResult(*r)


class PLyPlan(_pyglite.PlanBase):
    """A prepared statement kept for the session (SPI_keepplan); reusable through SD and GD. _id, _nargs,
    _int1, _cconv and _ckinds are C fields (native/plpy/spiop.c), read by plpy.execute's C path; execute()
    is C too (PLy_plan_execute is PLy_spi_execute_plan: plan.execute(...) is plpy.execute(plan, ...))."""

    __slots__ = ("_converters", "__weakref__")

    def __init__(self, handle, converters, kinds, full=(), ckinds=None):
        self._id = handle
        self._nargs = len(converters)
        self._converters = converters
        # one integer argument: an int32 value travels as itself (src/plpy-shim/args.ts)
        self._int1 = kinds == ["int"]
        # arguments C encodes with the compiled converters (args.ts cKind); None: _args_bytes does
        if ckinds is not None and len(ckinds) == len(converters) and len(full) == len(converters):
            self._cconv = tuple(full)
            self._ckinds = ckinds.encode("ascii")

    def cursor(self, *args, **kwargs):
        if kwargs:
            raise TypeError("PLyPlan.cursor() takes no keyword arguments")
        if len(args) > 1:
            raise TypeError("function takes at most 1 argument (%d given)" % len(args))
        return _cursor_plan(self, args[0] if args else _MISSING)

    def status(self, *args, **kw):  # PyArg_ParseTuple(args, ":status") (plpy_planobject.c)
        if kw:
            raise TypeError("PLyPlan.status() takes no keyword arguments")
        if args:
            raise TypeError("status() takes exactly 0 arguments (%d given)" % len(args))
        return True

    def __del__(self):
        _release("plan_free", self._id)


class PLyCursor:
    """A portal opened by plpy.cursor: iterate it, fetch(n) from it, close() it."""

    __slots__ = ("_name", "_closed", "__weakref__")

    def __init__(self, name):
        self._name = name
        self._closed = False

    def __iter__(self):
        return self

    def __next__(self):
        if self._closed:
            raise ValueError("iterating a closed cursor")
        rows = call("cursor_next", self._name)
        if rows is False:
            raise ValueError("iterating a cursor in an aborted subtransaction")
        if rows is None:
            raise StopIteration
        return rows[0]

    def fetch(self, *args, **kw):
        if kw:
            raise TypeError("PLyCursor.fetch() takes no keyword arguments")
        if len(args) != 1:
            raise TypeError("fetch() takes exactly 1 argument (%d given)" % len(args))
        count = _c_int(args[0])
        if self._closed:
            raise ValueError("fetch from a closed cursor")
        r = call("cursor_fetch", self._name, count)
        if r is False:
            raise ValueError("iterating a cursor in an aborted subtransaction")
        return _result(r)

    def close(self, *args, **kw):
        no_args("PLyCursor.close", args, kw)
        if not self._closed:
            if not call("cursor_close", self._name):
                raise ValueError("closing a cursor in an aborted subtransaction")
            self._closed = True

    def __del__(self):
        # PLy_cursor_dealloc; outside a call the portal is already gone or goes with its transaction
        if not self._closed:
            self._closed = True
            if _pyglite.in_call():
                try:
                    _jscall("cursor_release", self._name)
                except BaseException:  # noqa: BLE001
                    pass


for _c in (PLyResult, PLyPlan, PLyCursor):
    _c.__module__ = "builtins"
del _c


_MISSING = object()
_NONE = b"\x00"  # the codec's NONE tag (src/python/codec.ts)


def _limit(v):
    # PyArg_ParseTuple "l": an integer (or __index__) that fits the C long of the 64-bit servers PostgreSQL
    # runs on (OverflowError beyond), clamped to what SPI's long holds on wasm32
    v = operator.index(v)
    if not -(2**63) <= v < 2**63:
        raise OverflowError("Python int too large to convert to C long")
    return max(min(v, 2**31 - 1), -(2**31))


def _args_bytes(plan, values, what):
    """PLy_spi_execute_plan / PLy_cursor_plan: check the sequence, convert each element. The engine
    takes the codec bytes, or None for no arguments, or for one int argument an int32 as itself."""
    t = type(values)
    if (t is list or t is tuple) and len(values) == plan._nargs:
        # the common cases, without the generic checks below (same result)
        n = plan._nargs
        if n == 1:
            v = values[0]
            if v is None:
                return _NONE
            if plan._int1 and type(v) is int and -0x80000000 <= v <= 0x7FFFFFFF:
                return v
            return plan._converters[0](v)
        if n == 0:
            return None
        return b"".join([_NONE if v is None else c(v) for v, c in zip(values, plan._converters)])
    if values is not _MISSING:
        if isinstance(values, (str, dict)) or not hasattr(type(values), "__getitem__"):
            raise TypeError("plpy.%s takes a sequence as its second argument" % what)
        n = len(values)
    else:
        n = 0
    if n != plan._nargs:
        raise TypeError(
            "Expected sequence of %d argument%s, got %d: %s"
            % (plan._nargs, "" if plan._nargs == 1 else "s", n, "<NULL>" if values is _MISSING else str(values))
        )
    if n == 0:
        return None
    parts = []
    for j in range(n):
        try:
            v = values[j]
        except Exception as e:  # noqa: BLE001 - PySequence_GetItem failed: PLy_elog in the PG_TRY
            raise external_routine_error("could not get element %d from sequence" % j, e) from None
        # PLy_output_convert: None is NULL for every type
        parts.append(_NONE if v is None else plan._converters[j](v))
    return b"".join(parts)


def _cursor_plan(plan, values):
    _flush_pending()
    return PLyCursor(call("cursor_plan", plan._id, _args_bytes(plan, values, "cursor")))


def _execute(query=_MISSING, arg2=_MISSING, arg3=_MISSING, *more):
    """plpy.execute's forms that _pyglite.execute (native/plpy/spiop.c) leaves to Python: other argument
    types, limits that are not plain ints, plans with other arguments, pending releases."""
    if type(query) is PLyPlan and not more:
        # _execute_plan, inlined: the path of a loop over a prepared statement
        try:
            limit = 0 if arg3 is _MISSING else _limit(arg3)
        except (TypeError, OverflowError):
            # PyArg_ParseTuple(args, "O|Ol") failed: PLy_spi_execute's last word
            raise Error("plpy.execute expected a query or a plan") from None
        if _pending_release:
            _flush_pending()
        # one int32 argument of an int plan (a loop's usual call) without the _args_bytes frame
        if (
            query._int1
            and type(arg2) is list
            and len(arg2) == 1
            and type(arg2[0]) is int
            and -0x80000000 <= arg2[0] <= 0x7FFFFFFF
        ):
            args = arg2[0]
        else:
            args = _args_bytes(query, arg2, "execute")
        try:
            r = _jscall("execute_plan", query._id, args, limit)
        except _PgError as e:
            raise spi_error(e.args[0]) from None
        return PLyResult(*r)
    if isinstance(query, str) and arg3 is _MISSING and _c_string(query):
        try:
            limit = 0 if arg2 is _MISSING else _limit(arg2)
        except (TypeError, OverflowError):
            limit = None
        if limit is not None:
            if _pending_release:
                _flush_pending()
            try:
                r = _jscall("execute", query, limit)
            except _PgError as e:
                raise spi_error(e.args[0]) from None
            return PLyResult(*r)
    raise Error("plpy.execute expected a query or a plan")


# plpy.execute(query[, limit]) or plpy.execute(plan[, arguments[, limit]]): C for the common forms
_pyglite.set_spi_hooks(PLyPlan, PLyResult, _execute, spi_error, _pending_release)
execute = _pyglite.execute


def prepare(*args, **kw):
    """plpy.prepare(query[, argtypes]): parse and plan once, keep the plan for the session."""
    if kw:
        raise TypeError("prepare() takes no keyword arguments")
    if not args:
        raise TypeError("prepare() takes at least 1 argument (0 given)")
    if len(args) > 2:
        raise TypeError("prepare() takes at most 2 arguments (%d given)" % len(args))
    query = args[0]
    if not isinstance(query, str):
        raise TypeError("prepare() argument 1 must be str, not %s" % type(query).__name__)
    if "\x00" in query:
        raise ValueError("embedded null character")
    types = args[1] if len(args) == 2 else None
    names = []
    if len(args) == 2:
        # PySequence_Check: None and mappings are not sequences
        seq = hasattr(type(types), "__getitem__") and hasattr(types, "__len__")
        if types is None or isinstance(types, dict) or not seq:
            raise TypeError("second argument of plpy.prepare must be a sequence")
        for i in range(len(types)):
            try:
                t = types[i]
            except Exception as e:  # noqa: BLE001
                raise external_routine_error("could not get element %d from sequence" % i, e) from None
            # a non-string type name is PLy_elog'd inside the PG_TRY: it reaches Python as an SPIError;
            # so is one that does not encode (PLyUnicode_AsString), in its turn: [detail] tells the engine
            if isinstance(t, str):
                try:
                    t.encode("utf-8")
                except UnicodeEncodeError as e:
                    t = ["UnicodeEncodeError: %s" % e]
            else:
                t = None
            names.append(t)
    _flush_pending()
    handle, descs, kinds, ckinds = call("prepare", query, names)
    full = [_result_converter(d) for d in descs]
    return PLyPlan(handle, [_converter(f, d, k) for f, d, k in zip(full, descs, kinds)], kinds, full, ckinds)


_T_STR = b"\x06"
_T_INT32 = b"\x03"
_T_INT64 = b"\x04"
_T_FLOAT64 = b"\x05"
_u32 = struct.Struct("<I").pack
_i32 = struct.Struct("<i").pack
_i64 = struct.Struct("<q").pack
_f64 = struct.Struct("<d").pack


def _no_converters(desc):
    raise RuntimeError("plpy is not initialised: no result converters")


# the language core's result converters (pyglite_host.convert.result_converter), handed down by the host
# at start-up so that plpy never imports the host
_result_converter = _no_converters


def use_result_converters(factory):
    global _result_converter
    _result_converter = factory


def _converter(full, desc, kind):
    """The language core's output converter `full` for an argument type (PL/Python's rules for function
    results), with the common exact values encoded here directly: for int2/int4/int8 an int as itself,
    for float8 a float as itself, for text a str (what the input functions make of str()/repr() anyway,
    src/plpy-shim/args.ts); for other scalars the same bytes the core writes (str(), the UTF-8 text up to
    its first NUL, repr() for floats). native/plpy/spiop.c encode_args makes the same bytes in C."""
    if desc.get("k") != "s":
        return full
    if kind == "int":

        def integer(v):
            if type(v) is int:
                if -0x80000000 <= v <= 0x7FFFFFFF:
                    return _T_INT32 + _i32(v)
                if -0x8000000000000000 <= v <= 0x7FFFFFFFFFFFFFFF:
                    return _T_INT64 + _i64(v)
            return full(v)

        return integer
    if kind == "float":

        def double(v):
            return _T_FLOAT64 + _f64(v) if type(v) is float else full(v)

        return double

    def scalar(v):
        t = type(v)
        if t is int:
            b = str(v).encode()
        elif t is str:
            try:
                b = v.encode("utf-8")
            except UnicodeEncodeError:
                return full(v)
            if b"\x00" in b:
                return full(v)
        elif t is float:
            b = repr(v).encode()
        else:
            return full(v)
        return _T_STR + _u32(len(b)) + b

    return scalar


def cursor(*args, **kw):
    """plpy.cursor(query) or plpy.cursor(plan[, arguments])."""
    if kw:
        raise TypeError("cursor() takes no keyword arguments")
    if len(args) == 1 and isinstance(args[0], str) and _c_string(args[0]):
        _flush_pending()
        return PLyCursor(call("cursor", args[0]))
    if 1 <= len(args) <= 2:
        plan = args[0]
        if type(plan) is not PLyPlan:
            # PL/Python casts any object to a plan here; only plans work
            raise Error("plpy.cursor expected a query or a plan")
        return _cursor_plan(plan, args[1] if len(args) == 2 else _MISSING)
    raise Error("plpy.cursor expected a query or a plan")
