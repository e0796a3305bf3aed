// plpy plans that are simple expressions (`SELECT $1::int AS x`) evaluated without the executor, as
// PL/pgSQL does (pl_exec.c exec_simple_check_plan, exec_save_simple_expr, exec_eval_simple_expr;
// plancache.c CachedPlanAllowsSimpleValidityCheck / CachedPlanIsSimplyValid): one ExprState per
// target-list column, the cached plan checked with CachedPlanIsSimplyValid on each use, and the
// expressions evaluated directly. What SPI_execute_plan would do around it is done here too
// (_SPI_execute_plan in spi.c: the "SQL statement" error context, a fresh snapshot and command
// counter increments when not read-only). Anything unusual returns null: the caller runs SPI.
//
// Lifetimes mirror PL/pgSQL's: the ExprStates and expression contexts live in an EState made in
// TopTransactionContext, and plan refcounts are held by a resource owner under the top transaction's
// (shared_simple_eval_estate / shared_simple_eval_resowner); a transaction callback drops both at
// transaction end (plpgsql_xact_cb), so nothing survives COMMIT, ROLLBACK or plpy.commit(). An entry
// whose evaluation raised stays "in use" until the transaction ends and meanwhile goes through SPI
// (expr_simple_in_use: its state may be bogus); a nested use of an entry being evaluated does too.
import { functionTable } from '../engine/pg/fntable.js'
import { CACHEDPLANSOURCE_MAGIC, L, NODETAG, XACT_EVENT } from '../engine/pg/layout.js'
import type { PlRuntime } from '../python/language.js'
import { logger } from '../util/log.js'
import { length, maybeSimple, nth, resultDesc, simpleExprs } from './simple-plan.js'

/** One row computed without the executor: Datums in `values`, null flags as bool bytes (0/1, like
 * heap_deform_tuple) in `nulls`, natts of each, and the result TupleDesc (ExecTypeFromTL's). */
export interface SimpleRow {
  tupdesc: number
  values: number
  nulls: number
  natts: number
}

/** What is known about one SPIPlanPtr. */
interface Entry {
  /** false once the plan proved not simple (that is a property of its parse tree: for good) */
  simple: boolean
  source: number
  /** the CachedPlan the expressions come from, and its generation (plancache.c's advice) */
  cplan: number
  generation: number
  /** transaction in which our resource owner holds a refcount on cplan (expr_simple_plan_lxid) */
  planXact: number
  exprs: number[]
  /** contain_mutable_functions of any column: only then a snapshot is taken (expr_simple_mutable) */
  mutable: boolean
  /** TupleDesc, ParamListInfo and the row's arrays, in `context` */
  context: number
  tupdesc: number
  params: number
  values: number
  nulls: number
  /** ExprStates and the transaction they belong to (expr_simple_state, expr_simple_lxid) */
  states: number[]
  stateXact: number
  inUse: boolean
  /** what simpleRow returns (one object per entry: nothing is allocated per evaluation) */
  row: SimpleRow
}

interface SimpleState {
  /** the path cannot be used with this PGlite (no function table, or a struct layout differs) */
  disabled: boolean
  entries: Map<number, Entry>
  /** transaction counter, bumped by the transaction callback at every transaction end */
  xact: number
  estate: number
  owner: number
  /** expression contexts by nesting depth of evaluations (one evaluation may call into another) */
  econtexts: number[]
  depth: number
  /** ErrorContextCallback structs by depth, and the callback that mirrors _SPI_error_callback */
  errFrames: number[]
  errSlot: number
  isnull: number
  fmt: number
  va: number
  table: WebAssembly.Table | undefined
  fns: Map<number, (state: number, econtext: number, isnull: number) => number>
  /** exports and data addresses of the hot path, looked up once (Module is a dictionary-mode object) */
  f: HotFns
}

