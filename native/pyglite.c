/* pyglite_native: module registration — the _pyglite Python module (its functions and types), init(), and
 * the N-API exports of every part of the addon. Top of the include graph: it includes every module's header.
 *
 * node-calls-python initialises the interpreter and runs the cold paths (compiling procedures); this addon
 * shares that interpreter (same libpython) and carries what happens per row: it reads arguments straight
 * from wasm memory (FunctionCallInfo) or from a codec buffer, binds them as the procedure's globals (as
 * PL/Python does, plpy_exec.c), calls the compiled function, converts common results without a text round
 * trip, and fetches Python errors in C. Python code reaches JS through _pyglite.jscall, a persistent
 * reference to one JS dispatcher that never throws (the envelope rule of ../shared/DESIGN.md §3).
 *
 * Layout (each header lists the globals it declares and their owner; includes point downwards only):
 *   core/      state.h (per-process state, GIL, error stash), codec.h, jscall.h (Python <-> JS)
 *   guards/    cancel.h, memlimit.h (and fsutil.c, a separate addon)
 *   call/      convert.h (result converters), call.h (procedures, the call path, SRFs)
 *   triggers/  trigger.h          plpy/  result.h (PLyResult), spiop.h (plpy.execute)
 *   columns/   wasmmem.h (plcolumns' copies between wasm memory and Python buffers)
 *   exec.h, pyglite.c (this file) */
#include <string.h>

#include "core/state.h"
#include "core/codec.h"
#include "core/jscall.h"
#include "guards/memlimit.h"
#include "call/convert.h"
#include "call/call.h"
#include "triggers/trigger.h"
#include "plpy/result.h"
#include "plpy/spiop.h"
#include "columns/wasmmem.h"
#include "exec.h"

