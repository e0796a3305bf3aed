"""The plpy module of PL/Python (PostgreSQL 18 docs, chapter "PL/Python"), served by pyglite.

Database access goes through _pyglite.jscall into the engine (src/plpy-shim/dispatch.ts), which runs
it with SPI inside the calling statement. The module mirrors plpy_plpymodule.c: messages, errors and
their spiexceptions, execute/prepare/cursor, subtransactions, transaction control and quoting.
"""

from _plpy.elog import (
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
from _plpy import exc as _exc
from _plpy.exc import Error, Fatal, SPIError
from _plpy.spi import cursor, execute, prepare
from _plpy.xact import commit, rollback, subtransaction
from plpy import spiexceptions

# engine errors become these classes (_plpy.exc.spi_error): handed down, so _plpy never imports plpy
_exc.register_conditions(spiexceptions.by_sqlstate)
del _exc  # dir(plpy) lists PL/Python's names only (plpython_test)

# PL/Python's plpy is a module, not a package, and its spiexceptions an attribute named "spiexceptions"
# (PyModule_Create in plpy_plpymodule.c), never in sys.modules: `import plpy.spiexceptions` fails there
# ("'plpy' is not a package"), so it fails here too rather than work only on pyglite.
import sys as _sys

_sys.modules.pop("plpy.spiexceptions", None)
spiexceptions.__name__ = "spiexceptions"
del _sys, __path__

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
