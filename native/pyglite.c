/* pyglite_native: the per-call path between PGlite (wasm) and CPython, and Python -> JS callbacks.
 *
 * node-calls-python initialises the interpreter and runs the cold paths (compiling procedures); this addon
 * shares that interpreter (same libpython) and carries what happens per row: it reads arguments straight
 * from wasm memory (FunctionCallInfo) or from a codec buffer, binds them as the procedure's globals (as
 * PL/Python does, plpy_exec.c), calls the compiled function, converts common results without a text round
 * trip, and fetches Python errors in C. Python code reaches JS through _pyglite.jscall, a persistent
 * reference to one JS dispatcher that never throws (the envelope rule of ../shared/DESIGN.md §3). */
#include "pyglite.h"
#include <pthread.h>
#include <signal.h>
#include <string.h>

/* shared state (declared in pyglite.h) */
napi_env g_env;
int g_call_depth;
uint8_t *g_mem;
size_t g_mem_len;
const uint8_t *g_codec;
size_t g_codec_len;
uint8_t *g_resbuf;
size_t g_resbuf_len;
int32_t *g_stat;
PyObject *g_result;
PyObject *g_last_error;
PyObject *s_args;

static napi_ref g_dispatch;
pthread_t g_thread;
int g_ready;
static int g_gil_depth;
static PyGILState_STATE g_gil_state;
static PyObject *g_formatter; /* host callable(proc_id, phase, exc) -> tuple */
PyObject *g_PgError;          /* _pyglite.PgError */

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

int get_u32(napi_env env, napi_value v, uint32_t *out) {
  return napi_get_value_uint32(env, v, out) == napi_ok ? 0 : -1;
}

/* Store the pending Python exception, formatted by the host, in g_last_error. GIL held. */
void stash_error(int proc_id, int phase) {
  PyObject *et, *exc, *tb;
  PyErr_Fetch(&et, &exc, &tb);
  PyErr_NormalizeException(&et, &exc, &tb);
  if (exc && tb) PyException_SetTraceback(exc, tb);
  Py_XDECREF(et);
  Py_XDECREF(tb);
  PyObject *t = NULL;
  if (g_formatter && exc) t = PyObject_CallFunction(g_formatter, "iiO", proc_id, phase, exc);
  if (!t || !PyTuple_Check(t)) {
    Py_XDECREF(t);
    PyErr_Clear();
    PyObject *msg = exc ? PyObject_Str(exc) : NULL;
    if (!msg) PyErr_Clear();
    t = Py_BuildValue("(Ns)", msg ? msg : PyUnicode_FromString("unknown Python error"), "XX000");
  }
  Py_XDECREF(exc);
  Py_XSETREF(g_last_error, t);
}

/* ------------------------------------------------------------------ Python -> JS */

static napi_value py_to_js(napi_env env, PyObject *o, int depth);

static napi_value seq_to_js(napi_env env, PyObject *o, int depth) {
  PyObject *fast = PySequence_Fast(o, "expected a sequence");
  if (!fast) return NULL;
  Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
  napi_value arr;
  napi_create_array_with_length(env, (size_t)n, &arr);
  for (Py_ssize_t i = 0; i < n; i++) {
    napi_value e = py_to_js(env, PySequence_Fast_GET_ITEM(fast, i), depth + 1);
    if (!e) {
      Py_DECREF(fast);
      return NULL;
    }
    napi_set_element(env, arr, (uint32_t)i, e);
  }
  Py_DECREF(fast);
  return arr;
}

