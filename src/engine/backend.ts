// One database's backend as its client sessions see it. All of them share one PostgreSQL backend, so
// each session's private state is swapped in when its turn starts: login role (AuthenticatedUserId, session
// and current user), GUC_REPORT settings, named prepared statements and the unnamed statement.
import { B, BackendStream, collected } from './backend-stream.js'
import { concat, copyFail, literal, parseUnnamed, query, startup, sync } from './frontend.js'
import type { Instance } from './instance.js'
import { type ExecIo, PgIo, type SocketCallbacks } from './pgio.js'
import type { Login, QueryResult } from './protocol.js'
import { EngineSession, NOT_RESTORED, SqlError } from './session.js'
import { type BackendStatics, probeStatics } from './statics.js'

const noInput: ExecIo['more'] = () => copyFail('COPY FROM STDIN is not available here')

export class Backend {
  readonly io: PgIo
  readonly stream: BackendStream
  statics!: BackendStatics
  /** GUC_REPORT values a new session starts from */
  defaults = new Map<string, string>()
  /** GUC_REPORT values as the backend last reported them */
  private readonly reported = new Map<string, string>()
  private reportedChanged = false
  /** the non-reported settings the backend has now, as set for the session owning it (lower-case name) */
  private applied = new Map<string, string>()
  /** whose state the backend currently holds */
  private owner: EngineSession | null = null
  /** the session whose turn it is (it stays until it is idle: see EngineSession.busy) */
  holder: EngineSession | null = null
  readonly internalSession: EngineSession
  readonly sessions = new Map<number, EngineSession>()
  /** emptied prepared-statement tables of closed sessions, reused by new ones */
  private readonly tablePool: number[] = []
  private dboid = 0

  private constructor(
    readonly inst: Instance,
    callbacks: SocketCallbacks,
  ) {
    this.io = new PgIo(inst.db, callbacks)
    this.stream = new BackendStream((name, value) => {
      this.reported.set(name, value)
      this.reportedChanged = true
    })
    this.internalSession = new EngineSession(0, { oid: 10, name: 'postgres', superuser: true }, new Map())
  }

  static open(inst: Instance, callbacks: SocketCallbacks): Backend {
    const b = new Backend(inst, callbacks)
    // one startup packet turns on GUC reporting (ParameterStatus after SET) and tells us the defaults
    b.runCollect((io) => b.io.startup(startup({ user: 'postgres', database: 'postgres' }), io))
    b.defaults = new Map(b.reported)
    b.defaults.set('session_authorization', 'postgres')
    b.internalSession.gucs = new Map(b.defaults)
    b.owner = b.internalSession
    b.statics = probeStatics(
      inst.heap,
      (sql) => b.internal(sql).rows,
      (sql) => b.runCollect((io) => b.io.exec(concat([parseUnnamed(sql), sync()]), io)),
    )
    b.dboid = Number(
      b.internal('SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database()').rows[0]?.[0],
    )
    return b
  }

  /** Run client messages for the session whose turn it is (the caller has switched to it). */
  run(s: EngineSession, data: Uint8Array, io: ExecIo): void {
    this.trackInput(s, data)
    this.stream.reset(false)
    this.stream.status = s.status
    this.stream.copyIn = s.copyIn
    try {
      this.io.exec(data, {
        more: () => {
          const d = io.more()
          this.trackInput(s, d)
          return d
        },
        out: (chunk) => {
          io.out(chunk) // first: it may need the stream's position before this chunk (plpy.fatal)
          this.stream.feed(chunk)
        },
      })
    } finally {
      s.status = this.stream.status
      s.copyIn = this.stream.copyIn
    }
  }

  /** Whether a batch leaves the session mid extended-protocol batch (its turn lasts until Sync). */
  trackInput(s: EngineSession, data: Uint8Array): void {
    let o = 0
    while (o + 5 <= data.length) {
      const t = data[o]!
      // Parse Bind Execute Describe Close Flush open (or continue) a batch; Sync and Query end it
      if (t === 0x53 || t === 0x51) s.midBatch = false
      else if (t === 0x50 || t === 0x42 || t === 0x45 || t === 0x44 || t === 0x43 || t === 0x48)
        s.midBatch = true
      o += 1 + ((data[o + 1]! << 24) | (data[o + 2]! << 16) | (data[o + 3]! << 8) | data[o + 4]!)
    }
  }

  /** Run engine-made messages, collecting the whole output. */
  private runCollect(exec: (io: ExecIo) => void): ReturnType<typeof collected> {
    this.stream.reset(true)
    try {
      exec({ more: noInput, out: (chunk) => this.stream.feed(chunk) })
      return collected(this.stream)
    } finally {
      this.stream.reset(false)
    }
  }

  /** A simple query run by the engine itself on the current session state; throws SqlError. */
  private exec(sql: string): QueryResult {
    const r = this.runCollect((io) => this.io.exec(query(sql), io))
    if (r.error) throw new SqlError(r.error)
    return r.result
  }

