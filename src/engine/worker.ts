// The engine thread: owns PGlite (one backend per database), the Python host and the native call path, and
// decides whose turn it is. Runs statements synchronously; the main thread keeps sockets, TLS, auth and
// cancel responsive meanwhile.
import path from 'node:path'
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads'
import { backupDataDir } from '../backup/copy.js'
import { columnOps } from '../columns/ops.js'
import { createDispatcher } from '../plpy-shim/dispatch.js'
import { type PythonHost, startPythonHost } from '../python/host.js'
import { describeError } from '../util/errors.js'
import { configureLogging, type LogLevel, logger } from '../util/log.js'
import { readInputs } from './channel/frames.js'
import {
  CTL,
  type DbOpened,
  type EngineConfig,
  type FromWorker,
  type QueryResult,
  type ToWorker,
  type WorkItem,
} from './channel/protocol.js'
import { isLongjmp } from './pg/elog.js'
import { Runner } from './runner.js'
import { Backend } from './sessions/backend.js'
import { Checkpoints } from './sessions/checkpoints.js'
import { sessionDirectory } from './sessions/directory.js'
import { installLockFunctions } from './sessions/lockfuncs.js'
import { Parking } from './sessions/parking.js'
import { SqlError } from './sessions/session.js'
import { closeSession, openSession } from './sessions/sessions.js'
import { installSessionFunctions } from './sessions/sysfuncs.js'
import { mayCreateTempText } from './sessions/temps.js'
import { IDLE_IN_TRANSACTION_FATAL, takeWaitingCommand } from './sessions/timeouts.js'
import { besideHolder, closeWaits, runnable } from './sessions/turns.js'
import { WaitTimers } from './sessions/waits.js'
import { clusterDir } from './storage/clusters.js'
import { Instance } from './storage/instance.js'
import { BackendExited, socketCallbackRecorder } from './storage/pgio.js'
import { pgliteWasmModule } from './storage/wasm.js'

const config = workerData as EngineConfig
configureLogging(config.logLevel as LogLevel)
const log = logger('engine')
const port = parentPort!
const ctl = new Int32Array(config.control)

const backends = new Map<string, Backend>()
const opening = new Map<string, Promise<Backend>>()
/** database of each open session */
const sessionDb = new Map<number, string>()
let active: Instance | undefined
let host: PythonHost

function post(m: FromWorker, transfer?: ArrayBuffer[]): void {
  port.postMessage(m, transfer ?? [])
}

async function openDb(name: string): Promise<{ backend: Backend; info: DbOpened }> {
  const existing = backends.get(name)
  if (existing) return { backend: existing, info: { name, initialized: false, ms: 0 } }
  const t0 = performance.now()
  let p = opening.get(name)
  if (!p) {
    p = (async () => {
      const recorder = socketCallbackRecorder()
      const inst = await Instance.open({
        pgdata: path.join(config.dataDir, clusterDir(name)),
        database: name,
        host,
        maxDepth: config.maxDepth,
        fsync: config.fsync,
        extensions: { socketCallbacks: recorder.extension },
      })
      activate(inst)
      const t1 = performance.now()
      const backend = Backend.open(inst, recorder.callbacks())
      // a function's query that may create a temporary object gets its session a temp schema of its own
      inst.runtime.onQueryText = (text) => {
        const s = backend.sessions.get(inst.runtime.session)
        if (s && !s.temp && mayCreateTempText(text)) backend.temps.claimReady(s)
      }
      installSessionFunctions(inst.heap, inst.bridge.elog, inst.runtime, directory, () => backend)
      const lockTimeout = backend.gucs.intReader('lock_timeout')
      installLockFunctions(inst.heap, inst.bridge.elog, {
        locks: () => backend.locks,
        dboid: () => backend.dboid,
        session: () => inst.runtime.session,
        // whose transaction the backend's own lock rows belong to: the holder's, also while another looks beside it
        transactionOf: () => backend.holder?.sid ?? inst.runtime.session,
        parking: () => parking.abandoned,
        policy: () => parking.policy(inst.runtime.session, lockTimeout, backend.statementTimeout),
      })
      log.debug(
        { db: name, pgliteMs: Math.round(t1 - t0), probesMs: Math.round(performance.now() - t1) },
        'database opened',
      )
      return backend
    })()
    opening.set(name, p)
  }
  try {
    const backend = await p
    backends.set(name, backend)
    return {
      backend,
      info: { name, initialized: backend.inst.initialized, ms: Math.round(performance.now() - t0) },
    }
  } finally {
    opening.delete(name)
  }
}

