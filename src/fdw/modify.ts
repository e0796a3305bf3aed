// Writes to a foreign table (multicorn2's multicornAddForeignUpdateTargets … EndForeignModify): INSERT
// calls insert(values), or bulk_insert(list) in batches of modify_batch_size when that is above 1
// (ExecForeignBatchInsert, PostgreSQL 14+); UPDATE calls update(rowid, new values) and DELETE
// delete(rowid), the rowid being the value of the wrapper's rowid_column fetched by the scan. As in
// multicorn2 (its docs say update(oldvalues, newvalues)), the first argument is the rowid value.
import { requireUtf8Database } from '../engine/pg/dbencoding.js'
import { functionTable } from '../engine/pg/fntable.js'
import { FL, L } from '../engine/pg/layout.js'
import { Batch } from './batch.js'
import { readTableDef, type TableDef } from './catalog.js'
import type { FdwContext } from './context.js'
import { datumToJson } from './values.js'

interface ModifyState {
  def: TableDef
  batch: number
  rowid: string | null
  names: string[]
  cats: string[]
}

const CMD_UPDATE = 2
const EXEC_FLAG_EXPLAIN_ONLY = 0x0001

export class Modifier {
  private readonly states: Array<ModifyState | undefined> = [undefined]
  private readonly free: number[] = []
  private table: WebAssembly.Table | undefined

  constructor(private readonly cx: FdwContext) {}

  private relid(rel: number): number {
    return this.cx.h.u32at(rel + L.rel_rd_id)
  }

  /**
   * AddForeignUpdateTargets: the scan must fetch the rowid column (DELETE), or every column (UPDATE:
   * multicorn2 hands update() the whole new row, unchanged columns included).
   */
  addTargets(root: number, rtindex: number, rel: number): void {
    const { h, py, rt } = this.cx
    const M = h.M
    const def = readTableDef(rt.spi, this.relid(rel))
    const rowid = py.call('rowid', this.cx.json(def)) as string
    const query = h.u32at(root + FL.root_parse)
    const update = h.u32at(query + FL.query_commandType) === CMD_UPDATE
    let found = false
    for (const c of def.cols) {
      if (!update && c.name !== rowid) continue
      found ||= c.name === rowid
      const v = M._makeVar(rtindex, c.attnum, c.typoid, c.typmod, c.collation, 0) as number
      M._add_row_identity_var(root, v, rtindex, h.pstrdup(c.name))
    }
    if (!found) throw new Error('The rowid attribute does not exist')
  }

  private state(rinfo: number): ModifyState {
    const st = this.states[this.cx.h.u32at(rinfo + FL.rri_fdwstate)]
    if (st) return st
    return this.make(rinfo) // GetForeignModifyBatchSize may come first (COPY, partition routing)
  }

  private make(rinfo: number): ModifyState {
    const { h, py, rt } = this.cx
    const def = readTableDef(rt.spi, this.relid(h.u32at(rinfo + FL.rri_rel)))
    const info = JSON.parse(py.call('modify_info', this.cx.json(def)) as string) as { batch: number }
    const st: ModifyState = {
      def,
      batch: Math.max(1, info.batch | 0),
      rowid: null,
      names: def.cols.map((c) => c.name),
      cats: def.kinds.map((k) => k.cat),
    }
    const idx = this.free.pop() ?? this.states.length
    this.states[idx] = st
    h.setU32(rinfo + FL.rri_fdwstate, idx)
    return st
  }

  /** BeginForeignModify */
  begin(_mtstate: number, rinfo: number, eflags: number): void {
    if (eflags & EXEC_FLAG_EXPLAIN_ONLY) return
    requireUtf8Database(this.cx.h, 'Python foreign tables') // dbencoding.ts: its text is read as UTF-8
    this.make(rinfo)
  }

  /** GetForeignModifyBatchSize: the wrapper's modify_batch_size. */
  batchSize(rinfo: number): number {
    return this.state(rinfo).batch
  }

  /** slot_getsomeattrs (a static inline): deform only what is not valid yet */
  private deform(slot: number, n: number): void {
    const h = this.cx.h
    if (h.i16at(slot + FL.slot_nvalid) < n) h.M._slot_getsomeattrs_int(slot, n)
  }

  /** Append a slot's values (as from_pg reads them) to the column lists. */
  private values(st: ModifyState, slot: number, cols: unknown[][]): void {
    const { h, rt } = this.cx
    const desc = h.u32at(slot + FL.slot_tupdesc)
    this.deform(slot, h.i32at(desc))
    const values = h.u32at(slot + FL.slot_values)
    const isnull = h.u32at(slot + FL.slot_isnull)
    st.def.cols.forEach((c, k) => {
      const i = c.attnum - 1
      cols[k]!.push(
        h.u8at(isnull + i) ? null : datumToJson(h, rt.datum, h.u32at(values + 4 * i), c.typoid, c.baseoid),
      )
    })
  }

