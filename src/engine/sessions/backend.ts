// One database's backend as its client sessions see it. All of them share one PostgreSQL backend, so
// each session's private state is swapped in when its turn starts: login role (AuthenticatedUserId, session
// and current user), settings (gucs.ts), named prepared statements and the unnamed statement.

import { concatBytes, u32be } from '../../util/bytes.js'
import type { QueryResult } from '../channel/protocol.js'
import { FaultContainment } from '../pg/faults.js'
import { XACT_EVENT } from '../pg/layout.js'
import { type BackendStatics, probeStatics } from '../pg/statics.js'
import type { Instance } from '../storage/instance.js'
import { type ExecIo, PgIo, type SocketCallbacks } from '../storage/pgio.js'
import { AdvisoryLocks } from './advisory.js'
import { B, BackendStream, collected } from './backend-stream.js'
import { copyFail, literal, parseUnnamed, query, startup, sync } from './frontend.js'
import { Gucs, type SettingsState, SRC } from './gucs.js'
import { applyListen } from './notify.js'
import { HeldPortals } from './portals.js'
import { EngineSession, SqlError } from './session.js'
import { TempSchemas } from './temps.js'

/** Default idle_in_transaction_session_timeout (PostgreSQL's is 0, off); PYGLITE_IDLE_IN_TRANSACTION_TIMEOUT_MS overrides. */
export const IDLE_IN_TRANSACTION_DEFAULT_MS = Number(
  process.env.PYGLITE_IDLE_IN_TRANSACTION_TIMEOUT_MS ?? 60_000,
)

const noInput: ExecIo['more'] = () => copyFail('COPY FROM STDIN is not available here')

export class Backend {
  readonly io: PgIo
  readonly stream: BackendStream
  statics!: BackendStatics
  readonly gucs: Gucs
  /** session-level advisory locks, per session (advisory.ts) */
  readonly locks = new AdvisoryLocks()
  /** each session's temp schemas (set up at open, after the probes) */
  temps!: TempSchemas
  /** each session's WITH HOLD cursors (portals.ts) */
  portals!: HeldPortals
  /** some session listens (notifications are routed, see notify.ts); the backend's set needs reconciling */
  listening = false
  listenDirty = false
  /** the session whose input runs now: its pending LISTEN/UNLISTEN apply when its transaction commits */
  running: EngineSession | null = null
  /** the installed session's statement_timeout and idle_in_transaction_session_timeout (ms, 0 = off) */
  statementTimeout: () => number = () => 0
  idleInTransactionTimeout: () => number = () => 0
  /** GUC_REPORT values as the backend last reported them (what a session sees once its state is in) */
  readonly reported = new Map<string, string>()
  /** whose prepared statements and role the backend currently holds */
  private owner: EngineSession | null = null
  /** the login role session_authorization's reset value names (0: PGlite's own, none) */
  private resetLogin = 0
  /** whose settings the backend holds (also after that session closed), and their fingerprint then */
  private installed: SettingsState
  private installedKey = ''
  private fp: number[] = []
  /** inside aside(): other sessions' settings are laid over the holder's as plain SETs */
  private beside: SettingsState | null = null
  /** the session whose turn it is (it stays until it is idle: see EngineSession.busy) */
  holder: EngineSession | null = null
  readonly internalSession: EngineSession
  readonly sessions = new Map<number, EngineSession>()
  /** emptied prepared-statement tables of closed sessions, reused by new ones */
  readonly tablePool: number[] = []
  dboid = 0

  private constructor(
    readonly inst: Instance,
    callbacks: SocketCallbacks,
  ) {
    this.io = new PgIo(inst.db, callbacks)
    const faults = new FaultContainment(inst.heap, inst.bridge.elog, () => this.statics?.portalTable)
    this.io.fault = (e, at) => faults.contain(e, at, inst.runtime.session)
    this.stream = new BackendStream((name, value) => this.reported.set(name, value))
    this.internalSession = new EngineSession(0, { oid: 10, name: 'postgres', superuser: true })
    this.installed = this.internalSession.settings
    this.gucs = new Gucs(inst.heap, inst.bridge.elog)
  }

