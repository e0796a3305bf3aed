// The main thread's handle on the engine worker: starts it, sends it work, routes its output to sessions.
import { Worker } from 'node:worker_threads'
import { logger } from '../log.js'
import { CANCEL_TIMEOUT, CANCEL_USER, loadNative, type Native } from '../plpython/host.js'
import type { DbOpened, EngineConfig, ExecResult, FromWorker, ToWorker } from './protocol.js'

const log = logger('engine-client')

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void }
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never

export class EngineError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message)
    this.name = 'EngineError'
  }
}

export class Engine {
  private nextId = 1
  private readonly pending = new Map<number, Pending>()
  private readonly sinks = new Map<number, (data: Uint8Array) => void>()
  private readonly native: Native
  python = ''
  private exited = false

  private constructor(private readonly worker: Worker) {
    this.native = loadNative()
    worker.on('message', (m: FromWorker) => this.onMessage(m))
    worker.on('error', (e) => {
      log.error({ err: e }, 'engine worker failed')
      this.failAll(e)
    })
    worker.on('exit', (code) => {
      this.exited = true
      if (code !== 0) log.error({ code }, 'engine worker exited')
      this.failAll(new Error(`engine worker exited with code ${code}`))
    })
  }

  /** Start the engine thread; resolves once Python and the native path are up. */
  static async start(config: EngineConfig): Promise<Engine> {
    const worker = new Worker(new URL('./worker.js', import.meta.url), {
      workerData: config,
      // deep SQL → Python → SQL recursion needs stack; the bridge caps depth well below this
      resourceLimits: { stackSizeMb: 256 },
    })
    const ready = new Promise<FromWorker & { t: 'ready' }>((resolve, reject) => {
      const onMsg = (m: FromWorker) => {
        if (m.t === 'ready') {
          worker.off('message', onMsg)
          resolve(m)
        }
      }
      worker.on('message', onMsg)
      worker.once('error', reject)
      worker.once('exit', (code) => reject(new Error(`engine worker exited during start-up (code ${code})`)))
    })
    const engine = new Engine(worker)
    const r = await ready
    engine.python = r.python
    return engine
  }

  private onMessage(m: FromWorker): void {
    switch (m.t) {
      case 'reply': {
        const p = this.pending.get(m.id)
        if (!p) return
        this.pending.delete(m.id)
        if (m.ok) p.resolve(m.value)
        else p.reject(new EngineError(m.error, m.code))
        return
      }
      case 'out':
        this.sinks.get(m.sid)?.(m.data)
        return
      case 'log':
        log[m.level](m.data ?? {}, m.msg)
        return
    }
  }

  private failAll(e: Error): void {
    for (const p of this.pending.values()) p.reject(e)
    this.pending.clear()
  }

  private request<T>(m: DistributiveOmit<ToWorker, 'id'>): Promise<T> {
    if (this.exited) return Promise.reject(new Error('engine is not running'))
    const id = this.nextId++
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject })
      this.worker.postMessage({ ...m, id } as ToWorker)
    })
  }

  openDatabase(name: string): Promise<DbOpened> {
    return this.request({ t: 'open-db', name })
  }

  /** Register a session; `sink` receives every backend message produced for it. */
  openSession(sid: number, db: string, user: string, sink: (data: Uint8Array) => void): Promise<void> {
    this.sinks.set(sid, sink)
    return this.request({ t: 'session-open', sid, db, user })
  }

  async closeSession(sid: number): Promise<void> {
    try {
      await this.request({ t: 'session-close', sid })
    } finally {
      this.sinks.delete(sid)
    }
  }

  /** Run complete frontend messages for a session. `token` identifies this exec for cancel(). */
  exec(sid: number, token: number, data: Uint8Array, timeoutMs = 0): Promise<ExecResult> {
    return this.request({ t: 'exec', sid, token, timeoutMs, data })
  }

  /** Interrupt the exec `token` if it is still running (SQL and Python alike). Any time, no waiting. */
  cancel(token: number, reason: 'user' | 'timeout' = 'user'): boolean {
    return this.native.cancel(token, reason === 'timeout' ? CANCEL_TIMEOUT : CANCEL_USER)
  }

  query<T = Record<string, unknown>>(db: string, sql: string): Promise<T[]> {
    return this.request({ t: 'query', db, sql })
  }

  async close(): Promise<void> {
    if (this.exited) return
    try {
      await this.request({ t: 'shutdown' })
    } finally {
      await this.worker.terminate()
    }
  }
}
