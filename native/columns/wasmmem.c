/* Copies between the engine's wasm memory and Python buffers for plcolumns (wasmmem.h). Only inside a
 * PL/Python call on the engine thread, where JS has pointed g_mem at the running instance's memory and
 * refreshed its length (src/columns/ops.ts and put.ts call syncMemory after allocating); every range is
 * checked against that length, so a wrong address is a Python error, never a stray write. No view of wasm
 * memory is ever handed to Python: a view could outlive the instance it points into. */
#include "columns/wasmmem.h"

#include <string.h>

/* the range [addr, addr + len) of the running instance's memory, or NULL with a Python error set */
static uint8_t *wasm_range(unsigned long long addr, Py_ssize_t len) {
  if (!g_ready || g_call_depth <= 0 || g_messages_only > 0 || !pthread_equal(pthread_self(), g_thread)) {
    PyErr_SetString(PyExc_RuntimeError, "wasm memory is only reachable inside a PL/Python call");
    return NULL;
  }
  if (len < 0 || addr > g_mem_len || (size_t)len > g_mem_len - (size_t)addr) {
    PyErr_Format(PyExc_ValueError, "wasm memory range %llu+%zd is outside the engine's memory", addr, len);
    return NULL;
  }
  return g_mem + addr;
}

PyObject *py_wasm_read(PyObject *self, PyObject *args) {
  unsigned long long addr;
  Py_buffer b;
  if (!PyArg_ParseTuple(args, "Kw*:wasm_read", &addr, &b)) return NULL;
  if (!PyBuffer_IsContiguous(&b, 'C')) {
    PyBuffer_Release(&b);
    PyErr_SetString(PyExc_ValueError, "wasm_read: the target buffer must be contiguous");
    return NULL;
  }
  uint8_t *src = wasm_range(addr, b.len);
  if (src && b.len) memcpy(b.buf, src, (size_t)b.len);
  PyBuffer_Release(&b);
  if (!src) return NULL;
  Py_RETURN_NONE;
}

PyObject *py_wasm_write(PyObject *self, PyObject *args) {
  unsigned long long addr;
  Py_buffer b;
  if (!PyArg_ParseTuple(args, "Ky*:wasm_write", &addr, &b)) return NULL;
  uint8_t *dst = wasm_range(addr, b.len);
  if (dst && b.len) memcpy(dst, b.buf, (size_t)b.len);
  PyBuffer_Release(&b);
  if (!dst) return NULL;
  Py_RETURN_NONE;
}
