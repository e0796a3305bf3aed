/* plpy.execute in C (PLy_spi_execute, plpy_spi.c): the common forms — a query text with an optional
 * limit, a prepared plan with arguments of built-in scalar types (one int32 argument travels as itself,
 * any other list encoded here into codec bytes by the plan's compiled converters) — go to the engine in
 * one N-API call whose inputs are status words, and result rows of common types are converted to Python
 * here, straight from the Datums the engine deformed in wasm memory (PLy_input_from_tuple: a dict per
 * row, keys in attribute order). plan.execute(...) is the same function (PLy_plan_execute). Everything
 * else goes to the Python implementation (_plpy.spi.execute), registered with set_spi_hooks. Status
 * words: OPW in src/python/host.ts. */
#include "spiop.h"

/* the codec's NONE, taken before structmember.h defines its own T_NONE (a member type) over it */
enum { CODEC_NONE = T_NONE };

#include <structmember.h>

#include "call/convert.h"

enum {
  W_KIND = 16,    /* 1 query text (the JS string is the one argument), 2 plan */
  W_PLAN = 17,    /* plan id */
  W_ARG = 18,     /* the int32 argument (mode 1), the length of the encoded arguments (mode 2) */
  W_ARGMODE = 19, /* 0 none, 1 W_ARG, 2 codec bytes in the argument buffer (passed as the JS argument) */
  W_LIMIT = 20,
  W_SHAPE = 21, /* results: shape slot, -1 when the command returned no tuples */
  W_CHUNK = 22, /* rows in this chunk (opRows) */
  W_VALUES = 23,
  W_NULLS = 24,
  W_NATTS = 25, /* stride of the deformed rows */
  W_STATUS = 26,
  W_PROCESSED = 27,
  W_OFFSET = 28, /* first row of this chunk */
};

/* ---- PlanBase: the C part of PLyPlan, so the fast path reads the plan without attribute lookups ---- */
typedef struct {
  PyObject_HEAD int id;
  int nargs;
  char int1; /* one int2/int4/int8 argument: an int32 value travels as itself */
  /* the arguments encoded here: a tuple of each one's compiled converter (_pyglite.Converter) and bytes of
   * their kinds ('i' int2/4/8, 'f' float8, 'c' another type the engine converts without running user
   * code: src/plpy-shim/args.ts cKind); None: the plan's arguments go the Python way */
  PyObject *cconv;
  PyObject *ckinds;
} PlanObject;

static PyMemberDef plan_members[] = {
    {"_id", T_INT, offsetof(PlanObject, id), 0, NULL},
    {"_nargs", T_INT, offsetof(PlanObject, nargs), 0, NULL},
    {"_int1", T_BOOL, offsetof(PlanObject, int1), 0, NULL},
    {"_cconv", T_OBJECT, offsetof(PlanObject, cconv), 0, NULL},
    {"_ckinds", T_OBJECT, offsetof(PlanObject, ckinds), 0, NULL},
    {NULL, 0, 0, 0, NULL},
};

static void plan_dealloc(PyObject *self) {
  PlanObject *p = (PlanObject *)self;
  Py_CLEAR(p->cconv);
  Py_CLEAR(p->ckinds);
  Py_TYPE(self)->tp_free(self);
}

/* plan.execute([arguments[, limit]]): PLy_plan_execute is PLy_spi_execute_plan, as plpy.execute(plan, ...) */
static PyObject *plan_execute(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
  if (kwnames && PyTuple_GET_SIZE(kwnames)) {
    PyErr_SetString(PyExc_TypeError, "PLyPlan.execute() takes no keyword arguments");
    return NULL;
  }
  if (nargs > 2) {
    PyErr_Format(PyExc_TypeError, "function takes at most 2 arguments (%zd given)", nargs);
    return NULL;
  }
  if (nargs > 1) {
    /* PLy_plan_execute's own PyArg_ParseTuple(args, "|Ol"): its TypeError or OverflowError, as raised
     * (plpy.execute(plan, args, limit) says "expected a query or a plan" instead) */
    PyObject *i = PyNumber_Index(args[1]);
    if (!i) return NULL;
    long v = PyLong_AsLong(i);
    Py_DECREF(i);
    if (v == -1 && PyErr_Occurred()) return NULL;
  }
  PyObject *all[3] = {self, nargs > 0 ? args[0] : NULL, nargs > 1 ? args[1] : NULL};
  return py_spi_execute(NULL, all, nargs + 1, NULL);
}

