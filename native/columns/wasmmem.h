/* _pyglite.wasm_read / wasm_write: plcolumns' fast path (src/python/plcolumns/_fast.py) copies packed column
 * buffers between the engine's wasm memory and Python buffers in one memcpy each (src/columns/ builds and
 * consumes them in wasm memory), instead of passing them through the codec as bytes.
 *
 * Declares no globals. Includes core/state.h (g_mem, g_mem_len, g_ready, g_thread, g_call_depth). */
#ifndef PYGLITE_WASMMEM_H
#define PYGLITE_WASMMEM_H

#include "core/state.h"

/* wasm_read(addr, target): fill the writable buffer `target` with len(target) bytes of wasm memory at addr */
PyObject *py_wasm_read(PyObject *self, PyObject *args);
/* wasm_write(addr, source): copy the bytes of the buffer `source` into wasm memory at addr */
PyObject *py_wasm_write(PyObject *self, PyObject *args);

#endif