interface HotFns {
  EnsurePortalSnapshotExists: () => void
  CachedPlanIsSimplyValid: (source: number, plan: number, owner: number) => number
  MemoryContextReset: (cxt: number) => void
  CommandCounterIncrement: () => void
  GetTransactionSnapshot: () => number
  PushActiveSnapshot: (snap: number) => void
  PopActiveSnapshot: () => void
  /** &CurrentMemoryContext, &error_context_stack */
  currentMemoryContext: number
  errorContextStack: number
}

const states = new WeakMap<PlRuntime, SimpleState>()
/** the runtime asked for last (a loop asks for the same one again) */
let lastRt: PlRuntime | undefined
let lastState: SimpleState | undefined

function stateOf(rt: PlRuntime): SimpleState {
  if (rt === lastRt) return lastState!
  const s = states.get(rt) ?? makeState(rt)
  lastRt = rt
  lastState = s
  return s
}

function makeState(rt: PlRuntime): SimpleState {
  const h = rt.heap
  const M = h.M
  const st: SimpleState = {
    disabled: false,
    entries: new Map(),
    xact: 1,
    estate: 0,
    owner: 0,
    econtexts: [],
    depth: 0,
    errFrames: [],
    errSlot: 0,
    isnull: M._malloc(8) as number,
    fmt: h.cstr('SQL statement "%s"'),
    va: M._malloc(8) as number,
    table: undefined,
    fns: new Map(),
    f: {
      EnsurePortalSnapshotExists: M._EnsurePortalSnapshotExists,
      CachedPlanIsSimplyValid: M._CachedPlanIsSimplyValid,
      MemoryContextReset: M._MemoryContextReset,
      CommandCounterIncrement: M._CommandCounterIncrement,
      GetTransactionSnapshot: M._GetTransactionSnapshot,
      PushActiveSnapshot: M._PushActiveSnapshot,
      PopActiveSnapshot: M._PopActiveSnapshot,
      currentMemoryContext: M._CurrentMemoryContext,
      errorContextStack: M._error_context_stack,
    },
  }
  // _SPI_error_callback: a syntax error position becomes an internal position in the query, anything
  // else gets CONTEXT `SQL statement "..."`; never throws into wasm
  st.errSlot = M.addFunction((query: number) => {
    try {
      const pos = M._geterrposition() as number
      if (pos > 0) {
        M._errposition(0)
        M._internalerrposition(pos)
        M._internalerrquery(query)
      } else {
        h.setU32(st.va, query)
        M._errcontext_msg(st.fmt, st.va)
      }
    } catch {
      // adding context must not replace the error being reported
    }
    return undefined
  }, 'vi')
  // plpgsql_xact_cb: at commit free the EState and the plan refcounts; at abort PostgreSQL has
  // released both already (TopTransactionContext, the top resource owner's children)
  const xactSlot = M.addFunction((event: number) => {
    if (event > XACT_EVENT.PREPARE) return undefined // the PRE_* events
    if (event !== XACT_EVENT.ABORT && event !== XACT_EVENT.PARALLEL_ABORT) {
      if (st.estate) M._FreeExecutorState(st.estate)
      if (st.owner) M._ReleaseAllPlanCacheRefsInOwner(st.owner)
    }
    st.estate = 0
    st.owner = 0
    st.econtexts.length = 0
    st.xact++
    return undefined
  }, 'vii')
  M._RegisterXactCallback(xactSlot, 0)
  try {
    st.table = functionTable(h)
  } catch (e) {
    disable(st, `no function table: ${(e as Error).message}`)
  }
  states.set(rt, st)
  return st
}

const log = logger('plpy-simple')

/** Stop using the path in this instance (every plan then runs through SPI, as without it). */
function disable(st: SimpleState, why: string): void {
  if (!st.disabled) log.warn({ why }, 'simple-expression evaluation disabled')
  st.disabled = true
}

