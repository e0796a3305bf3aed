/* Shared declarations of the pyglite native addon (the per-call path between PGlite and CPython). */
#ifndef PYGLITE_H
#define PYGLITE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <node_api.h>
#include <stdint.h>
#include <stddef.h>

/* ---- codec: tagged values JS -> Python (must match src/plpython/codec.ts) ---- */
enum {
  T_NONE = 0,
  T_FALSE = 1,
  T_TRUE = 2,
  T_INT32 = 3,
  T_INT64 = 4,
  T_FLOAT64 = 5,
  T_STR = 6,
  T_BYTES = 7,
  T_DECIMAL = 8,
  T_LIST = 9,
  T_DICT = 10,
  T_ROWS = 11,
  T_INTSTR = 12,
  T_TUPLE = 13,
};

typedef struct {
  const uint8_t *p;
  const uint8_t *end;
} Reader;

/* Decode one value; NULL with a Python exception set on malformed input. */
PyObject *codec_decode(Reader *r);
int codec_init(void);

/* ---- cancel / statement timeout (cancel.c), usable from any thread ---- */
enum { CANCEL_NONE = 0, CANCEL_USER = 1, CANCEL_TIMEOUT = 2 };

void cancel_set_engine_thread(void);
void cancel_set_target(uint8_t *mem_base, uint32_t addr_interrupt, uint32_t addr_cancel);
void cancel_exec_begin(double token, int timeout_ms);
void cancel_exec_end(void);
int cancel_request(double token, int kind); /* 1 if the token was running and got the request */
int cancel_kind(void);                       /* pending request for the running exec, or 0 */
int cancel_install_restart_flag(int signo);

#endif