/* None, bool, int, float, str, bytes and (nested) list/tuple/dict; NULL with a Python error otherwise. */
static napi_value py_to_js(napi_env env, PyObject *o, int depth) {
  napi_value out;
  if (depth > 16) {
    PyErr_SetString(PyExc_ValueError, "value nested too deeply");
    return NULL;
  }
  if (o == Py_None) {
    napi_get_null(env, &out);
    return out;
  }
  if (PyBool_Check(o)) {
    napi_get_boolean(env, o == Py_True, &out);
    return out;
  }
  if (PyLong_Check(o)) {
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (v == -1 && PyErr_Occurred()) return NULL;
    if (!overflow && v >= -9007199254740991LL && v <= 9007199254740991LL) {
      napi_create_int64(env, v, &out);
      return out;
    }
    PyObject *s = PyObject_Str(o); /* big ints travel as decimal strings */
    if (!s) return NULL;
    Py_ssize_t n;
    const char *u = PyUnicode_AsUTF8AndSize(s, &n);
    if (u) napi_create_string_utf8(env, u, (size_t)n, &out);
    Py_DECREF(s);
    return u ? out : NULL;
  }
  if (PyFloat_Check(o)) {
    napi_create_double(env, PyFloat_AS_DOUBLE(o), &out);
    return out;
  }
  if (PyUnicode_Check(o)) {
    Py_ssize_t n;
    const char *u = PyUnicode_AsUTF8AndSize(o, &n);
    if (!u) return NULL;
    napi_create_string_utf8(env, u, (size_t)n, &out);
    return out;
  }
  if (PyBytes_Check(o) || PyByteArray_Check(o)) {
    char *data = PyBytes_Check(o) ? PyBytes_AS_STRING(o) : PyByteArray_AS_STRING(o);
    Py_ssize_t n = PyBytes_Check(o) ? PyBytes_GET_SIZE(o) : PyByteArray_GET_SIZE(o);
    void *dst;
    napi_create_buffer_copy(env, (size_t)n, data, &dst, &out);
    return out;
  }
  if (PyList_Check(o) || PyTuple_Check(o)) return seq_to_js(env, o, depth);
  if (PyDict_Check(o)) {
    napi_create_object(env, &out);
    PyObject *k, *v;
    Py_ssize_t pos = 0;
    while (PyDict_Next(o, &pos, &k, &v)) {
      if (!PyUnicode_Check(k)) {
        PyErr_SetString(PyExc_TypeError, "dict keys passed to JS must be str");
        return NULL;
      }
      napi_value jv = py_to_js(env, v, depth + 1);
      if (!jv) return NULL;
      napi_set_named_property(env, out, PyUnicode_AsUTF8(k), jv);
    }
    return out;
  }
  PyErr_Format(PyExc_TypeError, "cannot pass %.200s to the engine", Py_TYPE(o)->tp_name);
  return NULL;
}

/* ------------------------------------------------------------------ JS -> Python */


static PyObject *js_error_to_exception(napi_env env, napi_value err) {
  PyObject *fields = js_to_py(env, err, 1);
  if (!fields) return NULL;
  PyErr_SetObject(g_PgError, fields);
  Py_DECREF(fields);
  return NULL;
}

