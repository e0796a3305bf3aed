// Automatic checkpoints of every open database, as PostgreSQL's checkpointer makes them: after
// checkpoint_timeout, or when WAL since the last redo point nears max_wal_size. A standalone backend never
// checkpoints by itself (xlog.c XLogWrite requests one only IsUnderPostmaster), so without this a
// long-running pyglite kept every WAL segment and a crash replayed all of it. Runs on the engine thread,
// only between two work items (never inside an exec): see docs/durability.md.
import { type Logger, logger } from '../../util/log.js'
import type { QueryResult } from '../channel/protocol.js'
import type { Backend } from './backend.js'
import { SqlError } from './session.js'

/** after a failed checkpoint, the next try waits this long (a full disk would otherwise retry per item) */
const RETRY_MS = 10_000
/**
 * Databases are looked at no more often than this: idle() runs after every work item, and a look costs a
 * few µs (a wasm call per database), which pgbench's 10,000 statements a second felt. A checkpoint that
 * falls due meanwhile runs at most this much later (a timer brings the worker back if no work does).
 */
const VISIT_EVERY_MS = 50

// The server's own settings, read as the internal superuser (they are PGC_SIGHUP: postgresql.conf or
// ALTER SYSTEM, then a restart). The WAL trigger is PostgreSQL's: CalculateCheckpointSegments (xlog.c)
// spreads max_wal_size over 1 + checkpoint_completion_target checkpoint cycles.
const STATE_SQL = `SELECT (c.redo_lsn OPERATOR(pg_catalog.-) '0/0'::pg_catalog.pg_lsn)::pg_catalog.text,
  (pg_catalog.date_part('epoch', pg_catalog.current_setting('checkpoint_timeout')::pg_catalog.interval) * 1000)::pg_catalog.int8,
  (pg_catalog.pg_size_bytes(pg_catalog.current_setting('max_wal_size'))
    / (1 + pg_catalog.current_setting('checkpoint_completion_target')::pg_catalog.float8))::pg_catalog.int8
FROM pg_catalog.pg_control_checkpoint() c`

interface DbState {
  /** Date.now() of our last checkpoint (or when we first saw the database) */
  lastAt: number
  /** WAL flush position right after it: beyond it, something was written since */
  endLsn: bigint
  /** its redo point: the WAL after it is what crash recovery replays (-1: to be read) */
  redo: bigint
  /** time trigger, ms */
  intervalMs: number
  /** WAL trigger: bytes since the redo point */
  walBytes: bigint
  /** not before (after a failure) */
  retryAt: number
}

export interface CheckpointsOptions {
  /** run `sql` as the internal superuser on `b` (beside an idle transaction if another session holds it) */
  run(b: Backend, sql: string): QueryResult
  /** come back to idle() (the worker's pump) */
  wake(): void
  /** something other than an SQL error was thrown on `b` (e.g. the backend exited) */
  failed(b: Backend, e: unknown): void
  /** where PYGLITE_CHECKPOINT_INTERVAL_MS is read (default process.env) */
  env?: NodeJS.ProcessEnv
}

export class Checkpoints {
  private readonly state = new WeakMap<Backend, DbState>()
  private timer: NodeJS.Timeout | undefined
  private timerAt = Number.POSITIVE_INFINITY
  /** when the databases were last looked at (Date.now()) */
  private visitedAt = Number.NEGATIVE_INFINITY
  // created here, not at import: the worker configures logging after its imports ran
  private readonly log: Logger = logger('checkpoints')
  /** the time trigger, ms (undefined: the server's checkpoint_timeout); 0 turns automatic checkpoints off */
  private readonly intervalMs: number | undefined

  constructor(private readonly o: CheckpointsOptions) {
    const v = (o.env ?? process.env).PYGLITE_CHECKPOINT_INTERVAL_MS
    const n = Number(v)
    if (v === undefined || v === '') this.intervalMs = undefined
    else if (Number.isInteger(n) && n >= 0) this.intervalMs = n
    else {
      this.log.warn({ value: v }, 'PYGLITE_CHECKPOINT_INTERVAL_MS is not a whole number of ms; ignored')
      this.intervalMs = undefined
    }
  }

