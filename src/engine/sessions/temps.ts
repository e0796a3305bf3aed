// Temporary schemas per session on the shared backend. PostgreSQL gives each backend its own pg_temp_N and
// pg_toast_temp_N (namespace.c: myTempNamespace/myTempToastNamespace, named after MyProcNumber); here every
// session that may create temporary objects gets a pair of its own, swapped in with its turn (the two Oid
// words, and the search path recomputed: pg/statics.ts), and dropped after it disconnects.
//
// PostgreSQL's own way in (InitTempTableNamespace) cannot be used per session: it names the schema after
// MyProcNumber, the same for every session here, empties an existing schema of that name (RemoveTempRelations)
// and registers an exit callback per creation (20 slots). So the engine makes the schemas itself, ahead of
// need (a small pool, refilled between work items when no transaction is open), and hands one to a session
// whose input may create a temporary object. Sessions that never do share a pair (first pg_temp_0, the
// backend's own). A session on the shared pair whose turn changed the catalogs anyway (a PL/pgSQL EXECUTE or
// static CREATE TEMP, a trigger: text its input did not show) may have made temporary objects there: the pair
// becomes its own, and the other sessions share a fresh one from the pool (adopt).
import type { Backend } from './backend.js'
import type { EngineSession } from './session.js'

/** A session's temp schema pair: pg_temp_<n> and pg_toast_temp_<n>. */
export interface TempSchema {
  n: number
  ns: number
  toast: number
}

/** Schemas made ahead of need. */
const POOL = 2

/**
 * Whether a query text may create a temporary object: "temp" or "temporary" (TEMP TABLE, pg_temp.x, INTO
 * TEMP), any case, not inside a longer word ("template", "attempt" do not count).
 */
export function mayCreateTempText(text: string): boolean {
  return /(?<![a-z])temp(?:orary)?(?![a-z])/i.test(text)
}

/** mayCreateTempText for a client's input bytes (the word is ASCII: latin1 keeps every byte one char). */
export function mayCreateTemp(data: Uint8Array): boolean {
  return mayCreateTempText(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('latin1'))
}

export class TempSchemas {
  /** the pair of every session without its own: first pg_temp_0, PostgreSQL's own for this backend (made
   * by the start-up probe), then a pool pair each time a session adopts the shared one */
  shared: TempSchema
  /** the pair the backend's words hold now */
  private installed: TempSchema
  private readonly pool: TempSchema[] = []
  private readonly released: TempSchema[] = []
  /** sessions that changed the catalogs on the shared pair while the pool was empty, and that pair */
  private readonly adopting: Array<{ s: EngineSession; pair: TempSchema }> = []
  /** numbers taken (pool, sessions, released and not yet dropped) */
  private readonly taken = new Set<number>([0])

  constructor(private readonly b: Backend) {
    const st = b.statics
    b.inst.heap.refresh()
    const h = b.inst.heap.i32
    this.shared = { n: 0, ns: h[st.tempNamespace >> 2]!, toast: h[st.tempToastNamespace >> 2]! }
    this.installed = this.shared
  }

  /**
   * At start-up (as the internal session): what an earlier run left is dropped, and the pool made, by the
   * first maintain — between work items, right after the open is answered and before any session's work
   * runs — so that neither is on the path of a database's open (two commits, ~30 ms).
   */
  init(): void {
    const left = this.b.exec(
      `SELECT t.oid, o.oid, pg_catalog.substr(t.nspname, 9)::int FROM pg_catalog.pg_namespace t LEFT JOIN pg_catalog.pg_namespace o ON o.nspname = 'pg_toast_temp_' || pg_catalog.substr(t.nspname, 9) WHERE t.nspname ~ '^pg_temp_[1-9][0-9]*$'`,
    )
    for (const [ns, toast, n] of left.rows) {
      this.taken.add(Number(n))
      this.released.push({ n: Number(n), ns: Number(ns), toast: Number(toast ?? 0) })
    }
  }

  /** Put a pair into the backend (cheap when it is there already). */
  install(t: TempSchema): void {
    if (this.installed === t) return
    const st = this.b.statics
    const heap = this.b.inst.heap
    heap.refresh()
    heap.i32[st.tempNamespace >> 2] = t.ns
    heap.i32[st.tempToastNamespace >> 2] = t.toast
    // as namespace.c SetTempNamespaceState: the search path (which leads with the temp schema) is
    // recomputed at its next use (a role of 0 never matches: recomputeNamespacePath)
    heap.i32[st.namespaceUser >> 2] = 0
    heap.u8[st.searchPathCacheValid] = 0
    this.installed = t
  }