PyObject *js_to_py(napi_env env, napi_value v, int depth) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) {
    PyErr_SetString(PyExc_RuntimeError, "napi_typeof failed");
    return NULL;
  }
  switch (t) {
    case napi_undefined:
    case napi_null:
      Py_RETURN_NONE;
    case napi_boolean: {
      bool b;
      napi_get_value_bool(env, v, &b);
      return PyBool_FromLong(b);
    }
    case napi_number: {
      double d;
      napi_get_value_double(env, v, &d);
      if (d == (double)(long long)d && d > -9007199254740992.0 && d < 9007199254740992.0)
        return PyLong_FromLongLong((long long)d);
      return PyFloat_FromDouble(d);
    }
    case napi_string: {
      size_t n;
      napi_get_value_string_utf8(env, v, NULL, 0, &n);
      char sbuf[512];
      char *buf = n < sizeof sbuf ? sbuf : (char *)PyMem_Malloc(n + 1);
      if (!buf) return PyErr_NoMemory();
      napi_get_value_string_utf8(env, v, buf, n + 1, &n);
      PyObject *o = PyUnicode_DecodeUTF8(buf, (Py_ssize_t)n, "surrogatepass");
      if (buf != sbuf) PyMem_Free(buf);
      return o;
    }
    case napi_object: {
      bool is;
      if (napi_is_typedarray(env, v, &is) == napi_ok && is) {
        /* a Uint8Array result is codec-encoded (src/python/codec.ts) */
        napi_typedarray_type tt;
        size_t len, off;
        void *data;
        napi_value ab;
        napi_get_typedarray_info(env, v, &tt, &len, &data, &ab, &off);
        /* the registered codec buffer itself: what was written is stat[14] bytes (no view made per op) */
        if (data == g_codec && len == g_codec_len && g_stat[14] >= 0 && (size_t)g_stat[14] <= len) {
          len = (size_t)g_stat[14];
          g_stat[14] = -1; /* consumed: a later view of the whole buffer means the whole buffer */
        }
        Reader r = {(const uint8_t *)data, (const uint8_t *)data + len};
        return codec_decode(&r);
      }
      if (napi_is_array(env, v, &is) == napi_ok && is) {
        uint32_t n;
        napi_get_array_length(env, v, &n);
        PyObject *lst = PyList_New(n);
        if (!lst) return NULL;
        for (uint32_t i = 0; i < n; i++) {
          napi_value e;
          napi_get_element(env, v, i, &e);
          PyObject *o = depth < 16 ? js_to_py(env, e, depth + 1) : NULL;
          if (!o) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "value nested too deeply");
            Py_DECREF(lst);
            return NULL;
          }
          PyList_SET_ITEM(lst, i, o);
        }
        return lst;
      }
      bool has;
      if (depth == 0 && napi_has_named_property(env, v, "pgerror", &has) == napi_ok && has) {
        napi_value err;
        napi_get_named_property(env, v, "pgerror", &err);
        return js_error_to_exception(env, err);
      }
      napi_value keys;
      uint32_t n;
      napi_get_property_names(env, v, &keys);
      napi_get_array_length(env, keys, &n);
      PyObject *d = PyDict_New();
      if (!d) return NULL;
      for (uint32_t i = 0; i < n; i++) {
        napi_value k, e;
        napi_get_element(env, keys, i, &k);
        napi_get_property(env, v, k, &e);
        PyObject *pk = js_to_py(env, k, depth + 1);
        PyObject *pv = pk && depth < 16 ? js_to_py(env, e, depth + 1) : NULL;
        if (!pv || PyDict_SetItem(d, pk, pv)) {
          if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "value nested too deeply");
          Py_XDECREF(pk);
          Py_XDECREF(pv);
          Py_DECREF(d);
          return NULL;
        }
        Py_DECREF(pk);
        Py_DECREF(pv);
      }
      return d;
    }
    default:
      PyErr_SetString(PyExc_TypeError, "the engine returned an unsupported JS value");
      return NULL;
  }
}

/* Call the JS function `fn` from inside a Python call, on the engine thread (a handle scope open): 0 with
 * its result in *res; -1 with a RuntimeError set when it threw (the dispatchers never throw, so that is a
 * bug of ours, and the JS exception is cleared). */
int call_engine(napi_env env, napi_ref fn, size_t argc, napi_value *argv, napi_value *res, const char *what) {
  napi_value f, recv;
  napi_get_reference_value(env, fn, &f);
  napi_get_undefined(env, &recv);
  g_call_depth--; /* while JS runs, this thread is not inside the Python call */
  napi_status st = napi_call_function(env, recv, f, argc, argv, res);
  g_call_depth++;
  if (st == napi_ok) return 0;
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) {
    napi_value exc;
    napi_get_and_clear_last_exception(env, &exc);
  }
  PyErr_Format(PyExc_RuntimeError, "internal error: %s threw", what);
  return -1;
}

/* _pyglite.jscall(op, *args): call the JS dispatcher synchronously on the engine thread. */
/* String arguments of jscall (the op name, a query text in a loop) are mostly the same few str objects
 * (constants of the calling code): their JS strings are made once and kept, keyed by the object's
 * identity, which the strong reference held here keeps unique. The dispatcher and the statement cache
 * then see one JS string whose hash V8 has already computed, instead of a new string per call. */
#define STR_CACHE 64
static struct {
  PyObject *key;
  napi_ref ref;
} str_cache[STR_CACHE];
static unsigned str_next;

napi_value str_arg(napi_env env, PyObject *o) {
  napi_value v;
  for (int i = 0; i < STR_CACHE && str_cache[i].key; i++)
    if (str_cache[i].key == o && napi_get_reference_value(env, str_cache[i].ref, &v) == napi_ok && v) return v;
  v = py_to_js(env, o, 0);
  if (!v || PyUnicode_GET_LENGTH(o) > 2048) return v;
  unsigned slot = str_next++ % STR_CACHE; /* round robin: a loop's strings stay, one-off texts pass through */
  napi_ref ref;
  if (napi_create_reference(env, v, 1, &ref) != napi_ok) return v;
  if (str_cache[slot].key) {
    Py_DECREF(str_cache[slot].key);
    napi_delete_reference(env, str_cache[slot].ref);
  }
  Py_INCREF(o);
  str_cache[slot].key = o;
  str_cache[slot].ref = ref;
  return v;
}

