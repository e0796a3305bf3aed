// SPI results → the codec, for plpy's result objects (PLy_spi_execute_fetch_result, plpy_resultobject.c).
// Values go through the language core's input conversions (InputConverters: ints, floats, bools, text and
// bytea are read straight from wasm memory, never through text; composites, arrays, domains as
// PL/Python maps them). Runs inside the operation's PG_TRY, so a failing output function becomes an SPI
// exception, as in PL/Python.
//
// Wire shape, decoded by native/core/codec.c: TUPLE(status, nrows, ROWS | NONE, BYTES | NONE). ROWS carries
// the column names once and then the values row by row; BYTES is the JSON [names, types, typmods] of the
// tuple descriptor, made once per shape and parsed by Python only if colnames() etc. are called.
import { L } from '../engine/pg/layout.js'
import { type CodecWriter, T } from '../python/codec.js'
import { OPW, STATW } from '../python/host.js'
import type { PlRuntime } from '../python/language.js'
import { ARG_KIND } from '../python/procedures.js'
import type { SimpleRow } from './simple.js'
import { shim } from './state.js'

/** What a tuple descriptor contributes to a result, with its codec bytes made once. */
export interface Shape {
  /** the descriptor's FormData_pg_attribute array (as words), to recognise the same shape next time */
  words: Int32Array
  natts: number
  types: number[]
  /** attribute numbers (0-based) that appear in the row dicts: dropped columns do not */
  live: number[]
  /** the language core's encoders for the live columns, valid for type-catalog generation `gen` */
  encoders: Array<(w: CodecWriter, d: number) => void>
  gen: number
  /** ROWS tag, column count and names */
  rowsHeader: Buffer
  /** BYTES of the JSON [names, types, typmods]: colnames()/coltypes()/coltypmods() parse it when asked */
  desc: Buffer
  /** live column names, for the native registration */
  names: string[]
  /** the shape's slot in native/plpy/spiop.c (rows converted in C); -1: a column needs the codec; -2: not yet asked */
  slot: number
}

const MAX_SHAPES = 16
/** FormData_pg_attribute in words, and the word holding its uninitialised padding byte (with the mask
 * of the bytes that count in it) */
const ATTR_WORDS = L.attr_size >>> 2
const PAD_WORD = L.attr_padding >>> 2
const PAD_KEEP = ~(0xff << (8 * (L.attr_padding & 3)))
/** native/plpy/spiop.c MAX_SHAPES: slots shared by the shapes of every runtime */
const NATIVE_SLOTS = 64
const freeSlots: number[] = Array.from({ length: NATIVE_SLOTS }, (_, i) => NATIVE_SLOTS - 1 - i)

function header(tag: number, n: number): Buffer {
  const b = Buffer.alloc(5)
  b[0] = tag
  b.writeUInt32LE(n, 1)
  return b
}

function text(s: Buffer): Buffer {
  return Buffer.concat([header(T.STR, s.length), s])
}

/**
 * The shape of tupdesc: a recently seen one when its attributes are word for word the same
 * (TupleDescAttr; a loop of plpy.execute sees the same few shapes again and again).
 */
