// Whose work may run now on a backend: the turn rules (a session holds the backend while it is busy;
// waiting work runs in arrival order) and the exceptions that run beside an idle transaction.

import { u32be } from '../../util/bytes.js'
import type { WorkItem } from '../channel/protocol.js'
import type { Backend } from './backend.js'

/** Whether `m` may run now on backend `b` (the backend its session or database uses). */
export function runnable(m: WorkItem, b: Backend | undefined): boolean {
  if (!b?.holder) return true
  if ((m.t === 'input' || m.t === 'session-close') && m.sid === b.holder.sid) return true
  return besideOk(m, b)
}

/**
 * A disconnect waits behind what its session sent before it: PostgreSQL reads the client's Terminate (or EOF)
 * only after the statements before it ran (postgres.c PostgresMain reads one message at a time), so a
 * statement waiting for a lock when its client disconnects still runs, and commits, once it gets the lock.
 */
export function closeWaits(m: WorkItem, queue: readonly WorkItem[]): boolean {
  if (m.t !== 'session-close') return false
  for (const x of queue) {
    if (x === m) return false
    if (x.t === 'input' && x.sid === m.sid) return true
  }
  return false
}

/** Work that may run beside the holder's idle transaction (Backend.aside) instead of waiting for it. */
function besideOk(m: WorkItem, b: Backend): boolean {
  if (!b.asideOpen) return false
  switch (m.t) {
    case 'query':
    case 'session-open':
      return true
    case 'session-close':
      return !b.sessions.get(m.sid)?.busy
    case 'input':
      // a failed block answers Parse and SELECT with 25P02: that needs its failed block made again (failed.ts)
      if (b.sessions.get(m.sid)?.failedAside) return false
      return preparationOnly(m.data) || (!b.sessions.get(m.sid)?.busy && monitoringOnly(m.data))
    default:
      return false
  }
}

/**
 * A batch that only prepares, describes or closes statements and ends with Sync (PQprepare: Parse, Sync).
 * A client driving several connections from one thread prepares on one while another holds a transaction.
 */
function preparationOnly(data: Uint8Array): boolean {
  let o = 0
  let last = 0
  while (o + 5 <= data.length) {
    const t = data[o]!
    const kind = data[o + 5]
    const ok = t === 0x50 || t === 0x48 || t === 0x53 || ((t === 0x44 || t === 0x43) && kind === 0x53) // P H S, D/C 'S'
    if (!ok) return false
    last = t
    o += 1 + u32be(data, o + 1)
  }
  return last === 0x53
}

/** What an administrator runs to see and end sessions: it must not wait behind the transaction it looks at. */
const MONITORING =
  /\bpg_(?:stat_activity|stat_get_activity|terminate_backend|cancel_backend|backend_pid|blocking_pids|locks|stat_ssl)\b/i
const utf8 = new TextDecoder('utf-8', { ignoreBOM: true })

/** One SELECT (no second statement: it runs inside another session's transaction) that monitors sessions. */
export function monitoringSql(sql: string): boolean {
  const t = sql.replace(/^(?:\s+|--[^\n]*\n?|\/\*[\s\S]*?\*\/)*/, '')
  if (!/^select\b/i.test(t) || !MONITORING.test(t)) return false
  const semi = t.indexOf(';')
  return semi < 0 || /^[\s;]*$/.test(t.slice(semi))
}

/**
 * A batch that only looks at sessions (pg_stat_activity, pg_terminate_backend(…), …): one simple Query, or
 * Parse/Bind/Describe/Execute/Close up to Sync whose every Parse is such a statement and whose Binds name
 * only statements parsed in the batch. It runs beside the holder's idle transaction, read-only, so that a
 * waiting session can be seen and the session everyone waits for ended (docs/sessions.md).
 */
function monitoringOnly(data: Uint8Array): boolean {
  const len = (o: number) => u32be(data, o + 1)
  const cstr = (o: number, end: number) => {
    let i = o
    while (i < end && data[i] !== 0) i++
    return i
  }
  if (data[0] === 0x51) {
    const end = 1 + len(0)
    return end === data.length && monitoringSql(utf8.decode(data.subarray(5, cstr(5, end))))
  }
  const parsed = new Set<string>()
  let o = 0
  let last = 0
  while (o + 5 <= data.length) {
    const t = data[o]!
    const end = o + 1 + len(o)
    if (end > data.length) return false
    if (t === 0x50) {
      const n = cstr(o + 5, end)
      if (!monitoringSql(utf8.decode(data.subarray(n + 1, cstr(n + 1, end))))) return false
      parsed.add(utf8.decode(data.subarray(o + 5, n)))
    } else if (t === 0x42) {
      const p = cstr(o + 5, end) + 1
      if (!parsed.has(utf8.decode(data.subarray(p, cstr(p, end))))) return false
    } else if (t !== 0x44 && t !== 0x45 && t !== 0x53 && t !== 0x43 && t !== 0x48) return false
    last = t
    o = end
  }
  return last === 0x53
}

/** Run `work` now: beside the holder's idle transaction if another session holds the backend. */
export function besideHolder<T>(b: Backend, sid: number, work: () => T): T {
  return b.holder && b.holder.sid !== sid ? b.aside(work) : work()
}

/** Consecutive inputs of one session run as one batch. */
export function joinBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const j = new Uint8Array(a.length + b.length)
  j.set(a)
  j.set(b, a.length)
  return j
}
