/* PL/Python trigger calls on the native path (plpy_exec.c PLy_exec_trigger, PLy_trigger_build_args,
 * PLy_modify_tuple). TD is built straight from the deformed trigger tuples in wasm memory: a fresh dict per
 * call, with interned keys and no text round trip for common types. The procedure runs with TD bound in
 * its globals, and its return value is checked here. For "MODIFY", TD["new"] is walked in key order into
 * replacement columns, which the engine passes to heap_modify_tuple_by_cols. A value that is still the
 * very object TD["new"] was built with, of a type whose conversion round trip is exact, is left
 * unreplaced. A "shape" holds what is fixed per trigger site (procedure × relation descriptor ×
 * trigger): column keys and conversion kinds, and TD's constant values. */
#include "pyglite.h"
#include <stdlib.h>
#include <string.h>

/* how a column's Datum becomes a TD value: call.c's argument kinds (A_*); 0 = taken from the codec */
enum { K_CODEC = 0, K_TEXT = 8, K_BYTEA = 9 };
/* how a TD["new"] value becomes a Datum without the generic converter (src/triggers/shape.ts OUT) */
enum { O_GENERIC = 0, O_INT2, O_INT4, O_INT8, O_FLOAT8, O_BOOL, O_TEXT, O_OID };
/* column flags (src/triggers/shape.ts F) */
enum { F_DROPPED = 1, F_GEN_STORED = 2, F_GEN_VIRTUAL = 4, F_ROUNDTRIP = 8 };
/* replacement entry kinds in the modify area (src/triggers/modify.ts M) */
enum { M_READY = 0, M_INT8, M_FLOAT8, M_TEXT, M_GENERIC };
/* trigCall status (src/triggers/native.ts TS) */
enum { TS_RESULT = 0, TS_ERROR = 6, TS_NEED_DETOAST = 7 };
/* trigger result in stat[7] when the status is TS_RESULT (src/triggers/native.ts TR) */
enum { TR_OK = 0, TR_SKIP, TR_MODIFY, TR_MODIFY_FAILED, TR_MODIFY_IN_DELETE, TR_NOT_STRING, TR_BAD_STRING };

/* TriggerEvent bits (commands/trigger.h) */
#define EV_OPMASK 0x3
#define EV_INSERT 0
#define EV_DELETE 1
#define EV_UPDATE 2
#define EV_ROW 0x4
#define EV_BEFORE 0x8
#define EV_INSTEAD 0x10
#define EV_TIMINGMASK 0x18

typedef struct {
  uint32_t proc;
  int natts;
  PyObject **keys;     /* interned column names (NULL for dropped columns) */
  uint8_t *inkind;     /* K_* / A_* per attribute */
  uint8_t *outkind;    /* O_* per attribute */
  uint8_t *flags;      /* F_* per attribute */
  PyObject *colmap;    /* {name: attno} of the live columns (SPI_fnumber) */
  PyObject *descs;     /* list: result descriptor (JSON) per attribute, for the generic converter */
  PyObject **convs;    /* generic converters, made on first use */
  PyObject *pid;       /* the procedure id as a Python int (converters name it in tracebacks) */
  PyObject *name, *relid, *table_name, *table_schema;
  PyObject *args;      /* tuple of str; NULL when the trigger has no arguments (TD["args"] is None) */
  /* templates copied per call (PyDict_Copy clones a dict's tables: cheaper than inserting every key):
   * TD per event (constants, None for new/old/args, in PL/Python's key order), and a row dict per
   * include_generated with every column key mapped to None */
  PyObject *td_tmpl[32];
  PyObject *row_tmpl[2];
} Shape;

static Shape **shapes;
static uint32_t nshapes, capshapes;

static PyObject *k_TD, *k_name, *k_relid, *k_table_name, *k_table_schema, *k_when, *k_level, *k_old, *k_new,
    *k_event, *k_args;
static PyObject *v_BEFORE, *v_AFTER, *v_INSTEAD, *v_ROW, *v_STATEMENT, *v_op[4];
static PyObject *json_loads, *result_converter;

