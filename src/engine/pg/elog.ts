// PostgreSQL errors from JavaScript: raising them (errstart/errfinish) and catching them (PG_TRY emulation).
// Mirrors elog.h/elog.c semantics: an ERROR raised in wasm is an Emscripten longjmp (a JS exception that
// must reach its setjmp untouched); we catch one only when PG_exception_stack points at our own jmp_buf.

import { describeError } from '../../util/errors.js'
import type { Heap } from './heap.js'
import { ELEVEL, packSqlstate, unpackSqlstate } from './layout.js'

/** Everything an ErrorResponse can carry (elog.h ErrorData). */
export interface PgErrorFields {
  sqlstate?: string
  detail?: string | null
  hint?: string | null
  context?: string | null
  cursorpos?: number
  internalpos?: number
  internalquery?: string | null
  schema?: string | null
  table?: string | null
  column?: string | null
  datatype?: string | null
  constraint?: string | null
  elevel?: number
}

/** A PostgreSQL error as a JS value: thrown by JS code, converted to ereport() at the bridge boundary. */
export class PgError extends Error {
  readonly sqlstate: string
  readonly fields: PgErrorFields

  constructor(message: string, fields: PgErrorFields = {}) {
    super(message)
    this.name = 'PgError'
    this.sqlstate = fields.sqlstate ?? 'XX000'
    this.fields = fields
  }
}

/** ErrorData offsets (elog.h, PG 18, wasm32). */
const ED = {
  elevel: 0,
  sqlerrcode: 28,
  message: 32,
  detail: 36,
  hint: 44,
  context: 48,
  schema_name: 60,
  table_name: 64,
  column_name: 68,
  datatype_name: 72,
  constraint_name: 76,
  cursorpos: 80,
  internalpos: 84,
  internalquery: 88,
} as const

/** PG_DIAG_* field codes for err_generic_string (postgres_ext.h). */
const DIAG = { schema: 0x73, table: 0x74, column: 0x63, datatype: 0x64, constraint: 0x6e } as const

/**
 * True for an Emscripten longjmp (PostgreSQL's siglongjmp) or exit (proc_exit) unwinding through JS.
 * These must never be caught and swallowed by JS code.
 */
export function isLongjmp(e: unknown): boolean {
  if (e === Infinity) return true // emcc 3.x
  if (e === null || typeof e !== 'object') return false
  const n = (e as { constructor?: { name?: string } }).constructor?.name
  return n === 'EmscriptenSjLj' || n === 'EmscriptenEH' || n === 'ExitStatus'
}

export type TryResult<T> = { ok: true; value: T } | { ok: false; error: PgError }

/**
 * Where PostgreSQL 18.6's PL/Python ereports (the message's LOCATION: file, line, function): a PL/Python
 * error from PLy_elog_impl (src/pl/plpython/plpy_elog.c), a plpy.debug … plpy.warning message from
 * PLy_output (plpy_plpymodule.c).
 */
const SITES = {
  error: ['plpy_elog.c', 123, 'PLy_elog_impl'],
  output: ['plpy_plpymodule.c', 523, 'PLy_output'],
} as const
export type ReportSite = keyof typeof SITES

/** Raising and catching PostgreSQL errors for one PGlite instance. */
export class Elog {
  private readonly fmtS: number
  private readonly va: number
  /** per site: the C strings of file and function, and the line */
  private readonly sites: Record<ReportSite, [file: number, line: number, func: number]>
  private readonly sym: {
    exceptionStack: number
    contextStack: number
    threw: number
    threwValue: number
    memoryContext: number
    resourceOwner: number
  }
  /** Fake sigjmp_bufs by nesting level, zeroed (Emscripten's setjmp test never matches them). */
  private readonly jmpBufs: number[] = []
  private tryDepth = 0

  constructor(private readonly heap: Heap) {
    const M = heap.M
    this.fmtS = heap.cstr('%s')
    this.va = M._malloc(16)
    const site = ([file, line, func]: readonly [string, number, string]): [number, number, number] => [
      heap.cstr(file),
      line,
      heap.cstr(func),
    ]
    this.sites = { error: site(SITES.error), output: site(SITES.output) }
    this.sym = {
      exceptionStack: M._PG_exception_stack,
      contextStack: M._error_context_stack,
      threw: M.___THREW__,
      threwValue: M.___threwValue,
      memoryContext: M._CurrentMemoryContext,
      resourceOwner: M._CurrentResourceOwner,
    }
  }

  /** ereport(level, ...) from JS. For ERROR and above this does not return (it longjmps). */
  report(level: number, message: string, f: PgErrorFields = {}, at: ReportSite = 'error'): void {
    const h = this.heap
    const M = h.M
    // FATAL/PANIC would end the one backend every session shares (proc_exit): report them as ERROR;
    // ending a single session is plpy-shim/fatal.ts's job
    if (level > ELEVEL.ERROR) level = ELEVEL.ERROR
    if (!M._errstart(level, 0)) return // not reported at this level (client_min_messages, log_min_messages)
    M._errcode(
      packSqlstate(
        f.sqlstate ?? (level >= ELEVEL.ERROR ? 'XX000' : level === ELEVEL.WARNING ? '01000' : '00000'),
      ),
    )
    const withStr = (fn: (fmt: number, va: number) => unknown, s: string) => {
      h.setU32(this.va, h.pstrdup(s))
      fn(this.fmtS, this.va)
    }
    withStr(M._errmsg_internal, message)
    if (f.detail != null) withStr(M._errdetail_internal, f.detail)
    if (f.hint != null) withStr(M._errhint, f.hint)
    if (f.context != null) withStr(M._errcontext_msg, f.context)
    if (f.cursorpos) M._errposition(f.cursorpos)
    if (f.internalpos) M._internalerrposition(f.internalpos)
    if (f.internalquery != null) M._internalerrquery(h.pstrdup(f.internalquery))
    for (const k of ['schema', 'table', 'column', 'datatype', 'constraint'] as const) {
      const v = f[k]
      if (v != null) M._err_generic_string(DIAG[k], h.pstrdup(v))
    }
    // LOCATION as PostgreSQL 18.6 reports it (SITES)
    const [file, line, func] = this.sites[at]
    M._errfinish(file, line, func)
    if (level >= ELEVEL.ERROR) throw new Error('unreachable: errfinish returned for an ERROR')
  }

