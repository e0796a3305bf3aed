/* Compiled result converters (call/convert.c): Python values -> the codec stream the engine builds Datums
 * from, used by the call path and by triggers' MODIFY.
 *
 * Globals declared here, owned by call/convert.c:
 *   ConverterType   _pyglite.Converter (made ready and added to the module by pyglite.c Init)
 * (failure_fields and to_sql, set by _pyglite.set_failure_fields and set_transform, are convert.c statics)
 * Includes core/codec.h only. */
#ifndef PYGLITE_CONVERT_H
#define PYGLITE_CONVERT_H

#include "core/codec.h"

extern PyTypeObject ConverterType;
/* converter(value) with the running procedure's id object: codec bytes, NULL with a Python error */
PyObject *converter_run(PyObject *converter, PyObject *value, PyObject *pid);
PyObject *py_set_failure_fields(PyObject *self, PyObject *f);
PyObject *py_set_transform(PyObject *self, PyObject *f);

#endif
