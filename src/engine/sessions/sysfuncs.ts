// pg_stat_get_activity (under pg_stat_activity), pg_backend_pid, pg_cancel_backend, pg_terminate_backend and
// inet_client_addr/_port, inet_server_addr/_port
// answered from the engine's session table, so that each client session looks like a backend of its own:
// its pid is its BackendKeyData process id. The catalog is untouched (pg/builtins.ts re-points the C
// functions). Mirrors pgstatfuncs.c pg_stat_get_activity and signalfuncs.c pg_signal_backend.
import { fatalError, requestFatal } from '../../plpy-shim/fatal.js'
import type { PlRuntime } from '../../python/language.js'
import { type BuiltinSpec, replaceBuiltins, type V1Body } from '../pg/builtins.js'
import { type Elog, PgError } from '../pg/elog.js'
import type { Heap } from '../pg/heap.js'
import { ELEVEL, L } from '../pg/layout.js'
import { Spi } from '../pg/spi.js'
import type { Backend } from './backend.js'
import type { EngineSession } from './session.js'

/** One client session as the directory lists it. */
export interface SessionEntry {
  s: EngineSession
  db: string
  backend: Backend
}

/** What the engine (worker.ts) tells these functions about its sessions, and does for them. */
export interface SessionDirectory {
  /** every open client session of every database */
  all(): Iterable<SessionEntry>
  get(sid: number): SessionEntry | undefined
  /** the session whose client input runs now as its turn (0: none, or work beside a transaction) */
  running(): number
  /** its first input still waiting for its turn, and when that arrived (ms since the epoch) */
  waiting(sid: number): { data: Uint8Array; at: number } | undefined
  /** what a waiting session waits for: another session's turn (the default) or an advisory lock */
  waitEvent(sid: number): [type: string, event: string]
  /** the sessions it waits for (pg_blocking_pids): the turn's holder, or an advisory lock's holders */
  blockers(sid: number): number[]
  /** end a session that is not running now: FATAL 57P01 to its client, its work dropped */
  terminate(sid: number): void
  /** cancel what a session that is not running waits for (57014 to that command) */
  cancelWaiting(sid: number): void
}

const SPEC = {
  activity: { oid: 2022, prosrc: 'pg_stat_get_activity', nargs: 1, retset: true },
  backendPid: { oid: 2026, prosrc: 'pg_backend_pid', nargs: 0, retset: false },
  terminate: { oid: 2096, prosrc: 'pg_terminate_backend', nargs: 2, retset: false },
  cancel: { oid: 2171, prosrc: 'pg_cancel_backend', nargs: 1, retset: false },
  blocking: { oid: 2561, prosrc: 'pg_blocking_pids', nargs: 1, retset: false },
  clientAddr: { oid: 2196, prosrc: 'inet_client_addr', nargs: 0, retset: false },
  clientPort: { oid: 2197, prosrc: 'inet_client_port', nargs: 0, retset: false },
  serverAddr: { oid: 2198, prosrc: 'inet_server_addr', nargs: 0, retset: false },
  serverPort: { oid: 2199, prosrc: 'inet_server_port', nargs: 0, retset: false },
} satisfies Record<string, BuiltinSpec>

/** signalfuncs.c pg_signal_backend's results */
const SIGNAL = { SUCCESS: 0, ERROR: 1, NOPERMISSION: 2, NOSUPERUSER: 3 } as const

const iso = (ms: number): string | null => (ms ? new Date(ms).toISOString() : null)

