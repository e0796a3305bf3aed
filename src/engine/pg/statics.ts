// Finds the few backend-private static variables the session switch needs, by probing the running backend
// (they are C statics: not exported, and their addresses depend on the PGlite build). Every probe checks
// its find with a known value or a functional test, and start-up fails if one does not hold. What was found
// is remembered per build (probecache.ts): the next open runs the same checks on those addresses alone
// instead of scanning the static data for candidates, and scans only when one fails.
import { logger } from '../../util/log.js'
import type { Heap } from './heap.js'
import { Finder, recall, remember } from './probecache.js'

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

/** Whether the NUL-terminated string at p is exactly `text` (bounded: p may be any word). */
function isString(heap: Heap, p: number, text: Uint8Array): boolean {
  const u8 = heap.u8
  if (p <= 0 || p + text.length >= u8.length) return false
  for (let i = 0; i < text.length; i++) if (u8[p + i] !== text[i]) return false
  return u8[p + text.length] === 0
}

/** Whether word w points at a dynahash HTAB whose tabname is `name`. */
function isHtab(heap: Heap, w: number, name: Uint8Array): boolean {
  if (w < 1024 || w + HTAB_TABNAME + 4 > heap.u8.length || (w & 3) !== 0) return false
  return isString(heap, heap.i32[(w + HTAB_TABNAME) >> 2]!, name)
}

const enc = new TextEncoder()
const log = () => logger('probes')
/** An ErrorResponse's SQLSTATE, from what RunSql throws. */
const sqlstate = (e: unknown) => (e as { fields?: Record<string, string> }).fields?.C

export function probeStatics(heap: Heap, sql: RunSql, parseUnnamed: ParseUnnamed): BackendStatics {
  const recalled = recall('statics')
  if (recalled) {
    const t0 = performance.now()
    try {
      const statics = runProbes(new Finder(heap, recalled), heap, sql, parseUnnamed)
      log().debug({ ms: Math.round(performance.now() - t0) }, 'backend statics at their remembered addresses')
      return statics
    } catch (e) {
      // another build under the same key, or a damaged file: the scan below finds them again
      log().warn({ err: e }, 'the remembered backend statics failed their checks: probing')
    }
  }
  const t0 = performance.now()
  const f = new Finder(heap)
  const statics = runProbes(f, heap, sql, parseUnnamed)
  remember('statics', f.found)
  log().debug({ ms: Math.round(performance.now() - t0) }, 'probed the backend statics')
  return statics
}

/**
 * The probes, in an order that shares their objects: the temp sequence made for the sequence statics is
 * also the first temp object (it makes the backend's temp schemas for the temp namespace probe) and the
 * temp object the search path check resolves to.
 */
function runProbes(f: Finder, heap: Heap, sql: RunSql, parseUnnamed: ParseUnnamed): BackendStatics {
  // the probes' objects need not survive a crash: their commits do not wait for the WAL flush (up to a
  // tenth of a second of fsyncs per open on a busy machine)
  sql('SET synchronous_commit = off')
  try {
    return probeAll(f, heap, sql, parseUnnamed)
  } finally {
    sql('RESET synchronous_commit')
  }
}

function probeAll(f: Finder, heap: Heap, sql: RunSql, parseUnnamed: ParseUnnamed): BackendStatics {
  const authenticatedUserId = probeAuthenticatedUserId(f, heap, sql)
  const preparedQueries = probePreparedQueries(f, heap, sql)
  const unnamedStatement = probeUnnamedStatement(f, heap, parseUnnamed)
  // a temp sequence: a server killed mid-probe leaves nothing behind (the next backend's first temp object
  // clears its temp schema)
  sql("CREATE TEMP SEQUENCE pyglite_probe_seq; SELECT pg_catalog.nextval('pyglite_probe_seq')")
  try {
    const seq = Number(sql("SELECT 'pg_temp.pyglite_probe_seq'::regclass::oid")[0]?.[0])
    return {
      authenticatedUserId,
      preparedQueries,
      unnamedStatement,
      ...probeSequences(f, heap, sql, seq),
      ...probeTempNamespace(f, heap, sql, seq),
      portalTable: probePortalTable(f, heap, sql),
    }
  } finally {
    sql('DROP SEQUENCE pg_temp.pyglite_probe_seq')
  }
}

