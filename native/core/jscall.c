/* Python <-> JS: N-API values converted both ways, Python calling into the engine's JS (_pyglite.jscall,
 * a persistent reference to one JS dispatcher that never throws, the envelope rule of
 * ../shared/DESIGN.md §3; call_engine for every such call), and the stashed error handed to JS. */
#include "jscall.h"
#include <pthread.h>
#include <string.h>

static napi_ref g_dispatch;
PyObject *g_PgError; /* _pyglite.PgError */

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

PyObject *py_jscall(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
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
  if (g_messages_only > 0 && !(PyUnicode_Check(args[0]) && (PyUnicode_CompareWithASCIIString(args[0], "elog") == 0 ||
                                                            PyUnicode_CompareWithASCIIString(args[0], "quote") == 0 ||
                                                            PyUnicode_CompareWithASCIIString(args[0], "fatal") == 0))) {
    /* PL/Python modifies the row after SPI_finish (plpy_exec.c PLy_exec_trigger): only messages work there */
    PyErr_SetString(PyExc_RuntimeError, "only plpy's messages can be used while a trigger row is modified");
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

void jscall_set_dispatcher(napi_env env, napi_value fn) {
  napi_create_reference(env, fn, 1, &g_dispatch);
}

/* lastError() -> array of the formatter's fields */
napi_value LastError(napi_env env, napi_callback_info info) {
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
