// Finds the few backend-private static variables the session switch needs, by probing the running backend
// (they are C statics: not exported, and their addresses depend on the PGlite build). Every probe checks
// its find with a known value or a functional test, and start-up fails if one does not hold.
import type { Heap } from './heap.js'

export interface BackendStatics {
  /** miscinit.c `AuthenticatedUserId`: whose superuserness decides SET SESSION AUTHORIZATION */
  authenticatedUserId: number
  /** prepare.c `prepared_queries`: the HTAB of named prepared statements */
  preparedQueries: number
  /** postgres.c `unnamed_stmt_psrc`: the unnamed prepared statement */
  unnamedStatement: number
}

/** Runs one internal simple query; resolves its text rows, throws on an ErrorResponse. */
export type RunSql = (sql: string) => Array<Array<string | null>>

/** Runs extended-protocol Parse("" , sql) + Sync, leaving an unnamed statement behind. */
export type ParseUnnamed = (sql: string) => void

const BOOTSTRAP_SUPERUSERID = 10
const CACHEDPLANSOURCE_MAGIC = 195726186 // plancache.h
const HTAB_TABNAME = 28 // dynahash.c struct HTAB: 7 pointers, then tabname (wasm32)
const PSRC_QUERY_STRING = 12 // plancache.h CachedPlanSource: magic, raw_parse_tree, analyzed tree, query_string

/** Upper bound of the static data region: the initial stack pointer (statics lie below the stack). */
function staticsEnd(heap: Heap): number {
  const sp = heap.M.___stack_pointer as WebAssembly.Global | undefined
  const v = sp ? Number(sp.value) : 0
  return v > 0 ? Math.min(v, heap.u8.length) : heap.u8.length
}

/** Whether the NUL-terminated string at p is exactly `text` (bounded: p may be any word). */
function isString(heap: Heap, p: number, text: Uint8Array): boolean {
  const u8 = heap.u8
  if (p <= 0 || p + text.length >= u8.length) return false
  for (let i = 0; i < text.length; i++) if (u8[p + i] !== text[i]) return false
  return u8[p + text.length] === 0
}

const enc = new TextEncoder()

function words(heap: Heap, pred: (addr: number, w: number) => boolean): number[] {
  heap.refresh()
  const h = heap.i32
  const end = staticsEnd(heap) >> 2
  const out: number[] = []
  for (let i = 256; i < end; i++) if (pred(i << 2, h[i]!)) out.push(i << 2)
  return out
}

export function probeStatics(heap: Heap, sql: RunSql, parseUnnamed: ParseUnnamed): BackendStatics {
  return {
    authenticatedUserId: probeAuthenticatedUserId(heap, sql),
    preparedQueries: probePreparedQueries(heap, sql),
    unnamedStatement: probeUnnamedStatement(heap, parseUnnamed),
  }
}

function probeAuthenticatedUserId(heap: Heap, sql: RunSql): number {
  const roleOid = Number(
    sql("SELECT oid FROM pg_catalog.pg_authid WHERE rolname = 'pg_read_all_settings'")[0]?.[0],
  )
  if (!roleOid) throw new Error('probe: role pg_read_all_settings not found')
  const before = new Set(words(heap, (_a, w) => w === BOOTSTRAP_SUPERUSERID))
  sql("SELECT pg_catalog.set_config('session_authorization', 'pg_read_all_settings', false)")
  // SessionUserId, OuterUserId and CurrentUserId now hold the role; AuthenticatedUserId, declared next to
  // them in miscinit.c, still holds the bootstrap superuser
  heap.refresh()
  const moved = [...before].filter((a) => heap.i32[a >> 2] === roleOid)
  const lo = Math.min(...moved) - 16
  const hi = Math.max(...moved) + 16
  const candidates = [...before].filter(
    (a) => a >= lo && a <= hi && heap.i32[a >> 2] === BOOTSTRAP_SUPERUSERID,
  )
  sql("SELECT pg_catalog.set_config('session_authorization', 'postgres', false)")
  if (moved.length !== 3 || candidates.length !== 1)
    throw new Error(
      `probe: AuthenticatedUserId not found (moved ${moved.length}, candidates ${candidates.length})`,
    )
  const addr = candidates[0]!
  // functional check: as a non-superuser "authenticated" role, becoming postgres must be refused
  heap.i32[addr >> 2] = roleOid
  let refused = false
  try {
    sql("SELECT pg_catalog.set_config('session_authorization', 'postgres', false)")
  } catch (e) {
    refused = (e as { fields?: Record<string, string> }).fields?.C === '42501'
  } finally {
    heap.refresh()
    heap.i32[addr >> 2] = BOOTSTRAP_SUPERUSERID
  }
  if (!refused) throw new Error('probe: AuthenticatedUserId candidate failed its check')
  return addr
}

function probePreparedQueries(heap: Heap, sql: RunSql): number {
  sql('PREPARE pyglite_probe AS SELECT 1')
  const name = enc.encode('Prepared Queries')
  const tabname = (w: number) => {
    if (w < 1024 || w + HTAB_TABNAME + 4 > heap.u8.length || (w & 3) !== 0) return false
    return isString(heap, heap.i32[(w + HTAB_TABNAME) >> 2]!, name)
  }
  const found = words(heap, (_a, w) => tabname(w))
  if (found.length !== 1) throw new Error(`probe: prepared_queries not found (${found.length} candidates)`)
  const addr = found[0]!
  const table = heap.i32[addr >> 2]!
  const count = () => Number(sql('SELECT count(*) FROM pg_catalog.pg_prepared_statements')[0]?.[0])
  // functional check: with the pointer cleared the session has no prepared statements; restored, it has one
  const before = count()
  heap.i32[addr >> 2] = 0
  const cleared = count()
  heap.refresh()
  const fresh = heap.i32[addr >> 2]! // the view may have created a new (empty) table: free it
  heap.i32[addr >> 2] = table
  if (fresh) heap.M._hash_destroy(fresh)
  const restored = count()
  sql('DEALLOCATE pyglite_probe')
  if (before !== 1 || cleared !== 0 || restored !== 1)
    throw new Error(`probe: prepared_queries check failed (${before}, ${cleared}, ${restored})`)
  return addr
}

function probeUnnamedStatement(heap: Heap, parseUnnamed: ParseUnnamed): number {
  const sql = `SELECT 'pyglite unnamed statement probe ${Math.random()}'`
  const text = enc.encode(sql)
  parseUnnamed(sql)
  heap.refresh()
  const found = words(heap, (_a, w) => {
    if (w < 1024 || w + 16 > heap.u8.length || (w & 3) !== 0) return false
    if (heap.i32[w >> 2] !== CACHEDPLANSOURCE_MAGIC) return false
    return isString(heap, heap.i32[(w + PSRC_QUERY_STRING) >> 2]!, text)
  })
  if (found.length !== 1) throw new Error(`probe: unnamed_stmt_psrc not found (${found.length} candidates)`)
  return found[0]!
}