function probeAuthenticatedUserId(f: Finder, heap: Heap, sql: RunSql): number {
  const roleOid = Number(
    sql("SELECT oid FROM pg_catalog.pg_authid WHERE rolname = 'pg_read_all_settings'")[0]?.[0],
  )
  if (!roleOid) throw new Error('probe: role pg_read_all_settings not found')
  const before = f.words('authenticatedUserId', (_a, w) => w === BOOTSTRAP_SUPERUSERID)
  sql("SELECT pg_catalog.set_config('session_authorization', 'pg_read_all_settings', false)")
  let moved: number[]
  let candidates: number[]
  try {
    // SessionUserId, OuterUserId and CurrentUserId now hold the role; AuthenticatedUserId, declared next
    // to them in miscinit.c, still holds the bootstrap superuser
    heap.refresh()
    moved = before.filter((a) => heap.i32[a >> 2] === roleOid)
    const lo = Math.min(...moved) - 16
    const hi = Math.max(...moved) + 16
    candidates = before.filter((a) => a >= lo && a <= hi && heap.i32[a >> 2] === BOOTSTRAP_SUPERUSERID)
  } finally {
    sql("SELECT pg_catalog.set_config('session_authorization', 'postgres', false)")
  }
  if (moved.length !== 3 || candidates.length !== 1)
    throw new Error(
      `probe: AuthenticatedUserId not found (moved ${moved.length}, candidates ${candidates.length})`,
    )
  const addr = candidates[0]!
  // functional check: as a non-superuser "authenticated" role, becoming postgres must be refused
  heap.refresh()
  heap.i32[addr >> 2] = roleOid
  let refused = false
  try {
    sql("SELECT pg_catalog.set_config('session_authorization', 'postgres', false)")
  } catch (e) {
    refused = sqlstate(e) === '42501'
  } finally {
    heap.refresh()
    heap.i32[addr >> 2] = BOOTSTRAP_SUPERUSERID
  }
  if (!refused) throw new Error('probe: AuthenticatedUserId candidate failed its check')
  // the three words that moved are remembered with it: a recollection is checked the same way
  f.keep('authenticatedUserId', [addr, ...moved])
  return addr
}

function probePreparedQueries(f: Finder, heap: Heap, sql: RunSql): number {
  sql('PREPARE pyglite_probe AS SELECT 1')
  try {
    const name = enc.encode('Prepared Queries')
    const found = f.words('preparedQueries', (_a, w) => isHtab(heap, w, name))
    if (found.length !== 1) throw new Error(`probe: prepared_queries not found (${found.length} candidates)`)
    const addr = found[0]!
    const table = heap.i32[addr >> 2]!
    const runs = () => {
      try {
        return sql('EXECUTE pyglite_probe')[0]?.[0] === '1'
      } catch (e) {
        if (sqlstate(e) === '26000') return false // prepared statement does not exist
        throw e
      }
    }
    // functional check: with the pointer cleared the session has no prepared statement; restored, it has
    const before = runs()
    heap.refresh()
    heap.i32[addr >> 2] = 0
    let cleared: boolean
    try {
      cleared = runs()
    } finally {
      heap.refresh()
      const fresh = heap.i32[addr >> 2]! // (a table made meanwhile: freed)
      heap.i32[addr >> 2] = table
      if (fresh) heap.M._hash_destroy(fresh)
    }
    const restored = runs()
    if (!before || cleared || !restored)
      throw new Error(`probe: prepared_queries check failed (${before}, ${cleared}, ${restored})`)
    f.keep('preparedQueries', [addr])
    return addr
  } finally {
    sql('DEALLOCATE pyglite_probe')
  }
}

