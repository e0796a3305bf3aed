/* Python results -> the codec stream the engine builds Datums from, by PL/Python's output conversions
 * (plpy_typeio.c: PLyObject_ToScalar, _ToBool, _ToBytea, PLySequence_ToArray, PLyObject_ToComposite).
 * A converter is compiled once from a result descriptor (src/python/output.ts PyDesc) into a tree of
 * nodes and walks each returned object in C. A failure becomes an ERROR tag at the point where PostgreSQL
 * would raise it, and the walk stops there; errors that carry a Python exception get their detail and
 * traceback from pyglite_host.convert (cold path). Scalars with a type hint (int2/4/8, float8, text) whose
 * Python value needs no text round trip are written as INT64/FLOAT64/STR for the engine to store directly. */
#include <string.h>

#include "convert.h"

#define MAXDIM 6

enum { N_SCALAR, N_BOOL, N_BYTEA, N_VOID, N_ARRAY, N_ROW, N_RECORD, N_TRANSFORM };
enum { H_NONE, H_INT2, H_INT4, H_INT8, H_FLOAT8, H_TEXT };

typedef struct Node {
  int kind;
  int hint;
  int procedure;     /* N_VOID: of a procedure */
  struct Node *elem; /* N_ARRAY */
  int natts, live;   /* N_ROW */
  PyObject **names;  /* N_ROW: str, NULL for dropped columns */
  struct Node **atts;
  PyObject *fn; /* N_TRANSFORM: the TO SQL function's symbol (str) */
} Node;

typedef struct {
  uint8_t *p;
  size_t len, cap;
  int failed; /* an ERROR tag was written */
  PyObject *pid;
} Out;

static PyObject *g_fail_fields; /* pyglite_host.convert.failure_fields(message, exc, pid) -> 5-tuple */
static PyObject *g_transform;   /* pyglite_host.transforms.to_sql(symbol, value) -> str or an error tuple */

/* ------------------------------------------------------------------ output buffer */

static int grow(Out *o, size_t n) {
  if (o->len + n <= o->cap) return 0;
  size_t cap = o->cap ? o->cap * 2 : 256;
  while (cap < o->len + n) cap *= 2;
  uint8_t *np = PyMem_Realloc(o->p, cap);
  if (!np) {
    PyErr_NoMemory();
    return -1;
  }
  o->p = np;
  o->cap = cap;
  return 0;
}

static int put(Out *o, const void *b, size_t n) {
  if (grow(o, n)) return -1;
  memcpy(o->p + o->len, b, n);
  o->len += n;
  return 0;
}

static int put_tag(Out *o, uint8_t t) {
  return put(o, &t, 1);
}

static int put_u32(Out *o, uint32_t v) {
  return put(o, &v, 4);
}

static int put_text(Out *o, uint8_t tag, const char *s, size_t n) {
  if (put_tag(o, tag) || put_u32(o, (uint32_t)n)) return -1;
  return put(o, s, n);
}

/* ------------------------------------------------------------------ errors */

/* ereport(ERROR, ...) here: ERROR, then a LIST of message, sqlstate, detail, hint, context. */
static int fail(Out *o, const char *message, const char *sqlstate, const char *detail, const char *hint) {
  const char *f[5] = {message, sqlstate, detail, hint, NULL};
  if (put_tag(o, T_ERROR) || put_tag(o, T_LIST) || put_u32(o, 5)) return -1;
  for (int i = 0; i < 5; i++) {
    if (!f[i] ? put_tag(o, T_NONE) : put_text(o, T_STR, f[i], strlen(f[i]))) return -1;
  }
  o->failed = 1;
  return 1;
}