static PyObject *py_jscall(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  if (!g_ready || !pthread_equal(pthread_self(), g_thread)) {
    PyErr_SetString(PyExc_RuntimeError, "plpy functions can only be used by the thread running the SQL statement");
    return NULL;
  }
  if (g_call_depth <= 0) {
    PyErr_SetString(PyExc_RuntimeError, "plpy functions can only be used while a PL/Python function runs");
    return NULL;
  }
  if (nargs < 1 || nargs > 16) {
    PyErr_SetString(PyExc_TypeError, "jscall(op, *args): 1 to 16 arguments");
    return NULL;
  }
  napi_env env = g_env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) {
    PyErr_SetString(PyExc_RuntimeError, "napi_open_handle_scope failed");
    return NULL;
  }
  PyObject *out = NULL;
  napi_value argv[16], res;
  for (Py_ssize_t i = 0; i < nargs; i++) {
    argv[i] = PyUnicode_CheckExact(args[i]) ? str_arg(env, args[i]) : py_to_js(env, args[i], 0);
    if (!argv[i]) goto done;
  }
  if (call_engine(env, g_dispatch, (size_t)nargs, argv, &res, "the engine dispatcher")) goto done;
  out = js_to_py(env, res, 0);
done:
  napi_close_handle_scope(env, scope);
  return out;
}

static PyObject *py_cancel_kind(PyObject *self, PyObject *unused) {
  return PyLong_FromLong(cancel_kind());
}

/* in_call() -> bool: may plpy enter the engine now (a PL/Python call is running on this thread)? Destructors
 * of plpy objects use it: outside a call they must not touch the engine. */
static PyObject *py_in_call(PyObject *self, PyObject *unused) {
  return PyBool_FromLong(g_ready && g_call_depth > 0 && pthread_equal(pthread_self(), g_thread));
}

static PyObject *py_set_formatter(PyObject *self, PyObject *f) {
  Py_INCREF(f);
  Py_XSETREF(g_formatter, f);
  Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"jscall", (PyCFunction)(void (*)(void))py_jscall, METH_FASTCALL, "call the engine"},
    {"execute", (PyCFunction)(void (*)(void))py_spi_execute, METH_FASTCALL | METH_KEYWORDS, "plpy.execute (spiop.c)"},
    {"set_spi_hooks", py_set_spi_hooks, METH_VARARGS, "set_spi_hooks(plan_type, result_type, fallback, spi_error, pending)"},
    {"register_proc", py_register_proc, METH_VARARGS, "register a compiled procedure for the fast call path"},
    {"release_proc", py_release_proc, METH_O, "forget a registered procedure"},
    {"set_converter", py_set_converter, METH_VARARGS, "set a procedure's result converter"},
    {"sequence_check", py_sequence_check, METH_O, "PySequence_Check"},
    {"mapping_check", py_mapping_check, METH_O, "PyMapping_Check"},
    {"object_bytes", py_object_bytes, METH_O, "PyObject_Bytes"},
    {"set_failure_fields", py_set_failure_fields, METH_O, "set failure_fields(message, exc, pid) -> 5-tuple"},
    {"cancel_kind", py_cancel_kind, METH_NOARGS, "pending cancel request of the running statement (0 = none)"},
    {"in_call", py_in_call, METH_NOARGS, "whether plpy may enter the engine now"},
    {"set_error_formatter", py_set_formatter, METH_O, "set formatter(proc_id, phase, exc) -> tuple"},
    {"set_memory_limit", py_set_memory_limit, METH_O, "cap the memory Python allocates (bytes, 0 = none)"},
    {"memory_stats", py_memory_stats, METH_NOARGS, "(used, limit, refusals) of the memory cap"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "_pyglite", "pyglite engine bridge", -1, module_methods, NULL, NULL, NULL, NULL};

/* lastError() -> array of the formatter's fields */
static napi_value LastError(napi_env env, napi_callback_info info) {
  napi_value out;
  gil_enter();
  if (!g_last_error) {
    gil_leave();
    napi_get_null(env, &out);
    return out;
  }
  out = py_to_js(env, g_last_error, 0);
  if (!out) {
    PyErr_Clear();
    napi_create_array(env, &out);
  }
  Py_CLEAR(g_last_error);
  gil_leave();
  return out;
}

