"""The plpy module of PL/Python (PostgreSQL 18 docs, chapter "PL/Python"), served by pyglite.

Database access goes through _pyglite.jscall into the engine (src/plpy-shim/dispatch.ts), which runs
it with SPI inside the calling statement. The module mirrors plpy_plpymodule.c: messages, errors and
their spiexceptions, execute/prepare/cursor, subtransactions, transaction control and quoting.
"""

from plpy import spiexceptions
from plpy._elog import (
    debug,
    error,
    fatal,
    info,
    log,
    notice,
    quote_ident,
    quote_literal,
    quote_nullable,
    warning,
)
from plpy._exc import Error, Fatal, SPIError
from plpy._spi import cursor, execute, prepare
from plpy._xact import commit, rollback, subtransaction

__all__ = [
    "Error",
    "Fatal",
    "SPIError",
    "spiexceptions",
    "debug",
    "log",
    "info",
    "notice",
    "warning",
    "error",
    "fatal",
    "execute",
    "prepare",
    "cursor",
    "subtransaction",
    "commit",
    "rollback",
    "quote_literal",
    "quote_nullable",
    "quote_ident",
]
