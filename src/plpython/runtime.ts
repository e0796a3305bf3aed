// The PL/Python language handler for one PGlite instance (plpy_main.c / plpy_exec.c): the call handler,
// the inline handler (DO) and the validator. Procedures are compiled per session and cached
// (procedures.ts); each FmgrInfo (one call site of one statement) finds its procedure through fn_extra.
import { TypeCatalog } from '../catalog/types.js'
import { Arrays } from '../engine/pg/arrays.js'
import type { LanguageRuntime } from '../engine/pg/bridge.js'
import { CatalogWatch } from '../engine/pg/catalogwatch.js'
import { requireUtf8Database } from '../engine/pg/dbencoding.js'
import type { Elog } from '../engine/pg/elog.js'
import { PgError } from '../engine/pg/elog.js'
import type { ErrorContextStack } from '../engine/pg/errcontext.js'
import type { Heap } from '../engine/pg/heap.js'
import { ELEVEL, L, NODETAG, OID, TYPEFUNC } from '../engine/pg/layout.js'
import type { Spi } from '../engine/pg/spi.js'
import { Tuples } from '../engine/pg/tuples.js'
import { fatalError, requestFatal } from '../plpy-shim/fatal.js'
import { type ShimState, shim } from '../plpy-shim/state.js'
import { abortOpenSubtransactions } from '../plpy-shim/transaction.js'
import { CodecReader, CodecWriter } from '../python/codec.js'
import { DatumIo } from '../python/datum.js'
import { type ErrorTuple, type PythonHost, S, STATW } from '../python/host.js'
import { InputConverters } from '../python/input.js'
import type { CallFrame, PlRuntime } from '../python/language.js'
import { OutputConverters } from '../python/output.js'
import { A_VARLENA, type Procedure, ProcedureCache } from '../python/procedures.js'
import type { TransformMap } from '../python/transforms.js'
import { TriggerRuntime } from '../triggers/index.js'
import { runInline, runValidator } from './inline.js'
import { SrfRunner } from './srf.js'

/** Bytes palloc'd before a text-returning call for its result (native/call/call.c text_reserve). */
const TEXT_RESERVE = 128

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

/** The runtime whose buffers and memory the native addon (one per process) currently points at. */
let nativeOwner: PlPythonRuntime | undefined

export class PlPythonRuntime implements LanguageRuntime, PlRuntime {
  /** The client session whose statement is running (set by the engine before each exec). */
  session = 0
  onQueryText?: (text: string) => void
  readonly watch: CatalogWatch
  readonly types: TypeCatalog
  readonly tuples: Tuples
  readonly arrays: Arrays
  readonly datum: DatumIo
  /** Datum → Python (also used by plpy for result sets and by triggers for TD rows) */
  readonly io: InputConverters
  /** Python → Datum */
  readonly out: OutputConverters
  readonly procs: ProcedureCache
  readonly codec = new CodecWriter()
  /** where the native side copies converted results (S.GENERIC_INLINE), and readers reused by depth */
  private readonly resultBuf = Buffer.alloc(64 * 1024)
  private readonly resultReaders: CodecReader[] = []
  readonly frames: CallFrame[] = []
  /** Calls made by the trigger manager (fcinfo->context is a TriggerData): src/triggers. */
  readonly triggers: TriggerRuntime
  private readonly srf: SrfRunner
  /** a view of the memory the native side was given last (length 0 once that buffer is detached) */
  private memoryProbe = new Uint8Array(0)
  /** F64 and I64 results in the native status block (native/call/call.c), views made once */
  private readonly statF64: Float64Array
  private readonly statI64: BigInt64Array
  /** Module._palloc, looked up once */
  private readonly palloc: (n: number) => number
  private readonly pfree: (p: number) => void
  private readonly scratch: number
  /** handler entries on the JS stack (0: none of our CONTEXT frames can be live) */
  private entries = 0
  /** CallFrame objects reused by nesting depth (no allocation per call) */
  private readonly framePool: CallFrame[] = []
  /** plpy's per-instance state (explicit subtransactions, a pending plpy.fatal), looked up once */
  private plpyState: ShimState | undefined