function probeUnnamedStatement(f: Finder, heap: Heap, parseUnnamed: ParseUnnamed): number {
  const sql = `SELECT 'pyglite unnamed statement probe ${Math.random()}'`
  const text = enc.encode(sql)
  parseUnnamed(sql)
  const found = f.words('unnamedStatement', (_a, w) => {
    if (w < 1024 || w + 16 > heap.u8.length || (w & 3) !== 0) return false
    if (heap.i32[w >> 2] !== CACHEDPLANSOURCE_MAGIC) return false
    return isString(heap, heap.i32[(w + PSRC_QUERY_STRING) >> 2]!, text)
  })
  if (found.length !== 1) throw new Error(`probe: unnamed_stmt_psrc not found (${found.length} candidates)`)
  f.keep('unnamedStatement', found)
  return found[0]!
}

/**
 * sequence.c's two statics: the HTAB named "Sequence values" (made at the first nextval) and the pointer to
 * the entry of the last sequence used, whose first field is that sequence's OID (SeqTableData.relid), after
 * nextval of the temp sequence `seq`. Checked functionally: cleared, currval and lastval say they are not
 * yet defined in this session (55000).
 */
function probeSequences(
  f: Finder,
  heap: Heap,
  sql: RunSql,
  seq: number,
): Pick<BackendStatics, 'seqTable' | 'lastUsedSeq'> {
  const name = enc.encode('Sequence values')
  const tables = f.words('seqTable', (_a, w) => isHtab(heap, w, name))
  const lasts = f.words(
    'lastUsedSeq',
    (_a, w) => w >= 1024 && (w & 3) === 0 && w + 4 <= heap.u8.length && heap.i32[w >> 2] === seq,
  )
  const fails = (q: string) => {
    try {
      sql(q)
      return false
    } catch (e) {
      return sqlstate(e) === '55000'
    }
  }
  const check = (addr: number, q: string, fresh: boolean): boolean => {
    heap.refresh()
    const keep = heap.i32[addr >> 2]!
    heap.i32[addr >> 2] = 0
    let cleared: boolean
    try {
      cleared = fails(q)
    } finally {
      heap.refresh()
      const made = heap.i32[addr >> 2]! // currval makes an empty table when there is none: free it
      heap.i32[addr >> 2] = keep
      if (fresh && made) heap.M._hash_destroy(made)
    }
    return cleared && !fails(q)
  }
  const seqTable = tables.filter((a) =>
    check(a, "SELECT pg_catalog.currval('pg_temp.pyglite_probe_seq')", true),
  )
  // declared next to seqhashtab in sequence.c: only words near it are tried (clearing others could crash)
  const near = (a: number) => seqTable.length === 1 && Math.abs(a - seqTable[0]!) <= 64
  const lastUsed = lasts.filter((a) => near(a) && check(a, 'SELECT pg_catalog.lastval()', false))
  if (seqTable.length !== 1 || lastUsed.length !== 1)
    throw new Error(`probe: sequence statics not found (${seqTable.length}, ${lastUsed.length} pass)`)
  f.keep('seqTable', seqTable)
  f.keep('lastUsedSeq', lastUsed)
  return { seqTable: seqTable[0]!, lastUsedSeq: lastUsed[0]! }
}

/**
 * The temp namespace words: with a temp object made (the temp sequence `seq`), exactly one word holds
 * pg_my_temp_schema() with the toast temp schema's OID next to it (checked by clearing it:
 * pg_my_temp_schema() reads it directly).
 */
