// The per-row loops of plcolumns' fast path, in wasm: a side module (assembled here, a few hundred bytes)
// whose functions run inside the engine's memory, so no JavaScript runs per row or per value:
//   gather:  deform each tuple of an SPI tuple table (heap_deform_tuple, as PLy_input_from_tuple does per
//            row) and store the chosen attributes as packed columns plus a NULL byte per row (encode.ts);
//   recv:    the same per row, as a DestReceiver's receiveSlot (with startup/shutdown), so a cursor's rows
//            go into packed columns straight from the executor's slot, never copied into an SPI tuple
//            table first (encode.ts, ColumnBuilder.receive);
//   put:     form each row of a column batch from packed buffers and hand it to tuplestore_putvalues, as a
//            materialize-mode C function fills its tuplestore (put.ts).
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

/**
 * The receiver's struct (recv/startup/shutdown's `self`): a DestReceiver (dest.h: receiveSlot, rStartup,
 * rShutdown, rDestroy, mydest) and then its own words: depth (executor runs started and not shut down),
 * typeinfo (the portal's result descriptor: the run that sends it is the cursor's own), rows stored,
 * capacity, gather's specs, their count, natts to deform (slot_getsomeattrs), overflow (a row beyond the
 * capacity), and per open run its start's stack pointer and whether it is the
 * cursor's own (RECV_RUNS of them, 8 bytes each).
 */
export const RECV = {
  mydest: 16,
  depth: 20,
  typeinfo: 24,
  rows: 28,
  cap: 32,
  specs: 36,
  nspec: 40,
  natts: 44,
  overflow: 48,
  stack: 52,
  size: 52 + 8 * 1024,
} as const
/**
 * Runs whose start is kept (SQL functions nested in the query: PostgreSQL's max_stack_depth, which in wasm
 * sees only the shadow stack, let 3,000 levels through); deeper ones are counted, and are never the cursor's.
 */
const RECV_RUNS = (RECV.size - RECV.stack) / 8

const PATH = '/tmp/pyglite_columns.so'
const GATHER = 'pyglite_columns_gather'
const PUT = 'pyglite_columns_put'
const RECV_FNS = [
  'pyglite_columns_recv',
  'pyglite_columns_startup',
  'pyglite_columns_shutdown',
  'pyglite_columns_noop',
] as const

/**
 * One row's columns: per spec {att, kind, dst, nulldst, anynull} of `specs` (nspec of them), store the NULL
 * byte dn[att] at nulldst[r] and the value dv[att] at dst (packed by kind; 0 for NULL), setting anynull on a
 * NULL. Shared by gather (dv/dn: the deformed tuple) and recv (the slot's tts_values/tts_isnull).
 */
const STORE_ROW = `
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
  end end`

/**
 * gather(vals, n, tupdesc, dvalues, dnulls, specs, nspec): for each of the n tuples in `vals`, deform it
 * into dvalues/dnulls (natts words/bytes) and, per spec {att, kind, dst, nulldst, anynull}, store the NULL
 * byte at nulldst[r] and the value at dst (packed by kind; 0 for NULL), setting anynull on a NULL.
 */
const GATHER_LOCALS = 'vals n desc dv dn specs nspec r s sp att isnull d dst kind'.split(' ')
const GATHER_TEXT = `
block loop
  get r get n i32.ge_u br_if 1
  get vals get r i32.const 2 i32.shl i32.add i32.load
  get desc get dv get dn call 0                                   ;; heap_deform_tuple
  ${STORE_ROW}
  get r i32.const 1 i32.add set r  br 0
end end`

/**
 * recv(slot, self) -> bool, the receiver's receiveSlot: a row of the cursor's own executor run goes into
 * the columns at row `rows`; a row of any other run that sends to None_Receiver meanwhile (a SQL
 * function's earlier statements inside the query, functions.c; a CALL's, run by FillPortalStore before
 * the portal's rows are read back) is dropped, as None_Receiver's own receiveSlot does. The open runs are
 * a stack; one whose start lies below the current stack pointer has ended — by an error that something
 * inside the query caught (an EXCEPTION block), since it never shut down — and is forgotten first.
 */
const RECV_LOCALS = 'slot self dv dn specs nspec r s sp att isnull d dst kind top'.split(' ')
const RECV_TEXT = `
  block loop
    get self i32.load ${RECV.depth} i32.eqz br_if 1
    get self i32.load ${RECV.depth} i32.const ${RECV_RUNS} i32.gt_u br_if 1  ;; beyond the stack: nested
    get self get self i32.load ${RECV.depth} i32.const 3 i32.shl i32.add set top  ;; the innermost run + 8
    get top i32.load ${RECV.stack - 8} global.get 0 i32.ge_u br_if 1   ;; its start is above us: open
    get self get self i32.load ${RECV.depth} i32.const 1 i32.sub i32.store ${RECV.depth}
    br 0
  end end
  get self i32.load ${RECV.depth} i32.eqz if i32.const 1 return end
  get self i32.load ${RECV.depth} i32.const ${RECV_RUNS} i32.gt_u if i32.const 1 return end
  get top i32.load ${RECV.stack - 4} i32.eqz if i32.const 1 return end  ;; not the cursor's run
  get self i32.load ${RECV.rows} set r
  get r get self i32.load ${RECV.cap} i32.ge_u if
    get self i32.const 1 i32.store ${RECV.overflow} i32.const 1 return
  end
  get slot i32.load16_s 6 get self i32.load ${RECV.natts} i32.lt_s if  ;; slot_getsomeattrs (tts_nvalid)
    get slot get self i32.load ${RECV.natts} call 2
  end
  get slot i32.load 16 set dv  get slot i32.load 20 set dn              ;; tts_values, tts_isnull
  get self i32.load ${RECV.specs} set specs  get self i32.load ${RECV.nspec} set nspec
  ${STORE_ROW}
  get self get r i32.const 1 i32.add i32.store ${RECV.rows}
  i32.const 1`
