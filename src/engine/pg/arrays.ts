// PostgreSQL arrays in wasm memory (utils/array.h, arrayfuncs.c): walking the elements of an ArrayType in
// storage order, and constructing new arrays with construct_md_array. The only place that knows the
// ArrayType layout.

import { PgError } from './elog.js'
import type { Heap } from './heap.js'
import { L, MAXIMUM_ALIGNOF } from './layout.js'

/** Storage properties of an element type (typlen, typbyval, typalign). */
export interface ElemStorage {
  len: number
  byval: boolean
  align: string
}

export interface ArrayShape {
  ndim: number
  dims: number[]
}

const alignOf = (c: string): number => (c === 'd' ? 8 : c === 'i' ? 4 : c === 's' ? 2 : 1)
const alignUp = (p: number, a: number): number => (p + a - 1) & ~(a - 1)

/** An array of a fixed-width element type as stored: views of wasm memory, valid until it is next entered. */
export interface PackedArray {
  dims: number[]
  /** the NULL bitmap (bit set = not NULL), or null when the array has no NULLs */
  bitmap: Uint8Array | null
  /** the non-NULL elements, packed (fixed-width types whose width is their alignment have no padding) */
  data: Uint8Array
}

const popcount8 = (b: number): number => {
  let n = 0
  for (let v = b; v; v &= v - 1) n++
  return n
}

/** How many of an array's `n` elements a NULL bitmap marks present (bit set = not NULL). */
function countPresent(bitmap: Uint8Array, n: number): number {
  let present = 0
  for (let i = 0; i < n >> 3; i++) present += popcount8(bitmap[i]!)
  if (n & 7) present += popcount8(bitmap[n >> 3]! & ((1 << (n & 7)) - 1))
  return present
}

export class Arrays {
  constructor(private readonly heap: Heap) {}

  /**
   * Visit every element of array Datum `d` in storage order (row-major), calling `item(datum, isnull)`;
   * `shape` receives the dimensions first. The Datum is detoasted as needed.
   */
  walk(
    d: number,
    el: ElemStorage,
    shape: (s: ArrayShape) => void,
    item: (datum: number, isnull: boolean) => void,
  ) {
    const h = this.heap
    const { ndim, dims, n, bitmap, data } = this.header(d)
    shape({ ndim, dims })
    let p = data
    const align = alignOf(el.align)
    for (let i = 0; i < n; i++) {
      if (bitmap && (h.u8at(bitmap + (i >> 3)) & (1 << (i & 7))) === 0) {
        item(0, true)
        continue
      }
      item(this.fetch(p, el), false)
      p = alignUp(p + this.storedSize(p, el.len), align)
    }
  }

  /** The array Datum `d` of a fixed-width element type (`width` bytes, aligned to its width), detoasted. */
  packed(d: number, width: number): PackedArray {
    const h = this.heap
    const head = this.header(d)
    const bitmap = head.bitmap ? h.bytes(head.bitmap, (head.n + 7) >> 3) : null
    const present = bitmap ? countPresent(bitmap, head.n) : head.n
    return { dims: head.dims, bitmap, data: h.bytes(head.data, present * width) }
  }

  /**
   * ArrayType's header (array.h), the Datum detoasted: dimensions, element count, where the NULL bitmap is
   * (0: none) and where the elements start.
   */
  private header(d: number): { ndim: number; dims: number[]; n: number; bitmap: number; data: number } {
    const h = this.heap
    const a = h.M._pg_detoast_datum(d) as number
    const ndim = h.i32at(a + L.arr_ndim)
    const dims: number[] = []
    let n = ndim > 0 ? 1 : 0
    for (let i = 0; i < ndim; i++) {
      dims.push(h.i32at(a + L.arr_dims + 4 * i))
      n *= dims[i]!
    }
    const dataoffset = h.i32at(a + L.arr_dataoffset)
    const bitmap = dataoffset !== 0 ? a + L.arr_dims + 8 * ndim : 0
    const data = a + (dataoffset !== 0 ? dataoffset : alignUp(L.arr_dims + 8 * ndim, MAXIMUM_ALIGNOF))
    return { ndim, dims, n, bitmap, data }
  }