/* staged by-reference values of a MODIFY walk, copied into wasm memory by trigCopyStaging */
static uint8_t *stg;
static size_t stg_len, stg_cap;

static int init_once(void) {
  if (k_TD) return 0;
#define INTERN(var, s) \
  if (!(var = PyUnicode_InternFromString(s))) return -1
  INTERN(k_name, "name");
  INTERN(k_relid, "relid");
  INTERN(k_table_name, "table_name");
  INTERN(k_table_schema, "table_schema");
  INTERN(k_when, "when");
  INTERN(k_level, "level");
  INTERN(k_old, "old");
  INTERN(k_new, "new");
  INTERN(k_event, "event");
  INTERN(k_args, "args");
  INTERN(v_BEFORE, "BEFORE");
  INTERN(v_AFTER, "AFTER");
  INTERN(v_INSTEAD, "INSTEAD OF");
  INTERN(v_ROW, "ROW");
  INTERN(v_STATEMENT, "STATEMENT");
  INTERN(v_op[0], "INSERT");
  INTERN(v_op[1], "DELETE");
  INTERN(v_op[2], "UPDATE");
  INTERN(v_op[3], "TRUNCATE");
#undef INTERN
  PyObject *m = PyImport_ImportModule("json");
  if (!m) return -1;
  json_loads = PyObject_GetAttrString(m, "loads");
  Py_DECREF(m);
  m = PyImport_ImportModule("pyglite_host.convert");
  if (!m) return -1;
  result_converter = PyObject_GetAttrString(m, "result_converter");
  Py_DECREF(m);
  if (!json_loads || !result_converter) return -1;
  k_TD = PyUnicode_InternFromString("TD"); /* last: marks success */
  return k_TD ? 0 : -1;
}

static void shape_free(Shape *s) {
  for (int i = 0; i < s->natts; i++) {
    Py_XDECREF(s->keys[i]);
    Py_XDECREF(s->convs[i]);
  }
  PyMem_Free(s->keys);
  PyMem_Free(s->convs);
  PyMem_Free(s->inkind);
  PyMem_Free(s->outkind);
  PyMem_Free(s->flags);
  Py_XDECREF(s->colmap);
  Py_XDECREF(s->descs);
  Py_XDECREF(s->pid);
  Py_XDECREF(s->name);
  Py_XDECREF(s->relid);
  Py_XDECREF(s->table_name);
  Py_XDECREF(s->table_schema);
  Py_XDECREF(s->args);
  for (int i = 0; i < 32; i++) Py_XDECREF(s->td_tmpl[i]);
  Py_XDECREF(s->row_tmpl[0]);
  Py_XDECREF(s->row_tmpl[1]);
  PyMem_Free(s);
}

static PyObject *spec_str(PyObject *spec, const char *key) {
  PyObject *v = PyDict_GetItemString(spec, key);
  if (!v || !PyUnicode_Check(v)) {
    PyErr_Format(PyExc_ValueError, "trigger shape: %s must be a string", key);
    return NULL;
  }
  return Py_NewRef(v);
}