  static open(inst: Instance, callbacks: SocketCallbacks): Backend {
    const b = new Backend(inst, callbacks)
    // one startup packet turns on GUC reporting (ParameterStatus after SET) and tells us the defaults
    b.runCollect((io) => b.io.startup(startup({ user: 'postgres', database: 'postgres' }), io))
    b.reported.set('session_authorization', 'postgres')
    b.owner = b.internalSession
    const rows = (sql: string) => b.internal(sql).rows
    b.statics = probeStatics(inst.heap, rows, (sql) =>
      b.runCollect((io) => b.io.exec(concatBytes([parseUnnamed(sql), sync()]), io)),
    )
    // a client idle in a transaction blocks every other client of this backend, so the server-wide
    // default is not PostgreSQL's 0 (off): see docs/sessions.md. Source "command line" makes it the reset
    // value, which SHOW, RESET and pg_settings report, and ALTER ROLE/DATABASE … SET or SET override.
    const idleErr = b.gucs.set(
      'idle_in_transaction_session_timeout',
      `${IDLE_IN_TRANSACTION_DEFAULT_MS}`,
      SRC.ARGV,
    )
    if (idleErr) throw new Error(`idle_in_transaction_session_timeout: ${idleErr.message}`)
    b.gucs.probe(rows)
    b.statementTimeout = b.gucs.intReader('statement_timeout')
    b.idleInTransactionTimeout = b.gucs.intReader('idle_in_transaction_session_timeout')
    b.fp = b.gucs.fingerprint()
    // the database's OID: miscinit.c's MyDatabaseId (exported), set when the backend started
    b.dboid = inst.heap.u32at(inst.heap.M._MyDatabaseId as number)
    b.temps = new TempSchemas(b)
    b.temps.init()
    b.portals = new HeldPortals(inst.heap, b.statics.portalTable)
    // async.c AtCommit_Notify / AtAbort_Notify: LISTEN and UNLISTEN take effect when the transaction commits
    const M = inst.heap.M
    const slot = M.addFunction((event: number) => {
      b.transactionEnded(event)
      return undefined
    }, 'vii')
    M._RegisterXactCallback(slot, 0)
    return b
  }

