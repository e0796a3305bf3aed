// Several databases: which exist (the registry), who is connected to each, CREATE DATABASE (a copy of the
// pristine template cluster, finished by a helper thread) and DROP DATABASE (close the engine's instance,
// delete the cluster), roles made to exist in a database's cluster on connect, idle databases closed.
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import type { Engine } from '../engine/client.js'
import {
  AUTHORITY_DB,
  clusterDir,
  type DatabaseEntry,
  readRegistry,
  TEMPLATE_DIR,
  writeRegistry,
} from '../engine/storage/clusters.js'
import { pgliteWasmModule } from '../engine/storage/wasm.js'
import { cacheDisabled } from '../util/cache.js'
import { syncPath } from '../util/fsync.js'
import { logger } from '../util/log.js'
import { runHelper } from './helper.js'
import { AuthorityListing } from './listing.js'
import { fromPrototype, prototypeOptions, runCreateStatement } from './newcluster.js'
import { COPYING_PREFIX, clusterFromPristine, copyTree, flushTree, untouchedCopy } from './pristine.js'
import { type RoleRow, Roles } from './roles.js'
import type { CreateDatabase, DatabaseCommand, DropDatabase } from './statements.js'

const log = logger('databases')

/** What the manager needs to know about a connected client. */
export interface DbClient {
  readonly sid: number
  readonly database: string
  readonly userName: string
  /** end the connection as a terminated backend (FATAL 57P01) */
  terminate(): void
}

/** The answer to a database command: error or notices + command tag. */
export type CommandReply =
  | { ok: true; tag: string; notices: Array<Record<string, string>> }
  | { ok: false; error: Record<string, string> }

class CommandError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly extra: Record<string, string> = {},
  ) {
    super(message)
  }
}

/** How long a database nobody uses stays open (each open database holds a PGlite instance: >128 MB). */
const IDLE_CLOSE_MS = Number(process.env.PYGLITE_DB_IDLE_CLOSE_MS ?? 60_000)
const TEMPLATES = new Set(['template0', 'template1'])
/** Where DROP DATABASE moves a cluster before deleting it (removed at start if a crash left one). */
const DROPPING_PREFIX = '.dropping-'

export class DatabaseManager {
  private readonly entries = new Map<string, DatabaseEntry>()
  private readonly clients = new Map<string, Set<DbClient>>()
  /** names being created or dropped: not connectable, not creatable */
  private readonly busy = new Set<string>()
  private readonly idleTimers = new Map<string, NodeJS.Timeout>()
  private template: Promise<void> | undefined
  private readonly roles: Roles
  private readonly listing: AuthorityListing

  constructor(
    private readonly dataDir: string,
    private readonly engine: Engine,
    /** flush new clusters to stable storage (the server's --fsync) */
    private readonly fsync = true,
  ) {
    this.roles = new Roles(engine)
    this.listing = new AuthorityListing(engine)
    for (const e of readRegistry(dataDir)) this.entries.set(e.name, e)
    // half-made clusters of a CREATE DATABASE (or template) interrupted by a crash or shutdown, and
    // clusters of a DROP DATABASE interrupted after they were moved aside
    for (const f of fs.existsSync(dataDir) ? fs.readdirSync(dataDir) : [])
      if (
        f.startsWith('.creating-') ||
        f.startsWith(`${TEMPLATE_DIR}-`) ||
        f.startsWith(COPYING_PREFIX) ||
        f.startsWith(DROPPING_PREFIX)
      )
        fs.rmSync(path.join(dataDir, f), { recursive: true, force: true })
      // a cluster the registry does not list: a CREATE DATABASE killed between the rename into place and
      // the registry's write (never acknowledged), or one from before DROP moved clusters aside. Nobody
      // can connect to it, and it would make a later CREATE DATABASE of that name fail (the rename into
      // place finds the name taken), as a crashed createdb in PostgreSQL leaves only files nobody uses.
      else if (f.startsWith('db-') && !this.inRegistry(f)) {
        log.warn(
          { dir: f },
          'removing a database cluster the registry does not list (an interrupted CREATE or DROP DATABASE)',
        )
        fs.rmSync(path.join(dataDir, f), { recursive: true, force: true })
      }
  }

  private inRegistry(dir: string): boolean {
    for (const name of this.entries.keys()) if (clusterDir(name) === dir) return true
    return false
  }

  /** The database a client may connect to by this name, or null (3D000). */
  resolve(name: string): string | null {
    if (name === AUTHORITY_DB || name === 'template1') return name
    return this.entries.has(name) && !this.busy.has(name) ? name : null
  }

  names(): string[] {
    return [AUTHORITY_DB, ...this.entries.keys()]
  }

