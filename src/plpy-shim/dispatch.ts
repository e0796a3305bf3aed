// The JS side of the plpy module: every _pyglite.jscall(op, ...args) from Python arrives at `dispatch`,
// and the common forms of plpy.execute (native/plpy/spiop.c) at `execute`, whose inputs are status words.
// Neither ever throws (the envelope rule): a PostgreSQL ERROR raised while serving an op is caught with
// PG_TRY emulation and handed back to Python as {pgerror: fields}; JS bugs likewise.
import { isLongjmp, PgError } from '../engine/pg/elog.js'
import { OPW } from '../python/host.js'
import type { PlRuntime } from '../python/language.js'
import { describeError } from '../util/errors.js'
import { fatalError } from './fatal.js'
import { messageOps } from './messages.js'
import { errorValue, freePending, spiOps } from './spi.js'
import { shim } from './state.js'
import { transactionOps } from './transaction.js'

export type Op = (rt: PlRuntime, a?: unknown, b?: unknown, c?: unknown, d?: unknown) => unknown

const ops: Record<string, Op> = { ...messageOps, ...spiOps, ...transactionOps } as Record<string, Op>

/** Operations whose first argument is a query text (spi.ts, columns/ops.ts). */
const QUERY_OPS = new Set(['execute', 'prepare', 'cursor', 'columns_execute', 'columns_cursor'])

/** What an operation that escaped its own error handling gives Python. */
function failure(e: unknown): { pgerror: Record<string, unknown> } {
  if (isLongjmp(e)) {
    // cannot happen: every op that enters wasm runs inside tryCatch. Never let it cross Python.
    return errorValue(
      new PgError('internal error: unexpected PostgreSQL error outside PG_TRY', { sqlstate: 'XX000' }),
    )
  }
  if (e instanceof PgError) return errorValue(e)
  return errorValue(new PgError(`internal error: ${describeError(e)}`))
}

/**
 * The runtime an operation runs in, or the error Python gets instead: no statement running, or a
 * plpy.fatal before (nothing more runs in this session, fatal.ts). Frees plans released meanwhile.
 */
function enter(rt: PlRuntime | undefined, releasing: boolean): PlRuntime | { pgerror: object } {
  if (!rt) return errorValue(new PgError('no statement is running'))
  const st = shim(rt)
  if (st.fatal && !releasing) return errorValue(fatalError(rt)!)
  if (st.pendingFrees.length) freePending(rt)
  return rt
}

/**
 * Build the plpy entry points for the Python host; `current` yields the runtime of the running statement.
 * `extra`: operations of features built on plpy (e.g. src/columns), served the same way.
 */
export function createDispatcher(current: () => PlRuntime | undefined, extra: Record<string, Op> = {}) {
  const table: Record<string, Op> = { ...ops, ...extra }
  return {
    // plpy passes at most four arguments to an operation
    dispatch(op: unknown, a?: unknown, b?: unknown, c?: unknown, d?: unknown): unknown {
      try {
        const fn = table[op as string]
        if (!fn) return errorValue(new PgError(`unknown plpy operation ${String(op)}`))
        const rt = enter(current(), op === 'cursor_release' || op === 'plan_free')
        if ('pgerror' in rt) return rt
        if (typeof a === 'string' && QUERY_OPS.has(op as string)) rt.onQueryText?.(a)
        return fn(rt, a, b, c, d)
      } catch (e) {
        return failure(e)
      }
    },
    /**
     * plpy.execute(query[, limit]) (kind 1: `input` is the query) or plpy.execute(plan[, args][, limit])
     * (kind 2: one int32 in a status word, or `input` holds the arguments' codec bytes, spiop.c encode_args)
     */
    execute(input?: string | Buffer): unknown {
      try {
        const rt = enter(current(), false)
        if ('pgerror' in rt) return rt
        const w = rt.host.stat
        if (w[OPW.kind] === 1) {
          if (input !== undefined) rt.onQueryText?.(String(input))
          return spiOps.execute(rt, input, w[OPW.limit], true)
        }
        const mode = w[OPW.argMode]
        const args = mode === 1 ? w[OPW.arg] : mode === 2 ? input : null
        return spiOps.execute_plan(rt, w[OPW.plan], args, w[OPW.limit], true)
      } catch (e) {
        return failure(e)
      }
    },
  }
}
