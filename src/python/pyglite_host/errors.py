"""Python exceptions -> PostgreSQL error fields, formatted as PL/Python does (plpy_elog.c).

The engine raises the error with these fields: message "ExcType: text", SQLSTATE 38000 unless the
exception carries one (plpy.Error, plpy.SPIError), and the traceback as a CONTEXT entry:

    Traceback (most recent call last):
      PL/Python function "f", line 3, in <module>
        return 1/0
"""

import os as _os
import traceback as _tb

import plpy
from _plpy import exc as _plpy_exc
from _plpy.exc import exception_message

from . import convert

QueryCanceled = None  # set by pyglite_host.init

# tuple layout shared with src/plpython/errors.ts
FIELDS = (
    "message",
    "sqlstate",
    "detail",
    "hint",
    "context",
    "cursorpos",
    "internalquery",
    "internalpos",
    "schema",
    "table",
    "column",
    "datatype",
    "constraint",
    "elevel",
    "phase",
)

ELEVEL_ERROR = 21
ELEVEL_FATAL = 22


def _source_line(source, lineno):
    lines = source.split("\n")
    if 1 <= lineno <= len(lines):
        return lines[lineno - 1].lstrip()
    return None


# frames of the plpy package, its implementation (_plpy) and this host package: PL/Python's plpy and its
# conversions are C code, so their frames never show in a traceback
_PLPY_DIR = _os.path.dirname(_os.path.dirname(plpy.__file__)) + _os.sep
_HOST_DIR = _os.path.dirname(_os.path.abspath(__file__)) + _os.sep


def _internal(filename):
    return filename.startswith(_PLPY_DIR) or filename.startswith(_HOST_DIR)


def format_traceback(exc, proc, skip_first=False):
    """PLy_traceback: "Traceback (most recent call last):" and one entry per frame, numbered relative to the
    procedure body. PostgreSQL's first frame is the module-level call of the procedure, which it skips;
    we call the procedure directly, so its frame comes first (skip_first=False). When C code called into
    Python (a __str__, an iterator's __next__), the first frame is skipped as PostgreSQL does.
    Returns None when the traceback has no frames (PostgreSQL then adds no CONTEXT line)."""
    tb = exc.__traceback__
    frames = [fs for fs in _tb.extract_tb(tb) if not _internal(fs.filename)] if tb is not None else []
    if not frames:
        return None
    name = proc["name"] if proc else None
    source = proc["source"] if proc else None
    inline = proc is None or proc.get("kind") == "inline"
    out = ["Traceback (most recent call last):"]
    depth = 0 if skip_first else 1
    for fs in frames:
        if depth > 0:
            fname = "<module>" if depth == 1 else fs.name
            if inline:
                out.append("  PL/Python anonymous code block, line %d, in %s" % (fs.lineno - 1, fname))
            else:
                out.append('  PL/Python function "%s", line %d, in %s' % (name, fs.lineno - 1, fname))
            if source is not None and fs.filename == "<string>":
                line = _source_line(source, fs.lineno)
                if line:
                    out.append("    " + line)
        depth += 1
    return "\n".join(out)


def _attr(exc, name):
    v = getattr(exc, name, None)
    return v if v is None or isinstance(v, (str, int)) else str(v)


def _sqlstate_attr(exc):
    """PLy_get_sqlerrcode: the exception's `sqlstate` if it is a well-formed SQLSTATE other than 00000
    (MAKE_SQLSTATE gives 0 for it, which PLy_elog_impl takes for no code: 38000)."""
    v = getattr(exc, "sqlstate", None)
    return v if _plpy_exc.valid_sqlstate(v) and v != "00000" else None


# plpy.Error's attributes PLy_get_error_data reads, in its order (plpy_elog.c)
_ERROR_ATTRS = ("detail", "hint", "schema_name", "table_name", "column_name", "datatype_name", "constraint_name")


def _unconvertible_attr(exc):
    """The attribute PL/Python cannot read as a string, if any: PLy_get_sqlerrcode converts a present
    `sqlstate` (None included), get_string_attr the others unless None, with PLyUnicode_AsString, which
    fails on anything but str (PyUnicode_AsUTF8String's TypeError). Only plpy.Error's attributes are read,
    and plpy.SPIError's `sqlstate` when it has no spidata."""
    if isinstance(exc, plpy.SPIError):
        if hasattr(exc, "spidata"):
            return False
        names = ()
    elif isinstance(exc, plpy.Error):
        names = _ERROR_ATTRS
    else:
        return False
    try:
        if hasattr(exc, "sqlstate") and not isinstance(exc.sqlstate, str):
            return True
        return any(not isinstance(getattr(exc, n, None), (str, type(None))) for n in names)
    except Exception:  # noqa: BLE001 - an attribute that raises: reported as the fields have it
        return False


