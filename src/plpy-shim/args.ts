// Plan arguments: Python values → Datums for SPI_execute_plan / SPI_cursor_open (PLy_output_convert in
// PLy_spi_execute_plan). Python converts each value by PL/Python's rules for function results (the
// language core's converters) and sends the codec stream; the language core's builders make the Datums.
// For the commonest argument types the result of those rules is known without the text round trip, and
// Python sends it directly (see `fastKind`): an exact int for int2/int4/int8 (what int2in/int4in/int8in
// make of str(v)), an exact float for float8 (float8in of repr(v) is the same double), a str for text (its
// UTF-8 bytes are the text). Out-of-range integers go the text way, for the input function's own error.
import { L, OID } from '../engine/layout.js'
import { CodecReader, T } from '../plpython/codec.js'
import type { PlPythonRuntime } from '../plpython/runtime.js'
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

const RANGE: Record<number, [bigint, bigint]> = {
  [OID.INT2]: [-32768n, 32767n],
  [OID.INT4]: [-2147483648n, 2147483647n],
}

/** Datums and null flags of a plan's arguments, in scratch arrays valid until the next conversion. */
export interface Converted {
  values: number
  nulls: number
}

/**
 * Run body with a memory context for converted arguments (PL/Python's "PL/Python temporary context"),
 * reset afterwards; one per operation in flight (a plan can run SQL that runs another plan).
 */
export function withArgContext<R>(rt: PlPythonRuntime, body: (ctx: number) => R): R {
  const h = rt.heap
  const M = h.M
  const st = shim(rt)
  let ctx = st.argContexts.pop()
  if (ctx === undefined) {
    // ALLOCSET_SMALL_SIZES, under TopMemoryContext: reused for the life of the instance
    ctx = M._AllocSetContextCreateInternal(
      h.u32at(M._TopMemoryContext),
      h.cstr('PL/Python temporary context'),
      0,
      1024,
      8192,
    ) as number
  }
  try {
    return body(ctx)
  } finally {
    M._MemoryContextReset(ctx)
    st.argContexts.push(ctx)
  }
}

/** Convert the codec-encoded arguments into Datums allocated in ctx. */
export function convertArgs(rt: PlPythonRuntime, plan: Plan, args: Buffer, ctx: number): Converted {
  const h = rt.heap
  const M = h.M
  const n = plan.types.length
  const old = h.u32at(M._CurrentMemoryContext)
  h.setU32(M._CurrentMemoryContext, ctx) // MemoryContextSwitchTo(tmpcontext)
  try {
    const values = M._palloc(4 * n) as number
    const nulls = M._palloc(n) as number
    const r = new CodecReader(args)
    for (let j = 0; j < n; j++) {
      const typoid = plan.types[j]!
      // PLy_spi_prepare sets the converters up with parseTypeString's typmod: varchar(3) is enforced
      const typmod = plan.typmods[j]!
      let d: number
      let isnull = false
      switch (r.peek()) {
        case T.NONE:
          r.tag()
          d = 0
          isnull = true
          break
        case T.INT64: {
          r.tag()
          const v = args.readBigInt64LE(r.pos)
          r.pos += 8
          const range = RANGE[typoid]
          if (typoid === OID.INT8) d = rt.datum.int8Datum(v)
          else if (range && v >= range[0] && v <= range[1]) d = Number(v)
          else d = rt.datum.inputBytes(Buffer.from(v.toString()), typoid, typmod) // the type's own error
          break
        }
        case T.FLOAT64: {
          r.tag()
          d = rt.datum.float8Datum(args.readDoubleLE(r.pos))
          r.pos += 8
          break
        }
        default:
          if (r.peek() === T.STR && plan.kinds[j] === 'text') {
            r.tag()
            d = rt.datum.makeVarlena(r.payload())
          } else {
            d = rt.out.build(r, typoid, typmod)
            isnull = rt.out.isnull
          }
      }
      h.setU32(values + 4 * j, d)
      h.setU8(nulls + j, isnull ? 0x6e : 0x20) // 'n' / ' '
    }
    return { values, nulls }
  } finally {
    h.setU32(M._CurrentMemoryContext, old)
  }
}

/** A ParamListInfo for SPI_cursor_open_with_paramlist, as _SPI_convert_params builds for SPI_cursor_open. */
export function paramList(rt: PlPythonRuntime, plan: Plan, a: Converted, ctx: number): number {
  const h = rt.heap
  const M = h.M
  const n = plan.types.length
  const old = h.u32at(M._CurrentMemoryContext)
  h.setU32(M._CurrentMemoryContext, ctx)
  const params = M._makeParamList(n) as number
  h.setU32(M._CurrentMemoryContext, old)
  for (let j = 0; j < n; j++) {
    const p = params + L.pli_params + L.pxd_size * j
    h.setU32(p + L.pxd_value, h.u32at(a.values + 4 * j))
    h.setU8(p + L.pxd_isnull, h.u8at(a.nulls + j) === 0x6e ? 1 : 0)
    h.setU8(p + L.pxd_pflags, 1) // PARAM_FLAG_CONST
    h.setU8(p + L.pxd_pflags + 1, 0)
    h.setU32(p + L.pxd_ptype, plan.types[j]!)
  }
  return params
}
