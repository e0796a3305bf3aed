/* Shared declarations of the pyglite native addon (the per-call path between PGlite and CPython). */
#ifndef PYGLITE_H
#define PYGLITE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <node_api.h>
#include <stdint.h>
#include <stddef.h>
#include <pthread.h>

/* ---- codec: tagged values JS -> Python (must match src/python/codec.ts) ---- */
enum {
  T_NONE = 0,
  T_FALSE = 1,
  T_TRUE = 2,
  T_INT32 = 3,
  T_INT64 = 4,
  T_FLOAT64 = 5,
  T_STR = 6,
  T_BYTES = 7,
  T_DECIMAL = 8,
  T_LIST = 9,
  T_DICT = 10,
  T_ROWS = 11,
  T_INTSTR = 12,
  T_TUPLE = 13,
  T_ARRAY = 14, /* results only (Python -> JS) */
  T_ARRAY_END = 15,
  T_ROW = 16,
  T_ERROR = 17,
};

typedef struct {
  const uint8_t *p;
  const uint8_t *end;
} Reader;

/* Decode one value; NULL with a Python exception set on malformed input. */
PyObject *codec_decode(Reader *r);
int codec_init(void);

/* ---- cancel / statement timeout (cancel.c), usable from any thread ---- */
enum { CANCEL_NONE = 0, CANCEL_USER = 1, CANCEL_TIMEOUT = 2 };

void cancel_set_engine_thread(void);
void cancel_set_target(uint8_t *mem_base, uint32_t addr_interrupt, uint32_t addr_cancel, uint32_t addr_latch);
void cancel_exec_begin(double token, int timeout_ms);
void cancel_exec_end(void);
int cancel_request(double token, int kind); /* 1 if the token was running and got the request */
int cancel_kind(void);                       /* pending request for the running exec, or 0 */
int cancel_install_restart_flag(int signo);

/* ---- memory cap on Python's allocators (memlimit.c) ---- */
PyObject *py_set_memory_limit(PyObject *self, PyObject *arg);
PyObject *py_memory_stats(PyObject *self, PyObject *unused);

/* ---- shared state of the addon (pyglite.c) ---- */
extern napi_env g_env;
extern int g_call_depth;      /* JS -> Python calls on the stack */
extern uint8_t *g_mem;        /* wasm memory of the active PGlite instance */
extern size_t g_mem_len;
extern const uint8_t *g_codec; /* codec buffer registered by JS */
extern size_t g_codec_len;
#define STAT_WORDS 32
extern int32_t *g_stat; /* status words shared with JS: [0]=status [1]=length, f64 at 8, i64 at 16, [6]/[7] result buffer base/offset,
                          * [8..14] see STATW in src/python/host.ts, [16..28] OPW there (spiop.c) */
extern int g_ready;            /* init() done: Python and the dispatcher are set up */
extern pthread_t g_thread;     /* the engine thread: the only one that may enter the engine */
extern PyObject *g_PgError;    /* _pyglite.PgError: an engine error handed to Python */
extern PyObject *g_result;    /* pending bytes (S_GENERIC) or str (S_TEXT) */
extern uint8_t *g_resbuf;     /* result buffer registered by JS (S_GENERIC_INLINE results land here) */
extern size_t g_resbuf_len;
extern PyObject *g_last_error; /* tuple from the host's error formatter */
extern PyObject *s_args;      /* interned "args" */

napi_value undefined(napi_env env);
napi_value throw_error(napi_env env, const char *msg);
void gil_enter(void);
void gil_leave(void);
int get_u32(napi_env env, napi_value v, uint32_t *out);
/* Store the pending Python exception, formatted by the host (phase 0 call, 1 result, 2 iterator). */
void stash_error(int proc_id, int phase);

/* ---- procedures and the call path (call.c) ---- */
PyObject *py_register_proc(PyObject *self, PyObject *args);
PyObject *py_release_proc(PyObject *self, PyObject *arg);
PyObject *py_set_converter(PyObject *self, PyObject *args);
PyObject *py_sequence_check(PyObject *self, PyObject *o);
PyObject *py_mapping_check(PyObject *self, PyObject *o);
PyObject *py_object_bytes(PyObject *self, PyObject *o);
napi_value Call(napi_env env, napi_callback_info info);
napi_value CopyText(napi_env env, napi_callback_info info);
napi_value TakeResult(napi_env env, napi_callback_info info);
napi_value DropResult(napi_env env, napi_callback_info info);
napi_value ReleaseProc(napi_env env, napi_callback_info info);
napi_value SrfStart(napi_env env, napi_callback_info info);
napi_value SrfNext(napi_env env, napi_callback_info info);
napi_value SrfClose(napi_env env, napi_callback_info info);
int proc_enter(uint32_t id, PyObject **func, PyObject **globals);
void proc_leave(uint32_t id);
PyObject *datum_to_py(int kind, uint32_t datum);

/* JS value → Python (codec bytes decoded, {pgerror} raised as PgError); a str argument as a JS string
 * (kept per str object: a loop's query text is made once) */
PyObject *js_to_py(napi_env env, napi_value v, int depth);
napi_value str_arg(napi_env env, PyObject *o);
int call_engine(napi_env env, napi_ref fn, size_t argc, napi_value *argv, napi_value *res, const char *what);

/* ---- plpy.execute's fast path (spiop.c) ---- */
extern PyTypeObject PlanType;
PyObject *py_spi_execute(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames);
PyObject *py_set_spi_hooks(PyObject *self, PyObject *args);
napi_value SetSpiOp(napi_env env, napi_callback_info info);
napi_value OpShape(napi_env env, napi_callback_info info);
napi_value OpRows(napi_env env, napi_callback_info info);
/* a PLyResult of `type` (a ResultBase subclass) from its four fields; steals the references */
PyObject *result_make(PyTypeObject *type, PyObject *status, PyObject *nrows, PyObject *rows, PyObject *desc);

/* ---- trigger calls (trigger.c) ---- */
void trigger_define(napi_env env, napi_value exports);

/* ---- compiled result converters (convert.c) ---- */
extern PyTypeObject ConverterType;
extern PyTypeObject ResultType; /* result.c */
/* converter(value) with the running procedure's id object: codec bytes, NULL with a Python error */
PyObject *converter_run(PyObject *converter, PyObject *value, PyObject *pid);
PyObject *py_set_failure_fields(PyObject *self, PyObject *f);

#endif
