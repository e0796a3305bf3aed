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
  // TupleDescData (PG 18: CompactAttribute compact_attrs[natts], then FormData_pg_attribute attrs[natts])
  tupdesc_natts: 0,
  tupdesc_compact_attrs: 20,
  compact_attr_size: 16,
  // FormData_pg_attribute (fixed part; TupleDescAttr(td, i) = td + 20 + 16 * natts + 100 * i)
  attr_size: 100,
  attr_attname: 4, // NameData
  attr_atttypid: 68,
  attr_atttypmod: 76,
  attr_attisdropped: 91,
  /** the padding byte between attislocal (92) and attinhcount (94): not initialised by TupleDescInitEntry */
  attr_padding: 93,
  // SPITupleTable
  stt_tupdesc: 0,
  stt_vals: 4,
  stt_numvals: 8, // uint64
  // ReturnSetInfo (execnodes.h)
  rsi_type: 0,
  rsi_econtext: 4,
  rsi_expectedDesc: 8,
  rsi_allowedModes: 12,
  rsi_returnMode: 16,
  rsi_isDone: 20,
  rsi_setResult: 24,
  rsi_setDesc: 28,
  // FuncCallContext (funcapi.h)
  fcc_call_cntr: 0, // uint64
  fcc_user_fctx: 16,
  fcc_multi_call_memory_ctx: 24,
  // MemoryContextCallback (palloc.h)
  mcb_func: 0,
  mcb_arg: 4,
  mcb_size: 12,
  // InlineCodeBlock (parsenodes.h)
  icb_source_text: 4,
  icb_atomic: 13, // bool
  // CallContext (nodetag_only): NodeTag type; bool atomic
  callctx_atomic: 4,
  // ParamListInfoData (params.h): 7 pointers, int numParams, ParamExternData params[]
  pli_numParams: 28,
  pli_params: 32,
  // ParamExternData: Datum value; bool isnull; uint16 pflags; Oid ptype
  pxd_size: 12,
  pxd_value: 0,
  pxd_isnull: 4,
  pxd_pflags: 6,
  pxd_ptype: 8,
  // PortalData
  portal_name: 0,
  // TupleDescData header fields
  tupdesc_tdtypeid: 4,
  tupdesc_tdtypmod: 8,
  tupdesc_tdrefcount: 12,
  // FormData_pg_attribute, more of the fixed part
  attr_attlen: 72, // int16
  attr_attbyval: 82,
  attr_attalign: 83,
  attr_attgenerated: 90,
  // HeapTupleData (htup.h)
  htd_t_len: 0,
  htd_t_data: 16,
  htd_size: 20,
  // HeapTupleHeaderData (htup_details.h), as a composite Datum: DatumTupleFields in t_choice
  hth_datum_typmod: 4,
  hth_datum_typeid: 8,
  hth_t_hoff: 22, // uint8
  // FormData_pg_type (pg_type.h), from GETSTRUCT of a TYPEOID syscache tuple
  typ_typname: 4,
  typ_typlen: 76, // int16
  typ_typbyval: 78,
  typ_typtype: 79,
  typ_typcategory: 80,
  typ_typrelid: 84,
  typ_typsubscript: 88,
  typ_typelem: 92,
  typ_typalign: 128,
  typ_typbasetype: 132,
  typ_typtypmod: 136,
  // ArrayType (array.h)
  arr_ndim: 4,
  arr_dataoffset: 8,
  arr_elemtype: 12,
  arr_dims: 16,
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
  // For the simple-expression path (plpy-shim/simple.ts), PG 18 headers with wasm32 alignment; the
  // magic numbers and node tags are checked when a plan is first looked at.
  // List (pg_list.h): NodeTag type; int length; int max_length; ListCell *elements (4-byte cells)
  list_length: 4,
  list_elements: 12,
  // CachedPlanSource / CachedPlan (plancache.h)
  cps_magic: 0,
  cps_query_string: 12,
  cps_query_list: 60,
  // Query (parsenodes.h): int64 queryId at 16
  query_commandType: 4,
  query_hasAggs: 36, // then hasWindowFuncs, hasTargetSRFs, hasSubLinks (bools)
  query_cteList: 48,
  query_rtable: 52,
  cp_magic: 0,
  cp_stmt_list: 4,
  cp_is_saved: 9,
  cp_is_valid: 10,
  cp_generation: 24,
  cp_refcount: 28,
  cps_generation: 96,
  // PlannedStmt (plannodes.h): int64 queryId/planId align to 8
  pstmt_commandType: 4,
  pstmt_planTree: 36,
  pstmt_subplans: 64,
  pstmt_paramExecTypes: 84,
  pstmt_utilityStmt: 88,
  // Plan / Result (plannodes.h): Cost and Cardinality are doubles
  plan_targetlist: 44,
  plan_qual: 48,
  plan_lefttree: 52,
  plan_righttree: 56,
  plan_initPlan: 60,
  result_resconstantqual: 72,
  // TargetEntry (primnodes.h)
  te_expr: 4,
  te_resno: 8, // int16
  te_resname: 12,
  te_resjunk: 26,
  // ExprState / ExprContext (execnodes.h)
  exprstate_evalfunc: 20,
  exprstate_expr: 24,
  econtext_per_query_memory: 16,
  econtext_per_tuple_memory: 20,
  econtext_param_list_info: 28,
} as const

/** MAXALIGN of this build (MAXIMUM_ALIGNOF: double and int64 align to 8 on wasm32). */
export const MAXIMUM_ALIGNOF = 8
/** Array dimension limit (array.h MAXDIM). */
export const MAXDIM = 6

/** NodeTag values (PG 18 nodetags.h, generated by gen_node_support.pl from the node headers). */
export const NODETAG = {
  TargetEntry: 62,
  Query: 67,
  InlineCodeBlock: 212,
  CallContext: 214,
  PlannedStmt: 330,
  Result: 331,
  ExprState: 380,
  ExprContext: 382,
  ReturnSetInfo: 383,
  EventTriggerData: 441,
  TriggerData: 442,
} as const

/** XactEvent (access/xact.h). */
export const XACT_EVENT = {
  COMMIT: 0,
  PARALLEL_COMMIT: 1,
  ABORT: 2,
  PARALLEL_ABORT: 3,
  PREPARE: 4,
  PRE_COMMIT: 5,
} as const

/** plancache.h magic numbers. */
export const CACHEDPLANSOURCE_MAGIC = 195726186
export const CACHEDPLAN_MAGIC = 953717834

/** ParamExternData.pflags (params.h). */
export const PARAM_FLAG_CONST = 1

/** funcapi / execnodes enums. */
export const SFRM = { ValuePerCall: 1, Materialize: 2 } as const
export const EXPR_DONE = { SingleResult: 0, MultipleResult: 1, EndResult: 2 } as const
export const TYPEFUNC = { SCALAR: 0, COMPOSITE: 1, COMPOSITE_DOMAIN: 2, RECORD: 3, OTHER: 4 } as const

/** SysCacheIdentifier values of PG 18 (generated syscache_ids.h: the caches sorted by name). */
export const SYSCACHE = { PROCOID: 47, RELOID: 57, TYPEOID: 82 } as const

/** Function OIDs used directly (pg_proc.dat). */
export const FUNC_OID = { array_subscript_handler: 6179, record_in: 2290 } as const

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