/* Build a shape from its JSON spec (src/triggers/shape.ts). GIL held. */
static Shape *shape_new(uint32_t proc, PyObject *spec) {
  PyObject *cols = PyDict_GetItemString(spec, "cols");
  PyObject *args = PyDict_GetItemString(spec, "args");
  if (!cols || !PyList_Check(cols) || !args) {
    PyErr_SetString(PyExc_ValueError, "trigger shape: cols and args are required");
    return NULL;
  }
  Shape *s = PyMem_Calloc(1, sizeof(Shape));
  if (!s) return (Shape *)PyErr_NoMemory();
  s->proc = proc;
  int n = s->natts = (int)PyList_GET_SIZE(cols);
  size_t cap = n > 0 ? (size_t)n : 1;
  s->keys = PyMem_Calloc(cap, sizeof(PyObject *));
  s->convs = PyMem_Calloc(cap, sizeof(PyObject *));
  s->inkind = PyMem_Calloc(cap, 1);
  s->outkind = PyMem_Calloc(cap, 1);
  s->flags = PyMem_Calloc(cap, 1);
  s->colmap = PyDict_New();
  s->descs = PyList_New(n);
  s->pid = PyLong_FromUnsignedLong(proc);
  if (!s->keys || !s->convs || !s->inkind || !s->outkind || !s->flags || !s->colmap || !s->descs || !s->pid) {
    if (!PyErr_Occurred()) PyErr_NoMemory();
    goto fail;
  }
  for (int i = 0; i < n; i++) {
    PyObject *c = PySequence_Tuple(PyList_GET_ITEM(cols, i));
    PyObject *name, *desc;
    int ik, ok, fl;
    if (!c) goto fail;
    if (!PyArg_ParseTuple(c, "UiiiU", &name, &ik, &ok, &fl, &desc)) {
      Py_DECREF(c);
      goto fail;
    }
    Py_DECREF(c); /* name and desc stay alive: the spec holds them */
    s->inkind[i] = (uint8_t)ik;
    s->outkind[i] = (uint8_t)ok;
    s->flags[i] = (uint8_t)fl;
    PyList_SET_ITEM(s->descs, i, Py_NewRef(desc));
    if (fl & F_DROPPED) continue;
    Py_INCREF(name);
    PyUnicode_InternInPlace(&name);
    s->keys[i] = name;
    PyObject *attno = PyLong_FromLong(i + 1);
    if (!attno || PyDict_SetItem(s->colmap, name, attno)) {
      Py_XDECREF(attno);
      goto fail;
    }
    Py_DECREF(attno);
  }
  if (!(s->name = spec_str(spec, "name")) || !(s->relid = spec_str(spec, "relid")) ||
      !(s->table_name = spec_str(spec, "table_name")) || !(s->table_schema = spec_str(spec, "table_schema")))
    goto fail;
  if (args != Py_None) {
    if (!(s->args = PySequence_Tuple(args))) goto fail;
  }
  /* PLyDict_FromTuple's keys: no dropped or virtual generated columns; stored generated ones only
   * when included (not in TD["new"] of a BEFORE trigger: they are not computed yet) */
  for (int g = 0; g < 2; g++) {
    if (!(s->row_tmpl[g] = PyDict_New())) goto fail;
    for (int i = 0; i < n; i++) {
      uint8_t f = s->flags[i];
      if ((f & (F_DROPPED | F_GEN_VIRTUAL)) || ((f & F_GEN_STORED) && !g)) continue;
      if (PyDict_SetItem(s->row_tmpl[g], s->keys[i], Py_None)) goto fail;
    }
  }
  return s;
fail:
  shape_free(s);
  return NULL;
}

static Shape *shape_by_id(uint32_t id) {
  return id > 0 && id < nshapes ? shapes[id] : NULL;
}

static uint32_t shape_store(Shape *s) {
  for (uint32_t i = 1; i < nshapes; i++)
    if (!shapes[i]) {
      shapes[i] = s;
      return i;
    }
  if (nshapes == 0) nshapes = 1;
  if (nshapes >= capshapes) {
    uint32_t cap = capshapes ? capshapes * 2 : 64;
    Shape **ns = PyMem_Realloc(shapes, cap * sizeof(Shape *));
    if (!ns) return 0;
    memset(ns + capshapes, 0, (cap - capshapes) * sizeof(Shape *));
    shapes = ns;
    capshapes = cap;
  }
  shapes[nshapes] = s;
  return nshapes++;
}

/* ------------------------------------------------------------------ TD */

static int in_mem(uint32_t addr, size_t len) {
  return (size_t)addr + len <= g_mem_len;
}

static uint32_t mem_u32(uint32_t addr) {
  uint32_t v;
  memcpy(&v, g_mem + addr, 4);
  return v;
}

