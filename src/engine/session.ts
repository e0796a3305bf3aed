// A client session as the engine keeps it between turns: what must look private to it on the shared
// backend (role, settings, prepared statements) and where it stands (transaction, batch, COPY).
import type { TxStatus } from './backend-stream.js'
import type { Login } from './protocol.js'

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

/** GUC_REPORT parameters that are not per-session settings (fixed, or following the role). */
export const NOT_RESTORED = new Set([
  'server_version',
  'server_encoding',
  'integer_datetimes',
  'in_hot_standby',
  'session_authorization',
  'is_superuser',
])

export class EngineSession {
  /** the session user and current user at the end of its last turn */
  sessionUser: number
  currentUser: number
  /** GUC_REPORT settings as this session last had them */
  gucs: Map<string, string>
  /** other settings it started with (start-up packet, ALTER ROLE/DATABASE SET), by lower-case name */
  extras = new Map<string, string>()
  /** its prepared_queries hash table and unnamed statement while another session runs */
  preparedQueries = 0
  unnamedStatement = 0
  /** extended-protocol messages sent since its last Sync (its turn lasts until Sync) */
  midBatch = false
  status: TxStatus = 'I'
  copyIn = false
  closed = false

  constructor(
    readonly sid: number,
    readonly login: Login,
    gucs: Map<string, string>,
  ) {
    this.sessionUser = login.oid
    this.currentUser = login.oid
    this.gucs = new Map(gucs)
  }

  /** Still inside a transaction, a COPY or an extended-protocol batch: nobody else may run. */
  get busy(): boolean {
    return this.status !== 'I' || this.midBatch || this.copyIn
  }
}
