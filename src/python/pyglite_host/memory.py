"""Give the process's freed heap back to the OS (called by the engine after a database opens).

Starting PGlite compiles 9 MB of wasm on V8's background threads; their temporary allocations stay in
glibc's per-thread malloc arenas after they are freed (~60 MB resident in a server that just started).
glibc's malloc_trim(0) returns the free pages of every arena (malloc/malloc.c mtrim). Node has no binding
for it; CPython, already in the process, reaches libc through ctypes.
"""

import ctypes

_libc = None


def trim():
    """malloc_trim(0); 1 if memory was released, 0 if not, -1 where libc has no malloc_trim."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None)  # the process's own symbols: node links glibc dynamically
    fn = getattr(_libc, "malloc_trim", None)
    if fn is None:
        return -1
    return int(fn(0))
