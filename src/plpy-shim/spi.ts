// plpy.execute / plpy.prepare / plan.execute / plpy.cursor in the engine (plpy_spi.c, plpy_cursorobject.c).
// Every operation runs as PL/Python runs it: inside PG_TRY and an internal subtransaction, so an error
// rolls back only that operation and reaches Python as an SPI exception; results are converted inside.
import { PgError, type TryResult } from '../engine/pg/elog.js'
import { L } from '../engine/pg/layout.js'
import type { PlRuntime } from '../python/language.js'
import { cKind, convertArgs, fastKind, paramList, releaseArgContext } from './args.js'
import { encodeFirstRow, encodeResult, nativeResult, oneRowResult } from './results.js'
import { forgetPlan, NO_ARGS, simpleRow } from './simple.js'
import { addPlan, callFrame, type Plan, plans, shim } from './state.js'

/** An engine error as the dispatcher hands it to Python (raised there as an SPI exception). */
export function errorValue(e: PgError): { pgerror: Record<string, unknown> } {
  return { pgerror: { message: e.message, sqlstate: e.sqlstate, ...e.fields } }
}

/** The value of a PG_TRY'd operation, or its error for Python. */
export function outcome<T>(r: TryResult<T>): T | { pgerror: Record<string, unknown> } {
  return r.ok ? r.value : errorValue(r.error)
}

/** An SPI failure that PL/Python reports as a plain plpy.SPIError (no SQLSTATE, no spidata). */
export function spiFailure(rt: PlRuntime, what: string, rc: number): { pgerror: object } {
  return { pgerror: { message: `${what} failed: ${rt.spi.resultString(rc)}`, plain: true } }
}

function raise(rt: PlRuntime, message: string): never {
  rt.elog.raise(message, { sqlstate: 'XX000' })
}

/** elog(ERROR, "SPI_... failed: %s", SPI_result_code_string(SPI_result)) */
function raiseSpiResult(rt: PlRuntime, what: string): never {
  const h = rt.heap
  raise(rt, `${what} failed: ${rt.spi.resultString(h.i32at(h.M._SPI_result))}`)
}

/**
 * plpy.execute(query) runs the same few query texts again and again (a loop). Each text is kept as a C
 * string, and a single SELECT/DML statement also as a plan kept in PostgreSQL's plan cache (SPI_prepare
 * + SPI_keepplan), as PL/pgSQL keeps its static statements: the plan cache re-analyses and re-plans it
 * when what it depends on changes (DDL, search_path, role for row security), so results and errors are
 * those of SPI_execute. Texts with several statements, utility statements or anything unusual are run
 * with SPI_execute as PL/Python does (a one-shot plan analyses each statement just before running it,
 * which a later statement of the same text may depend on).
 */
const CACHEABLE = /^\s*(select|with|values|table|insert|update|delete|merge)\b[^;]*;?\s*$/i
const MAX_STATEMENTS = 128

export interface Statement {
  text: number
  /**
   * SPIPlanPtr kept for the text; 0: run with SPI_execute; -1: prepare at the next run; -2: seen once
   * (a text run only once, e.g. with a value formatted into it, is not worth a kept plan)
   */
  plan: number
  /** executions of this statement in progress (it is not freed while one runs) */
  busy: number
}

function statement(rt: PlRuntime, query: string): Statement {
  const st = shim(rt)
  const cache = st.statements
  let s = cache.get(query)
  if (s) {
    if (s !== st.lastStatement) {
      cache.delete(query) // most recently used last
      cache.set(query, s)
      st.lastStatement = s
    }
    if (s.plan === -2) s.plan = -1 // run again: now keep a plan
    return s
  }
  if (cache.size >= MAX_STATEMENTS) {
    for (const [q, old] of cache) {
      if (old.busy) continue
      cache.delete(q)
      rt.heap.M._free(old.text)
      if (old.plan > 0) forgetPlan(rt, old.plan)
      if (old.plan > 0) rt.elog.tryCatch(() => rt.heap.M._SPI_freeplan(old.plan))
      if (cache.size < MAX_STATEMENTS) break
    }
  }
  s = { text: rt.heap.strdupPermanent(query), plan: CACHEABLE.test(query) ? -2 : 0, busy: 0 }
  cache.set(query, s)
  st.lastStatement = s
  return s
}

function planOf(rt: PlRuntime, id: unknown): Plan {
  const p = plans.get(Number(id))
  if (!p || p.rt !== rt) throw new PgError('plpy: this plan belongs to another database or was freed')
  return p
}

/** Free plans released while another instance was active. */
export function freePending(rt: PlRuntime): void {
  const st = shim(rt)
  while (st.pendingFrees.length) freePlan(rt, st.pendingFrees.pop()!)
}