function shapeOf(rt: PlRuntime, tupdesc: number): Shape {
  const h = rt.heap
  const natts = h.i32at(tupdesc + L.tupdesc_natts)
  const base = tupdesc + L.tupdesc_compact_attrs + L.compact_attr_size * natts
  const len = L.attr_size * natts
  const mem = h.i32 // current: i32at above refreshed the views if the memory grew
  const w0 = base >>> 2
  const nw = len >>> 2
  const list = shim(rt).shapes as Shape[]
  search: for (let i = 0; i < list.length; i++) {
    const s = list[i]!
    if (s.words.length !== nw) continue
    for (let k = 0; k < nw; k++) {
      const a = s.words[k]!
      const b = mem[w0 + k]!
      // a descriptor the executor made (ExecTypeFromTL) has garbage in a padding byte: ignore it
      if (a !== b && (k % ATTR_WORDS !== PAD_WORD || ((a ^ b) & PAD_KEEP) !== 0)) continue search
    }
    if (i > 0) {
      list.splice(i, 1)
      list.unshift(s)
    }
    return s
  }
  const words = mem.slice(w0, w0 + nw)
  const attrs = Buffer.from(words.buffer, words.byteOffset, words.byteLength)
  const names: Buffer[] = []
  const types: number[] = []
  const typmods: number[] = []
  const live: number[] = []
  for (let i = 0; i < natts; i++) {
    const a = i * L.attr_size
    const name = attrs.subarray(a + L.attr_attname, a + L.attr_attname + 64)
    const end = name.indexOf(0)
    names.push(Buffer.from(name.subarray(0, end < 0 ? 64 : end)))
    types.push(attrs.readUInt32LE(a + L.attr_atttypid))
    typmods.push(attrs.readInt32LE(a + L.attr_atttypmod))
    if (attrs[a + L.attr_attisdropped] === 0) live.push(i)
  }
  const rowsHeader = Buffer.concat([header(T.ROWS, live.length), ...live.map((i) => text(names[i]!))])
  const json = Buffer.from(JSON.stringify([names.map((n) => n.toString('utf8')), types, typmods]))
  const desc = Buffer.concat([header(T.BYTES, json.length), json])
  const liveNames = live.map((i) => names[i]!.toString('utf8'))
  const s: Shape = {
    words,
    natts,
    types,
    live,
    rowsHeader,
    desc,
    names: liveNames,
    slot: -2,
    encoders: [],
    gen: -1,
  }
  list.unshift(s)
  if (list.length > MAX_SHAPES) {
    const old = list.pop()!
    if (old.slot >= 0) freeSlots.push(old.slot)
  }
  return s
}

/**
 * The shape's native slot: registered with native/plpy/spiop.c the first time it is asked for when every live
 * column has a type C converts (the kinds of function arguments, PLy_input_setup_func being the same for
 * both), -1 otherwise.
 */
function nativeSlot(rt: PlRuntime, s: Shape): number {
  if (s.slot !== -2) return s.slot
  const kinds = s.live.map((i) => ARG_KIND[s.types[i]!] ?? 0)
  const slot =
    kinds.includes(0) || s.names.some((n) => Buffer.byteLength(n) > 255) ? undefined : freeSlots.pop()
  s.slot = slot ?? -1
  if (slot !== undefined) rt.host.native.opShape(slot, s.live, kinds, s.names, s.desc.subarray(5))
  return s.slot
}

/** Rows converted into Python objects per chunk: bounds the deformed Datums kept in wasm memory. */
const CHUNK_DATUMS = 16384

/**
 * The result of a command converted in C (native/plpy/spiop.c opRows) when its columns allow it: the rows are
 * deformed here chunk by chunk and C makes the row dicts from the Datums, inside the operation's PG_TRY
 * like PLy_spi_execute_fetch_result. Returns false, with nothing consumed, when the codec must be used.
 * Frees SPI_tuptable.
 */
