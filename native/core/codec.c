/* Decodes the tagged value encoding written by src/python/codec.ts into Python objects, without any
 * per-value N-API traffic: arguments, SPI result sets and row data cross JS -> Python as one byte string. */
#include "codec.h"
#include <string.h>

static PyObject *decimal_type; /* decimal.Decimal */

int codec_init(void) {
  if (decimal_type) return 0;
  PyObject *m = PyImport_ImportModule("decimal");
  if (!m) return -1;
  decimal_type = PyObject_GetAttrString(m, "Decimal");
  Py_DECREF(m);
  return decimal_type ? 0 : -1;
}

static int need(Reader *r, size_t n) {
  if ((size_t)(r->end - r->p) < n) {
    PyErr_SetString(PyExc_ValueError, "pyglite codec: truncated value");
    return -1;
  }
  return 0;
}

static int read_u32(Reader *r, uint32_t *out) {
  if (need(r, 4)) return -1;
  memcpy(out, r->p, 4);
  r->p += 4;
  return 0;
}

static PyObject *read_text(Reader *r, int kind) {
  uint32_t n;
  if (read_u32(r, &n) || need(r, n)) return NULL;
  const char *s = (const char *)r->p;
  r->p += n;
  switch (kind) {
    case T_STR:
      return PyUnicode_DecodeUTF8(s, (Py_ssize_t)n, "strict");
    case T_BYTES:
      return PyBytes_FromStringAndSize(s, (Py_ssize_t)n);
    case T_DECIMAL: {
      PyObject *str = PyUnicode_DecodeUTF8(s, (Py_ssize_t)n, "strict");
      if (!str) return NULL;
      PyObject *d = PyObject_CallOneArg(decimal_type, str);
      Py_DECREF(str);
      return d;
    }
    default: { /* T_INTSTR */
      PyObject *str = PyUnicode_DecodeUTF8(s, (Py_ssize_t)n, "strict");
      if (!str) return NULL;
      PyObject *i = PyLong_FromUnicodeObject(str, 10);
      Py_DECREF(str);
      return i;
    }
  }
}

/* T_NDARRAY: pyglite_host.ndarrays.from_sql(code, dims, bytearray(data), bitmap | None), imported on first
 * use. Its errors (an ImportError without numpy) carry no traceback: the frames are not the user's code,
 * and PL/Python reports a failed argument conversion without them. */
static PyObject *read_ndarray(Reader *r) {
  static PyObject *from_sql;
  if (need(r, 2)) return NULL;
  char code = (char)r->p[0];
  int ndim = r->p[1];
  r->p += 2;
  PyObject *dims = PyTuple_New(ndim);
  if (!dims) return NULL;
  for (int i = 0; i < ndim; i++) {
    uint32_t d;
    if (read_u32(r, &d)) {
      Py_DECREF(dims);
      return NULL;
    }
    PyTuple_SET_ITEM(dims, i, PyLong_FromUnsignedLong(d));
  }
  uint32_t nb, nd;
  if (read_u32(r, &nb) || need(r, nb)) {
    Py_DECREF(dims);
    return NULL;
  }
  PyObject *bitmap = nb ? PyBytes_FromStringAndSize((const char *)r->p, nb) : Py_NewRef(Py_None);
  r->p += nb;
  PyObject *data = NULL;
  if (bitmap && !read_u32(r, &nd) && !need(r, nd)) {
    data = PyByteArray_FromStringAndSize((const char *)r->p, nd); /* the one copy numpy wraps */
    r->p += nd;
  }
  if (!from_sql && data) {
    PyObject *m = PyImport_ImportModule("pyglite_host.ndarrays");
    from_sql = m ? PyObject_GetAttrString(m, "from_sql") : NULL;
    Py_XDECREF(m);
  }
  PyObject *a = from_sql && data ? PyObject_CallFunction(from_sql, "COOO", code, dims, data, bitmap) : NULL;
  Py_DECREF(dims);
  Py_XDECREF(bitmap);
  Py_XDECREF(data);
  if (!a) {
    PyObject *t, *v, *tb;
    PyErr_Fetch(&t, &v, &tb);
    PyErr_NormalizeException(&t, &v, &tb);
    if (v) PyException_SetTraceback(v, Py_None);
    Py_XDECREF(tb);
    PyErr_Restore(t, v, NULL);
  }
  return a;
}

