/* "MODIFY" (plpy_exec.c PLy_modify_tuple): TD["new"] walked in key order into replacement columns for
 * heap_modify_tuple_by_cols, written into the caller's modify area in wasm memory. Common values are
 * converted here; by-reference results and generic converter output are staged, then copied into wasm
 * memory by trigCopyStaging for src/triggers/modify.ts to finish. */
#include <string.h>

#include "trigger.h"

/* staged by-reference values of a MODIFY walk, copied into wasm memory by trigCopyStaging */
static uint8_t *stg;
static size_t stg_len, stg_cap;

/* Reserve n bytes of staging, 8-aligned (by-reference Datums are MAXALIGNed in PostgreSQL). */
static long stage(size_t n) {
  size_t off = (stg_len + 7) & ~(size_t)7;
  if (off + n > stg_cap) {
    size_t cap = stg_cap ? stg_cap : 4096;
    while (cap < off + n) cap *= 2;
    uint8_t *p = PyMem_Realloc(stg, cap);
    if (!p) {
      PyErr_NoMemory();
      return -1;
    }
    stg = p;
    stg_cap = cap;
  }
  stg_len = off + n;
  return (long)off;
}

/* An ERROR to raise after the entries converted so far (g_last_error: message, sqlstate). */
static int modify_error(const char *sqlstate, const char *fmt, const char *arg) {
  PyObject *msg = arg ? PyUnicode_FromFormat(fmt, arg) : PyUnicode_FromString(fmt);
  PyObject *t = msg ? Py_BuildValue("(Ns)", msg, sqlstate) : NULL;
  if (!t) {
    stash_error(0, 0);
    return TR_MODIFY_FAILED;
  }
  Py_XSETREF(g_last_error, t);
  return TR_MODIFY_FAILED;
}

/* SystemAttributeByName (catalog/heap.c): the names SPI_fnumber resolves to system columns. */
static int is_system_attribute(const char *name) {
  static const char *names[] = {"ctid", "xmin", "cmin", "xmax", "cmax", "tableoid"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp(name, names[i]) == 0) return 1;
  return 0;
}

/* PLy_output_convert for column j (0-based), natively: an exact int into an integer column, a float into
 * float8, a str without NUL into text, a bool (or None) into bool, None into any non-domain column, exactly
 * as PL/Python's converters would. 0 = done (val, isnull, kind set), 1 = needs the generic converter, -1 =
 * Python error. Runs no Python code of the user's. */
static int fast_value(Shape *s, int j, PyObject *v, uint32_t *val, uint8_t *isnull, uint8_t *kind) {
  int ok = s->outkind[j];
  *isnull = 0;
  *kind = M_READY;
  *val = 0;
  if (v == Py_None && ok != O_GENERIC) {
    *isnull = 1;
    return 0;
  }
  switch (ok) {
    case O_INT2:
    case O_INT4:
    case O_OID:
    case O_INT8: {
      if (!PyLong_CheckExact(v)) return 1;
      int overflow = 0;
      long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
      if (overflow || (x == -1 && PyErr_Occurred())) {
        PyErr_Clear();
        return 1;
      }
      if (ok == O_INT8) {
        long off = stage(8);
        if (off < 0) return -1;
        memcpy(stg + off, &x, 8);
        *val = (uint32_t)off;
        *kind = M_INT8;
        return 0;
      }
      if ((ok == O_INT2 && (x < -32768 || x > 32767)) || (ok == O_INT4 && (x < INT32_MIN || x > INT32_MAX)) ||
          (ok == O_OID && (x < 0 || x > UINT32_MAX)))
        return 1; /* the input function reports the range error */
      *val = (uint32_t)x;
      return 0;
    }
    case O_FLOAT8: {
      if (!PyFloat_CheckExact(v)) return 1;
      double x = PyFloat_AS_DOUBLE(v);
      long off = stage(8);
      if (off < 0) return -1;
      memcpy(stg + off, &x, 8);
      *val = (uint32_t)off;
      *kind = M_FLOAT8;
      return 0;
    }
    case O_BOOL:
      if (!PyBool_Check(v)) return 1; /* truthiness of other objects may run their __bool__/__len__ */
      *val = v == Py_True;
      return 0;
    case O_TEXT: {
      if (!PyUnicode_CheckExact(v)) return 1;
      Py_ssize_t n;
      const char *u = PyUnicode_AsUTF8AndSize(v, &n);
      if (!u) {
        PyErr_Clear(); /* the generic converter reports it */
        return 1;
      }
      if (memchr(u, 0, (size_t)n) || (size_t)n > 0x3FFFFFFB) return 1;
      long off = stage(4 + (size_t)n);
      if (off < 0) return -1;
      uint32_t hdr = (uint32_t)(n + 4) << 2; /* SET_VARSIZE, 4-byte header */
      memcpy(stg + off, &hdr, 4);
      memcpy(stg + off + 4, u, (size_t)n);
      *val = (uint32_t)off;
      *kind = M_TEXT;
      return 0;
    }
    default:
      return 1;
  }
}

