// Executing a foreign scan (multicorn2's multicornBegin/Iterate/ReScan/End/ExplainForeignScan): the first
// IterateForeignScan calls execute(quals, columns[, sortkeys, limit, offset]); rows then come from the
// Python iterator in batches that start at one row and double, never past what the query can use (the
// LIMIT hint), so a LIMIT stops an endless generator after the rows it needs. EndForeignScan (or a ReScan,
// or the end of the transaction after an error) closes the iterator: a generator's `finally` runs.

import { functionTable } from '../engine/pg/fntable.js'
import { FL, L, FDW_NODETAG as T, TTS_FLAG_EMPTY } from '../engine/pg/layout.js'
import { Batch } from './batch.js'
import type { FdwContext } from './context.js'
import { listItems } from './nodes.js'
import type { ScanPlan } from './planner.js'
import type { ColumnKind } from './values.js'

const EXEC_FLAG_EXPLAIN_ONLY = 0x0001
const MAX_BATCH = 1024
const EMPTY = new Batch([0])

interface ScanState {
  plan: ScanPlan
  explainOnly: boolean
  /** Python scan id, 0 before the first row was asked for */
  sid: number
  /** the current batch */
  data: Batch
  rows: number
  pos: number
  done: boolean
  batch: number
  produced: number
  /** ExprStates of the plan's fdw_exprs (values of parameterized quals), 0 when none */
  exprs: number
  /** per wanted column: slot index, builder, type, typmod */
  cols: Array<{ idx: number; kind: ColumnKind['build']; typoid: number; typmod: number }>
}

export class Scans {
  private readonly states: Array<ScanState | undefined> = [undefined]
  private readonly free: number[] = []
  private table: WebAssembly.Table | undefined
  private clearOps = 0
  private clearFn: ((s: number) => void) | undefined

  constructor(private readonly cx: FdwContext) {}

  private state(node: number): ScanState {
    const st = this.states[this.cx.h.u32at(node + FL.fss_fdw_state)]
    if (!st) throw new Error('foreign scan state lost')
    return st
  }

  private readPlan(node: number): ScanPlan {
    const h = this.cx.h
    const plan = h.u32at(node + FL.fss_plan)
    const priv = listItems(h, h.u32at(plan + FL.fs_fdw_private))[0]
    if (!priv || h.u32at(priv) !== T.String) throw new Error('foreign scan plan without its JSON')
    return JSON.parse(h.str(h.u32at(priv + FL.string_sval)) ?? '{}') as ScanPlan
  }

  /** BeginForeignScan(node, eflags) */
  begin(node: number, eflags: number): void {
    const plan = this.readPlan(node)
    const def = plan.def
    const cols = plan.attnums.map((a) => {
      const i = def.cols.findIndex((c) => c.attnum === a)
      const c = def.cols[i]!
      return { idx: a - 1, kind: def.kinds[i]!.build, typoid: c.typoid, typmod: c.typmod }
    })
    const h = this.cx.h
    const fdwExprs = h.u32at(h.u32at(node + FL.fss_plan) + FL.fs_fdw_exprs)
    const st: ScanState = {
      plan,
      exprs:
        fdwExprs && !(eflags & EXEC_FLAG_EXPLAIN_ONLY)
          ? (h.M._ExecInitExprList(fdwExprs, node) as number)
          : 0,
      explainOnly: (eflags & EXEC_FLAG_EXPLAIN_ONLY) !== 0,
      sid: 0,
      data: EMPTY,
      rows: 0,
      pos: 0,
      done: false,
      batch: 1,
      produced: 0,
      cols,
    }
    const idx = this.free.pop() ?? this.states.length
    this.states[idx] = st
    this.cx.h.setU32(node + FL.fss_fdw_state, idx)
  }

  /** The quals with their run-time values (ExecEvalExpr: state->evalfunc(state, econtext, &isnull)). */
  private quals(st: ScanState, node: number): ScanPlan['quals'] {
    const quals = st.plan.quals
    if (!quals.some((q) => q.p !== undefined)) return quals
    const h = this.cx.h
    this.table ??= functionTable(h)
    const states = listItems(h, st.exprs)
    const econtext = h.u32at(node + FL.fss_econtext)
    const isnull = h.M._palloc0(4) as number
    return quals.map((q) => {
      if (q.p === undefined) return q
      const es = states[q.p]!
      const fn = this.table!.get(h.u32at(es + L.exprstate_evalfunc)) as (
        a: number,
        b: number,
        c: number,
      ) => number
      const d = fn(es, econtext, isnull) >>> 0
      return { ...q, v: this.cx.quals.paramValue(d, h.u8at(isnull) !== 0, q.t ?? 0) }
    })
  }

  private start(st: ScanState, node: number): void {
    const { plan } = st
    const def = plan.def
    const scan = {
      quals: this.quals(st, node),
      columns: plan.attnums.map((a) => def.cols.find((c) => c.attnum === a)!.name),
      attnos: plan.attnums.map((a) => def.cols.findIndex((c) => c.attnum === a)),
      kinds: plan.attnums.map((a) => def.kinds[def.cols.findIndex((c) => c.attnum === a)]!.py),
      sortkeys: plan.sortkeys,
      limit: plan.limit,
      offset: plan.offset,
    }
    st.sid = this.cx.py.call('begin_scan', this.cx.json(def), JSON.stringify(scan)) as number
    this.cx.liveScans.add(st.sid)
  }