static PyMethodDef plan_methods[] = {
    {"execute", (PyCFunction)(void (*)(void))plan_execute, METH_FASTCALL | METH_KEYWORDS,
     "execute([arguments[, limit]]): run the plan (plpy.execute(plan, ...))"},
    {NULL, NULL, 0, NULL},
};

PyTypeObject PlanType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "_pyglite.PlanBase",
    .tp_basicsize = sizeof(PlanObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "the C part of plpy's PLyPlan",
    .tp_new = PyType_GenericNew,
    .tp_dealloc = plan_dealloc,
    .tp_members = plan_members,
    .tp_methods = plan_methods,
};

/* ---- plan arguments as codec bytes (what _plpy.spi._converter's functions make, src/plpy-shim/args.ts) ---- */
typedef struct {
  uint8_t *p;
  size_t len, cap;
  uint8_t local[256];
} ArgBuf;

static int ab_put(ArgBuf *b, const void *src, size_t n) {
  if (b->len + n > b->cap) {
    size_t cap = b->cap * 2;
    while (cap < b->len + n) cap *= 2;
    uint8_t *np = b->p == b->local ? PyMem_Malloc(cap) : PyMem_Realloc(b->p, cap);
    if (!np) return -1;
    if (b->p == b->local) memcpy(np, b->local, b->len);
    b->p = np;
    b->cap = cap;
  }
  memcpy(b->p + b->len, src, n);
  b->len += n;
  return 0;
}

static int ab_tagged(ArgBuf *b, uint8_t tag, const void *v, size_t n) {
  return ab_put(b, &tag, 1) || ab_put(b, v, n);
}

/* Encode `values` (a list or tuple of the plan's length) into b: 1 done, 0 not this way (the Python path
 * then does it, and reports what is wrong). A value's conversion error is an ERROR tag in the bytes, raised
 * by the engine inside the operation, as on the Python path. */
static int encode_args(PlanObject *p, PyObject *values, ArgBuf *b) {
  if (!p->ckinds || !PyBytes_CheckExact(p->ckinds) || !p->cconv || !PyTuple_CheckExact(p->cconv)) return 0;
  if (!(PyList_CheckExact(values) || PyTuple_CheckExact(values))) return 0;
  Py_ssize_t n = Py_SIZE(values);
  if (n != p->nargs || PyBytes_GET_SIZE(p->ckinds) != n || PyTuple_GET_SIZE(p->cconv) != n) return 0;
  const char *kinds = PyBytes_AS_STRING(p->ckinds);
  for (Py_ssize_t j = 0; j < n; j++) {
    /* a list may change under a converter that runs Python (a __str__): read each element afresh */
    if (Py_SIZE(values) != n) return 0;
    PyObject *v = PyList_CheckExact(values) ? PyList_GET_ITEM(values, j) : PyTuple_GET_ITEM(values, j);
    int rc;
    if (v == Py_None) {
      uint8_t t = CODEC_NONE;
      rc = ab_put(b, &t, 1);
    } else if (kinds[j] == 'i' && PyLong_CheckExact(v)) {
      int overflow;
      long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
      if (x == -1 && PyErr_Occurred()) return -1;
      if (overflow) goto converter;
      if (x >= INT32_MIN && x <= INT32_MAX) {
        int32_t x32 = (int32_t)x;
        rc = ab_tagged(b, T_INT32, &x32, 4);
      } else {
        int64_t x64 = x;
        rc = ab_tagged(b, T_INT64, &x64, 8);
      }
    } else if (kinds[j] == 'f' && PyFloat_CheckExact(v)) {
      double d = PyFloat_AS_DOUBLE(v);
      rc = ab_tagged(b, T_FLOAT64, &d, 8);
    } else {
    converter:;
      PyObject *conv = PyTuple_GET_ITEM(p->cconv, j);
      if (!Py_IS_TYPE(conv, &ConverterType)) return 0;
      Py_INCREF(v); /* the converter may run Python that drops the list's reference */
      PyObject *bytes = converter_run(conv, v, Py_None);
      Py_DECREF(v);
      if (!bytes) return -1;
      rc = ab_put(b, PyBytes_AS_STRING(bytes), (size_t)PyBytes_GET_SIZE(bytes));
      Py_DECREF(bytes);
    }
    if (rc) {
      PyErr_NoMemory();
      return -1;
    }
  }
  return 1;
}

