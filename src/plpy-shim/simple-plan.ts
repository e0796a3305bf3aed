// Looking at a plpy plan for simple.ts: whether its statement is a simple expression, the expressions
// to evaluate, and the row's TupleDesc. Reads PostgreSQL 18's plan-cache and plan nodes (layout.ts).
import { CACHEDPLAN_MAGIC, L, NODETAG } from '../engine/pg/layout.js'
import type { PlRuntime } from '../python/language.js'

/** The i-th element of a List of pointers (pg_list.h list_nth), 0 for NIL. */
export function nth(rt: PlRuntime, list: number, i: number): number {
  const h = rt.heap
  return list ? h.u32at(h.u32at(list + L.list_elements) + 4 * i) : 0
}

export function length(rt: PlRuntime, list: number): number {
  return list ? rt.heap.i32at(list + L.list_length) : 0
}

/**
 * The target-list expressions of a plan that is one plain Result node without input, quals, initplans
 * or junk columns (what exec_is_simple_query and exec_save_simple_expr accept, several columns
 * allowed), or null. Evaluating those expressions is what ExecResult does for such a plan.
 */
export function simpleExprs(rt: PlRuntime, cplan: number): number[] | null {
  const h = rt.heap
  if (h.i32at(cplan + L.cp_magic) !== CACHEDPLAN_MAGIC) return null
  const stmts = h.u32at(cplan + L.cp_stmt_list)
  if (length(rt, stmts) !== 1) return null
  const stmt = nth(rt, stmts, 0)
  if (h.i32at(stmt) !== NODETAG.PlannedStmt || h.i32at(stmt + L.pstmt_commandType) !== 1 /* CMD_SELECT */)
    return null
  if (h.u32at(stmt + L.pstmt_utilityStmt) || h.u32at(stmt + L.pstmt_subplans)) return null
  if (h.u32at(stmt + L.pstmt_paramExecTypes)) return null
  const plan = h.u32at(stmt + L.pstmt_planTree)
  if (!plan || h.i32at(plan) !== NODETAG.Result) return null
  for (const off of [
    L.plan_qual,
    L.plan_lefttree,
    L.plan_righttree,
    L.plan_initPlan,
    L.result_resconstantqual,
  ])
    if (h.u32at(plan + off)) return null
  const tl = h.u32at(plan + L.plan_targetlist)
  const n = length(rt, tl)
  if (n < 1) return null
  const exprs: number[] = []
  for (let i = 0; i < n; i++) {
    const te = nth(rt, tl, i)
    if (h.i32at(te) !== NODETAG.TargetEntry || h.i16at(te + L.te_resno) !== i + 1) return null
    if (h.u8at(te + L.te_resjunk)) return null
    exprs.push(h.u32at(te + L.te_expr))
  }
  return exprs
}

/**
 * Whether the plan source's analyzed query may be simple (exec_is_simple_query's first checks: one
 * table-free SELECT without aggregates, window functions, SRFs, sublinks or WITH), so that a statement
 * that cannot be is never planned here. The generic plan decides for the others.
 */
export function maybeSimple(rt: PlRuntime, source: number): boolean {
  const h = rt.heap
  const list = h.u32at(source + L.cps_query_list)
  if (!list) return true // not valid now: the plan check will tell
  if (length(rt, list) !== 1) return false
  const q = nth(rt, list, 0)
  if (h.i32at(q) !== NODETAG.Query || h.i32at(q + L.query_commandType) !== 1 /* CMD_SELECT */) return false
  if (h.u32at(q + L.query_rtable) || h.u32at(q + L.query_cteList)) return false
  return h.u32at(q + L.query_hasAggs) === 0 // hasAggs, hasWindowFuncs, hasTargetSRFs, hasSubLinks
}

/**
 * The row's TupleDesc as ExecTypeFromTL makes it for the Result node's target list (SPI hands out a
 * copy of that), in CurrentMemoryContext.
 */
export function resultDesc(rt: PlRuntime, cplan: number, exprs: number[]): number {
  const h = rt.heap
  const M = h.M
  const stmt = nth(rt, h.u32at(cplan + L.cp_stmt_list), 0)
  const targetlist = h.u32at(h.u32at(stmt + L.pstmt_planTree) + L.plan_targetlist)
  const desc = M._CreateTemplateTupleDesc(exprs.length) as number
  for (let i = 0; i < exprs.length; i++) {
    const x = exprs[i]!
    const name = h.u32at(nth(rt, targetlist, i) + L.te_resname)
    M._TupleDescInitEntry(desc, i + 1, name, M._exprType(x), M._exprTypmod(x), 0)
    M._TupleDescInitEntryCollation(desc, i + 1, M._exprCollation(x))
  }
  return desc
}
