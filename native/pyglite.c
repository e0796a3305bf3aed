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

#define MAX_ARGS 100

/* argument kinds: how to turn fcinfo->args[i] into a Python object */
enum { A_CODEC = 0, A_INT2, A_INT4, A_INT8, A_FLOAT4, A_FLOAT8, A_BOOL, A_OID, A_TEXT, A_BYTEA };
/* result kinds: which results can skip the generic converter */
enum { R_GENERIC = 0, R_VOID, R_INT2, R_INT4, R_INT8, R_FLOAT4, R_FLOAT8, R_BOOL, R_TEXT, R_OID };
/* call status, in stat[0] */
enum { S_DATUM = 0, S_NULL, S_F64, S_I64, S_TEXT, S_GENERIC, S_ERROR, S_NEED_CODEC };

typedef struct {
  PyObject *func;      /* the compiled procedure: a zero-argument function */
  PyObject *globals;   /* its globals (arguments are bound here, as in PL/Python) */
  PyObject *argnames;  /* tuple: str or None per argument */
  PyObject *converter; /* callable(result) -> bytes, or None */
  int nargs;
  int retkind;
  int calldepth;
  uint8_t argkinds[MAX_ARGS];
} Proc;

static Proc **procs;
static uint32_t nprocs, capprocs;

static napi_env g_env;
static napi_ref g_dispatch;
static pthread_t g_thread;
static int g_ready;
static int g_gil_depth;
static PyGILState_STATE g_gil_state;
static int g_call_depth; /* JS -> Python calls on the stack */

static uint8_t *g_mem; /* wasm memory of the active PGlite instance */
static size_t g_mem_len;
static const uint8_t *g_codec; /* codec buffer registered by JS */
static size_t g_codec_len;

static int32_t *g_stat; /* status words shared with JS: [0]=status [1]=length, f64 at 8, i64 at 16 */
static PyObject *g_result;     /* pending bytes (S_GENERIC) or str (S_TEXT) */
static PyObject *g_last_error; /* tuple from the host's error formatter */
static PyObject *g_formatter;  /* host callable(proc_id, phase, exc) -> tuple */
static PyObject *g_PgError;    /* _pyglite.PgError */
static PyObject *s_args;       /* interned "args" */

/* ------------------------------------------------------------------ helpers */

static napi_value undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

static napi_value throw_error(napi_env env, const char *msg) {
  napi_throw_error(env, NULL, msg);
  return NULL;
}

static void gil_enter(void) {
  if (g_gil_depth++ == 0) g_gil_state = PyGILState_Ensure();
}

static void gil_leave(void) {
  if (--g_gil_depth == 0) PyGILState_Release(g_gil_state);
}

static int get_u32(napi_env env, napi_value v, uint32_t *out) {
  return napi_get_value_uint32(env, v, out) == napi_ok ? 0 : -1;
}

/* Store the pending Python exception, formatted by the host, in g_last_error. GIL held. */
static void stash_error(int proc_id, int phase) {
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

static PyObject *js_to_py(napi_env env, napi_value v, int depth);

static PyObject *js_error_to_exception(napi_env env, napi_value err) {
  PyObject *fields = js_to_py(env, err, 1);
  if (!fields) return NULL;
  PyErr_SetObject(g_PgError, fields);
  Py_DECREF(fields);
  return NULL;
}

static PyObject *js_to_py(napi_env env, napi_value v, int depth) {
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
        /* a Uint8Array result is codec-encoded (src/plpython/codec.ts) */
        napi_typedarray_type tt;
        size_t len, off;
        void *data;
        napi_value ab;
        napi_get_typedarray_info(env, v, &tt, &len, &data, &ab, &off);
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

/* _pyglite.jscall(op, *args): call the JS dispatcher synchronously on the engine thread. */
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
  napi_value argv[16], fn, recv, res;
  for (Py_ssize_t i = 0; i < nargs; i++) {
    argv[i] = py_to_js(env, args[i], 0);
    if (!argv[i]) goto done;
  }
  napi_get_reference_value(env, g_dispatch, &fn);
  napi_get_undefined(env, &recv);
  g_call_depth--; /* while JS runs, this thread is not inside the Python call */
  napi_status st = napi_call_function(env, recv, fn, (size_t)nargs, argv, &res);
  g_call_depth++;
  if (st != napi_ok) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value exc;
      napi_get_and_clear_last_exception(env, &exc);
    }
    PyErr_SetString(PyExc_RuntimeError, "internal error: the engine dispatcher threw");
    goto done;
  }
  out = js_to_py(env, res, 0);
done:
  napi_close_handle_scope(env, scope);
  return out;
}

