// SPI results → the codec, for plpy's result objects (PLy_spi_execute_fetch_result, plpy_resultobject.c).
// Values go through the language core's type mapping (DatumIo: ints, floats, bools, text and bytea are
// read straight from wasm memory, never through text). Runs inside the operation's PG_TRY, so a failing
// output function becomes an SPI exception, as in PL/Python.
import { L } from '../engine/layout.js'
import { type CodecWriter, T } from '../plpython/codec.js'
import type { PlPythonRuntime } from '../plpython/runtime.js'
import { shim } from './state.js'

/** Column metadata of a tuple descriptor (TupleDescAttr). */
interface Columns {
  natts: number
  names: Uint8Array[]
  types: number[]
  typmods: number[]
  dropped: boolean[]
}

function columns(rt: PlPythonRuntime, tupdesc: number): Columns {
  const h = rt.heap
  const natts = h.i32at(tupdesc + L.tupdesc_natts)
  const base = tupdesc + L.tupdesc_compact_attrs + L.compact_attr_size * natts
  const c: Columns = { natts, names: [], types: [], typmods: [], dropped: [] }
  for (let i = 0; i < natts; i++) {
    const a = base + L.attr_size * i
    const name = h.bytes(a + L.attr_attname, 64)
    const end = name.indexOf(0)
    c.names.push(name.slice(0, end < 0 ? 64 : end))
    c.types.push(h.u32at(a + L.attr_atttypid))
    c.typmods.push(h.i32at(a + L.attr_atttypmod))
    c.dropped.push(h.u8at(a + L.attr_attisdropped) !== 0)
  }
  return c
}

function uint(w: CodecWriter, n: number): void {
  if (n <= 0x7fffffff) w.int32(n)
  else w.int64(BigInt(n))
}

/** Rows of tuptable as a ROWS value: a list of dicts keyed by column name (dropped columns skipped). */
function writeRows(
  rt: PlPythonRuntime,
  w: CodecWriter,
  c: Columns,
  tupdesc: number,
  vals: number,
  n: number,
): void {
  const h = rt.heap
  const M = h.M
  const live: number[] = []
  for (let i = 0; i < c.natts; i++) if (!c.dropped[i]) live.push(i)
  w.header(T.ROWS, live.length)
  for (const i of live) w.utf8Bytes(c.names[i]!)
  w.u32(n)
  const isnull = shim(rt).isnull
  const io = rt.io
  for (let r = 0; r < n; r++) {
    const tup = h.u32at(vals + 4 * r)
    for (const i of live) {
      const d = M._SPI_getbinval(tup, tupdesc, i + 1, isnull) as number
      io.encode(w, d >>> 0, h.u8at(isnull) !== 0, c.types[i]!)
    }
  }
}

/**
 * The result of a command: (status, nrows, rows | None, (colnames, coltypes, coltypmods) | None).
 * Frees SPI_tuptable. `withDesc` false for cursor fetches (PL/Python keeps no tuple descriptor there).
 */
export function encodeResult(rt: PlPythonRuntime, status: number, withDesc = true): Uint8Array {
  const h = rt.heap
  const M = h.M
  const w = rt.codec
  w.reset()
  w.header(T.TUPLE, 4)
  w.int32(status)
  const processed = h.u64at(M._SPI_processed)
  const tt = h.u32at(M._SPI_tuptable)
  if (status <= 0) {
    // PL/Python leaves nrows at -1 and rows empty when the command failed
    w.int32(-1)
    w.none()
    w.none()
  } else if (!tt) {
    uint(w, processed)
    w.none()
    w.none()
  } else {
    const tupdesc = h.u32at(tt + L.stt_tupdesc)
    const c = columns(rt, tupdesc)
    uint(w, processed)
    writeRows(rt, w, c, tupdesc, h.u32at(tt + L.stt_vals), processed)
    if (withDesc) {
      w.header(T.TUPLE, 3)
      w.header(T.LIST, c.natts)
      for (const n of c.names) w.utf8Bytes(n)
      w.header(T.LIST, c.natts)
      for (const t of c.types) uint(w, t)
      w.header(T.LIST, c.natts)
      for (const m of c.typmods) w.int32(m)
    } else {
      w.none()
    }
  }
  if (tt) M._SPI_freetuptable(tt)
  return w.view()
}

/** The first row of SPI_tuptable as a dict (a cursor's next()), or null when the fetch returned none. */
export function encodeFirstRow(rt: PlPythonRuntime): Uint8Array | null {
  const h = rt.heap
  const M = h.M
  const tt = h.u32at(M._SPI_tuptable)
  const processed = h.u64at(M._SPI_processed)
  let out: Uint8Array | null = null
  if (tt && processed > 0) {
    const w = rt.codec
    w.reset()
    const tupdesc = h.u32at(tt + L.stt_tupdesc)
    const c = columns(rt, tupdesc)
    writeRows(rt, w, c, tupdesc, h.u32at(tt + L.stt_vals), 1)
    // a ROWS value decodes to a list; the caller takes its only element
    out = w.view()
  }
  if (tt) M._SPI_freetuptable(tt)
  return out
}
