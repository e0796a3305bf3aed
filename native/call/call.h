/* Internals shared by the call path (call.c) and set-returning functions (srf.c). */
#ifndef PYGLITE_CALL_H
#define PYGLITE_CALL_H

#include "pyglite.h"

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
