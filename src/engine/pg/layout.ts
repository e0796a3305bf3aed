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
  // after name … createLevel (8 words), sourceText, commandTag, QueryCompletion qc (8-aligned: 40..55), stmts,
  // cplan, portalParams, queryEnv, strategy, cursorOptions, status, portalPinned/autoHeld, queryDesc
  portal_tupdesc: 92,
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
  hth_t_infomask2: 18, // uint16: the attribute count in its low 11 bits (HEAP_NATTS_MASK)
  hth_t_infomask: 20, // uint16: HEAP_HASNULL = 0x0001
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

/**
 * Foreign-data wrapper structs (src/fdw), PG 18 wasm32: fdwapi.h, pathnodes.h, plannodes.h, execnodes.h,
 * primnodes.h, parsenodes.h, foreign.h. Computed from the 18.x headers with wasm32's alignment (4-byte
 * pointers, 8-byte double/int64) and probed at start-up where a value can be made (selftest.ts).
 */
export const FL = {
  // FdwRoutine: NodeTag, then one function pointer per callback
  fdw_size: 184,
  fdw_GetForeignRelSize: 4,
  fdw_GetForeignPaths: 8,
  fdw_GetForeignPlan: 12,
  fdw_BeginForeignScan: 16,
  fdw_IterateForeignScan: 20,
  fdw_ReScanForeignScan: 24,
  fdw_EndForeignScan: 28,
  fdw_AddForeignUpdateTargets: 40,
  fdw_PlanForeignModify: 44,
  fdw_BeginForeignModify: 48,
  fdw_ExecForeignInsert: 52,
  fdw_ExecForeignBatchInsert: 56,
  fdw_GetForeignModifyBatchSize: 60,
  fdw_ExecForeignUpdate: 64,
  fdw_ExecForeignDelete: 68,
  fdw_EndForeignModify: 72,
  fdw_BeginForeignInsert: 76,
  fdw_EndForeignInsert: 80,
  fdw_ExplainForeignScan: 116,
  fdw_ImportForeignSchema: 132,
  // RelOptInfo (rows is a double), PathTarget, RestrictInfo, PlannerInfo
  rel_rows: 16,
  rel_reltarget: 28,
  rel_relid: 68,
  rel_serverid: 156,
  rel_fdw_private: 172,
  rel_baserestrictinfo: 184,
  pt_exprs: 4,
  pt_width: 32,
  ri_clause: 4,
  root_parse: 4,
  root_query_pathkeys: 156,
  // ForeignScan (plan) and ForeignScanState
  fs_scanrelid: 72,
  fs_fdw_exprs: 96,
  fs_fdw_private: 100,
  fss_plan: 4,
  fss_state: 8,
  fss_econtext: 64,
  fss_rel: 104,
  fss_slot: 112,
  fss_fdw_state: 132,
  // TupleTableSlot
  slot_flags: 4, // uint16
  slot_nvalid: 6, // int16
  slot_tupdesc: 12,
  slot_values: 16,
  slot_isnull: 20,
  // expression nodes
  var_varno: 4,
  var_varattno: 8, // int16
  var_vartype: 12,
  var_varlevelsup: 28,
  const_consttype: 4,
  const_constvalue: 20,
  const_constisnull: 24,
  opexpr_opno: 4,
  opexpr_args: 28,
  saop_opno: 4,
  saop_useOr: 20,
  saop_args: 28,
  relabel_arg: 4,
  nulltest_arg: 4,
  nulltest_type: 8,
  // ExplainState, ResultRelInfo
  es_verbose: 4,
  rri_rel: 8,
  rri_fdwstate: 88,
  // foreign.h: ForeignTable, ForeignServer; DefElem, String, RangeVar, ImportForeignSchemaStmt
  ft_serverid: 4,
  fsrv_servername: 12,
  defelem_defname: 8,
  defelem_arg: 12,
  string_sval: 4,
  rangevar_relname: 12,
  ifs_server_name: 4,
  ifs_remote_schema: 8,
  ifs_local_schema: 12,
  ifs_list_type: 16,
  ifs_table_list: 20,
  ifs_options: 24,
  // Query (parsenodes.h), FromExpr, RangeTblRef: is the whole query a plain scan (LIMIT push-down)?
  query_commandType: 4,
  query_hasAggs: 36, // bool; hasWindowFuncs 37, hasTargetSRFs 38
  query_jointree: 60,
  query_groupingSets: 108,
  query_havingQual: 112,
  query_distinctClause: 120,
  query_sortClause: 124,
  query_limitOffset: 128,
  query_limitCount: 132,
  query_setOperations: 144,
  fromexpr_fromlist: 4,
  fromexpr_quals: 8,
  rtr_rtindex: 4,
  // Path, PathKey, EquivalenceClass/Member (sort push-down)
  path_pathkeys: 64,
  pathkey_eclass: 4,
  pathkey_cmptype: 12, // COMPARE_LT 1 (ASC), COMPARE_GT 5 (DESC)
  pathkey_nulls_first: 16,
  ec_members: 16,
  em_expr: 4,
  // parameterized paths: equivalence classes, join clauses, relids
  root_eq_classes: 88,
  rel_relids: 8,
  em_relids: 8,
  em_is_const: 12,
  em_is_child: 13,
  param_paramkind: 4,
  param_paramtype: 12,
  // TupleTableSlot's ops (tts_ops->clear: ExecClearTuple is a static inline)
  slot_ops: 8,
  ops_clear: 12,
} as const

/** More NodeTag values (nodetags.h) and flags for src/fdw. */
export const FDW_NODETAG = {
  List: 1,
  Var: 6,
  Const: 7,
  Param: 8,
  OpExpr: 17,
  ScalarArrayOpExpr: 20,
  RelabelType: 27,
  NullTest: 52,
  DefElem: 93,
  RestrictInfo: 318,
  ForeignScan: 354,
  ForeignScanState: 418,
  FdwRoutine: 444,
  String: 468,
  RangeTblRef: 63,
  PathKey: 275,
} as const

/** TupleTableSlot.tts_flags TTS_FLAG_EMPTY (tuptable.h). */
export const TTS_FLAG_EMPTY = 2
/** FirstLowInvalidHeapAttributeNumber (sysattr.h): pull_varattnos' offset. */
export const FIRST_LOW_INVALID_ATTNO = -7
/** Catalog OIDs a validator is told about (pg_*.h). */
export const CATALOG_OID = {
  ForeignDataWrapper: 2328,
  ForeignServer: 1417,
  UserMapping: 1418,
  ForeignTable: 3118,
  Attribute: 1249,
} as const
