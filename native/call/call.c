/* The per-call path of PL/Python procedures (plpy_exec.c): arguments read straight from wasm memory (or
 * from the codec for types JS converts), bound as the procedure's globals and as `args`, the call, common
 * results converted without a text round trip, others through the procedure's Python result converter.
 * Procedures are registered in proc.c; set-returning functions build on this in srf.c. */
#include <string.h>

#include "call.h"

static PyObject *g_result; /* pending bytes (S_GENERIC) or str (S_TEXT) */
static PyObject *s_args;   /* interned "args" */

void call_init(void) {
  s_args = PyUnicode_InternFromString("args");
}

/* ------------------------------------------------------------------ arguments */

/* A plain (not compressed, not external) varlena: data pointer and length; -1 if it needs detoasting. */
static int varlena_plain(uint32_t ptr, const uint8_t **data, uint32_t *len) {
  if ((size_t)ptr + 1 > g_mem_len) return -1;
  const uint8_t *v = g_mem + ptr;
  uint8_t b = v[0];
  if (b == 0x01) return -1; /* external TOAST pointer */
  if (b & 0x01) {           /* 1-byte header */
    *len = (uint32_t)(b >> 1) - 1;
    *data = v + 1;
  } else if ((b & 0x03) == 0) { /* 4-byte header, uncompressed */
    uint32_t h;
    memcpy(&h, v, 4);
    *len = (h >> 2) - 4;
    *data = v + 4;
  } else {
    return -1; /* compressed inline */
  }
  if ((size_t)(*data - g_mem) + *len > g_mem_len) return -1;
  return 0;
}

/* Returns a new reference, NULL with a Python error, or NEEDS_CODEC when JS must convert. */
#define NEEDS_CODEC ((PyObject *)1)

static PyObject *read_arg(int kind, uint32_t datum, int isnull, Reader *codec) {
  if (kind == A_CODEC) return codec_decode(codec);
  if (isnull) Py_RETURN_NONE;
  switch (kind) {
    case A_INT2:
      return PyLong_FromLong((int16_t)datum);
    case A_INT4:
      return PyLong_FromLong((int32_t)datum);
    case A_OID:
      return PyLong_FromUnsignedLong(datum);
    case A_BOOL:
      return PyBool_FromLong(datum & 0xff);
    case A_FLOAT4: {
      float f;
      memcpy(&f, &datum, 4);
      return PyFloat_FromDouble((double)f);
    }
    case A_INT8: {
      int64_t v;
      if ((size_t)datum + 8 > g_mem_len) return NEEDS_CODEC;
      memcpy(&v, g_mem + datum, 8);
      return PyLong_FromLongLong(v);
    }
    case A_FLOAT8: {
      double v;
      if ((size_t)datum + 8 > g_mem_len) return NEEDS_CODEC;
      memcpy(&v, g_mem + datum, 8);
      return PyFloat_FromDouble(v);
    }
    case A_TEXT:
    case A_BYTEA: {
      const uint8_t *d;
      uint32_t n;
      if (varlena_plain(datum, &d, &n)) return NEEDS_CODEC;
      if (kind == A_BYTEA) return PyBytes_FromStringAndSize((const char *)d, n);
      return PyUnicode_DecodeUTF8((const char *)d, n, "strict");
    }
    default:
      PyErr_Format(PyExc_SystemError, "unknown argument kind %d", kind);
      return NULL;
  }
}

void set_status(int s) {
  g_stat[0] = s;
}

/* PLy_function_build_args: argv[i] for every argument. 0 ok; otherwise the status is set. */
int build_args(Proc *p, uint32_t id, uint32_t fcinfo, uint32_t codec_len, PyObject **argv) {
  Reader codec = {g_codec, g_codec + codec_len};
  const uint8_t *nd = g_mem + fcinfo + 20; /* FunctionCallInfoBaseData.args */
  for (int i = 0; i < p->nargs; i++) {
    uint32_t d;
    memcpy(&d, nd + 8 * i, 4);
    PyObject *o = read_arg(p->argkinds[i], d, nd[8 * i + 4], &codec);
    if (o == NEEDS_CODEC || !o) {
      for (int j = 0; j < i; j++) Py_DECREF(argv[j]);
      if (o == NEEDS_CODEC) {
        set_status(S_NEED_CODEC);
      } else {
        stash_error((int)id, 0);
        set_status(S_ERROR);
      }
      return -1;
    }
    argv[i] = o;
  }
  return 0;
}

