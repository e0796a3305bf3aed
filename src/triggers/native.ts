// The trigger half of the native addon (native/triggers/trigger.c): shapes, the per-row call and the MODIFY
// staging copy, with the codes both sides share.
import type { Native } from '../python/host.js'

export interface TriggerNative {
  /** register a trigger site's shape (JSON of shape.ts ShapeSpec) for procedure procId: shape id */
  trigSetup(procId: number, specJson: string): number
  trigRelease(shapeId: number): void
  /** trigCall's arguments (ARG positions), written before each call: no N-API value per argument */
  readonly trigArgs: Uint32Array
  /**
   * Build TD, call the procedure, check its result (and walk TD["new"] for MODIFY), with the arguments in
   * trigArgs. Returns TS; the trigger result is in stat[7].
   */
  trigCall(): number
  /** copy the staged by-reference values of the last MODIFY walk to wasm address ptr */
  trigCopyStaging(ptr: number): void
}

export function triggerNative(n: Native): TriggerNative {
  return n as unknown as TriggerNative
}

/**
 * trigArgs positions; tuples are wasm addresses of deformed Datum/bool arrays (0 when absent), the modify
 * area is the scratch's (rows.ts).
 */
export const ARG = {
  shape: 0,
  proc: 1,
  event: 2,
  newValues: 3,
  newNulls: 4,
  oldValues: 5,
  oldNulls: 6,
  codecLen: 7,
  area: 8,
} as const

/** trigCall status. */
export const TS = { RESULT: 0, ERROR: 6, NEED_DETOAST: 7 } as const

/** Trigger result (stat[7]) when the status is TS.RESULT. */
export const TR = {
  OK: 0,
  SKIP: 1,
  MODIFY: 2,
  MODIFY_FAILED: 3,
  MODIFY_IN_DELETE: 4,
  NOT_STRING: 5,
  BAD_STRING: 6,
} as const

/** Status words: replaced columns, staging length, trigger result. */
export const STAT = { count: 1, staging: 6, result: 7 } as const

/** How a TD["new"] value becomes a Datum natively (else: the generic converter). */
export const OUT = { GENERIC: 0, INT2: 1, INT4: 2, INT8: 3, FLOAT8: 4, BOOL: 5, TEXT: 6, OID: 7 } as const

/** Column flags. */
export const F = { DROPPED: 1, GEN_STORED: 2, GEN_VIRTUAL: 4, ROUNDTRIP: 8 } as const

/** Replacement entry kinds in the modify area. */
export const M = { READY: 0, INT8: 1, FLOAT8: 2, TEXT: 3, GENERIC: 4 } as const