/* The column's generic converter (pyglite_host.convert's compiled converter, native/call/convert.c: PL/Python's
 * conversions to a codec stream; the engine applies the type's input function with the column's typmod, domain checks, composites, arrays).
 * May run the user's Python code (__str__ and friends). 0 or -1 with a Python error. */
static int generic_value(Shape *s, int j, PyObject *v, uint32_t *val, uint8_t *isnull, uint8_t *kind) {
  *isnull = 0;
  PyObject *conv = s->convs[j];
  if (!conv) {
    conv = PyObject_CallOneArg(result_converter, PyList_GET_ITEM(s->descs, j));
    if (!conv) return -1;
    s->convs[j] = conv;
  }
  PyObject *b = converter_run(conv, v, s->pid);
  if (!b) return -1;
  if (!PyBytes_Check(b)) {
    Py_DECREF(b);
    PyErr_SetString(PyExc_TypeError, "result converter must return bytes");
    return -1;
  }
  size_t n = (size_t)PyBytes_GET_SIZE(b);
  long off = stage(4 + n);
  if (off < 0) {
    Py_DECREF(b);
    return -1;
  }
  uint32_t n32 = (uint32_t)n;
  memcpy(stg + off, &n32, 4);
  memcpy(stg + off + 4, PyBytes_AS_STRING(b), n);
  Py_DECREF(b);
  *val = (uint32_t)off;
  *kind = M_GENERIC;
  return 0;
}

/* PLy_modify_tuple: TD["new"] → replacement columns in the modify area (cols int32[natts], values
 * uint32[natts], nulls uint8[natts], kinds uint8[natts]); the count goes to stat[1], the staging length to
 * stat[6]. On failure the entries before it are valid and the error is in g_last_error.
 * PL/Python takes a snapshot of the keys and looks each value up when it gets to it. While no code of the
 * user's can run, walking the dict directly is the same; before anything that may run such code (a
 * generic conversion, a key of a str subclass) the walk switches to a snapshot of the remaining keys. */
