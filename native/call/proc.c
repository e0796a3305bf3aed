/* The registry of compiled PL/Python procedures (PLy_procedure_get's cache, natively): registered from
 * Python (_pyglite.register_proc), released from Python or JS, freed once no call or iterator runs them;
 * entered by the call path, SRFs (srf.c) and triggers (proc_enter/proc_leave). Owns `procs` (call.h). */
#include <string.h>

#include "call.h"

Proc **procs;
uint32_t nprocs, capprocs;

/* ------------------------------------------------------------------ registry (Python side) */

/* _pyglite.register_proc(func, globals, argnames, argkinds: bytes, retkind, converter) -> id */
PyObject *py_register_proc(PyObject *self, PyObject *args) {
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
  for (uint32_t i = 1; i < nprocs; i++) /* reuse a free slot */
    if (!procs[i]) {
      procs[i] = p;
      p->pid = PyLong_FromUnsignedLong(i);
      return Py_NewRef(p->pid);
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
  p->pid = PyLong_FromUnsignedLong(nprocs++);
  return Py_NewRef(p->pid);
}

static void free_proc(uint32_t id) {
  Proc *p = procs[id];
  procs[id] = NULL;
  Py_DECREF(p->func);
  Py_DECREF(p->globals);
  Py_DECREF(p->argnames);
  Py_DECREF(p->converter);
  Py_XDECREF(p->pid);
  PyMem_Free(p);
}

/* Free a released procedure once nothing runs it (a recursive call, an open iterator). */
void maybe_free(uint32_t id) {
  Proc *p = procs[id];
  if (p && p->dead && p->calldepth == 0 && p->nsrf == 0) free_proc(id);
}

/* _pyglite.release_proc(id): forget a procedure (replaced or its session closed) */
PyObject *py_release_proc(PyObject *self, PyObject *arg) {
  unsigned long id = PyLong_AsUnsignedLong(arg);
  if (PyErr_Occurred()) return NULL;
  Proc *p = proc_by_id(id);
  if (!p) {
    PyErr_SetString(PyExc_ValueError, "release_proc: unknown procedure");
    return NULL;
  }
  p->dead = 1;
  maybe_free((uint32_t)id);
  Py_RETURN_NONE;
}

/* _pyglite.set_converter(id, converter) */
PyObject *py_set_converter(PyObject *self, PyObject *args) {
  unsigned long id;
  PyObject *conv;
  if (!PyArg_ParseTuple(args, "kO", &id, &conv)) return NULL;
  Proc *p = proc_by_id(id);
  if (!p) {
    PyErr_SetString(PyExc_ValueError, "set_converter: unknown procedure");
    return NULL;
  }
  Py_INCREF(conv);
  Py_SETREF(p->converter, conv);
  Py_RETURN_NONE;
}

/* The exact C-level checks PL/Python's converters make (they differ from collections.abc). */
PyObject *py_sequence_check(PyObject *self, PyObject *o) {
  return PyBool_FromLong(PySequence_Check(o));
}
PyObject *py_mapping_check(PyObject *self, PyObject *o) {
  return PyBool_FromLong(PyMapping_Check(o));
}
PyObject *py_object_bytes(PyObject *self, PyObject *o) {
  return PyObject_Bytes(o);
}

/* releaseProc(id): from JS (e.g. a session's procedures when it closes) */
napi_value ReleaseProc(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t id;
  if (argc < 1 || get_u32(env, argv[0], &id)) return throw_error(env, "releaseProc(id)");
  Proc *p = proc_by_id(id);
  if (!p) return undefined(env);
  gil_enter();
  p->dead = 1;
  maybe_free(id);
  gil_leave();
  return undefined(env);
}

/* ------------------------------------------------------------------ for the trigger path (triggers/trigger.c) */

/* Enter procedure `id` for a call: its function and globals (borrowed). Returns the call depth before
 * this call (> 0: a recursive call, whose caller's bindings must be saved), -1 if the procedure is unknown.
 * Every successful proc_enter is paired with one proc_leave. */
int proc_enter(uint32_t id, PyObject **func, PyObject **globals) {
  Proc *p = proc_by_id(id);
  if (!p) return -1;
  *func = p->func;
  *globals = p->globals;
  return p->calldepth++;
}

void proc_leave(uint32_t id) {
  procs[id]->calldepth--;
  maybe_free(id);
}