  // ------------------------------------------------------------------ sessions and idle databases

  opened(c: DbClient): void {
    const set = this.clients.get(c.database) ?? new Set<DbClient>()
    this.clients.set(c.database, set)
    set.add(c)
    const t = this.idleTimers.get(c.database)
    if (t) clearTimeout(t)
    this.idleTimers.delete(c.database)
  }

  closed(c: DbClient): void {
    const set = this.clients.get(c.database)
    if (!set?.delete(c)) return
    if (set.size === 0) this.idleLater(c.database)
  }

  /** Close database `name`'s engine instance once nobody has used it for IDLE_CLOSE_MS. */
  private idleLater(name: string): void {
    if (name === AUTHORITY_DB || this.busy.has(name)) return
    const old = this.idleTimers.get(name)
    if (old) clearTimeout(old)
    const t = setTimeout(() => {
      this.idleTimers.delete(name)
      if ((this.clients.get(name)?.size ?? 0) > 0) return
      this.engine.closeDatabase(name).then(
        (closed) => closed && log.info({ db: name }, 'closed an idle database'),
        (e) => log.warn({ err: e, db: name }, 'closing an idle database failed'),
      )
    }, IDLE_CLOSE_MS)
    t.unref()
    this.idleTimers.set(name, t)
  }

  stop(): void {
    for (const t of this.idleTimers.values()) clearTimeout(t)
    this.idleTimers.clear()
  }

  // ------------------------------------------------------------------ roles

  /** The login role, from the initial database's pg_authid, whatever database the client asked for. */
  lookupRole(name: string): Promise<RoleRow | null> {
    return this.roles.lookup(name)
  }

  /** Make the registry's databases listed in postgres's pg_database (at start). */
  reconcile(): Promise<void> {
    return this.listing.reconcile(this.entries.values())
  }

  /** Resolves when the pg_database listing in `postgres` has caught up (shutdown). */
  listed(): Promise<void> {
    return this.listing.settled()
  }

  /**
   * The OID the session of an authenticated role uses in `db`: in another database than the initial one
   * the role is created there (or its attributes refreshed) first. Undefined: the database is being created
   * or dropped, so to a new session it does not exist (3D000, said by the wire layer).
   */
  async roleOid(db: string, name: string, authorityOid: number): Promise<number | undefined> {
    if (db === AUTHORITY_DB) return authorityOid
    if (db === 'template1') await this.ensureTemplate()
    if (this.busy.has(db)) return undefined
    const oid = await this.roles.ensure(db, name)
    this.idleLater(db)
    return oid
  }

  // ------------------------------------------------------------------ commands

  async execute(c: DbClient, cmd: DatabaseCommand): Promise<CommandReply> {
    try {
      if (cmd.kind === 'create') return await this.create(c, cmd)
      return await this.drop(c, cmd)
    } catch (e) {
      if (e instanceof CommandError)
        return { ok: false, error: { S: 'ERROR', V: 'ERROR', C: e.code, M: e.message, ...e.extra } }
      log.error({ err: e }, `${cmd.kind} database failed`)
      return { ok: false, error: { S: 'ERROR', V: 'ERROR', C: 'XX000', M: (e as Error).message } }
    }
  }

  private exists(name: string): boolean {
    return name === AUTHORITY_DB || TEMPLATES.has(name) || this.entries.has(name)
  }

