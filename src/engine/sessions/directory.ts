// The engine's sessions as pg_stat_activity and the signal functions see them (sysfuncs.ts): every client
// session of every open database, which one runs, which wait for their turn, and how one is ended or has
// its waiting command cancelled. The worker owns the state; this is its read-only view plus two actions.
import type { FromWorker, WorkItem } from '../channel/protocol.js'
import type { Backend } from './backend.js'
import type { SessionDirectory, SessionEntry } from './sysfuncs.js'

/** The FATAL a terminated session's client gets (postgres.c ProcessInterrupts, SIGTERM). */
export const TERMINATED_FATAL = {
  S: 'FATAL',
  V: 'FATAL',
  C: '57P01',
  M: 'terminating connection due to administrator command',
}

export interface WorkerState {
  backends: Map<string, Backend>
  queue: WorkItem[]
  /** the session whose input runs as its turn now (0: none) */
  executing(): number
  post(m: FromWorker): void
  cancelWaiting(sid: number): void
}

export function sessionDirectory(w: WorkerState): SessionDirectory {
  const get = (sid: number): SessionEntry | undefined => {
    for (const [db, backend] of w.backends) {
      const s = backend.sessions.get(sid)
      if (s) return s.terminated || s.closed ? undefined : { s, db, backend }
    }
    return undefined
  }
  return {
    *all() {
      for (const [db, backend] of w.backends)
        for (const s of backend.sessions.values()) if (!s.terminated && !s.closed) yield { s, db, backend }
    },
    get,
    running: () => w.executing(),
    waiting(sid) {
      for (const b of w.backends.values()) {
        const p = b.locks.parkedOf(sid)
        if (p) return { data: p.data, at: p.at }
      }
      for (const m of w.queue)
        if (m.t === 'input' && m.sid === sid) return { data: m.data, at: m.at ?? Date.now() }
      return undefined
    },
    // waiting for another session's transaction (its turn) or, parked, for an advisory lock (advisory.ts)
    waitEvent: (sid) => {
      for (const b of w.backends.values()) if (b.locks.parkedOf(sid)) return ['Lock', 'advisory']
      return ['Lock', 'transactionid']
    },
    terminate(sid) {
      const e = get(sid)
      if (!e) return
      e.s.terminated = true
      const parked = e.backend.locks.unpark(sid)
      if (parked) w.post({ t: 'out', sid, consumed: parked.data.length })
      // its queued inputs never run: their bytes are released; the client is told and closes, and the main
      // thread's session-close then rolls back and frees what it left (sessions.ts closeSession)
      for (let i = w.queue.length - 1; i >= 0; i--) {
        const m = w.queue[i]!
        if (m.t === 'input' && m.sid === sid) {
          w.queue.splice(i, 1)
          w.post({ t: 'out', sid, consumed: m.data.length })
        }
      }
      w.post({ t: 'session-failed', sid, fields: TERMINATED_FATAL })
    },
    blockers(sid) {
      const e = get(sid)
      if (!e) return []
      const p = e.backend.locks.parkedOf(sid)
      // lockfuncs.c pg_blocking_pids: the holders, and the waiters ahead of it for a conflicting mode
      if (p) return e.backend.locks.waitsFor(p.key, sid, p.mode, p.at)
      const h = e.backend.holder
      return h && h.sid !== sid ? [h.sid] : []
    },
    cancelWaiting: (sid) => w.cancelWaiting(sid),
  }
}