  private send(st: ModifyState, op: string, slots: number[], rowid?: unknown, rowidcat?: string): void {
    const cols: unknown[][] = st.def.cols.map(() => [])
    for (const s of slots) this.values(st, s, cols)
    const kinds = st.def.kinds.map((k) => k.py)
    const payload = JSON.stringify({
      names: st.names,
      cats: st.cats,
      kinds,
      cols,
      n: slots.length,
      rowid,
      rowidcat,
    })
    const r = this.cx.py.call('modify', this.cx.json(st.def), op, payload)
    if (Array.isArray(r) && slots.length === 1) this.store(st, slots[0]!, new Batch(r))
  }

  /** The row insert/update returned, stored into the slot (multicorn2's pythonResultToTuple). */
  private store(st: ModifyState, slot: number, b: Batch): void {
    const { h, rt } = this.cx
    // ExecClearTuple (slot->tts_ops->clear, a static inline), then the values, then ExecStoreVirtualTuple
    this.table ??= functionTable(h)
    ;(this.table.get(h.u32at(h.u32at(slot + FL.slot_ops) + FL.ops_clear)) as (s: number) => void)(slot)
    const natts = h.i32at(h.u32at(slot + FL.slot_tupdesc))
    const values = h.u32at(slot + FL.slot_values)
    const isnull = h.u32at(slot + FL.slot_isnull)
    h.refresh()
    h.u8.fill(1, isnull, isnull + natts)
    st.def.cols.forEach((c, i) => {
      const k = st.def.kinds[i]!
      const d = b.datum(h, rt.datum, i, 0, { kind: k.build, typoid: c.typoid, typmod: c.typmod })
      h.setU8(isnull + c.attnum - 1, d === null ? 1 : 0)
      h.setU32(values + 4 * (c.attnum - 1), d ?? 0)
    })
    h.M._ExecStoreVirtualTuple(slot)
  }

  /** ExecForeignInsert */
  insert(rinfo: number, slot: number): number {
    const st = this.state(rinfo)
    this.send(st, 'insert', [slot])
    return slot
  }

  /** ExecForeignBatchInsert(estate, rinfo, slots, planSlots, numSlots *) */
  batchInsert(rinfo: number, slots: number, numSlots: number): number {
    const h = this.cx.h
    const st = this.state(rinfo)
    const n = h.i32at(numSlots)
    const list: number[] = []
    for (let i = 0; i < n; i++) list.push(h.u32at(slots + 4 * i))
    this.send(st, 'bulk_insert', list)
    return slots
  }

  /** The rowid junk column of the subplan's row (named after the column: add_row_identity_var). */
  private rowid(st: ModifyState, planSlot: number): [unknown, string] {
    const { h, rt } = this.cx
    if (st.rowid === null) st.rowid = this.cx.py.call('rowid', this.cx.json(st.def)) as string
    const col = st.def.cols.find((c) => c.name === st.rowid)
    const desc = rt.tuples.readDesc(h.u32at(planSlot + FL.slot_tupdesc))
    const i = desc.attrs.findIndex((a) => a.name === st.rowid)
    if (!col || i < 0) throw new Error('The rowid_column could not be identified')
    this.deform(planSlot, i + 1)
    const isnull = h.u8at(h.u32at(planSlot + FL.slot_isnull) + i)
    const d = h.u32at(h.u32at(planSlot + FL.slot_values) + 4 * i)
    const cat = st.cats[st.def.cols.indexOf(col)]!
    return [isnull ? null : datumToJson(h, rt.datum, d, col.typoid, col.baseoid), cat]
  }

  /** ExecForeignUpdate: update(rowid, new values) */
  update(rinfo: number, slot: number, planSlot: number): number {
    const st = this.state(rinfo)
    const [rowid, cat] = this.rowid(st, planSlot)
    this.send(st, 'update', [slot], rowid, cat)
    return slot
  }

  /** ExecForeignDelete: delete(rowid) */
  remove(rinfo: number, slot: number, planSlot: number): number {
    const st = this.state(rinfo)
    const [rowid, cat] = this.rowid(st, planSlot)
    this.send(st, 'delete', [], rowid, cat)
    return slot
  }

  /** EndForeignModify: end_modify() */
  end(rinfo: number): void {
    const h = this.cx.h
    const idx = h.u32at(rinfo + FL.rri_fdwstate)
    const st = this.states[idx]
    if (!st) return
    this.states[idx] = undefined
    this.free.push(idx)
    this.cx.py.call('end_modify', this.cx.json(st.def))
  }
}
