// The engine thread: owns PGlite (one instance per database), the Python host and the native call path.
// Runs statements synchronously; the main thread keeps sockets, TLS, auth and cancel responsive meanwhile.
import path from 'node:path'
import { parentPort, workerData } from 'node:worker_threads'
import { configureLogging, type LogLevel, logger } from '../log.js'
import { createDispatcher } from '../plpy-shim/dispatch.js'
import { FatalOutput, takeFatal } from '../plpy-shim/fatal.js'
import { type PythonHost, startPythonHost } from '../plpython/host.js'
import { isLongjmp } from './elog.js'
import { Instance } from './instance.js'
import type { DbOpened, EngineConfig, ExecResult, FromWorker, ToWorker } from './protocol.js'

const config = workerData as EngineConfig
configureLogging(config.logLevel as LogLevel)
const log = logger('engine')
const port = parentPort!

const instances = new Map<string, Instance>()
const opening = new Map<string, Promise<Instance>>()
const sessions = new Map<number, { db: string; user: string }>()
let active: Instance | undefined
let host: PythonHost

function post(m: FromWorker, transfer?: ArrayBuffer[]): void {
  port.postMessage(m, transfer ?? [])
}

async function openDb(name: string): Promise<{ inst: Instance; info: DbOpened }> {
  const existing = instances.get(name)
  if (existing) return { inst: existing, info: { name, initialized: false, ms: 0 } }
  let p = opening.get(name)
  const t0 = performance.now()
  if (!p) {
    p = Instance.open({ pgdata: path.join(config.dataDir, name), host, maxDepth: config.maxDepth })
    opening.set(name, p)
  }
  try {
    const inst = await p
    instances.set(name, inst)
    return { inst, info: { name, initialized: inst.initialized, ms: Math.round(performance.now() - t0) } }
  } finally {
    opening.delete(name)
  }
}

/** ROLLBACK as a simple Query message (run after a plpy.fatal ended the session). */
const ROLLBACK = (() => {
  const sql = Buffer.from('ROLLBACK\0')
  const b = Buffer.alloc(5 + sql.length)
  b[0] = 0x51 // 'Q'
  b.writeInt32BE(4 + sql.length, 1)
  sql.copy(b, 5)
  return new Uint8Array(b)
})()

async function exec(m: Extract<ToWorker, { t: 'exec' }>): Promise<ExecResult> {
  const s = sessions.get(m.sid)
  if (!s) throw new Error(`unknown session ${m.sid}`)
  const { inst } = await openDb(s.db)
  active = inst
  inst.activate()
  inst.runtime.session = m.sid
  // output is cut at a plpy.fatal: the client gets FATAL and its connection closes (plpy-shim/fatal.ts)
  const out = new FatalOutput(inst.runtime)
  host.native.execBegin(m.token, m.timeoutMs)
  try {
    await inst.db.execProtocolRawStream(m.data, {
      syncToFs: false,
      onRawData: (chunk: Uint8Array) => {
        const data = out.filter(chunk)
        if (data.length === 0) return
        const copy = data === chunk ? chunk.slice() : data // a copy out of wasm memory, transferable
        post({ t: 'out', sid: m.sid, data: copy }, [copy.buffer as ArrayBuffer])
      },
    })
    if (takeFatal(inst.runtime)) {
      inst.db.execProtocolRawSync(ROLLBACK) // as the FATAL's proc_exit would (AbortOutOfAnyTransaction)
      return { terminate: true }
    }
    return {}
  } finally {
    host.native.execEnd()
  }
}

async function query(db: string, sql: string): Promise<Array<Record<string, unknown>>> {
  const { inst } = await openDb(db)
  active = inst
  inst.activate()
  inst.runtime.session = 0
  host.native.execBegin(0, 0)
  try {
    return (await inst.db.query(sql)).rows as Array<Record<string, unknown>>
  } finally {
    host.native.execEnd()
  }
}

async function handle(m: ToWorker): Promise<unknown> {
  switch (m.t) {
    case 'open-db':
      return (await openDb(m.name)).info
    case 'session-open':
      sessions.set(m.sid, { db: m.db, user: m.user })
      return null
    case 'session-close':
      sessions.delete(m.sid)
      for (const inst of instances.values()) inst.runtime.dropSession(m.sid)
      host.dropSession(m.sid)
      return null
    case 'exec':
      return exec(m)
    case 'query':
      return query(m.db, m.sql)
    case 'shutdown':
      for (const inst of instances.values()) await inst.close()
      instances.clear()
      return null
  }
}

// Messages are handled one at a time, in order: the engine runs one statement at a time.
let chain: Promise<void> = Promise.resolve()
port.on('message', (m: ToWorker) => {
  chain = chain.then(async () => {
    try {
      const value = await handle(m)
      post({ t: 'reply', id: m.id, ok: true, value })
    } catch (e) {
      if (isLongjmp(e)) log.error({ err: String(e) }, 'a PostgreSQL error escaped to the engine loop')
      const err = e as { message?: string; code?: string }
      post({ t: 'reply', id: m.id, ok: false, error: err?.message ?? String(e), code: err?.code })
    }
  })
})

host = startPythonHost(
  createDispatcher(() => active?.runtime),
  config.pythonPath,
)
post({ t: 'ready', python: host.version, libpython: host.libpython })
