/* _pyglite.ResultBase, the C part of plpy's PLyResult (plpy/result.c).
 *
 * Globals declared here, owned by plpy/result.c:
 *   ResultType   _pyglite.ResultBase (made ready and added to the module by pyglite.c Init)
 * Includes no header of the addon. */
#ifndef PYGLITE_RESULT_H
#define PYGLITE_RESULT_H

#ifndef PY_SSIZE_T_CLEAN
#define PY_SSIZE_T_CLEAN
#endif
#include <Python.h>

extern PyTypeObject ResultType;
/* a PLyResult of `type` (a ResultBase subclass) from its four fields; steals the references */
PyObject *result_make(PyTypeObject *type, PyObject *status, PyObject *nrows, PyObject *rows, PyObject *desc);

#endif
