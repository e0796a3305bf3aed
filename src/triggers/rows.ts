// The trigger tuples of one call, deformed once (heap_deform_tuple) into reusable wasm arrays that the
// native side reads TD's values from; values of types converted in JS go to the codec. One set of
// buffers per nesting level: a trigger's Python code can fire triggers again (plpy.execute).
import type { Heap } from '../engine/pg/heap.js'
import { CodecReader } from '../python/codec.js'
import type { PlRuntime } from '../python/language.js'
import type { Site } from './site.js'

/** Wasm buffers of one nesting level, each for `cap` attributes. */
export interface Scratch {
  cap: number
  newValues: number
  newNulls: number
  oldValues: number
  oldNulls: number
  /** the modify area: int32 cols[cap], uint32 values[cap], uint8 nulls[cap], uint8 kinds[cap] */
  area: number
  /** a generic MODIFY value's codec bytes, copied out of wasm memory (building may grow it), and its reader */
  codec: Buffer
  reader: CodecReader
}

export class TriggerRows {
  private readonly levels: Scratch[] = []
  private readonly heap: Heap
  /** heap_deform_tuple, looked up once (the module object has thousands of properties) */
  private readonly deformFn: (tuple: number, desc: number, values: number, nulls: number) => void

  constructor(private readonly rt: PlRuntime) {
    this.heap = rt.heap
    this.deformFn = rt.heap.M._heap_deform_tuple
  }

  /** The buffers of nesting level `depth`, big enough for natts attributes (malloc'd, kept). */
  scratch(depth: number, natts: number): Scratch {
    let s = this.levels[depth]
    if (s && s.cap >= natts) return s
    const M = this.heap.M
    if (s) for (const p of [s.newValues, s.newNulls, s.oldValues, s.oldNulls, s.area]) M._free(p)
    const cap = Math.max(natts, 16)
    const codec = s?.codec ?? Buffer.alloc(256)
    s = {
      codec,
      reader: new CodecReader(codec, 0),
      cap,
      newValues: M._malloc(4 * cap) as number,
      newNulls: M._malloc(cap) as number,
      oldValues: M._malloc(4 * cap) as number,
      oldNulls: M._malloc(cap) as number,
      area: M._malloc(10 * cap) as number,
    }
    this.levels[depth] = s
    return s
  }

  /** A reader over a copy of len bytes of wasm memory at ptr (the scratch's buffer, grown as needed). */
  readerFor(s: Scratch, ptr: number, len: number): CodecReader {
    if (s.codec.length < len) s.codec = Buffer.alloc(Math.max(len, s.codec.length * 2))
    s.codec.set(this.heap.bytes(ptr, len))
    return s.reader.reset(s.codec, len)
  }

  /** heap_deform_tuple into values/nulls. */
  deform(tuple: number, desc: number, values: number, nulls: number): void {
    this.deformFn(tuple, desc, values, nulls)
  }

  /**
   * Encode the values the native side takes from the codec: every non-null codec column of the new tuple,
   * then of the old one (native/triggers/trigger.c row_dict reads them in this order). Returns the codec length.
   */
  encode(site: Site, newValues: number, newNulls: number, oldValues: number, oldNulls: number): number {
    if (site.codecCols.length === 0) return 0
    const h = this.heap
    const w = this.rt.codec
    w.reset()
    for (const [values, nulls] of [
      [newValues, newNulls],
      [oldValues, oldNulls],
    ] as const) {
      if (!values) continue
      for (const i of site.codecCols) {
        if (h.u8at(nulls + i)) continue
        site.cols[i]!.encoder!(w, h.u32at(values + 4 * i))
      }
    }
    return w.pos
  }

  /** Text and bytea values stored compressed or out of line: detoast them in place for the native side. */
  detoast(site: Site, values: number, nulls: number): void {
    if (!values) return
    const h = this.heap
    for (const i of site.varlenaCols) {
      if (h.u8at(nulls + i)) continue
      const a = values + 4 * i
      const d = h.u32at(a)
      const b = h.u8at(d)
      if (b === 0x01 || (b & 0x03) === 0x02) h.setU32(a, h.M._pg_detoast_datum_packed(d) as number)
    }
  }
}
