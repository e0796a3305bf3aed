// Session-level advisory locks per session (lockfuncs.c pg_advisory_lock & co.). PostgreSQL's lock manager
// sees one backend here, which never conflicts with itself, so these locks are kept in a table of the
// engine's own, per database, keyed by the lock and the session. A session that must wait for a lock
// cannot wait inside PostgreSQL: the engine is one thread and the holder needs a turn to release it. So
// the statement is abandoned unseen (its output dropped, its implicit transaction rolled back) and its
// whole input is parked, then run again when the lock is released or its holder disconnects; cancel and
// lock_timeout answer a parked input as they would a waiting statement. Where abandoning is not possible
// (inside a transaction block, or after the input already produced output) waiting would deadlock on the
// turn, so it is reported as the deadlock it is (40P01). Deadlocks among waiting sessions too.
// Transaction-level advisory locks stay PostgreSQL's: a transaction holds the backend until it ends, so
// another session's transaction can never hold one at the same time (the turn model).
import { PgError } from '../pg/elog.js'

export type LockMode = 'ExclusiveLock' | 'ShareLock'

interface Held {
  excl: Map<number, number>
  share: Map<number, number>
}

/** A session's input parked until a lock it waits for may be free. */
export interface ParkedInput {
  sid: number
  key: string
  tag: string
  mode: LockMode
  data: Uint8Array
  /** when it began waiting (pg_locks waitstart): kept while it is woken and parks again for the same key */
  at: number
  /** when its statement began (statement_timeout counts from there, across wake-ups) */
  started: number
  /** the BEGIN that opened its transaction block, run again silently before it (psycopg's BEGIN alone) */
  prefix: string | null
  timer?: ReturnType<typeof setTimeout>
}

/** What a lock function may do about a conflict (decided by the worker for the running exec). */
export interface WaitPolicy {
  /** the input can be abandoned unseen and run again later */
  canPark: boolean
  /** park it: the worker drops the exec's output and keeps `data` */
  park(key: string, tag: string, mode: LockMode): void
  /** when the running statement began waiting for `key` (a woken waiter keeps its place), else +Infinity */
  since(key: string): number
}

/**
 * The lock tag fields PostgreSQL shows for a key of this table ('8:<bigint>' or '4:<int>:<int>', made by
 * lockfuncs.ts): lockfuncs.c SET_LOCKTAG_INT64 puts a bigint's high and low 32 bits in classid and objid
 * with objsubid 1, SET_LOCKTAG_INT32 two ints as they are (unsigned, being OIDs) with objsubid 2.
 */
export function keyFields(key: string): { classid: number; objid: number; objsubid: 1 | 2 } {
  const [kind, a = '0', b = '0'] = key.split(':')
  if (kind === '8') {
    const u = BigInt.asUintN(64, BigInt(a))
    return { classid: Number(u >> 32n), objid: Number(u & 0xffffffffn), objsubid: 1 }
  }
  return { classid: Number(a) >>> 0, objid: Number(b) >>> 0, objsubid: 2 }
}

export class AdvisoryLocks {
  private readonly held = new Map<string, Held>()
  /** parked inputs, in the order they started waiting */
  readonly parked: ParkedInput[] = []

  /** Sessions other than `sid` holding `key` in a mode that conflicts with `mode`. */
  blockers(key: string, sid: number, mode: LockMode): number[] {
    const h = this.held.get(key)
    if (!h) return []
    const out = new Set<number>()
    for (const [s, n] of h.excl) if (s !== sid && n > 0) out.add(s)
    if (mode === 'ExclusiveLock') for (const [s, n] of h.share) if (s !== sid && n > 0) out.add(s)
    return [...out]
  }

  /**
   * The sessions `sid` waits for if it asks for `key` in `mode`: the holders of conflicting modes, and the
   * sessions waiting for conflicting modes ahead of it (those that began waiting before `before`), unless it
   * holds the lock in some mode already. lock.c LockAcquireExtended: a request that conflicts with a waiting
   * one (conflictTab[lockmode] & lock->waitMask) waits behind it, or fails when it must not wait; ProcSleep
   * lets a process that already holds the lock go ahead of waiters instead. So a stream of shared lockers
   * cannot starve an exclusive waiter.
   */
  waitsFor(key: string, sid: number, mode: LockMode, before = Number.POSITIVE_INFINITY): number[] {
    const out = this.blockers(key, sid, mode)
    const h = this.held.get(key)
    if (h && (h.excl.has(sid) || h.share.has(sid))) return out
    for (const p of this.parked)
      if (
        p.key === key &&
        p.sid !== sid &&
        p.at < before &&
        (mode === 'ExclusiveLock' || p.mode === 'ExclusiveLock') &&
        !out.includes(p.sid)
      )
        out.push(p.sid)
    return out
  }

  /**
   * Take the lock if nobody holds it in a conflicting mode nor waits for one ahead (`before`: when the
   * asking statement began waiting for it, if it is a woken waiter); taking a mode again always succeeds
   * (lock.c: a lock already held locally is granted at once).
   */
  tryLock(key: string, sid: number, mode: LockMode, before = Number.POSITIVE_INFINITY): boolean {
    const again = this.held.get(key)?.[mode === 'ExclusiveLock' ? 'excl' : 'share'].has(sid)
    if (!again && this.waitsFor(key, sid, mode, before).length > 0) return false
    let h = this.held.get(key)
    if (!h) {
      h = { excl: new Map(), share: new Map() }
      this.held.set(key, h)
    }
    const m = mode === 'ExclusiveLock' ? h.excl : h.share
    m.set(sid, (m.get(sid) ?? 0) + 1)
    return true
  }

