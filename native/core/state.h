/* The addon's per-process state, which every module reads: the wasm memory view, the status words shared
 * with JS, the registered codec and result buffers, the engine thread, the GIL and the stashed error.
 *
 * Globals declared here, all owned (defined) by core/state.c:
 *   g_env, g_thread, g_ready      the engine thread's N-API env; init() done (set by pyglite.c Init)
 *   g_call_depth                  JS -> Python calls on the stack (call/, triggers/, core/jscall.c)
 *   g_messages_only               > 0: plpy may report messages only (a MODIFY's conversion, triggers/trigger.c)
 *   g_mem, g_mem_len              wasm memory of the active PGlite instance (set by exec.c setMemory)
 *   g_stat                        status words shared with JS (made by pyglite.c Init)
 *   g_codec, g_codec_len          codec buffer registered by JS (exec.c setCodecBuffer)
 *   g_resbuf, g_resbuf_len        result buffer registered by JS (exec.c setResultBuffer)
 *   g_last_error                  the pending error's fields (stash_error; read by core/jscall.c lastError)
 * Bottom of the include graph: includes no header of the addon. */
#ifndef PYGLITE_STATE_H
#define PYGLITE_STATE_H

#ifndef PY_SSIZE_T_CLEAN
#define PY_SSIZE_T_CLEAN
#endif
#include <Python.h>
#include <node_api.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

extern napi_env g_env;
extern int g_call_depth;      /* JS -> Python calls on the stack */
extern int g_messages_only;   /* > 0: only plpy's messages and quoting may enter the engine */
extern uint8_t *g_mem;        /* wasm memory of the active PGlite instance */
extern size_t g_mem_len;
extern const uint8_t *g_codec; /* codec buffer registered by JS */
extern size_t g_codec_len;
#define STAT_WORDS 32
extern int32_t *g_stat; /* status words shared with JS: [0]=status [1]=length, f64 at 8, i64 at 16, [6]/[7] result buffer base/offset,
                          * [8..14] see STATW in src/python/host.ts, [16..28] OPW there (plpy/spiop.c) */
extern int g_ready;            /* init() done: Python and the dispatcher are set up */
extern pthread_t g_thread;     /* the engine thread: the only one that may enter the engine */
extern uint8_t *g_resbuf;     /* result buffer registered by JS (S_GENERIC_INLINE results land here) */
extern size_t g_resbuf_len;
extern PyObject *g_last_error; /* tuple from the host's error formatter */

/* A stretch where Python code may run inside the PL/Python call but may only report messages (a
 * destructor or conversion PL/Python runs after SPI_finish or with a result pending): counts as a call
 * for plpy, and g_messages_only keeps SQL out. Always paired. */
static inline void messages_only_begin(void) {
  g_call_depth++;
  g_messages_only++;
}
static inline void messages_only_end(void) {
  g_messages_only--;
  g_call_depth--;
}

napi_value undefined(napi_env env);
napi_value throw_error(napi_env env, const char *msg);
int get_u32(napi_env env, napi_value v, uint32_t *out);

/* The GIL, taken once per nesting level (execBegin holds it for a whole exec). */
void gil_enter(void);
void gil_leave(void);
int gil_depth(void);

/* Store the pending Python exception, formatted by the host (phase 0 call, 1 result, 2 iterator). */
void stash_error(int proc_id, int phase);
/* _pyglite.set_error_formatter(f): formatter(proc_id, phase, exc) -> tuple, used by stash_error */
PyObject *py_set_formatter(PyObject *self, PyObject *f);

#endif