/** The plan was freed (SPI_freeplan): forget what was known about it. */
export function forgetPlan(rt: PlRuntime, plan: number): void {
  const st = states.get(rt)
  const e = st?.entries.get(plan)
  if (!st || !e) return
  st.entries.delete(plan)
  // a plan is never freed while its own evaluation runs (Python holds the plan, busy statements are
  // kept): an entry left "in use" by an error has no evaluation running
  const cxt = e.context
  if (cxt) rt.elog.tryCatch(() => rt.heap.M._MemoryContextDelete(cxt))
}

/** The resource owner holding this transaction's plan refcounts (shared_simple_eval_resowner). */
function owner(rt: PlRuntime, st: SimpleState): number {
  if (!st.owner) {
    const M = rt.heap.M
    const top = rt.heap.u32at(M._TopTransactionResourceOwner)
    st.owner = M._ResourceOwnerCreate(top, rt.heap.cstr('pyglite simple expressions')) as number
  }
  return st.owner
}

/** The expression context for evaluations at `depth`, in this transaction's EState. */
function econtext(rt: PlRuntime, st: SimpleState, depth: number): number {
  const ec = st.econtexts[depth]
  if (ec) return ec
  const h = rt.heap
  const M = h.M
  if (!st.estate) {
    const cur = M._CurrentMemoryContext as number
    const old = h.u32at(cur)
    h.setU32(cur, h.u32at(M._TopTransactionContext)) // the EState's query context lives as long
    st.estate = M._CreateExecutorState() as number
    h.setU32(cur, old)
  }
  const made = M._CreateExprContext(st.estate) as number
  if (h.i32at(made) !== NODETAG.ExprContext) disable(st, 'ExprContext layout differs')
  st.econtexts[depth] = made
  return made
}

/**
 * (Re)derive the entry from the plan's generic plan (exec_simple_check_plan and the replan branch of
 * exec_eval_simple_expr). False when the plan is not simple; may raise what replanning raises, as
 * SPI_execute_plan would (SPI_plan_get_cached_plan pushes the same error context).
 */
function save(rt: PlRuntime, st: SimpleState, plan: number, e: Entry): boolean {
  const h = rt.heap
  const M = h.M
  // a refcount on an older version of the plan held in this transaction: release it
  if (e.cplan && e.planXact === st.xact) M._ReleaseCachedPlan(e.cplan, st.owner)
  e.cplan = 0
  e.planXact = 0
  e.stateXact = 0
  const cplan = M._SPI_plan_get_cached_plan(plan) as number // the generic plan; refcount in CurrentResourceOwner
  if (!cplan) {
    e.simple = false // one-shot, or several statements
    return false
  }
  const cur = h.u32at(M._CurrentResourceOwner)
  // a freshly fetched generic plan is saved and valid, referenced by its source and by us, and its
  // generation is at most the source's: checks of the CachedPlan offsets used here
  const gen = h.i32at(cplan + L.cp_generation)
  if (
    h.u8at(cplan + L.cp_is_saved) !== 1 ||
    h.u8at(cplan + L.cp_is_valid) !== 1 ||
    h.i32at(cplan + L.cp_refcount) < 2 ||
    gen < 1 ||
    gen > h.i32at(e.source + L.cps_generation)
  )
    disable(st, 'CachedPlan layout differs')
  const exprs = st.disabled ? null : simpleExprs(rt, cplan)
  const ok = exprs !== null && M._CachedPlanAllowsSimpleValidityCheck(e.source, cplan, owner(rt, st))
  M._ReleaseCachedPlan(cplan, cur)
  if (!ok) {
    e.simple = false
    return false
  }
  e.cplan = cplan
  e.generation = gen
  e.planXact = st.xact
  e.exprs = exprs
  e.mutable = exprs.some((x) => M._contain_mutable_functions(x))
  if (e.context) M._MemoryContextReset(e.context)
  else
    e.context = M._AllocSetContextCreateInternal(
      h.u32at(M._TopMemoryContext),
      h.cstr('pyglite simple expression'),
      0,
      1024,
      8192,
    ) as number
  const cur2 = M._CurrentMemoryContext as number
  const old = h.u32at(cur2)
  h.setU32(cur2, e.context)
  const n = exprs.length
  const desc = resultDesc(rt, cplan, exprs)
  e.tupdesc = desc
  e.values = M._palloc(4 * n) as number
  e.nulls = M._palloc(n) as number
  e.params = 0
  e.row = { tupdesc: desc, values: e.values, nulls: e.nulls, natts: n }
  h.setU32(cur2, old)
  return true
}

