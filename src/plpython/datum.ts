// Datums ↔ Python values, by PL/Python's type mapping (plpy_typeio.c): converters are chosen once per type
// and run many times. Reading: a Datum is written into the codec for Python. Writing: a Python result
// (already normalised by pyglite_host/convert.py) becomes a Datum through the type's input function.

import { PgError } from '../engine/elog.js'
import type { Heap } from '../engine/heap.js'
import { OID } from '../engine/layout.js'
import { type CodecWriter, type Decoded, T } from './codec.js'

type Encoder = (w: CodecWriter, datum: number) => void

interface IoFunc {
  flinfo: number
  ioparam: number
}

const FMGR_INFO_SIZE = 48

export class DatumIo {
  private readonly encoders = new Map<number, Encoder>()
  private readonly outputs = new Map<number, IoFunc>()
  private readonly inputs = new Map<number, IoFunc>()
  private readonly scratch: number

  constructor(private readonly heap: Heap) {
    this.scratch = heap.M._malloc(16) as number
  }

  /** The encoder for values of type `typoid` (cached). */
  encoder(typoid: number): Encoder {
    let e = this.encoders.get(typoid)
    if (!e) {
      e = this.makeEncoder(typoid)
      this.encoders.set(typoid, e)
    }
    return e
  }

  encode(w: CodecWriter, datum: number, isnull: boolean, typoid: number): void {
    if (isnull) w.none()
    else this.encoder(typoid)(w, datum)
  }

  private makeEncoder(typoid: number): Encoder {
    const h = this.heap
    switch (typoid) {
      case OID.BOOL:
        return (w, d) => w.bool((d & 255) !== 0)
      case OID.INT2:
        return (w, d) => w.int32((d << 16) >> 16)
      case OID.INT4:
        return (w, d) => w.int32(d | 0)
      case OID.OID:
        return (w, d) => (d >>> 0 > 0x7fffffff ? w.int64(BigInt(d >>> 0)) : w.int32(d))
      case OID.INT8:
        return (w, d) => w.int64(h.i64at(d))
      case OID.FLOAT4:
        return (w, d) => {
          h.setU32(this.scratch, d)
          w.float64(h.f32at(this.scratch))
        }
      case OID.FLOAT8:
        return (w, d) => w.float64(h.f64at(d))
      case OID.NUMERIC:
        return (w, d) => w.text(this.output(d, typoid), T.DECIMAL)
      case OID.TEXT:
      case OID.VARCHAR:
      case OID.BPCHAR:
        return (w, d) => w.utf8Bytes(this.varlenaBytes(d))
      case OID.BYTEA:
        return (w, d) => w.bytes(this.varlenaBytes(d))
      default:
        return (w, d) => w.text(this.output(d, typoid))
    }
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

  /** The type's output function applied to d (the text PostgreSQL would print). */
  output(d: number, typoid: number): string {
    const h = this.heap
    let f = this.outputs.get(typoid)
    if (!f) {
      const M = h.M
      M._getTypeOutputInfo(typoid, this.scratch, this.scratch + 4)
      const flinfo = M._malloc(FMGR_INFO_SIZE) as number // permanent: lives as long as the instance
      M._fmgr_info_cxt(h.u32at(this.scratch), flinfo, h.u32at(M._TopMemoryContext))
      f = { flinfo, ioparam: 0 }
      this.outputs.set(typoid, f)
    }
    const cstr = h.M._OutputFunctionCall(f.flinfo, d) as number
    const s = h.str(cstr) ?? ''
    h.M._pfree(cstr)
    return s
  }

  /** The type's input function applied to s (may raise the type's ERROR, e.g. 22P02). */
  input(s: string, typoid: number, typmod = -1): number {
    const h = this.heap
    let f = this.inputs.get(typoid)
    if (!f) {
      const M = h.M
      M._getTypeInputInfo(typoid, this.scratch, this.scratch + 4)
      const flinfo = M._malloc(FMGR_INFO_SIZE) as number // permanent: lives as long as the instance
      M._fmgr_info_cxt(h.u32at(this.scratch), flinfo, h.u32at(M._TopMemoryContext))
      f = { flinfo, ioparam: h.u32at(this.scratch + 4) }
      this.inputs.set(typoid, f)
    }
    return (h.M._InputFunctionCall(f.flinfo, h.pstrdup(s), f.ioparam, typmod) as number) >>> 0
  }

  /**
   * The Datum for a Python value already normalised by pyglite_host/convert.py (null for SQL NULL):
   * function results and plpy plan arguments go through here alike.
   */
  fromDecoded(v: Decoded, typoid: number, typmod = -1): number | null {
    if (v === null) return null
    if (typeof v === 'boolean') return v ? 1 : 0
    if (v instanceof Uint8Array) return this.makeVarlena(v)
    if (typeof v === 'string') return this.input(v, typoid, typmod)
    throw new PgError(`unsupported value shape for type ${typoid}`)
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
