// PL/Python trigger functions (plpy_exec.c PLy_exec_trigger): the call handler's path when
// fcinfo->context is a TriggerData. Per row: the site from fn_extra, one heap_deform_tuple per trigger
// tuple, one native call that builds TD, runs the procedure and checks its result, and for "MODIFY" one
// heap_modify_tuple_by_cols. The return Datum is the row to use (the trigger tuple, the modified one), or
// a NULL pointer with isnull false ("SKIP", and always for statement-level triggers).
import { ELEVEL, L, TRIGGER_EVENT } from '../engine/pg/layout.js'
import { fatalError } from '../plpy-shim/fatal.js'
import type { PlRuntime } from '../python/language.js'
import { applyModify } from './modify.js'
import { ARG, STAT, TR, type TriggerNative, TS, triggerNative } from './native.js'
import { TriggerRows } from './rows.js'
import { SiteCache } from './site.js'

export class TriggerRuntime {
  private readonly native: TriggerNative
  /** native.trigArgs (a property read on the addon's exports object costs more than the writes) */
  private readonly args: Uint32Array
  private readonly sites: SiteCache
  private readonly rows: TriggerRows
  /** nesting level of trigger calls (selects the scratch buffers) */
  private depth = 0

  constructor(private readonly rt: PlRuntime) {
    this.native = triggerNative(rt.host.native)
    this.args = this.native.trigArgs
    this.sites = new SiteCache(rt, this.native)
    this.rows = new TriggerRows(rt)
  }

  /** plpython3_call_handler for CALLED_AS_TRIGGER(fcinfo). */
  call(fcinfo: number): number {
    const rt = this.rt
    const h = rt.heap
    const td = h.u32at(fcinfo + L.fcinfo_context)
    const event = h.u32at(td + L.td_event)
    const rel = h.u32at(td + L.td_relation)
    const trigtuple = h.u32at(td + L.td_trigtuple)
    const site = this.sites.resolve(h.u32at(fcinfo + L.fcinfo_flinfo), rel, h.u32at(td + L.td_trigger))
    const p = site.proc
    const ctx = rt.contexts.push(p.contextText)
    const depth = this.depth++
    try {
      const s = this.rows.scratch(depth, site.natts)
      const op = event & TRIGGER_EVENT.OPMASK
      let base = 0 // the row PL/Python returns for None/"OK" (rv)
      let nv = 0
      let nn = 0
      let ov = 0
      let on = 0
      if (event & TRIGGER_EVENT.ROW) {
        if (op === TRIGGER_EVENT.UPDATE) {
          base = h.u32at(td + L.td_newtuple)
          this.rows.deform(base, site.desc, s.newValues, s.newNulls)
          this.rows.deform(trigtuple, site.desc, s.oldValues, s.oldNulls)
          nv = s.newValues
          nn = s.newNulls
          ov = s.oldValues
          on = s.oldNulls
        } else if (op === TRIGGER_EVENT.INSERT) {
          base = trigtuple
          this.rows.deform(base, site.desc, s.newValues, s.newNulls)
          nv = s.newValues
          nn = s.newNulls
        } else {
          base = trigtuple
          this.rows.deform(base, site.desc, s.oldValues, s.oldNulls)
          ov = s.oldValues
          on = s.oldNulls
        }
      }
      const codecLen = this.rows.encode(site, nv, nn, ov, on)
      let status: number = TS.NEED_DETOAST
      let failure = null
      for (let attempt = 0; status === TS.NEED_DETOAST && attempt < 2; attempt++) {
        if (attempt) {
          this.rows.detoast(site, nv, nn)
          this.rows.detoast(site, ov, on)
        }
        const frame = rt.pushFrame(p, fcinfo, false)
        frame.triggerData = td // SPI_register_trigger_data once SPI connects: transition tables
        try {
          rt.syncMemory()
          const a = this.args
          a[ARG.shape] = site.shape
          a[ARG.proc] = p.procId
          a[ARG.event] = event
          a[ARG.newValues] = nv
          a[ARG.newNulls] = nn
          a[ARG.oldValues] = ov
          a[ARG.oldNulls] = on
          a[ARG.codecLen] = codecLen
          a[ARG.area] = s.area
          status = this.native.trigCall()
          if (status === TS.ERROR || rt.host.stat[STAT.result] === TR.MODIFY_FAILED)
            failure = rt.host.native.lastError() ?? []
        } finally {
          rt.popFrame(frame)
        }
      }
      // raised, not thrown: the FATAL carries this call's CONTEXT
      const fatal = fatalError(rt)
      if (fatal) rt.elog.raiseJs(fatal)
      if (status === TS.ERROR) rt.raisePython(p, failure ?? [])
      if (status !== TS.RESULT) throw new Error(`unexpected trigger call status ${status}`)
      switch (rt.host.stat[STAT.result]) {
        case TR.OK:
          return base
        case TR.SKIP:
          return 0
        case TR.MODIFY:
          return applyModify(rt, this.native, this.rows, site, s, base, null)
        case TR.MODIFY_FAILED:
          return applyModify(rt, this.native, this.rows, site, s, base, failure)
        case TR.MODIFY_IN_DELETE:
          rt.elog.report(
            ELEVEL.WARNING,
            'PL/Python trigger function returned "MODIFY" in a DELETE trigger -- ignored',
          )
          return base
        case TR.NOT_STRING:
          return rt.elog.raise('unexpected return value from trigger procedure', {
            sqlstate: '22000',
            detail: 'Expected None or a string.',
          })
        default:
          return rt.elog.raise('unexpected return value from trigger procedure', {
            sqlstate: '22000',
            detail: 'Expected None, "OK", "SKIP", or "MODIFY".',
          })
      }
    } finally {
      this.depth = depth
      rt.contexts.pop(ctx)
    }
  }

  /** A client session ended. */
  dropSession(sid: number): void {
    this.sites.dropSession(sid)
  }
}
