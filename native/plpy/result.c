/* _pyglite.ResultBase: the C part of plpy's PLyResult (plpy_resultobject.c). The Python class
 * `_plpy.spi.PLyResult` derives from it and adds the methods; what a loop over plpy.execute touches on
 * every call is here: construction from (status, nrows, rows, desc) and len/subscript/iteration, which
 * PL/Python implements in C too (PLy_result_length, PLy_result_subscript, PLy_result_ass_subscript)
 * by delegating to the rows list. No Python frame runs for `plpy.execute(...)[0]`. */
#include "result.h"

#include <structmember.h>

typedef struct {
  PyObject_HEAD PyObject *status;
  PyObject *nrows;
  PyObject *rows;
  PyObject *desc;
} ResultObject;

static PyObject *result_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
  PyObject *status, *nrows, *rows, *desc;
  if (kwds && PyDict_GET_SIZE(kwds)) {
    PyErr_SetString(PyExc_TypeError, "PLyResult() takes no keyword arguments");
    return NULL;
  }
  if (!PyArg_UnpackTuple(args, "PLyResult", 4, 4, &status, &nrows, &rows, &desc)) return NULL;
  ResultObject *self = (ResultObject *)type->tp_alloc(type, 0);
  if (!self) return NULL;
  self->status = Py_NewRef(status);
  self->nrows = Py_NewRef(nrows);
  /* rows None (a command without a result set) is an empty list, as PL/Python's result has */
  self->rows = rows == Py_None ? PyList_New(0) : Py_NewRef(rows);
  self->desc = Py_NewRef(desc);
  if (!self->rows) {
    Py_DECREF(self);
    return NULL;
  }
  return (PyObject *)self;
}

static int result_traverse(ResultObject *self, visitproc visit, void *arg) {
  Py_VISIT(self->status);
  Py_VISIT(self->nrows);
  Py_VISIT(self->rows);
  Py_VISIT(self->desc);
  return 0;
}

static int result_clear(ResultObject *self) {
  Py_CLEAR(self->status);
  Py_CLEAR(self->nrows);
  Py_CLEAR(self->rows);
  Py_CLEAR(self->desc);
  return 0;
}

static void result_dealloc(ResultObject *self) {
  PyObject_GC_UnTrack(self);
  result_clear(self);
  Py_TYPE(self)->tp_free((PyObject *)self);
}

static Py_ssize_t result_length(ResultObject *self) {
  return PyObject_Length(self->rows);
}

static PyObject *result_subscript(ResultObject *self, PyObject *item) {
  return PyObject_GetItem(self->rows, item);
}

static int result_ass_subscript(ResultObject *self, PyObject *item, PyObject *value) {
  if (!value) { /* PL/Python passes the NULL "value" of a deletion on to PyObject_SetItem */
    PyErr_SetString(PyExc_SystemError, "null argument to internal routine");
    return -1;
  }
  return PyObject_SetItem(self->rows, item, value);
}

/* PLy_result_item: rows[i] (PySequence_GetItem has already added len() to a negative index) */
static PyObject *result_item(ResultObject *self, Py_ssize_t i) {
  PyObject *rv = PyList_Check(self->rows) ? PyList_GetItem(self->rows, i) : NULL;
  if (!PyList_Check(self->rows)) return PySequence_GetItem(self->rows, i);
  Py_XINCREF(rv);
  return rv;
}

static PyObject *result_iter(ResultObject *self) {
  return PyObject_GetIter(self->rows);
}

static PyMemberDef result_members[] = {
    {"_status", T_OBJECT, offsetof(ResultObject, status), READONLY, NULL},
    {"_nrows", T_OBJECT, offsetof(ResultObject, nrows), READONLY, NULL},
    {"_rows", T_OBJECT, offsetof(ResultObject, rows), READONLY, NULL},
    {"_desc", T_OBJECT, offsetof(ResultObject, desc), READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyMappingMethods result_as_mapping = {
    .mp_length = (lenfunc)result_length,
    .mp_subscript = (binaryfunc)result_subscript,
    .mp_ass_subscript = (objobjargproc)result_ass_subscript,
};

static PySequenceMethods result_as_sequence = {
    .sq_length = (lenfunc)result_length,
    .sq_item = (ssizeargfunc)result_item,
};

PyTypeObject ResultType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "_pyglite.ResultBase",
    .tp_basicsize = sizeof(ResultObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "the C part of plpy's PLyResult",
    .tp_new = result_new,
    .tp_dealloc = (destructor)result_dealloc,
    .tp_traverse = (traverseproc)result_traverse,
    .tp_clear = (inquiry)result_clear,
    .tp_as_mapping = &result_as_mapping,
    .tp_as_sequence = &result_as_sequence,
    .tp_iter = (getiterfunc)result_iter,
    .tp_members = result_members,
};

PyObject *result_make(PyTypeObject *type, PyObject *status, PyObject *nrows, PyObject *rows, PyObject *desc) {
  ResultObject *self = (ResultObject *)type->tp_alloc(type, 0);
  if (!self) {
    Py_DECREF(status);
    Py_DECREF(nrows);
    Py_DECREF(rows);
    Py_DECREF(desc);
    return NULL;
  }
  self->status = status;
  self->nrows = nrows;
  self->rows = rows;
  self->desc = desc;
  return (PyObject *)self;
}