def _error_data(exc):
    """PLy_elog_impl: (sqlstate, detail, hint, query, position, schema, table, column, datatype,
    constraint, elevel) by the exception's kind: plpy.SPIError (its spidata), plpy.Error (attributes),
    plpy.Fatal (FATAL), anything else (38000 and nothing more)."""
    none5 = (None,) * 5
    if isinstance(exc, plpy.SPIError):
        d = getattr(exc, "spidata", None)
        if isinstance(d, tuple) and len(d) == 10 and isinstance(d[0], int):
            code = _plpy_exc.unpack_sqlstate(d[0]) if d[0] else None
            return (code,) + tuple(_attr_value(v) for v in d[1:4]) + (d[4] or 0,) + tuple(
                _attr_value(v) for v in d[5:]
            ) + (ELEVEL_ERROR,)
        return (_sqlstate_attr(exc), None, None, None, 0) + none5 + (ELEVEL_ERROR,)
    if isinstance(exc, plpy.Error):
        return (
            _sqlstate_attr(exc),
            _attr(exc, "detail"),
            _attr(exc, "hint"),
            None,
            0,
            _attr(exc, "schema_name"),
            _attr(exc, "table_name"),
            _attr(exc, "column_name"),
            _attr(exc, "datatype_name"),
            _attr(exc, "constraint_name"),
            ELEVEL_ERROR,
        )
    return (None, None, None, None, 0) + none5 + (ELEVEL_FATAL if isinstance(exc, plpy.Fatal) else ELEVEL_ERROR,)


def _attr_value(v):
    return v if v is None or isinstance(v, str) else str(v)


def _plain_error(message, sqlstate, detail, phase):
    """The fields of an ERROR with a message, SQLSTATE and detail only (no hint, traceback or position)."""
    return (message, sqlstate, detail) + (None,) * 2 + (0, None, 0) + (None,) * 5 + (ELEVEL_ERROR, phase)


def _conversion_error(detail, phase):
    """PLyUnicode_Bytes' PLy_elog(ERROR, ...) raised while PLy_elog_impl reads the error: the Python error
    it met is the detail, the SQLSTATE the default for a Python error (38000), no traceback (it has none)."""
    return _plain_error("could not convert Python Unicode object to bytes", "38000", detail, phase)


def fields_for(exc, proc, phase, message=None, skip_first=False):
    if _unconvertible_attr(exc):
        return _conversion_error("TypeError: bad argument type for built-in operation", phase)
    (sqlstate, detail, hint, query, position, schema, table, column, datatype, constraint, elevel) = _error_data(
        exc
    )
    sqlstate = sqlstate or "38000"
    if QueryCanceled is not None and isinstance(exc, QueryCanceled):
        return (str(exc), "57014", None, None, None, 0, None, 0, None, None, None, None, None, elevel, phase)
    if isinstance(exc, convert.ConversionError):
        return (str(exc), exc.sqlstate, exc.detail, None, None, 0, None, 0, None, None, None, None, None, elevel, phase)
    primary = message or exception_message(exc)
    if message:
        detail = exception_message(exc)
    return (
        primary,
        sqlstate,
        detail,
        hint,
        format_traceback(exc, proc, skip_first),
        0,
        query,
        position,
        schema,
        table,
        column,
        datatype,
        constraint,
        elevel,
        phase,
    )


def format_for_engine(proc_id, phase, exc):
    """Called by the native addon when a procedure call failed (phase 0), its result did not convert (1),
    or a set-returning function's iterator failed (2: "error fetching next item from iterator")."""
    try:
        proc = convert.procedures.get(proc_id)
        if phase == 2:
            return _encodable(
                exc, fields_for(exc, proc, phase, message="error fetching next item from iterator", skip_first=True)
            )
        return _encodable(exc, fields_for(exc, proc, phase))
    except BaseException as e:  # noqa: BLE001
        return _plain_error("could not format Python error: %s" % e, "XX000", None, phase)


def _encodable(exc, fields):
    """PL/Python converts the exception's str(), then the message, detail … to the server encoding and fails
    on what does not encode (a lone surrogate): "could not convert Python Unicode object to bytes" with the
    codec's error as detail (plpy_util.c PLyUnicode_Bytes), in place of the error being reported."""
    try:
        try:
            text = str(exc)
        except Exception:  # noqa: BLE001  (a failing __str__ is reported as the fields have it)
            text = ""
        text.encode("utf-8")
        for f in fields:
            if isinstance(f, str):
                f.encode("utf-8")
    except UnicodeEncodeError as e:
        return _conversion_error("UnicodeEncodeError: %s" % e, fields[-1])
    return fields


def format_compile_error(exc, meta_json):
    try:
        import json

        meta = json.loads(meta_json)
    except BaseException:  # noqa: BLE001
        meta = {}
    # plpy_procedure.c PLy_procedure_compile: a DO block has no name; plpy_main.c's
    # plpython_inline_error_callback adds its CONTEXT line (a function's callback has no proc yet)
    if meta.get("kind") == "inline":
        f = fields_for(exc, None, 0, message="could not compile anonymous PL/Python code block")
        return list(f[:4]) + ["PL/Python anonymous code block"] + list(f[5:])
    f = fields_for(exc, None, 0, message='could not compile PL/Python function "%s"' % meta.get("name", "?"))
    return list(f[:4]) + [None] + list(f[5:])


def describe_host_failure(exc):
    return [exception_message(exc), "XX000", "".join(_tb.format_exception(exc)), None, None]
