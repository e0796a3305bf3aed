"""The plpy module of PL/Python (PostgreSQL 18 docs, chapter "PL/Python"), served by pyglite.

Database access goes through _pyglite.jscall into the engine, which runs it with SPI inside the calling
statement. This first version carries messages, errors, execute and quoting; the rest of the API
(prepare, cursor, subtransaction, commit/rollback, spiexceptions) is added by the plpy-shim work.
"""

import _pyglite


class Error(Exception):
    """plpy.Error: raised by plpy.error(); carries sqlstate/detail/hint like PostgreSQL's."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args)
        for k, v in kwargs.items():
            setattr(self, k, v)


Error.__module__ = "plpy"


class Fatal(Exception):
    pass


Fatal.__module__ = "plpy"


class SPIError(Exception):
    """plpy.SPIError: an error raised by SQL run through plpy."""


SPIError.__module__ = "plpy"

# elog levels (elog.h)
_DEBUG2, _LOG, _INFO, _NOTICE, _WARNING, _ERROR = 13, 15, 17, 18, 19, 21


def _message(args):
    if len(args) == 1:
        return str(args[0])
    return str(args)


def _elog(level, args, kwargs):
    r = _pyglite.jscall("elog", level, _message(args), kwargs or None)
    return r


def debug(*args, **kwargs):
    _elog(_DEBUG2, args, kwargs)


def log(*args, **kwargs):
    _elog(_LOG, args, kwargs)


def info(*args, **kwargs):
    _elog(_INFO, args, kwargs)


def notice(*args, **kwargs):
    _elog(_NOTICE, args, kwargs)


def warning(*args, **kwargs):
    _elog(_WARNING, args, kwargs)


def error(*args, **kwargs):
    raise Error(_message(args), **kwargs)


def fatal(*args, **kwargs):
    raise Fatal(_message(args))


def execute(query, limit=0):
    try:
        return _pyglite.jscall("execute", query, limit)
    except _pyglite.PgError as e:
        fields = e.args[0] if e.args else {}
        err = SPIError(fields.get("message", "SPI error"))
        for k in ("sqlstate", "detail", "hint"):
            setattr(err, k, fields.get(k))
        raise err from None


def quote_literal(s):
    return "'" + str(s).replace("'", "''").replace("\\", "\\\\") + "'" if "\\" not in str(s) else (
        "E'" + str(s).replace("\\", "\\\\").replace("'", "''") + "'"
    )


def quote_nullable(s):
    return "NULL" if s is None else quote_literal(s)


def quote_ident(s):
    return '"' + str(s).replace('"', '""') + '"'
