"""Per-session interpreter state: the globals that PL/Python keeps per backend (GD, plpy, __main__).

In PostgreSQL one session is one backend process with its own interpreter. Here many client sessions
share one interpreter, so everything PL/Python keeps per backend is keyed by session id.
"""

import __main__
import builtins

import _pyglite

import plpy

# what a new interpreter's __main__ holds besides __name__ and __builtins__ (PL/Python copies its dict)
_MAIN_NAMES = ("__doc__", "__package__", "__loader__", "__spec__", "__annotations__")

_sessions = {}


class Session:
    __slots__ = ("sid", "main_globals", "procs")

    def __init__(self, sid):
        self.sid = sid
        # like PostgreSQL's __main__ dict (PLy_init_interp): the module's own names (__doc__, __loader__, …,
        # __builtins__ the module), GD shared by all functions, plpy imported
        self.main_globals = {k: getattr(__main__, k) for k in _MAIN_NAMES if hasattr(__main__, k)}
        # written only by name (bodies are functions): the session's own, as its backend's would be
        self.main_globals["__annotations__"] = {}
        self.main_globals.update({"__name__": "__main__", "__builtins__": builtins, "GD": {}, "plpy": plpy})
        self.procs = {}  # key -> native proc id


def get(sid):
    s = _sessions.get(sid)
    if s is None:
        s = _sessions[sid] = Session(sid)
    return s


def drop(sid):
    s = _sessions.pop(sid, None)
    if s is None:
        return 0
    n = 0
    for pid in s.procs.values():
        try:
            _pyglite.release_proc(pid)
            n += 1
        except Exception:  # noqa: BLE001 - a running procedure stays registered
            pass
    return n
