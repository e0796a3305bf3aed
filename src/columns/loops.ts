// The per-row loops of plcolumns' fast path, in wasm: a side module (assembled here, a few hundred bytes)
// whose two functions run inside the engine's memory, so no JavaScript runs per row or per value:
//   gather: deform each tuple of an SPI tuple table (heap_deform_tuple, as PLy_input_from_tuple does per
//           row) and store the chosen attributes as packed columns plus a NULL byte per row (encode.ts);
//   put:    form each row of a column batch from packed buffers and hand it to tuplestore_putvalues, as a
//           materialize-mode C function fills its tuplestore (put.ts).
// Its imports are the main module's exports, so its calls into PostgreSQL are direct wasm calls. It is
// dlopen'ed like fntable.ts's module (bytes written by hand: no wabt, no asynchronous step). A PostgreSQL
// ERROR inside unwinds through it as through any C frame (Emscripten's longjmp).
import { functionTable } from '../engine/pg/fntable.js'
import type { Heap } from '../engine/pg/heap.js'
import { RTLD_NOW } from '../engine/pg/layout.js'
import { dylinkSection, uleb, WASM_HEADER, wasmName, wasmSection, wasmVec } from '../engine/pg/sidemodule.js'
import { body } from './asm.js'

/** What gather stores per attribute (spec word 1) and put reads per column (spec word 0). */
export const KIND = {
  /** bool: one byte, 0/1 */
  bool: 0,
  /** int2: two bytes */
  int2: 1,
  /** any by-value Datum: int4, oid, float4, date — or a Datum kept as is (a pointer) */
  word: 2,
  /** int8, float8, timestamp: eight bytes behind the Datum (by reference on wasm32) */
  ref8: 3,
} as const

/** gather's spec, per attribute: att, kind, dst, nulldst, anynull (out) */
export const GATHER_SPEC = 20
/** put's spec, per column: kind, data, nullmap (0: no NULL) */
export const PUT_SPEC = 12

const PATH = '/tmp/pyglite_columns.so'
const GATHER = 'pyglite_columns_gather'
const PUT = 'pyglite_columns_put'

/**
 * gather(vals, n, tupdesc, dvalues, dnulls, specs, nspec): for each of the n tuples in `vals`, deform it
 * into dvalues/dnulls (natts words/bytes) and, per spec {att, kind, dst, nulldst, anynull}, store the NULL
 * byte at nulldst[r] and the value at dst (packed by kind; 0 for NULL), setting anynull on a NULL.
 */
const GATHER_LOCALS = [
  'vals',
  'n',
  'desc',
  'dv',
  'dn',
  'specs',
  'nspec',
  'r',
  's',
  'sp',
  'att',
  'isnull',
  'd',
  'dst',
  'kind',
]
const GATHER_TEXT = `
block loop
  get r get n i32.ge_u br_if 1
  get vals get r i32.const 2 i32.shl i32.add i32.load
  get desc get dv get dn call 0                                   ;; heap_deform_tuple
  i32.const 0 set s
  block loop
    get s get nspec i32.ge_u br_if 1
    get specs get s i32.const ${GATHER_SPEC} i32.mul i32.add set sp
    get sp i32.load set att  get sp i32.load 4 set kind  get sp i32.load 8 set dst
    get dn get att i32.add i32.load8_u set isnull
    get sp i32.load 12 get r i32.add get isnull i32.store8           ;; nulldst[r]
    get isnull if
      get sp i32.const 1 i32.store 16  i32.const 0 set d             ;; anynull; 0 for NULL
    else
      get dv get att i32.const 2 i32.shl i32.add i32.load set d
    end
    get kind i32.eqz if                                              ;; bool
      get dst get r i32.add  get d i32.const 255 i32.and i32.const 0 i32.ne  i32.store8
    else get kind i32.const 1 i32.eq if                              ;; int2
      get dst get r i32.const 1 i32.shl i32.add  get d  i32.store16
    else get kind i32.const 2 i32.eq if                              ;; a by-value word
      get dst get r i32.const 2 i32.shl i32.add  get d  i32.store
    else                                                             ;; eight bytes by reference
      get dst get r i32.const 3 i32.shl i32.add
      get d if:i64 get d i64.load else i64.const 0 end
      i64.store
    end end end
    get s i32.const 1 i32.add set s  br 0
  end end
  get r i32.const 1 i32.add set r  br 0
end end`

/**
 * put(store, desc, values, nulls, specs, nspec, n): for each row r < n, per column spec {kind, data,
 * nullmap} set values[s]/nulls[s] (the Datum: the packed value, or a pointer to the 8 bytes of a by-reference
 * one) and call tuplestore_putvalues(store, desc, values, nulls).
 */
