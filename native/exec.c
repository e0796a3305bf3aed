/* The exec bracket and the process-level exports: where the engine's wasm memory and the codec and result
 * buffers are (registered by JS), interrupts (SIGUSR2 to the engine thread), execBegin/execEnd (the GIL
 * held for an exec, cancel and statement_timeout armed: guards/cancel.c) and cancel requests from any
 * thread. */
#include "exec.h"
#include <signal.h>

#include "guards/cancel.h"

PyObject *py_cancel_kind(PyObject *self, PyObject *unused) {
  return PyLong_FromLong(cancel_kind());
}

PyObject *py_cancel_consumed(PyObject *self, PyObject *unused) {
  return PyBool_FromLong(cancel_consumed());
}

/* in_call() -> bool: may plpy enter the engine now (a PL/Python call is running on this thread)? Destructors
 * of plpy objects use it: outside a call they must not touch the engine. */
PyObject *py_in_call(PyObject *self, PyObject *unused) {
  return PyBool_FromLong(g_ready && g_call_depth > 0 && g_messages_only == 0 && pthread_equal(pthread_self(), g_thread));
}

/* callDepth(delta): a Python call a feature makes on the engine thread (src/fdw's wrapper callbacks) counts
 * as a PL/Python call while it runs, so plpy may enter the engine from it (py_jscall checks g_call_depth).
 * JS brackets the call with callDepth(1) / callDepth(-1). */
napi_value CallDepth(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t delta = 0;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &delta) != napi_ok)
    return throw_error(env, "callDepth(delta)");
  g_call_depth += delta;
  if (g_call_depth < 0) g_call_depth = 0;
  return undefined(env);
}

/* setMemory(wasmMemoryBuffer, addrInterruptPending, addrQueryCancelPending[, addrLatchIsSet]) */
napi_value SetMemory(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *data;
  size_t len;
  uint32_t a_int = 0, a_cancel = 0, a_latch = 0;
  if (argc < 3 || napi_get_arraybuffer_info(env, argv[0], &data, &len) != napi_ok || get_u32(env, argv[1], &a_int) ||
      get_u32(env, argv[2], &a_cancel))
    return throw_error(env, "setMemory(arrayBuffer, addrInterruptPending, addrQueryCancelPending)");
  if (argc >= 4 && get_u32(env, argv[3], &a_latch)) a_latch = 0;
  g_mem = (uint8_t *)data;
  g_mem_len = len;
  cancel_set_target(g_mem, a_int, a_cancel, a_latch);
  return undefined(env);
}

/* The one Buffer argument of a setter: its memory, or 0 when there is none. */
static int buffer_arg(napi_env env, napi_callback_info info, void **data, size_t *len) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  return argc >= 1 && napi_get_buffer_info(env, argv[0], data, len) == napi_ok;
}

/* setCodecBuffer(buffer) */
napi_value SetCodecBuffer(napi_env env, napi_callback_info info) {
  void *data;
  size_t len;
  if (!buffer_arg(env, info, &data, &len)) return throw_error(env, "setCodecBuffer(buffer)");
  g_codec = data;
  g_codec_len = len;
  return undefined(env);
}

/* setResultBuffer(buffer): where small converted results are copied (no Buffer allocation per call) */
napi_value SetResultBuffer(napi_env env, napi_callback_info info) {
  void *data;
  size_t len;
  if (!buffer_arg(env, info, &data, &len)) return throw_error(env, "setResultBuffer(buffer)");
  g_resbuf = data;
  g_resbuf_len = len;
  return undefined(env);
}

/* memoryAddress(arrayBuffer) -> number: where an ArrayBuffer's bytes live (to check V8 keeps it in place) */
napi_value MemoryAddress(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *data;
  size_t len;
  if (argc < 1 || napi_get_arraybuffer_info(env, argv[0], &data, &len) != napi_ok)
    return throw_error(env, "memoryAddress(arrayBuffer)");
  napi_create_double(env, (double)(uintptr_t)data, &out);
  return out;
}

/* enableInterrupts(): signals may now be sent to this (engine) thread; Python's SIGUSR2 handler is set. */
napi_value EnableInterrupts(napi_env env, napi_callback_info info) {
  if (cancel_install_restart_flag(SIGUSR2)) return throw_error(env, "enableInterrupts: no Python handler for SIGUSR2");
  cancel_set_engine_thread();
  return undefined(env);
}

/* execBegin(token, statementTimeoutMs): hold the GIL for the exec; arm cancel and timeout. */
napi_value ExecBegin(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  double token;
  int32_t timeout = 0;
  if (argc < 2 || napi_get_value_double(env, argv[0], &token) != napi_ok ||
      napi_get_value_int32(env, argv[1], &timeout) != napi_ok)
    return throw_error(env, "execBegin(token, timeoutMs)");
  cancel_exec_begin(token, timeout);
  if (g_ready) gil_enter();
  return undefined(env);
}

napi_value ExecEnd(napi_env env, napi_callback_info info) {
  if (g_ready && gil_depth() > 0) gil_leave();
  cancel_exec_end();
  return undefined(env);
}

/* cancel(token, kind) -> bool. Any thread. */
napi_value Cancel(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], out;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  double token;
  int32_t kind;
  if (argc < 2 || napi_get_value_double(env, argv[0], &token) != napi_ok ||
      napi_get_value_int32(env, argv[1], &kind) != napi_ok || (kind != CANCEL_USER && kind != CANCEL_TIMEOUT))
    return throw_error(env, "cancel(token, kind)");
  napi_get_boolean(env, cancel_request(token, kind), &out);
  return out;
}

napi_value CancelKind(napi_env env, napi_callback_info info) {
  napi_value out;
  napi_create_int32(env, cancel_kind(), &out);
  return out;
}
