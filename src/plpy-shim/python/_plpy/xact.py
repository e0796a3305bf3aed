"""plpy.subtransaction() (plpy_subxactobject.c) and plpy.commit()/plpy.rollback() (plpy_spi.c).

Explicit subtransactions form one stack in the engine (PL/Python's explicit_subtransactions list): an
exit always ends the innermost one, whichever object exits. Subtransactions a function leaves open are
aborted with a WARNING when it returns (src/plpy-shim/subxact.ts).
"""

from _plpy.exc import call, no_args


class PLySubtransaction:
    """Context manager for an explicit subtransaction: commits on a clean exit, rolls back on an error."""

    __slots__ = ("_started", "_exited", "__weakref__")

    def __init__(self):
        self._started = False
        self._exited = False

    def __enter__(self, *_, **kw):  # METH_VARARGS: arguments are ignored
        if kw:
            raise TypeError("PLySubtransaction.__enter__() takes no keyword arguments")
        if self._started:
            raise ValueError("this subtransaction has already been entered")
        if self._exited:
            raise ValueError("this subtransaction has already been exited")
        self._started = True
        call("subxact_enter")
        return self

    def __exit__(self, *args, **kw):
        if kw:
            raise TypeError("PLySubtransaction.__exit__() takes no keyword arguments")
        if len(args) != 3:
            raise TypeError("function takes exactly 3 arguments (%d given)" % len(args))
        if not self._started:
            raise ValueError("this subtransaction has not been entered")
        if self._exited:
            raise ValueError("this subtransaction has already been exited")
        # the engine ends the innermost explicit subtransaction; False: there is none
        if not call("subxact_exit", args[0] is not None):
            raise ValueError("there is no subtransaction to exit from")
        self._exited = True
        return None

    enter = __enter__
    exit = __exit__


PLySubtransaction.__module__ = "builtins"


def subtransaction(*args, **kw):
    no_args("plpy.subtransaction", args, kw)
    return PLySubtransaction()


def commit(*args, **kw):
    """SPI_commit: only in a procedure or DO block called outside a transaction block and outside
    subtransactions; otherwise PostgreSQL's error (2D000) is raised as an SPI exception."""
    no_args("plpy.commit", args, kw)
    call("commit")


def rollback(*args, **kw):
    no_args("plpy.rollback", args, kw)
    call("rollback")
