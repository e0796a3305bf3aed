// Columns into rows without a Python object per value (docs/columns.md): when pyglite's language handler
// offers a set-returning call materialize mode (src/python/materialize.ts; FROM-clause calls and the
// select list both allow it), plcolumns' rows()/transform() accept and hand over their result column
// batch by batch; each row is formed from the column buffers with tuplestore_putvalues, as a
// materialize-mode C function fills its tuplestore (InitMaterializedSRF, funcapi.c), by loops.ts's `put`
// in wasm (no JavaScript per row). Fixed-width numeric columns are written packed by Python straight into
// an area of wasm memory (columns_area, _pyglite.wasm_write); other scalar columns travel as text and go
// through the type's input function here, which is what PL/Python does with str() of each value
// (PLyObject_ToScalar), so its errors are PL/Python's.
import { PgError } from '../engine/pg/elog.js'
import { L } from '../engine/pg/layout.js'
import { errorValue } from '../plpy-shim/spi.js'
import { callFrame } from '../plpy-shim/state.js'
import type { PlRuntime } from '../python/language.js'
import { currentOffer, type MaterializeOffer } from '../python/materialize.js'
import { KIND, loops, PUT_SPEC } from './loops.js'

const MAT_SRF_USE_EXPECTED_DESC = 1
/** result types that travel packed: their struct code and width (int8/float8 are by reference on wasm32) */
const PACKED: Record<number, { code: string; size: number; kind: number }> = {
  16: { code: '?', size: 1, kind: KIND.bool },
  21: { code: 'h', size: 2, kind: KIND.int2 },
  23: { code: 'i', size: 4, kind: KIND.word },
  26: { code: 'I', size: 4, kind: KIND.word },
  20: { code: 'q', size: 8, kind: KIND.ref8 },
  701: { code: 'd', size: 8, kind: KIND.ref8 },
}
const BYTEA = 17

interface Column {
  typoid: number
  typmod: number
  /** packed struct code, or 't' for text through the input function */
  mode: string
  typinput: number
  ioparam: number
}

interface Put {
  offer: MaterializeOffer
  columns: Column[]
  values: number
  nulls: number
  /** put's column specs (loops.ts) */
  specs: number
  /** where Python writes the packed columns of the batch being put (columns_area), malloc'd, grown as needed */
  area: number
  areaCap: number
  /** what text columns allocate (the C strings, the input functions' results), reset after each batch */
  tmp: number
}
const puts = new WeakMap<MaterializeOffer, Put>()

/** The result columns if every one can be formed here (scalars, not bytea/arrays/composites), else null. */
function plan(rt: PlRuntime, desc: number): Column[] | null {
  const h = rt.heap
  const M = h.M
  const natts = h.i32at(desc + L.tupdesc_natts)
  const base = desc + L.tupdesc_compact_attrs + L.compact_attr_size * natts
  const cols: Column[] = []
  const out = M._palloc(8) as number
  for (let i = 0; i < natts; i++) {
    const a = base + i * L.attr_size
    if (h.u8at(a + L.attr_attisdropped)) return null
    const typoid = h.u32at(a + L.attr_atttypid)
    const typmod = h.i32at(a + L.attr_atttypmod)
    const t = rt.types.get(typoid)
    if (t.typtype !== 'b' || t.elem || typoid === BYTEA) return null
    const p = PACKED[typoid]
    M._getTypeInputInfo(typoid, out, out + 4)
    cols.push({ typoid, typmod, mode: p ? p.code : 't', typinput: h.u32at(out), ioparam: h.u32at(out + 4) })
  }
  return cols
}

type Op = (rt: PlRuntime, a?: unknown, b?: unknown, c?: unknown) => unknown

