// The engine operations behind plcolumns' fast path in pyglite (src/columns/python/_pyglite_columns.py):
// a query text or a prepared plan run to completion, and a batch fetched from an open cursor, each
// returned as columns (encode.ts), whose packed buffers in wasm memory Python copies and then releases. Like plpy's own operations (src/plpy-shim/spi.ts, PLy_spi_execute and
// PLy_cursor_fetch) each runs inside PG_TRY and an internal subtransaction, so an error rolls back only
// the operation and reaches Python as an SPI exception.
import { PgError } from '../engine/pg/elog.js'
import { L } from '../engine/pg/layout.js'
import { convertArgs, paramList, releaseArgContext } from '../plpy-shim/args.js'
import { errorValue, spiFailure } from '../plpy-shim/spi.js'
import { callFrame, plans } from '../plpy-shim/state.js'
import { STATW } from '../python/host.js'
import type { PlRuntime } from '../python/language.js'
import { ColumnBuilder, releaseColumns } from './encode.js'
import { putOps } from './put.js'

const SPI_OK_FETCH = 3

/** elog(ERROR, "SPI_... failed: %s", SPI_result_code_string(SPI_result)), as plpy's cursor ops say it */
function spiError(rt: PlRuntime, what: string): PgError {
  const h = rt.heap
  return new PgError(`${what} failed: ${rt.spi.resultString(h.i32at(h.M._SPI_result))}`, {
    sqlstate: 'XX000',
  })
}

/** The codec result of an op: the writer's buffer, its length in a status word (as results.ts does). */
function finish(rt: PlRuntime): Uint8Array {
  rt.host.stat[STATW.opResultLen] = rt.codec.pos
  return rt.codec.buf
}

/**
 * SPI's result of the statement that just ran as (status, columns | None): None when it returned no
 * rows (a utility statement, DML without RETURNING). Frees SPI_tuptable.
 */
function result(rt: PlRuntime, status: number, temporal: boolean): Uint8Array {
  const h = rt.heap
  const M = h.M
  const tt = h.u32at(M._SPI_tuptable)
  const n = h.u64at(M._SPI_processed)
  let b: ColumnBuilder | null = null
  if (tt) {
    if (n > 0x7fffffff)
      throw new PgError('plcolumns: more than 2^31-1 rows in one result', { sqlstate: '54000' })
    b = new ColumnBuilder(rt, h.u32at(tt + L.stt_tupdesc), temporal)
    fill(b, (built) => built.add(tt, n))
    M._SPI_freetuptable(tt)
  }
  return encode(rt, status, b)
}

function encode(rt: PlRuntime, status: number, b: ColumnBuilder | null): Uint8Array {
  const w = rt.codec
  w.reset()
  w.header(13 /* TUPLE */, 2)
  w.int32(status)
  if (b) b.finish(w)
  else w.none()
  return finish(rt)
}

/**
 * A query text that a cursor can run with SPI_execute's result: one SELECT/VALUES/TABLE statement (not
 * SELECT INTO, which creates a table). Those are read through a portal in chunks, so the result is never
 * held as tuples in wasm memory (which does not shrink); other texts go to SPI_execute.
 */