/* PLy_elog(ERROR, message) with the pending Python exception: detail and traceback from Python. */
static int fail_py(Out *o, const char *message) {
  PyObject *et, *ev, *tb;
  PyErr_Fetch(&et, &ev, &tb);
  PyErr_NormalizeException(&et, &ev, &tb);
  if (ev && tb) PyException_SetTraceback(ev, tb);
  PyObject *t = g_fail_fields && ev
                    ? PyObject_CallFunction(g_fail_fields, "sOO", message, ev, o->pid ? o->pid : Py_None)
                    : NULL;
  Py_XDECREF(et);
  Py_XDECREF(ev);
  Py_XDECREF(tb);
  if (!t || !PyTuple_Check(t) || PyTuple_GET_SIZE(t) != 5) {
    Py_XDECREF(t);
    PyErr_Clear();
    return fail(o, message, "38000", NULL, NULL);
  }
  if (put_tag(o, T_ERROR) || put_tag(o, T_LIST) || put_u32(o, 5)) return -1;
  for (int i = 0; i < 5; i++) {
    PyObject *v = PyTuple_GET_ITEM(t, i);
    Py_ssize_t n;
    const char *s = PyUnicode_Check(v) ? PyUnicode_AsUTF8AndSize(v, &n) : NULL;
    if (!s) PyErr_Clear();
    if (!s ? put_tag(o, T_NONE) : put_text(o, T_STR, s, (size_t)n)) {
      Py_DECREF(t);
      return -1;
    }
  }
  Py_DECREF(t);
  o->failed = 1;
  return 1;
}

/* ------------------------------------------------------------------ scalars */

/* PLyObject_AsString: str as is, repr() for floats, str() otherwise; PLyUnicode_Bytes ends the string at its
 * first NUL. Writes tag STR. 0 ok, 1 failed (ERROR written), -1 internal error. */
static int as_cstring(Out *o, PyObject *v) {
  PyObject *s;
  if (PyUnicode_Check(v))
    s = Py_NewRef(v);
  else if (PyFloat_Check(v))
    s = PyObject_Repr(v);
  else
    s = PyObject_Str(v);
  if (!s) return fail_py(o, "could not create string representation of Python object"); /* PG 18 crashes */
  Py_ssize_t n;
  const char *u = PyUnicode_AsUTF8AndSize(s, &n);
  if (!u) {
    Py_DECREF(s);
    return fail_py(o, "could not convert Python Unicode object to bytes");
  }
  size_t len = strnlen(u, (size_t)n);
  int rc = put_text(o, T_STR, u, len);
  Py_DECREF(s);
  return rc;
}

static int conv(Node *n, Out *o, PyObject *v, int inarray);

static int scalar(Node *n, Out *o, PyObject *v) {
  if (n->hint != H_NONE) {
    if (PyLong_CheckExact(v) && (n->hint == H_INT2 || n->hint == H_INT4 || n->hint == H_INT8)) {
      int overflow = 0;
      long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
      if (x == -1 && PyErr_Occurred()) PyErr_Clear();
      else if (!overflow && (n->hint == H_INT8 || (n->hint == H_INT4 && x >= INT32_MIN && x <= INT32_MAX) ||
                             (n->hint == H_INT2 && x >= -32768 && x <= 32767))) {
        if (put_tag(o, T_INT64)) return -1;
        return put(o, &x, 8);
      }
    } else if (PyFloat_CheckExact(v) && n->hint == H_FLOAT8) {
      double d = PyFloat_AS_DOUBLE(v);
      if (put_tag(o, T_FLOAT64)) return -1;
      return put(o, &d, 8);
    }
  }
  return as_cstring(o, v);
}

/* ------------------------------------------------------------------ arrays */

typedef struct {
  int ndims;
  int dims[MAXDIM];
  int scalars; /* a scalar element was converted (the ArrayBuildState exists) */
} Shape;

static const char *MISMATCH = "multidimensional arrays must have array expressions with matching dimensions";

/* PLySequence_ToArray_recurse */
static int walk(Node *elem, Out *o, PyObject *obj, Shape *sh, int depth) {
  Py_ssize_t len = PySequence_Length(obj);
  if (len < 0) return fail_py(o, "could not determine sequence length for function return value");
  for (Py_ssize_t i = 0; i < len; i++) {
    PyObject *sub = PySequence_GetItem(obj, i);
    if (!sub) {
      char msg[64];
      snprintf(msg, sizeof msg, "could not get element %zd from sequence", i);
      return fail_py(o, msg);
    }
    int rc;
    if (PyList_Check(sub)) {
      rc = 0;
      if (i == 0 && sh->ndims == depth) {
        if (sh->scalars)
          rc = fail(o, MISMATCH, "22P02", NULL, NULL);
        else if (depth >= MAXDIM)
          rc = fail(o, "number of array dimensions exceeds the maximum allowed (6)", "54000", NULL, NULL);
        else
          sh->dims[sh->ndims++] = (int)PyList_GET_SIZE(sub);
      } else if (depth >= sh->ndims || PyList_GET_SIZE(sub) != sh->dims[depth]) {
        rc = fail(o, MISMATCH, "22P02", NULL, NULL);
      }
      if (rc == 0) rc = walk(elem, o, sub, sh, depth + 1);
    } else if (sh->ndims != depth) {
      rc = fail(o, MISMATCH, "22P02", NULL, NULL);
    } else {
      rc = conv(elem, o, sub, 1);
      sh->scalars = 1;
    }
    Py_DECREF(sub);
    if (rc) return rc;
  }
  return 0;
}