function probeTempNamespace(
  f: Finder,
  heap: Heap,
  sql: RunSql,
  seq: number,
): Pick<BackendStatics, 'tempNamespace' | 'tempToastNamespace' | 'namespaceUser' | 'searchPathCacheValid'> {
  const [ns, toast] = (
    sql(
      "SELECT pg_catalog.pg_my_temp_schema()::int, (SELECT n.oid::int FROM pg_catalog.pg_namespace n WHERE n.nspname = 'pg_toast_temp_' || pg_catalog.substr(pg_catalog.pg_my_temp_schema()::regnamespace::text, 9))",
    )[0] ?? []
  ).map(Number)
  if (!ns || !toast) throw new Error('probe: no temp namespace after a temp object')
  // the two Oids are declared together in namespace.c; the linker keeps them within a few words
  const toasts = f.words('tempToastNamespace', (_a, w) => w === toast)
  const pairs: Array<[number, number]> = []
  for (const a of f.words('tempNamespace', (_a, w) => w === ns))
    for (const t of toasts) if (Math.abs(t - a) <= 64) pairs.push([a, t])
  // functional check (copies of the pair can sit in the stack): cleared, pg_my_temp_schema() says 0
  const real = pairs.filter(([a]) => {
    heap.refresh()
    heap.i32[a >> 2] = 0
    let cleared: number
    try {
      cleared = Number(sql('SELECT pg_catalog.pg_my_temp_schema()::int')[0]?.[0])
    } finally {
      heap.refresh()
      heap.i32[a >> 2] = ns
    }
    const restored = Number(sql('SELECT pg_catalog.pg_my_temp_schema()::int')[0]?.[0])
    return cleared === 0 && restored === ns
  })
  if (real.length !== 1)
    throw new Error(`probe: myTempNamespace not found (${pairs.length} pairs, ${real.length} pass)`)
  const [addr, toastAddr] = real[0]!
  f.keep('tempNamespace', [addr])
  f.keep('tempToastNamespace', [toastAddr])
  return {
    tempNamespace: addr,
    tempToastNamespace: toastAddr,
    ...probeSearchPath(f, heap, sql, { addr, toastAddr, ns, seq }),
  }
}

/** namespace.c's bss around myTempNamespace: the search path's flags lie within this many bytes of it. */
const WINDOW = 256

/**
 * The two search-path flags are found by what flips them: a pg_namespace change clears both (namespace.c
 * InvalidationCallback), a name lookup sets both (recomputeNamespacePath, spcache_init), and assigning
 * search_path clears only baseSearchPathValid (assign_search_path).
 */
