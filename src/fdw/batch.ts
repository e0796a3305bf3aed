// One batch of rows from a wrapper (pyglite_fdw.fetch): [rows, column, column, ...], each column packed
// by pyglite_fdw/values.py pack — int32/int64/double arrays, one byte per boolean, NUL-separated UTF-8
// for text, or JSON for anything else (NULLs, other types, values that do not fit). Reading a column's
// value builds its Datum for the column's type in CurrentMemoryContext: the direct forms when the kinds
// match, the type's input function otherwise (which raises the type's own error for a bad value).
import type { Heap } from '../engine/pg/heap.js'
import type { DatumIo } from '../python/datum.js'
import type { ColumnKind } from './values.js'
import { jsonToDatum } from './values.js'

type Packed = [string, ArrayBuffer | string]

interface Column {
  tag: string
  i32?: Int32Array
  i64?: BigInt64Array
  f64?: Float64Array
  u8?: Uint8Array
  /** read position in u8 (text) */
  at: number
  json?: unknown[]
}

export interface Target {
  kind: ColumnKind['build']
  typoid: number
  typmod: number
}

const f32 = new Float32Array(1)
const u32 = new Uint32Array(f32.buffer)

export class Batch {
  readonly rows: number
  private readonly cols: Column[]

  constructor(raw: unknown[]) {
    this.rows = raw[0] as number
    this.cols = (raw.slice(1) as Packed[]).map(([tag, p]) => {
      const c: Column = { tag, at: 0 }
      if (tag === 'j') c.json = JSON.parse(p as string) as unknown[]
      else if (tag === 'i4') c.i32 = new Int32Array(p as ArrayBuffer)
      else if (tag === 'i8') c.i64 = new BigInt64Array(p as ArrayBuffer)
      else if (tag === 'f8') c.f64 = new Float64Array(p as ArrayBuffer)
      else c.u8 = new Uint8Array(p as ArrayBuffer)
      return c
    })
  }

  /** The Datum of column i in `row` (rows are read in order), or null for NULL. */
  datum(h: Heap, io: DatumIo, i: number, row: number, t: Target): number | null {
    const c = this.cols[i]!
    switch (c.tag) {
      case 'i4': {
        const v = c.i32![row]!
        if (t.kind === 'i4') return v
        if (t.kind === 'i2' && v >= -32768 && v <= 32767) return v & 0xffff
        if (t.kind === 'i8') return io.int8Datum(BigInt(v))
        return io.input(String(v), t.typoid, t.typmod)
      }
      case 'i8': {
        const v = c.i64![row]!
        if (t.kind === 'i8') return io.int8Datum(v)
        return io.input(v.toString(), t.typoid, t.typmod)
      }
      case 'f8': {
        const v = c.f64![row]!
        if (t.kind === 'f8') return io.float8Datum(v)
        if (t.kind === 'f4') {
          f32[0] = v
          if (Number.isFinite(f32[0]) || !Number.isFinite(v)) return u32[0]!
        }
        return io.input(String(v), t.typoid, t.typmod)
      }
      case 'b': {
        const v = c.u8![row]!
        if (t.kind === 'b') return v ? 1 : 0
        return io.input(v ? 'true' : 'false', t.typoid, t.typmod)
      }
      case 't': {
        const u8 = c.u8!
        let end = u8.indexOf(0, c.at)
        if (end < 0) end = u8.length
        const bytes = u8.subarray(c.at, end)
        c.at = end + 1
        if (t.kind !== 't') return io.inputBytes(bytes, t.typoid, t.typmod)
        const p = h.M._palloc(bytes.length + 4) as number
        h.refresh()
        h.u32[p >>> 2] = (bytes.length + 4) << 2
        h.u8.set(bytes, p + 4)
        return p
      }
      default: {
        const v = c.json![row]
        if (v === null || v === undefined) return null
        return jsonToDatum(h, io, v, t.kind, t.typoid, t.typmod)
      }
    }
  }
}
