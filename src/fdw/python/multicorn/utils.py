"""multicorn.utils: log_to_postgres and the levels wrappers pass to it (Python's logging levels).

Below ERROR the message goes out as a PostgreSQL NOTICE/INFO/WARNING/DEBUG at once (through plpy). ERROR
and CRITICAL raise MulticornException instead, as multicorn2 3.x does, so the wrapper's `finally` blocks and
context managers run before the engine reports the error (CRITICAL as ERROR: the backend is shared).
"""

from logging import CRITICAL, DEBUG, ERROR, INFO, WARNING

REPORT_CODES = {DEBUG: 0, INFO: 1, WARNING: 2, ERROR: 3, CRITICAL: 4}


class MulticornException(Exception):
    def __init__(self, message, code, hint, detail):
        super(MulticornException, self).__init__(message)
        self._is_multicorn_exception = True
        self.message = message
        self.code = code
        self.hint = hint
        self.detail = detail


def _log_to_postgres(message, level=0, hint=None, detail=None):
    import plpy

    emit = {0: plpy.debug, 1: plpy.notice, 2: plpy.warning}.get(level, plpy.notice)
    kw = {}
    if hint is not None:
        kw["hint"] = hint
    if detail is not None:
        kw["detail"] = detail
    emit(message, **kw)


def log_to_postgres(message, level=INFO, hint=None, detail=None):
    code = REPORT_CODES.get(level)
    if code is None:
        raise KeyError("Not a valid log level")
    if code >= 3:
        raise MulticornException(message, code, hint, detail)
    _log_to_postgres(message, code, hint=hint, detail=detail)


def check_interrupts():
    """Cancel and statement_timeout already interrupt Python in pyglite (a signal raises QueryCanceled)."""
    return None