export function nativeResult(rt: PlRuntime, status: number): boolean {
  const h = rt.heap
  const st = shim(rt)
  const f = st.fn
  const processed = h.u64at(f.SPI_processed)
  if (status <= 0 || processed > 0x7fffffff) return false
  const tt = h.u32at(f.SPI_tuptable)
  const w = rt.host.stat
  w[OPW.status] = status
  w[OPW.processed] = processed
  if (!tt) {
    w[OPW.shape] = -1
    return true
  }
  const tupdesc = h.u32at(tt + L.stt_tupdesc)
  const s = shapeOf(rt, tupdesc)
  const slot = nativeSlot(rt, s)
  if (slot < 0) return false
  const natts = Math.max(s.natts, 1)
  const per = Math.max(1, Math.min(processed, Math.floor(CHUNK_DATUMS / natts)))
  const values = deformArea(rt, per * natts)
  const nulls = st.deformNulls
  const vals = h.u32at(tt + L.stt_vals)
  rt.syncMemory() // the statement may have grown the memory: C reads the Datums through its own view
  w[OPW.shape] = slot
  w[OPW.natts] = natts
  w[OPW.values] = values
  w[OPW.nulls] = nulls
  for (let off = 0; off < processed; off += per) {
    const n = Math.min(per, processed - off)
    for (let r = 0; r < n; r++)
      f.heap_deform_tuple(h.u32at(vals + 4 * (off + r)), tupdesc, values + 4 * natts * r, nulls + natts * r)
    w[OPW.offset] = off
    w[OPW.chunk] = n
    if (!rt.host.native.opRows()) return false
  }
  f.SPI_freetuptable(tt)
  return true
}

/**
 * The one-row result of a simple expression (simple.ts), status SPI_OK_SELECT: converted in C like
 * nativeResult when `native` and its columns allow it (the row's arrays are in heap_deform_tuple's
 * form), else encoded.
 */
export function oneRowResult(rt: PlRuntime, row: SimpleRow, native: boolean): Uint8Array | number {
  const status = 5 // SPI_OK_SELECT
  if (native) {
    const s = shapeOf(rt, row.tupdesc)
    const slot = nativeSlot(rt, s)
    if (slot >= 0) {
      const w = rt.host.stat
      w[OPW.status] = status
      w[OPW.processed] = 1
      rt.syncMemory() // the evaluation may have grown the memory
      w[OPW.shape] = slot
      w[OPW.natts] = row.natts
      w[OPW.values] = row.values
      w[OPW.nulls] = row.nulls
      w[OPW.offset] = 0
      w[OPW.chunk] = 1
      if (rt.host.native.opRows()) return status
    }
  }
  return encodeOneRow(rt, status, row.tupdesc, row.values, row.nulls)
}

/** heap_deform_tuple's output arrays with room for n Datums (malloc'd once, grown as needed). */
function deformArea(rt: PlRuntime, n: number): number {
  const st = shim(rt)
  if (st.deformCap < n) {
    const M = rt.heap.M
    if (st.deformValues) M._free(st.deformValues)
    if (st.deformNulls) M._free(st.deformNulls)
    st.deformCap = Math.max(n, 16)
    st.deformValues = M._malloc(4 * st.deformCap) as number
    st.deformNulls = M._malloc(st.deformCap) as number
  }
  return st.deformValues
}

/** Rows [0, n) of an SPI tuple table as ROWS (heap_deform_tuple per row, PLy_input_from_tuple). */
function writeRows(rt: PlRuntime, w: CodecWriter, s: Shape, tupdesc: number, vals: number, n: number): void {
  const h = rt.heap
  const st = shim(rt)
  const f = st.fn
  w.raw(s.rowsHeader)
  w.u32(n)
  if (n === 0) return
  const values = deformArea(rt, s.natts)
  const nulls = st.deformNulls
  const live = s.live
  const enc = encodersOf(rt, s)
  for (let r = 0; r < n; r++) {
    f.heap_deform_tuple(h.u32at(vals + 4 * r), tupdesc, values, nulls)
    const u32 = h.u32 // fresh after the call (u32at refreshes views of a grown memory)
    const u8 = h.u8
    for (let k = 0; k < live.length; k++) {
      const i = live[k]!
      if (u8[nulls + i]) w.none()
      else enc[k]!(w, u32[(values >>> 2) + i]!)
    }
  }
}