  constructor(
    readonly heap: Heap,
    readonly elog: Elog,
    readonly spi: Spi,
    readonly contexts: ErrorContextStack,
    readonly host: PythonHost,
  ) {
    this.watch = new CatalogWatch(heap)
    this.types = new TypeCatalog(heap, this.watch)
    this.tuples = new Tuples(heap)
    this.arrays = new Arrays(heap)
    this.datum = new DatumIo(heap)
    this.io = new InputConverters(heap, this.datum, this.types, this.tuples, this.arrays, this.watch)
    this.out = new OutputConverters(heap, elog, this.datum, this.types, this.tuples, this.arrays, this.watch)
    this.procs = new ProcedureCache(spi, elog, this.watch, this.types, this.out, host)
    this.srf = new SrfRunner(this)
    this.triggers = new TriggerRuntime(this)
    this.scratch = heap.M._malloc(16) as number
    this.palloc = heap.M._palloc
    this.pfree = heap.M._pfree
    this.statF64 = new Float64Array(host.stat.buffer, 8, 1)
    this.statI64 = new BigInt64Array(host.stat.buffer, 16, 1)
    this.pointNativeHere()
    this.codec.onGrow = (b) => {
      if (nativeOwner === this) host.native.setCodecBuffer(b)
    }
  }

  /** The native path's codec and result buffers are this instance's (they are process-wide, like the memory). */
  private pointNativeHere(): void {
    nativeOwner = this
    this.host.native.setCodecBuffer(this.codec.buf)
    this.host.native.setResultBuffer(this.resultBuf)
    this.memoryProbe = new Uint8Array(0) // and its wasm memory, at the syncMemory that follows
  }

  /**
   * Point the native side (call path, cancel) at this instance's wasm memory. Called before each exec
   * and before each call: a memory that grew
   * is a new ArrayBuffer (V8 grows wasm32 memories in place) and the old one is detached, so a one-byte
   * view of the buffer last handed over has length 0 exactly when the memory grew — one field load per
   * call instead of a property look-up on the (dictionary-mode) Emscripten module.
   */
  syncMemory(): void {
    // another database's runtime was made or ran meanwhile (opening one takes several engine turns, between
    // which this one's statements run): its buffers are registered, not ours
    if (nativeOwner !== this) this.pointNativeHere()
    if (this.memoryProbe.length !== 0) return
    const M = this.heap.M
    const buf = M.wasmMemory.buffer as ArrayBuffer
    this.memoryProbe = new Uint8Array(buf, 0, 1)
    // MyLatch (a Latch *; is_set is its first word): a cancel also sets the latch, so waits wake up
    const latch = new Uint32Array(buf)[(M._MyLatch as number) >>> 2] ?? 0
    this.host.native.setMemory(buf, M._InterruptPending, M._QueryCancelPending, latch)
  }

  /**
   * Another database's instance pointed the native path at its memory (several PGlite instances share the
   * one native addon): the next syncMemory must point it back here.
   */
  forgetMemory(): void {
    this.memoryProbe = new Uint8Array(0)
  }

  /** The innermost running call (plpy operations act on it). */
  get frame(): CallFrame | undefined {
    return this.frames[this.frames.length - 1]
  }

  ensureSpi(frame: CallFrame): void {
    if (!frame.spiConnected) {
      this.spi.connect(frame.nonatomic)
      frame.spiConnected = true
      // PLy_exec_trigger: SPI_register_trigger_data makes the transition tables visible to queries
      if (frame.triggerData) this.heap.M._SPI_register_trigger_data(frame.triggerData)
    }
  }

  /** A client session ended: forget its compiled procedures (GD/SD go with the Python side). */
  dropSession(sid: number): void {
    this.triggers.dropSession(sid)
    this.procs.dropSession(sid)
  }

  // ---------------------------------------------------------------- call handler

  call(fcinfo: number): number {
    // the outermost entry starts from a clean CONTEXT stack (an ERROR skips pops outside try/finally)
    if (this.entries === 0) this.contexts.reset()
    this.entries++
    try {
      return this.dispatch(fcinfo)
    } finally {
      this.entries--
    }
  }

  private dispatch(fcinfo: number): number {
    if (!this.utf8Checked) this.checkEncoding()
    const h = this.heap
    const node = h.u32at(fcinfo + L.fcinfo_context)
    if (node && h.u32at(node) === NODETAG.TriggerData) return this.triggers.call(fcinfo)
    const flinfo = h.u32at(fcinfo + L.fcinfo_flinfo)
    const oid = h.u32at(flinfo + L.fl_fn_oid)
    const extra = h.u32at(flinfo + L.fl_fn_extra)
    let p = extra !== 0 ? this.procs.at(extra, this.session, oid) : undefined
    if (!p) {
      p = this.procs.get(this.session, oid)
      // a set-returning function's fn_extra belongs to funcapi (its FuncCallContext)
      if (!p.row.retset) h.setU32(flinfo + L.fl_fn_extra, p.index)
    }
    if (p.row.retset) return this.srf.call(p, fcinfo)
    return p.plain ? this.invokePlain(p, fcinfo) : this.invoke(p, fcinfo)
  }

