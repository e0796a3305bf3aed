// Plan arguments: Python values → Datums for SPI_execute_plan / SPI_cursor_open (PLy_output_convert in
// PLy_spi_execute_plan). Python converts each value by PL/Python's rules for function results (the
// language core's converters) and sends the codec stream; the language core's builders make the Datums.
// For the commonest argument types the result of those rules is known without the text round trip, and
// Python sends it directly (see `fastKind`): an exact int for int2/int4/int8 (what int2in/int4in/int8in
// make of str(v)), an exact float for float8 (float8in of repr(v) is the same double), a str for text (its
// UTF-8 bytes are the text). Out-of-range integers go the text way, for the input function's own error.
// The Datums go to the plan's own values/nulls arrays: SPI copies them into its ParamListInfo before it
// runs anything, so a nested execution of the same plan may reuse the arrays.
import { L, OID } from '../engine/pg/layout.js'
import { CodecReader, T } from '../python/codec.js'
import type { PlRuntime } from '../python/language.js'
import { type Plan, shim } from './state.js'

/** How Python may send values of an argument type (kept in sync with _plpy/spi.py _converter). */
export function fastKind(typoid: number, typmod: number): string | null {
  switch (typoid) {
    case OID.INT2:
    case OID.INT4:
    case OID.INT8:
      return 'int'
    case OID.FLOAT8:
      return 'float'
    case OID.TEXT:
      return 'text'
    case OID.VARCHAR:
      return typmod < 0 ? 'text' : null
    default:
      return null
  }
}

/**
 * How plpy.execute's C path (native/plpy/spiop.c encode_args) may encode an argument of this type: 'i'
 * and 'f' as the fast kinds int and float above, 'c' by the type's compiled converter; null: the plan's
 * arguments go the Python way. Only built-in types whose Datum the engine makes with a built-in input
 * function (never a domain, whose CHECK may call a PL/Python function): C hands the bytes over in one
 * buffer that a nested plpy.execute would reuse, so nothing may run between their arrival and
 * convertArgs' last read.
 */
export function cKind(typoid: number): 'i' | 'f' | 'c' | null {
  switch (typoid) {
    case OID.INT2:
    case OID.INT4:
    case OID.INT8:
      return 'i'
    case OID.FLOAT8:
      return 'f'
    case OID.BOOL:
    case OID.FLOAT4:
    case OID.NUMERIC:
    case OID.TEXT:
    case OID.VARCHAR:
    case OID.BPCHAR:
    case OID.NAME:
    case OID.OID:
    case OID.BYTEA:
    case OID.DATE:
    case OID.TIME:
    case OID.TIMESTAMP:
    case OID.TIMESTAMPTZ:
    case OID.INTERVAL:
    case OID.UUID:
    case OID.JSON:
    case OID.JSONB:
      return 'c'
    default:
      return null
  }
}

/**
 * A memory context for converted arguments (PL/Python's "PL/Python temporary context"), taken from a
 * per-runtime pool: one per conversion in flight (a plan can run SQL that runs another plan). Give it
 * back with releaseArgContext once the statement ran.
 */
function takeArgContext(rt: PlRuntime): number {
  const ctx = shim(rt).argContexts.pop()
  if (ctx !== undefined) return ctx
  const h = rt.heap
  // ALLOCSET_SMALL_SIZES, under TopMemoryContext: reused for the life of the instance
  return h.M._AllocSetContextCreateInternal(
    h.u32at(h.M._TopMemoryContext),
    h.cstr('PL/Python temporary context'),
    0,
    1024,
    8192,
  ) as number
}

export function releaseArgContext(rt: PlRuntime, ctx: number): void {
  if (!ctx) return
  rt.heap.M._MemoryContextReset(ctx)
  shim(rt).argContexts.push(ctx)
}

/**
 * Convert the codec-encoded arguments into the plan's values/nulls arrays. Values that need memory
 * (by-reference Datums) are allocated in an argument context, taken only when the first one is made;
 * returns it (0 if none was needed) for releaseArgContext after the statement.
 */