int trig_modify(Shape *s, PyObject *td, PyObject **orig, uint32_t area) {
  int natts = s->natts;
  uint8_t *cols = g_mem + area, *vals = cols + 4 * natts, *nulls = cols + 8 * natts, *kinds = cols + 9 * natts;
  int count = 0, result = TR_MODIFY, next = 0;
  PyObject *keys = NULL; /* the snapshot, once taken */
  stg_len = 0;
  g_stat[1] = 0;
  g_stat[6] = 0;
  PyObject *plntup = PyDict_GetItemWithError(td, k_new);
  if (!plntup) {
    if (PyErr_Occurred()) goto pyerror;
    return modify_error("42704", "TD[\"new\"] deleted, cannot modify row", NULL);
  }
  Py_INCREF(plntup);
  if (!PyDict_Check(plntup)) {
    result = modify_error("42804", "TD[\"new\"] is not a dictionary", NULL);
    goto done;
  }
  Py_ssize_t pos = 0;
  for (Py_ssize_t i = 0;; i++) {
    PyObject *key, *v = NULL;
    if (keys) {
      if (i >= PyList_GET_SIZE(keys)) break;
      key = PyList_GET_ITEM(keys, i);
    } else if (!PyDict_Next(plntup, &pos, &key, &v)) {
      break;
    }
    if (!PyUnicode_Check(key)) {
      char num[32];
      snprintf(num, sizeof num, "%d", (int)i);
      result = modify_error("42804", "TD[\"new\"] dictionary key at ordinal position %s is not a string", num);
      goto done;
    }
    if (!keys && !PyUnicode_CheckExact(key)) { /* its __hash__/__eq__ may be the user's */
      if (!(keys = PyDict_Keys(plntup))) goto pyerror;
      v = NULL;
    }
    Py_ssize_t len;
    const char *name = PyUnicode_AsUTF8AndSize(key, &len);
    if (!name) goto pyerror;
    /* SPI_fnumber; TD["new"] made by TD's builder has the columns in order: try the next one first */
    while (next < natts && !s->keys[next]) next++;
    int j = -1;
    if (next < natts && key == s->keys[next]) {
      j = next;
    } else {
      PyObject *attno;
      if ((size_t)len == strlen(name)) {
        attno = PyDict_GetItemWithError(s->colmap, key);
      } else { /* PL/Python looks the name up as a C string: it ends at the first NUL */
        PyObject *cut = PyUnicode_FromString(name);
        attno = cut ? PyDict_GetItemWithError(s->colmap, cut) : NULL;
        Py_XDECREF(cut);
      }
      if (!attno) {
        if (PyErr_Occurred()) goto pyerror;
        if (is_system_attribute(name))
          result = modify_error("0A000", "cannot set system attribute \"%s\"", name);
        else
          result = modify_error(
              "42703", "key \"%s\" found in TD[\"new\"] does not exist as a column in the triggering row", name);
        goto done;
      }
      j = (int)PyLong_AsLong(attno) - 1;
    }
    next = j + 1;
    if (s->flags[j] & (F_GEN_STORED | F_GEN_VIRTUAL)) {
      result = modify_error("39P01", "cannot set generated column \"%s\"", name);
      goto done;
    }
    if (!v) {
      v = PyDict_GetItemWithError(plntup, key);
      if (!v) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_SystemError, "Python interpreter is probably corrupted");
        goto pyerror;
      }
    }
    /* the unchanged object of an exact round trip: converting it back would give the same Datum */
    if ((s->flags[j] & F_ROUNDTRIP) && orig && orig[j] == v) continue;
    Py_INCREF(v);
    uint32_t val;
    uint8_t isnull, kind;
    int rc = fast_value(s, j, v, &val, &isnull, &kind);
    if (rc > 0) {
      if (!keys && !(keys = PyDict_Keys(plntup))) rc = -1; /* before the user's code can change the dict */
      if (rc > 0) rc = generic_value(s, j, v, &val, &isnull, &kind);
    }
    Py_DECREF(v);
    if (rc) goto pyerror;
    int32_t attnum = j + 1;
    memcpy(cols + 4 * count, &attnum, 4);
    memcpy(vals + 4 * count, &val, 4);
    nulls[count] = isnull;
    kinds[count] = kind;
    count++;
  }
  goto done;
pyerror:
  stash_error((int)s->proc, 0);
  result = TR_MODIFY_FAILED;
done:
  Py_XDECREF(keys);
  Py_XDECREF(plntup);
  g_stat[1] = count;
  g_stat[6] = (int32_t)stg_len;
  return result;
}

/* trigCopyStaging(ptr): copy the staged by-reference values of the last MODIFY walk to wasm memory. */
napi_value TrigCopyStaging(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t dst;
  if (argc < 1 || get_u32(env, argv[0], &dst)) return throw_error(env, "trigCopyStaging(ptr)");
  if (!in_mem(dst, stg_len)) return throw_error(env, "trigCopyStaging: destination outside wasm memory");
  if (stg_len) memcpy(g_mem + dst, stg, stg_len);
  return undefined(env);
}
