// Runs one session's input on its backend (the engine thread's main work, driven by worker.ts's queue): its
// turn starts or goes on, the statements run with statement_timeout armed, the output is tracked, filtered
// (notifications, GUC reports, timeout wording) and handed to the main thread; a preparation-only batch of
// a session that does not hold the backend runs beside the holder's transaction instead.
import { FatalOutput, fatalPending, takeFatal } from '../plpy-shim/fatal.js'
import type { PythonHost } from '../python/host.js'
import { logger } from '../util/log.js'
import { CTL, type FromWorker, type WorkItem } from './channel/protocol.js'
import type { Backend } from './sessions/backend.js'
import { copyStartEnd, mentionsStdin } from './sessions/copyviolation.js'
import { releaseFailedBlock, replayFailedBlock } from './sessions/failed.js'
import { type Delivery, routeNotifications, trackListen } from './sessions/notify.js'
import { Output } from './sessions/output.js'
import type { Parking } from './sessions/parking.js'
import { mentionsHold } from './sessions/portals.js'
import { filterReports } from './sessions/reports.js'
import type { EngineSession } from './sessions/session.js'
import { afterTurn } from './sessions/sessions.js'
import { mayCreateTemp } from './sessions/temps.js'
import { rewordTimeout } from './sessions/timeouts.js'
import { joinBytes } from './sessions/turns.js'
import type { Instance } from './storage/instance.js'
import type { ExecIo } from './storage/pgio.js'
import { BackendExited } from './storage/pgio.js'

const log = logger('engine')

/** What the runner needs of the engine thread (worker.ts). */
export interface RunnerContext {
  ctl: Int32Array
  post(m: FromWorker, transfer?: ArrayBuffer[]): void
  queue: WorkItem[]
  /** messages that arrived while an input runs, moved into the queue */
  drainPort(): void
  host(): PythonHost
  parking: Parking
  /** the backend and session of `sid`, if it is open */
  find(sid: number): { backend: Backend; s: EngineSession } | undefined
  activate(inst: Instance): void
  /** the session whose input is running now, 0 between inputs */
  setExecuting(sid: number): void
  backendDied(e: BackendExited, backend?: Backend): void
  sessionFailed(backend: Backend, sid: number, e: unknown): void
  closeEngineSession(backend: Backend, sid: number): void
  /** idle_in_transaction_session_timeout for a holder that stays idle inside its transaction */
  armIdleTimer(backend: Backend, s: EngineSession): void
}

export class Runner {
  constructor(private readonly c: RunnerContext) {}

  /** Run a session's messages: its turn starts (or goes on) here and lasts while it is busy. */
  input(sid: number, first: Uint8Array): void {
    const { c } = this
    const found = c.find(sid)
    if (!found || found.s.terminated) {
      c.post({ t: 'out', sid, consumed: first.length }) // the session is gone: just release the bytes
      return
    }
    const { backend, s } = found
    if (backend.holder && backend.holder !== s) {
      this.beside(backend, s, first)
      return
    }
    // consecutive inputs of this session form one batch (a pipelining client)
    let data = first
    while (c.queue[0]?.t === 'input' && c.queue[0].sid === sid) {
      const next = c.queue.shift() as { data: Uint8Array }
      data = joinBytes(data, next.data)
    }
    const rt = backend.inst.runtime
    const fatal = {
      pending: () => fatalPending(rt),
      filter: () => new FatalOutput(rt, backend.stream.position()),
    }
    clearTimeout(s.idleTimer)
    s.turns++
    s.activity.begin(data, s.status, Date.now())
    trackListen(s, data) // pending until its transaction commits (Backend.transactionEnded)
    const heap = backend.inst.heap
    const cancelFlag = heap.M._QueryCancelPending as number
    const out = new Output(sid, c.ctl, c.post, c.queue, c.drainPort, fatal, () => {
      heap.refresh()
      return heap.i32[cancelFlag >> 2] !== 0
    })
    backend.holder = s
    c.activate(backend.inst)
    backend.inst.runtime.session = sid
    try {
      if (!s.temp && mayCreateTemp(data)) backend.temps.claim(s) // temps.ts: a temp schema of its own
      if (!s.mayHold && mentionsHold(data)) s.mayHold = true // portals.ts: WITH HOLD cursors follow it
      backend.switchTo(s)
      replayFailedBlock(backend, s) // failed.ts: its failed transaction block, rolled back meanwhile
      if (s.resumePrefix) {
        // a parked input woken: the BEGIN its client saw answered is run again first, silently
        const begin = s.resumePrefix
        s.resumePrefix = null
        backend.exec(begin)
        s.status = 'T'
      }
    } catch (e) {
      c.sessionFailed(backend, sid, e)
      c.post({ t: 'out', sid, consumed: data.length })
      return
    }
    const native = c.host().native
    // statement_timeout: the session's value when its input starts (per exec: see docs/sessions.md)
    native.execBegin(sid, backend.statementTimeout())
    c.setExecuting(sid)
    c.parking.begin(s, data)
    let terminate = false
    const catalogs = rt.watch.generation // temps.ts adopt: did this turn change the catalogs?
    try {
      const io = out.io(() => backend.io.hasPendingInput || out.leftover !== undefined)
      // a batch that may start COPY FROM STDIN runs in pieces: the messages after the one that starts it
      // reach the backend through Output.more, which refuses what COPY refuses (sessions/copyviolation.ts)
      backend.running = s
      if (!s.mayCopyIn && mentionsStdin(data)) s.mayCopyIn = true
      for (let rest: Uint8Array | undefined = data; rest; ) {
        const cut = copyStartEnd(rest, s.mayCopyIn)
        out.leftover = cut < rest.length ? rest.subarray(cut) : undefined
        this.runPiece(backend, s, rest.subarray(0, cut), io)
        rest = out.takeLeftover()
        if (!c.parking.output() || out.protocolViolation) break
      }
    } catch (e) {
      if (e instanceof BackendExited) c.backendDied(e, backend)
      else {
        log.error({ err: e, sid }, 'exec failed')
        c.sessionFailed(backend, sid, e)
      }
    } finally {
      backend.running = null
      // DDL on the shared temp pair that the input's text did not show: the pair becomes the session's own
      if (!s.temp && rt.watch.generation !== catalogs) backend.temps.adopt(s)
      // plpy.fatal: the client got its FATAL; end the session as a dying backend would (rollback, cleanup)
      // or a message COPY FROM STDIN refuses (sessions/copyviolation.ts): PostgreSQL's FATAL ends the session
      if (takeFatal(backend.inst.runtime) || out.protocolViolation) {
        terminate = true
        c.closeEngineSession(backend, sid)
      }
      const parked = c.parking.end(backend, s, data, !s.closed && !terminate)
      s.activity.end(s.status, Date.now())
      if (!s.closed && !terminate) {
        afterTurn(backend, s)
        releaseFailedBlock(backend, s) // failed.ts: a failed block holds no locks, nor the backend
      }
      native.execEnd()
      c.setExecuting(0)
      // notifications held while it was in a failed block: before its ReadyForQuery, as async.c sends them
      const held = s.heldNotifications
      if (held.length > 0 && s.status === 'I' && !s.failedAside && out.beforeReady(held)) held.length = 0
      out.finish(parked ? 0 : data.length, terminate)
      if (s.heldNotifications.length > 0 && s.status === 'I')
        for (const n of s.heldNotifications.splice(0)) this.deliver({ sid, data: n })
      if (!s.busy || s.closed) backend.holder = null
      if ((s.busy && !s.closed) || s.failedAside) c.armIdleTimer(backend, s)
    }
  }

