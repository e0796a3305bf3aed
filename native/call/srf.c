/* Set-returning PL/Python functions in value-per-call mode (plpy_exec.c, PLySRFState): the first call runs
 * the function and keeps an iterator of its result here, with the argument bindings saved after each
 * item; every later call restores those bindings and fetches the next item. src/plpython/srf.ts drives it
 * and drops the iterator when the query stops early. */
#include <string.h>

#include "call.h"

typedef struct {
  uint32_t proc;
  PyObject *iter;  /* NULL once exhausted */
  PyObject *saved; /* argument bindings to restore before the next item */
} Srf;

static Srf *srfs;
static uint32_t nsrfs, capsrfs;

static uint32_t srf_alloc(void) {
  for (uint32_t i = 1; i < nsrfs; i++)
    if (!srfs[i].proc) return i;
  if (nsrfs == 0) nsrfs = 1;
  if (nsrfs >= capsrfs) {
    uint32_t cap = capsrfs ? capsrfs * 2 : 64;
    Srf *ns = PyMem_Realloc(srfs, cap * sizeof(Srf));
    if (!ns) return 0;
    memset(ns + capsrfs, 0, (cap - capsrfs) * sizeof(Srf));
    srfs = ns;
    capsrfs = cap;
  }
  return nsrfs++;
}

static void srf_free(uint32_t i) {
  Srf *s = &srfs[i];
  uint32_t id = s->proc;
  PyObject *iter = s->iter, *saved = s->saved;
  s->proc = 0;
  s->iter = NULL;
  s->saved = NULL;
  Py_XDECREF(saved);
  /* may run a generator's finally: blocks. PL/Python drops the iterator in a memory context reset callback
   * (plpy_exec.c plpython_srf_cleanup_callback) where plpy.notice & co. still report; SPI has no function
   * to run in then ("no Python function is currently executing", src/plpy-shim/state.ts callFrame). */
  g_call_depth++;
  Py_XDECREF(iter);
  g_call_depth--;
  procs[id]->nsrf--;
  maybe_free(id);
}

/* srfStart(procId, fcinfo, codecLen) -> iterator id (0 on failure: S_ERROR, S_NOT_ITERABLE, S_NEED_CODEC).
 * Calls the function and makes an iterator of what it returned (first call of PLy_exec_function). */
napi_value SrfStart(napi_env env, napi_callback_info info) {
  uint32_t id, fcinfo, codec_len, sid = 0;
  if (call_args(env, info, &id, &fcinfo, &codec_len)) return NULL;
  Proc *p = procs[id];
  napi_value out;
  gil_enter();
  PyObject *argv[MAX_ARGS];
  if (build_args(p, id, fcinfo, codec_len, argv) == 0) {
    PyObject *outer = p->calldepth > 0 ? save_bindings(p) : NULL;
    p->calldepth++;
    PyObject *r = bind_and_call(p, argv);
    PyObject *iter = r ? PyObject_GetIter(r) : NULL;
    PyObject *saved = iter ? save_bindings(p) : NULL;
    p->calldepth--;
    if (!r) {
      stash_error((int)id, 0);
      set_status(S_ERROR);
    } else if (!iter) {
      PyErr_Clear();
      set_status(S_NOT_ITERABLE);
    } else if ((sid = srf_alloc()) == 0) {
      PyErr_NoMemory();
      stash_error((int)id, 0);
      set_status(S_ERROR);
    } else {
      srfs[sid].proc = id;
      srfs[sid].iter = iter;
      srfs[sid].saved = saved;
      p->nsrf++;
      iter = saved = NULL;
      set_status(S_DATUM);
    }
    Py_XDECREF(iter);
    Py_XDECREF(saved);
    Py_XDECREF(r);
    restore_bindings(p, outer);
    maybe_free(id);
  }
  gil_leave();
  napi_create_uint32(env, sid, &out);
  return out;
}

/* srfNext(iterId) -> Datum of the next item (status as for call), or S_DONE when exhausted. */
napi_value SrfNext(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  uint32_t sid, datum = 0;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || get_u32(env, argv[0], &sid) || sid == 0 || sid >= nsrfs || !srfs[sid].proc)
    return throw_error(env, "srfNext: unknown iterator");
  uint32_t id = srfs[sid].proc;
  Proc *p = procs[id];
  gil_enter();
  if (!srfs[sid].iter) {
    set_status(S_DONE);
  } else {
    PyObject *outer = p->calldepth > 0 ? save_bindings(p) : NULL;
    restore_bindings(p, srfs[sid].saved);
    srfs[sid].saved = NULL;
    PyObject *iter = Py_NewRef(srfs[sid].iter);
    p->calldepth++;
    g_call_depth++;
    PyObject *item = PyIter_Next(iter);
    g_call_depth--;
    p->calldepth--;
    Py_DECREF(iter);
    Srf *s = &srfs[sid]; /* the table may have moved: the iterator can start other iterators */
    int mine = s->proc == id;   /* and it could have been closed meanwhile */
    if (!item) {
      if (PyErr_Occurred()) {
        stash_error((int)id, 2);
        set_status(S_ERROR);
      } else {
        set_status(S_DONE);
      }
      if (mine) Py_CLEAR(s->iter);
    } else {
      if (mine) s->saved = save_bindings(p);
      g_call_depth++; /* plpy usable from a __str__ the conversion runs (call.c) */
      convert_result(p, id, item, &datum);
      g_call_depth--;
      Py_DECREF(item);
    }
    restore_bindings(p, outer);
  }
  gil_leave();
  napi_create_uint32(env, datum, &out);
  return out;
}

/* srfClose(iterId): drop the iterator (exhausted, failed, or the query stopped early). */
napi_value SrfClose(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  uint32_t sid;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || get_u32(env, argv[0], &sid)) return throw_error(env, "srfClose(iterId)");
  if (sid == 0 || sid >= nsrfs || !srfs[sid].proc) return undefined(env);
  gil_enter();
  srf_free(sid);
  gil_leave();
  return undefined(env);
}

