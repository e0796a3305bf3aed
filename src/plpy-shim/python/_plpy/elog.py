"""plpy.debug/log/info/notice/warning/error/fatal and plpy.quote_* (plpy_plpymodule.c).

Messages below ERROR are reported by the engine at once (ereport: client_min_messages and
log_min_messages decide where they go). plpy.error raises plpy.Error carrying the fields an
ereport(ERROR) would have had (SQLSTATE XX000 unless given). plpy.fatal ends the client's session as
FATAL does in PostgreSQL; the engine is shared, so it is reported as an ERROR inside the engine and the
session layer closes that client's connection (see src/plpy-shim/fatal.ts).
"""

import _pyglite

from _plpy.exc import call, engine_message, error_with_details, valid_sqlstate

# elog levels (elog.h, PostgreSQL 18)
DEBUG2, LOG, INFO, NOTICE, WARNING, ERROR, FATAL = 13, 15, 17, 18, 19, 21, 22

# keyword -> field name of the engine's PgErrorFields
_KEYWORDS = {
    "detail": "detail",
    "hint": "hint",
    "sqlstate": "sqlstate",
    "schema_name": "schema",
    "table_name": "table",
    "column_name": "column",
    "datatype_name": "datatype",
    "constraint_name": "constraint",
}


class Terminate(BaseException):
    """Unwinds Python after plpy.fatal(): the session is ending, no Python code is meant to run."""


def _parse(args, kw):
    """PLy_output's argument handling: (message, fields) or a TypeError/ValueError raised."""
    message = str(args[0]) if len(args) == 1 else str(args)
    fields = {}
    for key, value in kw.items():
        if key == "message":
            if len(args) != 0:
                raise TypeError("argument 'message' given by name and position")
            message = str(value)
            continue
        name = _KEYWORDS.get(key)
        if name is None:
            raise TypeError("'%s' is an invalid keyword argument for this function" % key)
        fields[name] = str(value)
    sqlstate = fields.get("sqlstate")
    if sqlstate is not None and not valid_sqlstate(sqlstate):
        raise ValueError("invalid SQLSTATE code")
    if sqlstate == "00000":
        # MAKE_SQLSTATE gives 0, which PLy_output takes for no code: the level's default applies
        del fields["sqlstate"]
    return message, fields


def _output(level, args, kw):
    message, fields = _parse(args, kw)
    if level == ERROR:
        # ereport(ERROR) inside PG_TRY, caught, re-raised as plpy.Error with the ErrorData's fields
        # (PLy_exception_set_with_details); errstart's default SQLSTATE for ERROR is XX000.
        raise error_with_details(message, fields)
    if level == FATAL:
        try:
            _pyglite.jscall("fatal", message, fields)
        finally:
            raise Terminate(message)
    try:
        _pyglite.jscall("elog", level, message, fields)
    except _pyglite.PgError as e:
        # PLy_output's PG_CATCH: whatever the ereport raised comes back as plpy.Error with its fields
        f = e.args[0] if e.args else {}
        raise error_with_details(engine_message(f), f) from None


def debug(*args, **kw):
    _output(DEBUG2, args, kw)


def log(*args, **kw):
    _output(LOG, args, kw)


def info(*args, **kw):
    _output(INFO, args, kw)


def notice(*args, **kw):
    _output(NOTICE, args, kw)


def warning(*args, **kw):
    _output(WARNING, args, kw)


def error(*args, **kw):
    _output(ERROR, args, kw)


def fatal(*args, **kw):
    _output(FATAL, args, kw)


def _one_str(fname, args, none_ok=False):
    """PyArg_ParseTuple(args, "s:<fname>") / "z:<fname>"."""
    if len(args) != 1:
        raise TypeError("%s() takes exactly 1 argument (%d given)" % (fname, len(args)))
    s = args[0]
    if s is None and none_ok:
        return None
    if not isinstance(s, str):
        raise TypeError(
            "%s() argument 1 must be %s, not %s"
            % (fname, "str or None" if none_ok else "str", "None" if s is None else type(s).__name__)
        )
    if "\x00" in s:
        raise ValueError("embedded null character")
    return s


def quote_literal(*args):
    """quote_literal_cstr: 'text' with quotes doubled; E'...' with backslashes doubled if any."""
    return call("quote", 0, _one_str("quote_literal", args))


def quote_nullable(*args):
    s = _one_str("quote_nullable", args, none_ok=True)
    return "NULL" if s is None else call("quote", 0, s)


def quote_ident(*args):
    """quote_identifier: quoted only when needed (keywords, case, characters, quote_all_identifiers)."""
    return call("quote", 1, _one_str("quote_ident", args))
