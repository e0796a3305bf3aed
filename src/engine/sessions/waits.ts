// The timers of work that waits (worker.ts's queue): statement_timeout of an input queued behind another
// session's transaction, and idle_in_transaction_session_timeout of a holder that stays idle inside one.
import type { WorkItem } from '../channel/protocol.js'
import type { Backend } from './backend.js'
import type { EngineSession } from './session.js'
import { STATEMENT_TIMEOUT, savedStatementTimeout, takeWaitingCommand } from './timeouts.js'

type Input = Extract<WorkItem, { t: 'input' }>

export interface WaitContext {
  queue: WorkItem[]
  backendOf(m: WorkItem): Backend | undefined
  /** the error answer to a waiting command that will not run */
  postAnswer(sid: number, cut: { answer: Uint8Array; consumed: number }): void
  /** let the queue run (a timer put work in it, or took some out) */
  wake(): void
}

export class WaitTimers {
  /** statement_timeout timers of queued inputs, cleared when the input starts */
  private readonly inputs = new WeakMap<WorkItem, NodeJS.Timeout>()

  constructor(private readonly c: WaitContext) {}

  /**
   * An input that has to wait for its turn behind another session's transaction is a statement waiting for
   * a lock, as PostgreSQL sees it: its statement_timeout runs from its arrival, and its first command fails
   * with 57014 if it still waits for the turn then (once it runs, the native timer takes over).
   */
  queued(item: Input): void {
    const { c } = this
    const backend = c.backendOf(item)
    const s = backend?.sessions.get(item.sid)
    if (!backend || !s || backend.holder === s) return // inside its own transaction: it runs next
    // the settings in the backend are the owner's own (saved into the session only when another comes in)
    const ms = backend.owns(s) ? backend.statementTimeout() : savedStatementTimeout(s)
    if (ms <= 0) return
    const timer = setTimeout(() => {
      if (c.queue.find((m) => m.t === 'input' && m.sid === item.sid) !== item) return // it ran, or was cut
      const cut = takeWaitingCommand(c.queue, item.sid, c.backendOf, STATEMENT_TIMEOUT)
      if (!cut) return // not waiting for another session's turn
      c.postAnswer(item.sid, cut)
      c.wake()
    }, ms)
    this.inputs.set(item, timer)
  }

  /** The input starts running: its wait is over. */
  started(item: Input): void {
    clearTimeout(this.inputs.get(item))
  }

  /**
   * The holder stays idle inside a transaction (or an unsynced batch): it blocks everyone, so it is timed.
   * So is a session idle in a failed block (failed.ts), as PostgreSQL times "idle in transaction (aborted)".
   */
  idle(backend: Backend, s: EngineSession): void {
    if (s.closed || s.copyIn) return
    if (!s.failedAside && (!s.busy || backend.holder !== s)) return
    const ms = backend.idleInTransactionTimeout()
    if (ms <= 0) return
    const at = s.turns
    s.idleTimer = setTimeout(() => {
      this.c.queue.unshift({ t: 'idle-timeout', sid: s.sid, at })
      this.c.wake()
    }, ms)
  }
}
