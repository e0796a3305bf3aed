/* The memory cap on Python's allocators (guards/memlimit.c): the _pyglite functions that set and read it.
 * Globals: none shared (memlimit.c keeps its counters and the previous allocators to itself).
 * Includes no header of the addon. */
#ifndef PYGLITE_MEMLIMIT_H
#define PYGLITE_MEMLIMIT_H

#ifndef PY_SSIZE_T_CLEAN
#define PY_SSIZE_T_CLEAN
#endif
#include <Python.h>

PyObject *py_set_memory_limit(PyObject *self, PyObject *arg);
PyObject *py_memory_stats(PyObject *self, PyObject *unused);

#endif
