// The PL/Python language handler for one PGlite instance (plpy_main.c / plpy_exec.c): the call handler,
// the inline handler (DO) and the validator. Procedures are compiled per session and cached; each
// FmgrInfo (one call site of one statement) validates its cache entry once, through fn_extra.

import { type ProcRow, readProc } from '../catalog/procedures.js'
import type { LanguageRuntime } from '../engine/bridge.js'
import type { Elog } from '../engine/elog.js'
import { PgError } from '../engine/elog.js'
import type { ErrorContextStack } from '../engine/errcontext.js'
import type { Heap } from '../engine/heap.js'
import { L, NODETAG, OID } from '../engine/layout.js'
import type { Spi } from '../engine/spi.js'
import { fatalError } from '../plpy-shim/fatal.js'
import { abortOpenSubtransactions, subxactLevel } from '../plpy-shim/transaction.js'
import { CodecReader, CodecWriter } from './codec.js'
import { DatumIo } from './datum.js'
import type { ErrorTuple, PythonHost } from './host.js'

/** Argument kinds read natively (native/pyglite.c A_*); anything else goes through the codec. */
const ARG_KIND: Record<number, number> = {
  [OID.INT2]: 1,
  [OID.INT4]: 2,
  [OID.INT8]: 3,
  [OID.FLOAT4]: 4,
  [OID.FLOAT8]: 5,
  [OID.BOOL]: 6,
  [OID.OID]: 7,
  [OID.TEXT]: 8,
  [OID.VARCHAR]: 8,
  [OID.BPCHAR]: 8,
  [OID.BYTEA]: 9,
}
const A_CODEC = 0

/** Result kinds converted natively (R_*); R_GENERIC goes through the procedure's Python converter. */
const RET_KIND: Record<number, number> = {
  [OID.VOID]: 1,
  [OID.INT2]: 2,
  [OID.INT4]: 3,
  [OID.INT8]: 4,
  [OID.FLOAT4]: 5,
  [OID.FLOAT8]: 6,
  [OID.BOOL]: 7,
  [OID.TEXT]: 8,
  [OID.VARCHAR]: 8,
  [OID.OID]: 9,
}

const S = { DATUM: 0, NULL: 1, F64: 2, I64: 3, TEXT: 4, GENERIC: 5, ERROR: 6, NEED_CODEC: 7 } as const

/** Error tuple positions (pyglite_host/errors.py FIELDS). */
const E = {
  message: 0,
  sqlstate: 1,
  detail: 2,
  hint: 3,
  context: 4,
  cursorpos: 5,
  internalquery: 6,
  internalpos: 7,
  schema: 8,
  table: 9,
  column: 10,
  datatype: 11,
  constraint: 12,
  elevel: 13,
  phase: 14,
} as const

interface Entry {
  /** position in the entry table: the value kept in fn_extra */
  index: number
  sid: number
  oid: number
  version: string
  procId: number
  row: ProcRow
  contextText: string
  /** argument indexes that go through the codec */
  codecArgs: number[]
  argtypes: number[]
  valid: boolean
}

/** One running PL/Python call: what plpy calls need (SPI connection, read-only mode). */
export interface CallFrame {
  spiConnected: boolean
  readOnly: boolean
  nonatomic: boolean
}

export class PlPythonRuntime implements LanguageRuntime {
  /** The client session whose statement is running (set by the engine before each exec). */
  session = 0
  readonly io: DatumIo
  readonly codec = new CodecWriter()
  readonly frames: CallFrame[] = []
  private readonly entries: Entry[] = [new Entry0()]
  private memory: ArrayBuffer | undefined
  private readonly bySessionOid = new Map<string, Entry>()

  constructor(
    readonly heap: Heap,
    readonly elog: Elog,
    readonly spi: Spi,
    readonly contexts: ErrorContextStack,
    readonly host: PythonHost,
  ) {
    this.io = new DatumIo(heap)
    host.native.setCodecBuffer(this.codec.buf)
    this.codec.onGrow = (b) => host.native.setCodecBuffer(b)
  }

