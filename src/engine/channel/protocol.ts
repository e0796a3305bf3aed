// Messages between the main thread (wire layer) and the engine worker thread, and their shared control block.

export interface EngineConfig {
  /** Root data directory; each database's cluster lives in <dataDir>/<clusterDir(name)> (src/engine/storage/clusters.ts). */
  dataDir: string
  /** Extra entries for Python's sys.path. */
  pythonPath: string[]
  /** The data directory's Python environment (src/packages; python/host.ts PythonEnvironment). */
  pythonEnvironment?: { venv: string; site: string | null; systemSitePackages: boolean; log: string }
  /** Nesting limit of SQL → Python → SQL calls. */
  maxDepth: number
  logLevel: string
  /** flush commits and checkpoints to stable storage (--fsync) */
  fsync?: boolean
  /** Int32Array view of the control block (see CTL). */
  control: SharedArrayBuffer
}

/**
 * Slots of the shared Int32 control block. The worker blocks with Atomics.wait on WAKE (while waiting for
 * COPY data or for the client to drain output); the main thread bumps WAKE after each message it posts and
 * when output drains.
 */
export const CTL = {
  /** bumped + notified by the main thread whenever the worker may have something new to look at */
  WAKE: 0,
  /** output bytes posted by the worker and not yet handed to the kernel by the main thread */
  OUT_INFLIGHT: 1,
  /** 1 while the worker waits for OUT_INFLIGHT to drop */
  OUT_WAITING: 2,
  SIZE: 3,
} as const

/** Output in flight above which the worker stops producing, and below which it resumes. */
export const OUT_HIGH_WATER = 1 << 21
export const OUT_LOW_WATER = 1 << 19

/** A client's login role, resolved by the wire layer from pg_authid. */
export interface Login {
  oid: number
  name: string
  superuser: boolean
}

/** Where a client is, as the main thread knows it (pg_stat_activity client_addr/client_port, pg_stat_ssl). */
export interface ClientInfo {
  /** numeric address; absent for a non-TCP client */
  addr?: string
  port?: number
  /** the server's end of the connection (inet_server_addr/inet_server_port); absent for a non-TCP client */
  server?: { addr: string; port: number }
  /** TLS in use: protocol version and cipher */
  ssl?: { version: string; cipher: string; bits: number }
}

export interface SessionOpen {
  sid: number
  db: string
  login: Login
  /** startup-packet settings (GUCs), applied in order after the database's and role's defaults */
  settings: Array<[string, string]>
  client?: ClientInfo
}

/** Result of opening a session: the ParameterStatus set to report, or a startup error (reported as FATAL). */
export type SessionOpened =
  | { ok: true; parameters: Array<[string, string]> }
  | { ok: false; error: Record<string, string> }

export type ToWorker =
  | { t: 'open-db'; id: number; name: string }
  | ({ t: 'session-open'; id: number } & SessionOpen)
  /** rolls back what the session left open, frees its state; replies when done */
  | { t: 'session-close'; id: number; sid: number }
  /**
   * complete frontend messages of a session (no reply: output streams back as 'out'); `at`: arrival, ms. The
   * main thread sends them as a Uint8Array of records (frames.ts, one event-loop turn's worth, in arrival
   * order); the worker queues them as these objects.
   */
  | { t: 'input'; sid: number; data: Uint8Array; at?: number }
  | Uint8Array
  /** an internal query on a database (simple protocol, superuser, rows as text) */
  | { t: 'query'; id: number; db: string; sql: string }
  /** close a database's PGlite if it has no sessions (reply: true when closed or not open) */
  | { t: 'close-db'; id: number; name: string }
  /** checkpoint every open database, then copy the data directory while nothing runs (pyglite backup) */
  | { t: 'backup'; id: number; dest: string; version: string }
  | { t: 'shutdown'; id: number }
  /** a CancelRequest for a session that runs nothing: cancel its first command still waiting for its turn */
  | { t: 'cancel-waiting'; sid: number }
  /** engine-internal: session `sid`'s idle_in_transaction_session_timeout expired (queued by its timer) */
  | { t: 'idle-timeout'; sid: number; at: number }

/** One unit of the engine's queue (a batch of inputs is queued input by input). */
export type WorkItem = Exclude<ToWorker, Uint8Array | { t: 'cancel-waiting' }>

export interface QueryResult {
  columns: string[]
  rows: Array<Array<string | null>>
}

export type FromWorker =
  | { t: 'ready'; python: string; libpython: string; wasmModule: WebAssembly.Module }
  | { t: 'reply'; id: number; ok: true; value?: unknown }
  | { t: 'reply'; id: number; ok: false; error: string; code?: string; fields?: Record<string, string> }
  /**
   * backend output for a session and/or how many input bytes it has consumed; `terminate`: the session
   * ended with a FATAL already in `data` (plpy.fatal, see plpy-shim/fatal.ts): close the connection
   */
  | { t: 'out'; sid: number; data?: Uint8Array; consumed?: number; terminate?: true }
  /** the same as an output frame (frames.ts outputFrame): what each statement's output is sent as */
  | Uint8Array
  /** the session's backend died or its state could not be restored: the connection must end */
  | { t: 'session-failed'; sid: number; fields: Record<string, string> }
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