/* The Buffer the encoded arguments reach JS in (kept between calls: no allocation per execute). */
static napi_ref g_argbuf;
static uint8_t *g_argbuf_data;
static size_t g_argbuf_len;

static napi_value arg_buffer(napi_env env, size_t need) {
  napi_value buf;
  if (g_argbuf && need <= g_argbuf_len) {
    if (napi_get_reference_value(env, g_argbuf, &buf) == napi_ok && buf) return buf;
  }
  size_t len = g_argbuf_len ? g_argbuf_len : 4096;
  while (len < need) len *= 2;
  void *data;
  if (napi_create_buffer(env, len, &data, &buf) != napi_ok) return NULL;
  if (g_argbuf) napi_delete_reference(env, g_argbuf);
  if (napi_create_reference(env, buf, 1, &g_argbuf) != napi_ok) {
    g_argbuf = NULL;
    g_argbuf_len = 0;
    return NULL;
  }
  g_argbuf_data = data;
  g_argbuf_len = len;
  return buf;
}

/* ---- result shapes: column keys, kinds and the descriptor bytes, registered once by JS ---- */
#define MAX_SHAPES 64
typedef struct {
  int nlive;
  int *live;  /* attribute index of each live column */
  int *kinds; /* A_* of each live column */
  PyObject **keys;
  PyObject *desc; /* bytes: JSON [names, types, typmods] (PLyResult.colnames() etc.) */
} Shape;
static Shape shapes[MAX_SHAPES];

static PyTypeObject *g_plan_type, *g_result_type;
static PyObject *g_fallback, *g_spi_error, *g_pending;
static napi_ref g_spiop;
static PyObject *g_op_rows; /* rows converted by opRows during the running operation */

/* set_spi_hooks(plan_type, result_type, fallback_execute, spi_error, pending_release_list) */
PyObject *py_set_spi_hooks(PyObject *self, PyObject *args) {
  PyObject *pt, *rt, *fb, *se, *pl;
  if (!PyArg_ParseTuple(args, "O!O!OOO!", &PyType_Type, &pt, &PyType_Type, &rt, &fb, &se, &PyList_Type, &pl))
    return NULL;
  if (!PyType_IsSubtype((PyTypeObject *)pt, &PlanType) || !PyType_IsSubtype((PyTypeObject *)rt, &ResultType)) {
    PyErr_SetString(PyExc_TypeError, "set_spi_hooks: plan and result types must derive from PlanBase and ResultBase");
    return NULL;
  }
  Py_XSETREF(g_plan_type, (PyTypeObject *)Py_NewRef(pt));
  Py_XSETREF(g_result_type, (PyTypeObject *)Py_NewRef(rt));
  Py_XSETREF(g_fallback, Py_NewRef(fb));
  Py_XSETREF(g_spi_error, Py_NewRef(se));
  Py_XSETREF(g_pending, Py_NewRef(pl));
  Py_RETURN_NONE;
}

static PyObject *fallback(PyObject *const *args, Py_ssize_t nargs) {
  return PyObject_Vectorcall(g_fallback, args, (size_t)nargs, NULL);
}

/* An exact int as SPI's long on wasm32 (PL/Python's "l", clamped as _plpy.spi._limit does); 0 if not one,
 * or if it overflows a 64-bit long (Python's fallback raises PL/Python's error for it). */
static int limit_of(PyObject *o, int32_t *out) {
  if (!PyLong_CheckExact(o)) return 0;
  int overflow;
  long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
  if (overflow) return 0;
  if (v > INT32_MAX) v = INT32_MAX;
  if (v < INT32_MIN) v = INT32_MIN;
  *out = (int32_t)v;
  return 1;
}