  /** createdb (dbcommands.c), in its order of checks where pyglite makes them; the rest PostgreSQL makes. */
  private async create(c: DbClient, cmd: CreateDatabase): Promise<CommandReply> {
    const notices: Array<Record<string, string>> = []
    if (cmd.truncatedFrom)
      notices.push({
        S: 'NOTICE',
        V: 'NOTICE',
        C: '42622',
        M: `identifier "${cmd.truncatedFrom}" will be truncated to "${cmd.name}"`,
      })
    const me = await this.roles.flags(c.userName)
    if (!me.superuser && !me.createdb) throw new CommandError('42501', 'permission denied to create database')
    const template = cmd.options.get('template')
    if (template && !TEMPLATES.has(template) && (template === AUTHORITY_DB || this.entries.has(template)))
      throw new CommandError(
        '0A000',
        `cannot copy database "${template}": pyglite creates databases from template0 or template1 only`,
      )
    const owner = cmd.options.get('owner') ?? c.userName
    if (owner !== c.userName) {
      if (!(await this.roles.lookup(owner))) throw new CommandError('42704', `role "${owner}" does not exist`)
      if (!me.superuser && !(await this.roles.has(c.userName, owner, 'SET')))
        throw new CommandError('42501', `must be able to SET ROLE "${owner}"`)
    }
    if (this.exists(cmd.name) || this.busy.has(cmd.name))
      throw new CommandError('42P04', `database "${cmd.name}" already exists`)

    // the copy is taken from the template cluster, closed: template1 (PostgreSQL: the source database)
    // must have no sessions
    const onTemplate = this.clients.get('template1')?.size ?? 0
    if (onTemplate > 0)
      throw new CommandError('55006', 'source database "template1" is being accessed by other users', {
        D: busyDetail(onTemplate),
      })
    this.busy.add(cmd.name)
    const t0 = performance.now()
    const dir = path.join(this.dataDir, clusterDir(cmd.name))
    const tmp = path.join(this.dataDir, `.creating-${crypto.randomBytes(6).toString('hex')}`)
    try {
      // compiled once (by the engine thread), cloned into each helper
      const wasm = this.engine.wasmModule ? Promise.resolve(this.engine.wasmModule) : pgliteWasmModule()
      const r = (await this.prototypeServes(cmd))
        ? await fromPrototype(tmp, cmd.name, owner, this.roles.script(), wasm)
        : { ...(await this.fromTemplate(tmp, cmd, owner, await wasm)), spare: false }
      const tCopy = r.tCopy
      const tHelper = performance.now()
      if (!r.ok) throw new CommandError(r.error.C ?? 'XX000', r.error.M ?? 'error', pick(r.error))
      // the helper's PGlite has no fsync (durable.ts): the new cluster is flushed before it is named
      if (this.fsync) flushTree(tmp)
      await fs.promises.rename(tmp, dir)
      if (this.fsync) syncPath(this.dataDir)
      const tFlush = performance.now()
      this.entries.set(cmd.name, { name: cmd.name, owner, created: new Date().toISOString() })
      writeRegistry(this.dataDir, [...this.entries.values()])
      this.busy.delete(cmd.name)
      this.listing.add(cmd.name, owner)
      // opened in the background, so the first connection usually finds it open
      this.engine.openDatabase(cmd.name).then(
        () => this.idleLater(cmd.name),
        (e) => log.warn({ err: e, db: cmd.name }, 'opening a new database failed'),
      )
      log.info(
        {
          db: cmd.name,
          ms: Math.round(performance.now() - t0),
          copyMs: Math.round(tCopy - t0),
          prototype: r.prototype,
          spare: r.spare,
          helperMs: Math.round(tHelper - tCopy),
          flushMs: Math.round(tFlush - tHelper),
        },
        'created a database',
      )
      return { ok: true, tag: 'CREATE DATABASE', notices }
    } catch (e) {
      await fs.promises.rm(tmp, { recursive: true, force: true })
      throw e
    } finally {
      this.busy.delete(cmd.name)
    }
  }

  /**
   * True when the new database can be a copy of the cached prototype (newcluster.ts): no option beyond
   * OWNER, TEMPLATE template1 and STRATEGY, and template1 still the pristine one (the template cluster
   * never opened: closing it rewrites its pg_control).
   */
  private async prototypeServes(cmd: CreateDatabase): Promise<boolean> {
    if (cacheDisabled() || !prototypeOptions(cmd)) return false
    const template = path.join(this.dataDir, TEMPLATE_DIR)
    if (!fs.existsSync(path.join(template, 'PG_VERSION'))) return true // it would be made from the pristine
    this.busy.add('template1') // nobody reopens it between the close and the comparison
    try {
      await this.closeTemplate()
      return await untouchedCopy(template)
    } finally {
      this.busy.delete('template1')
    }
  }

  /** A copy of the template cluster in which the user's own CREATE DATABASE statement runs. */
  private async fromTemplate(tmp: string, cmd: CreateDatabase, owner: string, wasm: WebAssembly.Module) {
    await this.ensureTemplate()
    await this.copyTemplate(tmp)
    const tCopy = performance.now()
    const r = await runCreateStatement(tmp, cmd, owner, await this.roles.script(), wasm)
    return { ...r, tCopy, prototype: false }
  }

  /** Close template1 in the engine (it must not change while it is copied or compared). */
  private async closeTemplate(): Promise<void> {
    const timer = this.idleTimers.get('template1')
    if (timer) clearTimeout(timer)
    this.idleTimers.delete('template1')
    if (!(await this.engine.closeDatabase('template1')))
      throw new CommandError('55006', 'source database "template1" is being accessed by other users')
  }

  /** Copy the template cluster with template1 closed in the engine (nobody connects meanwhile). */
  private async copyTemplate(to: string): Promise<void> {
    this.busy.add('template1')
    try {
      await this.closeTemplate()
      await copyTree(path.join(this.dataDir, TEMPLATE_DIR), to)
    } finally {
      this.busy.delete('template1')
    }
  }