  /** Session s's input may create a temporary object: give it a pair of its own if it has none yet. */
  claim(s: EngineSession): void {
    if (s.temp) return
    // none made ahead: make one now if no transaction is open (else it goes on with the shared pair)
    if (this.pool.length === 0 && (this.b.holder === null || this.b.holder === s) && s.status === 'I') {
      this.b.switchTo(this.b.internalSession)
      this.pool.push(this.create())
    }
    this.claimReady(s)
  }

  /**
   * A query run by a function of session s (plpy.execute & co., inside its running statement) may create
   * a temporary object: give s a ready pair of the pool, if any (no schema is made here, inside a statement).
   */
  claimReady(s: EngineSession): void {
    if (s.temp) return
    const t = this.pool.pop()
    if (!t) return
    s.temp = t
    this.install(t) // s may hold the backend already (its transaction goes on): switchTo would not install
  }

  /**
   * Session s, on the shared pair, changed the catalogs in its turn: whatever temporary object it made is in
   * the shared pair, so that pair becomes its own (to see, and to go with it) and a pool pair is the shared
   * one from now on (installed at the other sessions' next turn). A change that made none (CREATE TABLE,
   * ANALYZE) only costs the session a pair of its own, as if its input had said temp. No pair ready: the next
   * maintenance makes one first.
   */
  adopt(s: EngineSession): void {
    if (s.temp) return
    const next = this.pool.pop()
    if (!next) {
      if (!this.adopting.some((a) => a.s === s)) this.adopting.push({ s, pair: this.shared })
      return
    }
    s.temp = this.shared
    this.shared = next
  }

  /** Session s closed: its pair is dropped between work items (maintain). */
  release(s: EngineSession): void {
    if (!s.temp) return
    this.released.push(s.temp)
    s.temp = null
  }

  /** Whether maintain has anything to do. */
  get pending(): boolean {
    return this.released.length > 0 || this.pool.length < POOL || this.adopting.length > 0
  }

  /** Between work items, nobody holding the backend: drop released pairs, refill the pool. */
  maintain(): void {
    this.b.switchTo(this.b.internalSession)
    for (const { s, pair } of this.adopting.splice(0)) {
      // the first session to have changed the catalogs on a pair gets it (a second one, before this
      // maintenance, stays on the shared pair: its objects are in the first one's, docs/sessions.md)
      if (s.temp || pair !== this.shared) continue
      this.shared = this.create()
      if (s.closed)
        this.released.push(pair) // it is gone: what it made goes now
      else s.temp = pair
    }
    for (const t of this.released.splice(0)) this.drop(t)
    this.refill()
  }

  private refill(): void {
    while (this.pool.length < POOL) this.pool.push(this.create())
  }

  /** CREATE SCHEMA pg_temp_<n>, pg_toast_temp_<n> (the names need allow_system_table_mods), owned by postgres. */
  private create(): TempSchema {
    let n = 1
    while (this.taken.has(n)) n++
    const err = this.b.execAll([
      `BEGIN; SET LOCAL allow_system_table_mods = on; CREATE SCHEMA pg_temp_${n}; CREATE SCHEMA pg_toast_temp_${n}; COMMIT`,
    ])
    if (err) throw new Error(`temp schema pg_temp_${n}: ${err.M}`)
    const [ns, toast] = this.b.exec(
      `SELECT 'pg_temp_${n}'::regnamespace::oid, 'pg_toast_temp_${n}'::regnamespace::oid`,
    ).rows[0]!
    this.taken.add(n)
    return { n, ns: Number(ns), toast: Number(toast) }
  }

  /**
   * DROP SCHEMA … CASCADE with the pair installed, so its relations are this backend's own temp relations
   * (relcache: rd_backend, local buffers dropped with them), as RemoveTempRelations does at backend exit.
   */
  private drop(t: TempSchema): void {
    this.install(t)
    try {
      const err = this.b.execAll([`DROP SCHEMA IF EXISTS pg_temp_${t.n}, pg_toast_temp_${t.n} CASCADE`])
      if (err) throw new Error(`dropping pg_temp_${t.n}: ${err.M}`)
    } finally {
      this.install(this.shared)
    }
    this.taken.delete(t.n)
  }
}