  /** A query as the internal session (superuser postgres, default settings). Throws SqlError. */
  internal(sql: string): QueryResult {
    this.switchTo(this.internalSession)
    return this.exec(sql)
  }

  // ---------------------------------------------------------------- sessions

  /** Create a session and apply its start-up settings; returns the ParameterStatus set to report. */
  openSession(sid: number, login: Login, settings: Array<[string, string]>): Array<[string, string]> {
    const s = new EngineSession(sid, login, this.defaults)
    s.gucs.set('session_authorization', login.name)
    s.gucs.set('is_superuser', login.superuser ? 'on' : 'off')
    s.preparedQueries = this.tablePool.pop() ?? 0
    this.sessions.set(sid, s)
    try {
      this.switchTo(s)
      // like process_settings() (postinit.c): ALTER ROLE/DATABASE ... SET, most general first
      const stored = this.exec(
        `SELECT pg_catalog.unnest(setconfig) FROM pg_catalog.pg_db_role_setting WHERE (setdatabase = 0 OR setdatabase = ${this.dboid}) AND (setrole = 0 OR setrole = ${login.oid}) ORDER BY setrole <> 0, setdatabase <> 0`,
      )
      const reported = new Set([...this.defaults.keys()].map((k) => k.toLowerCase()))
      const extra = (name: string, value: string) => {
        const n = name.toLowerCase()
        if (!reported.has(n)) {
          s.extras.set(n, value)
          this.applied.set(n, value)
        }
      }
      for (const [kv] of stored.rows) {
        const eq = kv?.indexOf('=') ?? -1
        if (kv && eq > 0 && this.trySet(kv.slice(0, eq), kv.slice(eq + 1)))
          extra(kv.slice(0, eq), kv.slice(eq + 1))
      }
      for (const [name, value] of settings) {
        this.exec(`SELECT pg_catalog.set_config(${literal(name)}, ${literal(value)}, false)`)
        extra(name, value)
      }
      this.saveOwner()
      return [...s.gucs]
    } catch (e) {
      this.closeSession(s)
      throw e
    }
  }

  private trySet(name: string, value: string): boolean {
    try {
      this.exec(`SELECT pg_catalog.set_config(${literal(name)}, ${literal(value)}, false)`)
      return true
    } catch {
      // PostgreSQL only warns about a bad stored setting (process_settings → ProcessGUCArray)
      return false
    }
  }

  /**
   * End a session: finish what it left open (a COPY, an extended batch, a transaction) and free its
   * private state. Runs on its own state; afterwards the backend holds nobody's.
   */
  closeSession(s: EngineSession): void {
    s.closed = true
    this.sessions.delete(s.sid)
    if (this.holder === s) this.holder = null
    try {
      try {
        this.switchTo(s)
      } catch {
        // its role is gone; its statements and transaction still are its own (switchTo swapped them in)
      }
      const cleanup: Uint8Array[] = []
      if (s.copyIn) cleanup.push(copyFail('client disconnected'))
      if (s.midBatch) cleanup.push(sync())
      if (s.status !== 'I' || s.copyIn) cleanup.push(query('ROLLBACK'))
      // DEALLOCATE ALL empties its statement table (kept for reuse); an empty Query drops the unnamed one
      cleanup.push(query('DEALLOCATE ALL'), query(''))
      this.runCollect((io) => this.io.exec(concat(cleanup), io))
    } finally {
      this.inst.heap.refresh()
      const h = this.inst.heap.i32
      const table = h[this.statics.preparedQueries >> 2]!
      if (table) this.tablePool.push(table)
      h[this.statics.preparedQueries >> 2] = 0
      h[this.statics.unnamedStatement >> 2] = 0
      this.owner = null
    }
  }

  /**
   * Whether other sessions' work may run now, although the holder's turn goes on: the holder waits idle
   * inside a transaction block (not mid-batch, not in COPY, not failed).
   */
  get asideOpen(): boolean {
    const h = this.holder
    return !!h && h.status === 'T' && !h.midBatch && !h.copyIn && !h.closed
  }

  /**
   * Run work for other sessions inside the holder's idle transaction, in a savepoint rolled back afterwards:
   * what the work changed transactionally (settings, role) is undone, what PostgreSQL keeps outside
   * transactions (prepared statements) stays with the session that made it. So connecting, preparing
   * statements and disconnecting do not wait for another client's transaction to end.
   */
  aside<T>(work: () => T): T {
    const h = this.holder
    if (!h || !this.asideOpen) throw new Error('no idle transaction to work beside')
    this.switchTo(h)
    const applied = new Map(this.applied) // the rollback below undoes the work's settings
    this.exec('SAVEPOINT pyglite_aside')
    try {
      return work()
    } finally {
      if (this.owner && this.owner !== h) this.saveOwner()
      this.inst.heap.refresh()
      const mem = this.inst.heap.i32
      mem[this.statics.preparedQueries >> 2] = h.preparedQueries
      mem[this.statics.unnamedStatement >> 2] = h.unnamedStatement
      mem[this.statics.authenticatedUserId >> 2] = h.login.oid
      this.owner = h
      // undoes the work's settings and role: the backend is the holder's again (ParameterStatus included)
      this.runCollect((io) =>
        this.io.exec(
          concat([query('ROLLBACK TO SAVEPOINT pyglite_aside'), query('RELEASE SAVEPOINT pyglite_aside')]),
          io,
        ),
      )
      this.reportedChanged = false
      this.applied = applied
    }
  }