  /**
   * A new array (palloc'd in CurrentMemoryContext) laid out from packed elements, as construct_md_array
   * would lay them out (lower bounds 1); an empty array when there are no dimensions.
   */
  fromPacked(
    elemType: number,
    width: number,
    dims: number[],
    bitmap: Uint8Array | null,
    data: Uint8Array,
  ): number {
    const h = this.heap
    const M = h.M
    if (dims.length === 0) return M._construct_empty_array(elemType) as number
    const n = dims.reduce((x, y) => x * y, 1)
    // the parts must agree (they come from our own Python, but a mismatch would write past the array)
    if (
      !dims.every((d) => Number.isInteger(d) && d > 0) ||
      (bitmap && bitmap.length !== (n + 7) >> 3) ||
      data.length !== (bitmap ? countPresent(bitmap, n) : n) * width
    )
      throw new PgError('numpy_plpython3u: inconsistent packed array', { sqlstate: 'XX000' })
    const head = L.arr_dims + 8 * dims.length
    const overhead = bitmap ? alignUp(head + ((n + 7) >> 3), MAXIMUM_ALIGNOF) : alignUp(head, MAXIMUM_ALIGNOF)
    const size = overhead + data.length
    if (size > 0x3fffffff)
      throw new PgError(`array size exceeds the maximum allowed (${0x3fffffff})`, { sqlstate: '54000' })
    const a = M._palloc(size) as number
    h.refresh() // palloc may have grown the memory
    h.u8.fill(0, a, a + overhead) // the header's padding and the bitmap's last bits
    h.setU32(a, size << 2) // SET_VARSIZE: 4-byte header, little-endian
    h.setU32(a + L.arr_ndim, dims.length)
    h.setU32(a + L.arr_dataoffset, bitmap ? overhead : 0)
    h.setU32(a + L.arr_elemtype, elemType)
    dims.forEach((d, i) => {
      h.setU32(a + L.arr_dims + 4 * i, d)
      h.setU32(a + L.arr_dims + 4 * (dims.length + i), 1)
    })
    if (bitmap) h.write(a + head, bitmap)
    h.write(a + overhead, data)
    return a
  }

  /** fetch_att: by-value elements are read (1, 2 or 4 bytes), others are pointers into the array. */
  private fetch(p: number, el: ElemStorage): number {
    const h = this.heap
    if (!el.byval) return p
    switch (el.len) {
      case 1:
        return h.u8at(p)
      case 2:
        return h.i16at(p) & 0xffff
      default:
        return h.u32at(p)
    }
  }

  /** att_addlength_pointer: fixed length, varlena (any header) or cstring. */
  private storedSize(p: number, len: number): number {
    if (len > 0) return len
    const h = this.heap
    if (len === -2) {
      let e = p
      while (h.u8at(e) !== 0) e++
      return e - p + 1
    }
    const b = h.u8at(p)
    if (b === 0x01) return 2 + h.u8at(p + 1) // external TOAST pointer (VARTAG_SIZE); never inside arrays
    if (b & 0x01) return b >>> 1
    return h.u32at(p) >>> 2
  }

  /**
   * construct_md_array in CurrentMemoryContext; an empty (zero-dimensional) array when there are no
   * elements, as PL/Python returns for `[]`.
   */
  construct(
    elemType: number,
    el: ElemStorage,
    dims: number[],
    values: ArrayLike<number>,
    nulls: ArrayLike<boolean>,
  ): number {
    const h = this.heap
    const M = h.M
    const n = values.length
    if (n === 0) return M._construct_empty_array(elemType) as number
    const vp = M._palloc(4 * n) as number
    const np = M._palloc(n) as number
    const dp = M._palloc(8 * dims.length) as number
    for (let i = 0; i < n; i++) {
      h.setU32(vp + 4 * i, values[i]! >>> 0)
      h.setU8(np + i, nulls[i] ? 1 : 0)
    }
    dims.forEach((d, i) => {
      h.setU32(dp + 4 * i, d)
      h.setU32(dp + 4 * (dims.length + i), 1) // lower bounds: always 1 (PLySequence_ToArray)
    })
    return M._construct_md_array(
      vp,
      np,
      dims.length,
      dp,
      dp + 4 * dims.length,
      elemType,
      el.len,
      el.byval ? 1 : 0,
      el.align.charCodeAt(0),
    ) as number
  }
}
