// Set-returning PL/Python functions in value-per-call mode (plpy_exec.c PLy_exec_function with
// proc->is_setof): the first call runs the function and makes an iterator of its result (a list, tuple,
// iterator or generator), every call returns the next item, so a generator in the select list under
// LIMIT is only advanced as far as rows are needed. The iterator lives in the native addon; a reset
// callback on the SRF's multi-call memory context drops it when the query stops early or fails
// (plpython_srf_cleanup_callback).
import { PgError } from '../engine/pg/elog.js'
import { EXPR_DONE, L, NODETAG, SFRM } from '../engine/pg/layout.js'
import { fatalError } from '../plpy-shim/fatal.js'
import { S } from '../python/host.js'
import { closeOffer, type MaterializeOffer, openOffer } from '../python/materialize.js'
import type { Procedure } from '../python/procedures.js'
import type { PlPythonRuntime } from './runtime.js'

interface SrfState {
  proc: Procedure
  /** native iterator id, 0 when not started (or finished, or failed) */
  iter: number
  typmod: number
}

export class SrfRunner {
  private readonly states: Array<SrfState | undefined> = [undefined]
  private readonly free: number[] = []
  private readonly cleanupSlot: number

  constructor(private readonly rt: PlPythonRuntime) {
    // void (*)(void *arg): runs when the multi-call context is reset or deleted; never throws into wasm
    this.cleanupSlot = rt.heap.M.addFunction((arg: number) => {
      try {
        this.release(arg)
      } catch {
        // nothing sensible to report from inside a memory context reset
      }
      return undefined
    }, 'vi')
  }

  call(p: Procedure, fcinfo: number): number {
    const rt = this.rt
    const h = rt.heap
    const M = h.M
    const flinfo = h.u32at(fcinfo + L.fcinfo_flinfo)
    if (h.u32at(flinfo + L.fl_fn_extra) === 0) {
      // SRF_FIRSTCALL_INIT, and the cleanup callback in the multi-call memory context
      const funcctx = M._init_MultiFuncCall(fcinfo) as number
      const mcxt = h.u32at(funcctx + L.fcc_multi_call_memory_ctx)
      const idx = this.free.pop() ?? this.states.length
      this.states[idx] = { proc: p, iter: 0, typmod: -1 }
      const cb = M._MemoryContextAllocZero(mcxt, L.mcb_size) as number
      h.setU32(cb + L.mcb_func, this.cleanupSlot)
      h.setU32(cb + L.mcb_arg, idx)
      M._MemoryContextRegisterResetCallback(mcxt, cb)
      h.setU32(funcctx + L.fcc_user_fctx, idx)
    }
    const funcctx = M._per_MultiFuncCall(fcinfo) as number
    const st = this.states[h.u32at(funcctx + L.fcc_user_fctx)]
    if (!st) throw new PgError('internal error: lost the state of a set-returning PL/Python function')
    const rsi = h.u32at(fcinfo + L.fcinfo_resultinfo)
    const ctx = rt.contexts.push(st.proc.contextText)
    try {
      return this.step(st, fcinfo, funcctx, rsi)
    } finally {
      rt.contexts.pop(ctx)
    }
  }