/* PLy_function_save_args: the current bindings of the named arguments and of `args`. */
PyObject *save_bindings(Proc *p) {
  PyObject *saved = PyTuple_New(p->nargs + 1);
  if (!saved) return NULL;
  for (int i = 0; i <= p->nargs; i++) {
    PyObject *name = i < p->nargs ? PyTuple_GET_ITEM(p->argnames, i) : s_args;
    PyObject *v = name != Py_None ? PyDict_GetItemWithError(p->globals, name) : NULL;
    if (!v) PyErr_Clear();
    Py_XINCREF(v);
    PyTuple_SET_ITEM(saved, i, v ? v : Py_NewRef(Py_None));
  }
  return saved;
}

/* PLy_function_restore_args; consumes `saved`, keeps a pending Python exception. */
void restore_bindings(Proc *p, PyObject *saved) {
  if (!saved) return;
  PyObject *et, *ev, *etb;
  PyErr_Fetch(&et, &ev, &etb);
  messages_only_begin(); /* a replaced binding's __del__: messages only (bind_and_call) */
  for (int i = 0; i <= p->nargs; i++) {
    PyObject *name = i < p->nargs ? PyTuple_GET_ITEM(p->argnames, i) : s_args;
    if (name != Py_None) PyDict_SetItem(p->globals, name, PyTuple_GET_ITEM(saved, i));
  }
  Py_DECREF(saved);
  messages_only_end();
  PyErr_Restore(et, ev, etb);
}

/* Bind argv (stolen) by name and as the `args` list, then call the procedure. */
PyObject *bind_and_call(Proc *p, PyObject **argv) {
  /* the previous call's `args` list is reused when nothing but the globals holds it (the common case:
   * no per-call allocation); a list the code kept a reference to is left alone */
  PyObject *old = PyDict_GetItemWithError(p->globals, s_args);
  if (!old) PyErr_Clear();
  int reuse = old && PyList_CheckExact(old) && Py_REFCNT(old) == 1 && PyList_GET_SIZE(old) == p->nargs;
  PyObject *lst = reuse ? NULL : PyList_New(p->nargs);
  if (!reuse && !lst) {
    for (int i = 0; i < p->nargs; i++) Py_DECREF(argv[i]);
    return NULL;
  }
  /* what the bindings replace is dropped here: a __del__ may report messages, as in PLy_function_build_args
   * (inside the execution context) */
  messages_only_begin();
  for (int i = 0; i < p->nargs; i++) {
    PyObject *name = PyTuple_GET_ITEM(p->argnames, i);
    if (name != Py_None) PyDict_SetItem(p->globals, name, argv[i]);
    if (reuse)
      Py_SETREF(PyList_GET_ITEM(old, i), argv[i]);
    else
      PyList_SET_ITEM(lst, i, argv[i]);
  }
  if (!reuse) {
    PyDict_SetItem(p->globals, s_args, lst);
    Py_DECREF(lst);
  }
  messages_only_end();
  g_call_depth++;
  /* PL/Python runs the call through one more Python frame (PyEval_EvalCode of "__plpython_procedure_…()",
   * plpy_exec.c PLy_procedure_call): one level of the recursion limit, so a RecursionError comes at the
   * same depth (and with the same traceback) as there */
  PyObject *r = NULL;
  if (Py_EnterRecursiveCall(" in PL/Python function") == 0) {
    r = PyObject_CallNoArgs(p->func);
    Py_LeaveRecursiveCall();
  }
  g_call_depth--;
  return r;
}

/* ------------------------------------------------------------------ results */

/* A text result's destination reserved by JS before the call (stat[8] = palloc'd chunk, stat[9] = its
 * size): a result that fits is written there as a varlena and returned as S_DATUM, without a second
 * crossing to copy it (CopyText). Set by Call just around convert_result (nested calls run before). */
static uint32_t text_reserve, text_reserve_len;