static PyMethodDef module_methods[] = {
    {"jscall", (PyCFunction)(void (*)(void))py_jscall, METH_FASTCALL, "call the engine"},
    {"execute", (PyCFunction)(void (*)(void))py_spi_execute, METH_FASTCALL | METH_KEYWORDS, "plpy.execute (spiop.c)"},
    {"set_spi_hooks", py_set_spi_hooks, METH_VARARGS, "set_spi_hooks(plan_type, result_type, fallback, spi_error, pending)"},
    {"register_proc", py_register_proc, METH_VARARGS, "register a compiled procedure for the fast call path"},
    {"release_proc", py_release_proc, METH_O, "forget a registered procedure"},
    {"set_converter", py_set_converter, METH_VARARGS, "set a procedure's result converter"},
    {"sequence_check", py_sequence_check, METH_O, "PySequence_Check"},
    {"mapping_check", py_mapping_check, METH_O, "PyMapping_Check"},
    {"object_bytes", py_object_bytes, METH_O, "PyObject_Bytes"},
    {"set_failure_fields", py_set_failure_fields, METH_O, "set failure_fields(message, exc, pid) -> 5-tuple"},
    {"set_transform", py_set_transform, METH_O, "set to_sql(symbol, value) for TRANSFORM FOR TYPE results"},
    {"cancel_kind", py_cancel_kind, METH_NOARGS, "pending cancel request of the running statement (0 = none)"},
    {"cancel_consumed", py_cancel_consumed, METH_NOARGS,
     "whether PostgreSQL already raised the pending cancel as its own error"},
    {"in_call", py_in_call, METH_NOARGS, "whether plpy may enter the engine now"},
    {"set_error_formatter", py_set_formatter, METH_O, "set formatter(proc_id, phase, exc) -> tuple"},
    {"set_memory_limit", py_set_memory_limit, METH_O, "cap the memory Python allocates (bytes, 0 = none)"},
    {"memory_stats", py_memory_stats, METH_NOARGS, "(used, limit, refusals) of the memory cap"},
    {"wasm_read", py_wasm_read, METH_VARARGS, "wasm_read(addr, target): wasm memory into a buffer (plcolumns)"},
    {"wasm_write", py_wasm_write, METH_VARARGS, "wasm_write(addr, source): a buffer into wasm memory (plcolumns)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "_pyglite", "pyglite engine bridge", -1, module_methods, NULL, NULL, NULL, NULL};

/* ------------------------------------------------------------------ setup */

/* init(dispatcher) -> Int32Array status words. Engine thread, after node-calls-python started Python. */
static napi_value Init(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_valuetype t;
  if (argc < 1 || napi_typeof(env, argv[0], &t) != napi_ok || t != napi_function)
    return throw_error(env, "init(dispatcher)");
  if (!Py_IsInitialized()) return throw_error(env, "Python is not initialised (node-calls-python must load first)");
  if (g_ready) return throw_error(env, "init: already initialised in this process");
  gil_enter();
  PyObject *m = PyModule_Create(&module_def);
  PyObject *modules = PyImport_GetModuleDict();
  int ok = m != NULL && codec_init() == 0;
  if (ok) {
    g_PgError = PyErr_NewException("_pyglite.PgError", PyExc_Exception, NULL);
    ok = g_PgError && PyModule_AddObjectRef(m, "PgError", g_PgError) == 0 && PyType_Ready(&ConverterType) == 0 &&
         PyModule_AddObjectRef(m, "Converter", (PyObject *)&ConverterType) == 0 && PyType_Ready(&ResultType) == 0 &&
         PyModule_AddObjectRef(m, "ResultBase", (PyObject *)&ResultType) == 0 && PyType_Ready(&PlanType) == 0 &&
         PyModule_AddObjectRef(m, "PlanBase", (PyObject *)&PlanType) == 0 &&
         PyDict_SetItemString(modules, "_pyglite", m) == 0;
  }
  call_init();
  Py_XDECREF(m);
  if (!ok) PyErr_Print();
  gil_leave();
  if (!ok) return throw_error(env, "init: could not create the _pyglite module");
  jscall_set_dispatcher(env, argv[0]);
  g_env = env;
  g_thread = pthread_self();
  g_ready = 1;
  /* status words shared with JS */
  void *data;
  napi_value ab, arr;
  napi_create_arraybuffer(env, 4 * STAT_WORDS, &data, &ab);
  memset(data, 0, 4 * STAT_WORDS);
  g_stat = (int32_t *)data;
  g_stat[14] = -1;
  napi_create_typedarray(env, napi_int32_array, STAT_WORDS, ab, 0, &arr);
  napi_ref keep; /* the status words live as long as the process */
  napi_create_reference(env, ab, 1, &keep);
  return arr;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor d[] = {
      {"init", 0, Init, 0, 0, 0, napi_default, 0},
      {"setMemory", 0, SetMemory, 0, 0, 0, napi_default, 0},
      {"setCodecBuffer", 0, SetCodecBuffer, 0, 0, 0, napi_default, 0},
      {"setResultBuffer", 0, SetResultBuffer, 0, 0, 0, napi_default, 0},
      {"memoryAddress", 0, MemoryAddress, 0, 0, 0, napi_default, 0},
      {"enableInterrupts", 0, EnableInterrupts, 0, 0, 0, napi_default, 0},
      {"execBegin", 0, ExecBegin, 0, 0, 0, napi_default, 0},
      {"execEnd", 0, ExecEnd, 0, 0, 0, napi_default, 0},
      {"cancel", 0, Cancel, 0, 0, 0, napi_default, 0},
      {"cancelKind", 0, CancelKind, 0, 0, 0, napi_default, 0},
      {"callDepth", 0, CallDepth, 0, 0, 0, napi_default, 0},
      {"call", 0, Call, 0, 0, 0, napi_default, 0},
      {"copyText", 0, CopyText, 0, 0, 0, napi_default, 0},
      {"takeResult", 0, TakeResult, 0, 0, 0, napi_default, 0},
      {"dropResult", 0, DropResult, 0, 0, 0, napi_default, 0},
      {"lastError", 0, LastError, 0, 0, 0, napi_default, 0},
      {"releaseProc", 0, ReleaseProc, 0, 0, 0, napi_default, 0},
      {"srfStart", 0, SrfStart, 0, 0, 0, napi_default, 0},
      {"srfNext", 0, SrfNext, 0, 0, 0, napi_default, 0},
      {"srfClose", 0, SrfClose, 0, 0, 0, napi_default, 0},
      {"setSpiOp", 0, SetSpiOp, 0, 0, 0, napi_default, 0},
      {"opShape", 0, OpShape, 0, 0, 0, napi_default, 0},
      {"opRows", 0, OpRows, 0, 0, 0, napi_default, 0},
  };
  napi_define_properties(env, exports, sizeof d / sizeof d[0], d);
  trigger_define(env, exports);
  return exports;
}
