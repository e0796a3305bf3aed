// The pyglite server: the engine thread, the TCP listener, the connections, cancel keys, and an orderly
// shutdown (stop accepting, let running statements finish for a grace period, then cancel, close PGlite).
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import tls from 'node:tls'
import { restoreInterrupted } from './backup/restore.js'
import type { Config } from './config.js'
import type { DbOpened } from './engine/channel/protocol.js'
import { Engine } from './engine/client.js'
import { indexSettings, prepareEnvironment } from './packages/index.js'
import { DataDirLock } from './util/datadir.js'
import { logger } from './util/log.js'
import type { Connection, WireContext } from './wire/connection.js'

const log = logger('server')

/** The database every data directory has (more come with CREATE DATABASE support). */
const DEFAULT_DB = 'postgres'
/** How long running statements may go on after a shutdown request before they are cancelled. */
const SHUTDOWN_GRACE_MS = 5000

export interface ServerEvents {
  /** the data directory is about to be created (initdb: several seconds) */
  initializing?(dataDir: string): void
  /** the default database is open */
  opened?(info: DbOpened): void
}

export interface RunningServer {
  host: string
  port: number
  engine: Engine
  /** Shut down cleanly; resolves when PGlite has closed. */
  close(): Promise<void>
}

export async function startServer(config: Config, events: ServerEvents = {}): Promise<RunningServer> {
  // before anything touches the data directory: a second server on it would corrupt it
  const lock = DataDirLock.acquire(config.dataDir, 'server')
  if (restoreInterrupted(config.dataDir)) {
    lock.release()
    throw new Error(
      `data directory "${config.dataDir}" holds an interrupted restore: run the same pyglite restore again`,
    )
  }
  if (lock.stale)
    log.warn(
      { previous: lock.stale },
      'the previous server on this data directory did not shut down cleanly; PostgreSQL recovers from its WAL',
    )
  try {
    return await serve(config, events, lock)
  } catch (e) {
    lock.release()
    throw e
  }
}