/* Fast result conversion. 1 = done (status set), 0 = use the generic converter, -1 = Python error. */
static int fast_result(Proc *p, PyObject *r, uint32_t *datum) {
  if (p->retkind == R_GENERIC) return 0; /* even None: a domain may reject NULL */
  if (r == Py_None) {
    if (p->retkind == R_VOID) {
      *datum = 0;
      set_status(S_DATUM);
    } else {
      set_status(S_NULL);
    }
    return 1;
  }
  switch (p->retkind) {
    case R_INT2:
    case R_INT4:
    case R_OID:
    case R_INT8: {
      if (!PyLong_CheckExact(r)) return 0;
      int overflow = 0;
      long long v = PyLong_AsLongLongAndOverflow(r, &overflow);
      if (overflow || (v == -1 && PyErr_Occurred())) {
        PyErr_Clear();
        return 0;
      }
      if (p->retkind == R_INT8) {
        memcpy((char *)g_stat + 16, &v, 8);
        set_status(S_I64);
        return 1;
      }
      if (p->retkind == R_INT2 && (v < -32768 || v > 32767)) return 0;
      if (p->retkind == R_INT4 && (v < INT32_MIN || v > INT32_MAX)) return 0;
      if (p->retkind == R_OID && (v < 0 || v > UINT32_MAX)) return 0;
      *datum = (uint32_t)v;
      set_status(S_DATUM);
      return 1;
    }
    case R_BOOL: {
      int t = PyObject_IsTrue(r);
      if (t < 0) { /* PLyObject_ToBool ignores the error: -1 is "true" */
        PyErr_Clear();
        t = 1;
      }
      *datum = (uint32_t)t;
      set_status(S_DATUM);
      return 1;
    }
    case R_FLOAT8: {
      if (!PyFloat_CheckExact(r)) return 0;
      double d = PyFloat_AS_DOUBLE(r);
      memcpy((char *)g_stat + 8, &d, 8);
      set_status(S_F64);
      return 1;
    }
    case R_TEXT: {
      if (!PyUnicode_CheckExact(r)) return 0;
      Py_ssize_t n;
      const char *u = PyUnicode_AsUTF8AndSize(r, &n);
      if (!u) {
        PyErr_Clear();
        return 0;
      }
      if (memchr(u, 0, (size_t)n)) return 0; /* the generic path reports PL/Python's error */
      if (text_reserve && (size_t)n + 4 <= text_reserve_len && (size_t)text_reserve + text_reserve_len <= g_mem_len) {
        uint32_t hdr = ((uint32_t)n + 4) << 2; /* SET_VARSIZE: 4-byte header, little-endian */
        memcpy(g_mem + text_reserve, &hdr, 4);
        memcpy(g_mem + text_reserve + 4, u, (size_t)n);
        *datum = text_reserve;
        set_status(S_DATUM);
        return 1;
      }
      Py_INCREF(r);
      Py_XSETREF(g_result, r);
      g_stat[1] = (int32_t)n;
      set_status(S_TEXT);
      return 1;
    }
    default: /* R_FLOAT4 keeps float4in's range checks: generic */
      return 0;
  }
}

/* Convert result r (borrowed) of procedure id: fast kinds here, others through the Python converter. */
void convert_result(Proc *p, uint32_t id, PyObject *r, uint32_t *datum) {
  int f = fast_result(p, r, datum);
  if (f > 0) return;
  if (f < 0) {
    stash_error((int)id, 1);
    set_status(S_ERROR);
    return;
  }
  PyObject *b = NULL;
  if (Py_IS_TYPE(p->converter, &ConverterType))
    b = converter_run(p->converter, r, p->pid); /* compiled: no Python-level call */
  else if (p->converter != Py_None)
    b = PyObject_CallFunctionObjArgs(p->converter, r, p->pid, NULL);
  if (b && PyBytes_Check(b)) {
    size_t n = (size_t)PyBytes_GET_SIZE(b);
    /* stat[6]: where the free part of the result buffer starts (JS reserves what an outer result still
     * uses while a nested call runs); the result's offset goes to stat[7] */
    size_t base = g_stat[6] > 0 ? (size_t)g_stat[6] : 0;
    g_stat[1] = (int32_t)n;
    if (base <= g_resbuf_len && n <= g_resbuf_len - base) { /* the common case: no Buffer allocated */
      memcpy(g_resbuf + base, PyBytes_AS_STRING(b), n);
      g_stat[7] = (int32_t)base;
      Py_DECREF(b);
      set_status(S_GENERIC_INLINE);
    } else {
      Py_XSETREF(g_result, b);
      set_status(S_GENERIC);
    }
    return;
  }
  if (b) {
    Py_DECREF(b);
    PyErr_SetString(PyExc_TypeError, "result converter must return bytes");
  } else if (!PyErr_Occurred()) {
    PyErr_SetString(PyExc_TypeError, "no result converter for this return type");
  }
  stash_error((int)id, 1);
  set_status(S_ERROR);
}

/* ------------------------------------------------------------------ the call */

int call_args(napi_env env, napi_callback_info info, uint32_t *id, uint32_t *fcinfo, uint32_t *codec_len) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 3 || get_u32(env, argv[0], id) || get_u32(env, argv[1], fcinfo) || get_u32(env, argv[2], codec_len)) {
    throw_error(env, "(procId, fcinfo, codecLen)");
    return -1;
  }
  if (!proc_by_id(*id)) {
    throw_error(env, "unknown procedure");
    return -1;
  }
  if (*codec_len > g_codec_len) {
    throw_error(env, "codec length beyond the registered buffer");
    return -1;
  }
  return 0;
}

