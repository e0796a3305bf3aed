"""pyglite's Python host: entry points called from the engine through node-calls-python (cold paths).

Mirrors PostgreSQL's plpy_main.c / plpy_procedure.c: one interpreter, a `__main__`-like globals dict per
client session (holding GD and plpy), and per procedure a copy of it with SD, in which the munged
function body is compiled. Per-row calls do not come through here: they go through the native addon
(_pyglite), which binds arguments and calls the compiled function directly.

Entry points never raise into JS: they return a value, or ("error", fields) on failure.
"""

import json
import signal
import sys

import _pyglite

from . import convert, errors, guards, procedures, sessions, venv

#: the data directory's Python environment as applied at init (read by the pyglite schema's functions)
environment = None


class QueryCanceled(BaseException):
    """Raised inside Python code when the running statement is cancelled or times out.

    A BaseException, so `except Exception:` in user code does not swallow it.
    """

    def __init__(self, kind):
        self.kind = kind
        if kind == 2:
            msg = "canceling statement due to statement timeout"
        else:
            msg = "canceling statement due to user request"
        super().__init__(msg)
        self.sqlstate = "57014"


def _on_interrupt(signum, frame):
    kind = _pyglite.cancel_kind()
    # a cancel that arrived while SQL ran inside a plpy call was raised there by PostgreSQL (57014, an
    # SPIError Python may catch, as PostgreSQL lets it): raising it again here would hide that error
    if kind and not _pyglite.cancel_consumed():
        raise QueryCanceled(kind)


def init(config_json):
    """Install the interrupt handler, the error formatter and extra sys.path entries."""
    try:
        config = json.loads(config_json)
        global environment
        if config.get("environment"):
            environment = venv.use(config["environment"])
        for p in config.get("sys_path", []):
            if p not in sys.path:
                sys.path.append(p)
        signal.signal(signal.SIGUSR2, _on_interrupt)
        guards.install(config.get("python_memory_limit"))
        errors.QueryCanceled = QueryCanceled
        _pyglite.set_error_formatter(errors.format_for_engine)
        import plpy  # noqa: F401  (the module must import cleanly)
        from _plpy import spi as _plpy_spi

        _plpy_spi.use_result_converters(convert.result_converter)

        return sys.version.split()[0]
    except BaseException as e:  # noqa: BLE001 - reported to the engine, never raised into JS
        return ["error", errors.describe_host_failure(e)]


def compile_procedure(meta_json):
    """Compile a procedure for one session; returns its native id, or ("error", fields)."""
    try:
        meta = json.loads(meta_json)
        return procedures.compile_and_register(meta)
    except BaseException as e:  # noqa: BLE001
        return ["error", errors.format_compile_error(e, meta_json)]


def validate(meta_json):
    """Compile only (the validator at CREATE FUNCTION): None, or ("error", fields)."""
    try:
        meta = json.loads(meta_json)
        procedures.compile_only(meta)
        return None
    except BaseException as e:  # noqa: BLE001
        return ["error", errors.format_compile_error(e, meta_json)]


def set_result_desc(pid, desc_json):
    """Point a procedure's result converter at a new descriptor (RETURNS record: known per call site)."""
    try:
        procedures.set_result_desc(pid, desc_json)
        return None
    except BaseException as e:  # noqa: BLE001
        return ["error", errors.describe_host_failure(e)]


def drop_session(sid):
    """Forget a session's GD, SD and compiled procedures (the client disconnected)."""
    try:
        return sessions.drop(sid)
    except BaseException as e:  # noqa: BLE001
        return ["error", errors.describe_host_failure(e)]


def ping():
    return "pong"