/* A text/bytea value stored compressed or out of line: the engine detoasts it, then calls again. */
static int needs_detoast(Shape *s, uint32_t vals, uint32_t nulls) {
  for (int i = 0; i < s->natts; i++) {
    int k = s->inkind[i];
    if ((k != K_TEXT && k != K_BYTEA) || (s->flags[i] & (F_DROPPED | F_GEN_VIRTUAL)) || g_mem[nulls + i]) continue;
    uint32_t d = mem_u32(vals + 4 * i);
    if (!in_mem(d, 1)) return 1;
    uint8_t b = g_mem[d];
    if (b == 0x01 || (b & 0x03) == 0x02) return 1;
  }
  return 0;
}

/* PLyDict_FromTuple: {column: value} of one deformed tuple, from the shape's row template. Dropped and
 * virtual generated columns never appear; stored generated ones only with include_generated. Codec
 * values (JS-converted types) are read for every non-null codec column in order, whether included or not
 * (src/triggers/rows.ts writes them). With `orig`, the value objects of round-trip-exact columns are kept
 * (new references) for the MODIFY walk's identity check. */
static PyObject *row_dict(Shape *s, uint32_t vals, uint32_t nulls, int include_generated, Reader *codec,
                          PyObject **orig) {
  PyObject *d = PyDict_Copy(s->row_tmpl[include_generated]);
  if (!d) return NULL;
  for (int i = 0; i < s->natts; i++) {
    uint8_t f = s->flags[i];
    if (f & (F_DROPPED | F_GEN_VIRTUAL)) continue;
    int skip = (f & F_GEN_STORED) && !include_generated;
    if (g_mem[nulls + i]) continue; /* None already */
    int kind = s->inkind[i];
    PyObject *v;
    if (kind == K_CODEC) {
      v = codec_decode(codec);
    } else {
      if (skip) continue;
      v = datum_to_py(kind, mem_u32(vals + 4 * i));
      if (!v && !PyErr_Occurred()) PyErr_SetString(PyExc_SystemError, "trigger row: value not detoasted");
    }
    if (!v) goto fail;
    if (skip) {
      Py_DECREF(v);
      continue;
    }
    if (PyDict_SetItem(d, s->keys[i], v)) {
      Py_DECREF(v);
      goto fail;
    }
    if (orig && (f & F_ROUNDTRIP))
      orig[i] = v; /* keeps the reference */
    else
      Py_DECREF(v);
  }
  if (orig) /* NULL columns: their value object is None */
    for (int i = 0; i < s->natts; i++)
      if (!orig[i] && (s->flags[i] & F_ROUNDTRIP) && g_mem[nulls + i]) orig[i] = Py_NewRef(Py_None);
  return d;
fail:
  Py_DECREF(d);
  return NULL;
}

/* PLy_trigger_build_args' TD for an event, with None for new, old and args: PL/Python's keys in its
 * insertion order (name, relid, table_name, table_schema, when, level, old/new as per the event, event,
 * args). Made once per shape and event. */
static PyObject *td_template(Shape *s, uint32_t event) {
  PyObject **slot = &s->td_tmpl[event & 0x1F];
  if (*slot) return *slot;
  int op = event & EV_OPMASK, timing = event & EV_TIMINGMASK;
  PyObject *when = timing == EV_BEFORE ? v_BEFORE : timing == 0 ? v_AFTER : timing == EV_INSTEAD ? v_INSTEAD : NULL;
  if (!when) {
    PyErr_Format(PyExc_SystemError, "unrecognized WHEN tg_event: %u", event);
    return NULL;
  }
  if ((event & EV_ROW) && op != EV_INSERT && op != EV_DELETE && op != EV_UPDATE) {
    PyErr_Format(PyExc_SystemError, "unrecognized OP tg_event: %u", event);
    return NULL;
  }
  PyObject *td = PyDict_New();
  if (!td) return NULL;
  int rc = PyDict_SetItem(td, k_name, s->name) || PyDict_SetItem(td, k_relid, s->relid) ||
           PyDict_SetItem(td, k_table_name, s->table_name) || PyDict_SetItem(td, k_table_schema, s->table_schema) ||
           PyDict_SetItem(td, k_when, when) ||
           PyDict_SetItem(td, k_level, (event & EV_ROW) ? v_ROW : v_STATEMENT);
  if (!rc) {
    if ((event & EV_ROW) && op != EV_INSERT)
      rc = PyDict_SetItem(td, k_new, Py_None) || PyDict_SetItem(td, k_old, Py_None);
    else
      rc = PyDict_SetItem(td, k_old, Py_None) || PyDict_SetItem(td, k_new, Py_None);
  }
  if (rc || PyDict_SetItem(td, k_event, v_op[op]) || PyDict_SetItem(td, k_args, Py_None)) {
    Py_DECREF(td);
    return NULL;
  }
  *slot = td;
  return td;
}