function probeSearchPath(
  f: Finder,
  heap: Heap,
  sql: RunSql,
  temp: { addr: number; toastAddr: number; ns: number; seq: number },
): Pick<BackendStatics, 'namespaceUser' | 'searchPathCacheValid'> {
  const { addr, toastAddr, ns, seq } = temp
  const lo = addr - WINDOW
  const snapshot = () => {
    heap.refresh()
    return heap.u8.slice(lo, addr + WINDOW)
  }
  const lookup = () => sql("SELECT 'pg_catalog.pg_class'::regclass, 'pg_class'::regclass")
  const works: Array<[number, number]> = []
  let base: number[] = []
  let cache: number[] = []
  // one left by a server killed mid-probe (before the check below was rolled back) goes first
  sql('DROP SCHEMA IF EXISTS pyglite_probe_ns CASCADE')
  // in a transaction rolled back: nothing is committed, and a crash leaves nothing (the flags flip at each
  // statement's end, when its catalog changes are processed: inval.c CommandEndInvalidationMessages)
  sql('BEGIN')
  try {
    lookup()
    const valid = snapshot()
    // a DROP last: CREATE SCHEMA itself sets a search path for its elements
    sql('CREATE SCHEMA pyglite_probe_ns; DROP SCHEMA pyglite_probe_ns')
    const invalidated = snapshot()
    lookup()
    const again = snapshot()
    // another module's flag may flip the same way: namespace.c's bss lies around myTempNamespace
    const flips: number[] = []
    for (let i = 0; i < valid.length; i++)
      if (valid[i] === 1 && invalidated[i] === 0 && again[i] === 1) flips.push(lo + i)
    cache = f.among('searchPathCacheValid', flips)
    // namespaceUser: the role the search path was computed for (the internal session's, the bootstrap
    // superuser), in namespace.c's bss too; cleared, recomputeNamespacePath recomputes (it is no role)
    heap.refresh()
    const users: number[] = []
    for (let i = lo & ~3; i < addr + WINDOW; i += 4)
      if (heap.i32[i >> 2] === BOOTSTRAP_SUPERUSERID && i !== addr && i !== toastAddr) users.push(i)
    base = f.among('namespaceUser', users)
    // functional check: with the temp namespace word pointing at another schema and the flags cleared, an
    // unqualified name resolves there (the temp schema leads the search path); put back, to the temp object
    sql('CREATE SCHEMA pyglite_probe_ns; CREATE TABLE pyglite_probe_ns.pyglite_probe_seq()')
    const [other, plain] = sql(
      "SELECT 'pyglite_probe_ns'::regnamespace::oid, 'pyglite_probe_ns.pyglite_probe_seq'::regclass::oid",
    )[0]!.map(Number)
    const resolve = (nsWord: number, b: number, c: number) => {
      heap.refresh()
      heap.i32[addr >> 2] = nsWord
      heap.i32[b >> 2] = 0
      heap.u8[c] = 0
      return Number(sql("SELECT 'pyglite_probe_seq'::regclass::oid")[0]?.[0])
    }
    for (const b of base)
      for (const c of cache) {
        heap.refresh()
        const keepB = heap.i32[b >> 2]!
        const keepC = heap.u8[c]!
        try {
          if (resolve(other!, b, c) === plain && resolve(ns, b, c) === seq) works.push([b, c])
        } finally {
          // a word that was not the flag gets its value back (the real ones hold these values again)
          heap.refresh()
          heap.i32[addr >> 2] = ns
          heap.i32[b >> 2] = keepB
          heap.u8[c] = keepC
        }
      }
  } finally {
    // its pg_namespace changes undone: the search path is recomputed at its next use, whatever the check left
    sql('ROLLBACK')
  }
  if (works.length !== 1)
    throw new Error(
      `probe: search path flags not found (${base.length} and ${cache.length} candidates, ${works.length} work)`,
    )
  const [user, cacheValid] = works[0]!
  f.keep('namespaceUser', [user])
  f.keep('searchPathCacheValid', [cacheValid])
  return { namespaceUser: user, searchPathCacheValid: cacheValid }
}

/**
 * The HTAB named "Portal hash" (EnablePortalManager), checked by its entry count: one more while a WITH HOLD
 * cursor is open, one less after CLOSE.
 */
function probePortalTable(f: Finder, heap: Heap, sql: RunSql): number {
  const name = enc.encode('Portal hash')
  const found = f.words('portalTable', (_a, w) => isHtab(heap, w, name))
  const count = (a: number) => {
    heap.refresh()
    return Number(heap.M._hash_get_num_entries(heap.i32[a >> 2]))
  }
  const before = found.map(count)
  sql('BEGIN; DECLARE pyglite_probe_cursor CURSOR WITH HOLD FOR SELECT 1; COMMIT')
  let open: number[]
  try {
    open = found.map(count)
  } finally {
    sql('CLOSE pyglite_probe_cursor')
  }
  const closed = found.map(count)
  const real = found.filter((_a, i) => open[i] === before[i]! + 1 && closed[i] === before[i])
  // a stale copy of the pointer may sit in the stack, above the static data: the lowest is the static
  heap.refresh()
  const tables = new Set(real.map((a) => heap.i32[a >> 2]))
  if (real.length === 0 || tables.size !== 1)
    throw new Error(`probe: PortalHashTable not found (${found.length} candidates, ${real.length} pass)`)
  const addr = Math.min(...real)
  f.keep('portalTable', [addr])
  return addr
}
