// What the plpy module keeps per PGlite instance (per language runtime): kept plans, the explicit
// subtransaction stack, argument memory contexts, and a pending plpy.fatal. PL/Python keeps the same
// things in backend globals (plpy_planobject.c, plpy_subxactobject.c's explicit_subtransactions).
import { PgError } from '../engine/pg/elog.js'
import type { CallFrame, PlRuntime } from '../python/language.js'

export interface Plan {
  /** the SPIPlanPtr, kept with SPI_keepplan (lives in its own context under CacheMemoryContext) */
  ptr: number
  rt: PlRuntime
  types: number[]
  typmods: number[]
  /** args.ts fastKind per argument */
  kinds: Array<string | null>
  /** malloc'd Datum and null-flag arrays the arguments are converted into (args.ts) */
  values: number
  nulls: number
}

/** One open explicit subtransaction: where to return when it ends (PLySubtransactionData). */
export interface OpenSubxact {
  memoryContext: number
  resourceOwner: number
}

export interface FatalRequest {
  message: string
  fields: Record<string, string>
}

/** Functions and data addresses of the hot paths, looked up once (the Module object is a big dictionary). */
export interface Fns {
  SPI_processed: number
  SPI_tuptable: number
  SPI_execute: (query: number, readOnly: number, count: number) => number
  SPI_execute_plan: (plan: number, values: number, nulls: number, readOnly: number, count: number) => number
  SPI_freetuptable: (tt: number) => void
  heap_deform_tuple: (tuple: number, desc: number, values: number, nulls: number) => void
}

export interface ShimState {
  fn: Fns
  subxacts: OpenSubxact[]
  /** plan ids freed while another instance was active: released at this instance's next operation */
  pendingFrees: number[]
  /** spare memory contexts for converted plan arguments (one per nesting level in use) */
  argContexts: number[]
  fatal: FatalRequest | null
  /** tuple-descriptor shapes of recent results (results.ts), most recent first */
  shapes: unknown[]
  /** recent plpy.execute query texts (spi.ts statement()), least recently used first */
  statements: Map<string, { text: number; plan: number; busy: number }>
  /** the statement used last (already last in `statements`: a loop skips the LRU re-insertion) */
  lastStatement: { text: number; plan: number; busy: number } | undefined
  /** heap_deform_tuple's output arrays for result rows (malloc'd, grown as needed) */
  deformValues: number
  deformNulls: number
  deformCap: number
}

const states = new WeakMap<PlRuntime, ShimState>()

export function shim(rt: PlRuntime): ShimState {
  if (rt === lastRt) return lastState!
  let s = states.get(rt)
  if (!s) {
    const M = rt.heap.M
    s = {
      fn: {
        SPI_processed: M._SPI_processed,
        SPI_tuptable: M._SPI_tuptable,
        SPI_execute: M._SPI_execute,
        SPI_execute_plan: M._SPI_execute_plan,
        SPI_freetuptable: M._SPI_freetuptable,
        heap_deform_tuple: M._heap_deform_tuple,
      },
      subxacts: [],
      pendingFrees: [],
      argContexts: [],
      fatal: null,
      statements: new Map(),
      lastStatement: undefined,
      shapes: [],
      deformValues: 0,
      deformNulls: 0,
      deformCap: 0,
    }
    states.set(rt, s)
  }
  lastRt = rt
  lastState = s
  return s
}

/** Plans of every instance, by the id Python holds (ids are process-wide: Python objects outlive calls). */
export const plans = new Map<number, Plan>()

/** The state of the runtime dispatched to last (a loop of plpy calls asks for the same one again). */
let lastRt: PlRuntime | undefined
let lastState: ShimState | undefined
let nextPlanId = 1
export function addPlan(p: Plan): number {
  const id = nextPlanId++
  plans.set(id, p)
  return id
}

/** The running PL/Python call, with SPI connected (plpy operations need both). */
export function callFrame(rt: PlRuntime): CallFrame {
  const frame = rt.frame
  // PLy_current_execution_context's error (plpy_main.c): e.g. SPI from a generator's finally: block run
  // when its set-returning function's query stops early (native/call/srf.c srf_free)
  if (!frame) throw new PgError('no Python function is currently executing')
  if (!frame.spiConnected) {
    const r = rt.elog.tryCatch(() => rt.ensureSpi(frame))
    if (!r.ok) throw r.error
  }
  return frame
}
