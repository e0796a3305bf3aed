// Drives one PGlite backend's protocol loop with our own socket callbacks: input is handed to the backend
// as it becomes available (COPY FROM STDIN waits for more data instead of seeing EOF), output streams out
// each time the backend flushes. Mirrors PGlite's execProtocolRawSync loop (pglite.ts), which we cannot
// use because its read callback ends the input at the end of the message it was given.
import type { Extension, PGlite } from '@electric-sql/pglite'
import type { FaultOutcome, FaultSite, FaultStart } from '../pg/faults.js'
import type { PgModule } from '../pg/heap.js'

/** PGlite's own socket callbacks (function-table slots), restored after each of our execs. */
export interface SocketCallbacks {
  read: number
  write: number
}

/**
 * A PGlite "extension" that only records the socket callbacks PGlite installs at start-up
 * (`_pgl_set_rw_cbs` in its onRuntimeInitialized), so that PGlite's own query path keeps working
 * between our execs. It adds a preRun hook that runs after PGlite's and wraps onRuntimeInitialized.
 */
export function socketCallbackRecorder(): { extension: Extension; callbacks(): SocketCallbacks } {
  let captured: SocketCallbacks | undefined
  const extension: Extension = {
    name: 'pyglite-socket-callbacks',
    setup: async (_pg, opts: { preRun?: Array<(mod: PgModule) => void> }) => {
      opts.preRun = [
        ...(opts.preRun ?? []),
        (mod: PgModule) => {
          const init = mod.onRuntimeInitialized as () => void
          mod.onRuntimeInitialized = () => {
            const set = mod._pgl_set_rw_cbs as (r: number, w: number) => void
            mod._pgl_set_rw_cbs = (read: number, write: number) => {
              captured = { read, write }
              set(read, write)
            }
            try {
              init()
            } finally {
              mod._pgl_set_rw_cbs = set
            }
          }
        },
      ]
      return { emscriptenOpts: opts }
    },
  }
  return {
    extension,
    callbacks() {
      if (!captured)
        throw new Error('PGlite did not install its socket callbacks (unsupported PGlite build?)')
      return captured
    },
  }
}

/** The status PGlite's C code exits with when an ERROR longjmps to the main loop (pglitec.c). */
const POSTGRES_MAIN_LONGJMP = 100

/** ERRORs in a row while PostgresMain's error block runs before the backend is given up (elog.c's error
 * data stack holds 5; past a few recursions elog.c sends plain ASCII, which cannot fail). */
const MAX_RECOVERIES = 8

/** Raised when the backend exited (a FATAL, proc_exit): the instance is unusable afterwards. */
export class BackendExited extends Error {
  constructor(
    override readonly cause: unknown,
    /** the statement whose fault could not be contained (pg/faults.ts; already logged), if that was it */
    readonly site?: FaultSite,
  ) {
    super(`the PostgreSQL backend exited: ${String((cause as { message?: string })?.message ?? cause)}`)
    this.name = 'BackendExited'
  }
}

/** Where an exec's input continues and its output goes. Neither may throw (they run inside wasm calls). */
export interface ExecIo {
  /** The backend wants more bytes than it was given (COPY FROM STDIN): block until some exist. */
  more(): Uint8Array
  /** Backend output; `chunk` is a view into wasm memory, valid only during the call. */
  out(chunk: Uint8Array): void
}

export class PgIo {
  private readonly M: PgModule
  private readonly readSlot: number
  private readonly writeSlot: number
  private input: Uint8Array = new Uint8Array(0)
  private pos = 0
  private io: ExecIo | undefined
  private running = false
  /** Bytes handed to the backend by the current exec (input and continuation). */
  consumed = 0
  /** Turns a fault (wasm trap, JS exception) inside the backend into an ERROR if it can (pg/faults.ts). */
  fault: ((e: unknown, at: FaultStart) => FaultOutcome) | undefined

  constructor(
    db: PGlite,
    private readonly pglite: SocketCallbacks,
  ) {
    this.M = db.Module as unknown as PgModule
    this.readSlot = this.M.addFunction((ptr: number, max: number) => this.read(ptr, max), 'ipi')
    this.writeSlot = this.M.addFunction((ptr: number, len: number) => this.write(ptr, len), 'ipi')
  }

  /** Whether the current exec still has messages it has not handed to the backend. */
  get hasPendingInput(): boolean {
    return this.pos < this.input.length
  }

