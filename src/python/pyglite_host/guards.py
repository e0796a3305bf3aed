"""Guards against Python code that would take the whole server down with it.

In PostgreSQL every client has its own backend process, so a PL/Python function that calls os._exit(),
closes file descriptor 1 or leaves a thread running harms one backend (the postmaster notices a backend
that exits and restarts the others). In pyglite one process serves every session, so these become
deviations, documented in docs/hostile.md:

- os._exit(), posix._exit() and os.abort() raise SystemExit instead of ending the process (sys.exit()
  already raises SystemExit, an ordinary PL/Python error).
- os.close() / os.closerange() refuse standard input, output and error (0, 1, 2): the server logs to
  1 and 2, and a closed 0/1/2 would be reused by the next open() - PGlite's next data file, which the
  logger would then write into. sys.stdin/stdout/stderr ignore close() (they flush instead), so print()
  keeps working for every session.
- os.fork() / os.forkpty() are refused: the child would be a second copy of the whole server (every
  session's engine, the same data files and client sockets). subprocess still works (it does not use
  os.fork). signal.signal() refuses the signals the server itself handles (SIGINT/SIGTERM for shutdown,
  SIGUSR2 for cancel, SIGSEGV/SIGBUS for wasm bounds checks, ...); others (SIGALRM) are the function's.
- sys.setrecursionlimit() is clamped to MAX_RECURSION_LIMIT: Python 3.11 checks only its own frame
  count, and recursion that passes through C (map, sorted keys, __repr__, ...) takes native stack per
  level; the engine thread has 256 MB (src/engine/client.ts), which map-recursion exhausted between 400 000
  and 800 000 levels, killing the server with SIGSEGV. 50 000 leaves room for frames ten times larger.
- Threads that are still running when the server stops are not waited for (PostgreSQL does not call
  Py_Finalize at backend exit either); Python's own shutdown would join them forever.
- PYGLITE_PYTHON_MEMORY_LIMIT caps the memory Python allocates (native/guards/memlimit.c); by default half of
  the physical memory, 0 for no cap.
"""

import errno
import io
import os
import signal
import sys
import threading

import _pyglite

STD_FDS = (0, 1, 2)
MAX_RECURSION_LIMIT = 50_000
THREAD_GRACE_SECONDS = 1.0


def _refuse_exit(what):
    def refused(*args):
        raise SystemExit(
            "%s(%s) refused: pyglite runs every session in one process, which must not exit"
            % (what, ", ".join(repr(a) for a in args))
        )

    refused.__name__ = what.rsplit(".", 1)[-1]
    refused.__qualname__ = refused.__name__
    return refused


def _guard_close(real_close, real_closerange):
    def close(fd):
        if isinstance(fd, int) and fd in STD_FDS:
            raise OSError(
                errno.EPERM,
                "pyglite: file descriptor %d is the server's standard %s, shared by every session; "
                "it cannot be closed" % (fd, ("input", "output", "error")[fd]),
            )
        return real_close(fd)

    def closerange(fd_low, fd_high):
        if fd_low <= 2 and fd_high > 0:
            raise OSError(
                errno.EPERM,
                "pyglite: os.closerange(%d, %d) would close the server's standard input, output or error"
                % (fd_low, fd_high),
            )
        return real_closerange(fd_low, fd_high)

    return close, closerange


def _refuse_fork(what):
    def refused(*args, **kwargs):
        raise OSError(
            errno.EPERM,
            "pyglite: %s() refused: the child would be a second copy of the whole server "
            "(use subprocess to run programs)" % what,
        )

    refused.__name__ = what.rsplit(".", 1)[-1]
    return refused


SERVER_SIGNALS = frozenset(
    getattr(signal, n)
    for n in (
        "SIGINT", "SIGTERM", "SIGQUIT", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGSEGV", "SIGBUS",
        "SIGFPE", "SIGILL", "SIGPIPE", "SIGCHLD", "SIGXFSZ", "SIGABRT",
    )
    if hasattr(signal, n)
)


def _guard_signal(real_signal):
    def signal_(signalnum, handler):
        if int(signalnum) in SERVER_SIGNALS:
            raise OSError(
                errno.EPERM,
                "pyglite: the handler of %s belongs to the server, shared by every session"
                % signal.Signals(int(signalnum)).name,
            )
        return real_signal(signalnum, handler)

    signal_.__name__ = "signal"
    return signal_