/* ------------------------------------------------------------------ setup */

/* init(dispatcher) -> Int32Array status words. Engine thread, after node-calls-python started Python. */
static napi_value Init(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_valuetype t;
  if (argc < 1 || napi_typeof(env, argv[0], &t) != napi_ok || t != napi_function)
    return throw_error(env, "init(dispatcher)");
  if (!Py_IsInitialized()) return throw_error(env, "Python is not initialised (node-calls-python must load first)");
  if (g_ready) return throw_error(env, "init: already initialised in this process");
  gil_enter();
  PyObject *m = PyModule_Create(&module_def);
  PyObject *modules = PyImport_GetModuleDict();
  int ok = m != NULL && codec_init() == 0;
  if (ok) {
    g_PgError = PyErr_NewException("_pyglite.PgError", PyExc_Exception, NULL);
    ok = g_PgError && PyModule_AddObjectRef(m, "PgError", g_PgError) == 0 && PyType_Ready(&ConverterType) == 0 &&
         PyModule_AddObjectRef(m, "Converter", (PyObject *)&ConverterType) == 0 && PyType_Ready(&ResultType) == 0 &&
         PyModule_AddObjectRef(m, "ResultBase", (PyObject *)&ResultType) == 0 && PyType_Ready(&PlanType) == 0 &&
         PyModule_AddObjectRef(m, "PlanBase", (PyObject *)&PlanType) == 0 &&
         PyDict_SetItemString(modules, "_pyglite", m) == 0;
  }
  s_args = PyUnicode_InternFromString("args");
  Py_XDECREF(m);
  if (!ok) PyErr_Print();
  gil_leave();
  if (!ok) return throw_error(env, "init: could not create the _pyglite module");
  napi_create_reference(env, argv[0], 1, &g_dispatch);
  g_env = env;
  g_thread = pthread_self();
  g_ready = 1;
  /* status words shared with JS */
  void *data;
  napi_value ab, arr;
  napi_create_arraybuffer(env, 4 * STAT_WORDS, &data, &ab);
  memset(data, 0, 4 * STAT_WORDS);
  g_stat = (int32_t *)data;
  g_stat[14] = -1;
  napi_create_typedarray(env, napi_int32_array, STAT_WORDS, ab, 0, &arr);
  napi_ref keep; /* the status words live as long as the process */
  napi_create_reference(env, ab, 1, &keep);
  return arr;
}

/* setMemory(wasmMemoryBuffer, addrInterruptPending, addrQueryCancelPending[, addrLatchIsSet]) */
static napi_value SetMemory(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *data;
  size_t len;
  uint32_t a_int = 0, a_cancel = 0, a_latch = 0;
  if (argc < 3 || napi_get_arraybuffer_info(env, argv[0], &data, &len) != napi_ok || get_u32(env, argv[1], &a_int) ||
      get_u32(env, argv[2], &a_cancel))
    return throw_error(env, "setMemory(arrayBuffer, addrInterruptPending, addrQueryCancelPending)");
  if (argc >= 4 && get_u32(env, argv[3], &a_latch)) a_latch = 0;
  g_mem = (uint8_t *)data;
  g_mem_len = len;
  cancel_set_target(g_mem, a_int, a_cancel, a_latch);
  return undefined(env);
}

/* The one Buffer argument of a setter: its memory, or 0 when there is none. */
static int buffer_arg(napi_env env, napi_callback_info info, void **data, size_t *len) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  return argc >= 1 && napi_get_buffer_info(env, argv[0], data, len) == napi_ok;
}

/* setCodecBuffer(buffer) */
static napi_value SetCodecBuffer(napi_env env, napi_callback_info info) {
  void *data;
  size_t len;
  if (!buffer_arg(env, info, &data, &len)) return throw_error(env, "setCodecBuffer(buffer)");
  g_codec = data;
  g_codec_len = len;
  return undefined(env);
}

/* setResultBuffer(buffer): where small converted results are copied (no Buffer allocation per call) */
static napi_value SetResultBuffer(napi_env env, napi_callback_info info) {
  void *data;
  size_t len;
  if (!buffer_arg(env, info, &data, &len)) return throw_error(env, "setResultBuffer(buffer)");
  g_resbuf = data;
  g_resbuf_len = len;
  return undefined(env);
}