function activate(inst: Instance): void {
  active = inst
  inst.activate()
}

// ---------------------------------------------------------------- the queue and the turns

// automatic checkpoints (checkpoints.ts): only between work items, never inside an exec
const checkpoints = new Checkpoints({
  run: internalQuery,
  wake: () => void pump(),
  failed: (b, e) => {
    if (e instanceof BackendExited) backendDied(e, b)
    else log.error({ err: e }, 'automatic checkpoint failed')
  },
})

/** Work waiting to run, in arrival order. A backend whose holder is busy only runs the holder's work. */
const queue: WorkItem[] = []
let pumping = false

function backendOf(m: WorkItem): Backend | undefined {
  switch (m.t) {
    case 'input':
    case 'session-close': {
      const db = sessionDb.get(m.sid)
      return db === undefined ? undefined : backends.get(db)
    }
    case 'session-open':
    case 'query':
      return backends.get(m.db)
    default:
      return undefined
  }
}

/** Move messages that arrived while we were busy into the queue (used inside blocking waits). */
function drainPort(): void {
  for (let r = receiveMessageOnPort(port); r; r = receiveMessageOnPort(port)) enqueue(r.message as ToWorker)
}

/** statement_timeout of queued inputs, idle_in_transaction_session_timeout of idle holders (waits.ts) */
const waits = new WaitTimers({ queue, backendOf, postAnswer, wake: () => void pump() })

function queueInput(sid: number, data: Uint8Array, at: number): void {
  const item: Extract<WorkItem, { t: 'input' }> = { t: 'input', sid, data, at }
  queue.push(item)
  waits.queued(item)
}

function enqueue(m: ToWorker): void {
  if (m instanceof Uint8Array) readInputs(m, queueInput)
  else if (m.t === 'cancel-waiting') cancelWaiting(m.sid)
  else queue.push(m)
}

/** the session whose input is running now (a cancel for it is native: see Engine.cancel) */
let executing = 0

/** every session as pg_stat_activity and pg_terminate_backend/pg_cancel_backend see them (sysfuncs.ts) */
const directory = sessionDirectory({ backends, queue, executing: () => executing, post, cancelWaiting })

/** inputs waiting for advisory locks, and whether the running one may be parked (parking.ts) */
const parking = new Parking({ backends, queue, ctl, post, wake: () => void pump() })

/** runs each session's input (runner.ts) */
const runner = new Runner({
  ctl,
  post,
  queue,
  drainPort,
  host: () => host,
  parking,
  find: (sid) => {
    const db = sessionDb.get(sid)
    const backend = db === undefined ? undefined : backends.get(db)
    const s = backend?.sessions.get(sid)
    return backend && s ? { backend, s } : undefined
  },
  activate,
  setExecuting: (sid) => {
    executing = sid
  },
  backendDied,
  sessionFailed,
  closeEngineSession,
  armIdleTimer: (backend, s) => waits.idle(backend, s),
})

/** A CancelRequest for a session that waits for its turn: its first waiting command fails with 57014. */
function cancelWaiting(sid: number): void {
  if (sid === executing) return
  const db = sessionDb.get(sid)
  const backend = db === undefined ? undefined : backends.get(db)
  if (backend && parking.cancel(backend, sid)) return
  const cut = takeWaitingCommand(queue, sid, backendOf)
  if (cut) postAnswer(sid, cut)
}

/** The error answer to a waiting command that will not run (it counts as output in flight until taken). */
function postAnswer(sid: number, cut: { answer: Uint8Array; consumed: number }): void {
  Atomics.add(ctl, CTL.OUT_INFLIGHT, cut.answer.length)
  post({ t: 'out', sid, data: cut.answer, consumed: cut.consumed }, [cut.answer.buffer as ArrayBuffer])
}