  /**
   * Point the native side (call path, cancel) at this instance's wasm memory. Called before each exec and
   * before each call: a memory that grew is a new ArrayBuffer (V8 grows wasm32 memories in place).
   */
  syncMemory(): void {
    const M = this.heap.M
    const buf = M.wasmMemory.buffer
    if (buf === this.memory) return
    this.memory = buf
    this.host.native.setMemory(buf, M._InterruptPending, M._QueryCancelPending)
  }

  /** The innermost running call (plpy operations act on it). */
  get frame(): CallFrame | undefined {
    return this.frames[this.frames.length - 1]
  }

  ensureSpi(frame: CallFrame): void {
    if (!frame.spiConnected) {
      this.spi.connect(frame.nonatomic)
      frame.spiConnected = true
    }
  }

  // ---------------------------------------------------------------- call handler

  call(fcinfo: number): number {
    const h = this.heap
    const flinfo = h.u32at(fcinfo + L.fcinfo_flinfo)
    let entry = this.entries[h.u32at(flinfo + L.fl_fn_extra)]
    if (!entry?.valid || entry.sid !== this.session) {
      entry = this.lookup(h.u32at(flinfo + L.fl_fn_oid))
      h.setU32(flinfo + L.fl_fn_extra, entry.index)
    }
    if (entry.row.rettype === OID.TRIGGER || entry.row.rettype === OID.EVENT_TRIGGER)
      throw new PgError('trigger functions are not supported yet by this pyglite build', {
        sqlstate: '0A000',
      })
    if (entry.row.retset)
      throw new PgError('set-returning PL/Python functions are not supported yet by this pyglite build', {
        sqlstate: '0A000',
      })
    // plpython3_call_handler: nonatomic (COMMIT/ROLLBACK allowed) when CALLed in a CallContext that
    // is not atomic, i.e. CALL at top level outside a transaction block
    const ctx = h.u32at(fcinfo + L.fcinfo_context)
    const nonatomic =
      ctx !== 0 && h.i32at(ctx) === NODETAG.CallContext && h.u8at(ctx + L.callctx_atomic) === 0
    return this.invoke(entry, fcinfo, entry.row.volatility !== 'v', nonatomic)
  }

  /** Run a registered procedure for fcinfo and build its result Datum. */
  private invoke(entry: Entry, fcinfo: number, readOnly: boolean, nonatomic: boolean): number {
    const native = this.host.native
    const fatal = fatalError(this) // after plpy.fatal, no more Python in this exec (plpy-shim/fatal.ts)
    if (fatal) throw fatal
    this.syncMemory()
    const frame: CallFrame = { spiConnected: false, readOnly, nonatomic }
    const level = subxactLevel(this)
    this.frames.push(frame)
    const ctx = this.contexts.push(entry.contextText)
    let datum: number
    let status: number
    try {
      datum = native.call(entry.procId, fcinfo, this.encodeCodecArgs(entry, fcinfo))
      status = this.host.stat[0]!
      if (status === S.NEED_CODEC) {
        this.detoastArgs(entry, fcinfo)
        this.syncMemory()
        datum = native.call(entry.procId, fcinfo, this.encodeCodecArgs(entry, fcinfo))
        status = this.host.stat[0]!
      }
    } finally {
      this.frames.pop()
    }
    abortOpenSubtransactions(this, level) // PLy_procedure_call's PG_FINALLY
    const fatalNow = fatalError(this)
    if (fatalNow) throw fatalNow
    if (frame.spiConnected) this.spi.finish() // before building the result (DESIGN.md §2 rule 4)
    try {
      return this.buildResult(entry, fcinfo, datum, status)
    } finally {
      this.contexts.pop(ctx)
    }
  }

