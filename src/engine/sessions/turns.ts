// Whose work may run now on a backend: the turn rules (a session holds the backend while it is busy;
// waiting work runs in arrival order) and the exceptions that run beside an idle transaction.

import type { WorkItem } from '../channel/protocol.js'
import type { Backend } from './backend.js'

/** Whether `m` may run now on backend `b` (the backend its session or database uses). */
export function runnable(m: WorkItem, b: Backend | undefined): boolean {
  if (!b?.holder) return true
  if ((m.t === 'input' || m.t === 'session-close') && m.sid === b.holder.sid) return true
  return besideOk(m, b)
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
      return preparationOnly(m.data)
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
    o += 1 + ((data[o + 1]! << 24) | (data[o + 2]! << 16) | (data[o + 3]! << 8) | data[o + 4]!)
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