const CURSOR_TEXT = /^\s*\(*\s*(select|values|table)\b[^;]*;?\s*$/i
const CHUNK_ROWS = 50000

function readPortal(rt: PlRuntime, portal: number, temporal: boolean): Uint8Array {
  const b = readRows(rt, portal, 0x7fffffff, temporal)
  rt.heap.M._SPI_cursor_close(portal)
  return encode(rt, 5 /* SPI_OK_SELECT */, b)
}

/**
 * Up to `count` rows of `portal` as columns, in a builder made from its result descriptor (null if it has
 * none): straight from the executor when every column is packed (ColumnBuilder.receive), else through SPI
 * tuple tables of at most CHUNK_ROWS rows, so a result is never held whole as tuples in wasm memory.
 */
function readRows(rt: PlRuntime, portal: number, count: number, temporal: boolean): ColumnBuilder | null {
  const h = rt.heap
  const M = h.M
  const tupdesc = h.u32at(portal + L.portal_tupdesc)
  if (!tupdesc) return null
  return fill(new ColumnBuilder(rt, tupdesc, temporal), (b) => {
    if (b.packedOnly) return b.receive(portal, count)
    for (let left = count; left > 0; ) {
      const want = Math.min(left, CHUNK_ROWS)
      M._SPI_cursor_fetch(portal, 1, want)
      const tt = h.u32at(M._SPI_tuptable)
      const n = h.u64at(M._SPI_processed)
      if (b.rows + n > 0x7fffffff)
        throw new PgError('plcolumns: more than 2^31-1 rows in one result', { sqlstate: '54000' })
      if (tt) {
        b.add(tt, n)
        M._SPI_freetuptable(tt)
      }
      if (n < want) break
      left -= n
    }
  })
}

/** Fill builder `b` by `f`; if that fails, the buffers it had filled are freed (nothing got them). */
function fill(b: ColumnBuilder, f: (b: ColumnBuilder) => unknown): ColumnBuilder {
  try {
    f(b)
    return b
  } catch (e) {
    b.discard()
    throw e
  }
}

type Op = (rt: PlRuntime, a?: unknown, b?: unknown, c?: unknown) => unknown

export const columnOps: Record<string, Op> = {
  ...putOps,
  /** plcolumns.execute(query): (status, columns | None) */
  columns_execute(rt, query, temporal) {
    const frame = callFrame(rt)
    releaseColumns(rt)
    const h = rt.heap
    let rc = 0
    const text = String(query)
    const r = rt.elog.tryCatch(() => {
      if (CURSOR_TEXT.test(text) && !/\binto\b/i.test(text)) {
        const plan = h.M._SPI_prepare(h.pstrdup(text), 0, 0) as number
        if (!plan) throw spiError(rt, 'SPI_prepare')
        const portal = h.M._SPI_cursor_open_with_paramlist(0, plan, 0, frame.readOnly ? 1 : 0) as number
        h.M._SPI_freeplan(plan)
        if (!portal) throw spiError(rt, 'SPI_cursor_open()')
        return readPortal(rt, portal, !!temporal)
      }
      rc = h.M._SPI_execute(h.pstrdup(text), frame.readOnly ? 1 : 0, 0) as number
      return rc < 0 ? null : result(rt, rc, !!temporal)
    }, true)
    if (!r.ok) return errorValue(r.error)
    return r.value ?? spiFailure(rt, 'SPI_execute', rc)
  },

  /** plcolumns.execute(plan, args): args are the codec bytes _plpy.spi._args_bytes made */
  columns_execute_plan(rt, id, args, temporal) {
    const frame = callFrame(rt)
    releaseColumns(rt)
    const plan = plans.get(Number(id))
    if (!plan || plan.rt !== rt)
      return errorValue(new PgError('plpy: this plan belongs to another database or was freed'))
    let rc = 0
    let ctx = 0
    const r = rt.elog.tryCatch(() => {
      if (plan.types.length) ctx = convertArgs(rt, plan, args as Buffer | number)
      rc = rt.heap.M._SPI_execute_plan(plan.ptr, plan.values, plan.nulls, frame.readOnly ? 1 : 0, 0) as number
      return rc < 0 ? null : result(rt, rc, !!temporal)
    }, true)
    releaseArgContext(rt, ctx)
    if (!r.ok) return errorValue(r.error)
    return r.value ?? spiFailure(rt, 'SPI_execute_plan', rc)
  },

  /**
   * plcolumns.cursor(query): a portal name. Unlike plpy.cursor's, the portal is not pinned: a transform
   * stopped early (LIMIT) drops its generator during executor shutdown, when no PL/Python call runs to
   * close it, and an unpinned portal is dropped with its transaction instead of failing the commit.
   */
  columns_cursor(rt, query) {
    const frame = callFrame(rt)
    const h = rt.heap
    const M = h.M
    const r = rt.elog.tryCatch(() => {
      const plan = M._SPI_prepare(h.pstrdup(String(query)), 0, 0) as number
      if (!plan) throw spiError(rt, 'SPI_prepare')
      const portal = M._SPI_cursor_open_with_paramlist(0, plan, 0, frame.readOnly ? 1 : 0) as number
      M._SPI_freeplan(plan)
      if (!portal) throw spiError(rt, 'SPI_cursor_open()')
      return h.str(h.u32at(portal + L.portal_name))
    }, true)
    return r.ok ? r.value : errorValue(r.error)
  },

  /** plcolumns.cursor(plan, args): as columns_cursor, args as _plpy.spi._args_bytes made them */
  columns_cursor_plan(rt, id, args) {
    const frame = callFrame(rt)
    const plan = plans.get(Number(id))
    if (!plan || plan.rt !== rt)
      return errorValue(new PgError('plpy: this plan belongs to another database or was freed'))
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
      if (!portal) throw spiError(rt, 'SPI_cursor_open()')
      return h.str(h.u32at(portal + L.portal_name))
    }, true)
    releaseArgContext(rt, ctx)
    return r.ok ? r.value : errorValue(r.error)
  },

  /** close a cursor of columns_cursor (gone already: nothing to do) */
  columns_close(rt, name) {
    callFrame(rt)
    const M = rt.heap.M
    const r = rt.elog.tryCatch(() => {
      const portal = M._SPI_cursor_find(rt.heap.pstrdup(String(name))) as number
      if (portal) M._SPI_cursor_close(portal)
      return true
    })
    return r.ok ? r.value : errorValue(r.error)
  },

  /** Python has copied the packed columns of the last result out of wasm memory: free them */
  columns_release(rt) {
    releaseColumns(rt)
    return null
  },

  /** the next `count` rows of an open cursor as columns; false if the portal is gone */
  columns_fetch(rt, name, count, temporal) {
    callFrame(rt)
    releaseColumns(rt)
    const h = rt.heap
    const M = h.M
    const portal = M._SPI_cursor_find(h.pstrdup(String(name))) as number
    if (!portal) return false
    const n = Number(count) | 0
    const r = rt.elog.tryCatch(() => {
      if (n > 0) return encode(rt, SPI_OK_FETCH, readRows(rt, portal, n, !!temporal))
      M._SPI_cursor_fetch(portal, 1, n) // PostgreSQL's own meaning of 0 (the current row again) and less
      return result(rt, SPI_OK_FETCH, !!temporal)
    }, true)
    return r.ok ? r.value : errorValue(r.error)
  },
}
