// An SPI tuple table as columns for plcolumns (docs/columns.md): the rows are deformed in chunks
// (heap_deform_tuple, as PLy_input_from_tuple does per row) and each column is gathered into one buffer —
// fixed-width types (bool, int2/4/8, oid, float4/8, and dates/timestamps when datetime64 is asked for)
// as their packed values plus a NULL byte per row, so Python wraps them with numpy.frombuffer and no
// Python object is made per value; every other type through the language core's own encoders
// (InputConverters: PL/Python's conversions — Decimal, str, bytes, lists, dicts) as one codec LIST.
//
// Wire shape (decoded by native/core/codec.c): TUPLE(names LIST[str], types LIST[int], columns LIST,
// nrows), each column either TUPLE(STR code, BYTES data, BYTES nulls | NONE) or a LIST of values.
import { L } from '../engine/pg/layout.js'
import { CodecWriter, T } from '../python/codec.js'
import type { PlRuntime } from '../python/language.js'

/** Packed fixed-width column kinds: the struct code Python reads them with, and bytes per value. */
const FIXED: Record<number, { code: string; size: number; byref?: boolean }> = {
  16: { code: '?', size: 1 }, // bool
  21: { code: 'h', size: 2 }, // int2
  23: { code: 'i', size: 4 }, // int4
  26: { code: 'I', size: 4 }, // oid
  700: { code: 'f', size: 4 }, // float4: by value on wasm32
  20: { code: 'q', size: 8, byref: true }, // int8: by reference on wasm32 (Datum is 4 bytes)
  701: { code: 'd', size: 8, byref: true }, // float8
}
/** With datetime64: date as int32 days, timestamp/timestamptz as int64 microseconds since 2000-01-01. */
const TEMPORAL: Record<number, { code: string; size: number; byref?: boolean }> = {
  1082: { code: 'D', size: 4 },
  1114: { code: 'T', size: 8, byref: true },
  1184: { code: 'T', size: 8, byref: true },
}

/** What a tuple descriptor contributes to a column result. */
interface Desc {
  natts: number
  live: number[]
  names: string[]
  types: number[]
}

function describe(rt: PlRuntime, tupdesc: number): Desc {
  const h = rt.heap
  const natts = h.i32at(tupdesc + L.tupdesc_natts)
  const base = tupdesc + L.tupdesc_compact_attrs + L.compact_attr_size * natts
  const d: Desc = { natts, live: [], names: [], types: [] }
  for (let i = 0; i < natts; i++) {
    const a = base + i * L.attr_size
    if (h.u8at(a + L.attr_attisdropped)) continue
    d.live.push(i)
    d.names.push(h.str(a + L.attr_attname) ?? '')
    d.types.push(h.u32at(a + L.attr_atttypid))
  }
  return d
}

/** Per-runtime scratch: the deform area (malloc'd, grown as needed). */
interface Scratch {
  values: number
  nulls: number
  cap: number
}
const scratches = new WeakMap<PlRuntime, Scratch>()

function scratch(rt: PlRuntime, datums: number): Scratch {
  let s = scratches.get(rt)
  if (!s) {
    s = { values: 0, nulls: 0, cap: 0 }
    scratches.set(rt, s)
  }
  if (s.cap < datums) {
    const M = rt.heap.M
    if (s.values) M._free(s.values)
    if (s.nulls) M._free(s.nulls)
    s.cap = Math.max(datums, 1024)
    s.values = M._malloc(4 * s.cap) as number
    s.nulls = M._malloc(s.cap) as number
  }
  return s
}

/** Datums deformed per chunk: bounds the scratch area whatever the row count. */
const CHUNK_DATUMS = 1 << 16

/** A growable byte buffer of packed values (or NULL flags). */
class Packed {
  bytes: Uint8Array
  constructor(cap: number) {
    this.bytes = new Uint8Array(Math.max(cap, 8))
  }
  /** room for `n` bytes in all */
  ensure(n: number): void {
    if (n <= this.bytes.length) return
    let cap = this.bytes.length * 2
    while (cap < n) cap *= 2
    const b = new Uint8Array(cap)
    b.set(this.bytes)
    this.bytes = b
  }
}

/**
 * The columns of a result, gathered from one or more SPI tuple tables of the same shape (a cursor read in
 * chunks, so the whole result never sits in wasm memory as tuples). `temporal`: dates and timestamps
 * packed for datetime64 instead of PL/Python's text.
 */
export class ColumnBuilder {
  private readonly d: Desc
  private readonly kinds: Array<{ code: string; size: number; byref?: boolean } | undefined>
  private readonly packed: Array<Packed | null>
  private readonly nullmaps: Array<Packed | null>
  private readonly hasNull: boolean[]
  private readonly items: Array<CodecWriter | null>
  private readonly enc: Array<((w: CodecWriter, d: number) => void) | null>
  rows = 0