/* A one-element list or tuple holding an exact int in int32 range. */
static int int1_of(PyObject *v, int32_t *out) {
  if (!(PyList_CheckExact(v) || PyTuple_CheckExact(v)) || Py_SIZE(v) != 1) return 0;
  PyObject *e = PyList_CheckExact(v) ? PyList_GET_ITEM(v, 0) : PyTuple_GET_ITEM(v, 0);
  if (!PyLong_CheckExact(e)) return 0;
  int overflow;
  long long x = PyLong_AsLongLongAndOverflow(e, &overflow);
  if (overflow || x < INT32_MIN || x > INT32_MAX) return 0;
  *out = (int32_t)x;
  return 1;
}

static int empty_seq(PyObject *v) {
  return (PyList_CheckExact(v) || PyTuple_CheckExact(v)) && Py_SIZE(v) == 0;
}

/* The PLyResult of a natively converted result (status words), or NULL with an error. */
static PyObject *native_result(void) {
  PyObject *rows = g_op_rows;
  g_op_rows = NULL;
  int slot = g_stat[W_SHAPE];
  PyObject *desc = slot >= 0 && slot < MAX_SHAPES && shapes[slot].desc ? shapes[slot].desc : Py_None;
  if (!rows) rows = PyList_New(0);
  PyObject *status = PyLong_FromLong(g_stat[W_STATUS]);
  PyObject *nrows = PyLong_FromLong(g_stat[W_PROCESSED]);
  if (!rows || !status || !nrows) {
    Py_XDECREF(rows);
    Py_XDECREF(status);
    Py_XDECREF(nrows);
    return NULL;
  }
  return result_make(g_result_type, status, nrows, rows, Py_NewRef(desc));
}

/* An engine error ({pgerror} → _pyglite.PgError) raised as plpy's SPI exception, as
 * `raise spi_error(fields) from None` does. */
static void raise_spi_error(void) {
  if (!PyErr_ExceptionMatches(g_PgError)) return;
  PyObject *et, *ev, *tb;
  PyErr_Fetch(&et, &ev, &tb);
  PyErr_NormalizeException(&et, &ev, &tb);
  PyObject *fields = ev && PyTuple_GET_SIZE(((PyBaseExceptionObject *)ev)->args) > 0
                         ? PyTuple_GET_ITEM(((PyBaseExceptionObject *)ev)->args, 0)
                         : NULL;
  PyObject *exc = fields ? PyObject_CallOneArg(g_spi_error, fields) : NULL;
  Py_XDECREF(et);
  Py_XDECREF(ev);
  Py_XDECREF(tb);
  if (!exc) return;
  PyException_SetCause(exc, NULL); /* from None */
  PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
  Py_DECREF(exc);
}

