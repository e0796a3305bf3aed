"""plpy's exception classes and the conversion of engine errors into them (plpy_elog.c, plpy_spi.c).

PL/Python creates plpy.Error, plpy.Fatal and plpy.SPIError with PyErr_NewException: plain Exception
subclasses of module "plpy". An error raised by SQL run through plpy becomes the spiexceptions class of
its SQLSTATE (plain SPIError for codes without one), constructed with the message alone and carrying
the rest in `spidata` (PLy_spi_exception_set).
"""

import _pyglite


class Error(Exception):
    pass


class Fatal(Exception):
    pass


class SPIError(Exception):
    pass


for _c in (Error, Fatal, SPIError):
    _c.__module__ = "plpy"
del _c

_SQLSTATE_CHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def no_args(name, args, kw):
    """A METH_NOARGS function's argument check (`name` as CPython prints it), with CPython's messages."""
    if kw:
        raise TypeError("%s() takes no keyword arguments" % name)
    if args:
        raise TypeError("%s() takes no arguments (%d given)" % (name, len(args)))


def valid_sqlstate(s):
    """A five-character SQLSTATE of digits and upper-case letters (PLy_get_sqlerrcode's test)."""
    return isinstance(s, str) and len(s) == 5 and all(c in _SQLSTATE_CHARS for c in s)


def pack_sqlstate(s):
    """MAKE_SQLSTATE (elog.h): the int PostgreSQL keeps in ErrorData.sqlerrcode and PL/Python in spidata."""
    r = 0
    for i, c in enumerate(s[:5]):
        r |= ((ord(c) - 48) & 0x3F) << (6 * i)
    return r


def unpack_sqlstate(v):
    return "".join(chr(((v >> (6 * i)) & 0x3F) + 48) for i in range(5))


# SQLSTATE -> spiexceptions class; filled by the plpy package when it imports plpy.spiexceptions (plpy
# depends on _plpy, never the other way round)
_by_sqlstate = {}


def register_conditions(by_sqlstate):
    _by_sqlstate.update(by_sqlstate)


def exception_name(etype):
    """A Python exception's name as PL/Python prints it (PLy_get_error_data / PLy_traceback)."""
    module = getattr(etype, "__module__", None)
    name = getattr(etype, "__name__", None)
    if name is None or module is None:
        return "unrecognized exception"
    if module in ("builtins", "__main__", "exceptions"):
        return name
    return "%s.%s" % (module, name)


def exception_message(exc):
    """"<name>: <str(exc)>", the form of a Python error in PL/Python's messages and details."""
    try:
        v = str(exc)
    except BaseException:  # noqa: BLE001 - a broken __str__ must not break error reporting
        v = "unknown"
    return "%s: %s" % (exception_name(type(exc)), v)


_USER_CANCEL = "canceling statement due to user request"


def engine_message(fields):
    """An engine error's message, as PostgreSQL would have worded it."""
    message = fields.get("message") or ""
    if fields.get("sqlstate") == "57014" and message == _USER_CANCEL and _pyglite.cancel_kind() == 2:
        # our watchdog cancels like a user; PostgreSQL's own timer would have said this (postgres.c)
        message = "canceling statement due to statement timeout"
    return message


def spi_error(fields):
    """The exception for an engine error: PLy_spi_exception_set(<class of its SQLSTATE>, edata)."""
    if fields.get("plain"):
        return SPIError(fields.get("message") or "")  # PLy_exception_set(PLy_exc_spi_error, ...)
    sqlstate = fields.get("sqlstate") or "XX000"
    cls = _by_sqlstate.get(sqlstate, SPIError)
    exc = cls(engine_message(fields))
    exc.spidata = (
        pack_sqlstate(sqlstate),
        fields.get("detail"),
        fields.get("hint"),
        fields.get("internalquery"),
        fields.get("internalpos") or 0,
        fields.get("schema"),
        fields.get("table"),
        fields.get("column"),
        fields.get("datatype"),
        fields.get("constraint"),
    )
    return exc


def error_with_details(message, fields):
    """PLy_exception_set_with_details(PLy_exc_error, edata): a plain plpy.Error carrying the ErrorData's
    fields as attributes (not an SPI exception): plpy.error's, and PLy_output's when the ereport of a message
    below ERROR fails (e.g. a character the client encoding cannot take)."""
    exc = Error(message)
    exc.sqlstate = fields.get("sqlstate") or "XX000"
    exc.detail = fields.get("detail")
    exc.hint = fields.get("hint")
    exc.query = fields.get("internalquery")
    exc.schema_name = fields.get("schema")
    exc.table_name = fields.get("table")
    exc.column_name = fields.get("column")
    exc.datatype_name = fields.get("datatype")
    exc.constraint_name = fields.get("constraint")
    return exc


def external_routine_error(message, cause):
    """PLy_elog(ERROR, message) inside a PG_TRY with a subtransaction: the Python error `cause` becomes
    the detail of an ERROR 38000, which the subtransaction abort turns into an SPI exception."""
    return spi_error({"message": message, "sqlstate": "38000", "detail": exception_message(cause)})


def call(op, *args):
    """_pyglite.jscall, with engine errors raised as SPI exceptions."""
    try:
        return _pyglite.jscall(op, *args)
    except _pyglite.PgError as e:
        raise spi_error(e.args[0] if e.args else {}) from None