  /**
   * Run complete frontend messages. Returns when the backend has consumed them all (and any continuation
   * supplied through `io.more`), after flushing its output. Throws BackendExited if the backend died.
   */
  exec(data: Uint8Array, io: ExecIo): void {
    if (this.running) throw new Error('PgIo.exec re-entered')
    const M = this.M
    this.running = true
    this.input = data
    this.pos = 0
    this.consumed = 0
    this.io = io
    M._pgl_set_rw_cbs(this.readSlot, this.writeSlot)
    const mainJmp = new DataView(M.wasmMemory.buffer).getUint32(M._PG_exception_stack as number, true)
    try {
      // a batch may hold several messages; PostgresMainLoopOnce handles one and returns
      while (this.pos < this.input.length || M._pq_buffer_remaining_data() > 0) {
        const sp = M.stackSave()
        const nestLevel = M._GetCurrentTransactionNestLevel() as number
        try {
          M._PostgresMainLoopOnce()
        } catch (e) {
          M.stackRestore(sp)
          // an ERROR: PostgreSQL's sigsetjmp block (abort the transaction, report, resync) runs here
          if ((e as { status?: number })?.status === POSTGRES_MAIN_LONGJMP) this.recover(sp)
          else {
            const r = this.fault?.(e, { mainJmp, nestLevel }) // a trap or a JS exception: an ERROR instead
            if (!r?.contained) throw new BackendExited(e, r)
          }
        }
      }
    } finally {
      try {
        M._PostgresSendReadyForQueryIfNecessary()
        M._pgl_pq_flush()
        // PostgreSQL arms idle_in_transaction_session_timeout / idle_session_timeout when it goes idle;
        // PGlite's itimer is a JS timer that fires once the thread is idle, and the FATAL would end the
        // backend every session shares. The session layer enforces those timeouts per session instead.
        ;(M._clear_setitimer as () => void)()
      } finally {
        M._pgl_set_rw_cbs(this.pglite.read, this.pglite.write)
        this.io = undefined
        this.input = new Uint8Array(0)
        this.running = false
      }
    }
  }

  /**
   * PostgresMain's sigsetjmp block after an ERROR. An ERROR raised while it runs — most often while the
   * first one is reported: its text has no equivalent in the client's encoding (pg_server_to_client) —
   * longjmps to the same block, which starts over and reports the new error (elog.c falls back to ASCII
   * once it is in error recursion trouble), as in PostgreSQL; PGlite's C code throws each longjmp to JS.
   */
  private recover(sp: number): void {
    const M = this.M
    for (let attempt = 1; ; attempt++) {
      try {
        M._PostgresMainLongJmp()
        return
      } catch (e) {
        M.stackRestore(sp)
        // a recursion that does not end is PostgreSQL's PANIC ("ERRORDATA_STACK_SIZE exceeded")
        if ((e as { status?: number })?.status !== POSTGRES_MAIN_LONGJMP || attempt >= MAX_RECOVERIES) throw e
      }
    }
  }

  /**
   * Process one StartupMessage the way PGlite does for a new connection (ProcessStartupPacket, then the
   * ParameterStatus/BackendKeyData/ReadyForQuery it sends): this turns on GUC reporting in the backend.
   */
  startup(packet: Uint8Array, io: ExecIo): void {
    const M = this.M
    this.input = packet
    this.pos = 0
    this.io = io
    M._pgl_set_rw_cbs(this.readSlot, this.writeSlot)
    try {
      if (M._ProcessStartupPacket(M._pgl_getMyProcPort(), true, true) !== 0)
        throw new Error('the backend rejected the start-up packet')
      M._pgl_sendConnData()
      M._pgl_pq_flush()
    } finally {
      M._pgl_set_rw_cbs(this.pglite.read, this.pglite.write)
      this.io = undefined
      this.input = new Uint8Array(0)
    }
  }

  private read(ptr: number, max: number): number {
    if (this.pos >= this.input.length) {
      // the backend asks for bytes we do not have: only COPY FROM STDIN does this (whole messages are
      // always given), so wait for the client instead of returning 0, which the backend takes as EOF
      this.input = this.io ? this.io.more() : new Uint8Array(0)
      this.pos = 0
    }
    const n = Math.min(max, this.input.length - this.pos)
    if (n <= 0) return 0
    this.M.HEAPU8.set(this.input.subarray(this.pos, this.pos + n), ptr)
    this.pos += n
    this.consumed += n
    return n
  }

  private write(ptr: number, len: number): number {
    this.io?.out(this.M.HEAPU8.subarray(ptr, ptr + len))
    return len
  }
}