/** startup(self, operation, typeinfo): a run starts; it is the cursor's if it sends the portal's descriptor */
const STARTUP_LOCALS = ['self', 'operation', 'typeinfo', 'top']
const STARTUP_TEXT = `
  get self i32.load ${RECV.depth} i32.const ${RECV_RUNS} i32.lt_u if              ;; else only counted
    get self get self i32.load ${RECV.depth} i32.const 3 i32.shl i32.add set top
    get top global.get 0 i32.store ${RECV.stack}
    get top get typeinfo get self i32.load ${RECV.typeinfo} i32.eq i32.store ${RECV.stack + 4}
  end
  get self get self i32.load ${RECV.depth} i32.const 1 i32.add i32.store ${RECV.depth}`
const SHUTDOWN_TEXT = `
  get self i32.load ${RECV.depth} if
    get self get self i32.load ${RECV.depth} i32.const 1 i32.sub i32.store ${RECV.depth}
  end`

/**
 * put(store, desc, values, nulls, specs, nspec, n): for each row r < n, per column spec {kind, data,
 * nullmap} set values[s]/nulls[s] (the Datum: the packed value, or a pointer to the 8 bytes of a by-reference
 * one) and call tuplestore_putvalues(store, desc, values, nulls).
 */
const PUT_LOCALS = 'store desc values nulls specs nspec n r s sp isnull d kind data nm'.split(' ')
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
  const I32 = 0x7f
  const fnType = (params: number, result: boolean) => [
    0x60,
    ...wasmVec(Array.from({ length: params }, () => [I32])),
    ...(result ? [1, I32] : [0]),
  ]
  // types: 0 (i32 x4), 1 (i32 x7), 2 (i32 x2), 3 (i32 x2) -> i32, 4 (i32 x3), 5 (i32)
  const types = [fnType(4, false), fnType(7, false), fnType(2, false), fnType(2, true)]
  types.push(fnType(3, false), fnType(1, false))
  const imp = (name: string, type: number) => [...wasmName('env'), ...wasmName(name), 0x00, type]
  // functions 0-2 are the imports; the module's own are 3-8, in this order
  const own: Array<[string, number, number[]]> = [
    [GATHER, 1, body(GATHER_TEXT, GATHER_LOCALS, 7)],
    [PUT, 1, body(PUT_TEXT, PUT_LOCALS, 7)],
    [RECV_FNS[0], 3, body(RECV_TEXT, RECV_LOCALS, 2)],
    [RECV_FNS[1], 4, body(STARTUP_TEXT, STARTUP_LOCALS, 3)],
    [RECV_FNS[2], 5, body(SHUTDOWN_TEXT, ['self'], 1)],
    [RECV_FNS[3], 5, body('', ['self'], 1)],
  ]
  return new Uint8Array([
    ...WASM_HEADER,
    ...dylinkSection(0, 0), // no data; the loader wants dylink.0 first
    ...wasmSection(1, wasmVec(types)),
    ...wasmSection(
      2,
      wasmVec([
        imp('heap_deform_tuple', 0),
        imp('tuplestore_putvalues', 0),
        imp('slot_getsomeattrs_int', 2),
        [...wasmName('env'), ...wasmName('memory'), 0x02, 0x00, 0x00],
        [...wasmName('env'), ...wasmName('__stack_pointer'), 0x03, I32, 0x01], // global 0 (mutable)
      ]),
    ),
    ...wasmSection(3, wasmVec(own.map(([, type]) => [type]))),
    ...wasmSection(7, wasmVec(own.map(([name], i) => [...wasmName(name), 0x00, 3 + i]))),
    ...wasmSection(10, [...uleb(own.length), ...own.flatMap(([, , b]) => b)]),
  ])
}

type Fn = (...a: number[]) => void

export interface Loops {
  /** gather(vals, n, tupdesc, dvalues, dnulls, specs, nspec) */
  gather: Fn
  /** put(store, desc, values, nulls, specs, nspec, n) */
  put: Fn
  /** the receiver's function pointers (table indices): receiveSlot, rStartup, rShutdown, rDestroy */
  receiver: number[]
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
  const index = (name: string) => {
    const idx = M._dlsym(h, heap.cstr(name)) as number
    if (!idx || !table.get(idx)) throw new Error(`dlsym(${name}) failed: ${heap.str(M._dlerror())}`)
    return idx
  }
  const fn = (name: string) => table.get(index(name)) as Fn
  const l: Loops = {
    gather: fn(GATHER),
    put: fn(PUT),
    receiver: RECV_FNS.map(index),
  }
  loaded.set(M, l)
  return l
}