  /** CALL of a procedure outside an explicit transaction block may COMMIT/ROLLBACK (plpy_main.c). */
  private nonatomic(fcinfo: number): boolean {
    const h = this.heap
    const node = h.u32at(fcinfo + L.fcinfo_context)
    return node !== 0 && h.u32at(node) === NODETAG.CallContext && h.u8at(node + L.callctx_atomic) === 0
  }

  private get plpy(): ShimState {
    this.plpyState ??= shim(this)
    return this.plpyState
  }

  /** Enter a Python call (no Python runs after plpy.fatal in this exec: plpy-shim/fatal.ts). */
  pushFrame(proc: Procedure | undefined, fcinfo: number, nonatomic = this.nonatomic(fcinfo)): CallFrame {
    const st = this.plpy
    // raised, not thrown: the FATAL carries this call's CONTEXT
    if (st.fatal) this.elog.raiseJs(fatalError(this))
    const depth = this.frames.length
    let frame = this.framePool[depth]
    if (!frame) {
      frame = {
        spiConnected: false,
        readOnly: false,
        nonatomic: false,
        proc: undefined,
        subxactLevel: 0,
        triggerData: 0,
      }
      this.framePool[depth] = frame
    }
    frame.spiConnected = false
    frame.readOnly = proc ? proc.row.volatility !== 'v' : false
    frame.nonatomic = nonatomic
    frame.proc = proc
    frame.subxactLevel = st.subxacts.length
    frame.triggerData = 0
    this.frames.push(frame)
    return frame
  }

  /**
   * Leave a Python call: explicit subtransactions left open are aborted (PLy_procedure_call's
   * PG_FINALLY), then SPI is finished before the result Datum is built (DESIGN.md §2 rule 4).
   */
  popFrame(frame: CallFrame): void {
    if (this.frames[this.frames.length - 1] === frame) this.frames.pop()
    else {
      const i = this.frames.lastIndexOf(frame)
      if (i >= 0) this.frames.length = i
    }
    if (this.plpy.subxacts.length > frame.subxactLevel) abortOpenSubtransactions(this, frame.subxactLevel)
    if (frame.spiConnected) {
      frame.spiConnected = false
      this.spi.finish()
    }
  }

  /**
   * invoke() for a function whose arguments are all read natively and whose result type is fixed and
   * catalog-independent (the common per-row case): the same steps without the codec, descriptor and
   * retry branches, in one small function V8 keeps hot.
   */
  private invokePlain(p: Procedure, fcinfo: number): number {
    const ctx = this.contexts.push(p.contextText)
    try {
      const stat = this.host.stat
      const reserve = p.textResult ? this.palloc(TEXT_RESERVE) : 0
      stat[STATW.reserve] = reserve
      stat[STATW.reserveLen] = TEXT_RESERVE
      const frame = this.pushFrame(p, fcinfo, false)
      try {
        this.syncMemory()
        stat[STATW.procId] = p.procId
        stat[STATW.fcinfo] = fcinfo
        stat[STATW.codecLen] = 0
        this.host.native.call()
      } finally {
        this.popFrame(frame)
      }
      const status = stat[0]!
      // the reserved chunk holds the result exactly when the status is DATUM; otherwise give it back
      if (reserve && status !== S.DATUM) this.pfree(reserve)
      if (status === S.NEED_CODEC) return this.invoke(p, fcinfo, false) // detoast and retry there
      // raised, not thrown: the FATAL carries this call's CONTEXT
      if (this.plpy.fatal) this.elog.raiseJs(fatalError(this))
      if (status === S.DATUM) return stat[STATW.datum]! >>> 0
      return this.buildResult(p, fcinfo, stat[STATW.datum]! >>> 0, status, -1)
    } finally {
      this.contexts.pop(ctx)
    }
  }