static PyObject *read_rows(Reader *r) {
  uint32_t ncols, nrows;
  if (read_u32(r, &ncols)) return NULL;
  PyObject *names = PyTuple_New(ncols);
  if (!names) return NULL;
  for (uint32_t c = 0; c < ncols; c++) {
    PyObject *k = codec_decode(r);
    if (!k) {
      Py_DECREF(names);
      return NULL;
    }
    PyUnicode_InternInPlace(&k);
    PyTuple_SET_ITEM(names, c, k);
  }
  if (read_u32(r, &nrows)) {
    Py_DECREF(names);
    return NULL;
  }
  PyObject *rows = PyList_New(nrows);
  if (!rows) {
    Py_DECREF(names);
    return NULL;
  }
  for (uint32_t i = 0; i < nrows; i++) {
    PyObject *row = PyDict_New();
    if (!row) goto fail;
    PyList_SET_ITEM(rows, i, row);
    for (uint32_t c = 0; c < ncols; c++) {
      PyObject *v = codec_decode(r);
      if (!v) goto fail;
      int rc = PyDict_SetItem(row, PyTuple_GET_ITEM(names, c), v);
      Py_DECREF(v);
      if (rc) goto fail;
    }
  }
  Py_DECREF(names);
  return rows;
fail:
  Py_DECREF(names);
  Py_DECREF(rows);
  return NULL;
}

PyObject *codec_decode(Reader *r) {
  if (need(r, 1)) return NULL;
  int tag = *r->p++;
  switch (tag) {
    case T_NONE:
      Py_RETURN_NONE;
    case T_FALSE:
      Py_RETURN_FALSE;
    case T_TRUE:
      Py_RETURN_TRUE;
    case T_INT32: {
      int32_t v;
      if (need(r, 4)) return NULL;
      memcpy(&v, r->p, 4);
      r->p += 4;
      return PyLong_FromLong(v);
    }
    case T_INT64: {
      int64_t v;
      if (need(r, 8)) return NULL;
      memcpy(&v, r->p, 8);
      r->p += 8;
      return PyLong_FromLongLong(v);
    }
    case T_FLOAT64: {
      double v;
      if (need(r, 8)) return NULL;
      memcpy(&v, r->p, 8);
      r->p += 8;
      return PyFloat_FromDouble(v);
    }
    case T_STR:
    case T_BYTES:
    case T_DECIMAL:
    case T_INTSTR:
      return read_text(r, tag);
    case T_LIST:
    case T_TUPLE: {
      uint32_t n;
      if (read_u32(r, &n)) return NULL;
      PyObject *seq = tag == T_LIST ? PyList_New(n) : PyTuple_New(n);
      if (!seq) return NULL;
      for (uint32_t i = 0; i < n; i++) {
        PyObject *v = codec_decode(r);
        if (!v) {
          Py_DECREF(seq);
          return NULL;
        }
        if (tag == T_LIST)
          PyList_SET_ITEM(seq, i, v);
        else
          PyTuple_SET_ITEM(seq, i, v);
      }
      return seq;
    }
    case T_DICT: {
      uint32_t n;
      if (read_u32(r, &n)) return NULL;
      PyObject *d = PyDict_New();
      if (!d) return NULL;
      for (uint32_t i = 0; i < n; i++) {
        PyObject *k = codec_decode(r);
        PyObject *v = k ? codec_decode(r) : NULL;
        if (!v || PyDict_SetItem(d, k, v)) {
          Py_XDECREF(k);
          Py_XDECREF(v);
          Py_DECREF(d);
          return NULL;
        }
        Py_DECREF(k);
        Py_DECREF(v);
      }
      return d;
    }
    case T_ROWS:
      return read_rows(r);
    case T_NDARRAY:
      return read_ndarray(r);
    default:
      PyErr_Format(PyExc_ValueError, "pyglite codec: unknown tag %d", tag);
      return NULL;
  }
}