/** idle_in_transaction_session_timeout expired: FATAL 25P03, its transaction rolled back, others go on. */
function idleTimeout(sid: number, at: number): void {
  const db = sessionDb.get(sid)
  const backend = db === undefined ? undefined : backends.get(db)
  const s = backend?.sessions.get(sid)
  if (!backend || !s || s.turns !== at) return
  if (queue.some((m) => m.t === 'input' && m.sid === sid)) return // it did send something meanwhile
  if (s.failedAside) {
    // idle in a failed block, which holds nothing (failed.ts): ended as pg_terminate_backend ends an idle
    // session; the main thread's session-close then frees it in its turn
    log.info({ sid }, 'terminating connection due to idle-in-transaction timeout')
    s.terminated = true
    post({ t: 'session-failed', sid, fields: IDLE_IN_TRANSACTION_FATAL })
    return
  }
  if (backend.holder !== s) return
  log.info({ sid }, 'terminating connection due to idle-in-transaction timeout')
  post({ t: 'session-failed', sid, fields: IDLE_IN_TRANSACTION_FATAL })
  sessionDb.delete(sid)
  host.native.execBegin(0, 0)
  try {
    closeEngineSession(backend, sid)
  } finally {
    host.native.execEnd()
    host.dropSession(sid)
  }
}

/** Whether work item `m` may run now (its backend's turn rules, advisory-lock parking). */
function mayRun(m: WorkItem | undefined): boolean {
  if (!m) return false
  const b = backendOf(m)
  return runnable(m, b) && !parking.blocks(m, b) && !closeWaits(m, queue)
}

async function pump(): Promise<void> {
  if (pumping) return
  pumping = true
  try {
    for (;;) {
      drainPort() // take what arrived meanwhile now, rather than one event-loop turn per message
      const i = mayRun(queue[0]) ? 0 : queue.findIndex(mayRun)
      if (i < 0) {
        tempMaintenance()
        return checkpoints.idle(backends) // idle: the time to checkpoint
      }
      const m = i === 0 ? queue.shift()! : queue.splice(i, 1)[0]!
      // a client's input runs synchronously: no promise and microtask turn per statement
      if (m.t === 'input') {
        waits.started(m)
        runner.input(m.sid, m.data)
      } else await handle(m)
      parking.wake()
      tempMaintenance()
      checkpoints.idle(backends) // between two items too, or a steady load would never let it run
    }
  } finally {
    pumping = false
  }
}

async function handle(m: WorkItem): Promise<void> {
  if (m.t === 'input') {
    waits.started(m)
    return runner.input(m.sid, m.data)
  }
  if (m.t === 'idle-timeout') return idleTimeout(m.sid, m.at)
  try {
    const value = await request(m)
    post({ t: 'reply', id: m.id, ok: true, value })
  } catch (e) {
    if (isLongjmp(e)) log.error({ err: String(e) }, 'a PostgreSQL error escaped to the engine loop')
    if (e instanceof BackendExited) backendDied(e)
    const err = e as { message?: string; code?: string; fields?: Record<string, string> }
    post({
      t: 'reply',
      id: m.id,
      ok: false,
      error: describeError(e),
      code: err?.code,
      fields: err?.fields,
    })
  }
}

async function request(m: Exclude<WorkItem, { t: 'input' } | { t: 'idle-timeout' }>): Promise<unknown> {
  switch (m.t) {
    case 'open-db':
      return (await openDb(m.name)).info
    case 'session-open': {
      const { backend } = await openDb(m.db)
      activate(backend.inst)
      try {
        const parameters = besideHolder(backend, m.sid, () =>
          openSession(backend, m.sid, m.login, m.settings),
        )
        sessionDb.set(m.sid, m.db)
        const s = backend.sessions.get(m.sid)
        if (s && m.client) s.activity.client = m.client
        return { ok: true, parameters }
      } catch (e) {
        if (e instanceof SqlError) return { ok: false, error: e.fields }
        throw e
      }
    }
    case 'session-close': {
      const backend = backendOf(m)
      sessionDb.delete(m.sid)
      if (backend) {
        host.native.execBegin(0, 0)
        try {
          besideHolder(backend, m.sid, () => closeEngineSession(backend, m.sid))
        } finally {
          host.native.execEnd()
        }
      }
      host.dropSession(m.sid)
      return null
    }
    case 'query':
      return internalQuery((await openDb(m.db)).backend, m.sql)
    case 'close-db': {
      // DROP DATABASE and idle databases: only when nobody uses it (the main thread checked; re-checked here)
      const b = backends.get(m.name)
      if (!b) return true
      if (b.sessions.size > 0) return false
      backends.delete(m.name)
      if (active === b.inst) active = undefined
      await b.inst.close()
      return true
    }
    case 'backup': {
      // nothing else runs on this thread until the copy is done, so the files hold still (src/backup)
      const t0 = performance.now()
      for (const backend of backends.values()) internalQuery(backend, 'CHECKPOINT')
      const mf = backupDataDir(config.dataDir, m.dest, true, m.version)
      const bytes = mf.files.reduce((a, f) => a + f.size, 0)
      return { files: mf.files.length, bytes, ms: Math.round(performance.now() - t0) }
    }
    case 'shutdown':
      for (const b of backends.values()) await b.inst.close()
      backends.clear()
      return null
  }
}