export function convertArgs(rt: PlRuntime, plan: Plan, args: Buffer | number): number {
  const h = rt.heap
  const M = h.M
  const n = plan.types.length
  const values = plan.values
  const nulls = plan.nulls
  if (typeof args === 'number') {
    // the one argument of an int2/int4/int8 plan, an int32 (Python sends it as itself)
    const typoid = plan.types[0]!
    if (typoid === OID.INT4 || (typoid === OID.INT2 && args >= -32768 && args <= 32767)) {
      h.setU32(values, args)
      h.setU8(nulls, 0x20)
      return 0
    }
    args = Buffer.from([T.INT32, args & 255, (args >>> 8) & 255, (args >>> 16) & 255, (args >>> 24) & 255])
  }
  const cur = M._CurrentMemoryContext as number
  const old = h.u32at(cur)
  let ctx = 0
  const alloc = () => {
    if (!ctx) {
      ctx = takeArgContext(rt)
      h.setU32(cur, ctx) // MemoryContextSwitchTo(tmpcontext)
    }
  }
  try {
    const r = new CodecReader(args)
    for (let j = 0; j < n; j++) {
      const typoid = plan.types[j]!
      // PLy_spi_prepare sets the converters up with parseTypeString's typmod: varchar(3) is enforced
      const typmod = plan.typmods[j]!
      let d = 0
      let isnull = false
      const tag = args[r.pos]
      if (tag === T.NONE) {
        r.pos++
        isnull = true
      } else if (tag === T.INT32 && (typoid === OID.INT4 || typoid === OID.INT8)) {
        const v = args.readInt32LE(r.pos + 1)
        r.pos += 5
        if (typoid === OID.INT4) d = v
        else {
          alloc()
          d = rt.datum.int8Datum(BigInt(v))
        }
      } else if (tag === T.INT32 || tag === T.INT64) {
        // int2, or beyond int32: the range check of the type's input function
        const v = tag === T.INT32 ? BigInt(args.readInt32LE(r.pos + 1)) : args.readBigInt64LE(r.pos + 1)
        r.pos += tag === T.INT32 ? 5 : 9
        alloc()
        if (typoid === OID.INT8) d = rt.datum.int8Datum(v)
        else if (typoid === OID.INT2 && v >= -32768n && v <= 32767n) d = Number(v)
        else d = rt.datum.inputBytes(Buffer.from(v.toString()), typoid, typmod) // the type's own error
      } else if (tag === T.FLOAT64) {
        alloc()
        d = rt.datum.float8Datum(args.readDoubleLE(r.pos + 1))
        r.pos += 9
      } else if (tag === T.STR && plan.kinds[j] === 'text') {
        r.pos++
        alloc()
        d = rt.datum.makeVarlena(r.payload())
      } else {
        alloc()
        d = rt.out.build(r, typoid, typmod)
        isnull = rt.out.isnull
      }
      h.setU32(values + 4 * j, d)
      h.setU8(nulls + j, isnull ? 0x6e : 0x20) // 'n' / ' '
    }
  } finally {
    h.setU32(cur, old)
  }
  return ctx
}

/**
 * A ParamListInfo of the converted arguments for SPI_cursor_open_with_paramlist, as _SPI_convert_params
 * builds it for SPI_cursor_open.
 */
export function paramList(rt: PlRuntime, plan: Plan): number {
  const h = rt.heap
  const n = plan.types.length
  const params = h.M._makeParamList(n) as number // in CurrentMemoryContext: SPI_cursor_open copies it
  for (let j = 0; j < n; j++) {
    const p = params + L.pli_params + L.pxd_size * j
    h.setU32(p + L.pxd_value, h.u32at(plan.values + 4 * j))
    h.setU8(p + L.pxd_isnull, h.u8at(plan.nulls + j) === 0x6e ? 1 : 0)
    h.setU8(p + L.pxd_pflags, 1) // PARAM_FLAG_CONST
    h.setU8(p + L.pxd_pflags + 1, 0)
    h.setU32(p + L.pxd_ptype, plan.types[j]!)
  }
  return params
}
