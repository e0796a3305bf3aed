/* A cap on the memory CPython allocates (--python-memory-limit / PYGLITE_PYTHON_MEMORY_LIMIT).
 *
 * Every PL/Python function shares one interpreter with the whole server, so a function that grows a list
 * without end would otherwise take the machine's memory until the kernel's OOM killer ends the server
 * (PostgreSQL loses one backend; pyglite would lose every session). RLIMIT_AS cannot be used: it is per
 * process, and PGlite's wasm memory and V8 reserve far more address space than they use.
 *
 * The cap is a hook on Python's allocators, installed at run time as tracemalloc installs its own
 * (PyMem_SetAllocator wrapping the previous allocator): the RAW domain (malloc: large objects, and what
 * pymalloc gets for blocks over 512 bytes) and pymalloc's arena allocator (256 KiB arenas for small
 * objects). Together they see all the memory Python objects use. The count is the usable size of each
 * block (malloc_usable_size), kept with atomics because the RAW domain is used without the GIL. Blocks
 * allocated before the hook was installed are subtracted when freed, so the count is "growth since
 * start-up", which is what the cap is about. Over the cap an allocation returns NULL: Python raises
 * MemoryError where the allocation happened, the function fails with an ordinary ERROR, and what it
 * built is freed with its frame. After a refusal an emergency reserve (RESERVE bytes over the cap) lets
 * the error be formatted and reported; it closes again once usage is back under the cap. */
#include "memlimit.h"
#include <malloc.h>
#include <stdatomic.h>

#define RESERVE (16 * 1024 * 1024)

static PyMemAllocatorEx g_prev_raw;
static PyObjectArenaAllocator g_prev_arena;
static int g_installed;
static _Atomic long long g_used;      /* bytes allocated through the hooks minus bytes freed */
static _Atomic long long g_limit;     /* 0 = no cap */
static _Atomic int g_refused;         /* a refusal happened and usage is still over the cap */
static _Atomic long long g_refusals;  /* how many allocations were refused (for tests and logs) */

/* May `add` more bytes be allocated? */
static int allowed(size_t add) {
  long long limit = atomic_load_explicit(&g_limit, memory_order_relaxed);
  if (limit <= 0) return 1;
  long long used = atomic_load_explicit(&g_used, memory_order_relaxed);
  if (used + (long long)add <= limit) {
    if (atomic_load_explicit(&g_refused, memory_order_relaxed)) atomic_store(&g_refused, 0);
    return 1;
  }
  if (!atomic_load_explicit(&g_refused, memory_order_relaxed)) {
    atomic_store(&g_refused, 1);
    atomic_fetch_add(&g_refusals, 1);
    return 0;
  }
  /* the reserve: formatting and reporting the MemoryError needs a little memory */
  if (used + (long long)add <= limit + RESERVE) return 1;
  atomic_fetch_add(&g_refusals, 1);
  return 0;
}

static void count(void *p, int sign) {
  if (p) atomic_fetch_add_explicit(&g_used, sign * (long long)malloc_usable_size(p), memory_order_relaxed);
}

static void *raw_malloc(void *ctx, size_t n) {
  if (!allowed(n)) return NULL;
  void *p = g_prev_raw.malloc(g_prev_raw.ctx, n);
  count(p, 1);
  return p;
}

static void *raw_calloc(void *ctx, size_t nelem, size_t elsize) {
  if (elsize && nelem > SIZE_MAX / elsize) return NULL;
  if (!allowed(nelem * elsize)) return NULL;
  void *p = g_prev_raw.calloc(g_prev_raw.ctx, nelem, elsize);
  count(p, 1);
  return p;
}

static void *raw_realloc(void *ctx, void *old, size_t n) {
  size_t before = old ? malloc_usable_size(old) : 0;
  if (n > before && !allowed(n - before)) return NULL;
  void *p = g_prev_raw.realloc(g_prev_raw.ctx, old, n);
  if (p) atomic_fetch_add_explicit(&g_used, (long long)malloc_usable_size(p) - (long long)before, memory_order_relaxed);
  return p;
}

static void raw_free(void *ctx, void *p) {
  count(p, -1);
  g_prev_raw.free(g_prev_raw.ctx, p);
}

static void *arena_alloc(void *ctx, size_t n) {
  if (!allowed(n)) return NULL;
  void *p = g_prev_arena.alloc(g_prev_arena.ctx, n);
  if (p) atomic_fetch_add_explicit(&g_used, (long long)n, memory_order_relaxed);
  return p;
}

static void arena_free(void *ctx, void *p, size_t n) {
  if (p) atomic_fetch_sub_explicit(&g_used, (long long)n, memory_order_relaxed);
  g_prev_arena.free(g_prev_arena.ctx, p, n);
}

/* Install the hooks (once, GIL held). */
static void install(void) {
  if (g_installed) return;
  PyMem_GetAllocator(PYMEM_DOMAIN_RAW, &g_prev_raw);
  PyMemAllocatorEx raw = {NULL, raw_malloc, raw_calloc, raw_realloc, raw_free};
  PyMem_SetAllocator(PYMEM_DOMAIN_RAW, &raw);
  PyObject_GetArenaAllocator(&g_prev_arena);
  PyObjectArenaAllocator arena = {NULL, arena_alloc, arena_free};
  PyObject_SetArenaAllocator(&arena);
  g_installed = 1;
}

/* _pyglite.set_memory_limit(bytes): 0 removes the cap (the hooks stay, counting). */
PyObject *py_set_memory_limit(PyObject *self, PyObject *arg) {
  long long n = PyLong_AsLongLong(arg);
  if (n == -1 && PyErr_Occurred()) return NULL;
  if (n < 0) {
    PyErr_SetString(PyExc_ValueError, "memory limit must be >= 0");
    return NULL;
  }
  if (n > 0) install();
  atomic_store(&g_limit, n);
  Py_RETURN_NONE;
}

/* _pyglite.memory_stats() -> (used, limit, refusals): used counts only since the hooks were installed. */
PyObject *py_memory_stats(PyObject *self, PyObject *unused) {
  return Py_BuildValue("(LLL)", (long long)atomic_load(&g_used), (long long)atomic_load(&g_limit),
                       (long long)atomic_load(&g_refusals));
}
