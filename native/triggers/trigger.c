/* PL/Python trigger calls on the native path (plpy_exec.c PLy_exec_trigger, PLy_trigger_build_args): TD is
 * built straight from the deformed trigger tuples in wasm memory (a fresh dict per call, cloned from the
 * shape's templates, with interned keys and no text round trip for common types), the procedure runs with
 * TD bound in its globals, and its return value is checked here; "MODIFY" continues in trigger_modify.c.
 * Also the addon's trigger exports (trigger_define). */
#include <string.h>

#include "trigger.h"

/* ------------------------------------------------------------------ TD */

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
  /* the previous call's TD goes here: its values' __del__ may report messages (PL/Python replaces it in
   * PLy_procedure_call, inside the execution context) */
  g_call_depth++;
  g_messages_only++;
  int bound = PyDict_SetItem(globals, k_TD, td);
  g_messages_only--;
  if (bound == 0) {
    if (Py_EnterRecursiveCall(" in PL/Python function") == 0) { /* PLy_procedure_call's frame: call/call.c */
      r = PyObject_CallNoArgs(func);
      Py_LeaveRecursiveCall();
    }
  }
  g_call_depth--;
  if (depth > 0) {
    PyObject *et, *ev, *etb;
    PyErr_Fetch(&et, &ev, &etb);
    messages_only_begin();
    if (saved) PyDict_SetItem(globals, k_TD, saved);
    Py_XDECREF(saved);
    messages_only_end();
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
      if (op == EV_INSERT || op == EV_UPDATE) {
        /* PLy_modify_tuple runs in the trigger's execution context, after SPI_finish: a __str__ its
         * conversion runs may report messages (and nothing may reuse this walk's staging meanwhile) */
        messages_only_begin();
        result = trig_modify(s, td, orig, area);
        messages_only_end();
      } else {
        result = TR_MODIFY_IN_DELETE;
      }
    } else if (keyword_is(srv, "OK")) {
      result = TR_OK;
    } else {
      result = TR_BAD_STRING;
    }
  }
out:
  messages_only_begin();
  Py_XDECREF(r);
  Py_XDECREF(td);
  if (orig) {
    for (int i = 0; i < natts; i++) Py_XDECREF(orig[i]);
    if (orig != small) PyMem_Free(orig);
  }
  messages_only_end();
  proc_leave(s->proc);
  g_stat[7] = result;
  return status;
}

/* ------------------------------------------------------------------ N-API */

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