  private step(st: SrfState, fcinfo: number, funcctx: number, rsi: number): number {
    const rt = this.rt
    const h = rt.heap
    const native = rt.host.native
    const stat = rt.host.stat
    let status: number = S.DATUM
    let datum = 0
    let failure: PgError | undefined
    let offer: MaterializeOffer | undefined
    const codecLen = st.iter ? 0 : rt.encodeCodecArgs(st.proc, fcinfo)
    const frame = rt.pushFrame(st.proc, fcinfo)
    try {
      if (!st.iter) {
        st.typmod = rt.prepareResult(st.proc, fcinfo)
        rt.syncMemory()
        let iter = native.srfStart(st.proc.procId, fcinfo, codecLen)
        if (stat[0] === S.NEED_CODEC) {
          rt.detoastArgs(st.proc, fcinfo) // no Python ran: the arguments are read again
          rt.syncMemory()
          iter = native.srfStart(st.proc.procId, fcinfo, rt.encodeCodecArgs(st.proc, fcinfo))
        }
        status = stat[0]!
        st.iter = iter
        if (status !== S.ERROR) {
          // the checks PL/Python makes once the function has run
          if (
            !rsi ||
            h.u32at(rsi) !== NODETAG.ReturnSetInfo ||
            (h.i32at(rsi + L.rsi_allowedModes) & SFRM.ValuePerCall) === 0
          ) {
            this.close(st)
            failure = new PgError('unsupported set function return mode', {
              sqlstate: '0A000',
              detail: 'PL/Python set-returning functions only support returning one value per call.',
            })
          } else {
            h.setU32(rsi + L.rsi_returnMode, SFRM.ValuePerCall)
          }
        }
        if (status === S.NOT_ITERABLE && !failure)
          failure = new PgError('returned object cannot be iterated', {
            sqlstate: '42804',
            detail: 'PL/Python set-returning functions must return an iterable object.',
          })
      }
      if (st.iter && !failure) {
        // the first step of a call that may return a tuplestore: plcolumns may fill it (python/materialize.ts)
        if (
          h.u32at(funcctx + L.fcc_call_cntr) === 0 &&
          (h.i32at(rsi + L.rsi_allowedModes) & SFRM.Materialize) !== 0
        )
          offer = openOffer(rt, fcinfo, rsi, frame)
        try {
          datum = native.srfNext(st.iter)
        } finally {
          if (offer) closeOffer(rt, offer)
        }
        status = stat[0]!
      }
    } finally {
      rt.popFrame(frame)
    }
    const fatal = fatalError(rt)
    if (fatal) {
      this.close(st)
      rt.elog.raiseJs(fatal) // with this call's CONTEXT, as PostgreSQL's FATAL has it
    }
    // raised here, not thrown: the error must carry this call's CONTEXT lines
    if (failure) rt.elog.raiseJs(failure)
    if (status === S.ERROR) {
      this.close(st)
      rt.raisePython(st.proc, native.lastError() ?? [])
    }
    if (offer?.error) {
      // a value of the handed-over rows did not convert: PL/Python raises it while creating the value
      this.close(st)
      const e = offer.error
      rt.contexts.push('while creating return value')
      rt.elog.raiseJs(
        new PgError(e.message, { sqlstate: e.sqlstate, detail: e.fields.detail, hint: e.fields.hint }),
      )
    }
    if (offer?.state === 'accepted') {
      // the rows are in the tuplestore (SFRM_Materialize, isDone left at ExprSingleResult)
      this.close(st)
      if (status !== S.DONE)
        rt.elog.raiseJs(
          new PgError('set-returning function returned rows after handing its result over as columns', {
            sqlstate: '0A000',
            hint: 'Return plcolumns.rows(...) or plcolumns.transform(...) itself, or pass lazy=True.',
          }),
        )
      h.M._end_MultiFuncCall(fcinfo, funcctx)
      h.setU8(fcinfo + L.fcinfo_isnull, 1)
      return 0
    }
    if (status === S.DONE) {
      this.close(st)
      h.M._end_MultiFuncCall(fcinfo, funcctx) // SRF_RETURN_DONE: deletes the context, releasing the state
      h.setU32(rsi + L.rsi_isDone, EXPR_DONE.EndResult)
      h.setU8(fcinfo + L.fcinfo_isnull, 1)
      return 0
    }
    let d: number
    try {
      d = rt.buildResult(st.proc, fcinfo, datum, status, st.typmod)
    } catch (e) {
      this.close(st) // PG_CATCH: the next invocation starts the iteration again
      throw e
    }
    // SRF_RETURN_NEXT / SRF_RETURN_NEXT_NULL
    const lo = h.u32at(funcctx + L.fcc_call_cntr) + 1
    h.setU32(funcctx + L.fcc_call_cntr, lo >>> 0)
    if (lo > 0xffffffff) h.setU32(funcctx + L.fcc_call_cntr + 4, h.u32at(funcctx + L.fcc_call_cntr + 4) + 1)
    h.setU32(rsi + L.rsi_isDone, EXPR_DONE.MultipleResult)
    return d
  }

  /** Drop the iterator (the state stays until its memory context goes). */
  private close(st: SrfState): void {
    if (st.iter) {
      const it = st.iter
      st.iter = 0
      this.rt.host.native.srfClose(it)
    }
  }

  /** The multi-call memory context is going away. */
  private release(idx: number): void {
    const st = this.states[idx]
    if (!st) return
    this.states[idx] = undefined
    this.free.push(idx)
    this.close(st)
  }
}
