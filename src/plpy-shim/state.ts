// What the plpy module keeps per PGlite instance (per language runtime): kept plans, the explicit
// subtransaction stack, argument memory contexts, and a pending plpy.fatal. PL/Python keeps the same
// things in backend globals (plpy_planobject.c, plpy_subxactobject.c's explicit_subtransactions).
import { PgError } from '../engine/elog.js'
import type { CallFrame, PlPythonRuntime } from '../plpython/runtime.js'

export interface Plan {
  /** the SPIPlanPtr, kept with SPI_keepplan (lives in its own context under CacheMemoryContext) */
  ptr: number
  rt: PlPythonRuntime
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

export interface ShimState {
  subxacts: OpenSubxact[]
  /** plan ids freed while another instance was active: released at this instance's next operation */
  pendingFrees: number[]
  /** spare memory contexts for converted plan arguments (one per nesting level in use) */
  argContexts: number[]
  fatal: FatalRequest | null
  /** tuple-descriptor shapes of recent results (results.ts), most recent first */
  shapes: unknown[]
  /** recent plpy.execute query strings as malloc'd C strings (a loop runs the same query again) */
  queries: Map<string, number>
  /** heap_deform_tuple's output arrays for result rows (malloc'd, grown as needed) */
  deformValues: number
  deformNulls: number
  deformCap: number
}

const states = new WeakMap<PlPythonRuntime, ShimState>()

export function shim(rt: PlPythonRuntime): ShimState {
  if (rt === lastRt) return lastState!
  let s = states.get(rt)
  if (!s) {
    s = {
      subxacts: [],
      pendingFrees: [],
      argContexts: [],
      fatal: null,
      queries: new Map(),
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
let lastRt: PlPythonRuntime | undefined
let lastState: ShimState | undefined
let nextPlanId = 1
export function addPlan(p: Plan): number {
  const id = nextPlanId++
  plans.set(id, p)
  return id
}

/** The running PL/Python call, with SPI connected (plpy operations need both). */
export function callFrame(rt: PlPythonRuntime): CallFrame {
  const frame = rt.frame
  if (!frame) throw new PgError('plpy operations can only be used while a PL/Python function runs')
  if (!frame.spiConnected) {
    const r = rt.elog.tryCatch(() => rt.ensureSpi(frame))
    if (!r.ok) throw r.error
  }
  return frame
}