static int array(Node *n, Out *o, PyObject *v) {
  if (!PySequence_Check(v))
    return fail(o, "return value of function with array return type is not a Python sequence", "42804", NULL, NULL);
  Shape sh = {1, {0}, 0};
  Py_ssize_t first = PySequence_Length(v);
  if (first < 0) PyErr_Clear(); /* reported by the walk, as PostgreSQL does */
  sh.dims[0] = (int)first;
  if (put_tag(o, T_ARRAY)) return -1;
  int rc = walk(n->elem, o, v, &sh, 1);
  if (rc) return rc;
  if (put_tag(o, T_ARRAY_END) || put_tag(o, (uint8_t)sh.ndims)) return -1;
  for (int i = 0; i < sh.ndims; i++)
    if (put_u32(o, (uint32_t)sh.dims[i])) return -1;
  return 0;
}

/* ------------------------------------------------------------------ composites */

static const char *ARRAY_HINT =
    "To return a composite type in an array, return the composite type as a Python tuple, e.g., \"[('foo',)]\".";

static int row(Node *n, Out *o, PyObject *v, int inarray) {
  if (PyUnicode_Check(v)) { /* record_in, with PL/Python's hint for a likely mistake inside arrays */
    size_t mark = o->len;
    int rc = as_cstring(o, v);
    if (rc || !inarray) return rc;
    const char *s = (const char *)o->p + mark + 5;
    size_t len = o->len - mark - 5, i = 0;
    while (i < len && strchr(" \t\n\r\v\f", s[i]) && s[i]) i++;
    if (i < len && s[i] == '(') return 0;
    char *copy = PyMem_Malloc(len + 32);
    if (!copy) return -1;
    snprintf(copy, len + 32, "malformed record literal: \"%.*s\"", (int)len, s);
    o->len = mark;
    rc = fail(o, copy, "22P02", "Missing left parenthesis.", ARRAY_HINT);
    PyMem_Free(copy);
    return rc;
  }
  char msg[128 + 64];
  if (PySequence_Check(v)) {
    Py_ssize_t len = PySequence_Length(v);
    if (len < 0) PyErr_Clear();
    if (len != n->live) return fail(o, "length of returned sequence did not match number of columns in row", "42804", NULL, NULL);
    if (put_tag(o, T_ROW) || put_u32(o, (uint32_t)n->natts)) return -1;
    for (int i = 0, idx = 0; i < n->natts; i++) {
      if (!n->names[i]) {
        if (put_tag(o, T_NONE)) return -1;
        continue;
      }
      PyObject *item = PySequence_GetItem(v, idx);
      if (!item) {
        snprintf(msg, sizeof msg, "could not get element %d from sequence", idx);
        return fail_py(o, msg);
      }
      int rc = conv(n->atts[i], o, item, 0);
      Py_DECREF(item);
      if (rc) return rc;
      idx++;
    }
    return 0;
  }
  int mapping = PyMapping_Check(v);
  if (put_tag(o, T_ROW) || put_u32(o, (uint32_t)n->natts)) return -1;
  for (int i = 0; i < n->natts; i++) {
    if (!n->names[i]) {
      if (put_tag(o, T_NONE)) return -1;
      continue;
    }
    PyObject *item = mapping ? PyObject_GetItem(v, n->names[i]) : PyObject_GetAttr(v, n->names[i]);
    if (!item) {
      PyErr_Clear(); /* any failure of PyMapping_GetItemString / PyObject_GetAttrString */
      const char *key = PyUnicode_AsUTF8(n->names[i]);
      if (mapping) {
        snprintf(msg, sizeof msg, "key \"%s\" not found in mapping", key);
        return fail(o, msg, "42703", NULL,
                    "To return null in a column, add the value None to the mapping with the key named after the column.");
      }
      snprintf(msg, sizeof msg, "attribute \"%s\" does not exist in Python object", key);
      return fail(o, msg, "42703", NULL,
                  inarray ? ARRAY_HINT
                          : "To return null in a column, let the returned object have an attribute named after column with value None.");
    }
    int rc = conv(n->atts[i], o, item, 0);
    Py_DECREF(item);
    if (rc) return rc;
  }
  return 0;
}