function newEntry(rt: PlRuntime, plan: number): Entry {
  const h = rt.heap
  const sources = h.M._SPI_plan_get_plan_sources(plan) as number
  const source = length(rt, sources) === 1 ? nth(rt, sources, 0) : 0
  const simple =
    source !== 0 && h.i32at(source + L.cps_magic) === CACHEDPLANSOURCE_MAGIC && maybeSimple(rt, source)
  return {
    simple,
    source,
    cplan: 0,
    generation: 0,
    planXact: 0,
    exprs: [],
    mutable: true,
    context: 0,
    tupdesc: 0,
    params: 0,
    values: 0,
    nulls: 0,
    states: [],
    stateXact: 0,
    inUse: false,
    row: { tupdesc: 0, values: 0, nulls: 0, natts: 0 },
  }
}

/** paramTypes of a plan without arguments */
export const NO_ARGS: number[] = []

/**
 * If the SPIPlanPtr `plan` is a simple expression statement, evaluate it with the arguments in
 * paramValues/paramNulls (SPI's convention: nulls 'n'/' ', 0 when the plan has no arguments) and
 * return its one row; null when it is not simple or cannot be evaluated this way now (the caller then
 * runs SPI_execute_plan). Runs inside the operation's internal subtransaction and PG_TRY, with SPI
 * connected. The row's by-reference Datums live until the next evaluation at the same nesting depth.
 */