/* plpy.execute(query[, limit]) / plpy.execute(plan[, arguments[, limit]]) */
PyObject *py_spi_execute(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
  if (kwnames && PyTuple_GET_SIZE(kwnames)) {
    /* PL/Python's METH_VARARGS function says it so (a FASTCALL one would name the module too) */
    PyErr_SetString(PyExc_TypeError, "execute() takes no keyword arguments");
    return NULL;
  }
  if (!g_fallback) {
    PyErr_SetString(PyExc_RuntimeError, "plpy.execute: the plpy module is not initialised");
    return NULL;
  }
  /* outside a call, on another thread, with releases pending: the Python path (which raises or flushes) */
  if (nargs < 1 || nargs > 3 || PyList_GET_SIZE(g_pending) || !g_ready || g_call_depth <= 0 || g_messages_only > 0 ||
      !g_spiop ||
      !pthread_equal(pthread_self(), g_thread))
    return fallback(args, nargs);
  PyObject *q = args[0];
  int32_t limit = 0, arg = 0, argmode = 0, kind;
  ArgBuf ab; /* its local bytes are not cleared: only the first len are ever read */
  ab.p = ab.local;
  ab.len = 0;
  ab.cap = sizeof ab.local;
  if (Py_IS_TYPE(q, g_plan_type)) {
    PlanObject *p = (PlanObject *)q;
    if (nargs == 3 && !limit_of(args[2], &limit)) return fallback(args, nargs);
    if (p->nargs == 0 && (nargs == 1 || empty_seq(args[1]))) {
      argmode = 0;
    } else if (p->int1 && nargs >= 2 && int1_of(args[1], &arg)) {
      argmode = 1;
    } else if (p->nargs > 0 && nargs >= 2) {
      int rc = encode_args(p, args[1], &ab);
      if (rc <= 0) {
        if (ab.p != ab.local) PyMem_Free(ab.p);
        if (rc < 0) return NULL;
        return fallback(args, nargs);
      }
      argmode = 2;
      arg = (int32_t)ab.len;
    } else {
      return fallback(args, nargs);
    }
    kind = 2;
  } else if (PyUnicode_CheckExact(q) && nargs <= 2) {
    if (nargs == 2 && !limit_of(args[1], &limit)) return fallback(args, nargs);
    if (PyUnicode_FindChar(q, 0, 0, PyUnicode_GET_LENGTH(q), 1) != -1) return fallback(args, nargs);
    /* PyArg_ParseTuple's "s" also fails on text that does not encode (a lone surrogate) */
    if (!PyUnicode_AsUTF8AndSize(q, NULL)) {
      PyErr_Clear();
      return fallback(args, nargs);
    }
    kind = 1;
  } else {
    return fallback(args, nargs);
  }
  napi_env env = g_env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) {
    if (ab.p != ab.local) PyMem_Free(ab.p);
    PyErr_SetString(PyExc_RuntimeError, "napi_open_handle_scope failed");
    return NULL;
  }
  PyObject *out = NULL;
  napi_value argv[1], res;
  size_t argc = 0;
  if (kind == 1) {
    argv[0] = str_arg(env, q);
    if (!argv[0]) goto done;
    argc = 1;
  } else if (argmode == 2) {
    /* copied only now: a converter above may have run Python that ran another plan (and the buffer) */
    argv[0] = arg_buffer(env, ab.len);
    if (!argv[0]) {
      PyErr_SetString(PyExc_RuntimeError, "plpy.execute: could not make the argument buffer");
      goto done;
    }
    memcpy(g_argbuf_data, ab.p, ab.len);
    argc = 1;
  }
  if (kind == 2) g_stat[W_PLAN] = ((PlanObject *)q)->id;
  g_stat[W_KIND] = kind;
  g_stat[W_ARG] = arg;
  g_stat[W_ARGMODE] = argmode;
  g_stat[W_LIMIT] = limit;
  Py_CLEAR(g_op_rows);
  if (call_engine(env, g_spiop, argc, argv, &res, "the engine operation")) {
    Py_CLEAR(g_op_rows);
    goto done;
  }
  napi_valuetype t;
  napi_typeof(env, res, &t);
  if (t == napi_number) {
    out = native_result();
  } else {
    Py_CLEAR(g_op_rows);
    PyObject *r = js_to_py(env, res, 0);
    if (!r) {
      raise_spi_error();
    } else {
      out = PyObject_Call((PyObject *)g_result_type, r, NULL);
      Py_DECREF(r);
    }
  }
done:
  napi_close_handle_scope(env, scope);
  if (ab.p != ab.local) PyMem_Free(ab.p);
  return out;
}

/* setSpiOp(fn): the JS function serving py_spi_execute (src/plpy-shim/dispatch.ts) */
napi_value SetSpiOp(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_valuetype t;
  if (argc < 1 || napi_typeof(env, argv[0], &t) != napi_ok || t != napi_function) return throw_error(env, "setSpiOp(fn)");
  if (g_spiop) napi_delete_reference(env, g_spiop);
  napi_create_reference(env, argv[0], 1, &g_spiop);
  /* the argument buffer belongs to the env that made it: a new one is made in this env on first need */
  g_argbuf = NULL;
  g_argbuf_data = NULL;
  g_argbuf_len = 0;
  return undefined(env);
}

static void shape_clear(Shape *s) {
  for (int k = 0; k < s->nlive && s->keys; k++) Py_XDECREF(s->keys[k]);
  Py_CLEAR(s->desc);
  free(s->live);
  free(s->kinds);
  free(s->keys);
  memset(s, 0, sizeof *s);
}

/* opShape(slot, live: number[], kinds: number[], names: string[], desc: Buffer): a result shape's
 * columns (the live ones) for opRows; desc are the bytes PLyResult keeps for colnames() and friends. */