/* numpy_plpython3u (pyglite_host/ndarrays.py to_sql): NDARRAY, u8 ndim, u32 dims, then the NULL bitmap
 * (bytes or None) and the packed elements (a buffer), each copied in one piece. */
static int put_ndarray(Out *o, PyObject *dims, PyObject *data, PyObject *bitmap) {
  Py_ssize_t ndim = PyTuple_Check(dims) ? PyTuple_GET_SIZE(dims) : -1;
  if (ndim < 0 || ndim > MAXDIM || (bitmap != Py_None && !PyBytes_Check(bitmap))) {
    PyErr_SetString(PyExc_TypeError, "transform: bad ndarray result");
    return -1;
  }
  if (put_tag(o, T_NDARRAY) || put_tag(o, (uint8_t)ndim)) return -1;
  for (Py_ssize_t i = 0; i < ndim; i++) {
    unsigned long d = PyLong_AsUnsignedLong(PyTuple_GET_ITEM(dims, i));
    if ((d == (unsigned long)-1 && PyErr_Occurred()) || put_u32(o, (uint32_t)d)) return -1;
  }
  size_t nb = bitmap == Py_None ? 0 : (size_t)PyBytes_GET_SIZE(bitmap);
  if (put_u32(o, (uint32_t)nb) || (nb && put(o, PyBytes_AS_STRING(bitmap), nb))) return -1;
  Py_buffer b;
  if (PyObject_GetBuffer(data, &b, PyBUF_SIMPLE) < 0) return -1;
  int rc = put_u32(o, (uint32_t)b.len) || put(o, b.buf, (size_t)b.len) ? -1 : 0;
  PyBuffer_Release(&b);
  return rc;
}

/* TRANSFORM FOR TYPE (PLyObject_ToTransform): the TO SQL function (pyglite_host/transforms.py) returns the
 * value's text form, which the engine gives the type's input function; or ("error", message, sqlstate,
 * cause): with a cause, PLy_elog's detail and traceback come from it. */
static int transform(Node *n, Out *o, PyObject *v) {
  PyObject *r = g_transform ? PyObject_CallFunctionObjArgs(g_transform, n->fn, v, NULL) : NULL;
  if (!r) return fail_py(o, "could not convert Python object by its transform");
  if (PyUnicode_Check(r)) {
    Py_ssize_t len;
    const char *u = PyUnicode_AsUTF8AndSize(r, &len);
    int rc = u ? put_text(o, T_STR, u, (size_t)len) : -1;
    Py_DECREF(r);
    return rc;
  }
  int rc;
  if (PyTuple_Check(r) && PyTuple_GET_SIZE(r) == 4 && PyUnicode_Check(PyTuple_GET_ITEM(r, 0)) &&
      PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(r, 0), "ndarray") == 0) {
    rc = put_ndarray(o, PyTuple_GET_ITEM(r, 1), PyTuple_GET_ITEM(r, 2), PyTuple_GET_ITEM(r, 3));
  } else if (PyTuple_Check(r) && PyTuple_GET_SIZE(r) == 4) {
    const char *msg = PyUnicode_AsUTF8(PyTuple_GET_ITEM(r, 1));
    const char *state = PyUnicode_AsUTF8(PyTuple_GET_ITEM(r, 2));
    PyObject *cause = PyTuple_GET_ITEM(r, 3);
    if (!msg || !state) rc = -1;
    else if (cause != Py_None) {
      PyErr_SetObject((PyObject *)Py_TYPE(cause), cause);
      rc = fail_py(o, msg);
    } else
      rc = fail(o, msg, state, NULL, NULL);
  } else {
    PyErr_SetString(PyExc_TypeError, "transform: bad result");
    rc = -1;
  }
  Py_DECREF(r);
  return rc;
}

