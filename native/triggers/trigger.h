/* Shared declarations of the trigger path (trigger.c: TD and the call; trigger_shape.c: shapes;
 * trigger_modify.c: the MODIFY walk). Codes shared with src/triggers/native.ts.
 *
 * Globals declared here, owned by triggers/trigger_shape.c:
 *   k_TD, k_name, k_relid, … k_args        interned TD keys
 *   v_BEFORE, v_AFTER, … v_STATEMENT, v_op  interned TD values
 *   result_converter                       pyglite_host.convert.result_converter
 * (the shape table is trigger_shape.c's, the trigArgs words trigger.c's, the MODIFY staging area
 * trigger_modify.c's own statics)
 * Includes core/state.h, core/codec.h, call/call.h and call/convert.h. */
#ifndef PYGLITE_TRIGGER_H
#define PYGLITE_TRIGGER_H

#include "core/state.h"
#include "core/codec.h"
#include "call/call.h"
#include "call/convert.h"

/* how a column's Datum becomes a TD value: the call path's argument kinds (A_*, call/call.h); 0 = taken from the codec */
enum { K_CODEC = 0, K_TEXT = 8, K_BYTEA = 9 };
/* how a TD["new"] value becomes a Datum without the generic converter (src/triggers/native.ts OUT) */
enum { O_GENERIC = 0, O_INT2, O_INT4, O_INT8, O_FLOAT8, O_BOOL, O_TEXT, O_OID };
/* column flags (src/triggers/native.ts F) */
enum { F_DROPPED = 1, F_GEN_STORED = 2, F_GEN_VIRTUAL = 4, F_ROUNDTRIP = 8 };
/* replacement entry kinds in the modify area (src/triggers/modify.ts M) */
enum { M_READY = 0, M_INT8, M_FLOAT8, M_TEXT, M_GENERIC };
/* trigCall status (src/triggers/native.ts TS) */
enum { TS_RESULT = 0, TS_ERROR = 6, TS_NEED_DETOAST = 7 };
/* trigger result in stat[7] when the status is TS_RESULT (src/triggers/native.ts TR) */
enum { TR_OK = 0, TR_SKIP, TR_MODIFY, TR_MODIFY_FAILED, TR_MODIFY_IN_DELETE, TR_NOT_STRING, TR_BAD_STRING };

/* TriggerEvent bits (commands/trigger.h) */
#define EV_OPMASK 0x3
#define EV_INSERT 0
#define EV_DELETE 1
#define EV_UPDATE 2
#define EV_ROW 0x4
#define EV_BEFORE 0x8
#define EV_INSTEAD 0x10
#define EV_TIMINGMASK 0x18

/* A trigger site's fixed parts (procedure × relation descriptor × trigger), made by trigSetup. */
typedef struct {
  uint32_t proc;
  int natts;
  PyObject **keys;     /* interned column names (NULL for dropped columns) */
  uint8_t *inkind;     /* K_* / A_* per attribute */
  uint8_t *outkind;    /* O_* per attribute */
  uint8_t *flags;      /* F_* per attribute */
  PyObject *colmap;    /* {name: attno} of the live columns (SPI_fnumber) */
  PyObject *descs;     /* list: result descriptor (JSON) per attribute, for the generic converter */
  PyObject **convs;    /* generic converters, made on first use */
  PyObject *pid;       /* the procedure id as a Python int (converters name it in tracebacks) */
  PyObject *name, *relid, *table_name, *table_schema;
  PyObject *args;      /* tuple of str; NULL when the trigger has no arguments (TD["args"] is None) */
  /* templates copied per call (PyDict_Copy clones a dict's tables: cheaper than inserting every key):
   * TD per event (constants, None for new/old/args, in PL/Python's key order), and a row dict per
   * include_generated with every column key mapped to None */
  PyObject *td_tmpl[32];
  PyObject *row_tmpl[2];
} Shape;

/* interned TD keys and values (trigger_shape.c) */
extern PyObject *k_TD, *k_name, *k_relid, *k_table_name, *k_table_schema, *k_when, *k_level, *k_old, *k_new,
    *k_event, *k_args;
extern PyObject *v_BEFORE, *v_AFTER, *v_INSTEAD, *v_ROW, *v_STATEMENT, *v_op[4];
extern PyObject *result_converter; /* pyglite_host.convert.result_converter */

static inline int in_mem(uint32_t addr, size_t len) {
  return (size_t)addr + len <= g_mem_len;
}

/* ---- for pyglite.c ---- */
void trigger_define(napi_env env, napi_value exports); /* trigArgs and the trig* exports (trigger.c) */

Shape *shape_by_id(uint32_t id);
napi_value TrigSetup(napi_env env, napi_callback_info info);
napi_value TrigRelease(napi_env env, napi_callback_info info);

/* PLy_modify_tuple into the modify area at wasm address `area`: a TR_* result (trigger_modify.c) */
int trig_modify(Shape *s, PyObject *td, PyObject **orig, uint32_t area);
napi_value TrigCopyStaging(napi_env env, napi_callback_info info);

#endif