/* call() -> undefined: the per-row entry. Its inputs are status words JS wrote (stat[10] procId,
 * stat[11] fcinfo, stat[12] codec length) and the Datum goes to stat[13], status in stat[0]: no N-API
 * argument or result conversions on the hottest crossing. */
napi_value Call(napi_env env, napi_callback_info info) {
  uint32_t id = (uint32_t)g_stat[10], fcinfo = (uint32_t)g_stat[11], codec_len = (uint32_t)g_stat[12];
  uint32_t datum = 0;
  if (!proc_by_id(id)) return throw_error(env, "call: unknown procedure");
  if (codec_len > g_codec_len) return throw_error(env, "call: codec length beyond the registered buffer");
  Proc *p = procs[id];
  if ((size_t)fcinfo + 20 + 8 * (size_t)p->nargs > g_mem_len) return throw_error(env, "call: fcinfo outside memory");
  /* the text reservation belongs to this call: nested calls (plpy) must not see it */
  uint32_t reserve = (uint32_t)g_stat[8], reserve_len = (uint32_t)g_stat[9];
  g_stat[8] = 0;
  gil_enter();
  PyObject *argv[MAX_ARGS];
  if (build_args(p, id, fcinfo, codec_len, argv) == 0) {
    /* a recursive call saves the outer call's bindings and restores them afterwards */
    PyObject *outer = p->calldepth > 0 ? save_bindings(p) : NULL;
    p->calldepth++;
    PyObject *r = bind_and_call(p, argv);
    p->calldepth--;
    restore_bindings(p, outer);
    if (!r) {
      stash_error((int)id, 0);
      set_status(S_ERROR);
    } else {
      text_reserve = reserve;
      text_reserve_len = reserve_len;
      /* still inside the call for plpy: PL/Python converts the result in the function's execution context
       * (plpy_exec.c PLy_exec_function), so a __str__ run by the conversion may use plpy */
      g_call_depth++;
      convert_result(p, id, r, &datum);
      text_reserve = 0;
      /* the result's __del__ runs here, as where PL/Python drops it (after SPI_finish): messages only,
       * which cannot disturb the converted result waiting in the status words and result buffer */
      g_messages_only++;
      Py_DECREF(r);
      g_messages_only--;
      g_call_depth--;
    }
    maybe_free(id);
  }
  gil_leave();
  g_stat[13] = (int32_t)datum;
  return NULL;
}

/* ------------------------------------------------------------------ results to JS */

/* copyText(dst): copy the pending S_TEXT result (UTF-8, stat[1] bytes) into wasm memory at dst. */
napi_value CopyText(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t dst;
  if (argc < 1 || get_u32(env, argv[0], &dst)) return throw_error(env, "copyText(ptr)");
  gil_enter();
  Py_ssize_t n = 0;
  const char *u = g_result && PyUnicode_Check(g_result) ? PyUnicode_AsUTF8AndSize(g_result, &n) : NULL;
  if (!u || (size_t)dst + (size_t)n > g_mem_len) {
    PyErr_Clear();
    gil_leave();
    return throw_error(env, "copyText: no pending text result");
  }
  memcpy(g_mem + dst, u, (size_t)n);
  Py_CLEAR(g_result);
  gil_leave();
  return undefined(env);
}

/* dropResult(): forget a pending result (building its Datum failed). */
napi_value DropResult(napi_env env, napi_callback_info info) {
  gil_enter();
  Py_CLEAR(g_result);
  gil_leave();
  return undefined(env);
}

/* takeResult() -> Buffer: the pending S_GENERIC bytes. */
napi_value TakeResult(napi_env env, napi_callback_info info) {
  napi_value out;
  void *dst;
  gil_enter();
  if (!g_result || !PyBytes_Check(g_result)) {
    gil_leave();
    return throw_error(env, "takeResult: no pending result");
  }
  napi_create_buffer_copy(env, (size_t)PyBytes_GET_SIZE(g_result), PyBytes_AS_STRING(g_result), &dst, &out);
  Py_CLEAR(g_result);
  gil_leave();
  return out;
}

/* ------------------------------------------------------------------ for triggers and plpy.execute */

/* A Datum of a natively read argument kind (A_INT2 … A_BYTEA) as a new Python object; NULL without an
 * exception set when the value must be detoasted first, NULL with one on failure. */
PyObject *datum_to_py(int kind, uint32_t datum) {
  PyObject *o = read_arg(kind, datum, 0, NULL);
  return o == NEEDS_CODEC ? NULL : o;
}