/* ------------------------------------------------------------------ dispatch */

/* 0 ok, 1 an ERROR tag was written (stop), -1 internal failure (a Python exception is set). */
static int conv(Node *n, Out *o, PyObject *v, int inarray) {
  if (v == Py_None && n->kind != N_VOID && n->kind != N_RECORD) return put_tag(o, T_NONE);
  switch (n->kind) {
    case N_SCALAR:
      return scalar(n, o, v);
    case N_BOOL: {
      int t = PyObject_IsTrue(v);
      if (t < 0) { /* PLyObject_ToBool ignores the error: -1 is "true" */
        PyErr_Clear();
        t = 1;
      }
      return put_tag(o, t ? T_TRUE : T_FALSE);
    }
    case N_BYTEA: {
      PyObject *b = PyObject_Bytes(v);
      if (!b) return fail_py(o, "could not create bytes representation of Python object");
      int rc = put_text(o, T_BYTES, PyBytes_AS_STRING(b), (size_t)PyBytes_GET_SIZE(b));
      Py_DECREF(b);
      return rc;
    }
    case N_VOID:
      if (v != Py_None)
        return fail(o,
                    n->procedure ? "PL/Python procedure did not return None"
                                 : "PL/Python function with return type \"void\" did not return None",
                    "42804", NULL, NULL);
      return put_tag(o, T_NONE);
    case N_ARRAY:
      return array(n, o, v);
    case N_ROW:
      return row(n, o, v, inarray);
    case N_TRANSFORM:
      return transform(n, o, v);
    default: /* N_RECORD: RETURNS record where the call site cannot accept one */
      return fail(o, "function returning record called in context that cannot accept type record", "0A000", NULL,
                  NULL);
  }
}

/* ------------------------------------------------------------------ compiling descriptors */

static void free_node(Node *n) {
  if (!n) return;
  free_node(n->elem);
  Py_XDECREF(n->fn);
  for (int i = 0; i < n->natts; i++) {
    Py_XDECREF(n->names[i]);
    free_node(n->atts[i]);
  }
  PyMem_Free(n->names);
  PyMem_Free(n->atts);
  PyMem_Free(n);
}

