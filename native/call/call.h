/* The call path of PL/Python procedures: the procedure registry (proc.c), the per-call path (call.c) and
 * set-returning functions (srf.c); what triggers/, plpy/ and pyglite.c use of it, then what the three
 * files share among themselves.
 *
 * Globals declared here, owned by call/proc.c:
 *   procs, nprocs, capprocs   the registered procedures, indexed by procedure id (0 is never used)
 * (call.c keeps the pending result g_result, the interned "args" and the text reservation to itself;
 * srf.c keeps its iterator table to itself)
 * Includes core/state.h, core/codec.h and call/convert.h. */
#ifndef PYGLITE_CALL_H
#define PYGLITE_CALL_H

#include "core/state.h"
#include "core/codec.h"
#include "convert.h"

#define MAX_ARGS 100

/* argument kinds: how to turn fcinfo->args[i] into a Python object */
enum { A_CODEC = 0, A_INT2, A_INT4, A_INT8, A_FLOAT4, A_FLOAT8, A_BOOL, A_OID, A_TEXT, A_BYTEA };
/* result kinds: which results can skip the generic converter */
enum { R_GENERIC = 0, R_VOID, R_INT2, R_INT4, R_INT8, R_FLOAT4, R_FLOAT8, R_BOOL, R_TEXT, R_OID };
/* call status, in stat[0] (src/plpython/runtime.ts S) */
enum {
  S_DATUM = 0,
  S_NULL,
  S_F64,
  S_I64,
  S_TEXT,
  S_GENERIC,
  S_ERROR,
  S_NEED_CODEC,
  S_DONE,
  S_NOT_ITERABLE,
  S_GENERIC_INLINE /* converter bytes copied into the result buffer, stat[1] long */
};

typedef struct {
  PyObject *func;      /* the compiled procedure: a zero-argument function */
  PyObject *globals;   /* its globals (arguments are bound here, as in PL/Python) */
  PyObject *argnames;  /* tuple: str or None per argument */
  PyObject *converter; /* a _pyglite.Converter, or callable(result, proc_id) -> bytes, or None */
  PyObject *pid;       /* the id as a Python int (tracebacks of conversion errors) */
  int nargs;
  int retkind;
  int calldepth;
  int nsrf;  /* open set-returning iterators */
  int dead;  /* released: freed once no call or iterator uses it */
  uint8_t argkinds[MAX_ARGS];
} Proc;

extern Proc **procs;
extern uint32_t nprocs, capprocs;

static inline Proc *proc_by_id(unsigned long id) {
  return id > 0 && id < nprocs && procs[id] && !procs[id]->dead ? procs[id] : NULL;
}

/* ---- for pyglite.c: the _pyglite functions and N-API exports of the call path ---- */
void call_init(void); /* interns "args" (init, GIL held) */
PyObject *py_register_proc(PyObject *self, PyObject *args);
PyObject *py_release_proc(PyObject *self, PyObject *arg);
PyObject *py_set_converter(PyObject *self, PyObject *args);
PyObject *py_sequence_check(PyObject *self, PyObject *o);
PyObject *py_mapping_check(PyObject *self, PyObject *o);
PyObject *py_object_bytes(PyObject *self, PyObject *o);
napi_value Call(napi_env env, napi_callback_info info);
napi_value CopyText(napi_env env, napi_callback_info info);
napi_value TakeResult(napi_env env, napi_callback_info info);
napi_value DropResult(napi_env env, napi_callback_info info);
napi_value ReleaseProc(napi_env env, napi_callback_info info);
napi_value SrfStart(napi_env env, napi_callback_info info);
napi_value SrfNext(napi_env env, napi_callback_info info);
napi_value SrfClose(napi_env env, napi_callback_info info);

/* ---- for triggers/ and plpy/ ---- */
/* Enter procedure `id` for a call (its function and globals, borrowed): the call depth before this call,
 * -1 if unknown; every successful proc_enter is paired with one proc_leave (proc.c). */
int proc_enter(uint32_t id, PyObject **func, PyObject **globals);
void proc_leave(uint32_t id);
/* A Datum of a natively read argument kind (A_INT2 … A_BYTEA) as a new Python object (call.c). */
PyObject *datum_to_py(int kind, uint32_t datum);

/* ---- between proc.c, call.c and srf.c ---- */
/* Free a released procedure once nothing runs it (a recursive call, an open iterator). */
void maybe_free(uint32_t id);
void set_status(int s);
/* PLy_function_build_args: argv[i] for every argument. 0 ok; otherwise the status is set. */
int build_args(Proc *p, uint32_t id, uint32_t fcinfo, uint32_t codec_len, PyObject **argv);
/* PLy_function_save_args / restore_args (restore consumes `saved`, keeps a pending exception). */
PyObject *save_bindings(Proc *p);
void restore_bindings(Proc *p, PyObject *saved);
/* Bind argv (stolen) by name and as the `args` list, then call the procedure. */
PyObject *bind_and_call(Proc *p, PyObject **argv);
/* Convert result r (borrowed) of procedure id: fast kinds in C, others through the Python converter. */
void convert_result(Proc *p, uint32_t id, PyObject *r, uint32_t *datum);
/* (procId, fcinfo, codecLen) arguments of call/srfStart; -1 with a JS exception thrown. */
int call_args(napi_env env, napi_callback_info info, uint32_t *id, uint32_t *fcinfo, uint32_t *codec_len);

#endif