function freePlan(rt: PlRuntime, id: number): void {
  const p = plans.get(id)
  if (!p) return
  if (p.rt !== rt) {
    shim(p.rt).pendingFrees.push(id)
    return
  }
  plans.delete(id)
  forgetPlan(rt, p.ptr)
  rt.elog.tryCatch(() => rt.heap.M._SPI_freeplan(p.ptr))
  rt.heap.M._free(p.values)
  rt.heap.M._free(p.nulls)
}

/**
 * The result of an operation: with `native` (the _pyglite.execute path) the status when C converted the
 * rows (native/plpy/spiop.c reads the rest from status words), else the encoded (status, nrows, rows, desc).
 */
function result(rt: PlRuntime, rc: number, native: boolean): Uint8Array | number {
  return native && nativeResult(rt, rc) ? rc : encodeResult(rt, rc)
}

export const spiOps = {
  /** plpy.execute(query, limit) → (status, nrows, rows, desc) */
  execute(rt: PlRuntime, query: unknown, limit: unknown, native = false) {
    const frame = callFrame(rt)
    const M = rt.heap.M
    const f = shim(rt).fn
    const stmt = statement(rt, String(query))
    const readOnly = frame.readOnly ? 1 : 0
    let rc = 0
    stmt.busy++
    const r = rt.elog.tryCatch(() => {
      if (stmt.plan === -1) {
        const plan = M._SPI_prepare(stmt.text, 0, 0) as number
        if (plan && !M._SPI_keepplan(plan)) stmt.plan = plan
        else stmt.plan = 0 // not preparable: SPI_execute reports what is wrong
      }
      const row =
        stmt.plan > 0 && (Number(limit) | 0) >= 0 && simpleRow(rt, stmt.plan, 0, 0, NO_ARGS, !!readOnly)
      if (row) return oneRowResult(rt, row, native)
      rc =
        stmt.plan > 0
          ? f.SPI_execute_plan(stmt.plan, 0, 0, readOnly, Number(limit) | 0)
          : f.SPI_execute(stmt.text, readOnly, Number(limit) | 0)
      return rc < 0 ? null : result(rt, rc, native)
    }, true)
    stmt.busy--
    if (!r.ok) return errorValue(r.error)
    return r.value ?? spiFailure(rt, 'SPI_execute', rc)
  },

  /** plpy.prepare(query, typenames) → [planId, output descriptors of the argument types, fast kinds, C kinds] */
  prepare(rt: PlRuntime, query: unknown, typenames: unknown) {
    callFrame(rt)
    const h = rt.heap
    const M = h.M
    // a name that does not encode comes as [the codec's error] (_plpy/spi.py prepare)
    const names = (typenames ?? []) as Array<string | [string] | null>
    const r = rt.elog.tryCatch(() => {
      const types: number[] = []
      const typmods: number[] = []
      const out = M._palloc(8) as number
      names.forEach((name, i) => {
        if (Array.isArray(name))
          // PLyUnicode_Bytes' PLy_elog: the Python error as detail, ERRCODE_EXTERNAL_ROUTINE_EXCEPTION
          rt.elog.raise('could not convert Python Unicode object to bytes', {
            sqlstate: '38000',
            detail: String(name[0]),
          })
        if (typeof name !== 'string')
          raise(rt, `plpy.prepare: type name at ordinal position ${i} is not a string`)
        // parseTypeString(name, &typeId, &typmod, NULL)
        const tn = M._typeStringToTypeName(h.pstrdup(name), 0) as number
        M._typenameTypeIdAndMod(0, tn, out, out + 4)
        types.push(h.u32at(out))
        typmods.push(h.i32at(out + 4))
      })
      const argtypes = M._palloc(Math.max(4 * types.length, 4)) as number
      for (const [i, t] of types.entries()) h.setU32(argtypes + 4 * i, t)
      // PLy_output_setup_func: how Python values become each argument type
      const descs = types.map((t, i) => rt.outputDescriptor(t, typmods[i]))
      const kinds = types.map((t, i) => fastKind(t, typmods[i]!))
      const ck = types.map((t) => cKind(t))
      const ckinds = ck.every((k) => k !== null) ? ck.join('') : null
      const ptr = M._SPI_prepare(h.pstrdup(String(query)), types.length, argtypes) as number
      if (!ptr) raiseSpiResult(rt, 'SPI_prepare')
      if (M._SPI_keepplan(ptr)) raise(rt, 'SPI_keepplan failed')
      const n = Math.max(types.length, 1)
      const values = M._malloc(4 * n) as number // freed with the plan
      const nulls = M._malloc(n) as number
      return [addPlan({ ptr, rt, types, typmods, kinds, values, nulls }), descs, kinds, ckinds]
    }, true)
    return outcome(r)
  },

  /** plan.execute(args, limit) → (status, nrows, rows, desc) */
  execute_plan(rt: PlRuntime, id: unknown, args: unknown, limit: unknown, native = false) {
    const frame = callFrame(rt)
    const plan = planOf(rt, id)
    let rc = 0
    let ctx = 0
    const r = rt.elog.tryCatch(() => {
      if (plan.types.length) ctx = convertArgs(rt, plan, args as Buffer | number)
      const row =
        (Number(limit) | 0) >= 0 &&
        simpleRow(rt, plan.ptr, plan.values, plan.nulls, plan.types, frame.readOnly)
      if (row) return oneRowResult(rt, row, native)
      rc = shim(rt).fn.SPI_execute_plan(
        plan.ptr,
        plan.values,
        plan.nulls,
        frame.readOnly ? 1 : 0,
        Number(limit) | 0,
      )
      return rc < 0 ? null : result(rt, rc, native)
    }, true)
    releaseArgContext(rt, ctx)
    if (!r.ok) return errorValue(r.error)
    return r.value ?? spiFailure(rt, 'SPI_execute_plan', rc)
  },

  /** plpy.cursor(query) → portal name */
  cursor(rt: PlRuntime, query: unknown) {
    const frame = callFrame(rt)
    const h = rt.heap
    const M = h.M
    const r = rt.elog.tryCatch(() => {
      const plan = M._SPI_prepare(h.pstrdup(String(query)), 0, 0) as number
      if (!plan) raiseSpiResult(rt, 'SPI_prepare')
      const portal = M._SPI_cursor_open_with_paramlist(0, plan, 0, frame.readOnly ? 1 : 0) as number
      M._SPI_freeplan(plan)
      if (!portal) raiseSpiResult(rt, 'SPI_cursor_open()')
      M._PinPortal(portal)
      return h.str(h.u32at(portal + L.portal_name))
    }, true)
    return outcome(r)
  },

  /** plan.cursor(args) → portal name */
  cursor_plan(rt: PlRuntime, id: unknown, args: unknown) {
    const frame = callFrame(rt)
    const plan = planOf(rt, id)
    const h = rt.heap
    const M = h.M
    let ctx = 0
    const r = rt.elog.tryCatch(() => {
      let params = 0
      if (plan.types.length) {
        ctx = convertArgs(rt, plan, args as Buffer | number)
        params = paramList(rt, plan)
      }
      const portal = M._SPI_cursor_open_with_paramlist(0, plan.ptr, params, frame.readOnly ? 1 : 0) as number
      if (!portal) raiseSpiResult(rt, 'SPI_cursor_open()')
      M._PinPortal(portal)
      return h.str(h.u32at(portal + L.portal_name))
    }, true)
    releaseArgContext(rt, ctx)
    return outcome(r)
  },

  /** next(cursor): a ROWS list with one row, null at the end, false if the portal is gone */
  cursor_next(rt: PlRuntime, name: unknown) {
    callFrame(rt)
    const M = rt.heap.M
    const portal = M._SPI_cursor_find(rt.heap.pstrdup(String(name))) as number
    if (!portal) return false
    return outcome(
      rt.elog.tryCatch(() => {
        M._SPI_cursor_fetch(portal, 1, 1)
        return encodeFirstRow(rt)
      }, true),
    )
  },

  /** cursor.fetch(n) → (SPI_OK_FETCH, nrows, rows, None), false if the portal is gone */
  cursor_fetch(rt: PlRuntime, name: unknown, count: unknown) {
    callFrame(rt)
    const M = rt.heap.M
    const portal = M._SPI_cursor_find(rt.heap.pstrdup(String(name))) as number
    if (!portal) return false
    return outcome(
      rt.elog.tryCatch(() => {
        M._SPI_cursor_fetch(portal, 1, Number(count) | 0)
        return encodeResult(rt, 3 /* SPI_OK_FETCH */, false)
      }, true),
    )
  },

  /** cursor.close(): false if the portal is gone (closed by an aborted subtransaction). PLy_cursor_close
   * needs no execution context: it works in a generator's finally: run when its query stops early */
  cursor_close(rt: PlRuntime, name: unknown) {
    const M = rt.heap.M
    const portal = M._SPI_cursor_find(rt.heap.pstrdup(String(name))) as number
    if (!portal) return false
    return outcome(
      rt.elog.tryCatch(() => {
        M._UnpinPortal(portal)
        M._SPI_cursor_close(portal)
        return true
      }),
    )
  },

  /** a cursor object was destroyed while open (PLy_cursor_dealloc): with no call running too, e.g. by the
   * generator of a set-returning function dropped when its query stops early (native/call/srf.c) —
   * left pinned, its portal would fail the transaction's commit */
  cursor_release(rt: PlRuntime, name: unknown) {
    const M = rt.heap.M
    rt.elog.tryCatch(() => {
      const portal = M._SPI_cursor_find(rt.heap.pstrdup(String(name))) as number
      if (portal) {
        M._UnpinPortal(portal)
        M._SPI_cursor_close(portal)
      }
    })
    return null
  },

  /** a plan object was destroyed (PLy_plan_dealloc) */
  plan_free(rt: PlRuntime, id: unknown) {
    freePlan(rt, Number(id))
    return null
  },
}
