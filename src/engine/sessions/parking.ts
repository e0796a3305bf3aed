// Inputs waiting for a session-level advisory lock (advisory.ts). A statement that must wait cannot block
// inside the one engine thread, so its input is abandoned unseen and parked, then run again first in line
// when the lock may be free; cancel and lock_timeout answer it as they would a waiting statement. This file
// decides whether the running input may be parked, parks it, and wakes or answers parked ones.
import { u32be } from '../../util/bytes.js'
import { CTL, type FromWorker, type WorkItem } from '../channel/protocol.js'
import type { LockMode, ParkedInput, WaitPolicy } from './advisory.js'
import type { Backend } from './backend.js'
import type { EngineSession } from './session.js'
import { cancelFirstCommand, STATEMENT_TIMEOUT, USER_CANCEL } from './timeouts.js'

interface Running {
  sid: number
  /** the backend flushed something of this input already: it cannot be run again unseen */
  output: boolean
  parked: { key: string; tag: string; mode: LockMode; timeout: number; statementTimeout: number } | null
  /** the BEGIN its transaction block holds (EngineSession.freshBegin), run again before it when it wakes */
  prefix: string | null
  /** its transaction status when it started */
  status: 'I' | 'T' | 'E'
  /** when it started running (statement_timeout counts from there; a woken input starts again) */
  started: number
  /** a woken parked input: the key it waited for and since when (it keeps its place among the waiters) */
  waited: { key: string; at: number } | null
}

export interface ParkingWorker {
  backends: Map<string, Backend>
  queue: WorkItem[]
  /** the shared control block: output posted counts in CTL.OUT_INFLIGHT until the client took it */
  ctl: Int32Array
  post(m: FromWorker, transfer?: ArrayBuffer[]): void
  /** something became runnable */
  wake(): void
}

const len32 = (d: Uint8Array, o: number) => u32be(d, o + 1)

/** Whole commands: the input ends with Sync, or holds simple Queries only. */
function wholeCommands(data: Uint8Array): boolean {
  let last = 0
  for (let o = 0; o + 5 <= data.length; o += 1 + len32(data, o)) last = data[o]!
  return last === 0x53 || last === 0x51
}

const BEGIN_ONLY = /^\s*(?:BEGIN|START\s+TRANSACTION)\b[^;]*;?\s*$/i
const utf8 = new TextDecoder('utf-8', { ignoreBOM: true })

/**
 * An input that only opens a transaction block: a simple Query, or one unnamed Parse with Bind, Describe,
 * Execute and Sync (psycopg 3 sends its BEGIN so); returns the statement's text, else null.
 */
export function beginOnly(data: Uint8Array): string | null {
  let text: string | null = null
  for (let o = 0; o + 5 <= data.length; ) {
    const t = data[o]!
    const end = o + 1 + len32(data, o)
    if (end > data.length) return null
    if (t === 0x51 || t === 0x50) {
      if (text !== null) return null
      let q = o + 5
      if (t === 0x50) {
        if (data[q] !== 0) return null // a named statement
        q++
      }
      let e = q
      while (e < end && data[e] !== 0) e++
      text = utf8.decode(data.subarray(q, e))
    } else if (t !== 0x42 && t !== 0x44 && t !== 0x45 && t !== 0x53 && t !== 0x48) return null
    o = end
  }
  return text !== null && BEGIN_ONLY.test(text) ? text : null
}

/** The names of the statements an input parses (Parse with a name). */
function namedParses(data: Uint8Array): string[] {
  const out: string[] = []
  for (let o = 0; o + 5 <= data.length; ) {
    const end = o + 1 + len32(data, o)
    if (data[o] === 0x50 && data[o + 5] !== 0) {
      let i = o + 5
      while (i < end && data[i] !== 0) i++
      out.push(utf8.decode(data.subarray(o + 5, i)))
    }
    o = end
  }
  return out
}

export class Parking {
  private running: Running | null = null

  constructor(private readonly w: ParkingWorker) {}

  /**
   * Session s's input starts: it may be parked if it started outside a transaction block, or in one that
   * holds nothing but its BEGIN (psycopg sends BEGIN alone), and it is whole.
   */
  begin(s: EngineSession, data: Uint8Array): void {
    const prefix = s.status === 'T' ? s.freshBegin : null
    // a woken input is the same statement going on: its statement_timeout counts from its first start
    const started = s.resumed?.started ?? Date.now()
    const waited = s.resumed ? { key: s.resumed.key, at: s.resumed.at } : null
    this.running =
      (s.status === 'I' || prefix) && wholeCommands(data)
        ? { sid: s.sid, output: false, parked: null, prefix, status: s.status, started, waited }
        : { sid: s.sid, output: true, parked: null, prefix: null, status: s.status, started, waited }
  }

  /** A backend flush of the running input: false if it was abandoned (the client must see none of it). */
  output(): boolean {
    const r = this.running
    if (!r) return true
    if (r.parked) return false
    r.output = true
    return true
  }

  /** The running input was abandoned to wait (its transaction must not commit: lockfuncs.ts). */
  get abandoned(): boolean {
    return !!this.running?.parked
  }