  /** Run a compiled procedure for fcinfo and build its result Datum. */
  invoke(p: Procedure, fcinfo: number, nonatomic = this.nonatomic(fcinfo)): number {
    const native = this.host.native
    const ctx = this.contexts.push(p.contextText)
    try {
      const typmod = this.prepareResult(p, fcinfo)
      let datum = 0
      let status: number = S.NEED_CODEC
      for (let attempt = 0; status === S.NEED_CODEC && attempt < 2; attempt++) {
        if (attempt) this.detoastArgs(p, fcinfo) // text stored compressed or out of line
        const codecLen = this.encodeCodecArgs(p, fcinfo)
        // a text result up to TEXT_RESERVE bytes is written by C straight into this chunk (palloc'd in
        // the caller's context, where buildResult would make it; native/call/call.c text_reserve)
        const stat = this.host.stat
        const reserve = p.textResult ? this.palloc(TEXT_RESERVE) : 0
        stat[STATW.reserve] = reserve
        stat[STATW.reserveLen] = TEXT_RESERVE
        const frame = this.pushFrame(p, fcinfo, nonatomic)
        try {
          this.syncMemory()
          stat[STATW.procId] = p.procId
          stat[STATW.fcinfo] = fcinfo
          stat[STATW.codecLen] = codecLen
          native.call()
          datum = stat[STATW.datum]! >>> 0
          status = stat[0]!
        } finally {
          this.popFrame(frame)
        }
        if (reserve && status !== S.DATUM) this.pfree(reserve)
      }
      // raised, not thrown: the FATAL carries this call's CONTEXT
      if (this.plpy.fatal) this.elog.raiseJs(fatalError(this))
      return this.buildResult(p, fcinfo, datum, status, typmod)
    } finally {
      this.contexts.pop(ctx)
    }
  }

  /**
   * How Python values become values of type `typoid` (PLy_output_setup_func): the descriptor that
   * pyglite_host.convert.result_converter turns into a converter; the Datum is then built with
   * `out.build(reader, typoid, typmod)`. Used for function results and plpy plan arguments alike.
   */
  outputDescriptor(
    typoid: number,
    typmod = -1,
    trf: TransformMap | undefined = this.frame?.proc?.toSql,
  ): object {
    // the running procedure's TRANSFORM FOR TYPE applies, as PLy_output_setup_func is given curr_proc
    return this.out.pyDesc(typoid, typmod, trf)
  }

  /**
   * Make sure the procedure's Python converter matches its result type. For RETURNS record the columns
   * come from the call site (get_call_result_type: OUT parameters or a column definition list); the
   * blessed record typmod is returned. When the call site cannot accept a record, the converter reports
   * PostgreSQL's error once a value is to be converted, as PL/Python does.
   */
  prepareResult(p: Procedure, fcinfo: number): number {
    if (!p.recordResult) {
      this.procs.refreshDesc(p)
      return -1
    }
    const h = this.heap
    const M = h.M
    let typmod = -1
    if ((M._get_call_result_type(fcinfo, 0, this.scratch) as number) === TYPEFUNC.COMPOSITE) {
      const desc = h.u32at(this.scratch)
      M._BlessTupleDesc(desc)
      typmod = h.i32at(desc + L.tupdesc_tdtypmod)
    }
    if (typmod !== p.recTypmod || (p.descGen !== this.out.generation && typmod >= 0)) {
      p.recTypmod = typmod
      p.descGen = this.out.generation
      const json = JSON.stringify(typmod < 0 ? { k: 'R' } : this.out.pyDesc(OID.RECORD, typmod, p.toSql))
      if (json !== p.descJson) this.procs.setDesc(p, json)
    }
    return typmod
  }

  encodeCodecArgs(p: Procedure, fcinfo: number): number {
    if (p.codecArgs.length === 0) return 0
    const h = this.heap
    const w = this.codec
    w.reset()
    const types = p.row.argtypes
    // TRANSFORM FOR TYPE: those arguments' encoders, chosen once (the others stay as they are)
    const trf = p.fromSql
    if (trf && !p.argEncoders) p.argEncoders = types.map((t) => this.io.transformEncoder(t, trf))
    const special = p.argEncoders
    for (const i of p.codecArgs) {
      const a = fcinfo + L.fcinfo_args + i * L.nd_size
      const e = special?.[i]
      const isnull = h.u8at(a + L.nd_isnull) !== 0
      if (e) {
        if (isnull) w.none()
        else e(w, h.u32at(a + L.nd_value))
      } else this.io.encode(w, h.u32at(a + L.nd_value), isnull, types[i]!)
    }
    return w.pos
  }

  /** Text arguments stored compressed or out of line: detoast them in place so the fast path reads them. */
  detoastArgs(p: Procedure, fcinfo: number): void {
    const h = this.heap
    p.argkinds.forEach((k, i) => {
      if (!A_VARLENA.includes(k)) return
      const a = fcinfo + L.fcinfo_args + i * L.nd_size
      if (h.u8at(a + L.nd_isnull)) return
      h.setU32(a + L.nd_value, h.M._pg_detoast_datum(h.u32at(a + L.nd_value)) as number)
    })
  }