napi_value OpShape(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t slot, n;
  void *desc;
  size_t desc_len;
  if (argc < 5 || get_u32(env, argv[0], &slot) || slot >= MAX_SHAPES || napi_get_array_length(env, argv[1], &n) != napi_ok ||
      napi_get_buffer_info(env, argv[4], &desc, &desc_len) != napi_ok)
    return throw_error(env, "opShape(slot, live, kinds, names, desc)");
  gil_enter();
  Shape *s = &shapes[slot];
  shape_clear(s);
  s->live = calloc(n ? n : 1, sizeof(int));
  s->kinds = calloc(n ? n : 1, sizeof(int));
  s->keys = calloc(n ? n : 1, sizeof(PyObject *));
  s->desc = PyBytes_FromStringAndSize(desc, (Py_ssize_t)desc_len);
  int ok = s->live && s->kinds && s->keys && s->desc;
  s->nlive = (int)n;
  for (uint32_t k = 0; ok && k < n; k++) {
    napi_value e;
    uint32_t v;
    napi_get_element(env, argv[1], k, &e);
    ok = !get_u32(env, e, &v);
    s->live[k] = (int)v;
    napi_get_element(env, argv[2], k, &e);
    ok = ok && !get_u32(env, e, &v);
    s->kinds[k] = (int)v;
    napi_get_element(env, argv[3], k, &e);
    size_t len;
    char buf[256];
    ok = ok && napi_get_value_string_utf8(env, e, buf, sizeof buf, &len) == napi_ok;
    if (ok) {
      s->keys[k] = PyUnicode_DecodeUTF8(buf, (Py_ssize_t)len, "surrogatepass");
      ok = s->keys[k] != NULL;
      if (ok) PyUnicode_InternInPlace(&s->keys[k]);
    }
  }
  if (!ok) {
    PyErr_Clear();
    shape_clear(s);
  }
  gil_leave();
  return ok ? undefined(env) : throw_error(env, "opShape: could not register the shape");
}

/* opRows() -> bool: convert a chunk of deformed rows (status words) into row dicts of the running
 * operation's result. false: a value needs JS (e.g. a toasted text); the caller encodes the result instead. */
napi_value OpRows(napi_env env, napi_callback_info info) {
  int slot = g_stat[W_SHAPE], n = g_stat[W_CHUNK], natts = g_stat[W_NATTS], offset = g_stat[W_OFFSET];
  int total = g_stat[W_PROCESSED];
  uint32_t values = (uint32_t)g_stat[W_VALUES], nulls = (uint32_t)g_stat[W_NULLS];
  napi_value out;
  int ok = slot >= 0 && slot < MAX_SHAPES && shapes[slot].desc && n >= 0 && offset >= 0 && offset + n <= total &&
           (size_t)values + (size_t)4 * n * natts <= g_mem_len && (size_t)nulls + (size_t)n * natts <= g_mem_len;
  gil_enter();
  if (ok && offset == 0) {
    Py_XSETREF(g_op_rows, PyList_New(total));
    ok = g_op_rows != NULL;
  }
  ok = ok && g_op_rows && PyList_GET_SIZE(g_op_rows) == total;
  Shape *s = &shapes[ok ? slot : 0];
  for (int r = 0; ok && r < n; r++) {
    PyObject *row = _PyDict_NewPresized(s->nlive);
    ok = row != NULL;
    for (int k = 0; ok && k < s->nlive; k++) {
      int i = s->live[k];
      size_t at = (size_t)r * natts + i;
      PyObject *v;
      if (g_mem[nulls + at]) {
        v = Py_NewRef(Py_None);
      } else {
        uint32_t d;
        memcpy(&d, g_mem + values + 4 * at, 4);
        v = datum_to_py(s->kinds[k], d);
      }
      ok = v && PyDict_SetItem(row, s->keys[k], v) == 0;
      Py_XDECREF(v);
    }
    if (ok) PyList_SET_ITEM(g_op_rows, offset + r, row);
    else Py_XDECREF(row);
  }
  if (!ok) {
    PyErr_Clear(); /* the encoded path reports what is wrong, inside the operation's PG_TRY */
    Py_CLEAR(g_op_rows);
  }
  gil_leave();
  napi_get_boolean(env, ok, &out);
  return out;
}
