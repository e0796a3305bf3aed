// Messages between the main thread (wire layer) and the engine worker thread.

export interface EngineConfig {
  /** Root data directory; each database's cluster lives in <dataDir>/<name>. */
  dataDir: string
  /** Extra entries for Python's sys.path. */
  pythonPath: string[]
  /** Nesting limit of SQL → Python → SQL calls. */
  maxDepth: number
  logLevel: string
}

export type ToWorker =
  | { t: 'open-db'; id: number; name: string }
  | { t: 'session-open'; id: number; sid: number; db: string; user: string }
  | { t: 'session-close'; id: number; sid: number }
  /** run complete frontend messages for a session; output streams back as 'out' */
  | { t: 'exec'; id: number; sid: number; token: number; timeoutMs: number; data: Uint8Array }
  /** an internal query on a database (simple protocol, rows as text) */
  | { t: 'query'; id: number; db: string; sql: string }
  | { t: 'shutdown'; id: number }

export type FromWorker =
  | { t: 'ready'; python: string; libpython: string }
  | { t: 'reply'; id: number; ok: true; value?: unknown }
  | { t: 'reply'; id: number; ok: false; error: string; code?: string }
  | { t: 'out'; sid: number; data: Uint8Array }
  | { t: 'log'; level: 'info' | 'warn' | 'error' | 'debug'; msg: string; data?: Record<string, unknown> }

/**
 * What an exec answers. `terminate`: the statement ended the session as PostgreSQL's FATAL does
 * (plpy.fatal, an uncaught plpy.Fatal). The output already carries the FATAL ErrorResponse and no
 * ReadyForQuery; the transaction was rolled back. The session layer must send the output and close that
 * client's connection (src/plpy-shim/fatal.ts).
 */
export interface ExecResult {
  terminate?: boolean
}

export interface DbOpened {
  name: string
  initialized: boolean
  ms: number
}