/* ------------------------------------------------------------------ procedures */

/* _pyglite.register_proc(func, globals, argnames, argkinds: bytes, retkind, converter) -> id */
static PyObject *py_register_proc(PyObject *self, PyObject *args) {
  PyObject *func, *globals, *argnames, *converter;
  const char *kinds;
  Py_ssize_t nkinds;
  int retkind;
  if (!PyArg_ParseTuple(args, "OO!O!y#iO", &func, &PyDict_Type, &globals, &PyTuple_Type, &argnames, &kinds, &nkinds,
                        &retkind, &converter))
    return NULL;
  if (nkinds != PyTuple_GET_SIZE(argnames) || nkinds > MAX_ARGS) {
    PyErr_SetString(PyExc_ValueError, "register_proc: argnames and argkinds differ in length");
    return NULL;
  }
  Proc *p = PyMem_Calloc(1, sizeof(Proc));
  if (!p) return PyErr_NoMemory();
  Py_INCREF(func);
  Py_INCREF(globals);
  Py_INCREF(argnames);
  Py_INCREF(converter);
  p->func = func;
  p->globals = globals;
  p->argnames = argnames;
  p->converter = converter;
  p->nargs = (int)nkinds;
  p->retkind = retkind;
  memcpy(p->argkinds, kinds, (size_t)nkinds);
  /* reuse a free slot */
  for (uint32_t i = 1; i < nprocs; i++)
    if (!procs[i]) {
      procs[i] = p;
      return PyLong_FromUnsignedLong(i);
    }
  if (nprocs == 0) nprocs = 1; /* id 0 is never used */
  if (nprocs >= capprocs) {
    uint32_t cap = capprocs ? capprocs * 2 : 256;
    Proc **np = PyMem_Realloc(procs, cap * sizeof(Proc *));
    if (!np) return PyErr_NoMemory();
    memset(np + capprocs, 0, (cap - capprocs) * sizeof(Proc *));
    procs = np;
    capprocs = cap;
  }
  procs[nprocs] = p;
  return PyLong_FromUnsignedLong(nprocs++);
}

static void free_proc(uint32_t id) {
  Proc *p = procs[id];
  procs[id] = NULL;
  Py_DECREF(p->func);
  Py_DECREF(p->globals);
  Py_DECREF(p->argnames);
  Py_DECREF(p->converter);
  PyMem_Free(p);
}

