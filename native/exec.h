/* The exec bracket and the process-level exports (exec.c): wasm memory and buffer registration,
 * interrupts, execBegin/execEnd, cancel; and the _pyglite functions asking whether a call or a cancel
 * is pending. Only pyglite.c includes this header.
 * Globals: none (exec.c writes core/state.h's g_mem, g_codec and g_resbuf, owned by core/state.c). */
#ifndef PYGLITE_EXEC_H
#define PYGLITE_EXEC_H

#include "core/state.h"

napi_value SetMemory(napi_env env, napi_callback_info info);
napi_value SetCodecBuffer(napi_env env, napi_callback_info info);
napi_value SetResultBuffer(napi_env env, napi_callback_info info);
napi_value MemoryAddress(napi_env env, napi_callback_info info);
napi_value EnableInterrupts(napi_env env, napi_callback_info info);
napi_value ExecBegin(napi_env env, napi_callback_info info);
napi_value ExecEnd(napi_env env, napi_callback_info info);
napi_value Cancel(napi_env env, napi_callback_info info);
napi_value CancelKind(napi_env env, napi_callback_info info);
napi_value CallDepth(napi_env env, napi_callback_info info);

/* _pyglite.cancel_kind(), cancel_consumed() and in_call() */
PyObject *py_cancel_kind(PyObject *self, PyObject *unused);
PyObject *py_cancel_consumed(PyObject *self, PyObject *unused);
PyObject *py_in_call(PyObject *self, PyObject *unused);

#endif
