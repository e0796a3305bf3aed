// A client session as the engine keeps it between turns: what must look private to it on the shared
// backend (role, settings, prepared statements) and where it stands (transaction, batch, COPY).

import type { Login } from '../channel/protocol.js'
import { Activity } from './activity.js'
import type { TxStatus } from './backend-stream.js'
import { type SettingsState, settingsKey } from './gucs.js'
import type { ListenOp } from './notify.js'
import type { HeldPortal } from './portals.js'
import type { TempSchema } from './temps.js'

/** An ErrorResponse from an internal query, with its fields (C = SQLSTATE, M = message, ...). */
export class SqlError extends Error {
  constructor(readonly fields: Record<string, string>) {
    super(fields.M ?? 'error')
    this.name = 'SqlError'
  }
  get code(): string | undefined {
    return this.fields.C
  }
}

export class EngineSession {
  /** the session user and current user at the end of its last turn */
  sessionUser: number
  currentUser: number
  /** its settings: reset values it started with, and what it SET since (see gucs.ts) */
  readonly settings: SettingsState = { reset: new Map(), set: new Map() }
  private settingsText: string | null = ''
  /** its prepared_queries hash table and unnamed statement while another session runs */
  preparedQueries = 0
  unnamedStatement = 0
  /** its sequence values (currval) and last sequence used (lastval): sequence.c's seqhashtab, last_used_seq */
  seqTable = 0
  lastSeq = 0
  /** extended-protocol messages sent since its last Sync (its turn lasts until Sync) */
  midBatch = false
  status: TxStatus = 'I'
  copyIn = false
  closed = false
  /** inputs run so far (an idle timer belongs to the idle period after one of them) */
  turns = 0
  idleTimer: ReturnType<typeof setTimeout> | undefined
  /** the ParameterStatus values its client was told (reports.ts) */
  readonly seen = new Map<string, string>()
  /** its input mentioned "hold": it may have WITH HOLD cursors, moved out of the table between its turns */
  mayHold = false
  /** its WITH HOLD cursors while another session runs (portals.ts) */
  readonly heldPortals: HeldPortal[] = []
  /** its own temp schemas (temps.ts); null: the backend's shared pg_temp_0 */
  temp: TempSchema | null = null
  /** LISTEN channels (committed) */
  readonly channels = new Set<string>()
  /** its input mentioned stdin: any Execute of it may start COPY FROM STDIN (runner.ts, copyviolation.ts) */
  mayCopyIn = false
  /** LISTEN/UNLISTEN of its open transaction, applied when it commits (notify.ts) */
  readonly pendingListen: ListenOp[] = []
  /** what pg_stat_activity shows of it (activity.ts) */
  readonly activity = new Activity()
  /**
   * its transaction block holds nothing but the BEGIN that opened it (that statement's text): an input
   * waiting for an advisory lock can still be abandoned and run again after that BEGIN (worker.ts)
   */
  freshBegin: string | null = null
  /** a BEGIN to run silently before its next input (a woken parked input: advisory.ts) */
  resumePrefix: string | null = null
  /** its woken parked input, running again: when that one's wait and statement began (parking.ts) */
  resumed: { key: string; at: number; started: number } | null = null
  /** ended by pg_terminate_backend: its client got FATAL 57P01, nothing of it runs any more */
  terminated = false
  /**
   * its failed transaction block (status 'E') was rolled back in the backend at the end of its turn, as
   * PostgreSQL's AbortTransaction releases a failed block's locks at once: the client still sees it failed,
   * and the failure is made again before its next input (failed.ts)
   */
  failedAside = false
  /** notifications that came while it was in a failed block: async.c delivers them once it is idle again */
  readonly heldNotifications: Uint8Array[] = []

  constructor(
    readonly sid: number,
    readonly login: Login,
  ) {
    this.sessionUser = login.oid
    this.currentUser = login.oid
  }

  /** Still inside a transaction, a COPY or an extended-protocol batch: nobody else may run. */
  get busy(): boolean {
    return (this.status !== 'I' && !this.failedAside) || this.midBatch || this.copyIn
  }

  /** A text equal for sessions whose settings are equal (switching between them costs nothing). */
  get settingsKey(): string {
    this.settingsText ??= settingsKey(this.settings)
    return this.settingsText
  }

  /** Its settings changed (call after changing `settings`). */
  settingsChanged(): void {
    this.settingsText = null
  }
}
