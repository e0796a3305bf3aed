// The main thread's handle on the engine worker: starts it, sends it work, routes its output to sessions,
// and releases the worker when a client has taken output off its hands (backpressure).
import fs from 'node:fs'
import { Worker } from 'node:worker_threads'
import { CANCEL_TIMEOUT, CANCEL_USER, loadNative, type Native } from '../python/host.js'
import { logger } from '../util/log.js'
import { InputBatch, inputFrame, readOutput } from './channel/frames.js'
import {
  CTL,
  type DbOpened,
  type EngineConfig,
  type FromWorker,
  OUT_LOW_WATER,
  type QueryResult,
  type SessionOpen,
  type SessionOpened,
  type ToWorker,
} from './channel/protocol.js'

const log = logger('engine-client')
/** Inputs this large are posted on their own, transferred, instead of being copied into the turn's batch. */
const BIG_INPUT = 1 << 16

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void }
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never

/**
 * The engine thread's script: the bundle `npm run build` makes of worker.js and its modules (one file loads
 * ~60 ms faster: scripts/bundle-engine.mjs), unless it is missing or older than worker.js (tsc alone ran).
 */
function workerScript(): URL {
  const modules = new URL('./worker.js', import.meta.url)
  const bundle = new URL('./worker.bundle.js', import.meta.url)
  try {
    if (fs.statSync(bundle).mtimeMs >= fs.statSync(modules).mtimeMs) return bundle
  } catch {
    // no bundle (or no worker.js, which the Worker will report)
  }
  return modules
}

export class EngineError extends Error {
  constructor(
    message: string,
    readonly code?: string,
    readonly fields?: Record<string, string>,
  ) {
    super(message)
    this.name = 'EngineError'
  }
}

/** What the engine tells a session's connection. */
export interface SessionSink {
  /** backend output; call `done()` once it is handed to the kernel (or dropped) */
  data(bytes: Uint8Array, done: () => void): void
  /** the engine has consumed this many of the session's input bytes */
  consumed(n: number): void
  /** the session cannot go on (its backend died, its role vanished): report `fields` as FATAL and close */
  failed(fields: Record<string, string>): void
  /** the session ended with a FATAL that is already in its output (plpy.fatal): close after the output */
  ended(): void
}

export class Engine {
  private nextId = 1
  private readonly pending = new Map<number, Pending>()
  private readonly sinks = new Map<number, SessionSink>()
  private readonly native: Native
  private readonly ctl: Int32Array
  python = ''
  /** pglite.wasm as the engine thread compiled it (for helper threads: no compile on this thread) */
  wasmModule: WebAssembly.Module | undefined
  /** called if the engine thread ends without close() (the process cannot serve anything any more) */
  onUnexpectedExit: (() => void) | undefined
  private exited = false
  private closing = false

  private constructor(
    private readonly worker: Worker,
    control: SharedArrayBuffer,
  ) {
    this.native = loadNative()
    this.ctl = new Int32Array(control)
    worker.on('message', (m: FromWorker) => this.onMessage(m))
    worker.on('error', (e) => {
      log.error({ err: e }, 'engine worker failed')
      this.failAll(e)
    })
    worker.on('exit', (code) => {
      this.exited = true
      if (code !== 0 && !this.closing) log.error({ code }, 'engine worker exited')
      this.failAll(new Error(`engine worker exited with code ${code}`))
      if (!this.closing) this.onUnexpectedExit?.()
    })
  }

  /** Start the engine thread; resolves once Python and the native path are up. */
  static async start(config: Omit<EngineConfig, 'control'>): Promise<Engine> {
    const control = new SharedArrayBuffer(CTL.SIZE * 4)
    const worker = new Worker(workerScript(), {
      workerData: { ...config, control },
      // deep SQL → Python → SQL recursion needs stack; the bridge caps depth well below this
      resourceLimits: { stackSizeMb: 256 },
    })
    const ready = new Promise<Extract<FromWorker, { t: 'ready' }>>((resolve, reject) => {
      const onMsg = (m: FromWorker) => {
        if (!(m instanceof Uint8Array) && m.t === 'ready') {
          worker.off('message', onMsg)
          resolve(m)
        }
      }
      worker.on('message', onMsg)
      worker.once('error', reject)
      worker.once('exit', (code) => reject(new Error(`engine worker exited during start-up (code ${code})`)))
    })
    const engine = new Engine(worker, control)
    const r = await ready
    engine.python = r.python
    engine.wasmModule = r.wasmModule
    return engine
  }

  private onMessage(m: FromWorker): void {
    if (m instanceof Uint8Array) {
      const o = readOutput(m)
      this.out(o.sid, o.data, o.consumed, o.terminate)
      return
    }
    switch (m.t) {
      case 'reply': {
        const p = this.pending.get(m.id)
        if (!p) return
        this.pending.delete(m.id)
        if (m.ok) p.resolve(m.value)
        else p.reject(new EngineError(m.error, m.code, m.fields))
        return
      }
      case 'out':
        this.out(m.sid, m.data, m.consumed ?? 0, m.terminate === true)
        return
      case 'session-failed':
        this.sinks.get(m.sid)?.failed(m.fields)
        return
      case 'log':
        log[m.level](m.data ?? {}, m.msg)
        return
    }
  }

  /** A session's output and/or how much of its input the engine consumed. */
  private out(sid: number, data: Uint8Array | undefined, consumed: number, terminate: boolean): void {
    const sink = this.sinks.get(sid)
    if (data) {
      const n = data.length
      if (sink) sink.data(data, () => this.drained(n))
      else this.drained(n)
    }
    if (consumed) sink?.consumed(consumed)
    if (terminate) sink?.ended()
  }

