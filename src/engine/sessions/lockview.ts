// pg_lock_status (lockfuncs.c, under the pg_locks view) with the sessions' advisory locks added. PostgreSQL's
// lock manager sees one backend, so the session-level advisory locks kept in the engine's table
// (advisory.ts) are not in it. The C function still makes PostgreSQL's own rows: it is a value-per-call SRF,
// so it is called here with the caller's fcinfo until it says it is done, each row going into a tuplestore
// (materialize mode, as execSRF.c ExecMakeTableFunctionResult stores a value-per-call function's rows),
// and then one row per (session, key, mode) held or awaited is appended, formed as lockfuncs.c forms a
// LOCKTAG_ADVISORY lock's row. Only this database's table is listed: each database is a PGlite of its own.
import { replaceBuiltins, type V1Body } from '../pg/builtins.js'
import type { Elog } from '../pg/elog.js'
import { functionTable } from '../pg/fntable.js'
import type { Heap } from '../pg/heap.js'
import { EXPR_DONE, L } from '../pg/layout.js'
import { type AdvisoryLocks, keyFields, type LockMode } from './advisory.js'

const SPEC = { oid: 1371, prosrc: 'pg_lock_status', nargs: 0, retset: true }

/** pg_lock_status's columns (lockfuncs.c NUM_LOCK_STATUS_COLUMNS, in pg_proc's order) */
const COL = {
  locktype: 0,
  database: 1,
  classid: 7,
  objid: 8,
  objsubid: 9,
  virtualtransaction: 10,
  pid: 11,
  mode: 12,
  granted: 13,
  fastpath: 14,
  waitstart: 15,
  count: 16,
} as const

export interface LockViewContext {
  locks: () => AdvisoryLocks
  /** the database's OID */
  dboid: () => number
  /** the session whose statement runs (0: the engine's own) */
  session: () => number
  /**
   * the session whose transaction the backend is in (the turn's holder, who differs from the running
   * session while a monitoring query runs beside its idle transaction: turns.ts); default: session()
   */
  transactionOf?: () => number
}

interface Row {
  sid: number
  key: string
  mode: LockMode
  /** when it began waiting (ms since the epoch); undefined: granted */
  waitStart?: number
}

/** The table's rows: a session's holds, then what it waits for, sessions in pid order. */
function advisoryRows(locks: AdvisoryLocks): Row[] {
  const rows: Row[] = [...locks.holds()]
  for (const p of locks.parked) rows.push({ sid: p.sid, key: p.key, mode: p.mode, waitStart: p.at })
  return rows.sort((a, b) => a.sid - b.sid)
}

export function installLockView(heap: Heap, elog: Elog, ctx: LockViewContext): void {
  const M = heap.M
  const myProcPid = heap.i32at(M._MyProcPid as number)
  let original: ((fcinfo: number) => number) | undefined

  /**
   * Run the C function to its end, storing its rows. The backend's rows (its pid) belong to the transaction
   * it is in, so they carry the pid of the session whose transaction that is (`owner`; 0: the engine's own,
   * left as they are), as PostgreSQL shows each backend's locks under its pid: joins with pg_stat_activity
   * and `pid = pg_backend_pid()` then find them. Returns the backend's virtual transaction as its own rows
   * show it, or null if it has none.
   */
  const ownRows = (
    fcinfo: number,
    rsi: number,
    store: number,
    desc: number,
    owner: number,
  ): string | null => {
    const htd = M._palloc(L.htd_size) as number
    const values = M._palloc(COL.count * 4) as number
    const nulls = M._palloc(COL.count) as number
    for (let i = 0; i < L.htd_size; i += 4) heap.setU32(htd + i, 0)
    let vxid: string | null = null
    for (;;) {
      heap.setU8(fcinfo + L.fcinfo_isnull, 0)
      heap.setU32(rsi + L.rsi_isDone, EXPR_DONE.SingleResult)
      const d = original!(fcinfo)
      if (heap.u32at(rsi + L.rsi_isDone) !== EXPR_DONE.MultipleResult) break
      // a HeapTuple around the composite Datum, as ExecMakeTableFunctionResult makes one (t_len, t_data)
      heap.setU32(htd + L.htd_t_len, heap.u32at(d) >>> 2)
      heap.setU32(htd + L.htd_t_data, d)
      M._heap_deform_tuple(htd, desc, values, nulls)
      const mine = !heap.u8at(nulls + COL.pid) && heap.i32at(values + 4 * COL.pid) === myProcPid
      if (mine && vxid === null && !heap.u8at(nulls + COL.virtualtransaction))
        vxid = heap.str(M._text_to_cstring(heap.u32at(values + 4 * COL.virtualtransaction)) as number)
      if (mine && owner) {
        heap.setU32(values + 4 * COL.pid, owner) // int4 by value
        M._tuplestore_puttuple(store, M._heap_form_tuple(desc, values, nulls))
      } else M._tuplestore_puttuple(store, htd)
    }
    // SRF_RETURN_DONE left these for value-per-call; materialize mode wants ExprSingleResult, not null
    heap.setU32(rsi + L.rsi_isDone, EXPR_DONE.SingleResult)
    heap.setU8(fcinfo + L.fcinfo_isnull, 0)
    return vxid
  }

  const body: V1Body = (fcinfo) => {
    M._InitMaterializedSRF(fcinfo, 0)
    const rsi = heap.u32at(fcinfo + L.fcinfo_resultinfo)
    const store = heap.u32at(rsi + L.rsi_setResult)
    const desc = heap.u32at(rsi + L.rsi_setDesc)
    const owner = (ctx.transactionOf ?? ctx.session)()
    const vxid = ownRows(fcinfo, rsi, store, desc, owner)
    const rows = advisoryRows(ctx.locks())
    if (rows.length === 0) return 0
    const meta = M._TupleDescGetAttInMetadata(desc) as number
    const cells = M._palloc(COL.count * 4) as number
    const dboid = String(ctx.dboid())
    for (const r of rows) {
      const v: Array<string | null> = new Array(COL.count).fill(null)
      const f = keyFields(r.key)
      v[COL.locktype] = 'advisory'
      v[COL.database] = dboid
      v[COL.classid] = String(f.classid)
      v[COL.objid] = String(f.objid)
      v[COL.objsubid] = String(f.objsubid)
      // PostgreSQL shows the holder's current virtual transaction, '<procNumber>/0' when it has none: the
      // session whose transaction the backend is in has the backend's (PostgreSQL's own rows show the
      // same); the others have none, and their pid stands for the procNumber (never the backend's 0)
      v[COL.virtualtransaction] = r.sid === owner && vxid ? vxid : `${r.sid}/0`
      v[COL.pid] = String(r.sid || myProcPid)
      v[COL.mode] = r.mode
      v[COL.granted] = r.waitStart === undefined ? 't' : 'f'
      v[COL.fastpath] = 'f' // advisory locks never take the fast path (lock.c EligibleForRelationFastPath)
      if (r.waitStart !== undefined) v[COL.waitstart] = new Date(r.waitStart).toISOString()
      for (let i = 0; i < COL.count; i++) {
        const x = v[i]
        heap.setU32(cells + i * 4, x == null ? 0 : heap.pstrdup(x))
      }
      M._tuplestore_puttuple(store, M._BuildTupleFromCStrings(meta, cells))
    }
    return 0
  }

  const orig = replaceBuiltins(heap, (e) => elog.raiseJs(e, 'pyglite'), [{ spec: SPEC, body }]).get(SPEC.oid)!
  original = functionTable(heap).get(orig) as (fcinfo: number) => number
}