/* PLy_trigger_build_args: a fresh TD for this call. */
static PyObject *build_td(Shape *s, uint32_t event, uint32_t nv, uint32_t nn, uint32_t ov, uint32_t on,
                          Reader *codec, PyObject **orig) {
  PyObject *tmpl = td_template(s, event);
  if (!tmpl) return NULL;
  int op = event & EV_OPMASK, timing = event & EV_TIMINGMASK;
  if ((event & EV_ROW) && ((op != EV_DELETE && !nv) || (op != EV_INSERT && !ov))) {
    PyErr_Format(PyExc_SystemError, "trigger call without its tuples (event %u)", event);
    return NULL;
  }
  PyObject *td = PyDict_Copy(tmpl);
  if (!td) return NULL;
  if (event & EV_ROW) {
    /* stored generated columns are not computed yet in a BEFORE trigger: not in TD["new"] */
    PyObject *tnew = nv ? row_dict(s, nv, nn, timing != EV_BEFORE, codec, orig) : NULL;
    PyObject *told = tnew || !nv ? (ov ? row_dict(s, ov, on, 1, codec, NULL) : NULL) : NULL;
    int rc = (nv && !tnew) || (ov && !told) || (tnew && PyDict_SetItem(td, k_new, tnew)) ||
             (told && PyDict_SetItem(td, k_old, told));
    Py_XDECREF(tnew);
    Py_XDECREF(told);
    if (rc) goto fail;
  }
  if (s->args) {
    Py_ssize_t n = PyTuple_GET_SIZE(s->args);
    PyObject *args = PyList_New(n);
    if (!args) goto fail;
    for (Py_ssize_t i = 0; i < n; i++) PyList_SET_ITEM(args, i, Py_NewRef(PyTuple_GET_ITEM(s->args, i)));
    int rc = PyDict_SetItem(td, k_args, args);
    Py_DECREF(args);
    if (rc) goto fail;
  }
  return td;
fail:
  Py_DECREF(td);
  return NULL;
}

/* ------------------------------------------------------------------ MODIFY */

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

/* The column's generic converter (pyglite_host.convert's compiled converter, native/convert.c: PL/Python's
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
static int modify(Shape *s, PyObject *td, PyObject **orig, uint32_t area) {
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

/* ------------------------------------------------------------------ the call */

/* pg_strcasecmp against an ASCII keyword; `s` ends at its first NUL, as PLyUnicode_AsString's C string. */
static int keyword_is(const char *s, const char *kw) {
  for (; *kw; s++, kw++) {
    char c = *s;
    if (c >= 'a' && c <= 'z') c -= 32;
    if (c != *kw) return 0;
  }
  return *s == 0;
}

