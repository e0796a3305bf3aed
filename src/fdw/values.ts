// Datums ⇄ the JSON values pyglite_fdw exchanges with wrappers. Reading: numbers and booleans as JSON,
// any other type as its output text, which pyglite_fdw/values.py turns into the Python object multicorn2
// would pass (int, Decimal, date, list …) by the column's category. Writing: integers, floats, booleans
// and text are stored directly; any other value is the text the column type's input function reads, with
// the column's typmod (varchar(n), numeric(p,s)), as multicorn2 converts most values.

import { PgError } from '../engine/pg/elog.js'
import type { Heap } from '../engine/pg/heap.js'
import { OID } from '../engine/pg/layout.js'
import type { DatumIo } from '../python/datum.js'

/** Per column: Python to_pg kind, JS builder, Python from_pg category. */
export interface ColumnKind {
  py: string
  build: 'i2' | 'i4' | 'i8' | 'f4' | 'f8' | 'b' | 't' | 'g'
  cat: string
}

const INT4OID = OID.INT4
const TYPE_CAT: Record<number, string> = {
  [OID.INT2]: 'i',
  [OID.INT4]: 'i',
  [OID.INT8]: 'i',
  [OID.OID]: 'i',
  [OID.FLOAT4]: 'f',
  [OID.FLOAT8]: 'f',
  [OID.NUMERIC]: 'n',
  [OID.BOOL]: 'b',
  [OID.DATE]: 'd',
  [OID.TIMESTAMP]: 'ts',
  [OID.TIMESTAMPTZ]: 'tz',
  [OID.TIME]: 'tm',
  [OID.BYTEA]: 'y',
}

/** from_pg category of a (base) type; arrays name their element's. */
export function category(baseoid: number, elemoid: number, isArray: boolean): string {
  if (isArray) return `a:${TYPE_CAT[elemoid] ?? 't'}`
  return TYPE_CAT[baseoid] ?? 't'
}

export function columnKinds(
  cols: Array<{ typoid: number; typmod: number; baseoid: number; elemoid: number }>,
): ColumnKind[] {
  return cols.map((c) => {
    // a varlena array type has an element and a subscript handler; a fixed-length type with typelem
    // (name, point) is not an array for our purposes: treat those as text
    const isArray =
      c.elemoid !== 0 && c.baseoid !== OID.NAME && c.baseoid !== 600 && c.baseoid !== 22 && c.baseoid !== 30
    const cat = category(c.baseoid, c.elemoid, isArray)
    const domain = c.baseoid !== c.typoid
    let build: ColumnKind['build'] = 'g'
    let py = 'g'
    if (isArray) py = 'a'
    else
      switch (c.baseoid) {
        case OID.INT2:
          ;[py, build] = ['i', 'i2']
          break
        case INT4OID:
          ;[py, build] = ['i', 'i4']
          break
        case OID.INT8:
          ;[py, build] = ['i', 'i8']
          break
        case OID.FLOAT4:
          ;[py, build] = ['f', 'f4']
          break
        case OID.FLOAT8:
          ;[py, build] = ['f', 'f8']
          break
        case OID.BOOL:
          ;[py, build] = ['b', 'b']
          break
        case OID.TEXT:
          ;[py, build] = ['t', 't']
          break
        case OID.VARCHAR:
          ;[py, build] = ['t', c.typmod < 0 ? 't' : 'g']
          break
        case OID.BPCHAR:
          py = 't'
          break
        case OID.JSON:
        case OID.JSONB:
          py = 'j'
          break
      }
    // a domain's CHECK constraints run in its input function: never store those directly
    if (domain) build = 'g'
    return { py, build, cat }
  })
}

/** A Datum as the JSON value from_pg reads (numbers, booleans, or the output text). */
export function datumToJson(h: Heap, io: DatumIo, d: number, typoid: number, baseoid: number): unknown {
  switch (baseoid) {
    case OID.INT2:
      return (d << 16) >> 16
    case INT4OID:
      return d | 0
    case OID.INT8: {
      const v = h.i64at(d)
      return v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v.toString()
    }
    case OID.FLOAT8:
    case OID.FLOAT4: {
      const f = baseoid === OID.FLOAT8 ? h.f64at(d) : new Float32Array(new Uint32Array([d >>> 0]).buffer)[0]!
      // JSON has no NaN, Infinity or -0 (JSON.stringify(-0) is "0"): those travel as text
      return Number.isFinite(f) && !Object.is(f, -0) ? f : String(Object.is(f, -0) ? '-0' : f)
    }
    case OID.BOOL:
      return (d & 0xff) !== 0
    case OID.TEXT:
    case OID.VARCHAR:
    case OID.BPCHAR:
      return utf8d.decode(io.varlenaBytes(d))
    default:
      return io.output(d, typoid)
  }
}

const utf8 = new TextEncoder()
const utf8d = new TextDecoder('utf-8', { ignoreBOM: true })
const f32 = new Float32Array(1)
const u32 = new Uint32Array(f32.buffer)

/**
 * Build the Datum of value v (from to_pg) for a column, in CurrentMemoryContext. Anything that is not the
 * kind's direct form goes through the type's input function, which raises the type's own errors (22P02,
 * 22003) for values that do not fit.
 */
export function jsonToDatum(
  h: Heap,
  io: DatumIo,
  v: unknown,
  kind: ColumnKind['build'],
  typoid: number,
  typmod: number,
): number {
  // a C string ends at a NUL: refuse it rather than store a truncated value (as PL/Python does)
  if (typeof v === 'string' && v.includes('\0'))
    throw new PgError(
      'could not convert Python object into cstring: Python string representation appears to contain null bytes',
      { sqlstate: '22021' },
    )
  switch (kind) {
    case 'i4':
      if (typeof v === 'number' && Number.isInteger(v) && v >= -2147483648 && v <= 2147483647) return v | 0
      break
    case 'i2':
      if (typeof v === 'number' && Number.isInteger(v) && v >= -32768 && v <= 32767) return v & 0xffff
      break
    case 'i8':
      if (typeof v === 'number' && Number.isInteger(v)) return io.int8Datum(BigInt(v))
      break
    case 'f8':
      if (typeof v === 'number') return io.float8Datum(v)
      break
    case 'f4':
      if (typeof v === 'number') {
        f32[0] = v
        if (Number.isFinite(f32[0]) || !Number.isFinite(v)) return u32[0]!
      }
      break
    case 'b':
      if (typeof v === 'boolean') return v ? 1 : 0
      break
    case 't':
      if (typeof v === 'string') return textDatum(h, v)
      break
  }
  return io.input(typeof v === 'string' ? v : String(v), typoid, typmod)
}

/** A text varlena of s (UTF-8), palloc'd in CurrentMemoryContext. */
export function textDatum(h: Heap, s: string): number {
  const max = s.length * 3
  const p = h.M._palloc(max + 4) as number
  h.refresh()
  const { written } = utf8.encodeInto(s, h.u8.subarray(p + 4, p + 4 + max))
  h.setU32(p, (written + 4) << 2)
  return p
}