  /** Raise an ERROR (never returns). */
  raise(message: string, f: PgErrorFields = {}): never {
    this.report(f.elevel ?? ELEVEL.ERROR, message, f)
    throw new Error('unreachable')
  }

  /** Raise the JS error e as a PostgreSQL ERROR (never returns). */
  raiseJs(e: unknown, prefix = 'plpython3u'): never {
    if (e instanceof PgError) this.raise(e.message, { ...e.fields, sqlstate: e.sqlstate })
    const name = e instanceof Error ? e.name : 'Error'
    this.raise(`${prefix}: internal error: ${name}: ${describeError(e)}`, {
      sqlstate: 'XX000',
    })
  }

  /**
   * PG_TRY around body(): an ERROR raised inside is caught, copied, flushed and returned; with
   * `subxact`, body runs in an internal subtransaction that is released on success and rolled back on
   * error (as PL/Python's plpy.execute does). JS exceptions from body propagate after cleanup.
   */
  tryCatch<T>(body: () => T, subxact = false): TryResult<T> {
    const h = this.heap
    const M = h.M
    const S = this.sym
    const oldcontext = h.u32at(S.memoryContext)
    const oldowner = h.u32at(S.resourceOwner)
    if (subxact) {
      M._BeginInternalSubTransaction(0)
      h.setU32(S.memoryContext, oldcontext) // MemoryContextSwitchTo(oldcontext)
    }
    const saveExc = h.u32at(S.exceptionStack)
    const saveCtx = h.u32at(S.contextStack)
    let jb = this.jmpBufs[this.tryDepth]
    if (jb === undefined) {
      jb = M._malloc(64) as number
      h.refresh()
      h.u8.fill(0, jb, jb + 64)
      this.jmpBufs[this.tryDepth] = jb
    }
    const sp = h.stackSave()
    h.setU32(S.exceptionStack, jb)
    this.tryDepth++
    let value: T
    try {
      value = body()
    } catch (e) {
      this.tryDepth--
      if (!isLongjmp(e) || h.u32at(S.threw) !== jb) {
        h.setU32(S.exceptionStack, saveExc)
        if (!isLongjmp(e)) {
          // a trap or a JS exception unwound wasm frames without their PG_CATCH: the error context callbacks
          // they pushed are gone with them (docs/faults.md)
          h.setU32(S.contextStack, saveCtx)
          if (subxact) {
            M._RollbackAndReleaseCurrentSubTransaction()
            h.setU32(S.memoryContext, oldcontext)
            h.setU32(S.resourceOwner, oldowner)
          }
        }
        throw e
      }
      // PG_CATCH
      h.setU32(S.threw, 0)
      h.setU32(S.threwValue, 0)
      h.stackRestore(sp) // the longjmp skipped the wasm epilogues
      h.setU32(S.exceptionStack, saveExc)
      h.setU32(S.contextStack, saveCtx)
      h.setU32(S.memoryContext, oldcontext)
      const error = this.copyAndFlushError()
      if (subxact) {
        M._RollbackAndReleaseCurrentSubTransaction()
        h.setU32(S.memoryContext, oldcontext)
        h.setU32(S.resourceOwner, oldowner)
      }
      return { ok: false, error }
    }
    this.tryDepth--
    h.setU32(S.exceptionStack, saveExc)
    if (subxact) {
      M._ReleaseCurrentSubTransaction()
      h.setU32(S.memoryContext, oldcontext)
      h.setU32(S.resourceOwner, oldowner)
    }
    return { ok: true, value }
  }

  /** CopyErrorData + FlushErrorState, converted to a PgError. */
  private copyAndFlushError(): PgError {
    const h = this.heap
    const M = h.M
    const ed = M._CopyErrorData() as number
    const s = (off: number) => h.str(h.u32at(ed + off))
    const err = new PgError(s(ED.message) ?? '', {
      sqlstate: unpackSqlstate(h.i32at(ed + ED.sqlerrcode)),
      elevel: h.i32at(ed + ED.elevel),
      detail: s(ED.detail),
      hint: s(ED.hint),
      context: s(ED.context),
      cursorpos: h.i32at(ed + ED.cursorpos),
      internalpos: h.i32at(ed + ED.internalpos),
      internalquery: s(ED.internalquery),
      schema: s(ED.schema_name),
      table: s(ED.table_name),
      column: s(ED.column_name),
      datatype: s(ED.datatype_name),
      constraint: s(ED.constraint_name),
    })
    M._FlushErrorState()
    M._FreeErrorData(ed)
    return err
  }
}