/* _pyglite.release_proc(id) */
static PyObject *py_release_proc(PyObject *self, PyObject *arg) {
  unsigned long id = PyLong_AsUnsignedLong(arg);
  if (PyErr_Occurred()) return NULL;
  if (id == 0 || id >= nprocs || !procs[id]) {
    PyErr_SetString(PyExc_ValueError, "release_proc: unknown procedure");
    return NULL;
  }
  if (procs[id]->calldepth > 0) {
    PyErr_SetString(PyExc_RuntimeError, "release_proc: procedure is running");
    return NULL;
  }
  free_proc((uint32_t)id);
  Py_RETURN_NONE;
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
    {"register_proc", py_register_proc, METH_VARARGS, "register a compiled procedure for the fast call path"},
    {"release_proc", py_release_proc, METH_O, "forget a registered procedure"},
    {"cancel_kind", py_cancel_kind, METH_NOARGS, "pending cancel request of the running statement (0 = none)"},
    {"in_call", py_in_call, METH_NOARGS, "whether plpy may enter the engine now"},
    {"set_error_formatter", py_set_formatter, METH_O, "set formatter(proc_id, phase, exc) -> tuple"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "_pyglite", "pyglite engine bridge", -1, module_methods, NULL, NULL, NULL, NULL};

/* ------------------------------------------------------------------ reading arguments from wasm memory */

/* A plain (not compressed, not external) varlena: data pointer and length; -1 if it needs detoasting. */
static int varlena_plain(uint32_t ptr, const uint8_t **data, uint32_t *len) {
  if ((size_t)ptr + 1 > g_mem_len) return -1;
  const uint8_t *v = g_mem + ptr;
  uint8_t b = v[0];
  if (b == 0x01) return -1; /* external TOAST pointer */
  if (b & 0x01) {           /* 1-byte header */
    *len = (uint32_t)(b >> 1) - 1;
    *data = v + 1;
  } else if ((b & 0x03) == 0) { /* 4-byte header, uncompressed */
    uint32_t h;
    memcpy(&h, v, 4);
    *len = (h >> 2) - 4;
    *data = v + 4;
  } else {
    return -1; /* compressed inline */
  }
  if ((size_t)(*data - g_mem) + *len > g_mem_len) return -1;
  return 0;
}

/* Returns a new reference, NULL with a Python error, or (PyObject*)1 when JS must convert (needs codec). */
#define NEEDS_CODEC ((PyObject *)1)

static PyObject *read_arg(int kind, uint32_t datum, int isnull, Reader *codec) {
  if (kind == A_CODEC) return codec_decode(codec);
  if (isnull) Py_RETURN_NONE;
  switch (kind) {
    case A_INT2:
      return PyLong_FromLong((int16_t)datum);
    case A_INT4:
      return PyLong_FromLong((int32_t)datum);
    case A_OID:
      return PyLong_FromUnsignedLong(datum);
    case A_BOOL:
      return PyBool_FromLong(datum & 0xff);
    case A_FLOAT4: {
      float f;
      memcpy(&f, &datum, 4);
      return PyFloat_FromDouble((double)f);
    }
    case A_INT8: {
      int64_t v;
      if ((size_t)datum + 8 > g_mem_len) return NEEDS_CODEC;
      memcpy(&v, g_mem + datum, 8);
      return PyLong_FromLongLong(v);
    }
    case A_FLOAT8: {
      double v;
      if ((size_t)datum + 8 > g_mem_len) return NEEDS_CODEC;
      memcpy(&v, g_mem + datum, 8);
      return PyFloat_FromDouble(v);
    }
    case A_TEXT:
    case A_BYTEA: {
      const uint8_t *d;
      uint32_t n;
      if (varlena_plain(datum, &d, &n)) return NEEDS_CODEC;
      if (kind == A_BYTEA) return PyBytes_FromStringAndSize((const char *)d, n);
      return PyUnicode_DecodeUTF8((const char *)d, n, "strict");
    }
    default:
      PyErr_Format(PyExc_SystemError, "unknown argument kind %d", kind);
      return NULL;
  }
}

/* ------------------------------------------------------------------ the call */

static void set_status(int s) {
  g_stat[0] = s;
}

/* Fast result conversion. 1 = done (status set), 0 = use the generic converter. */
static int fast_result(Proc *p, PyObject *r, uint32_t *datum) {
  if (r == Py_None) {
    if (p->retkind == R_VOID) {
      *datum = 0;
      set_status(S_DATUM);
    } else {
      set_status(S_NULL);
    }
    return 1;
  }
  switch (p->retkind) {
    case R_INT2:
    case R_INT4:
    case R_OID:
    case R_INT8: {
      if (!PyLong_CheckExact(r)) return 0;
      int overflow = 0;
      long long v = PyLong_AsLongLongAndOverflow(r, &overflow);
      if (overflow || (v == -1 && PyErr_Occurred())) {
        PyErr_Clear();
        return 0;
      }
      if (p->retkind == R_INT8) {
        memcpy((char *)g_stat + 16, &v, 8);
        set_status(S_I64);
        return 1;
      }
      if (p->retkind == R_INT2 && (v < -32768 || v > 32767)) return 0;
      if (p->retkind == R_INT4 && (v < INT32_MIN || v > INT32_MAX)) return 0;
      if (p->retkind == R_OID && (v < 0 || v > UINT32_MAX)) return 0;
      *datum = (uint32_t)v;
      set_status(S_DATUM);
      return 1;
    }
    case R_BOOL: {
      int t = PyObject_IsTrue(r);
      if (t < 0) return -1;
      *datum = (uint32_t)t;
      set_status(S_DATUM);
      return 1;
    }
    case R_FLOAT8:
    case R_FLOAT4: {
      if (!PyFloat_CheckExact(r)) return 0;
      double d = PyFloat_AS_DOUBLE(r);
      if (p->retkind == R_FLOAT4) return 0; /* float4in's range checks: keep them */
      memcpy((char *)g_stat + 8, &d, 8);
      set_status(S_F64);
      return 1;
    }
    case R_TEXT: {
      if (!PyUnicode_CheckExact(r)) return 0;
      Py_ssize_t n;
      const char *u = PyUnicode_AsUTF8AndSize(r, &n);
      if (!u) {
        PyErr_Clear();
        return 0;
      }
      if (memchr(u, 0, (size_t)n)) return 0; /* the generic path reports PL/Python's error */
      Py_INCREF(r);
      Py_XSETREF(g_result, r);
      g_stat[1] = (int32_t)n;
      set_status(S_TEXT);
      return 1;
    }
    default:
      return 0;
  }
}

/* call(procId, fcinfo, codecLen) -> Datum; status in stat[0]. */
static napi_value Call(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t id, fcinfo, codec_len;
  if (argc < 3 || get_u32(env, argv[0], &id) || get_u32(env, argv[1], &fcinfo) || get_u32(env, argv[2], &codec_len))
    return throw_error(env, "call(procId, fcinfo, codecLen)");
  if (id == 0 || id >= nprocs || !procs[id]) return throw_error(env, "call: unknown procedure");
  if (codec_len > g_codec_len) return throw_error(env, "call: codec length beyond the registered buffer");
  Proc *p = procs[id];
  uint32_t datum = 0;
  napi_value out;
  gil_enter();
  Reader codec = {g_codec, g_codec + codec_len};
  PyObject *argv_py[MAX_ARGS];
  int built = 0;
  const uint8_t *nd = g_mem + fcinfo + 20; /* FunctionCallInfoBaseData.args */
  for (; built < p->nargs; built++) {
    uint32_t d;
    memcpy(&d, nd + 8 * built, 4);
    PyObject *o = read_arg(p->argkinds[built], d, nd[8 * built + 4], &codec);
    if (o == NEEDS_CODEC) {
      for (int j = 0; j < built; j++) Py_DECREF(argv_py[j]);
      set_status(S_NEED_CODEC);
      goto out;
    }
    if (!o) {
      for (int j = 0; j < built; j++) Py_DECREF(argv_py[j]);
      stash_error((int)id, 0);
      set_status(S_ERROR);
      goto out;
    }
    argv_py[built] = o;
  }
  /* bind arguments as globals, as PL/Python does (PLy_function_build_args): by name and as `args`;
   * a recursive call saves the outer call's bindings and restores them afterwards */
  PyObject *saved = NULL;
  if (p->calldepth > 0 && p->nargs > 0) {
    saved = PyTuple_New(p->nargs + 1);
    for (int i = 0; i <= p->nargs; i++) {
      PyObject *name = i < p->nargs ? PyTuple_GET_ITEM(p->argnames, i) : s_args;
      PyObject *v = name != Py_None ? PyDict_GetItemWithError(p->globals, name) : NULL;
      Py_XINCREF(v);
      PyTuple_SET_ITEM(saved, i, v ? v : (Py_INCREF(Py_None), Py_None));
    }
  }
  PyObject *lst = PyList_New(p->nargs);
  for (int i = 0; i < p->nargs; i++) {
    PyObject *name = PyTuple_GET_ITEM(p->argnames, i);
    if (name != Py_None) PyDict_SetItem(p->globals, name, argv_py[i]);
    PyList_SET_ITEM(lst, i, argv_py[i]); /* steals */
  }
  PyDict_SetItem(p->globals, s_args, lst);
  Py_DECREF(lst);
  p->calldepth++;
  g_call_depth++;
  PyObject *r = PyObject_CallNoArgs(p->func);
  g_call_depth--;
  p->calldepth--;
  if (saved) {
    PyObject *et, *ev, *etb;
    PyErr_Fetch(&et, &ev, &etb);
    for (int i = 0; i <= p->nargs; i++) {
      PyObject *name = i < p->nargs ? PyTuple_GET_ITEM(p->argnames, i) : s_args;
      if (name != Py_None) PyDict_SetItem(p->globals, name, PyTuple_GET_ITEM(saved, i));
    }
    Py_DECREF(saved);
    PyErr_Restore(et, ev, etb);
  }
  if (!r) {
    stash_error((int)id, 0);
    set_status(S_ERROR);
    goto out;
  }
  int f = fast_result(p, r, &datum);
  if (f == 0) {
    PyObject *b = p->converter != Py_None ? PyObject_CallOneArg(p->converter, r) : NULL;
    if (b && PyBytes_Check(b)) {
      Py_XSETREF(g_result, b);
      g_stat[1] = (int32_t)PyBytes_GET_SIZE(b);
      set_status(S_GENERIC);
    } else {
      if (b) {
        Py_DECREF(b);
        PyErr_SetString(PyExc_TypeError, "result converter must return bytes");
      } else if (!PyErr_Occurred()) {
        PyErr_SetString(PyExc_TypeError, "no result converter for this return type");
      }
      stash_error((int)id, 1);
      set_status(S_ERROR);
    }
  } else if (f < 0) {
    stash_error((int)id, 1);
    set_status(S_ERROR);
  }
  Py_DECREF(r);
out:
  gil_leave();
  napi_create_uint32(env, datum, &out);
  return out;
}

/* copyText(dst): copy the pending S_TEXT result (UTF-8, stat[1] bytes) into wasm memory at dst. */
static napi_value CopyText(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t dst;
  if (argc < 1 || get_u32(env, argv[0], &dst)) return throw_error(env, "copyText(ptr)");
  gil_enter();
  Py_ssize_t n = 0;
  const char *u = g_result && PyUnicode_Check(g_result) ? PyUnicode_AsUTF8AndSize(g_result, &n) : NULL;
  if (!u || (size_t)dst + (size_t)n > g_mem_len) {
    PyErr_Clear();
    gil_leave();
    return throw_error(env, "copyText: no pending text result");
  }
  memcpy(g_mem + dst, u, (size_t)n);
  Py_CLEAR(g_result);
  gil_leave();
  return undefined(env);
}

/* takeResult() -> Buffer: the pending S_GENERIC bytes. */
static napi_value TakeResult(napi_env env, napi_callback_info info) {
  napi_value out;
  void *dst;
  gil_enter();
  if (!g_result || !PyBytes_Check(g_result)) {
    gil_leave();
    return throw_error(env, "takeResult: no pending result");
  }
  napi_create_buffer_copy(env, (size_t)PyBytes_GET_SIZE(g_result), PyBytes_AS_STRING(g_result), &dst, &out);
  Py_CLEAR(g_result);
  gil_leave();
  return out;
}

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
    ok = g_PgError && PyModule_AddObjectRef(m, "PgError", g_PgError) == 0 &&
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
  napi_create_arraybuffer(env, 32, &data, &ab);
  memset(data, 0, 32);
  g_stat = (int32_t *)data;
  napi_create_typedarray(env, napi_int32_array, 8, ab, 0, &arr);
  napi_ref keep; /* the status words live as long as the process */
  napi_create_reference(env, ab, 1, &keep);
  return arr;
}