def _clamped_recursion_limit(real_set):
    def setrecursionlimit(limit):
        if isinstance(limit, int) and limit > MAX_RECURSION_LIMIT:
            limit = MAX_RECURSION_LIMIT
        return real_set(limit)

    setrecursionlimit._pyglite_clamp = True
    return setrecursionlimit


class _ServerStream(io.TextIOWrapper):
    """sys.stdout/stderr/stdin: close() only flushes (the stream belongs to the server)."""

    def close(self):
        try:
            self.flush()
        except (OSError, ValueError):
            pass


def _server_stream(fd, mode, old):
    try:
        raw = io.FileIO(fd, mode, closefd=False)
        buffered = io.BufferedReader(raw) if mode == "r" else io.BufferedWriter(raw)
        return _ServerStream(
            buffered,
            encoding=getattr(old, "encoding", None) or "utf-8",
            errors=getattr(old, "errors", None) or "backslashreplace",
            line_buffering=mode != "r",
        )
    except (OSError, ValueError):
        return old  # no such descriptor (the server was started with it closed): leave Python's


def _bounded_thread_shutdown(original):
    """threading._shutdown, which Py_FinalizeEx calls, without waiting forever for user threads."""

    def _shutdown():
        import time

        deadline = time.monotonic() + THREAD_GRACE_SECONDS
        main = threading.main_thread()
        left = []
        for t in threading.enumerate():
            if t is main or t.daemon:
                continue
            t.join(max(0.0, deadline - time.monotonic()))
            if t.is_alive():
                left.append(t)
        locks = getattr(threading, "_shutdown_locks", None)
        guard = getattr(threading, "_shutdown_locks_lock", None)
        if left and (locks is None or guard is None):
            return  # an unknown threading implementation: skip its wait rather than hang
        if left:
            with guard:
                for t in left:
                    locks.discard(getattr(t, "_tstate_lock", None))
        original()

    return _shutdown


def parse_size(text):
    """'512MB', '1GB', '65536' (bytes), as PostgreSQL's memory units (kB, MB, GB, TB; 1024-based)."""
    s = text.strip()
    units = {"kb": 1 << 10, "mb": 1 << 20, "gb": 1 << 30, "tb": 1 << 40, "b": 1}
    for suffix, mult in units.items():
        if s.lower().endswith(suffix):
            return int(float(s[: -len(suffix)].strip()) * mult)
    return int(s)


def install(memory_limit=None):
    for mod in (os, sys.modules.get("posix")):
        if mod is None:
            continue
        mod._exit = _refuse_exit("os._exit")
        mod.abort = _refuse_exit("os.abort")
    close, closerange = _guard_close(os.close, os.closerange)
    for mod in (os, sys.modules.get("posix")):
        if mod is not None:
            mod.close = close
            mod.closerange = closerange
    for mod in (os, sys.modules.get("posix")):
        if mod is None:
            continue
        for name in ("fork", "forkpty"):
            if hasattr(mod, name):
                setattr(mod, name, _refuse_fork("os." + name))
    if not getattr(signal.signal, "_pyglite_guard", False):
        guarded = _guard_signal(signal.signal)
        guarded._pyglite_guard = True
        signal.signal = guarded
    if not getattr(sys.setrecursionlimit, "_pyglite_clamp", False):
        sys.setrecursionlimit = _clamped_recursion_limit(sys.setrecursionlimit)
    sys.stdin = _server_stream(0, "r", sys.stdin)
    sys.stdout = _server_stream(1, "w", sys.stdout)
    sys.stderr = _server_stream(2, "w", sys.stderr)
    if not getattr(threading._shutdown, "_pyglite_bounded", False):
        bounded = _bounded_thread_shutdown(threading._shutdown)
        bounded._pyglite_bounded = True
        threading._shutdown = bounded
    if memory_limit is None:
        memory_limit = os.environ.get("PYGLITE_PYTHON_MEMORY_LIMIT", "")
    limit = parse_size(str(memory_limit)) if memory_limit not in ("", None) else default_memory_limit()
    if limit < 0:
        raise ValueError("PYGLITE_PYTHON_MEMORY_LIMIT must not be negative")
    if limit > 0:
        _pyglite.set_memory_limit(limit)


def default_memory_limit():
    """Half the machine's physical memory: a runaway function fails with MemoryError long before the
    kernel's OOM killer would end the whole server. PYGLITE_PYTHON_MEMORY_LIMIT=0 turns the cap off."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    except (ValueError, OSError):
        return 0
