/* plpy.execute's fast path (plpy/spiop.c): the _pyglite functions and N-API exports pyglite.c registers.
 *
 * Globals declared here, owned by plpy/spiop.c:
 *   PlanType   _pyglite.PlanBase, the C part of PLyPlan (made ready and added to the module by pyglite.c Init)
 * (the hooks set by set_spi_hooks, the JS operation, the result shapes and the rows of the running
 * operation are spiop.c's own statics)
 * Includes core/state.h, core/jscall.h, call/call.h and plpy/result.h. */
#ifndef PYGLITE_SPIOP_H
#define PYGLITE_SPIOP_H

#include "core/state.h"
#include "core/jscall.h"
#include "call/call.h"
#include "result.h"

extern PyTypeObject PlanType;
PyObject *py_spi_execute(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames);
PyObject *py_set_spi_hooks(PyObject *self, PyObject *args);
napi_value SetSpiOp(napi_env env, napi_callback_info info);
napi_value OpShape(napi_env env, napi_callback_info info);
napi_value OpRows(napi_env env, napi_callback_info info);

#endif