  /**
   * The template cluster, made once: a copy of the pristine cluster (pristine.ts), or initdb in a helper
   * thread when there is none (PYGLITE_CACHE_DIR=off). Its `postgres` database (with plpython3u) is
   * dropped from every copy; its template0 and template1 are initdb's.
   */
  private ensureTemplate(): Promise<void> {
    const dir = path.join(this.dataDir, TEMPLATE_DIR)
    if (fs.existsSync(path.join(dir, 'PG_VERSION'))) return Promise.resolve()
    this.template ??= (async () => {
      const t0 = performance.now()
      if (await clusterFromPristine(this.dataDir, TEMPLATE_DIR, this.fsync)) return
      const tmp = `${dir}-${crypto.randomBytes(6).toString('hex')}`
      const r = await runHelper({ pgdata: tmp, database: 'postgres', statements: [] })
      if (!r.ok) throw new Error(`could not initialise the template cluster: ${r.error.M}`)
      if (this.fsync) flushTree(tmp)
      await fs.promises.rename(tmp, dir)
      log.info({ ms: Math.round(performance.now() - t0) }, 'initialised the template cluster')
    })().finally(() => {
      this.template = undefined
    })
    return this.template
  }

  /** dropdb (dbcommands.c), same checks in the same order. */
  private async drop(c: DbClient, cmd: DropDatabase): Promise<CommandReply> {
    const name = cmd.name
    if (!this.exists(name) || this.busy.has(name)) {
      if (!cmd.ifExists) throw new CommandError('3D000', `database "${name}" does not exist`)
      const skip = { S: 'NOTICE', V: 'NOTICE', C: '00000', M: `database "${name}" does not exist, skipping` }
      return { ok: true, tag: 'DROP DATABASE', notices: [skip] }
    }
    const me = await this.roles.flags(c.userName)
    const owner = this.entries.get(name)?.owner ?? 'postgres'
    if (!me.superuser && owner !== c.userName && !(await this.roles.has(c.userName, owner, 'USAGE')))
      throw new CommandError('42501', `must be owner of database ${name}`)
    if (TEMPLATES.has(name)) throw new CommandError('42809', 'cannot drop a template database')
    if (name === c.database) throw new CommandError('55006', 'cannot drop the currently open database')
    if (name === AUTHORITY_DB)
      throw new CommandError(
        '0A000',
        'cannot drop database "postgres": in pyglite it holds the roles of every database',
      )
    const others = [...(this.clients.get(name) ?? [])]
    if (others.length > 0 && !cmd.force)
      throw new CommandError('55006', `database "${name}" is being accessed by other users`, {
        D: busyDetail(others.length),
      })
    this.busy.add(name)
    try {
      const timer = this.idleTimers.get(name)
      if (timer) clearTimeout(timer)
      this.idleTimers.delete(name)
      // WITH (FORCE): the others end as terminated backends (TerminateOtherDBBackends: SIGTERM)
      for (const o of others) {
        this.engine.cancel(o.sid)
        o.terminate()
      }
      const deadline = Date.now() + 15_000
      while (!(await this.engine.closeDatabase(name))) {
        if (Date.now() > deadline) throw new CommandError('55006', `database "${name}" is still in use`)
        await new Promise((r) => setTimeout(r, 50))
      }
      // moved aside first (one rename), then forgotten by the registry, then deleted: a crash at any
      // point leaves the database either whole and listed, or gone (its leftover removed at the next
      // start). Deleting first and then writing the registry left a half-deleted cluster still listed;
      // the other order, a cluster nobody lists that blocked a new database of that name.
      const aside = path.join(this.dataDir, `${DROPPING_PREFIX}${crypto.randomBytes(6).toString('hex')}`)
      await fs.promises.rename(path.join(this.dataDir, clusterDir(name)), aside)
      if (this.fsync) syncPath(this.dataDir)
      this.entries.delete(name)
      writeRegistry(this.dataDir, [...this.entries.values()])
      this.listing.remove(name)
      await fs.promises.rm(aside, { recursive: true, force: true })
      log.info({ db: name }, 'dropped a database')
      return { ok: true, tag: 'DROP DATABASE', notices: [] }
    } finally {
      this.busy.delete(name)
    }
  }
}

/** errdetail_busy_db */
function busyDetail(n: number): string {
  return n === 1
    ? 'There is 1 other session using the database.'
    : `There are ${n} other sessions using the database.`
}

function pick(fields: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const k of ['D', 'H', 'P', 'W']) if (fields[k] !== undefined) out[k] = fields[k]
  return out
}