  private encodeCodecArgs(entry: Entry, fcinfo: number): number {
    if (entry.codecArgs.length === 0) return 0
    const h = this.heap
    const w = this.codec
    w.reset()
    for (const i of entry.codecArgs) {
      const a = fcinfo + L.fcinfo_args + i * L.nd_size
      this.io.encode(w, h.u32at(a + L.nd_value), h.u8at(a + L.nd_isnull) !== 0, entry.argtypes[i]!)
    }
    return w.pos
  }

  /** Text arguments stored compressed or out of line: detoast them in place so the fast path reads them. */
  private detoastArgs(entry: Entry, fcinfo: number): void {
    const h = this.heap
    entry.argtypes.forEach((t, i) => {
      const k = ARG_KIND[t]
      if (k !== 8 && k !== 9) return
      const a = fcinfo + L.fcinfo_args + i * L.nd_size
      if (h.u8at(a + L.nd_isnull)) return
      h.setU32(a + L.nd_value, h.M._pg_detoast_datum(h.u32at(a + L.nd_value)) as number)
    })
  }

  private buildResult(entry: Entry, fcinfo: number, datum: number, status: number): number {
    const h = this.heap
    const stat = this.host.stat
    switch (status) {
      case S.DATUM:
        return datum
      case S.NULL:
        h.setU8(fcinfo + L.fcinfo_isnull, 1)
        return 0
      case S.F64:
        return this.io.float8Datum(new Float64Array(stat.buffer, 8, 1)[0]!)
      case S.I64:
        return this.io.int8Datum(new BigInt64Array(stat.buffer, 16, 1)[0]!)
      case S.TEXT: {
        const n = stat[1]!
        const p = h.M._palloc(n + 4) as number
        h.setU32(p, (n + 4) << 2)
        this.host.native.copyText(p + 4)
        return p
      }
      case S.GENERIC: {
        const ctx = this.contexts.push('while creating return value')
        const v = new CodecReader(this.host.native.takeResult()).value()
        const d = this.io.fromDecoded(v, entry.row.rettype)
        if (d === null) h.setU8(fcinfo + L.fcinfo_isnull, 1)
        this.contexts.pop(ctx)
        return d ?? 0
      }
      case S.ERROR:
        return this.raisePython(this.host.native.lastError() ?? [])
      default:
        throw new PgError(`unexpected native call status ${status}`)
    }
  }

  /** Raise a Python error as PL/Python does (message, SQLSTATE, traceback as CONTEXT). */
  raisePython(t: ErrorTuple): never {
    const s = (i: number) => (t[i] == null ? null : String(t[i]))
    const n = (i: number) => (typeof t[i] === 'number' ? (t[i] as number) : 0)
    if (t[E.phase] === 1) this.contexts.push('while creating return value')
    this.elog.raise(s(E.message) ?? 'unknown Python error', {
      sqlstate: s(E.sqlstate) ?? '38000',
      detail: s(E.detail),
      hint: s(E.hint),
      context: s(E.context),
      internalquery: s(E.internalquery),
      internalpos: n(E.internalpos),
      schema: s(E.schema),
      table: s(E.table),
      column: s(E.column),
      datatype: s(E.datatype),
      constraint: s(E.constraint),
    })
  }

  // ---------------------------------------------------------------- procedures

  private lookup(oid: number): Entry {
    const key = `${this.session}:${oid}`
    this.spi.connect()
    let row: ProcRow | null
    try {
      row = readProc(this.spi, oid)
    } finally {
      this.spi.finish()
    }
    if (!row) throw new PgError(`cache lookup failed for function ${oid}`)
    const old = this.bySessionOid.get(key)
    if (old && old.version === row.version) return old
    if (old) old.valid = false
    const entry = this.register(row, key, false)
    this.bySessionOid.set(key, entry)
    return entry
  }