async function serve(config: Config, events: ServerEvents, lock: DataDirLock): Promise<RunningServer> {
  const fresh = !fs.existsSync(path.join(config.dataDir, DEFAULT_DB, 'PG_VERSION'))
  if (fresh) events.initializing?.(config.dataDir)
  // a new data directory's cluster is a copy of the pristine one (no initdb), made while the engine starts
  const copying = fresh
    ? import('./databases/pristine.js').then((m) =>
        m.clusterFromPristine(config.dataDir, DEFAULT_DB, config.fsync),
      )
    : undefined
  copying?.catch(() => {}) // reported by its `await` below
  const pyenv = prepareEnvironment(config)
  const starting = Engine.start({
    dataDir: config.dataDir,
    pythonPath: config.pythonPath,
    pythonEnvironment: pyenv.describe(),
    // SQL → Python → SQL nesting: PostgreSQL 15 + plpython3u reaches ~335 levels before Python's
    // RecursionError, so 400 runs what it runs. Deeper, a runaway recursion's unwinding gets slow (each
    // level's ERROR re-runs every outer level's context callback, errcontext_msg copying the CONTEXT so
    // far: cubic, and the engine serves every session): 0.7 s at 400 levels, 7.7 s at 1,000 (measured by hand).
    maxDepth: 400,
    logLevel: config.logLevel,
    fsync: config.fsync,
  })
  starting.catch(() => {}) // its failure is reported by the `await` below, not as an unhandled rejection
  // the engine thread starts its modules, CPython and PGlite meanwhile: the wire's modules load here, off
  // the start's critical path (~30 ms, issue 17)
  const [
    { startControl },
    { packageVersion },
    { DatabaseManager },
    { PackageManager },
    { scramSecret },
    { Connection },
  ] = await Promise.all([
    import('./backup/control.js'),
    import('./backup/copy.js'),
    import('./databases/manager.js'),
    import('./packages/manager.js'),
    import('./wire/auth.js'),
    import('./wire/connection.js'),
  ]).catch(async (e) => {
    await starting.then((engine) => engine.close()).catch(() => {})
    throw e
  })
  const engine = await starting
  try {
    pyenv.attach(engine.python)
  } catch (e) {
    await engine.close()
    throw e
  }
  await copying
  const opened = await engine.openDatabase(DEFAULT_DB)
  events.opened?.(opened)
  log.info(
    { dataDir: config.dataDir, ms: opened.ms, python: engine.python },
    fresh || opened.initialized ? 'initialised a new data directory' : 'opened the data directory',
  )

  if (config.password) {
    // store a SCRAM secret computed here: the cleartext never reaches SQL text or the catalog
    await engine.queryRows(DEFAULT_DB, `ALTER ROLE postgres PASSWORD '${scramSecret(config.password)}'`)
  } else if (config.auth !== 'trust') {
    const r = await engine.queryRows(
      DEFAULT_DB,
      "SELECT rolpassword IS NULL FROM pg_catalog.pg_authid WHERE rolname = 'postgres'",
    )
    if (r.rows[0]?.[0] === 't')
      log.warn('the superuser "postgres" has no password, so it cannot log in: start once with --password')
  }

  const secureContext =
    config.tlsCert && config.tlsKey
      ? tls.createSecureContext({
          cert: fs.readFileSync(config.tlsCert),
          key: fs.readFileSync(config.tlsKey),
        })
      : null

  const databases = new DatabaseManager(config.dataDir, engine, config.fsync)
  await databases.reconcile()
  const packages = new PackageManager(pyenv, engine, indexSettings(config), async (role) =>
    Boolean((await databases.lookupRole(role))?.superuser),
  )
  const connections = new Set<Connection>()
  const byPid = new Map<number, Connection>()
  let sid = 0
  const ctx: WireContext = {
    engine,
    auth: config.auth,
    tls: secureContext,
    log: logger('wire'),
    resolveDatabase: (name) => databases.resolve(name),
    lookupRole: (_db, name) => databases.lookupRole(name),
    databases,
    packages,
    cancel(pid, secret) {
      const c = byPid.get(pid)
      // a wrong key does nothing, and says nothing (PostgreSQL: processCancelRequest)
      if (c && c.secret === secret) {
        packages.cancel(c.sid) // a pip run of its CALL pyglite.install
        engine.cancel(c.sid)
      }
    },
    register: (c) => {
      byPid.set(c.sid, c)
      databases.opened(c)
    },
    unregister: (c) => {
      if (byPid.delete(c.sid)) databases.closed(c)
    },
    nextSid: () => ++sid,
  }

  const server = net.createServer((socket) => {
    if (shuttingDown) return socket.destroy()
    const c = new Connection(socket, ctx)
    connections.add(c)
    socket.once('close', () => connections.delete(c))
  })
  let shuttingDown = false
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(config.port, config.host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const port = (server.address() as net.AddressInfo).port
  lock.update({ host: config.host, port })
  const control = await startControl(lock, (dest) => engine.backup(dest, packageVersion()))
  // always printed, whatever --log-level says: scripts and tests wait for this line to learn the port
  log.child({}, { level: 'info' }).info({ host: config.host, port }, 'listening')

  let closing: Promise<void> | undefined
  return {
    host: config.host,
    port,
    engine,
    close() {
      closing ??= (async () => {
        shuttingDown = true
        const stopped = new Promise<void>((r) => server.close(() => r()))
        for (const c of connections) c.terminate()
        const packagesClosed = packages.close() // a pip run is ended and its change undone
        // running statements get a grace period, then are cancelled; a client that still does not let go
        // (one in the middle of a COPY FROM STDIN) is disconnected, which ends its COPY with an error
        // (and keep cancelling until the engine has closed: a session queued behind the cancelled one would
        // start its statement next, and a statement of a client already gone would hold the engine's close)
        const sids = [...connections].map((c) => c.sid)
        let cancelling: NodeJS.Timeout | undefined
        const grace = setTimeout(() => {
          const cancelRunning = () => {
            for (const sid of sids) engine.cancel(sid) // acts only while that session's statement runs
          }
          cancelRunning()
          cancelling = setInterval(cancelRunning, 100)
        }, SHUTDOWN_GRACE_MS)
        const drop = setTimeout(() => {
          for (const c of connections) c.destroy()
        }, SHUTDOWN_GRACE_MS * 2)
        try {
          while (connections.size > 0) await new Promise((r) => setTimeout(r, 20))
          await stopped
          await databases.listed()
          databases.stop()
          control.close()
          await packagesClosed
          await engine.close()
        } finally {
          clearTimeout(grace)
          clearInterval(cancelling)
          clearTimeout(drop)
        }
        lock.release()
        log.info('shut down')
      })()
      return closing
    },
  }
}