export function simpleRow(
  rt: PlRuntime,
  plan: number,
  paramValues: number,
  paramNulls: number,
  paramTypes: number[] = NO_ARGS,
  readOnly = false,
): SimpleRow | null {
  const st = stateOf(rt)
  if (st.disabled) return null
  let e = st.entries.get(plan)
  if (e === undefined) {
    e = newEntry(rt, plan)
    st.entries.set(plan, e)
  }
  if (!e.simple) return null
  const xact = st.xact
  // busy in this transaction: a nested use, or an evaluation that raised (expr_simple_in_use)
  if (e.inUse && e.stateXact === xact) return null
  const h = rt.heap
  const M = h.M
  const f = st.f
  f.EnsurePortalSnapshotExists() // after plpy.commit() in a procedure, as _SPI_execute_plan
  // CachedPlanIsSimplyValid, plus the generation check plancache.c advises when the plan source is
  // also used otherwise (SPI_execute_plan runs the same plan when we fall back)
  let valid = false
  if (e.cplan) {
    const first = e.planXact !== xact
    valid = !!f.CachedPlanIsSimplyValid(e.source, e.cplan, first ? owner(rt, st) : 0)
    if (valid && h.i32at(e.cplan + L.cp_generation) !== e.generation) {
      if (first) M._ReleaseCachedPlan(e.cplan, st.owner)
      valid = false
    }
    if (valid) e.planXact = xact
  }
  if (!valid && !save(rt, st, plan, e)) return null
  const n = e.exprs.length
  // the arguments as _SPI_convert_params passes them
  const nargs = paramTypes.length
  if (nargs) {
    if (!e.params) {
      const cur = M._CurrentMemoryContext as number
      const old = h.u32at(cur)
      h.setU32(cur, e.context)
      e.params = M._makeParamList(nargs) as number
      h.setU32(cur, old)
    }
    for (let j = 0; j < nargs; j++) {
      const p = e.params + L.pli_params + L.pxd_size * j
      h.setU32(p + L.pxd_value, h.u32at(paramValues + 4 * j))
      h.setU8(p + L.pxd_isnull, paramNulls && h.u8at(paramNulls + j) === 0x6e ? 1 : 0)
      h.setU8(p + L.pxd_pflags, 1) // PARAM_FLAG_CONST
      h.setU8(p + L.pxd_pflags + 1, 0)
      h.setU32(p + L.pxd_ptype, paramTypes[j]!)
    }
  }
  const depth = st.depth
  const ec = econtext(rt, st, depth)
  if (e.stateXact !== xact) {
    // ExecInitExpr in the EState's query context, once per transaction (expr_simple_state)
    const cur = M._CurrentMemoryContext as number
    const old = h.u32at(cur)
    h.setU32(cur, h.u32at(ec + L.econtext_per_query_memory))
    e.states = e.exprs.map((x) => M._ExecInitExpr(x, 0) as number)
    h.setU32(cur, old)
    // ExprState.expr is the expression it was made from: the layout (evalfunc next to it) is PG 18's
    if (
      e.states.some(
        (x, i) => h.i32at(x) !== NODETAG.ExprState || h.u32at(x + L.exprstate_expr) !== e.exprs[i],
      )
    )
      disable(st, 'ExprState layout differs')
    e.stateXact = xact
    e.inUse = false
  }
  if (st.disabled) return null
  // SPI_execute_plan takes a new snapshot after a command counter increment unless read-only;
  // PL/pgSQL skips both when no function in the expression is stable or volatile (need_snapshot)
  const snap = e.mutable && !readOnly
  if (snap) {
    f.CommandCounterIncrement()
    f.PushActiveSnapshot(f.GetTransactionSnapshot())
  }
  const tuplecxt = h.u32at(ec + L.econtext_per_tuple_memory)
  f.MemoryContextReset(tuplecxt) // the previous row at this depth
  h.setU32(ec + L.econtext_param_list_info, nargs ? e.params : 0)
  // ErrorContextCallback with _SPI_error_callback's text
  let frame = st.errFrames[depth]
  if (frame === undefined) {
    frame = M._malloc(L.ecc_size) as number
    st.errFrames[depth] = frame
  }
  const ecs = f.errorContextStack
  h.setU32(frame + L.ecc_previous, h.u32at(ecs))
  h.setU32(frame + L.ecc_callback, st.errSlot)
  h.setU32(frame + L.ecc_arg, h.u32at(e.source + L.cps_query_string))
  h.setU32(ecs, frame)
  const cur = f.currentMemoryContext
  const old = h.u32at(cur)
  h.setU32(cur, tuplecxt)
  e.inUse = true
  st.depth = depth + 1
  try {
    for (let i = 0; i < n; i++) {
      const state = e.states[i]!
      // ExecEvalExpr: state->evalfunc(state, econtext, &isnull)
      const fp = h.u32at(state + L.exprstate_evalfunc)
      let fn = st.fns.get(fp)
      if (fn === undefined) {
        fn = st.table!.get(fp) as (state: number, econtext: number, isnull: number) => number
        st.fns.set(fp, fn)
      }
      const d = fn(state, ec, st.isnull)
      h.setU32(e.values + 4 * i, d >>> 0)
      h.setU8(e.nulls + i, h.u8at(st.isnull) ? 1 : 0)
    }
  } finally {
    st.depth = depth // an ERROR leaves e.inUse set: the entry goes through SPI until the transaction ends
  }
  e.inUse = false
  h.setU32(cur, old)
  h.setU32(ecs, h.u32at(frame + L.ecc_previous))
  h.setU32(ec + L.econtext_param_list_info, 0)
  if (snap) {
    f.CommandCounterIncrement() // after the command, as _SPI_execute_plan
    f.PopActiveSnapshot()
  }
  return e.row
}