/** The language core's encoder per live column, looked up again when types changed. */
function encodersOf(rt: PlRuntime, s: Shape): Array<(w: CodecWriter, d: number) => void> {
  const gen = rt.watch.typeGen
  if (s.gen !== gen) {
    s.encoders = s.live.map((i) => rt.io.encoder(s.types[i]!))
    s.gen = gen
  }
  // the running procedure's TRANSFORM FOR TYPE applies to its query results too (PLy_input_setup_tuple)
  const trf = rt.frame?.proc?.fromSql
  if (!trf) return s.encoders
  return s.live.map((i, k) => rt.io.transformEncoder(s.types[i]!, trf) ?? s.encoders[k]!)
}

/**
 * (status, 1, [the row], desc) for a row whose Datums are already in wasm memory: `values`, and
 * `nulls` as bool bytes (heap_deform_tuple's form). simple.ts's rows computed without the executor.
 */
export function encodeOneRow(
  rt: PlRuntime,
  status: number,
  tupdesc: number,
  values: number,
  nulls: number,
): Uint8Array {
  const h = rt.heap
  const w = rt.codec
  w.reset()
  w.header(T.TUPLE, 4)
  w.int32(status)
  w.int32(1)
  const s = shapeOf(rt, tupdesc)
  w.raw(s.rowsHeader)
  w.u32(1)
  const enc = encodersOf(rt, s)
  const live = s.live
  for (let k = 0; k < live.length; k++) {
    const i = live[k]!
    if (h.u8at(nulls + i)) w.none()
    else enc[k]!(w, h.u32at(values + 4 * i))
  }
  w.raw(s.desc)
  return codecResult(rt, w)
}

function uintTo(w: CodecWriter, n: number): void {
  if (n <= 0x7fffffff) w.int32(n)
  else w.int64(BigInt(n))
}

/**
 * The result of a command: (status, nrows, rows | None, (colnames, coltypes, coltypmods) | None).
 * Frees SPI_tuptable. `withDesc` false for cursor fetches (PL/Python keeps no tuple descriptor there).
 */
export function encodeResult(rt: PlRuntime, status: number, withDesc = true): Uint8Array {
  const h = rt.heap
  const f = shim(rt).fn
  const w = rt.codec
  w.reset()
  w.header(T.TUPLE, 4)
  w.int32(status)
  const processed = h.u64at(f.SPI_processed)
  const tt = h.u32at(f.SPI_tuptable)
  if (status <= 0) {
    // PL/Python leaves nrows at -1 and rows empty when the command failed
    w.int32(-1)
    w.none()
    w.none()
  } else if (!tt) {
    uintTo(w, processed)
    w.none()
    w.none()
  } else {
    const tupdesc = h.u32at(tt + L.stt_tupdesc)
    const s = shapeOf(rt, tupdesc)
    uintTo(w, processed)
    writeRows(rt, w, s, tupdesc, h.u32at(tt + L.stt_vals), processed)
    if (withDesc) w.raw(s.desc)
    else w.none()
  }
  if (tt) f.SPI_freetuptable(tt)
  return codecResult(rt, w)
}

/**
 * The codec buffer itself as an op's result, its length in a status word: the native side decodes
 * `w.pos` bytes of it (pyglite.c js_to_py) and no view is made per operation.
 */
function codecResult(rt: PlRuntime, w: CodecWriter): Uint8Array {
  rt.host.stat[STATW.opResultLen] = w.pos
  return w.buf
}

/** The first row of SPI_tuptable as a one-row ROWS list (a cursor's next()), or null if there is none. */
export function encodeFirstRow(rt: PlRuntime): Uint8Array | null {
  const h = rt.heap
  const M = h.M
  const tt = h.u32at(M._SPI_tuptable)
  const processed = h.u64at(M._SPI_processed)
  let out: Uint8Array | null = null
  if (tt && processed > 0) {
    const w = rt.codec
    w.reset()
    const tupdesc = h.u32at(tt + L.stt_tupdesc)
    writeRows(rt, w, shapeOf(rt, tupdesc), tupdesc, h.u32at(tt + L.stt_vals), 1)
    out = codecResult(rt, w)
  }
  if (tt) M._SPI_freetuptable(tt)
  return out
}