/* memoryAddress(arrayBuffer) -> number: where an ArrayBuffer's bytes live (to check V8 keeps it in place) */
static napi_value MemoryAddress(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *data;
  size_t len;
  if (argc < 1 || napi_get_arraybuffer_info(env, argv[0], &data, &len) != napi_ok)
    return throw_error(env, "memoryAddress(arrayBuffer)");
  napi_create_double(env, (double)(uintptr_t)data, &out);
  return out;
}

/* enableInterrupts(): signals may now be sent to this (engine) thread; Python's SIGUSR2 handler is set. */
static napi_value EnableInterrupts(napi_env env, napi_callback_info info) {
  if (cancel_install_restart_flag(SIGUSR2)) return throw_error(env, "enableInterrupts: no Python handler for SIGUSR2");
  cancel_set_engine_thread();
  return undefined(env);
}

/* execBegin(token, statementTimeoutMs): hold the GIL for the exec; arm cancel and timeout. */
static napi_value ExecBegin(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  double token;
  int32_t timeout = 0;
  if (argc < 2 || napi_get_value_double(env, argv[0], &token) != napi_ok ||
      napi_get_value_int32(env, argv[1], &timeout) != napi_ok)
    return throw_error(env, "execBegin(token, timeoutMs)");
  cancel_exec_begin(token, timeout);
  if (g_ready) gil_enter();
  return undefined(env);
}

static napi_value ExecEnd(napi_env env, napi_callback_info info) {
  if (g_ready && g_gil_depth > 0) gil_leave();
  cancel_exec_end();
  return undefined(env);
}

/* cancel(token, kind) -> bool. Any thread. */
static napi_value Cancel(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], out;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  double token;
  int32_t kind;
  if (argc < 2 || napi_get_value_double(env, argv[0], &token) != napi_ok ||
      napi_get_value_int32(env, argv[1], &kind) != napi_ok || (kind != CANCEL_USER && kind != CANCEL_TIMEOUT))
    return throw_error(env, "cancel(token, kind)");
  napi_get_boolean(env, cancel_request(token, kind), &out);
  return out;
}

static napi_value CancelKind(napi_env env, napi_callback_info info) {
  napi_value out;
  napi_create_int32(env, cancel_kind(), &out);
  return out;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor d[] = {
      {"init", 0, Init, 0, 0, 0, napi_default, 0},
      {"setMemory", 0, SetMemory, 0, 0, 0, napi_default, 0},
      {"setCodecBuffer", 0, SetCodecBuffer, 0, 0, 0, napi_default, 0},
      {"setResultBuffer", 0, SetResultBuffer, 0, 0, 0, napi_default, 0},
      {"memoryAddress", 0, MemoryAddress, 0, 0, 0, napi_default, 0},
      {"enableInterrupts", 0, EnableInterrupts, 0, 0, 0, napi_default, 0},
      {"execBegin", 0, ExecBegin, 0, 0, 0, napi_default, 0},
      {"execEnd", 0, ExecEnd, 0, 0, 0, napi_default, 0},
      {"cancel", 0, Cancel, 0, 0, 0, napi_default, 0},
      {"cancelKind", 0, CancelKind, 0, 0, 0, napi_default, 0},
      {"call", 0, Call, 0, 0, 0, napi_default, 0},
      {"copyText", 0, CopyText, 0, 0, 0, napi_default, 0},
      {"takeResult", 0, TakeResult, 0, 0, 0, napi_default, 0},
      {"dropResult", 0, DropResult, 0, 0, 0, napi_default, 0},
      {"lastError", 0, LastError, 0, 0, 0, napi_default, 0},
      {"releaseProc", 0, ReleaseProc, 0, 0, 0, napi_default, 0},
      {"srfStart", 0, SrfStart, 0, 0, 0, napi_default, 0},
      {"srfNext", 0, SrfNext, 0, 0, 0, napi_default, 0},
      {"srfClose", 0, SrfClose, 0, 0, 0, napi_default, 0},
      {"setSpiOp", 0, SetSpiOp, 0, 0, 0, napi_default, 0},
      {"opShape", 0, OpShape, 0, 0, 0, napi_default, 0},
      {"opRows", 0, OpRows, 0, 0, 0, napi_default, 0},
  };
  napi_define_properties(env, exports, sizeof d / sizeof d[0], d);
  trigger_define(env, exports);
  return exports;
}