static int trig_call(Shape *s, uint32_t event, uint32_t nv, uint32_t nn, uint32_t ov, uint32_t on,
                     uint32_t codec_len, uint32_t area) {
  int natts = s->natts;
  if ((nv && (!in_mem(nv, 4 * (size_t)natts) || !in_mem(nn, (size_t)natts))) ||
      (ov && (!in_mem(ov, 4 * (size_t)natts) || !in_mem(on, (size_t)natts))) || !in_mem(area, 10 * (size_t)natts)) {
    PyErr_SetString(PyExc_SystemError, "trigger call: tuple or modify area outside wasm memory");
    stash_error((int)s->proc, 0);
    return TS_ERROR;
  }
  if ((nv && needs_detoast(s, nv, nn)) || (ov && needs_detoast(s, ov, on))) return TS_NEED_DETOAST;
  PyObject *func, *globals;
  int depth = proc_enter(s->proc, &func, &globals);
  if (depth < 0) {
    PyErr_SetString(PyExc_SystemError, "trigger call: unknown procedure");
    stash_error(0, 0);
    return TS_ERROR;
  }
  PyObject *small[64];
  PyObject **orig = NULL;
  if (nv) {
    orig = natts <= 64 ? small : PyMem_Malloc((size_t)natts * sizeof(PyObject *));
    if (orig) memset(orig, 0, sizeof(PyObject *) * (size_t)natts);
  }
  int status = TS_RESULT, result = TR_OK;
  PyObject *saved = NULL, *r = NULL;
  Reader codec = {g_codec, g_codec + codec_len};
  PyObject *td = nv && !orig ? PyErr_NoMemory() : build_td(s, event, nv, nn, ov, on, &codec, orig);
  if (!td) {
    stash_error((int)s->proc, 0);
    status = TS_ERROR;
    goto out;
  }
  /* PLy_global_args_push/pop: a recursive call must not clobber the caller's TD (bug #18456) */
  if (depth > 0) {
    saved = PyDict_GetItemWithError(globals, k_TD);
    Py_XINCREF(saved);
    PyErr_Clear();
  }
  if (PyDict_SetItem(globals, k_TD, td) == 0) {
    g_call_depth++;
    r = PyObject_CallNoArgs(func);
    g_call_depth--;
  }
  if (depth > 0) {
    PyObject *et, *ev, *etb;
    PyErr_Fetch(&et, &ev, &etb);
    if (saved) PyDict_SetItem(globals, k_TD, saved);
    Py_XDECREF(saved);
    PyErr_Restore(et, ev, etb);
  }
  if (!r) {
    stash_error((int)s->proc, 0);
    status = TS_ERROR;
    goto out;
  }
  /* PLy_exec_trigger's return value rules */
  if (r == Py_None) {
    result = TR_OK;
  } else if (!PyUnicode_Check(r)) {
    result = TR_NOT_STRING;
  } else {
    const char *srv = PyUnicode_AsUTF8(r);
    int op = event & EV_OPMASK;
    if (!srv) {
      stash_error((int)s->proc, 0);
      status = TS_ERROR;
    } else if (keyword_is(srv, "SKIP")) {
      result = TR_SKIP;
    } else if (keyword_is(srv, "MODIFY")) {
      result = op == EV_INSERT || op == EV_UPDATE ? modify(s, td, orig, area) : TR_MODIFY_IN_DELETE;
    } else if (keyword_is(srv, "OK")) {
      result = TR_OK;
    } else {
      result = TR_BAD_STRING;
    }
  }
out:
  Py_XDECREF(r);
  Py_XDECREF(td);
  if (orig) {
    for (int i = 0; i < natts; i++) Py_XDECREF(orig[i]);
    if (orig != small) PyMem_Free(orig);
  }
  proc_leave(s->proc);
  g_stat[7] = result;
  return status;
}

/* ------------------------------------------------------------------ N-API */