  /** The result Datum of a finished call, built in the caller's memory context. */
  buildResult(p: Procedure, fcinfo: number, datum: number, status: number, typmod: number): number {
    const h = this.heap
    const stat = this.host.stat
    switch (status) {
      case S.DATUM:
        return datum
      case S.NULL:
        h.setU8(fcinfo + L.fcinfo_isnull, 1)
        return 0
      case S.F64:
        return this.datum.float8Datum(this.statF64[0]!)
      case S.I64:
        return this.datum.int8Datum(this.statI64[0]!)
      case S.TEXT: {
        const n = stat[1]!
        // a huge text may not fit a palloc ("invalid memory alloc request size"): that error carries
        // PL/Python's "while creating return value" line; small ones skip the bookkeeping
        const ctx = n >= 1 << 26 ? this.contexts.push('while creating return value') : -1
        let ptr: number
        try {
          ptr = h.M._palloc(n + 4) as number
        } catch (e) {
          this.host.native.dropResult() // do not keep a huge string alive after the error
          throw e
        }
        if (ctx >= 0) this.contexts.pop(ctx)
        h.setU32(ptr, (n + 4) << 2)
        this.syncMemory() // the palloc (or plpy during the call) may have grown the memory
        this.host.native.copyText(ptr + 4)
        return ptr
      }
      case S.GENERIC:
      case S.GENERIC_INLINE: {
        // plpython_return_error_callback: not for procedures
        const ctx = p.isProcedure ? -1 : this.contexts.push('while creating return value')
        // while this result is read, nested calls (a domain CHECK calling Python…) write past it
        const base = stat[6]!
        try {
          let r: CodecReader
          if (status === S.GENERIC_INLINE) {
            const off = stat[7]!
            const end = off + stat[1]!
            stat[6] = end
            const depth = this.entries
            r = this.resultReaders[depth] ?? new CodecReader(this.resultBuf, 0)
            this.resultReaders[depth] = r
            r.reset(this.resultBuf, end, off)
          } else r = new CodecReader(this.host.native.takeResult())
          const gen = this.out.generation
          if (!p.builder || p.builderGen !== gen || p.builderTypmod !== typmod) {
            p.builder = p.recordResult
              ? this.out.builder(OID.RECORD, typmod)
              : this.out.builder(p.row.rettype, -1)
            p.builderGen = gen
            p.builderTypmod = typmod
          }
          const d = p.builder(r)
          if (this.out.isnull) h.setU8(fcinfo + L.fcinfo_isnull, 1)
          return d
        } finally {
          stat[6] = base
          if (ctx >= 0) this.contexts.pop(ctx)
        }
      }
      case S.ERROR:
        return this.raisePython(p, this.host.native.lastError() ?? [])
      default:
        throw new PgError(`unexpected native call status ${status}`)
    }
  }

  /** Raise a Python error as PL/Python does (message, SQLSTATE, traceback as CONTEXT). */
  raisePython(p: Procedure | undefined, t: ErrorTuple): never {
    const s = (i: number) => (t[i] == null ? null : String(t[i]))
    const n = (i: number) => (typeof t[i] === 'number' ? (t[i] as number) : 0)
    if (t[E.phase] === 1 && !p?.isProcedure) this.contexts.push('while creating return value')
    const message = s(E.message) ?? 'unknown Python error'
    // an uncaught plpy.Fatal ends the client's session (plpy-shim/fatal.ts)
    if (t[E.elevel] === ELEVEL.FATAL) requestFatal(this, message, {})
    this.elog.raise(message, {
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
      // never FATAL here: the backend is shared; requestFatal above ends just this client's session
      elevel: ELEVEL.ERROR,
    })
  }

  // ---------------------------------------------------------------- DO and the validator (inline.ts)

  /** dbencoding.ts: the engine's text is read as UTF-8; once per instance (one database, one encoding). */
  private utf8Checked = false
  checkEncoding(): void {
    requireUtf8Database(this.heap, 'PL/Python')
    this.utf8Checked = true
  }

  inline(fcinfo: number): number {
    if (this.entries === 0) this.contexts.reset()
    this.entries++
    try {
      if (!this.utf8Checked) this.checkEncoding()
      return runInline(this, fcinfo)
    } finally {
      this.entries--
    }
  }

  validate(fcinfo: number): number {
    if (this.entries === 0) this.contexts.reset()
    this.entries++
    try {
      return runValidator(this, fcinfo)
    } finally {
      this.entries--
    }
  }
}
