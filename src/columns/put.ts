// Columns into rows without a Python object per value (docs/columns.md): when pyglite's language handler
// offers a set-returning call materialize mode (src/python/materialize.ts; FROM-clause calls and the
// select list both allow it), plcolumns' rows()/transform() accept and hand over their result column
// batch by batch; each row is formed here from the packed column buffers with tuplestore_putvalues, as
// a materialize-mode C function fills its tuplestore (InitMaterializedSRF, funcapi.c). Fixed-width
// numeric columns travel packed; other scalar columns as text through the type's input function, which
// is what PL/Python does with str() of each value (PLyObject_ToScalar), so its errors are PL/Python's.
import { PgError } from '../engine/pg/elog.js'
import { L } from '../engine/pg/layout.js'
import { errorValue } from '../plpy-shim/spi.js'
import { callFrame } from '../plpy-shim/state.js'
import type { PlRuntime } from '../python/language.js'
import { currentOffer, type MaterializeOffer } from '../python/materialize.js'

const MAT_SRF_USE_EXPECTED_DESC = 1
/** result types that travel packed: their struct code and width (int8/float8 are by reference on wasm32) */
const PACKED: Record<number, { code: string; size: number }> = {
  16: { code: '?', size: 1 },
  21: { code: 'h', size: 2 },
  23: { code: 'i', size: 4 },
  26: { code: 'I', size: 4 },
  20: { code: 'q', size: 8 },
  701: { code: 'd', size: 8 },
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
  /** by-reference packed values of the batch being put, malloc'd, grown as needed */
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
      area: 0,
      areaCap: 0,
      tmp,
    })
    return columns.map((c) => c.mode)
  },

  /**
   * One batch of rows into the accepted tuplestore: `cols` in result order, each [code, data, nulls |
   * null] (packed, with the code columns_offer gave) or an array of string | null (any column, through
   * its type's input function); `nrows` rows. false: a value did not convert
   * (kept for the handler to raise with the result conversion's context) — Python stops there.
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
  // by-reference packed columns are copied into wasm memory once per batch; the Datums point into it
  let need = 0
  for (let c = 0; c < ncol; c++) if (PACKED[p.columns[c]!.typoid]?.size === 8) need += 8 * n
  if (need > p.areaCap) {
    if (p.area) M._free(p.area)
    p.areaCap = Math.max(need, 1 << 16)
    p.area = M._malloc(p.areaCap) as number
  }
  const refBase: number[] = []
  const packed: Array<{ data: Buffer; nulls: Buffer | null } | null> = []
  const texts: Array<Array<string | null> | null> = []
  let at = p.area
  for (let c = 0; c < ncol; c++) {
    const col = p.columns[c]!
    const v = cols[c]
    // packed: [code, data, nulls]; text (any column): the values' text, null for NULL
    const isPacked = Array.isArray(v) && v.length === 3 && typeof v[0] === 'string' && Buffer.isBuffer(v[1])
    if (!isPacked) {
      if (!Array.isArray(v) || v.length !== n)
        throw new PgError('plcolumns: a text column of the wrong length')
      texts.push(v as Array<string | null>)
      packed.push(null)
      refBase.push(0)
      continue
    }
    const [code, data, nulls] = v as [string, Buffer, Buffer | null]
    const size = PACKED[col.typoid]!.size
    if (code !== col.mode || data.length !== size * n || (nulls && nulls.length !== n))
      throw new PgError('plcolumns: a packed column of the wrong type or length')
    packed.push({ data, nulls })
    texts.push(null)
    if (size === 8) {
      h.refresh()
      h.u8.set(data, at)
      refBase.push(at)
      at += 8 * n
    } else refBase.push(0)
  }
  const put = M._tuplestore_putvalues as (s: number, d: number, v: number, nl: number) => void
  const input = M._OidInputFunctionCall as (f: number, s: number, io: number, tm: number) => number
  const { values, nulls } = p
  const store = p.offer.store
  const desc = p.offer.desc
  // views of wasm memory, made again only when a call grew it
  h.refresh()
  let u32 = h.u32
  let u8 = h.u8
  const vw = values >>> 2
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < ncol; c++) {
      const col = p.columns[c]!
      const t = texts[c]
      let isnull = 0
      let d = 0
      if (t) {
        const s = t[r]
        if (s == null) isnull = 1
        else {
          d = input(col.typinput, h.pstrdup(s), col.ioparam, col.typmod)
          h.refresh()
          u32 = h.u32
          u8 = h.u8
        }
      } else {
        const k = packed[c]!
        if (k.nulls?.[r]) isnull = 1
        else {
          const data = k.data
          switch (col.mode) {
            case '?':
              d = data[r]! ? 1 : 0
              break
            case 'h':
              d = data.readInt16LE(2 * r)
              break
            case 'i':
              d = data.readInt32LE(4 * r)
              break
            case 'I':
              d = data.readUInt32LE(4 * r)
              break
            default:
              d = refBase[c]! + 8 * r
          }
        }
      }
      u32[vw + c] = d >>> 0
      u8[nulls + c] = isnull
    }
    put(store, desc, values, nulls)
    if (u8.length === 0 || u8.buffer !== M.wasmMemory.buffer) {
      h.refresh()
      u32 = h.u32
      u8 = h.u8
    }
  }
}
