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

/** Per-runtime scratch: the deform area (malloc'd, grown as needed) and writers for object columns. */
interface Scratch {
  values: number
  nulls: number
  cap: number
  writers: CodecWriter[]
}
const scratches = new WeakMap<PlRuntime, Scratch>()

function scratch(rt: PlRuntime, datums: number): Scratch {
  let s = scratches.get(rt)
  if (!s) {
    s = { values: 0, nulls: 0, cap: 0, writers: [] }
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

/**
 * Write SPI_tuptable's `n` rows as columns into `w` (the op's codec result). `temporal`: dates and
 * timestamps packed for datetime64 instead of PL/Python's text. Does not free the tuple table.
 */
export function writeColumns(rt: PlRuntime, w: CodecWriter, tt: number, n: number, temporal: boolean): void {
  const h = rt.heap
  const M = h.M
  const tupdesc = h.u32at(tt + L.stt_tupdesc)
  const vals = h.u32at(tt + L.stt_vals)
  const d = describe(rt, tupdesc)
  const ncol = d.live.length
  const natts = Math.max(d.natts, 1)
  const kinds = d.types.map((t) => FIXED[t] ?? (temporal ? TEMPORAL[t] : undefined))
  const packed = kinds.map((k) => (k ? new Uint8Array(k.size * n) : null))
  const nullmaps = kinds.map((k) => (k ? new Uint8Array(n) : null))
  const hasNull = new Array<boolean>(ncol).fill(false)
  const s = scratch(rt, Math.min(Math.max(n, 1), Math.floor(CHUNK_DATUMS / natts) || 1) * natts)
  const per = Math.max(1, Math.floor(s.cap / natts))
  const writers: Array<CodecWriter | null> = kinds.map((k, c) => {
    if (k) return null
    const cw = s.writers[c] ?? new CodecWriter(1 << 16)
    s.writers[c] = cw
    cw.reset()
    cw.header(T.LIST, n)
    return cw
  })
  const enc = d.types.map((t, c) => (kinds[c] ? null : rt.io.encoder(t)))
  const deform = M._heap_deform_tuple as (t: number, desc: number, v: number, nl: number) => void
  for (let off = 0; off < n; off += per) {
    const m = Math.min(per, n - off)
    for (let r = 0; r < m; r++)
      deform(h.u32at(vals + 4 * (off + r)), tupdesc, s.values + 4 * natts * r, s.nulls + natts * r)
    for (let c = 0; c < ncol; c++) {
      const i = d.live[c]!
      const k = kinds[c]
      h.refresh()
      const u8 = h.u8
      const u32 = h.u32
      const vbase = (s.values >>> 2) + i
      const nbase = s.nulls + i
      if (k) {
        const out = packed[c]!
        const nm = nullmaps[c]!
        if (k.byref) {
          const o32 = new Uint32Array(out.buffer, out.byteOffset, out.byteLength >>> 2)
          for (let r = 0; r < m; r++) {
            const row = off + r
            if (u8[nbase + natts * r]) {
              nm[row] = 1
              hasNull[c] = true
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
              nullmaps[c]![off + r] = 1
              hasNull[c] = true
            } else o32[off + r] = u32[vbase + natts * r]!
          }
        } else if (k.size === 2) {
          const o16 = new Uint16Array(out.buffer, out.byteOffset, out.byteLength >>> 1)
          for (let r = 0; r < m; r++) {
            if (u8[nbase + natts * r]) {
              nm[off + r] = 1
              hasNull[c] = true
            } else o16[off + r] = u32[vbase + natts * r]! & 0xffff
          }
        } else {
          for (let r = 0; r < m; r++) {
            if (u8[nbase + natts * r]) {
              nm[off + r] = 1
              hasNull[c] = true
            } else out[off + r] = u32[vbase + natts * r]! & 0xff ? 1 : 0
          }
        }
      } else {
        const cw = writers[c]!
        const e = enc[c]!
        for (let r = 0; r < m; r++) {
          if (h.u8at(nbase + natts * r)) cw.none()
          else e(cw, h.u32at(s.values + 4 * (i + natts * r)))
        }
      }
    }
  }
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
      w.bytes(packed[c]!)
      if (hasNull[c]) w.bytes(nullmaps[c]!)
      else w.none()
    } else {
      w.raw(writers[c]!.view())
      if (writers[c]!.buf.length > 1 << 22) s.writers[c] = new CodecWriter(1 << 16) // do not keep a big one
    }
  }
  w.int32(n)
}
