// Finds the few backend-private static variables the session switch needs, by probing the running backend
// (they are C statics: not exported, and their addresses depend on the PGlite build). Every probe checks
// its find with a known value or a functional test, and start-up fails if one does not hold.
import type { Heap } from './heap.js'

export interface BackendStatics {
  /** miscinit.c `AuthenticatedUserId`: whose superuserness decides SET SESSION AUTHORIZATION */
  authenticatedUserId: number
  /** prepare.c `prepared_queries`: the HTAB of named prepared statements */
  preparedQueries: number
  /** portalmem.c `PortalHashTable`: the HTAB of portals by name (cursors, WITH HOLD ones included) */
  portalTable: number
  /** postgres.c `unnamed_stmt_psrc`: the unnamed prepared statement */
  unnamedStatement: number
  /** namespace.c `myTempNamespace` and `myTempToastNamespace` (Oid words): the session's temp schemas */
  tempNamespace: number
  tempToastNamespace: number
  /** sequence.c `seqhashtab` (HTAB of this session's sequence values: currval) and `last_used_seq` (lastval) */
  seqTable: number
  lastUsedSeq: number
  /**
   * namespace.c `namespaceUser` (Oid) and `searchPathCacheValid` (bool): with both cleared the search path
   * is recomputed at its next use, as after SetTempNamespaceState (not exported)
   */
  namespaceUser: number
  searchPathCacheValid: number
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
    ...probeTempNamespace(heap, sql),
    ...probeSequences(heap, sql),
    portalTable: probePortalTable(heap, sql),
  }
}

/**
 * The HTAB named "Portal hash" (EnablePortalManager), checked by its entry count: one more while a WITH HOLD
 * cursor is open, one less after CLOSE.
 */
function probePortalTable(heap: Heap, sql: RunSql): number {
  const name = enc.encode('Portal hash')
  const found = words(heap, (_a, w) => {
    if (w < 1024 || w + HTAB_TABNAME + 4 > heap.u8.length || (w & 3) !== 0) return false
    return isString(heap, heap.i32[(w + HTAB_TABNAME) >> 2]!, name)
  })
  const count = (a: number) => {
    heap.refresh()
    return Number(heap.M._hash_get_num_entries(heap.i32[a >> 2]))
  }
  const before = found.map(count)
  sql('BEGIN; DECLARE pyglite_probe_cursor CURSOR WITH HOLD FOR SELECT 1; COMMIT')
  const open = found.map(count)
  sql('CLOSE pyglite_probe_cursor')
  const closed = found.map(count)
  const real = found.filter((_a, i) => open[i] === before[i]! + 1 && closed[i] === before[i])
  // a stale copy of the pointer may sit in the stack, above the static data: the lowest is the static
  heap.refresh()
  const tables = new Set(real.map((a) => heap.i32[a >> 2]))
  if (real.length === 0 || tables.size !== 1)
    throw new Error(`probe: PortalHashTable not found (${found.length} candidates, ${real.length} pass)`)
  return Math.min(...real)
}

/**
 * sequence.c's two statics: the HTAB named "Sequence values" (made at the first nextval) and the pointer to
 * the entry of the last sequence used, whose first field is that sequence's OID (SeqTableData.relid). Checked
 * functionally: cleared, currval and lastval say they are not yet defined in this session (55000).
 */
function probeSequences(heap: Heap, sql: RunSql): Pick<BackendStatics, 'seqTable' | 'lastUsedSeq'> {
  // a temp sequence: a server killed mid-probe leaves nothing behind (the next backend's first temp object
  // clears its temp schema)
  sql("CREATE TEMP SEQUENCE pyglite_probe_seq; SELECT pg_catalog.nextval('pyglite_probe_seq')")
  const oid = Number(sql("SELECT 'pyglite_probe_seq'::regclass::oid")[0]?.[0])
  const name = enc.encode('Sequence values')
  heap.refresh()
  const tables = words(heap, (_a, w) => {
    if (w < 1024 || w + HTAB_TABNAME + 4 > heap.u8.length || (w & 3) !== 0) return false
    return isString(heap, heap.i32[(w + HTAB_TABNAME) >> 2]!, name)
  })
  const lasts = words(
    heap,
    (_a, w) => w >= 1024 && (w & 3) === 0 && w + 4 <= heap.u8.length && heap.i32[w >> 2] === oid,
  )
  const fails = (q: string) => {
    try {
      sql(q)
      return false
    } catch (e) {
      return (e as { fields?: Record<string, string> }).fields?.C === '55000'
    }
  }
  const check = (addr: number, q: string, fresh: boolean): boolean => {
    heap.refresh()
    const keep = heap.i32[addr >> 2]!
    heap.i32[addr >> 2] = 0
    const cleared = fails(q)
    heap.refresh()
    const made = heap.i32[addr >> 2]! // currval makes an empty table when there is none: free it
    heap.i32[addr >> 2] = keep
    if (fresh && made) heap.M._hash_destroy(made)
    return cleared && !fails(q)
  }
  const seqTable = tables.filter((a) => check(a, "SELECT pg_catalog.currval('pyglite_probe_seq')", true))
  // declared next to seqhashtab in sequence.c: only words near it are tried (clearing others could crash)
  const near = (a: number) => seqTable.length === 1 && Math.abs(a - seqTable[0]!) <= 64
  const lastUsed = lasts.filter((a) => near(a) && check(a, 'SELECT pg_catalog.lastval()', false))
  sql('DROP SEQUENCE pyglite_probe_seq')
  if (seqTable.length !== 1 || lastUsed.length !== 1)
    throw new Error(`probe: sequence statics not found (${seqTable.length}, ${lastUsed.length} pass)`)
  return { seqTable: seqTable[0]!, lastUsedSeq: lastUsed[0]! }
}