  /** `n` output bytes left the process: wake the worker if it waits for a slow client. */
  private drained(n: number): void {
    const left = Atomics.sub(this.ctl, CTL.OUT_INFLIGHT, n) - n
    if (left <= OUT_LOW_WATER && Atomics.load(this.ctl, CTL.OUT_WAITING)) this.wake()
  }

  private wake(): void {
    Atomics.add(this.ctl, CTL.WAKE, 1)
    Atomics.notify(this.ctl, CTL.WAKE)
  }

  private failAll(e: Error): void {
    for (const p of this.pending.values()) p.reject(e)
    this.pending.clear()
    for (const sink of this.sinks.values())
      sink.failed({ S: 'FATAL', V: 'FATAL', C: 'XX000', M: `the engine stopped: ${e.message}` })
  }

  private send(m: ToWorker, transfer?: ArrayBuffer[]): void {
    this.flushInputs() // keep arrival order
    this.worker.postMessage(m, transfer ?? [])
    this.wake() // the worker may be blocked waiting for this session's COPY data or for a close
  }

  /** Inputs that arrived during this event-loop turn, sent to the worker as one message. */
  private readonly inputs = new InputBatch()
  private inputsScheduled = false
  private readonly flushScheduled = () => {
    this.inputsScheduled = false
    this.flushInputs()
  }

  private flushInputs(): void {
    if (this.inputs.empty) return
    this.worker.postMessage(this.inputs.take())
    this.wake()
  }

  private request<T>(m: DistributiveOmit<ToWorker, 'id'>): Promise<T> {
    if (this.exited) return Promise.reject(new Error('engine is not running'))
    const id = this.nextId++
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject })
      this.send({ ...m, id } as ToWorker)
    })
  }

  openDatabase(name: string): Promise<DbOpened> {
    return this.request({ t: 'open-db', name })
  }

  /** Close database `name`'s PGlite if it has no sessions; true when it is closed (or was not open). */
  closeDatabase(name: string): Promise<boolean> {
    return this.request({ t: 'close-db', name })
  }

  /** Create a session on the engine (applies its start-up settings); `sink` receives its output. */
  async openSession(open: SessionOpen, sink: SessionSink): Promise<SessionOpened> {
    this.sinks.set(open.sid, sink)
    try {
      const r = await this.request<SessionOpened>({ t: 'session-open', ...open })
      if (!r.ok) this.sinks.delete(open.sid)
      return r
    } catch (e) {
      this.sinks.delete(open.sid)
      throw e
    }
  }

  /**
   * Complete frontend messages of a session (copied: the caller may reuse `data`); they run in its turn,
   * output arrives at its sink.
   */
  input(sid: number, data: Uint8Array): void {
    if (this.exited) return
    if (data.length >= BIG_INPUT) {
      // a large message (a big COPY chunk or Bind) is not copied through the batch: it goes alone, in order
      this.flushInputs()
      const f = inputFrame(sid, data, Date.now())
      this.worker.postMessage(f, [f.buffer as ArrayBuffer])
      this.wake()
      return
    }
    // batched per event-loop turn: several clients' messages read in one poll phase cost one post
    // its arrival time: pg_stat_activity's query_start while it waits for its turn
    this.inputs.add(sid, data, Date.now())
    if (!this.inputsScheduled) {
      this.inputsScheduled = true
      setImmediate(this.flushScheduled)
    }
  }

  /** End a session: rolls back what it left open and frees its state. Its sink gets nothing more. */
  async closeSession(sid: number): Promise<void> {
    this.sinks.delete(sid)
    if (this.exited) return
    await this.request({ t: 'session-close', sid })
  }

  /**
   * Interrupt session `sid`'s running statement, if one runs (SQL and Python alike). Any time, no waiting.
   * `waiting`: also a command that waits for its turn or a lock (not for a vanished client's: see Connection).
   */
  cancel(sid: number, reason: 'user' | 'timeout' = 'user', waiting = true): boolean {
    const running = this.native.cancel(sid, reason === 'timeout' ? CANCEL_TIMEOUT : CANCEL_USER)
    // not running: its command may be waiting for its turn (another client holds a transaction); the
    // engine answers that one with 57014 (as a backend waiting for a lock would), see worker cancelWaiting
    if (waiting && !running && !this.exited && this.sinks.has(sid)) this.send({ t: 'cancel-waiting', sid })
    return running
  }

  /** An internal query as superuser (simple protocol): column names and rows of text values. */
  queryRows(db: string, sql: string): Promise<QueryResult> {
    return this.request({ t: 'query', db, sql })
  }

  /** An internal query as superuser: rows as objects of text values (null for NULL). */
  async query<T = Record<string, string | null>>(db: string, sql: string): Promise<T[]> {
    const r = await this.queryRows(db, sql)
    return r.rows.map((row) => Object.fromEntries(r.columns.map((c, i) => [c, row[i] ?? null])) as T)
  }

  /** A live backup of the data directory into `dest` (src/backup): the engine pauses while it copies. */
  backup(dest: string, version: string): Promise<{ files: number; bytes: number; ms: number }> {
    return this.request({ t: 'backup', dest, version })
  }

  async close(): Promise<void> {
    if (this.exited) return
    try {
      await this.request({ t: 'shutdown' })
    } finally {
      this.closing = true
      await this.worker.terminate()
    }
  }
}