  /**
   * Run a session's complete batch beside the holder's transaction (see aside): its output is returned
   * whole, with ReadyForQuery saying Idle, which is what the session is.
   */
  runBeside(s: EngineSession, data: Uint8Array): Uint8Array {
    const chunks: Uint8Array[] = []
    this.trackInput(s, data)
    this.io.exec(data, { more: noInput, out: (c) => chunks.push(c.slice()) })
    const out = concat(chunks)
    for (let o = 0; o + 5 <= out.length; ) {
      const len = (out[o + 1]! << 24) | (out[o + 2]! << 16) | (out[o + 3]! << 8) | out[o + 4]!
      if (out[o] === B.ReadyForQuery && len === 5) out[o + 5] = 0x49 // 'I'
      o += 1 + len
    }
    return out
  }

  /** Save the backend's state into its owner. */
  private saveOwner(): void {
    const o = this.owner
    if (!o) return
    const M = this.inst.heap.M
    this.inst.heap.refresh()
    const h = this.inst.heap.i32
    o.preparedQueries = h[this.statics.preparedQueries >> 2]!
    o.unnamedStatement = h[this.statics.unnamedStatement >> 2]!
    o.sessionUser = M._GetSessionUserId() as number
    o.currentUser = M._GetUserId() as number
    if (this.reportedChanged) {
      for (const [k, v] of this.reported) o.gucs.set(k, v)
      this.reportedChanged = false
    }
  }

  /** Make the backend hold session s's state (cheap when nothing differs). */
  switchTo(s: EngineSession): void {
    if (this.owner === s) return
    this.saveOwner()
    const heap = this.inst.heap
    const M = heap.M
    heap.refresh()
    const h = heap.i32
    h[this.statics.preparedQueries >> 2] = s.preparedQueries
    h[this.statics.unnamedStatement >> 2] = s.unnamedStatement
    this.owner = s
    // the role: AuthenticatedUserId decides what SET SESSION AUTHORIZATION / set_config may do, so a
    // non-superuser cannot become anyone else (variable.c check_session_authorization)
    h[this.statics.authenticatedUserId >> 2] = s.login.oid
    const msgs: string[] = []
    if ((M._GetSessionUserId() as number) !== s.sessionUser || (M._GetUserId() as number) !== s.currentUser) {
      // pg_get_userbyid: no catalog privilege needed (the outgoing role may not read pg_authid)
      msgs.push(
        `SELECT pg_catalog.set_config('session_authorization', pg_catalog.pg_get_userbyid(${s.sessionUser}), false)`,
        s.currentUser === s.sessionUser
          ? `SELECT pg_catalog.set_config('role', 'none', false)`
          : `SELECT pg_catalog.set_config('role', pg_catalog.pg_get_userbyid(${s.currentUser}), false)`,
      )
    }
    for (const [name, value] of s.gucs) {
      if (NOT_RESTORED.has(name) || this.reported.get(name) === value) continue
      msgs.push(`SELECT pg_catalog.set_config(${literal(name)}, ${literal(value)}, false)`)
    }
    // settings a session started with that PostgreSQL does not report: the incoming session's, or the
    // default where only the outgoing one had one (a SET of them inside a session is not tracked)
    if (this.applied.size > 0 || s.extras.size > 0) {
      for (const name of new Set([...this.applied.keys(), ...s.extras.keys()])) {
        const want = s.extras.get(name)
        if (want === this.applied.get(name)) continue
        if (want === undefined) {
          msgs.push(`RESET "${name.replace(/"/g, '""')}"`)
          this.applied.delete(name)
        } else {
          msgs.push(`SELECT pg_catalog.set_config(${literal(name)}, ${literal(want)}, false)`)
          this.applied.set(name, want)
        }
      }
    }
    if (msgs.length === 0) return
    const r = this.runCollect((io) => this.io.exec(concat(msgs.map(query)), io))
    const ok =
      (M._GetSessionUserId() as number) === s.sessionUser && (M._GetUserId() as number) === s.currentUser
    if (!ok) {
      // e.g. its role was dropped meanwhile: it must not go on with someone else's identity
      this.owner = null
      throw new SqlError(
        r.error ?? { S: 'FATAL', V: 'FATAL', C: '28000', M: `role with OID ${s.sessionUser} does not exist` },
      )
    }
    this.reportedChanged = false
  }
}