  /**
   * How Python values become values of type `typoid` (PLy_output_setup_func): the descriptor that
   * pyglite_host.convert.result_converter turns into a converter. Used for function results and for
   * the arguments of plpy plans alike.
   */
  outputDescriptor(typoid: number): object {
    return typoid === OID.VOID
      ? { kind: 'void' }
      : typoid === OID.BOOL
        ? { kind: 'bool' }
        : typoid === OID.BYTEA
          ? { kind: 'bytea' }
          : { kind: 'scalar', type: typoid }
  }

  private register(row: ProcRow, key: string, transient: boolean): Entry {
    const argkinds = row.argtypes.map((t) => ARG_KIND[t] ?? A_CODEC)
    const retkind = row.retset ? 0 : (RET_KIND[row.rettype] ?? 0)
    const result = this.outputDescriptor(row.rettype)
    const r = this.host.compile({
      sid: this.session,
      key,
      oid: row.oid,
      name: row.name,
      src: row.src,
      argnames: row.argnames,
      argkinds,
      retkind,
      result,
      transient,
      kind: row.oid === 0 ? 'inline' : 'function',
      pyname: row.oid === 0 ? '__plpython_inline_block' : undefined,
    })
    if (typeof r !== 'number') this.raiseCompile(r)
    const entry: Entry = {
      index: transient ? 0 : this.entries.length,
      sid: this.session,
      oid: row.oid,
      version: row.version,
      procId: r,
      row,
      contextText: row.oid === 0 ? 'PL/Python anonymous code block' : `PL/Python function "${row.name}"`,
      codecArgs: argkinds.flatMap((k, i) => (k === A_CODEC ? [i] : [])),
      argtypes: row.argtypes,
      valid: true,
    }
    if (!transient) this.entries.push(entry)
    return entry
  }

  private raiseCompile(t: ErrorTuple): never {
    const s = (i: number) => (t[i] == null ? null : String(t[i]))
    this.elog.raise(s(0) ?? 'could not compile PL/Python function', {
      sqlstate: s(1) ?? '38000',
      detail: s(2),
      hint: s(3),
    })
  }

  // ---------------------------------------------------------------- DO and the validator

  inline(fcinfo: number): number {
    const h = this.heap
    const icb = h.u32at(fcinfo + L.fcinfo_args) // args[0]: InlineCodeBlock *
    const src = h.str(h.u32at(icb + L.icb_source_text)) ?? ''
    const row: ProcRow = {
      oid: 0,
      name: 'inline_code_block',
      schema: '',
      src,
      rettype: OID.VOID,
      retset: false,
      kind: 'f',
      volatility: 'v',
      argtypes: [],
      argnames: [],
      allargtypes: null,
      argmodes: null,
      allargnames: null,
      rettyptype: 'p',
      rettypname: 'void',
      version: '',
    }
    const entry = this.register(row, `do:${Date.now()}`, true)
    try {
      // plpython3_inline_handler: SPI_connect_ext(codeblock->atomic ? 0 : SPI_OPT_NONATOMIC)
      this.invoke(entry, fcinfo, false, h.u8at(icb + L.icb_atomic) === 0)
    } finally {
      this.host.native.releaseProc(entry.procId)
    }
    return 0
  }

  validate(fcinfo: number): number {
    const h = this.heap
    const oid = h.u32at(fcinfo + L.fcinfo_args)
    const check = h.str(h.M._GetConfigOption(h.cstr('check_function_bodies'), 0, 0))
    if (check === 'off') return 0
    this.spi.connect()
    let row: ProcRow | null
    try {
      row = readProc(this.spi, oid)
    } finally {
      this.spi.finish()
    }
    if (!row) return 0
    const err = this.host.validate({ sid: this.session, oid: row.oid, name: row.name, src: row.src })
    if (err) this.raiseCompile(err)
    return 0
  }
}

/** Slot 0 of the entry table: fn_extra == 0 means "not validated yet". */
class Entry0 implements Entry {
  index = 0
  sid = -1
  oid = 0
  version = ''
  procId = 0
  row = {} as ProcRow
  contextText = ''
  codecArgs = []
  argtypes = []
  valid = false
}
