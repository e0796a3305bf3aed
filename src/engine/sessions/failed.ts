// A session idle in a failed transaction block ("idle in transaction (aborted)") does not hold the backend.
// In PostgreSQL an error inside a transaction block aborts the transaction at once (xact.c
// AbortCurrentTransactionInternal, TBLOCK_INPROGRESS: AbortTransaction releases its locks and ends its xid,
// then TBLOCK_ABORT waits for ROLLBACK); other backends go on. Here the turn would otherwise last until the
// client's ROLLBACK, keeping every other session (and new connections) waiting. So at the end of such a turn
// the backend's transaction is rolled back, the session keeps its status 'E' for its client and monitoring,
// and before its next input the failed block is made again: that input gets PostgreSQL's own answers
// (25P02 "current transaction is aborted…", COMMIT answered ROLLBACK, ROLLBACK).
import { logger } from '../../util/log.js'
import type { Backend } from './backend.js'
import type { EngineSession } from './session.js'

const log = logger('sessions')

/**
 * The session's turn ended in a failed transaction block: roll it back and let others run. Only a failed
 * top-level block (nest level 1): a failed subtransaction (a savepoint's) can be resumed with ROLLBACK TO,
 * its transaction's work and locks live on, so it keeps the turn.
 */
export function releaseFailedBlock(b: Backend, s: EngineSession): void {
  if (s.status !== 'E' || s.midBatch || s.copyIn || s.closed) return
  try {
    if ((b.inst.heap.M._GetCurrentTransactionNestLevel() as number) !== 1) return
    if (b.execAll(['ROLLBACK'])) return // (cannot fail in a failed block) it keeps the turn then
    s.failedAside = true
  } catch (e) {
    // runs where the turn ends (runner.ts finally): never let it skip the rest of that cleanup
    log.warn({ err: e, sid: s.sid }, 'could not roll back a failed transaction block')
  }
}

/** Before the session's next input (its turn, switched to it): the backend is in a failed block again. */
export function replayFailedBlock(b: Backend, s: EngineSession): void {
  if (!s.failedAside) return
  s.failedAside = false
  // a savepoint that cannot exist at nest level 1: the error aborts the block (TBLOCK_ABORT), as the
  // client's failed statement did
  b.execAll(['BEGIN', 'ROLLBACK TO SAVEPOINT pyglite_failed_block'])
}
