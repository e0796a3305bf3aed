// Explicit subtransactions (plpy_subxactobject.c) and transaction control (PLy_commit/PLy_rollback in
// plpy_spi.c). PostgreSQL decides what is allowed: SPI_commit raises "invalid transaction termination"
// in an atomic context (a function, a CALL inside a function or a transaction block) and "cannot commit
// while a subtransaction is active" inside one; those errors reach Python as SPI exceptions.
import { ELEVEL } from '../engine/pg/layout.js'
import type { PlRuntime } from '../python/language.js'
import { outcome } from './spi.js'
import { callFrame, shim } from './state.js'

export const transactionOps = {
  /** subxact.__enter__(): BeginInternalSubTransaction, remembered on the explicit stack */
  subxact_enter(rt: PlRuntime) {
    callFrame(rt) // SPI must be connected outside the subtransaction (AtEOSubXact_SPI)
    const h = rt.heap
    const M = h.M
    const st = shim(rt)
    return outcome(
      rt.elog.tryCatch(() => {
        const memoryContext = h.u32at(M._CurrentMemoryContext)
        const resourceOwner = h.u32at(M._CurrentResourceOwner)
        M._BeginInternalSubTransaction(0)
        h.setU32(M._CurrentMemoryContext, memoryContext)
        st.subxacts.push({ memoryContext, resourceOwner })
        return null
      }),
    )
  },

  /** subxact.__exit__(type, value, tb): end the innermost one; false if there is none */
  subxact_exit(rt: PlRuntime, abort: unknown) {
    callFrame(rt)
    const h = rt.heap
    const M = h.M
    const st = shim(rt)
    const top = st.subxacts[st.subxacts.length - 1]
    if (!top) return false
    const r = rt.elog.tryCatch(() => {
      if (abort) M._RollbackAndReleaseCurrentSubTransaction()
      else M._ReleaseCurrentSubTransaction()
      return true
    })
    st.subxacts.pop()
    h.setU32(M._CurrentMemoryContext, top.memoryContext)
    h.setU32(M._CurrentResourceOwner, top.resourceOwner)
    return outcome(r)
  },

  commit(rt: PlRuntime) {
    callFrame(rt)
    const M = rt.heap.M
    return outcome(
      rt.elog.tryCatch(() => {
        M._SPI_commit()
        return null
      }),
    )
  },

  rollback(rt: PlRuntime) {
    callFrame(rt)
    const M = rt.heap.M
    return outcome(
      rt.elog.tryCatch(() => {
        M._SPI_rollback()
        return null
      }),
    )
  },
}

/** The explicit-subtransaction depth when a PL/Python call starts (PLy_procedure_call). */
export function subxactLevel(rt: PlRuntime): number {
  return shim(rt).subxacts.length
}

/**
 * After a call: abort the subtransactions it entered and never exited, with PostgreSQL's WARNING
 * (PLy_abort_open_subtransactions). Runs outside Python, before SPI_finish.
 */
export function abortOpenSubtransactions(rt: PlRuntime, level: number): void {
  const h = rt.heap
  const M = h.M
  const st = shim(rt)
  while (st.subxacts.length > level) {
    rt.elog.report(ELEVEL.WARNING, 'forcibly aborting a subtransaction that has not been exited')
    M._RollbackAndReleaseCurrentSubTransaction()
    const top = st.subxacts.pop()!
    h.setU32(M._CurrentMemoryContext, top.memoryContext)
    h.setU32(M._CurrentResourceOwner, top.resourceOwner)
  }
}