/* trigSetup(procId, specJson) -> shape id */
static napi_value TrigSetup(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], out;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t proc;
  size_t n;
  if (argc < 2 || get_u32(env, argv[0], &proc) || napi_get_value_string_utf8(env, argv[1], NULL, 0, &n) != napi_ok)
    return throw_error(env, "trigSetup(procId, specJson)");
  char *json = malloc(n + 1);
  if (!json) return throw_error(env, "trigSetup: out of memory");
  napi_get_value_string_utf8(env, argv[1], json, n + 1, &n);
  gil_enter();
  uint32_t id = 0;
  char err[300] = "trigSetup failed";
  PyObject *spec = NULL;
  if (init_once() == 0 && (spec = PyObject_CallFunction(json_loads, "s#", json, (Py_ssize_t)n)) != NULL &&
      PyDict_Check(spec)) {
    Shape *s = shape_new(proc, spec);
    if (s && !(id = shape_store(s))) shape_free(s);
  }
  if (!id) {
    PyObject *et, *ev, *etb;
    PyErr_Fetch(&et, &ev, &etb);
    PyObject *str = ev ? PyObject_Str(ev) : NULL;
    const char *u = str ? PyUnicode_AsUTF8(str) : NULL;
    if (u) snprintf(err, sizeof err, "trigSetup: %s", u);
    Py_XDECREF(str);
    Py_XDECREF(et);
    Py_XDECREF(ev);
    Py_XDECREF(etb);
    PyErr_Clear();
  }
  Py_XDECREF(spec);
  gil_leave();
  free(json);
  if (!id) return throw_error(env, err);
  napi_create_uint32(env, id, &out);
  return out;
}

/* trigRelease(shapeId) */
static napi_value TrigRelease(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t id;
  if (argc < 1 || get_u32(env, argv[0], &id)) return throw_error(env, "trigRelease(shapeId)");
  Shape *s = shape_by_id(id);
  if (!s) return undefined(env);
  gil_enter();
  shapes[id] = NULL;
  shape_free(s);
  gil_leave();
  return undefined(env);
}

/* The arguments of trigCall, written by JS into a shared Uint32Array (no N-API value per argument):
 * shapeId, procId, event, newValues, newNulls, oldValues, oldNulls, codecLen, modifyArea. Tuple
 * arguments are wasm addresses of deformed Datum/bool arrays, 0 when absent. */
static uint32_t *targs;

/* trigCall() -> status (TS_*; TS_RESULT with the trigger result in stat[7]). */
static napi_value TrigCall(napi_env env, napi_callback_info info) {
  napi_value out;
  uint32_t a[9];
  memcpy(a, targs, sizeof a);
  Shape *s = shape_by_id(a[0]);
  if (!s || s->proc != a[1]) return throw_error(env, "trigCall: unknown trigger shape");
  if (a[7] > g_codec_len) return throw_error(env, "trigCall: codec length beyond the registered buffer");
  gil_enter();
  int st = trig_call(s, a[2], a[3], a[4], a[5], a[6], a[7], a[8]);
  gil_leave();
  napi_create_int32(env, st, &out);
  return out;
}

/* trigCopyStaging(ptr): copy the staged by-reference values of the last MODIFY walk to wasm memory. */
static napi_value TrigCopyStaging(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t dst;
  if (argc < 1 || get_u32(env, argv[0], &dst)) return throw_error(env, "trigCopyStaging(ptr)");
  if (!in_mem(dst, stg_len)) return throw_error(env, "trigCopyStaging: destination outside wasm memory");
  if (stg_len) memcpy(g_mem + dst, stg, stg_len);
  return undefined(env);
}

void trigger_define(napi_env env, napi_value exports) {
  void *data;
  napi_value ab, arr;
  napi_ref keep; /* lives as long as the process, like the status words */
  napi_create_arraybuffer(env, 16 * sizeof(uint32_t), &data, &ab);
  memset(data, 0, 16 * sizeof(uint32_t));
  targs = data;
  napi_create_typedarray(env, napi_uint32_array, 16, ab, 0, &arr);
  napi_create_reference(env, ab, 1, &keep);
  napi_set_named_property(env, exports, "trigArgs", arr);
  napi_property_descriptor d[] = {
      {"trigSetup", 0, TrigSetup, 0, 0, 0, napi_default, 0},
      {"trigRelease", 0, TrigRelease, 0, 0, 0, napi_default, 0},
      {"trigCall", 0, TrigCall, 0, 0, 0, napi_default, 0},
      {"trigCopyStaging", 0, TrigCopyStaging, 0, 0, 0, napi_default, 0},
  };
  napi_define_properties(env, exports, sizeof d / sizeof d[0], d);
}