/** Temp schemas of closed sessions dropped, the pool refilled (temps.ts), where no transaction is open. */
function tempMaintenance(): void {
  for (const b of backends.values()) {
    if (b.holder || !b.temps.pending) continue
    activate(b.inst)
    b.inst.runtime.session = 0
    host.native.execBegin(0, 0)
    try {
      b.temps.maintain()
    } catch (e) {
      if (e instanceof BackendExited) backendDied(e, b)
      else log.error({ err: e }, 'temp schema maintenance failed')
    } finally {
      host.native.execEnd()
    }
  }
}

/** A query of the engine's own (superuser, default settings), beside the holder's idle transaction if any. */
function internalQuery(backend: Backend, sql: string): QueryResult {
  activate(backend.inst)
  backend.inst.runtime.session = 0
  host.native.execBegin(0, 0)
  try {
    return besideHolder(backend, 0, () => backend.internal(sql))
  } finally {
    host.native.execEnd()
  }
}

/** Roll back and free what session `sid` left on the backend, and its PL/Python state. */
function closeEngineSession(backend: Backend, sid: number): void {
  const s = backend.sessions.get(sid)
  if (!s) return
  activate(backend.inst)
  backend.inst.runtime.session = sid
  try {
    closeSession(backend, s)
  } finally {
    backend.inst.runtime.dropSession(sid)
  }
}

function sessionFailed(backend: Backend, sid: number, e: unknown): void {
  const fields: Record<string, string> =
    e instanceof SqlError
      ? { ...e.fields, S: 'FATAL', V: 'FATAL' }
      : { S: 'FATAL', V: 'FATAL', C: 'XX000', M: `internal error: ${describeError(e)}` }
  if (backend.holder?.sid === sid) backend.holder = null
  post({ t: 'session-failed', sid, fields })
}

/**
 * The backend exited (a FATAL), or failed beyond recovery (pg/faults.ts, which logged it with its session
 * and statement): its sessions end with a FATAL that says which, and the database is reopened at once
 * (crash recovery from the WAL keeps every acknowledged commit), so new connections work when it is open.
 */
function backendDied(e: BackendExited, backend?: Backend): void {
  if (!e.site) log.error({ err: e.cause }, 'the PostgreSQL backend exited; its sessions are closed')
  const cause = e.cause as { name?: string; message?: string }
  const fields = e.site
    ? {
        C: 'XX000',
        M: `terminating connection because the database engine failed: ${cause?.name}: ${cause?.message}`,
      }
    : { C: '57P01', M: 'terminating connection because the backend exited' }
  for (const [name, b] of backends) {
    if (backend && b !== backend) continue
    for (const sid of b.sessions.keys()) {
      sessionDb.delete(sid)
      post({ t: 'session-failed', sid, fields: { S: 'FATAL', V: 'FATAL', ...fields } })
    }
    backends.delete(name)
    if (active === b.inst) active = undefined
    // a failed engine must not write a shutdown checkpoint from its broken state: it is dropped instead
    if (!e.site) b.inst.close().catch(() => {})
    const t0 = performance.now()
    openDb(name).then(
      () => log.info({ db: name, ms: Math.round(performance.now() - t0) }, 'reopened the database'),
      (err) => log.error({ err, db: name }, 'reopening the database failed'),
    )
  }
}

port.on('message', (m: ToWorker) => {
  enqueue(m)
  void pump()
})

void pgliteWasmModule() // compiled by V8's background threads while Python starts on this one
host = startPythonHost(
  createDispatcher(() => active?.runtime, columnOps),
  config.pythonPath,
  config.pythonEnvironment,
)
// the compiled module goes to the main thread too (its helper threads get it from there): one compile, and
// its code shared, instead of a second compile there at the first CREATE DATABASE
post({ t: 'ready', python: host.version, libpython: host.libpython, wasmModule: await pgliteWasmModule() })
