"""plcolumns' fast path inside pyglite: the engine builds the columns from its Datums (src/columns/), so
no row dict and, for fixed-width types, no Python object per value is made. Importing this module
outside pyglite fails (there is no _pyglite), and plcolumns then uses its pure-Python path."""

import _pyglite  # noqa: F401 - only pyglite has it: the ImportError is how plcolumns tells
from _plpy import spi as _spi
from _plpy.exc import call

import plpy

if not hasattr(_spi, "_args_bytes") or not hasattr(_spi, "PLyPlan"):
    raise ImportError("this pyglite's plpy has no plan argument encoder")


def _raw(r):
    """(status, (names, types, columns, nrows) | None) -> (names, types, raws, nrows) or None."""
    return None if r[1] is None else tuple(r[1])


def execute_raw(query, args, datetimes):
    if isinstance(query, str) and args is None and "\x00" not in query:
        return _raw(call("columns_execute", query, bool(datetimes)))
    if type(query) is _spi.PLyPlan:
        values = _spi._MISSING if args is None else args
        return _raw(call("columns_execute_plan", query._id, _spi._args_bytes(query, values, "execute"), bool(datetimes)))
    if isinstance(query, str):
        raise TypeError("plcolumns.execute: arguments need a plan (plpy.prepare) in PL/Python")
    raise plpy.Error("plcolumns.execute expected a query or a plan")


class Fetcher:
    """A portal's batches as raw columns (src/columns/ops.ts). The portal is not pinned, unlike a
    plpy.cursor's: one left open (a generator dropped by LIMIT) goes with its transaction."""

    __slots__ = ("name", "datetimes", "closed")

    def __init__(self, query, args, datetimes):
        self.datetimes = bool(datetimes)
        self.closed = False
        if isinstance(query, str):
            self.name = call("columns_cursor", query)
        else:
            values = _spi._MISSING if args is None else args
            self.name = call("columns_cursor_plan", query._id, _spi._args_bytes(query, values, "cursor"))

    def fetch(self, n):
        if self.closed:
            raise ValueError("fetch from a closed cursor")
        r = call("columns_fetch", self.name, n, self.datetimes)
        if r is False:
            raise ValueError("iterating a cursor in an aborted subtransaction")
        return _raw(r)

    def close(self):
        if not self.closed:
            self.closed = True
            if _pyglite.in_call():  # else no call runs (executor shutdown): the transaction drops it
                call("columns_close", self.name)