/* setMemory(wasmMemoryBuffer, addrInterruptPending, addrQueryCancelPending) */
static napi_value SetMemory(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *data;
  size_t len;
  uint32_t a_int = 0, a_cancel = 0;
  if (argc < 3 || napi_get_arraybuffer_info(env, argv[0], &data, &len) != napi_ok || get_u32(env, argv[1], &a_int) ||
      get_u32(env, argv[2], &a_cancel))
    return throw_error(env, "setMemory(arrayBuffer, addrInterruptPending, addrQueryCancelPending)");
  g_mem = (uint8_t *)data;
  g_mem_len = len;
  cancel_set_target(g_mem, a_int, a_cancel);
  return undefined(env);
}

/* setCodecBuffer(buffer) */
static napi_value SetCodecBuffer(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *data;
  size_t len;
  if (argc < 1 || napi_get_buffer_info(env, argv[0], &data, &len) != napi_ok)
    return throw_error(env, "setCodecBuffer(buffer)");
  g_codec = data;
  g_codec_len = len;
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

/* releaseProc(id): from JS (e.g. a session's procedures when it closes) */
static napi_value ReleaseProc(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t id;
  if (argc < 1 || get_u32(env, argv[0], &id)) return throw_error(env, "releaseProc(id)");
  if (id == 0 || id >= nprocs || !procs[id]) return undefined(env);
  if (procs[id]->calldepth > 0) return throw_error(env, "releaseProc: procedure is running");
  gil_enter();
  free_proc(id);
  gil_leave();
  return undefined(env);
}

NAPI_MODULE_INIT() {
  napi_property_descriptor d[] = {
      {"init", 0, Init, 0, 0, 0, napi_default, 0},
      {"setMemory", 0, SetMemory, 0, 0, 0, napi_default, 0},
      {"setCodecBuffer", 0, SetCodecBuffer, 0, 0, 0, napi_default, 0},
      {"memoryAddress", 0, MemoryAddress, 0, 0, 0, napi_default, 0},
      {"enableInterrupts", 0, EnableInterrupts, 0, 0, 0, napi_default, 0},
      {"execBegin", 0, ExecBegin, 0, 0, 0, napi_default, 0},
      {"execEnd", 0, ExecEnd, 0, 0, 0, napi_default, 0},
      {"cancel", 0, Cancel, 0, 0, 0, napi_default, 0},
      {"cancelKind", 0, CancelKind, 0, 0, 0, napi_default, 0},
      {"call", 0, Call, 0, 0, 0, napi_default, 0},
      {"copyText", 0, CopyText, 0, 0, 0, napi_default, 0},
      {"takeResult", 0, TakeResult, 0, 0, 0, napi_default, 0},
      {"lastError", 0, LastError, 0, 0, 0, napi_default, 0},
      {"releaseProc", 0, ReleaseProc, 0, 0, 0, napi_default, 0},
  };
  napi_define_properties(env, exports, sizeof d / sizeof d[0], d);
  return exports;
}
