// The session-level advisory lock functions (lockfuncs.c: pg_advisory_lock, _shared, pg_try_advisory_lock,
// _shared, pg_advisory_unlock, _shared, for a bigint key and for two int keys, pg_advisory_unlock_all) with
// JS bodies over the engine's per-session lock table (advisory.ts), and pg_locks listing them (lockview.ts).
// Transaction-level ones stay PostgreSQL's, after a look at that table.
import { type BuiltinSpec, replaceBuiltins, type V1Body } from '../pg/builtins.js'
import { type Elog, PgError } from '../pg/elog.js'
import { functionTable } from '../pg/fntable.js'
import type { Heap } from '../pg/heap.js'
import { ELEVEL, L, XACT_EVENT } from '../pg/layout.js'
import { conflict, keyFields, type LockMode, type WaitPolicy } from './advisory.js'
import { installLockView, type LockViewContext } from './lockview.js'

interface Variant {
  name: string
  mode: LockMode
  op: 'lock' | 'try' | 'unlock'
}

const VARIANTS: Variant[] = [
  { name: 'pg_advisory_lock', mode: 'ExclusiveLock', op: 'lock' },
  { name: 'pg_advisory_lock_shared', mode: 'ShareLock', op: 'lock' },
  { name: 'pg_try_advisory_lock', mode: 'ExclusiveLock', op: 'try' },
  { name: 'pg_try_advisory_lock_shared', mode: 'ShareLock', op: 'try' },
  { name: 'pg_advisory_unlock', mode: 'ExclusiveLock', op: 'unlock' },
  { name: 'pg_advisory_unlock_shared', mode: 'ShareLock', op: 'unlock' },
]
/** pg_proc OIDs: the int8 variants are 2880…2885, the (int4, int4) ones 2886…2891, in VARIANTS' order */
const INT8_OID = 2880
const INT4_OID = 2886
const UNLOCK_ALL: BuiltinSpec = { oid: 2892, prosrc: 'pg_advisory_unlock_all', nargs: 0, retset: false }

/**
 * The transaction-level ones (pg_advisory_xact_lock, _shared, pg_try_advisory_xact_lock, _shared): int8
 * variants 3089…3092, (int4, int4) ones 3093…3096. PostgreSQL's own lock manager keeps them (released at
 * the end of the transaction), but it never sees the other sessions' session-level locks, which live in the
 * engine's table: so these first ask that table, as PostgreSQL's one lock table would conflict.
 */
const XACT: Array<{ name: string; mode: LockMode; op: 'lock' | 'try' }> = [
  { name: 'pg_advisory_xact_lock', mode: 'ExclusiveLock', op: 'lock' },
  { name: 'pg_advisory_xact_lock_shared', mode: 'ShareLock', op: 'lock' },
  { name: 'pg_try_advisory_xact_lock', mode: 'ExclusiveLock', op: 'try' },
  { name: 'pg_try_advisory_xact_lock_shared', mode: 'ShareLock', op: 'try' },
]
const XACT_INT8_OID = 3089
const XACT_INT4_OID = 3093

export interface LockContext extends LockViewContext {
  /** what the running exec may do when a lock is taken */
  policy: () => WaitPolicy
  /** the running exec was abandoned to wait for a lock */
  parking: () => boolean
}

export function installLockFunctions(heap: Heap, elog: Elog, ctx: LockContext): void {
  const arg = (fcinfo: number, i: number) => fcinfo + L.fcinfo_args + i * L.nd_size + L.nd_value
  /**
   * The key and the tag PostgreSQL shows for it (SET_LOCKTAG_INT64 / SET_LOCKTAG_INT32: database, high and
   * low key words, 1 for a bigint key and 2 for two int keys).
   */
  const keyOf = (fcinfo: number, int8: boolean): { key: string; tag: string } => {
    const key = int8
      ? `8:${heap.i64at(heap.u32at(arg(fcinfo, 0)))}`
      : `4:${heap.i32at(arg(fcinfo, 0))}:${heap.i32at(arg(fcinfo, 1))}`
    const f = keyFields(key)
    return { key, tag: `advisory lock [${ctx.dboid()},${f.classid},${f.objid},${f.objsubid}]` }
  }

  const body =
    (v: Variant, int8: boolean): V1Body =>
    (fcinfo) => {
      const sid = ctx.session()
      const locks = ctx.locks()
      const { key, tag } = keyOf(fcinfo, int8)
      if (v.op === 'unlock') {
        if (locks.unlock(key, sid, v.mode)) return 1
        // lock.c LockRelease
        elog.report(ELEVEL.WARNING, `you don't own a lock of type ${v.mode}`, { sqlstate: '01000' })
        return 0
      }
      const policy = ctx.policy()
      if (locks.tryLock(key, sid, v.mode, policy.since(key))) return 1
      if (v.op === 'try') return 0
      return conflict(locks, sid, key, tag, v.mode, policy)
    }

  const bodies = VARIANTS.flatMap((v, i) => [
    {
      spec: { oid: INT8_OID + i, prosrc: `${v.name}_int8`, nargs: 1, retset: false },
      body: body(v, true),
    },
    {
      spec: { oid: INT4_OID + i, prosrc: `${v.name}_int4`, nargs: 2, retset: false },
      body: body(v, false),
    },
  ])
  // the C functions the transaction-level bodies end in, by OID (filled once replaced)
  const cfuncs = new Map<number, (fcinfo: number) => number>()
  const xact =
    (v: (typeof XACT)[number], oid: number, int8: boolean): V1Body =>
    (fcinfo) => {
      const sid = ctx.session()
      const locks = ctx.locks()
      const { key, tag } = keyOf(fcinfo, int8)
      const policy = ctx.policy()
      if (locks.waitsFor(key, sid, v.mode, policy.since(key)).length > 0) {
        if (v.op === 'try') return 0
        conflict(locks, sid, key, tag, v.mode, policy, true)
      }
      return cfuncs.get(oid)!(fcinfo)
    }
  const xactSpecs = XACT.flatMap((v, i) => [
    { spec: { oid: XACT_INT8_OID + i, prosrc: `${v.name}_int8`, nargs: 1, retset: false }, v, int8: true },
    { spec: { oid: XACT_INT4_OID + i, prosrc: `${v.name}_int4`, nargs: 2, retset: false }, v, int8: false },
  ])
  for (const x of xactSpecs) bodies.push({ spec: x.spec, body: xact(x.v, x.spec.oid, x.int8) })
  bodies.push({
    spec: UNLOCK_ALL,
    body: () => {
      ctx.locks().unlockAll(ctx.session())
      return 0
    },
  })
  const originals = replaceBuiltins(heap, (e) => elog.raiseJs(e, 'pyglite'), bodies)
  const table = functionTable(heap)
  for (const x of xactSpecs)
    cfuncs.set(x.spec.oid, table.get(originals.get(x.spec.oid)!) as (fcinfo: number) => number)
  installLockView(heap, elog, ctx) // pg_locks lists these locks too
  // an abandoned exec must not commit (its input runs again): had a PL/Python function caught the error
  // and gone on, its transaction aborts here instead (as plpy-shim/fatal.ts guards a pending FATAL)
  const guard = heap.M.addFunction((event: number) => {
    if (event === XACT_EVENT.PRE_COMMIT && ctx.parking())
      elog.raiseJs(new PgError('pyglite: waiting for an advisory lock', { sqlstate: '55P03' }))
    return undefined
  }, 'vii')
  heap.M._RegisterXactCallback(guard, 0)
}
