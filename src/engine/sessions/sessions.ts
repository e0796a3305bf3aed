// Opening and closing a client session on a shared backend: its stored and start-up settings (as
// InitPostgres applies them), and on disconnect everything it left behind (a COPY, a batch, a transaction,
// prepared statements).

import { concatBytes } from '../../util/bytes.js'
import { logger } from '../../util/log.js'
import type { Login } from '../channel/protocol.js'
import type { PgError } from '../pg/elog.js'
import type { Backend } from './backend.js'
import { copyFail, query, sync } from './frontend.js'
import { type ResetEntry, SRC } from './gucs.js'
import { reconcile } from './notify.js'
import { type EngineSession, SqlError } from './session.js'

function fatalFields(e: PgError): Record<string, string> {
  const f: Record<string, string> = { S: 'FATAL', V: 'FATAL', C: e.sqlstate, M: e.message }
  if (e.fields.detail) f.D = e.fields.detail
  if (e.fields.hint) f.H = e.fields.hint
  return f
}

/** Create a session and apply its settings; returns the ParameterStatus set to report. */
export function openSession(
  b: Backend,
  sid: number,
  login: Login,
  settings: Array<[string, string]>,
): Array<[string, string]> {
  const s = b.newSession(sid, login)
  try {
    b.switchTo(s)
    // like process_startup_options() and process_settings() (postinit.c): the start-up packet's settings
    // (source client, errors are FATAL), and ALTER ROLE/DATABASE … SET (only warned about when bad); the
    // client's take precedence, so the stored ones go first here
    const stored = b.exec(
      `SELECT setdatabase <> 0, setrole <> 0, pg_catalog.unnest(setconfig) FROM pg_catalog.pg_db_role_setting WHERE (setdatabase = 0 OR setdatabase = ${b.dboid}) AND (setrole = 0 OR setrole = ${login.oid}) ORDER BY setrole <> 0, setdatabase <> 0`,
    )
    const entries: Array<{ e: ResetEntry; fatal: boolean }> = []
    for (const [db, role, kv] of stored.rows) {
      const eq = kv?.indexOf('=') ?? -1
      if (!kv || eq <= 0) continue
      const source = db === 't' && role === 't' ? SRC.DATABASE_USER : role === 't' ? SRC.USER : SRC.DATABASE
      entries.push({ e: { name: kv.slice(0, eq), value: kv.slice(eq + 1), source }, fatal: false })
    }
    for (const [name, value] of settings)
      entries.push({ e: { name, value, source: SRC.CLIENT }, fatal: true })
    // inside a transaction: client_encoding can only be changed there (variable.c check_client_encoding);
    // values installed with their own source (not a SET) are not undone by its end (guc.c makeDefault)
    const own = !b.inBeside && entries.length > 0
    if (own) b.exec('BEGIN')
    try {
      for (const { e, fatal } of entries) {
        // beside a transaction the values are checked as plain SETs (undone); otherwise they are installed
        // with their real sources, so that RESET goes back to them as in PostgreSQL
        const err = b.gucs.apply(e, login.superuser, b.inBeside)
        if (err) {
          if (fatal) throw new SqlError(fatalFields(err))
          continue
        }
        const name = b.gucs.canonical(e.name)
        s.settings.reset.set(name.toLowerCase(), { ...e, name })
      }
    } finally {
      if (own) b.execAll(['COMMIT'])
    }
    b.settingsApplied(s)
    b.execAll(['']) // the backend reports what changed: that is the session's ParameterStatus set
    for (const [k, v] of b.reported) s.seen.set(k, v)
    return [...b.reported]
  } catch (e) {
    closeSession(b, s)
    throw e
  }
}

/**
 * End a session: finish what it left open (a COPY, an extended batch, a transaction) and free its
 * private state. Runs on its own state; afterwards the backend holds nobody's statements.
 */
export function closeSession(b: Backend, s: EngineSession): void {
  s.closed = true
  clearTimeout(s.idleTimer)
  b.sessions.delete(s.sid)
  if (b.holder === s) b.holder = null
  try {
    try {
      b.switchTo(s)
    } catch {
      // its role is gone; its statements and transaction still are its own (switchTo swapped them in)
    }
    const cleanup: Uint8Array[] = []
    if (s.copyIn) cleanup.push(copyFail('client disconnected'))
    if (s.midBatch) cleanup.push(sync())
    // (a failed block rolled back already: failed.ts; the backend may be in another's transaction now)
    if ((s.status !== 'I' && !s.failedAside) || s.copyIn) cleanup.push(query('ROLLBACK'))
    // its channels that nobody else listens on (async.c: a closing backend unlistens everything)
    for (const c of s.channels) {
      let shared = false
      for (const o of b.sessions.values()) if (o !== s && o.channels.has(c)) shared = true
      if (!shared) cleanup.push(query(`UNLISTEN "${c.replace(/"/g, '""')}"`))
    }
    s.channels.clear()
    // its WITH HOLD cursors (in the table unless it closes beside another's transaction: then they stay
    // out of reach, see portals.ts)
    if (s.mayHold && !b.inBeside) cleanup.push(query('CLOSE ALL'))
    // DEALLOCATE ALL empties its statement table (kept for reuse); an empty Query drops the unnamed one
    cleanup.push(query('DEALLOCATE ALL'), query(''))
    b.runCollect((io) => b.io.exec(concatBytes(cleanup), io))
  } finally {
    // its advisory locks go (lock.c LockReleaseAll at backend exit); whoever waits for them runs again
    b.locks.unlockAll(s.sid)
    b.locks.unpark(s.sid)
    b.temps.release(s) // dropped between work items (temps.ts maintain), not inside another's transaction
    b.releaseOwner()
    const heap = b.inst.heap
    heap.refresh()
    const h = heap.i32
    const table = h[b.statics.preparedQueries >> 2]!
    if (table) b.tablePool.push(table)
    h[b.statics.preparedQueries >> 2] = 0
    h[b.statics.unnamedStatement >> 2] = 0
    // its sequence values go with it (made by create_seq_hashtable in TopMemoryContext)
    const seq = h[b.statics.seqTable >> 2]!
    h[b.statics.seqTable >> 2] = 0
    h[b.statics.lastUsedSeq >> 2] = 0
    if (seq) b.inst.heap.M._hash_destroy(seq)
  }
}

const log = logger('sessions')

/**
 * Bookkeeping after a session's turn, once it is idle: make the backend listen on exactly the union of the
 * sessions' channels after LISTEN/UNLISTEN/DISCARD (notify.ts).
 */
export function afterTurn(b: Backend, s: EngineSession): void {
  if (s.status !== 'I') return
  if (b.listenDirty) {
    try {
      const actual = b.exec('SELECT pg_catalog.pg_listening_channels()').rows.map((r) => r[0] ?? '')
      const sql = reconcile(actual, b.sessions.values())
      if (sql.length > 0) b.execAll(sql)
      b.listenDirty = false
      b.listening = [...b.sessions.values()].some((x) => x.channels.size > 0)
    } catch (e) {
      log.warn({ err: e }, 'LISTEN reconciliation failed')
    }
  }
}