  constructor(
    private readonly rt: PlRuntime,
    tupdesc: number,
    temporal: boolean,
  ) {
    this.d = describe(rt, tupdesc)
    this.kinds = this.d.types.map((t) => FIXED[t] ?? (temporal ? TEMPORAL[t] : undefined))
    this.packed = this.kinds.map((k) => (k ? new Packed(k.size * 1024) : null))
    this.nullmaps = this.kinds.map((k) => (k ? new Packed(1024) : null))
    this.hasNull = this.kinds.map(() => false)
    this.items = this.kinds.map((k) => (k ? null : new CodecWriter(1 << 16)))
    this.enc = this.d.types.map((t, c) => (this.kinds[c] ? null : rt.io.encoder(t)))
  }

  /** Append the `n` rows of SPI tuple table `tt` (not freed here). */
  add(tt: number, n: number): void {
    const rt = this.rt
    const h = rt.heap
    const M = h.M
    const { d, kinds } = this
    const tupdesc = h.u32at(tt + L.stt_tupdesc)
    const vals = h.u32at(tt + L.stt_vals)
    const ncol = d.live.length
    const natts = Math.max(d.natts, 1)
    const total = this.rows + n
    for (let c = 0; c < ncol; c++) {
      const k = kinds[c]
      if (!k) continue
      this.packed[c]!.ensure(k.size * total)
      this.nullmaps[c]!.ensure(total)
    }
    const s = scratch(rt, Math.min(Math.max(n, 1), Math.floor(CHUNK_DATUMS / natts) || 1) * natts)
    const per = Math.max(1, Math.floor(s.cap / natts))
    const deform = M._heap_deform_tuple as (t: number, desc: number, v: number, nl: number) => void
    for (let off = 0; off < n; off += per) {
      const m = Math.min(per, n - off)
      for (let r = 0; r < m; r++)
        deform(h.u32at(vals + 4 * (off + r)), tupdesc, s.values + 4 * natts * r, s.nulls + natts * r)
      const at = this.rows + off // output row of this chunk's first row
      for (let c = 0; c < ncol; c++) {
        const i = d.live[c]!
        const k = kinds[c]
        if (!k) {
          const cw = this.items[c]!
          const e = this.enc[c]!
          for (let r = 0; r < m; r++) {
            if (h.u8at(s.nulls + i + natts * r)) cw.none()
            else e(cw, h.u32at(s.values + 4 * (i + natts * r)))
          }
          continue
        }
        h.refresh() // the encoders of other columns may have grown the memory
        const u8 = h.u8
        const u32 = h.u32
        const vbase = (s.values >>> 2) + i
        const nbase = s.nulls + i
        const out = this.packed[c]!.bytes
        const nm = this.nullmaps[c]!.bytes
        let nulls = false
        if (k.byref) {
          const o32 = new Uint32Array(out.buffer, out.byteOffset, out.byteLength >>> 2)
          for (let r = 0; r < m; r++) {
            const row = at + r
            if (u8[nbase + natts * r]) {
              nm[row] = 1
              nulls = true
              continue
            }
            const p = u32[vbase + natts * r]!
            if ((p & 3) === 0) {
              o32[2 * row] = u32[p >>> 2]!
              o32[2 * row + 1] = u32[(p >>> 2) + 1]!
            } else {
              out.set(u8.subarray(p, p + 8), 8 * row)
            }
          }
        } else if (k.size === 4) {
          const o32 = new Uint32Array(out.buffer, out.byteOffset, out.byteLength >>> 2)
          for (let r = 0; r < m; r++) {
            if (u8[nbase + natts * r]) {
              nm[at + r] = 1
              nulls = true
            } else o32[at + r] = u32[vbase + natts * r]!
          }
        } else if (k.size === 2) {
          const o16 = new Uint16Array(out.buffer, out.byteOffset, out.byteLength >>> 1)
          for (let r = 0; r < m; r++) {
            if (u8[nbase + natts * r]) {
              nm[at + r] = 1
              nulls = true
            } else o16[at + r] = u32[vbase + natts * r]! & 0xffff
          }
        } else {
          for (let r = 0; r < m; r++) {
            if (u8[nbase + natts * r]) {
              nm[at + r] = 1
              nulls = true
            } else out[at + r] = u32[vbase + natts * r]! & 0xff ? 1 : 0
          }
        }
        if (nulls) this.hasNull[c] = true
      }
    }
    this.rows = total
  }

  /**
   * Write the columns into `w` (the op's codec result): TUPLE(names, types, columns, nrows), each column
   * TUPLE(STR code, BYTES data, BYTES nulls | NONE) or a LIST of values.
   */
  finish(w: CodecWriter): void {
    const { d, kinds, rows } = this
    const ncol = d.live.length
    w.header(T.TUPLE, 4)
    w.header(T.LIST, ncol)
    for (const name of d.names) w.text(name)
    w.header(T.LIST, ncol)
    for (const t of d.types) w.int32(t)
    w.header(T.LIST, ncol)
    for (let c = 0; c < ncol; c++) {
      const k = kinds[c]
      if (k) {
        w.header(T.TUPLE, 3)
        w.text(k.code)
        w.bytes(this.packed[c]!.bytes.subarray(0, k.size * rows))
        if (this.hasNull[c]) w.bytes(this.nullmaps[c]!.bytes.subarray(0, rows))
        else w.none()
      } else {
        w.header(T.LIST, rows)
        w.raw(this.items[c]!.view())
      }
    }
    w.int32(rows)
  }
}