/** A copy of the static data's bytes (for the flag probes, which look for bytes that flip). */
function snapshot(heap: Heap): Uint8Array {
  heap.refresh()
  return heap.u8.slice(0, staticsEnd(heap))
}

/**
 * The temp namespace words: after the probe's temp table, exactly one word holds pg_my_temp_schema() with
 * the toast temp schema's OID next to it (checked by clearing it: pg_my_temp_schema() reads it directly).
 * The two search-path flags are bools found by what flips them: a pg_namespace change clears both
 * (namespace.c InvalidationCallback), a name lookup sets both (recomputeNamespacePath, spcache_init), and
 * assigning search_path clears only baseSearchPathValid (assign_search_path).
 */
function probeTempNamespace(
  heap: Heap,
  sql: RunSql,
): Pick<BackendStatics, 'tempNamespace' | 'tempToastNamespace' | 'namespaceUser' | 'searchPathCacheValid'> {
  sql('CREATE TEMP TABLE pyglite_probe_temp(t text); DROP TABLE pyglite_probe_temp')
  const [ns, toast] = (
    sql(
      "SELECT pg_catalog.pg_my_temp_schema()::int, (SELECT n.oid::int FROM pg_catalog.pg_namespace n WHERE n.nspname = 'pg_toast_temp_' || pg_catalog.substr(pg_catalog.pg_my_temp_schema()::regnamespace::text, 9))",
    )[0] ?? []
  ).map(Number)
  if (!ns || !toast) throw new Error('probe: no temp namespace after a temp table')
  // the two Oids are declared together in namespace.c; the linker keeps them within a few words
  const toasts = words(heap, (_a, w) => w === toast)
  const pairs: Array<[number, number]> = []
  for (const a of words(heap, (_a, w) => w === ns))
    for (const t of toasts) if (Math.abs(t - a) <= 64) pairs.push([a, t])
  // functional check (copies of the pair can sit in the stack): cleared, pg_my_temp_schema() says 0
  const real = pairs.filter(([a]) => {
    heap.refresh()
    heap.i32[a >> 2] = 0
    const cleared = Number(sql('SELECT pg_catalog.pg_my_temp_schema()::int')[0]?.[0])
    heap.refresh()
    heap.i32[a >> 2] = ns
    const restored = Number(sql('SELECT pg_catalog.pg_my_temp_schema()::int')[0]?.[0])
    return cleared === 0 && restored === ns
  })
  if (real.length !== 1)
    throw new Error(`probe: myTempNamespace not found (${pairs.length} pairs, ${real.length} pass)`)
  const [addr, toastAddr] = real[0]!

  const lookup = () => sql("SELECT 'pg_catalog.pg_class'::regclass, 'pg_class'::regclass")
  lookup()
  const valid = snapshot(heap)
  // the schema the check below makes is not temporary: one left by a server killed mid-probe goes first
  sql(
    'DROP SCHEMA IF EXISTS pyglite_probe_ns CASCADE; CREATE SCHEMA pyglite_probe_ns; DROP SCHEMA pyglite_probe_ns',
  )
  const invalidated = snapshot(heap)
  lookup()
  const again = snapshot(heap)
  // another module's flag may flip the same way: namespace.c's bss lies around myTempNamespace
  const cache: number[] = []
  for (let i = addr - 256; i < addr + 256; i++)
    if (valid[i] === 1 && invalidated[i] === 0 && again[i] === 1) cache.push(i)
  // namespaceUser: the role the search path was computed for (the internal session's, the bootstrap
  // superuser), in namespace.c's bss too; cleared, recomputeNamespacePath recomputes (it is no role)
  heap.refresh()
  const base: number[] = []
  for (let i = (addr - 256) & ~3; i < addr + 256; i += 4)
    if (heap.i32[i >> 2] === BOOTSTRAP_SUPERUSERID && i !== addr && i !== toastAddr) base.push(i)
  // functional check: with the temp namespace word pointing at another schema and the flags cleared, an
  // unqualified name resolves there (the temp schema leads the search path); put back, to the temp table
  sql(
    'CREATE SCHEMA pyglite_probe_ns; CREATE TABLE pyglite_probe_ns.pyglite_probe_t(); CREATE TEMP TABLE pyglite_probe_t()',
  )
  const [other, plain, temp] = sql(
    "SELECT 'pyglite_probe_ns'::regnamespace::oid, 'pyglite_probe_ns.pyglite_probe_t'::regclass::oid, 'pyglite_probe_t'::regclass::oid",
  )[0]!.map(Number)
  const resolve = (nsWord: number, b: number, c: number) => {
    heap.refresh()
    heap.i32[addr >> 2] = nsWord
    heap.i32[b >> 2] = 0
    heap.u8[c] = 0
    return Number(sql("SELECT 'pyglite_probe_t'::regclass::oid")[0]?.[0])
  }
  const works: Array<[number, number]> = []
  for (const b of base)
    for (const c of cache) {
      const there = resolve(other!, b, c)
      const back = resolve(ns, b, c)
      if (there === plain && back === temp) works.push([b, c])
    }
  sql('DROP SCHEMA pyglite_probe_ns CASCADE; DROP TABLE pyglite_probe_t')
  if (works.length !== 1)
    throw new Error(
      `probe: search path flags not found (${base.length} and ${cache.length} candidates, ${works.length} work)`,
    )
  return {
    tempNamespace: addr,
    tempToastNamespace: toastAddr,
    namespaceUser: works[0]![0],
    searchPathCacheValid: works[0]![1],
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
