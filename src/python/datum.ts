// Datum primitives for the type converters: type input/output functions (fmgr infos cached per type),
// varlena bytes, C strings and by-reference 8-byte values in wasm memory.
import type { Heap } from '../engine/pg/heap.js'

interface IoFunc {
  flinfo: number
  ioparam: number
}

const FMGR_INFO_SIZE = 48

export class DatumIo {
  private readonly outputs = new Map<number, IoFunc>()
  private readonly inputs = new Map<number, IoFunc>()
  private readonly scratch: number

  constructor(private readonly heap: Heap) {
    this.scratch = heap.M._malloc(16) as number
  }

  /** The bytes of a varlena Datum, detoasted if it is compressed or stored out of line. */
  varlenaBytes(d: number): Uint8Array {
    const h = this.heap
    let b = h.u8at(d)
    if (b === 0x01 || (b & 0x03) === 0x02) {
      d = h.M._pg_detoast_datum_packed(d) as number
      b = h.u8at(d)
    }
    if (b & 0x01) return h.bytes(d + 1, (b >>> 1) - 1)
    return h.bytes(d + 4, (h.u32at(d) >>> 2) - 4)
  }

  /** A new varlena (palloc'd in CurrentMemoryContext) holding `bytes`. */
  makeVarlena(bytes: Uint8Array): number {
    const h = this.heap
    const p = h.M._palloc(bytes.length + 4) as number
    h.setU32(p, (bytes.length + 4) << 2)
    h.write(p + 4, bytes)
    return p
  }

  /** A palloc'd NUL-terminated copy of UTF-8 bytes. */
  cstring(bytes: Uint8Array): number {
    const h = this.heap
    const p = h.M._palloc(bytes.length + 1) as number
    h.write(p, bytes)
    h.setU8(p + bytes.length, 0)
    return p
  }

  private ioFunc(cache: Map<number, IoFunc>, typoid: number, output: boolean): IoFunc {
    let f = cache.get(typoid)
    if (!f) {
      const h = this.heap
      const M = h.M
      if (output) M._getTypeOutputInfo(typoid, this.scratch, this.scratch + 4)
      else M._getTypeInputInfo(typoid, this.scratch, this.scratch + 4)
      const fn = h.u32at(this.scratch)
      const ioparam = output ? 0 : h.u32at(this.scratch + 4)
      const flinfo = M._malloc(FMGR_INFO_SIZE) as number // permanent: lives as long as the instance
      M._fmgr_info_cxt(fn, flinfo, h.u32at(M._TopMemoryContext))
      f = { flinfo, ioparam }
      cache.set(typoid, f)
    }
    return f
  }

  /** The type's output function applied to d (the text PostgreSQL would print). */
  output(d: number, typoid: number): string {
    const h = this.heap
    const f = this.ioFunc(this.outputs, typoid, true)
    const cstr = h.M._OutputFunctionCall(f.flinfo, d) as number
    const s = h.str(cstr) ?? ''
    h.M._pfree(cstr)
    return s
  }

  /** The type's input function applied to s (may raise the type's ERROR, e.g. 22P02). */
  input(s: string, typoid: number, typmod = -1): number {
    return this.inputBytes(Buffer.from(s, 'utf8'), typoid, typmod)
  }

  /** The type's input function applied to UTF-8 bytes (no NUL inside: the caller checked). */
  inputBytes(bytes: Uint8Array, typoid: number, typmod = -1): number {
    const f = this.ioFunc(this.inputs, typoid, false)
    return (this.heap.M._InputFunctionCall(f.flinfo, this.cstring(bytes), f.ioparam, typmod) as number) >>> 0
  }

  /** Forget cached I/O functions (a type was dropped or re-created). */
  clear(): void {
    this.outputs.clear()
    this.inputs.clear()
  }

  /** palloc'd 8-byte values (int8, float8 are by reference on wasm32). */
  int8Datum(v: bigint): number {
    const p = this.heap.M._palloc(8) as number
    this.heap.setI64(p, v)
    return p
  }
  float8Datum(v: number): number {
    const p = this.heap.M._palloc(8) as number
    this.heap.setF64(p, v)
    return p
  }
}