  /** One exec of a session's messages, its output filtered (notifications, GUC reports, timeout wording). */
  private runPiece(backend: Backend, s: EngineSession, data: Uint8Array, io: ExecIo): void {
    const { c } = this
    const native = c.host().native
    backend.run(s, data, {
      more: io.more,
      out: (chunk) => {
        if (!c.parking.output()) return // abandoned to wait for an advisory lock: the client sees none of it
        let o = chunk
        const boundary = backend.stream.atBoundary() // between messages: the chunk starts with one
        if (native.cancelKind() === 2 && boundary) o = rewordTimeout(o)
        if (boundary) {
          if (backend.listening)
            o = routeNotifications(o, s, backend.sessions.values(), (d) => this.deliver(d))
          o = filterReports(o, s)
        }
        io.out(o)
      },
    })
  }

  /**
   * A notification for a session that is not running: it goes out at once (PostgreSQL: at its next idle),
   * unless the session is in a failed transaction block (failed.ts), which async.c ProcessNotifyInterrupt
   * does not count as idle: then after the block ends.
   */
  deliver(d: Delivery): void {
    const to = this.c.find(d.sid)?.s
    if (to?.failedAside) {
      to.heldNotifications.push(d.data)
      return
    }
    Atomics.add(this.c.ctl, CTL.OUT_INFLIGHT, d.data.length)
    this.c.post({ t: 'out', sid: d.sid, data: d.data }, [d.data.buffer as ArrayBuffer])
  }

  /** A preparation-only batch of a session that does not hold the backend (see besideOk). */
  private beside(backend: Backend, s: EngineSession, data: Uint8Array): void {
    const { c } = this
    c.activate(backend.inst)
    backend.inst.runtime.session = s.sid
    const native = c.host().native
    native.execBegin(0, 0)
    let out: Uint8Array | undefined
    try {
      out = backend.aside(() => {
        backend.switchTo(s)
        // inside another session's transaction, in a savepoint rolled back: a write would be lost, so none
        // may happen (a preparation writes nothing; a monitoring SELECT fails with 25006 if it tries)
        backend.exec('SET LOCAL transaction_read_only = on')
        return backend.runBeside(s, data)
      })
    } catch (e) {
      if (e instanceof BackendExited) c.backendDied(e, backend)
      else c.sessionFailed(backend, s.sid, e)
    } finally {
      native.execEnd()
      backend.inst.runtime.session = backend.holder?.sid ?? 0
    }
    if (out?.length) Atomics.add(c.ctl, CTL.OUT_INFLIGHT, out.length)
    const bytes = out?.length ? out : undefined
    c.post(
      { t: 'out', sid: s.sid, data: bytes, consumed: data.length },
      bytes ? [bytes.buffer as ArrayBuffer] : [],
    )
  }
}