  /** What a lock function running for session `sid` may do about a conflict. */
  policy(sid: number, lockTimeout: () => number, statementTimeout: () => number): WaitPolicy {
    const r = this.running
    return {
      canPark: !!r && !r.output && r.sid === sid,
      park: (key, tag, mode) => {
        if (r) r.parked = { key, tag, mode, timeout: lockTimeout(), statementTimeout: statementTimeout() }
      },
      since: (key) => (r?.sid === sid && r.waited?.key === key ? r.waited.at : Number.POSITIVE_INFINITY),
    }
  }

  /**
   * The running input ended. If it was abandoned: its transaction (if it opened one) is rolled back, the
   * named statements it parsed are deallocated (it parses them again), and it is parked. Returns whether it
   * was parked (then none of its bytes count as consumed yet).
   */
  end(backend: Backend, s: EngineSession, data: Uint8Array, alive: boolean): boolean {
    const r = this.running
    this.running = null
    const resumed = s.resumed
    s.resumed = null
    const p = alive ? r?.parked : null
    if (!r || !p) {
      // psycopg's BEGIN comes alone: a lock wait right after it can still be abandoned and run again
      s.freshBegin = r?.status === 'I' && s.status === 'T' ? beginOnly(data) : null
      return false
    }
    const undo: string[] = []
    if (s.status !== 'I') undo.push('ROLLBACK')
    for (const name of namedParses(data)) undo.push(`DEALLOCATE "${name.replace(/"/g, '""')}"`)
    if (undo.length) backend.execAll(undo)
    s.status = 'I'
    s.midBatch = false
    s.freshBegin = r.prefix
    // woken, it lost the lock to another waiter and waits again: for PostgreSQL, whose lock manager hands
    // a released lock to the queue's head, that is one wait (its waitstart and lock_timeout go on)
    const at = resumed && resumed.key === p.key ? resumed.at : Date.now()
    const parked: ParkedInput = { sid: s.sid, ...p, data, at, started: r.started, prefix: r.prefix }
    // a waiting statement ends at lock_timeout or statement_timeout, whichever comes first (proc.c
    // ProcSleep, postgres.c ProcessInterrupts); the time the statement ran before it parked counts too
    const lock = p.timeout > 0 ? Math.max(1, p.timeout - (Date.now() - at)) : Number.POSITIVE_INFINITY
    const statement =
      p.statementTimeout > 0
        ? Math.max(1, p.statementTimeout - (Date.now() - r.started))
        : Number.POSITIVE_INFINITY
    const ms = Math.min(lock, statement)
    if (ms !== Number.POSITIVE_INFINITY)
      parked.timer = setTimeout(() => {
        if (backend.locks.unpark(s.sid) !== parked) return
        this.answer(
          parked,
          ms === lock ? { C: '55P03', M: 'canceling statement due to lock timeout' } : STATEMENT_TIMEOUT,
          backend.sessions.get(s.sid),
        )
        this.w.wake()
      }, ms)
    backend.locks.parked.push(parked)
    return true
  }

  /** An input of a session whose earlier input is parked waits behind it (its order is kept). */
  blocks(m: WorkItem, b: Backend | undefined): boolean {
    return m.t === 'input' && !!b && b.locks.parked.length > 0 && !!b.locks.parkedOf(m.sid)
  }

  /** Parked inputs whose lock may be free now run again, first in the queue, in the order they parked. */
  wake(): void {
    for (const b of this.w.backends.values()) {
      if (b.locks.parked.length === 0) continue
      const ready = b.locks.runnable()
      for (let i = ready.length - 1; i >= 0; i--) {
        const p = ready[i]!
        const s = b.sessions.get(p.sid)
        if (s) {
          s.resumePrefix = p.prefix
          s.resumed = { key: p.key, at: p.at, started: p.started }
        }
        this.w.queue.unshift({ t: 'input', sid: p.sid, data: p.data, at: p.at })
      }
    }
  }

  /** A cancel for a session that waits for a lock: its waiting command gets 57014. */
  cancel(backend: Backend, sid: number): boolean {
    const p = backend.locks.unpark(sid)
    if (!p) return false
    this.answer(p, USER_CANCEL, backend.sessions.get(sid))
    this.w.wake()
    return true
  }

  /**
   * A parked input's first command is answered with an error (as the waiting statement's); the rest runs.
   * Inside the transaction block its client opened (the BEGIN sent alone) that error fails the block, as
   * PostgreSQL's would: the client sees 'E' and gets 25P02 until it ends the block (failed.ts).
   */
  private answer(p: ParkedInput, fields: { C: string; M: string }, s: EngineSession | undefined): void {
    const cut = cancelFirstCommand(p.data, p.prefix ? 'E' : 'I', fields)
    if (!cut) return
    if (p.prefix && s) {
      s.status = 'E'
      s.failedAside = true
      s.freshBegin = null
    }
    Atomics.add(this.w.ctl, CTL.OUT_INFLIGHT, cut.answer.length)
    this.w.post({ t: 'out', sid: p.sid, data: cut.answer, consumed: cut.consumed }, [
      cut.answer.buffer as ArrayBuffer,
    ])
    if (cut.consumed < p.data.length)
      this.w.queue.unshift({ t: 'input', sid: p.sid, data: p.data.slice(cut.consumed) })
  }
}
