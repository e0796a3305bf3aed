// Containment: a wasm trap, a JS exception or a missing C symbol while PostgreSQL runs a statement becomes an
// ERROR for that statement, as if the failing code had called ereport(ERROR). A fault unwinds every wasm
// frame up to PostgresMainLoopOnce's caller without the cleanup an ERROR's longjmp does, so that state is
// put back by hand — the main loop's jmp_buf as PG_exception_stack, no error context callbacks of the
// unwound frames (errfinish resets the interrupt hold-off counts itself) — and the ERROR is raised through
// PGlite's main-loop longjmp (pglitec.c pgl_longjmp: exit status 100), after which PostgreSQL's own
// recovery block (postgres.c's sigsetjmp block, PGlite's PostgresMainLongJmp) reports it, aborts the
// transaction (locks, pins, memory, portals) and resynchronises the protocol. Inside a critical section
// PostgreSQL would PANIC (shared state may be half-changed): then the fault is not contained.
import { logger } from '../../util/log.js'
import type { Elog } from './elog.js'
import type { Heap } from './heap.js'

const log = logger('engine')

/** The exit status pgl_longjmp exits with when a longjmp targets the main loop (pglitec.c). */
const POSTGRES_MAIN_LONGJMP = 100

/** PortalData.status (utils/portal.h, PG 18, wasm32) and two PortalStatus values. */
const PORTAL_STATUS = 80
const PORTAL_ACTIVE = 3
const PORTAL_FAILED = 5
/** PortalHashEnt (portalmem.c): char portalname[NAMEDATALEN]; Portal portal */
const ENT_PORTAL = 64
/** HASH_SEQ_STATUS (hsearch.h) fits in this, on wasm32 */
const SEQ_STATUS_SIZE = 64

/** Where a fault that was not contained happened (for the FATAL the other sessions get, and the log). */
export interface FaultSite {
  session: number
  statement: string | null
}

/** The backend's state when the message that faulted began: the main loop's jmp_buf, the subxact depth. */
export interface FaultStart {
  mainJmp: number
  nestLevel: number
}

export type FaultOutcome = { contained: true } | ({ contained: false } & FaultSite)

const describe = (e: unknown): string => {
  const err = e as { name?: string; message?: string }
  return err?.message !== undefined ? `${err.name ?? 'Error'}: ${err.message}` : String(e)
}

export class FaultContainment {
  private seq = 0

  constructor(
    private readonly heap: Heap,
    private readonly elog: Elog,
    /** where PortalHashTable's pointer is (pg/statics.ts), once the start-up probes found it */
    private readonly portalTable?: () => number | undefined,
  ) {}

  /**
   * MarkPortalFailed for every portal that was running: the PG_CATCH blocks of PortalRun and PortalRunFetch
   * (pquery.c) would have done it for the statement's portal and for a cursor being fetched (FETCH, a named
   * extended-protocol portal, PL/pgSQL's or PL/Python's cursor loop). Left ACTIVE, the abort would run
   * PortalCleanup's executor shutdown on the unwound executor, AtCleanup_Portals keeps an ACTIVE portal, and
   * the cursor lived on: CLOSE failed with "cannot drop active portal", DECLARE of its name with "cursor
   * already exists". No portal is ACTIVE between messages, so every ACTIVE one in PortalHashTable
   * (portalmem.c) was running in the frames the fault unwound. Before the table's address is known (the
   * start-up probes, pg/statics.ts), only the unnamed portal can be found (GetPortalByName).
   */
  private failPortals(): void {
    const h = this.heap
    const M = h.M
    const table = this.portalTable?.()
    if (!table || !h.i32at(table)) {
      this.failPortal(M._SPI_cursor_find(h.cstr('')) as number)
      return
    }
    this.seq ||= M._malloc(SEQ_STATUS_SIZE) as number
    const portals: number[] = []
    M._hash_seq_init(this.seq, h.i32at(table))
    for (let e = M._hash_seq_search(this.seq) as number; e; e = M._hash_seq_search(this.seq) as number)
      portals.push(h.i32at(e + ENT_PORTAL))
    for (const portal of portals) this.failPortal(portal)
  }

  private failPortal(portal: number): void {
    const h = this.heap
    if (portal && h.i32at(portal + PORTAL_STATUS) === PORTAL_ACTIVE)
      h.setU32(portal + PORTAL_STATUS, PORTAL_FAILED)
  }

  /**
   * After a fault unwound PostgresMainLoopOnce (the wasm stack pointer already restored): turn it into an
   * ERROR and let PostgreSQL recover. `at` is the state from before the message (PgIo.exec).
   */
  contain(e: unknown, at: FaultStart, session: number): FaultOutcome {
    const { mainJmp } = at
    const h = this.heap
    const M = h.M
    const statement = h.str(h.u32at(M._debug_query_string as number))
    const site = { session, statement }
    const what = describe(e)
    if (!mainJmp || h.i32at(M._CritSectionCount as number) > 0) {
      log.error({ err: e, ...site }, 'the database engine failed inside a critical section: it is reopened')
      return { contained: false, ...site }
    }
    h.setU32(M._PG_exception_stack as number, mainJmp)
    h.setU32(M._error_context_stack as number, 0)
    this.failPortals()
    try {
      // the subtransactions begun since (PL/pgSQL exception blocks, plpy.subtransaction, internal ones):
      // their PG_CATCH blocks, which roll them back, were skipped; the ERROR then aborts the rest
      while ((M._GetCurrentTransactionNestLevel() as number) > Math.max(at.nestLevel, 1))
        M._RollbackAndReleaseCurrentSubTransaction()
      this.elog.raise(`internal error in the database engine: ${what}`, {
        sqlstate: 'XX000',
        detail: 'The statement was aborted and its transaction rolled back; other sessions are not affected.',
      })
    } catch (x) {
      if ((x as { status?: number })?.status !== POSTGRES_MAIN_LONGJMP) {
        log.error({ err: e, ...site }, 'the database engine failed and could not recover: it is reopened')
        return { contained: false, ...site }
      }
    }
    try {
      M._PostgresMainLongJmp() // report the ERROR, abort the transaction, resync (postgres.c)
    } catch (x) {
      log.error(
        { err: e, recovery: describe(x), ...site },
        'the database engine failed and could not recover',
      )
      return { contained: false, ...site }
    }
    log.error({ err: e, ...site }, 'the database engine failed during a statement; it became an ERROR')
    return { contained: true }
  }
}
