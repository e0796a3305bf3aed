// Rows in wasm memory: reading tuple descriptors, deforming tuples and composite Datums, forming new
// composite Datums (access/tupdesc.h, htup_details.h, heaptuple.c). Shared by argument/result conversion,
// plpy result sets and trigger rows (TD["new"]/TD["old"]); the only place that knows tuple layouts.
import type { Heap } from './heap.js'
import { L } from './layout.js'

/** One column of a tuple descriptor (FormData_pg_attribute, the parts PL/Python looks at). */
export interface Attr {
  name: string
  typid: number
  typmod: number
  len: number
  byval: boolean
  align: string
  dropped: boolean
  /** '' (not generated), 's' (stored) or 'v' (virtual) */
  generated: string
}

export interface RowDesc {
  ptr: number
  natts: number
  typeid: number
  typmod: number
  attrs: Attr[]
}

/** Deformed values of one tuple: valid until the next deform at the same nesting level. */
export interface Deformed {
  values: number
  nulls: number
}

export class Tuples {
  /** Scratch Datum/bool arrays per nesting level (a composite inside a composite uses the next level). */
  private readonly scratch: Array<{ values: number; nulls: number; cap: number; htd: number }> = []
  private level = 0
  private formValues = 0
  private formNulls = 0
  private formCap = 0

  constructor(private readonly heap: Heap) {}

  /** The columns of a TupleDesc (TupleDescAttr in PG 18: after the CompactAttribute array). */
  readDesc(desc: number): RowDesc {
    const h = this.heap
    const natts = h.i32at(desc + L.tupdesc_natts)
    const base = desc + L.tupdesc_compact_attrs + natts * L.compact_attr_size
    const attrs: Attr[] = []
    for (let i = 0; i < natts; i++) {
      const a = base + i * L.attr_size
      const gen = h.u8at(a + L.attr_attgenerated)
      attrs.push({
        name: h.str(a + L.attr_attname) ?? '',
        typid: h.u32at(a + L.attr_atttypid),
        typmod: h.i32at(a + L.attr_atttypmod),
        len: h.i16at(a + L.attr_attlen),
        byval: h.u8at(a + L.attr_attbyval) !== 0,
        align: String.fromCharCode(h.u8at(a + L.attr_attalign)),
        dropped: h.u8at(a + L.attr_attisdropped) !== 0,
        generated: gen ? String.fromCharCode(gen) : '',
      })
    }
    return {
      ptr: desc,
      natts,
      typeid: h.u32at(desc + L.tupdesc_tdtypeid),
      typmod: h.i32at(desc + L.tupdesc_tdtypmod),
      attrs,
    }
  }

  /** lookup_rowtype_tupdesc (pinned: give it back with release()). Raises for unknown types. */
  lookupRowtype(typeid: number, typmod: number): number {
    return this.heap.M._lookup_rowtype_tupdesc(typeid, typmod) as number
  }

  /** ReleaseTupleDesc. */
  release(desc: number): void {
    if (this.heap.i32at(desc + L.tupdesc_tdrefcount) >= 0) this.heap.M._DecrTupleDescRefCount(desc)
  }

  /** Type id and typmod stored in a composite Datum's header (detoasted pointer). */
  datumType(td: number): { typeid: number; typmod: number } {
    return {
      typeid: this.heap.u32at(td + L.hth_datum_typeid),
      typmod: this.heap.i32at(td + L.hth_datum_typmod),
    }
  }

  /**
   * Run fn with the values of a HeapTuple (or a composite Datum, with `header`) deformed into scratch
   * arrays: values at `values + 4*i`, null flags at `nulls + i`.
   */
  withDeformed<T>(
    tupleOrHeader: number,
    desc: number,
    natts: number,
    header: boolean,
    fn: (d: Deformed) => T,
  ): T {
    const h = this.heap
    const s = this.scratchFor(natts)
    let tuple = tupleOrHeader
    if (header) {
      // a HeapTupleData around the Datum: t_len = HeapTupleHeaderGetDatumLength, t_data = the header
      tuple = s.htd
      h.setU32(tuple + L.htd_t_len, h.u32at(tupleOrHeader) >>> 2)
      h.setU32(tuple + L.htd_t_data, tupleOrHeader)
    }
    h.M._heap_deform_tuple(tuple, desc, s.values, s.nulls)
    this.level++
    try {
      return fn({ values: s.values, nulls: s.nulls })
    } finally {
      this.level--
    }
  }

  private scratchFor(natts: number): { values: number; nulls: number; cap: number; htd: number } {
    const M = this.heap.M
    let s = this.scratch[this.level]
    if (!s || s.cap < natts) {
      if (s) {
        M._free(s.values)
        M._free(s.nulls)
      }
      const cap = Math.max(natts, 16)
      s = {
        values: M._malloc(4 * cap) as number,
        nulls: M._malloc(cap) as number,
        cap,
        htd: s?.htd ?? (M._malloc(L.htd_size) as number),
      }
      this.heap.refresh()
      this.heap.u8.fill(0, s.htd, s.htd + L.htd_size)
      this.scratch[this.level] = s
    }
    return s
  }

  /**
   * heap_form_tuple + HeapTupleGetDatum: a composite Datum in CurrentMemoryContext from Datums and null
   * flags (pallocs its inputs there too).
   */
  formDatum(desc: number, values: ArrayLike<number>, nulls: ArrayLike<boolean>): number {
    const h = this.heap
    const M = h.M
    const n = values.length
    // heap_form_tuple copies the values: its input arrays are scratch memory reused by every call
    if (n > this.formCap) {
      if (this.formValues) {
        M._free(this.formValues)
        M._free(this.formNulls)
      }
      this.formCap = Math.max(n, 32)
      this.formValues = M._malloc(4 * this.formCap) as number
      this.formNulls = M._malloc(this.formCap) as number
    }
    const vp = this.formValues
    const np = this.formNulls
    if (h.u32.length === 0) h.refresh()
    const u32 = h.u32
    const u8 = h.u8
    for (let i = 0; i < n; i++) {
      u32[(vp >>> 2) + i] = values[i]! >>> 0
      u8[np + i] = nulls[i] ? 1 : 0
    }
    const tuple = M._heap_form_tuple(desc, vp, np) as number
    return M._HeapTupleHeaderGetDatum(h.u32at(tuple + L.htd_t_data)) as number
  }
}