  /** Release one hold; false if the session holds none in that mode (the caller warns). */
  unlock(key: string, sid: number, mode: LockMode): boolean {
    const h = this.held.get(key)
    const m = h && (mode === 'ExclusiveLock' ? h.excl : h.share)
    const n = m?.get(sid) ?? 0
    if (!h || !m || n === 0) return false
    if (n > 1) m.set(sid, n - 1)
    else m.delete(sid)
    if (h.excl.size === 0 && h.share.size === 0) this.held.delete(key)
    return true
  }

  /** Every hold, once per (session, key, mode) however often it was re-entered (pg_locks' granted rows). */
  *holds(): Generator<{ key: string; sid: number; mode: LockMode }> {
    for (const [key, h] of this.held) {
      for (const sid of h.excl.keys()) yield { key, sid, mode: 'ExclusiveLock' }
      for (const sid of h.share.keys()) yield { key, sid, mode: 'ShareLock' }
    }
  }

  /** Release all of a session's locks (pg_advisory_unlock_all, disconnect); returns whether it held any. */
  unlockAll(sid: number): boolean {
    let any = false
    for (const [key, h] of this.held) {
      any = h.excl.delete(sid) || any
      any = h.share.delete(sid) || any
      if (h.excl.size === 0 && h.share.size === 0) this.held.delete(key)
    }
    return any
  }

  /** The parked input of a session, if it waits. */
  parkedOf(sid: number): ParkedInput | undefined {
    return this.parked.find((p) => p.sid === sid)
  }

  /** Take a session's parked input out (it runs again, is answered, or its session is gone). */
  unpark(sid: number): ParkedInput | undefined {
    const i = this.parked.findIndex((p) => p.sid === sid)
    if (i < 0) return undefined
    const p = this.parked.splice(i, 1)[0]!
    clearTimeout(p.timer)
    return p
  }

  /**
   * Parked inputs that may get their lock now (they run again): nobody holds it in a conflicting mode and
   * nobody waits ahead of them for a conflicting one (proc.c ProcLockWakeup wakes the queue in order, a
   * waiter whose mode conflicts with those ahead of it stays).
   */
  runnable(): ParkedInput[] {
    const ready = this.parked.filter((p) => this.waitsFor(p.key, p.sid, p.mode, p.at).length === 0)
    for (const p of ready) this.unpark(p.sid)
    return ready
  }

  /**
   * Would `sid` waiting for `key` close a circle of waits (deadlock.c)? Follows each blocker's own wait
   * (a parked session waits for the holders of its key). Returns the circle's description, or null.
   */
  deadlock(
    sid: number,
    key: string,
    tag: string,
    mode: LockMode,
    before = Number.POSITIVE_INFINITY,
  ): string | null {
    const seen = new Set<number>()
    const path: string[] = []
    // waiting for a waiter ahead counts (deadlock.c's soft edges)
    const visit = (s: number, k: string, t: string, m: LockMode, at: number): boolean => {
      for (const b of this.waitsFor(k, s, m, at)) {
        path.push(`Process ${s} waits for ${m} on ${t}; blocked by process ${b}.`)
        if (b === sid) return true
        const w = this.parkedOf(b)
        if (w && !seen.has(b)) {
          seen.add(b)
          if (visit(b, w.key, w.tag, w.mode, w.at)) return true
        }
        path.pop()
      }
      return false
    }
    return visit(sid, key, tag, mode, before) ? path.join('\n') : null
  }
}

/**
 * The lock request of `sid` for `key` conflicts: park its input if it can be run again later, else report
 * the deadlock it would be (40P01, as deadlock.c DeadLockReport words it).
 */
export function conflict(
  locks: AdvisoryLocks,
  sid: number,
  key: string,
  tag: string,
  mode: LockMode,
  policy: WaitPolicy,
  xact = false,
): never {
  const circle = locks.deadlock(sid, key, tag, mode, policy.since(key))
  if (circle)
    throw new PgError('deadlock detected', {
      sqlstate: '40P01',
      detail: circle,
      hint: 'See server log for query details.',
    })
  if (policy.canPark) {
    policy.park(key, tag, mode)
    // unwinds the statement; its output is dropped and its input parked (worker.ts)
    throw new PgError('pyglite: waiting for an advisory lock', { sqlstate: '55P03' })
  }
  const holder = locks.waitsFor(key, sid, mode, policy.since(key))[0]
  throw new PgError('deadlock detected', {
    sqlstate: '40P01',
    detail: `Process ${sid} waits for ${mode} on ${tag}; blocked by process ${holder}.\nProcess ${holder} needs a turn to release it, which process ${sid}'s open transaction block holds (one transaction at a time).`,
    hint: xact
      ? 'Take transaction-level advisory locks right after BEGIN (the statement then waits), or use pg_try_advisory_xact_lock.'
      : 'Take session-level advisory locks outside transaction blocks (they are granted when free, or the statement waits), or use pg_try_advisory_lock.',
  })
}
