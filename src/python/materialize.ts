// A set-returning PL/Python call's offer to take its whole result at once (SFRM_Materialize, funcapi.h):
// the language handler (src/plpython/srf.ts) opens an offer around the first step of a call whose caller
// allows materialize mode, and a feature that holds the rows as columns (src/columns/put.ts, for
// plcolumns) may accept it and fill the call's tuplestore directly, instead of handing PostgreSQL one
// row per call through Python. Declared here, below both, so neither imports the other.
import type { PgError } from '../engine/pg/elog.js'
import type { CallFrame, PlRuntime } from './language.js'

export interface MaterializeOffer {
  fcinfo: number
  /** ReturnSetInfo of the call */
  rsi: number
  /** the frame of the set-returning function itself: only its own code may accept */
  frame: CallFrame
  /** open, accepted (InitMaterializedSRF ran: the result is the tuplestore), or declined */
  state: 'open' | 'accepted' | 'declined'
  /** the tuplestore and its descriptor, once accepted */
  store: number
  desc: number
  /** a value that could not be converted: raised by the handler as the result conversion's error */
  error: PgError | undefined
}

const offers = new WeakMap<PlRuntime, MaterializeOffer[]>()

/** Open an offer for the call being stepped (calls nest: a stack per runtime). */
export function openOffer(rt: PlRuntime, fcinfo: number, rsi: number, frame: CallFrame): MaterializeOffer {
  let stack = offers.get(rt)
  if (!stack) {
    stack = []
    offers.set(rt, stack)
  }
  const o: MaterializeOffer = { fcinfo, rsi, frame, state: 'open', store: 0, desc: 0, error: undefined }
  stack.push(o)
  return o
}

export function closeOffer(rt: PlRuntime, o: MaterializeOffer): void {
  const stack = offers.get(rt)
  const i = stack?.lastIndexOf(o) ?? -1
  if (stack && i >= 0) stack.splice(i, 1)
}

/** The innermost offer, if the running code is that set-returning function's own. */
export function currentOffer(rt: PlRuntime): MaterializeOffer | undefined {
  const o = offers.get(rt)?.at(-1)
  return o && o.frame === rt.frame ? o : undefined
}
