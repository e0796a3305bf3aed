/* The addon's per-process state (declared in state.h) and its small helpers: N-API argument checks, the
 * GIL's nesting, and the pending Python error stashed for lastError. */
#include "state.h"

napi_env g_env;
int g_call_depth;
int g_messages_only;
uint8_t *g_mem;
size_t g_mem_len;
const uint8_t *g_codec;
size_t g_codec_len;
uint8_t *g_resbuf;
size_t g_resbuf_len;
int32_t *g_stat;
PyObject *g_last_error;
pthread_t g_thread;
int g_ready;

static int g_gil_depth;
static PyGILState_STATE g_gil_state;
static PyObject *g_formatter; /* host callable(proc_id, phase, exc) -> tuple */

/* ------------------------------------------------------------------ helpers */

napi_value undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

napi_value throw_error(napi_env env, const char *msg) {
  napi_throw_error(env, NULL, msg);
  return NULL;
}

void gil_enter(void) {
  if (g_gil_depth++ == 0) g_gil_state = PyGILState_Ensure();
}

void gil_leave(void) {
  if (--g_gil_depth == 0) PyGILState_Release(g_gil_state);
}

int gil_depth(void) {
  return g_gil_depth;
}

int get_u32(napi_env env, napi_value v, uint32_t *out) {
  return napi_get_value_uint32(env, v, out) == napi_ok ? 0 : -1;
}

/* ------------------------------------------------------------------ errors */

/* Python frames lent to the error formatter beyond the recursion limit (stash_error). */
#define FORMAT_HEADROOM 200

/* Store the pending Python exception, formatted by the host, in g_last_error. GIL held. */
void stash_error(int proc_id, int phase) {
  PyObject *et, *exc, *tb;
  PyErr_Fetch(&et, &exc, &tb);
  PyErr_NormalizeException(&et, &exc, &tb);
  if (exc && tb) PyException_SetTraceback(exc, tb);
  Py_XDECREF(et);
  Py_XDECREF(tb);
  PyObject *t = NULL;
  if (g_formatter && exc) {
    /* An error raised at Python's recursion limit (runaway SQL -> Python -> SQL recursion) leaves no
     * frame to call the formatter in, where PL/Python formats in C (plpy_elog.c): lend it some. */
    int limit = Py_GetRecursionLimit();
    Py_SetRecursionLimit(limit + FORMAT_HEADROOM);
    t = PyObject_CallFunction(g_formatter, "iiO", proc_id, phase, exc);
    Py_SetRecursionLimit(limit);
  }
  if (!t || !PyTuple_Check(t)) {
    Py_XDECREF(t);
    PyErr_Clear();
    PyObject *msg = exc ? PyObject_Str(exc) : NULL;
    if (!msg) PyErr_Clear();
    t = Py_BuildValue("(Ns)", msg ? msg : PyUnicode_FromString("unknown Python error"), "XX000");
  }
  /* the exception's traceback keeps its frames' locals: PLy_elog_impl drops them before reporting, in the
   * execution context, so their __del__ may report messages (not run SQL: the error is pending) */
  messages_only_begin();
  Py_XDECREF(exc);
  messages_only_end();
  Py_XSETREF(g_last_error, t);
}

PyObject *py_set_formatter(PyObject *self, PyObject *f) {
  Py_INCREF(f);
  Py_XSETREF(g_formatter, f);
  Py_RETURN_NONE;
}
