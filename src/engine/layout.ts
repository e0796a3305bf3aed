// Struct offsets and constants of PostgreSQL 18 on PGlite 0.5.16 (wasm32, 4-byte Datum, FLOAT8PASSBYVAL off).
// The only place that knows C struct layouts; every offset is probed at start-up by selftest.ts.
// Sources: PG 18 headers (fmgr.h, trigger.h, rel.h, tupdesc.h, spi.h, execnodes.h, elog.h) with wasm32
// alignment, cross-checked against PGlite's own moddatetime.so (see ../shared/notes/pglite-bridge-study.md §5).

export const ABI = {
  pgMajor: 18,
  funcMaxArgs: 100,
  indexMaxKeys: 32,
  nameDataLen: 64,
  float8ByVal: 0,
  pointerSize: 4,
} as const

export const L = {
  // FunctionCallInfoBaseData
  fcinfo_flinfo: 0,
  fcinfo_context: 4,
  fcinfo_resultinfo: 8,
  fcinfo_fncollation: 12,
  fcinfo_isnull: 16, // bool (u8)
  fcinfo_nargs: 18, // int16
  fcinfo_args: 20, // NullableDatum[]
  // NullableDatum
  nd_size: 8,
  nd_value: 0,
  nd_isnull: 4,
  // FmgrInfo
  fl_fn_addr: 0,
  fl_fn_oid: 4,
  fl_fn_nargs: 8, // int16
  fl_fn_strict: 10,
  fl_fn_retset: 11,
  fl_fn_extra: 16,
  fl_fn_mcxt: 20,
  fl_fn_expr: 24,
  // TriggerData
  td_type: 0,
  td_event: 4,
  td_relation: 8,
  td_trigtuple: 12,
  td_newtuple: 16,
  td_trigger: 20,
  // Trigger
  tg_tgoid: 0,
  tg_tgname: 4,
  tg_tgnargs: 34, // int16
  tg_tgargs: 44, // char **
  // RelationData
  rel_rd_rel: 48, // Form_pg_class; relname (NameData) at +4
  rel_rd_att: 52,
  rel_rd_id: 56,
  pgclass_relname: 4,
  // TupleDescData
  tupdesc_natts: 0,
  // SPITupleTable
  stt_tupdesc: 0,
  stt_vals: 4,
  stt_numvals: 8, // uint64
  // ReturnSetInfo
  rsi_returnMode: 16,
  rsi_setResult: 24,
  rsi_setDesc: 28,
  // InlineCodeBlock
  icb_source_text: 4,
  // ErrorData
  ed_elevel: 0,
  ed_sqlerrcode: 28,
  ed_message: 32,
  ed_detail: 36,
  ed_hint: 44,
  ed_context: 48,
  // ErrorContextCallback
  ecc_previous: 0,
  ecc_callback: 4,
  ecc_arg: 8,
  ecc_size: 12,
} as const

/** elog levels (elog.h, PG 18). */
export const ELEVEL = {
  DEBUG5: 10,
  DEBUG4: 11,
  DEBUG3: 12,
  DEBUG2: 13,
  DEBUG1: 14,
  LOG: 15,
  INFO: 17,
  NOTICE: 18,
  WARNING: 19,
  ERROR: 21,
  FATAL: 22,
} as const

export const TRIGGER_EVENT = {
  OPMASK: 0x3,
  INSERT: 0,
  DELETE: 1,
  UPDATE: 2,
  TRUNCATE: 3,
  ROW: 0x4,
  BEFORE: 0x8,
  INSTEAD: 0x10,
  TIMINGMASK: 0x18,
} as const

/** Built-in type OIDs (pg_type.dat). */
export const OID = {
  BOOL: 16,
  BYTEA: 17,
  CHAR: 18,
  NAME: 19,
  INT8: 20,
  INT2: 21,
  INT4: 23,
  REGPROC: 24,
  TEXT: 25,
  OID: 26,
  JSON: 114,
  XML: 142,
  FLOAT4: 700,
  FLOAT8: 701,
  UNKNOWN: 705,
  BPCHAR: 1042,
  VARCHAR: 1043,
  DATE: 1082,
  TIME: 1083,
  TIMESTAMP: 1114,
  TIMESTAMPTZ: 1184,
  INTERVAL: 1186,
  NUMERIC: 1700,
  RECORD: 2249,
  CSTRING: 2275,
  ANY: 2276,
  ANYARRAY: 2277,
  VOID: 2278,
  TRIGGER: 2279,
  LANGUAGE_HANDLER: 2280,
  INTERNAL: 2281,
  ANYELEMENT: 2283,
  EVENT_TRIGGER: 3838,
  JSONB: 3802,
  UUID: 2950,
} as const

export const SPI = {
  OK_CONNECT: 1,
  OK_FINISH: 2,
  OK_FETCH: 3,
  OK_UTILITY: 4,
  OK_SELECT: 5,
  OK_SELINTO: 6,
  OK_INSERT: 7,
  OK_DELETE: 8,
  OK_UPDATE: 9,
  OK_CURSOR: 10,
  OK_INSERT_RETURNING: 11,
  OK_DELETE_RETURNING: 12,
  OK_UPDATE_RETURNING: 13,
  OK_REWRITTEN: 14,
  OK_REL_REGISTER: 15,
  OK_REL_UNREGISTER: 16,
  OK_TD_REGISTER: 17,
  OK_MERGE: 18,
  OK_MERGE_RETURNING: 19,
  OPT_NONATOMIC: 1,
} as const

/** Emscripten dlopen flags. */
export const RTLD_NOW = 2
export const RTLD_GLOBAL = 256

/** PG's MAKE_SQLSTATE packing (elog.h). */
export function packSqlstate(code: string): number {
  let r = 0
  for (let i = 0; i < 5; i++) r |= ((code.charCodeAt(i) - 48) & 0x3f) << (6 * i)
  return r
}

export function unpackSqlstate(v: number): string {
  let s = ''
  for (let i = 0; i < 5; i++) {
    s += String.fromCharCode((v & 0x3f) + 48)
    v >>= 6
  }
  return s
}