static Node *compile(PyObject *d, int depth) {
  if (depth > 32 || !PyDict_Check(d)) {
    PyErr_SetString(PyExc_ValueError, "converter: bad result descriptor");
    return NULL;
  }
  PyObject *k = PyDict_GetItemString(d, "k");
  const char *kind = k && PyUnicode_Check(k) ? PyUnicode_AsUTF8(k) : NULL;
  if (!kind) {
    PyErr_SetString(PyExc_ValueError, "converter: descriptor without a kind");
    return NULL;
  }
  Node *n = PyMem_Calloc(1, sizeof(Node));
  if (!n) return (Node *)PyErr_NoMemory();
  switch (kind[0]) {
    case 's': {
      n->kind = N_SCALAR;
      PyObject *h = PyDict_GetItemString(d, "h");
      const char *hs = h && PyUnicode_Check(h) ? PyUnicode_AsUTF8(h) : "";
      n->hint = !strcmp(hs, "i2") ? H_INT2
                : !strcmp(hs, "i4") ? H_INT4
                : !strcmp(hs, "i8") ? H_INT8
                : !strcmp(hs, "f8") ? H_FLOAT8
                : !strcmp(hs, "t")  ? H_TEXT
                                    : H_NONE;
      return n;
    }
    case 'b':
      n->kind = N_BOOL;
      return n;
    case 'y':
      n->kind = N_BYTEA;
      return n;
    case 'v': {
      n->kind = N_VOID;
      PyObject *p = PyDict_GetItemString(d, "p");
      n->procedure = p && PyObject_IsTrue(p) == 1;
      return n;
    }
    case 'R':
      n->kind = N_RECORD;
      return n;
    case 'x': {
      n->kind = N_TRANSFORM;
      PyObject *f = PyDict_GetItemString(d, "f");
      if (!f || !PyUnicode_Check(f)) {
        PyErr_SetString(PyExc_ValueError, "converter: transform without a function");
        break;
      }
      n->fn = Py_NewRef(f);
      return n;
    }
    case 'a': {
      n->kind = N_ARRAY;
      PyObject *e = PyDict_GetItemString(d, "e");
      if (!e || !(n->elem = compile(e, depth + 1))) break;
      return n;
    }
    case 'r': {
      n->kind = N_ROW;
      PyObject *names = PyDict_GetItemString(d, "n"), *types = PyDict_GetItemString(d, "t");
      if (!names || !types || !PyList_Check(names) || !PyList_Check(types) ||
          PyList_GET_SIZE(names) != PyList_GET_SIZE(types)) {
        PyErr_SetString(PyExc_ValueError, "converter: bad row descriptor");
        break;
      }
      n->natts = (int)PyList_GET_SIZE(names);
      n->names = PyMem_Calloc((size_t)n->natts + 1, sizeof(PyObject *));
      n->atts = PyMem_Calloc((size_t)n->natts + 1, sizeof(Node *));
      if (!n->names || !n->atts) {
        PyErr_NoMemory();
        break;
      }
      int ok = 1;
      for (int i = 0; i < n->natts && ok; i++) {
        PyObject *nm = PyList_GET_ITEM(names, i);
        if (nm != Py_None) {
          n->names[i] = Py_NewRef(nm);
          PyUnicode_InternInPlace(&n->names[i]);
          n->live++;
        }
        ok = (n->atts[i] = compile(PyList_GET_ITEM(types, i), depth + 1)) != NULL;
      }
      if (!ok) break;
      return n;
    }
    default:
      PyErr_Format(PyExc_ValueError, "converter: unknown result kind %s", kind);
  }
  free_node(n);
  return NULL;
}

/* ------------------------------------------------------------------ the Python type */

typedef struct {
  PyObject_HEAD Node *root;
} Converter;

static void conv_dealloc(PyObject *self) {
  free_node(((Converter *)self)->root);
  Py_TYPE(self)->tp_free(self);
}

static PyObject *conv_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
  PyObject *desc;
  if (!PyArg_ParseTuple(args, "O!", &PyDict_Type, &desc)) return NULL;
  Node *root = compile(desc, 0);
  if (!root) return NULL;
  Converter *c = (Converter *)type->tp_alloc(type, 0);
  if (!c) {
    free_node(root);
    return NULL;
  }
  c->root = root;
  return (PyObject *)c;
}

PyObject *converter_run(PyObject *converter, PyObject *value, PyObject *pid) {
  Out o = {NULL, 0, 0, 0, pid};
  int rc = conv(((Converter *)converter)->root, &o, value, 0);
  PyObject *b = rc < 0 ? NULL : PyBytes_FromStringAndSize((const char *)o.p, (Py_ssize_t)o.len);
  PyMem_Free(o.p);
  return b;
}

/* converter(value, pid=None) -> codec bytes */
static PyObject *conv_call(PyObject *self, PyObject *args, PyObject *kw) {
  PyObject *value, *pid = Py_None;
  if (!PyArg_ParseTuple(args, "O|O", &value, &pid)) return NULL;
  return converter_run(self, value, pid);
}

PyTypeObject ConverterType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "_pyglite.Converter",
    .tp_basicsize = sizeof(Converter),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "a compiled PL/Python result converter: converter(value, pid=None) -> codec bytes",
    .tp_new = conv_new,
    .tp_dealloc = conv_dealloc,
    .tp_call = conv_call,
};

/* _pyglite.set_transform(callable(symbol, value) -> str | ("error", message, sqlstate, cause)) */
PyObject *py_set_transform(PyObject *self, PyObject *f) {
  Py_XSETREF(g_transform, Py_NewRef(f));
  Py_RETURN_NONE;
}

/* _pyglite.set_failure_fields(callable(message, exc, pid) -> (message, sqlstate, detail, hint, context)) */
PyObject *py_set_failure_fields(PyObject *self, PyObject *f) {
  Py_XSETREF(g_fail_fields, Py_NewRef(f));
  Py_RETURN_NONE;
}