  /** ExecClearTuple(slot): slot->tts_ops->clear(slot) (a static inline), the function looked up once per ops */
  private clear(slot: number): void {
    const h = this.cx.h
    const ops = h.u32at(slot + FL.slot_ops)
    if (ops !== this.clearOps) {
      this.table ??= functionTable(h)
      this.clearFn = this.table.get(h.u32at(ops + FL.ops_clear)) as (s: number) => void
      this.clearOps = ops
    }
    this.clearFn!(slot)
  }

  /** The next batch from Python: [rows, column, column, ...] (column-major JSON). */
  private fill(st: ScanState): void {
    let n = st.batch
    if (st.plan.hint >= 0) n = Math.min(n, Math.max(1, st.plan.hint - st.produced))
    const batch = new Batch(this.cx.py.call('fetch', st.sid, n) as unknown[])
    const got = batch.rows
    if (got < n) st.done = true
    st.produced += got
    st.batch = Math.min(MAX_BATCH, st.batch * 2)
    st.data = batch
    st.rows = got
    st.pos = 0
  }

  /** IterateForeignScan(node): the slot with the next row, or empty at the end. */
  iterate(node: number): number {
    const cx = this.cx
    const h = cx.h
    const st = this.state(node)
    const slot = h.u32at(node + FL.fss_slot)
    this.clear(slot)
    if (st.pos >= st.rows) {
      if (st.done) return slot
      if (!st.sid) this.start(st, node)
      this.fill(st)
      if (!st.rows) return slot
    }
    const desc = h.u32at(slot + FL.slot_tupdesc)
    const natts = h.i32at(desc)
    const values = h.u32at(slot + FL.slot_values)
    const isnull = h.u32at(slot + FL.slot_isnull)
    h.refresh()
    h.u8.fill(1, isnull, isnull + natts)
    const row = st.pos++
    const cols = st.cols
    if (cols.length) {
      // build the values in the per-tuple memory ExecScan resets for every row (MemoryContextSwitchTo)
      const cur = h.M._CurrentMemoryContext as number
      const old = h.u32at(cur)
      h.setU32(cur, h.u32at(h.u32at(node + FL.fss_econtext) + L.econtext_per_tuple_memory))
      try {
        const data = st.data
        const io = cx.rt.datum
        for (let i = 0; i < cols.length; i++) {
          const c = cols[i]!
          const d = data.datum(h, io, i, row, c)
          if (d === null) continue
          h.setU32(values + 4 * c.idx, d)
          h.setU8(isnull + c.idx, 0)
        }
      } finally {
        h.setU32(cur, old)
      }
    }
    // ExecStoreVirtualTuple (execTuples.c): the values are valid, the slot is not empty
    h.refresh()
    h.dv.setUint16(slot + FL.slot_flags, h.dv.getUint16(slot + FL.slot_flags, true) & ~TTS_FLAG_EMPTY, true)
    h.dv.setInt16(slot + FL.slot_nvalid, natts, true)
    return slot
  }

  /** ReScanForeignScan: the next row starts a new execute() (parameters may have changed). */
  rescan(node: number): void {
    const st = this.state(node)
    this.close(st, 'rescan')
    Object.assign(st, { data: EMPTY, rows: 0, pos: 0, done: false, batch: 1, produced: 0 })
  }

  /** EndForeignScan: close the iterator, then the wrapper's end_scan(). */
  end(node: number): void {
    const h = this.cx.h
    const idx = h.u32at(node + FL.fss_fdw_state)
    const st = this.states[idx]
    if (!st) return
    this.states[idx] = undefined
    this.free.push(idx)
    if (st.explainOnly) return
    if (st.sid) this.close(st, 'end')
    else this.cx.py.call('end_scan_instance', this.cx.json(st.plan.def))
  }

  private close(st: ScanState, how: 'rescan' | 'end'): void {
    if (!st.sid) return
    const sid = st.sid
    st.sid = 0
    this.cx.liveScans.delete(sid)
    if (how === 'rescan') this.cx.py.call('rescan', sid)
    else this.cx.py.call('end_scan', sid, true)
  }

  /** ExplainForeignScan: each line of explain() as "Multicorn: <line>". */
  explain(node: number, es: number): void {
    const { h, py } = this.cx
    const st = this.state(node)
    const scan = JSON.stringify({
      quals: st.plan.quals,
      columns: st.plan.attnums.map((a) => st.plan.def.cols.find((c) => c.attnum === a)!.name),
      sortkeys: st.plan.sortkeys,
      limit: st.plan.limit,
      offset: st.plan.offset,
    })
    const lines = py.call('explain', this.cx.json(st.plan.def), scan, h.u8at(es + FL.es_verbose)) as string[]
    for (const line of lines) h.M._ExplainPropertyText(h.cstr('Multicorn'), h.pstrdup(line), es)
  }
}
