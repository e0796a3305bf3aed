// Calls from the foreign-data wrapper callbacks into the Python side (python/pyglite_fdw): each runs as a
// PL/Python call frame does, so `plpy` works inside a wrapper and its queries run in the current
// transaction (SPI connects lazily, is finished before control returns to the executor). A Python failure
// comes back as an error tuple and is raised here as a PostgreSQL ERROR, after the frame is closed.
import { PgError } from '../engine/pg/elog.js'
import type { ErrorTuple } from '../python/host.js'
import type { PlRuntime } from '../python/language.js'

const MODULE = 'pyglite_fdw'

function isError(v: unknown): v is ['error', ErrorTuple] {
  return Array.isArray(v) && v.length === 2 && v[0] === 'error' && Array.isArray(v[1])
}

/** Calls that only tidy up: they do not mean a wrapper took part in the transaction. */
const TIDYING = new Set(['xact', 'subxact', 'drop_scan'])

export class FdwPython {
  /** a wrapper was used since the last transaction end: transaction events must reach Python */
  touched = false

  constructor(private readonly rt: PlRuntime) {}

  /** pyglite_fdw.fn(*args); raises the wrapper's error as a PostgreSQL ERROR (longjmps). */
  call(fn: string, ...args: unknown[]): unknown {
    const r = this.tryCall(fn, ...args)
    if (isError(r)) this.raise(r[1])
    return r
  }

  /** As call, but a Python failure is returned as its error tuple (transaction callbacks decide). */
  tryCall(fn: string, ...args: unknown[]): unknown {
    const rt = this.rt
    if (!TIDYING.has(fn)) this.touched = true
    const frame = rt.pushFrame(undefined, 0, false)
    let r: unknown
    const native = rt.host.native
    try {
      rt.syncMemory()
      native.callDepth(1)
      try {
        r = rt.host.callPython(MODULE, fn, ...args)
      } finally {
        native.callDepth(-1)
      }
    } finally {
      rt.popFrame(frame)
    }
    return r
  }

  errorOf(r: unknown): ErrorTuple | undefined {
    return isError(r) ? r[1] : undefined
  }

  raise(t: ErrorTuple): never {
    this.rt.raisePython(undefined, t)
  }

  /** The message of an error tuple (for a WARNING where an ERROR cannot be raised). */
  static message(t: ErrorTuple): string {
    return String(t[0] ?? 'Python error')
  }

  /** A JS-side failure shaped like the wrapper's errors. */
  static fail(message: string, sqlstate = 'XX000'): never {
    throw new PgError(message, { sqlstate })
  }
}