  /**
   * The worker is between two work items, or has none: checkpoint every database that is due, and arm a
   * timer for the next one that will be. Costs one wasm call per open database when nothing is due.
   */
  idle(backends: Map<string, Backend>): void {
    if (this.intervalMs === 0) return
    const now = Date.now()
    if (now - this.visitedAt < VISIT_EVERY_MS) {
      // looked at a moment ago: come back when the pause is over, unless the timer comes sooner anyway
      if (this.timerAt > this.visitedAt + VISIT_EVERY_MS) this.arm(this.visitedAt + VISIT_EVERY_MS)
      return
    }
    this.visitedAt = now
    let next = Number.POSITIVE_INFINITY
    for (const [db, b] of [...backends]) {
      try {
        const at = this.visit(db, b)
        if (at < next) next = at
      } catch (e) {
        this.o.failed(b, e)
      }
    }
    this.arm(next)
  }

  /** Check one database; returns when it should be looked at again without any new work (ms epoch). */
  private visit(db: string, b: Backend): number {
    const now = Date.now()
    let st = this.state.get(b)
    if (!st) {
      // first seen (just opened): its timer starts now, as the checkpointer's does when it starts
      st = { lastAt: now, endLsn: flushLsn(b), redo: -1n, intervalMs: 0, walBytes: 0n, retryAt: 0 }
      this.state.set(b, st)
    }
    if (now < st.retryAt) return st.retryAt
    // busy mid-batch, in COPY or a failed transaction: its next input or the idle timeout brings us back
    if (!runsBeside(b)) return Number.POSITIVE_INFINITY
    if (st.redo < 0n && !this.attempt(db, st, () => this.read(b, st))) return st.retryAt
    const flush = flushLsn(b)
    if (flush <= st.endLsn) return Number.POSITIVE_INFINITY // nothing written since: nothing to replay
    const dueAt = st.lastAt + st.intervalMs
    const walDue = flush - st.redo >= st.walBytes
    if (now < dueAt && !walDue) return dueAt
    const t0 = performance.now()
    const wal = flush - st.redo
    // CHECKPOINT in a standalone backend: RequestCheckpoint → CreateCheckPoint(… | IMMEDIATE), which also
    // removes or recycles the WAL segments before the new redo point (RemoveOldXlogFiles)
    if (!this.attempt(db, st, () => this.o.run(b, 'CHECKPOINT'))) return st.retryAt
    const ms = performance.now() - t0
    st.lastAt = Date.now()
    st.endLsn = flushLsn(b)
    st.redo = -1n // read again now or at the next visit
    this.attempt(db, st, () => this.read(b, st))
    this.log.debug(
      {
        db,
        reason: walDue ? 'wal' : 'time',
        ms: Math.round(ms * 10) / 10,
        walBytes: Number(wal),
        redo: st.redo < 0n ? null : lsnText(st.redo),
      },
      'checkpoint',
    )
    return Number.POSITIVE_INFINITY // nothing new written yet
  }

  /** Run `work`; an SQL error is logged and puts the database off for RETRY_MS. */
  private attempt(db: string, st: DbState, work: () => void): boolean {
    try {
      work()
      return true
    } catch (e) {
      if (!(e instanceof SqlError)) throw e
      st.retryAt = Date.now() + RETRY_MS
      this.log.warn({ db, err: e.fields }, 'automatic checkpoint failed; trying again later')
      return false
    }
  }

  /** Redo point and settings from pg_control and the GUCs. */
  private read(b: Backend, st: DbState): void {
    const row = this.o.run(b, STATE_SQL).rows[0]
    if (!row || row.some((v) => v === null)) throw new Error('pg_control_checkpoint() returned no row')
    st.redo = BigInt(row[0]!)
    st.intervalMs = this.intervalMs ?? Number(row[1])
    st.walBytes = BigInt(row[2]!)
  }

  private arm(at: number): void {
    if (at === this.timerAt) return
    clearTimeout(this.timer)
    this.timer = undefined
    this.timerAt = at
    if (!Number.isFinite(at)) return
    this.timer = setTimeout(
      () => {
        this.timer = undefined
        this.timerAt = Number.POSITIVE_INFINITY
        this.o.wake()
      },
      Math.max(0, at - Date.now()),
    )
    this.timer.unref()
  }
}

/** Work may run on `b` now: nobody holds it, or its holder waits idle in a transaction (Backend.aside). */
function runsBeside(b: Backend): boolean {
  return !b.holder || b.asideOpen
}

/** WAL flushed so far: xlog.c GetFlushRecPtr (exported by PGlite; a uint64 comes back as a BigInt). */
function flushLsn(b: Backend): bigint {
  return BigInt(b.inst.heap.M._GetFlushRecPtr(0))
}

function lsnText(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`
}