export function installSessionFunctions(
  heap: Heap,
  elog: Elog,
  rt: PlRuntime & { session: number },
  dir: SessionDirectory,
  here: () => Backend,
): void {
  const M = heap.M
  const myProcPid = heap.i32at(M._MyProcPid as number)
  const roleOid = (name: string): number => M._get_role_oid(heap.cstr(name), 1) as number
  const readAllStats = roleOid('pg_read_all_stats')
  const signalBackend = roleOid('pg_signal_backend')
  if (!readAllStats || !signalBackend)
    throw new Error('probe: predefined roles pg_read_all_stats/pg_signal_backend not found')

  const argInt = (fcinfo: number, i: number) =>
    heap.i32at(fcinfo + L.fcinfo_args + i * L.nd_size + L.nd_value)
  const argNull = (fcinfo: number, i: number) =>
    heap.u8at(fcinfo + L.fcinfo_args + i * L.nd_size + L.nd_isnull) !== 0

  /** The session's login role as an OID of this cluster (each database is its own cluster; 0: none). */
  const roleHere = (e: SessionEntry): number =>
    e.backend === here() ? e.s.login.oid : roleOid(e.s.login.name)
  const spi = new Spi(heap)
  /** OIDs of this cluster's pg_database rows by name (the initial database's lists every database). */
  const databaseOids = (): Map<string, number> => {
    spi.connect()
    const r = spi.queryText('SELECT datname, oid FROM pg_catalog.pg_database', true)
    spi.finish()
    return new Map(r.rows.map(([n, o]) => [n ?? '', Number(o)]))
  }

  /** signalfuncs.c pg_signal_backend's checks (PostgreSQL 18). */
  function signal(pid: number): { r: number; e?: SessionEntry } {
    const e = dir.get(pid)
    if (!e) {
      elog.report(ELEVEL.WARNING, `PID ${pid} is not a PostgreSQL backend process`, { sqlstate: '01000' })
      return { r: SIGNAL.ERROR }
    }
    const role = roleHere(e)
    const me = M._GetUserId() as number
    if (!role || M._superuser_arg(role)) {
      if (!M._superuser()) return { r: SIGNAL.NOSUPERUSER }
    } else if (!M._has_privs_of_role(me, role) && !M._has_privs_of_role(me, signalBackend))
      return { r: SIGNAL.NOPERMISSION }
    return { r: SIGNAL.SUCCESS, e }
  }

  const cancel: V1Body = (fcinfo) => {
    const { r, e } = signal(argInt(fcinfo, 0))
    if (r === SIGNAL.NOSUPERUSER)
      throw new PgError('permission denied to cancel query', {
        sqlstate: '42501',
        detail:
          'Only roles with the SUPERUSER attribute may cancel queries of roles with the SUPERUSER attribute.',
      })
    if (r === SIGNAL.NOPERMISSION)
      throw new PgError('permission denied to cancel query', {
        sqlstate: '42501',
        detail:
          'Only roles with privileges of the role whose query is being canceled or with privileges of the "pg_signal_backend" role may cancel this query.',
      })
    if (e) {
      if (e.s.sid === dir.running()) {
        // its own statement: SIGINT's handler sets these, and the next CHECK_FOR_INTERRUPTS raises 57014
        heap.refresh()
        heap.i32[(M._QueryCancelPending as number) >> 2] = 1
        heap.i32[(M._InterruptPending as number) >> 2] = 1
      } else dir.cancelWaiting(e.s.sid)
    }
    return r === SIGNAL.SUCCESS ? 1 : 0
  }

  const terminate: V1Body = (fcinfo) => {
    const pid = argInt(fcinfo, 0)
    const timeout = heap.i64at(heap.u32at(fcinfo + L.fcinfo_args + L.nd_size + L.nd_value))
    if (timeout < 0n) throw new PgError('"timeout" must not be negative', { sqlstate: '22003' })
    const { r, e } = signal(pid)
    if (r === SIGNAL.NOSUPERUSER)
      throw new PgError('permission denied to terminate process', {
        sqlstate: '42501',
        detail:
          'Only roles with the SUPERUSER attribute may terminate processes of roles with the SUPERUSER attribute.',
      })
    if (r === SIGNAL.NOPERMISSION)
      throw new PgError('permission denied to terminate process', {
        sqlstate: '42501',
        detail:
          'Only roles with privileges of the role whose process is being terminated or with privileges of the "pg_signal_backend" role may terminate this process.',
      })
    if (e) {
      if (e.s.sid === dir.running()) {
        // its own session: the FATAL PostgreSQL's SIGTERM handler leads to, raised here; the session ends
        // after this exec with its transaction rolled back (plpy-shim/fatal.ts does the ending)
        requestFatal(rt, 'terminating connection due to administrator command', { sqlstate: '57P01' })
        throw fatalError(rt)!
      }
      // another session is not running now (one thread): it is gone before this returns, so a timeout
      // (pg_wait_until_termination) never has to wait
      dir.terminate(e.s.sid)
    }
    return r === SIGNAL.SUCCESS ? 1 : 0
  }

  const backendPid: V1Body = () => rt.session || myProcPid

  /** lockfuncs.c pg_blocking_pids: int4[] of the pids the session waits for (empty if none) */
  const blocking: V1Body = (fcinfo) => {
    const pids = dir.waiting(argInt(fcinfo, 0)) ? dir.blockers(argInt(fcinfo, 0)) : []
    const elems = M._palloc(Math.max(1, pids.length) * 4) as number
    heap.refresh()
    pids.forEach((p, i) => {
      heap.i32[(elems >> 2) + i] = p
    })
    return M._construct_array_builtin(elems, pids.length, 23) as number // INT4OID
  }

  const activity: V1Body = (fcinfo) => {
    const only = argNull(fcinfo, 0) ? -1 : argInt(fcinfo, 0)
    const entries = [...dir.all()].sort((a, b) => a.s.sid - b.s.sid)
    const mine = here()
    const dbOids = entries.some((e) => e.backend !== mine) ? databaseOids() : null
    M._InitMaterializedSRF(fcinfo, 0)
    const rsi = heap.u32at(fcinfo + L.fcinfo_resultinfo)
    const store = heap.u32at(rsi + L.rsi_setResult)
    const desc = heap.u32at(rsi + L.rsi_setDesc)
    const natts = heap.i32at(desc + L.tupdesc_natts)
    const meta = M._TupleDescGetAttInMetadata(desc) as number
    const cells = M._palloc(natts * 4) as number
    const me = M._GetUserId() as number
    const running = dir.running()
    const current = rt.session
    for (const e of entries) {
      const s = e.s
      if (only !== -1 && s.sid !== only) continue
      const v: Array<string | null> = new Array(natts).fill(null)
      const role = roleHere(e)
      const dbid = e.backend === mine ? e.backend.dboid : (dbOids?.get(e.db) ?? 0)
      if (dbid) v[0] = String(dbid)
      v[1] = String(s.sid)
      if (role) v[2] = String(role)
      v[3] = appName(s, s.sid === current)
      if (M._has_privs_of_role(me, readAllStats) || M._has_privs_of_role(me, role)) {
        const a = s.activity
        const w = s.sid === running || s.sid === current ? undefined : dir.waiting(s.sid)
        if (s.sid === running || s.sid === current) {
          v[4] = 'active'
          v[5] = a.query()
          v[8] = iso(a.xactStart || a.queryStart)
          v[9] = iso(a.queryStart)
          v[11] = iso(a.queryStart)
        } else if (w) {
          v[4] = 'active'
          v[5] = a.statementOf(w.data, true) ?? a.query()
          ;[v[6], v[7]] = dir.waitEvent(s.sid)
          v[8] = iso(s.status === 'I' ? w.at : a.xactStart)
          v[9] = iso(w.at)
          v[11] = iso(w.at)
        } else {
          v[4] =
            s.status === 'T'
              ? 'idle in transaction'
              : s.status === 'E'
                ? 'idle in transaction (aborted)'
                : 'idle'
          v[5] = a.query()
          v[8] = iso(s.status === 'I' ? 0 : a.xactStart)
          v[9] = iso(a.queryStart)
          v[11] = iso(a.stateChange)
        }
        v[10] = iso(a.started)
        const c = a.client
        if (c.addr) {
          v[12] = c.addr
          v[14] = String(c.port ?? -1)
        }
        v[17] = 'client backend'
        v[18] = c.ssl ? 't' : 'f'
        if (c.ssl) {
          v[19] = c.ssl.version
          v[20] = c.ssl.cipher
          v[21] = String(c.ssl.bits)
        }
        v[25] = 'f'
        v[27] = 'f'
        v[28] = 'f'
      } else v[5] = '<insufficient privilege>'
      heap.refresh()
      for (let i = 0; i < natts; i++) {
        const x = v[i]
        heap.setU32(cells + i * 4, x == null ? 0 : heap.pstrdup(x))
      }
      M._tuplestore_puttuple(store, M._BuildTupleFromCStrings(meta, cells))
      if (only !== -1) break
    }
    return 0
  }

  /** application_name: the running session's live value, another's from its settings. */
  function appName(s: EngineSession, live: boolean): string {
    if (live) {
      const p = M._GetConfigOption(heap.cstr('application_name'), 1, 0) as number
      return p ? (heap.str(p) ?? '') : ''
    }
    return s.settings.set.get('application_name') ?? s.settings.reset.get('application_name')?.value ?? ''
  }

  /**
   * inet_client_addr & co. (network.c): the running session's connection, NULL for a Unix-domain one (and
   * for the engine's own queries). PGlite's one backend has a made-up port of its own (127.0.0.1:5432 for
   * the client, none for the server), the same for every session.
   */
  const endpoint =
    (which: 'client' | 'server', part: 'addr' | 'port'): V1Body =>
    (fcinfo) => {
      const c = dir.get(rt.session)?.s.activity.client
      const at = which === 'client' ? (c?.addr ? { addr: c.addr, port: c.port } : undefined) : c?.server
      const isNull = !at || (part === 'port' && at.port === undefined)
      heap.setU8(fcinfo + L.fcinfo_isnull, isNull ? 1 : 0)
      if (isNull) return 0
      if (part === 'port') return at.port!
      // inet_in (F_INET_IN 910) with the inet type's I/O parameter (INETOID 869)
      return M._OidInputFunctionCall(910, heap.cstr(at.addr), 869, -1) as number
    }

  replaceBuiltins(heap, (e) => elog.raiseJs(e, 'pyglite'), [
    { spec: SPEC.clientAddr, body: endpoint('client', 'addr') },
    { spec: SPEC.clientPort, body: endpoint('client', 'port') },
    { spec: SPEC.serverAddr, body: endpoint('server', 'addr') },
    { spec: SPEC.serverPort, body: endpoint('server', 'port') },
    { spec: SPEC.activity, body: activity },
    { spec: SPEC.backendPid, body: backendPid },
    { spec: SPEC.cancel, body: cancel },
    { spec: SPEC.terminate, body: terminate },
    { spec: SPEC.blocking, body: blocking },
  ])
}