const PUT_LOCALS = [
  'store',
  'desc',
  'values',
  'nulls',
  'specs',
  'nspec',
  'n',
  'r',
  's',
  'sp',
  'isnull',
  'd',
  'kind',
  'data',
  'nm',
]
const PUT_TEXT = `
block loop
  get r get n i32.ge_u br_if 1
  i32.const 0 set s
  block loop
    get s get nspec i32.ge_u br_if 1
    get specs get s i32.const ${PUT_SPEC} i32.mul i32.add set sp
    get sp i32.load set kind  get sp i32.load 4 set data  get sp i32.load 8 set nm
    get nm if:i32 get nm get r i32.add i32.load8_u else i32.const 0 end set isnull
    get nulls get s i32.add get isnull i32.store8
    get isnull if:i32 i32.const 0 else
      get kind i32.eqz if:i32                                        ;; bool
        get data get r i32.add i32.load8_u i32.const 0 i32.ne
      else get kind i32.const 1 i32.eq if:i32                        ;; int2, sign-extended as Int16GetDatum
        get data get r i32.const 1 i32.shl i32.add i32.load16_s
      else get kind i32.const 2 i32.eq if:i32                        ;; a by-value word
        get data get r i32.const 2 i32.shl i32.add i32.load
      else                                                           ;; a pointer to the eight bytes
        get data get r i32.const 3 i32.shl i32.add
      end end end
    end set d
    get values get s i32.const 2 i32.shl i32.add get d i32.store
    get s i32.const 1 i32.add set s  br 0
  end end
  get store get desc get values get nulls call 1                     ;; tuplestore_putvalues
  get r i32.const 1 i32.add set r  br 0
end end`

/** The side module's bytes. */
export function moduleBytes(): Uint8Array {
  const t4 = [0x60, ...wasmVec(Array.from({ length: 4 }, () => [0x7f])), 0] // (i32 x4) -> ()
  const t7 = [0x60, ...wasmVec(Array.from({ length: 7 }, () => [0x7f])), 0] // (i32 x7) -> ()
  return new Uint8Array([
    ...WASM_HEADER,
    ...dylinkSection(0, 0), // no data; the loader wants dylink.0 first
    ...wasmSection(1, wasmVec([t4, t7])),
    ...wasmSection(
      2,
      wasmVec([
        [...wasmName('env'), ...wasmName('heap_deform_tuple'), 0x00, 0],
        [...wasmName('env'), ...wasmName('tuplestore_putvalues'), 0x00, 0],
        [...wasmName('env'), ...wasmName('memory'), 0x02, 0x00, 0x00],
      ]),
    ),
    ...wasmSection(3, wasmVec([[1], [1]])), // functions 2 and 3: type 1
    ...wasmSection(
      7,
      wasmVec([
        [...wasmName(GATHER), 0x00, 2],
        [...wasmName(PUT), 0x00, 3],
      ]),
    ),
    ...wasmSection(10, [...uleb(2), ...body(GATHER_TEXT, GATHER_LOCALS), ...body(PUT_TEXT, PUT_LOCALS)]),
  ])
}

export interface Loops {
  gather(
    vals: number,
    n: number,
    tupdesc: number,
    dvalues: number,
    dnulls: number,
    specs: number,
    nspec: number,
  ): void
  put(
    store: number,
    desc: number,
    values: number,
    nulls: number,
    specs: number,
    nspec: number,
    n: number,
  ): void
}

const loaded = new WeakMap<object, Loops>()

/** The loops of this instance (dlopens the module the first time). */
export function loops(heap: Heap): Loops {
  const M = heap.M
  const hit = loaded.get(M)
  if (hit) return hit
  if (!M.FS.analyzePath('/tmp').exists) M.FS.mkdirTree('/tmp')
  M.FS.writeFile(PATH, moduleBytes())
  const h = M._dlopen(heap.cstr(PATH), RTLD_NOW) as number
  if (!h) throw new Error(`dlopen(${PATH}) failed: ${heap.str(M._dlerror())}`)
  const table = functionTable(heap)
  const fn = (name: string) => {
    const idx = M._dlsym(h, heap.cstr(name)) as number
    const f = idx ? (table.get(idx) as ((...a: number[]) => void) | null) : null
    if (!f) throw new Error(`dlsym(${name}) failed: ${heap.str(M._dlerror())}`)
    return f
  }
  const l = { gather: fn(GATHER), put: fn(PUT) } as Loops
  loaded.set(M, l)
  return l
}
