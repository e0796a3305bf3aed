// The JS side of the plpy module: every _pyglite.jscall(op, ...args) from Python arrives here.
// The dispatcher never throws (the envelope rule): a PostgreSQL ERROR raised while serving an op is
// caught with PG_TRY emulation and handed back to Python as {pgerror: fields}; JS bugs likewise.
import { isLongjmp, PgError } from '../engine/elog.js'
import type { PlPythonRuntime } from '../plpython/runtime.js'
import { fatalError } from './fatal.js'
import { messageOps } from './messages.js'
import { errorValue, freePending, spiOps } from './spi.js'
import { shim } from './state.js'
import { transactionOps } from './transaction.js'

type Op = (rt: PlPythonRuntime, a?: unknown, b?: unknown, c?: unknown, d?: unknown) => unknown

const ops: Record<string, Op> = { ...messageOps, ...spiOps, ...transactionOps } as Record<string, Op>

/** Build the dispatcher for the Python host; `current` yields the runtime of the running statement. */
export function createDispatcher(current: () => PlPythonRuntime | undefined) {
  // plpy passes at most four arguments to an operation
  return (op: unknown, a?: unknown, b?: unknown, c?: unknown, d?: unknown): unknown => {
    try {
      const rt = current()
      if (!rt) return errorValue(new PgError('no statement is running'))
      const fn = ops[op as string]
      if (!fn) return errorValue(new PgError(`unknown plpy operation ${String(op)}`))
      const st = shim(rt)
      // after plpy.fatal nothing more runs in this session (fatal.ts)
      if (st.fatal && op !== 'cursor_release' && op !== 'plan_free') return errorValue(fatalError(rt)!)
      if (st.pendingFrees.length) freePending(rt)
      return fn(rt, a, b, c, d)
    } catch (e) {
      if (isLongjmp(e)) {
        // cannot happen: every op that enters wasm runs inside tryCatch. Never let it cross Python.
        return errorValue(
          new PgError('internal error: unexpected PostgreSQL error outside PG_TRY', { sqlstate: 'XX000' }),
        )
      }
      if (e instanceof PgError) return errorValue(e)
      return errorValue(new PgError(`internal error: ${(e as Error)?.message ?? String(e)}`))
    }
  }
}
