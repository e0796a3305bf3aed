/* Trigger shapes (one per trigger site: procedure × relation descriptor × trigger): interned column keys,
 * conversion kinds, TD's constant values and the dict templates TD and its rows are cloned from; made from
 * a JSON spec (src/triggers/site.ts) on the cold path, with the interned TD keys and values. */
#include <stdlib.h>
#include <string.h>

#include "trigger.h"

static Shape **shapes;
static uint32_t nshapes, capshapes;

PyObject *k_TD, *k_name, *k_relid, *k_table_name, *k_table_schema, *k_when, *k_level, *k_old, *k_new,
    *k_event, *k_args;
PyObject *v_BEFORE, *v_AFTER, *v_INSTEAD, *v_ROW, *v_STATEMENT, *v_op[4];
PyObject *result_converter;
static PyObject *json_loads;


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

/* Build a shape from its JSON spec (src/triggers/site.ts). GIL held. */
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

Shape *shape_by_id(uint32_t id) {
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

/* ------------------------------------------------------------------ N-API */

/* trigSetup(procId, specJson) -> shape id */
napi_value TrigSetup(napi_env env, napi_callback_info info) {
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
napi_value TrigRelease(napi_env env, napi_callback_info info) {
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