  /** A top-level transaction ended: the running session's pending LISTEN/UNLISTEN apply or are dropped. */
  private transactionEnded(event: number): void {
    const s = this.running
    if (!s || s.pendingListen.length === 0) return
    if (event === XACT_EVENT.COMMIT) {
      if (applyListen(s)) this.listenDirty = true
    } else if (event === XACT_EVENT.ABORT) s.pendingListen.length = 0
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
      // discard.c DiscardAll: LockReleaseAll(USER_LOCKMETHOD, true), its session-level advisory locks too
      if (this.stream.discardAll) this.locks.unlockAll(s.sid)
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
      o += 1 + u32be(data, o + 1)
    }
  }

  /** Run engine-made messages, collecting the whole output. */
  runCollect(exec: (io: ExecIo) => void): ReturnType<typeof collected> {
    this.stream.reset(true)
    try {
      exec({ more: noInput, out: (chunk) => this.stream.feed(chunk) })
      return collected(this.stream)
    } finally {
      this.stream.reset(false)
    }
  }

  /** A simple query run by the engine itself on the current session state; throws SqlError. */
  exec(sql: string): QueryResult {
    const r = this.runCollect((io) => this.io.exec(query(sql), io))
    if (r.error) throw new SqlError(r.error)
    return r.result
  }

  /** Several engine-made simple queries in one exec; returns the first error's fields, if any. */
  execAll(sqls: string[]): Record<string, string> | undefined {
    if (sqls.length === 0) return undefined
    return this.runCollect((io) => this.io.exec(concatBytes(sqls.map(query)), io)).error
  }

  /** A query as the internal session (superuser postgres, default settings). Throws SqlError. */
  internal(sql: string): QueryResult {
    this.switchTo(this.internalSession)
    return this.exec(sql)
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
    const unnamed = this.portals.takeUnnamed() // portals.ts: the holder's suspended cursor read survives
    this.exec('SAVEPOINT pyglite_aside')
    this.beside = this.installed
    try {
      return work()
    } finally {
      if (this.owner && this.owner !== h) this.saveOwner()
      this.beside = null
      this.inst.heap.refresh()
      const mem = this.inst.heap.i32
      mem[this.statics.preparedQueries >> 2] = h.preparedQueries
      mem[this.statics.unnamedStatement >> 2] = h.unnamedStatement
      mem[this.statics.seqTable >> 2] = h.seqTable
      mem[this.statics.lastUsedSeq >> 2] = h.lastSeq
      mem[this.statics.authenticatedUserId >> 2] = h.login.oid
      this.owner = h
      this.temps.install(h.temp ?? this.temps.shared)
      // undoes the work's settings and role: the backend is the holder's again (ParameterStatus included)
      this.execAll(['ROLLBACK TO SAVEPOINT pyglite_aside', 'RELEASE SAVEPOINT pyglite_aside'])
      if (unnamed) this.portals.putBack(unnamed)
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
    const out = concatBytes(chunks)
    for (let o = 0; o + 5 <= out.length; ) {
      const len = u32be(out, o + 1)
      if (out[o] === B.ReadyForQuery && len === 5) out[o + 5] = 0x49 // 'I'
      o += 1 + len
    }
    return out
  }

  /** Save the backend's state into its owner: statements, role, and settings it changed (if any). */
  private saveOwner(): void {
    const o = this.owner
    if (!o) return
    const M = this.inst.heap.M
    this.inst.heap.refresh()
    const h = this.inst.heap.i32
    o.preparedQueries = h[this.statics.preparedQueries >> 2]!
    o.unnamedStatement = h[this.statics.unnamedStatement >> 2]!
    o.seqTable = h[this.statics.seqTable >> 2]!
    o.lastSeq = h[this.statics.lastUsedSeq >> 2]!
    o.sessionUser = M._GetSessionUserId() as number
    o.currentUser = M._GetUserId() as number
    if (this.beside || this.installed !== o.settings) return
    if (this.gucs.fingerprintIs(this.fp)) return
    const fp = this.gucs.fingerprint()
    // it ran SET, RESET, set_config(…), DISCARD ALL, …: read what its settings are now
    o.settings.set = this.gucs.captureSet()
    o.settingsChanged()
    this.installedKey = o.settingsKey
    this.fp = fp
  }

  /**
   * session_authorization's reset value is the session's login role, as InitializeSessionUserId (miscinit.c)
   * makes it in a PostgreSQL backend (PGC_S_OVERRIDE: RESET SESSION AUTHORIZATION and SET SESSION
   * AUTHORIZATION DEFAULT go back to it). PGlite's standalone backend never sets it, which left RESET a
   * no-op. One value for the backend: set again when a session of another login comes in (a value set this
   * way is not undone by a rollback). check_session_authorization looks the role up: in a transaction.
   */
  private resetAuthorizationTo(s: EngineSession): void {
    const inTransaction = this.beside !== null
    if (!inTransaction) this.execAll(['BEGIN'])
    try {
      // refused only if the login role is gone meanwhile (DROP ROLE from another session): then RESET
      // keeps the session's role, as before
      this.gucs.set('session_authorization', s.login.name, SRC.OVERRIDE)
    } finally {
      if (!inTransaction) this.execAll(['COMMIT'])
    }
    this.resetLogin = s.login.oid
  }

  /** Whether the backend holds session s's state now (its settings are the live ones). */
  owns(s: EngineSession): boolean {
    return this.owner === s
  }

  /** Make the backend hold session s's state (cheap when nothing differs). */
  switchTo(s: EngineSession): void {
    if (this.owner === s) return
    this.saveOwner()
    // between turns (not beside a transaction): held cursors follow their session (portals.ts)
    if (!this.beside && this.owner && this.portals) this.portals.moveOut(this.owner)
    const heap = this.inst.heap
    const M = heap.M
    heap.refresh()
    const h = heap.i32
    h[this.statics.preparedQueries >> 2] = s.preparedQueries
    h[this.statics.unnamedStatement >> 2] = s.unnamedStatement
    h[this.statics.seqTable >> 2] = s.seqTable
    h[this.statics.lastUsedSeq >> 2] = s.lastSeq
    this.owner = s
    this.temps?.install(s.temp ?? this.temps.shared) // undefined only during the start-up probes
    if (!this.beside) this.portals?.moveIn(s)
    // the role: AuthenticatedUserId decides what SET SESSION AUTHORIZATION / set_config may do, so a
    // non-superuser cannot become anyone else (variable.c check_session_authorization)
    h[this.statics.authenticatedUserId >> 2] = s.login.oid
    if (this.resetLogin !== s.login.oid) this.resetAuthorizationTo(s)
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
    let flush = false
    if (this.beside) {
      // beside a transaction: plain SETs, undone with the savepoint
      if (this.beside !== s.settings) flush = this.gucs.overlay(this.beside, s.settings).reportedChanged
      this.beside = s.settings
    } else if (this.installed !== s.settings) {
      if (this.installedKey !== s.settingsKey) {
        let r = this.gucs.install(this.installed, s.settings)
        if (r.failed.length > 0) {
          // some settings can only change inside a transaction (client_encoding: variable.c
          // check_client_encoding looks up conversion functions): install again in one
          this.execAll(['BEGIN'])
          try {
            r = this.gucs.install(this.installed, s.settings)
          } finally {
            this.execAll(['COMMIT'])
          }
        }
        flush = r.reportedChanged
        for (const [name, value] of r.failed)
          msgs.push(`SELECT pg_catalog.set_config(${literal(name)}, ${literal(value)}, false)`)
      }
      this.installed = s.settings
      this.installedKey = s.settingsKey
    }
    // the ParameterStatus of restored settings are consumed here: the session knows its own values
    if (flush && msgs.length === 0) msgs.push('')
    if (msgs.length > 0) {
      const error = this.execAll(msgs)
      const ok =
        (M._GetSessionUserId() as number) === s.sessionUser && (M._GetUserId() as number) === s.currentUser
      if (!ok) {
        // e.g. its role was dropped meanwhile: it must not go on with someone else's identity
        this.owner = null
        throw new SqlError(
          error ?? { S: 'FATAL', V: 'FATAL', C: '28000', M: `role with OID ${s.sessionUser} does not exist` },
        )
      }
    }
    if (!this.beside && (flush || msgs.length > 0)) this.fp = this.gucs.fingerprint()
  }

  /** Forget whose statements the backend holds (the caller clears them), keeping what its settings were. */
  releaseOwner(): void {
    this.saveOwner()
    this.owner = null
  }

  /** Is the backend inside aside() (settings laid over the holder's)? */
  get inBeside(): boolean {
    return this.beside !== null
  }

  /** The installed session's settings now match what was just applied to the backend directly. */
  settingsApplied(s: EngineSession): void {
    s.settingsChanged()
    if (this.beside) {
      this.beside = s.settings
      return
    }
    this.installed = s.settings
    this.installedKey = s.settingsKey
    this.fp = this.gucs.fingerprint()
  }

  /** Create a session object (its state is set up by sessions.ts openSession). */
  newSession(sid: number, login: EngineSession['login']): EngineSession {
    const s = new EngineSession(sid, login)
    s.preparedQueries = this.tablePool.pop() ?? 0
    this.sessions.set(sid, s)
    return s
  }
}