export const putOps: Record<string, Op> = {
  /**
   * Accept the running set-returning call's materialize offer: the result columns' modes in order (the
   * struct code a column may be packed with, or 't': only as text), or null when there is no offer or a column cannot be formed here (the rows
   * then go one per call, as in PL/Python).
   */
  columns_offer(rt) {
    callFrame(rt)
    const o = currentOffer(rt)
    if (o?.state !== 'open') return null
    const h = rt.heap
    const M = h.M
    const expected = h.u32at(o.rsi + L.rsi_expectedDesc)
    if (!expected) {
      o.state = 'declined'
      return null
    }
    const r = rt.elog.tryCatch(() => plan(rt, expected))
    if (!r.ok || !r.value) {
      o.state = 'declined'
      return null
    }
    const columns = r.value
    const init = rt.elog.tryCatch(() => {
      M._InitMaterializedSRF(o.fcinfo, MAT_SRF_USE_EXPECTED_DESC)
      return true
    })
    if (!init.ok) return errorValue(init.error)
    o.state = 'accepted'
    o.store = h.u32at(o.rsi + L.rsi_setResult)
    o.desc = h.u32at(o.rsi + L.rsi_setDesc)
    const n = Math.max(columns.length, 1)
    // ALLOCSET_DEFAULT_SIZES, under the call's context: gone with it if the statement fails
    const tmp = M._AllocSetContextCreateInternal(
      h.u32at(M._CurrentMemoryContext),
      h.cstr('plcolumns handover'),
      0,
      8192,
      8 * 1024 * 1024,
    ) as number
    puts.set(o, {
      offer: o,
      columns,
      values: M._malloc(4 * n) as number,
      nulls: M._malloc(n) as number,
      specs: M._malloc(PUT_SPEC * n) as number,
      area: 0,
      areaCap: 0,
      tmp,
    })
    return columns.map((c) => c.mode)
  },

  /**
   * The address of `nbytes` of wasm memory Python writes the next batch's packed columns into (valid until
   * the next columns_area or columns_end); the memory's length is re-registered for _pyglite.wasm_write.
   */
  columns_area(rt, nbytes) {
    const o = currentOffer(rt)
    const p = o && puts.get(o)
    if (!o || !p || o.state !== 'accepted')
      return errorValue(new PgError('plcolumns: no result is being handed over'))
    const need = Number(nbytes)
    if (!(need >= 0 && need <= 0x7fffffff)) return errorValue(new PgError('plcolumns: a batch too large'))
    if (need > p.areaCap) {
      const M = rt.heap.M
      if (p.area) M._free(p.area)
      p.areaCap = 0
      p.area = M._malloc(Math.max(need, 1 << 16)) as number
      if (!p.area)
        return errorValue(
          new PgError('out of memory', {
            sqlstate: '53200',
            detail: `plcolumns: failed on request of size ${need}.`,
          }),
        )
      p.areaCap = Math.max(need, 1 << 16)
    }
    rt.syncMemory()
    return p.area
  },

  /**
   * One batch of rows into the accepted tuplestore: `cols` in result order, each [code, data, nulls]
   * (packed with the code columns_offer gave, at addresses in the batch's area; nulls 0 when none) or an
   * array of string | null (any column, through its type's input function); `nrows` rows. false: a value
   * did not convert (kept for the handler to raise with the result conversion's context) — Python stops
   * there.
   */
  columns_put(rt, cols, nrows) {
    callFrame(rt)
    const o = currentOffer(rt)
    const p = o && puts.get(o)
    if (!o || !p || o.state !== 'accepted')
      return errorValue(new PgError('plcolumns: no result is being handed over'))
    const h = rt.heap
    const cur = h.M._CurrentMemoryContext as number
    const r = rt.elog.tryCatch(() => {
      const old = h.u32at(cur)
      h.setU32(cur, p.tmp) // MemoryContextSwitchTo(tmp); tryCatch restores the caller's on an error
      putBatch(rt, p, cols as unknown[], Number(nrows))
      h.setU32(cur, old)
      h.M._MemoryContextReset(p.tmp)
    })
    if (r.ok) return true
    o.error = r.error
    return false
  },

  /** the handover is over: free what it used (the tuplestore stays: it is the result) */
  columns_end(rt) {
    const o = currentOffer(rt)
    const p = o && puts.get(o)
    if (p) {
      const M = rt.heap.M
      M._free(p.values)
      M._free(p.nulls)
      M._free(p.specs)
      if (p.area) M._free(p.area)
      rt.elog.tryCatch(() => M._MemoryContextDelete(p.tmp))
      puts.delete(o)
    }
    return null
  },
}

function putBatch(rt: PlRuntime, p: Put, cols: unknown[], n: number): void {
  const h = rt.heap
  const M = h.M
  const ncol = p.columns.length
  if (cols.length !== ncol) throw new PgError('plcolumns: wrong number of columns handed over')
  const texts: Array<{ col: Column; values: Array<string | null>; data: number; nulls: number }> = []
  /** a packed buffer must lie in the area Python was given */
  const inArea = (a: number, len: number) => a >= p.area && a + len <= p.area + p.areaCap
  for (let c = 0; c < ncol; c++) {
    const col = p.columns[c]!
    const v = cols[c]
    const spec = p.specs + PUT_SPEC * c
    // packed: [code, data, nulls]; text (any column): the values' text, null for NULL
    const isPacked =
      Array.isArray(v) && v.length === 3 && typeof v[0] === 'string' && typeof v[1] === 'number'
    if (!isPacked) {
      if (!Array.isArray(v) || v.length !== n)
        throw new PgError('plcolumns: a text column of the wrong length')
      // the Datums of the batch, in the handover's context (reset after the batch)
      const data = M._palloc(4 * Math.max(n, 1)) as number
      const nulls = M._palloc(Math.max(n, 1)) as number
      texts.push({ col, values: v as Array<string | null>, data, nulls })
      setSpec(rt, spec, KIND.word, data, nulls)
      continue
    }
    const [code, data, nulls] = v as [string, number, number]
    const k = PACKED[col.typoid]
    if (!k || code !== col.mode || !inArea(data, k.size * n) || (nulls !== 0 && !inArea(nulls, n)))
      throw new PgError('plcolumns: a packed column of the wrong type or length')
    setSpec(rt, spec, k.kind, data, nulls)
  }
  if (texts.length) textDatums(rt, texts, n)
  loops(h).put(p.offer.store, p.offer.desc, p.values, p.nulls, p.specs, ncol, n)
}

function setSpec(rt: PlRuntime, spec: number, kind: number, data: number, nulls: number): void {
  const h = rt.heap
  h.setU32(spec, kind)
  h.setU32(spec + 4, data)
  h.setU32(spec + 8, nulls)
}

/**
 * The text columns' Datums through their input functions, row by row and within a row column by column
 * (PL/Python's order, so the first value that fails is the one PL/Python would report).
 */
function textDatums(
  rt: PlRuntime,
  texts: Array<{ col: Column; values: Array<string | null>; data: number; nulls: number }>,
  n: number,
): void {
  const h = rt.heap
  const input = h.M._OidInputFunctionCall as (f: number, s: number, io: number, tm: number) => number
  for (let r = 0; r < n; r++) {
    for (const t of texts) {
      const s = t.values[r]
      if (s == null) {
        h.setU8(t.nulls + r, 1)
        continue
      }
      const d = input(t.col.typinput, h.pstrdup(s), t.col.ioparam, t.col.typmod)
      h.setU8(t.nulls + r, 0)
      h.setU32(t.data + 4 * r, d)
    }
  }
}
